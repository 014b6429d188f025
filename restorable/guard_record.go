package restorable

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// GuardRecordFile is the file, in the directory the app runs in (the one
// that holds cdk.json), in which Synth records every stack restorable guards.
// Commit it. A stack it lists keeps its guard even when the code no longer
// has a restorable construct in it, so that removing the last restorable
// cluster, file system or vault from a stack is refused like any other
// removal: without the guard, nothing would stop CloudFormation from deleting
// them. The context key ContextGuardRecord names another file.
const GuardRecordFile = "restorable.guards.json"

// ContextGuardRecord is the context key that names the guard record file
// instead of GuardRecordFile.
const ContextGuardRecord = "restorable:guardRecord"

// guardRecord is the file's content.
type guardRecord struct {
	Comment string `json:"comment"`
	// Stacks are the names of the guarded stacks (their CloudFormation
	// stack names, which a new construct path for the same stack keeps).
	Stacks []string `json:"stacks"`
}

const guardRecordComment = "Written by restorable at synth; commit it. Each stack listed keeps restorable's replacement guard, " +
	"which refuses a deploy that deletes or replaces a database, file system or backup vault of the stack, even after its last restorable construct is removed. " +
	"To stop guarding a stack for good, remove it here in the same commit that removes its restorable constructs."

// guardRecordPath is the record file of app. A file named by the context
// must exist: a -c restorable:guardRecord=<new file> would otherwise drop
// every kept guard for one deploy.
func guardRecordPath(app constructs.Construct) (string, error) {
	if v, ok := app.Node().TryGetContext(jsii.String(ContextGuardRecord)).(string); ok && v != "" {
		if _, err := os.Stat(v); err != nil {
			return "", &InputError{Setting: ContextGuardRecord, Value: v, Problem: "names a guard record that cannot be read (" + err.Error() + "), so the guards it keeps would be dropped",
				Fix: "name the committed record file, or leave the key out to use " + GuardRecordFile}
		}
		return v, nil
	}
	return GuardRecordFile, nil
}

// readGuardRecord reads the record; a missing file is an empty record.
func readGuardRecord(path string) (guardRecord, error) {
	var rec guardRecord
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return rec, nil
	}
	if err != nil {
		return rec, err
	}
	if err := json.Unmarshal(raw, &rec); err != nil {
		return rec, &InputError{Setting: path, Problem: "is not a restorable guard record (" + err.Error() + ")",
			Fix: "restore it from version control; it is JSON of the form {\"stacks\": [\"<stack path>\", ...]}"}
	}
	return rec, nil
}

// keepRecordedGuards gives every stack of app that the record lists its
// guard, if the code no longer does.
func keepRecordedGuards(app awscdk.App, rec guardRecord) {
	listed := map[string]bool{}
	for _, s := range rec.Stacks {
		listed[s] = true
	}
	for _, stack := range topLevelStacks(app) {
		if !listed[*stack.StackName()] {
			continue
		}
		if g, created := stackGuards.create(stack, newStackGuard); created {
			registryOf(stack).add(*stack.Node().Path()+"/"+GuardID, kindStackGuard, g.keptReport)
		}
	}
}

// recordGuards adds the app's guarded stacks to the record, and writes it if
// that changes it, saying so: a record that is not committed keeps nothing.
func recordGuards(app awscdk.App, path string, rec guardRecord) error {
	have := map[string]bool{}
	for _, s := range rec.Stacks {
		have[s] = true
	}
	changed := false
	var added []string
	for _, stack := range topLevelStacks(app) {
		p := *stack.StackName()
		stackGuards.mu.Lock()
		_, guarded := stackGuards.byStack[stack]
		stackGuards.mu.Unlock()
		if guarded && !have[p] {
			rec.Stacks, have[p], changed = append(rec.Stacks, p), true, true
			added = append(added, p)
		}
	}
	if !changed {
		return nil
	}
	sort.Strings(rec.Stacks)
	rec.Comment = guardRecordComment
	raw, _ := json.MarshalIndent(rec, "", "  ")
	if err := os.WriteFile(path, append(raw, '\n'), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "restorable: %s now lists %s: commit it, or a fresh clone (a CI job) keeps no guard for these stacks once their last restorable construct is gone\n", path, strings.Join(added, ", "))
	return nil
}

// topLevelStacks are the app's stacks that are not nested stacks: those under
// the app, its stages and plain constructs.
func topLevelStacks(scope constructs.IConstruct) []awscdk.Stack {
	var out []awscdk.Stack
	for _, child := range *scope.Node().Children() {
		// The Go proxy of a stack is an awscdk.Stack (the assertion asks the
		// kernel nothing, where Stack_IsStack is a round trip per construct).
		if s, ok := child.(awscdk.Stack); ok {
			out = append(out, s)
			continue
		}
		out = append(out, topLevelStacks(child)...)
	}
	return out
}

// keptReport describes, for the synth report, a guard that the record keeps.
func (g *stackGuard) keptReport() []string {
	return []string{
		"guard:   kept by " + GuardRecordFile + ", though the stack has no restorable construct: a deploy that deletes or replaces a database, file system or backup vault the stack holds fails first",
		"consent: cdk deploy -c '<stack>/<construct>.allowReplace=<physical ID>' for one resource; to stop guarding the stack, remove it from " + GuardRecordFile,
	}
}
