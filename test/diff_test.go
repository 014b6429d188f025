package test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"
)

// templateChanges lists every difference between two templates, one line per
// changed leaf: "<LogicalId>.<path>" for a changed value, "+<LogicalId>" and
// "-<LogicalId>" for an added or removed resource, and the same for outputs.
// A resource's Metadata (where cdk-nag keeps its suppressions) is left out: it
// is data about the template that CloudFormation stores and returns with
// DescribeStackResource, not a property of the resource
// (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-attribute-metadata.html).
func templateChanges(before, after map[string]interface{}) []string {
	var out []string
	for _, section := range []string{"Resources", "Outputs"} {
		b, _ := before[section].(map[string]interface{})
		a, _ := after[section].(map[string]interface{})
		for id, bv := range b {
			av, ok := a[id]
			if !ok {
				out = append(out, "-"+id)
				continue
			}
			if section == "Resources" {
				bv, av = withoutMetadata(bv), withoutMetadata(av)
			}
			out = append(out, diffValues(id, bv, av)...)
		}
		for id := range a {
			if _, ok := b[id]; !ok {
				out = append(out, "+"+id)
			}
		}
	}
	sort.Strings(out)
	return out
}

func withoutMetadata(r interface{}) interface{} {
	m, ok := r.(map[string]interface{})
	if !ok {
		return r
	}
	out := make(map[string]interface{}, len(m))
	for k, v := range m {
		if k != "Metadata" {
			out[k] = v
		}
	}
	return out
}

func diffValues(path string, b, a interface{}) []string {
	bm, bok := b.(map[string]interface{})
	am, aok := a.(map[string]interface{})
	if bok && aok {
		var out []string
		keys := map[string]bool{}
		for k := range bm {
			keys[k] = true
		}
		for k := range am {
			keys[k] = true
		}
		for k := range keys {
			out = append(out, diffValues(path+"."+k, bm[k], am[k])...)
		}
		return out
	}
	if reflect.DeepEqual(b, a) {
		return nil
	}
	return []string{path}
}

// changesOf keeps the changes of one logical ID, without its prefix.
func changesOf(changes []string, logicalID string) []string {
	var out []string
	for _, c := range changes {
		if len(c) > len(logicalID) && c[:len(logicalID)+1] == logicalID+"." {
			out = append(out, c[len(logicalID)+1:])
		}
	}
	return out
}

// cfnValidateName is the CDK's CloudFormation validation plugin as the report
// names it.
const cfnValidateName = "CloudFormation Validate"

// validationViolations reads validation-report.json from a cloud assembly and
// returns "<plugin>: <rule>: <description> at <construct>" for each violation of
// the given plugin.
func validationViolations(t *testing.T, outdir, plugin string) []string {
	t.Helper()
	if _, ok := validatedDirs.Load(filepath.Clean(outdir)); plugin == cfnValidateName && !ok {
		require.FailNow(t, "the CDK CLI's CloudFormation validation did not run on "+outdir, "for an app synthesized in this process, use expectValid")
	}
	raw, err := os.ReadFile(filepath.Join(outdir, "validation-report.json"))
	// The synth writes the report when a plugin ran (and lists only the
	// plugins that found something).
	require.NoError(t, err, "the synth writes validation-report.json when a validation plugin ran")
	var report struct {
		PluginReports []struct {
			PluginName string `json:"pluginName"`
			Violations []struct {
				RuleName           string `json:"ruleName"`
				Description        string `json:"description"`
				ViolatingConstruct []struct {
					ConstructPath string `json:"constructPath"`
				} `json:"violatingConstructs"`
			} `json:"violations"`
		} `json:"pluginReports"`
	}
	require.NoError(t, json.Unmarshal(raw, &report))
	var out []string
	for _, r := range report.PluginReports {
		if r.PluginName != plugin {
			continue
		}
		for _, v := range r.Violations {
			var where []string
			for _, c := range v.ViolatingConstruct {
				where = append(where, c.ConstructPath)
			}
			out = append(out, fmt.Sprintf("%s: %s: %s at %v", r.PluginName, v.RuleName, v.Description, where))
		}
	}
	return out
}
