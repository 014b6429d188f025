package restorable

import (
	"fmt"
	"strings"
)

// InputError reports a restore source, a context value or a prop that restorable
// cannot use. Its message names the setting, the value given, what is wrong with
// it and how to fix it, so that a failed `cdk synth` tells the operator what to do.
type InputError struct {
	// Construct is the path of the construct the setting belongs to, if known.
	Construct string
	// Setting is the prop or context key that holds the bad value, for example
	// "snapshotArn" or "AuroraSource.RestoreToTime".
	Setting string
	// Value is the value as given.
	Value string
	// Problem says what is wrong with the value.
	Problem string
	// Fix says what to do instead.
	Fix string
}

func (e *InputError) Error() string {
	var b strings.Builder
	b.WriteString("restorable: ")
	if e.Construct != "" {
		b.WriteString(e.Construct)
		b.WriteString(": ")
	}
	b.WriteString(e.Setting)
	if e.Value != "" {
		fmt.Fprintf(&b, "=%q", e.Value)
	}
	b.WriteString(": ")
	b.WriteString(e.Problem)
	if e.Fix != "" {
		b.WriteString(". Fix: ")
		b.WriteString(e.Fix)
	}
	return b.String()
}

func inputErr(setting, value, problem, fix string) *InputError {
	return &InputError{Setting: setting, Value: value, Problem: problem, Fix: fix}
}

// bareKeys are the context keys that apply to the app's only restorable
// cluster or file system.
var bareKeys = map[string]bool{
	ContextSnapshotArn: true, ContextRestoreToTime: true, ContextRestoreSourceCluster: true,
	ContextRestoreSourceClusterResourceID: true, ContextEFSRecoveryPointArn: true,
}

// atConstruct attaches the construct path to an *InputError. When the value
// came from a bare context key, the fix also says which construct took it, and
// how to name one of several.
func atConstruct(path string, err error) error {
	if ie, ok := err.(*InputError); ok {
		copy := *ie
		copy.Construct = path
		if bareKeys[copy.Setting] {
			copy.Fix += fmt.Sprintf("; %s is a bare context key, which applies to the app's only restorable resource of its kind, here %s: to restore one of several, name it: -c %s=...",
				copy.Setting, path, ContextKey("<stack>/<construct>", copy.Setting))
		}
		return &copy
	}
	return fmt.Errorf("restorable: %s: %w", path, err)
}
