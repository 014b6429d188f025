package test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsefs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsrds"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restorable-cdk/restorable/restorable"
)

// These tests run cdk-nag (github.com/cdklabs/cdk-nag-go) as security reviewers
// do: the AwsSolutions pack must find no unsuppressed error, and the NIST 800-53
// rev 5 pack's findings on restorable's own resources must be the ones the
// README's Security section explains.

// nagLine is one line of a cdk-nag JSON report.
type nagLine struct {
	RuleID          string `json:"ruleId"`
	ResourceID      string `json:"resourceId"`
	Compliance      string `json:"compliance"`
	ExceptionReason string `json:"exceptionReason"`
}

const (
	awsSolutions = "AwsSolutions"
	nist         = "NIST.800.53.R5"
)

// nagResult is what both packs found in one stack.
type nagResult struct {
	lines map[string][]nagLine // by pack
	// failed reports whether synth failed on error annotations.
	failed bool
}

// runNag synthesizes stack's app with the AwsSolutions and NIST 800-53 rev 5
// packs applied to the stack, and reads their reports. The NIST pack's findings
// are errors, so synth may fail; it must fail for those only.
func runNag(t *testing.T, stack awscdk.Stack) nagResult {
	t.Helper()
	props := func() *cdknag.NagPackProps {
		return &cdknag.NagPackProps{Reports: jsii.Bool(true), ReportFormats: &[]cdknag.NagReportFormat{cdknag.NagReportFormat_JSON}}
	}
	awscdk.Aspects_Of(stack).Add(cdknag.NewAwsSolutionsChecks(props()), nil)
	awscdk.Aspects_Of(stack).Add(cdknag.NewNIST80053R5Checks(props()), nil)
	outdir := *awscdk.Stage_Of(stack).Outdir()
	var res nagResult
	msg := panicMessage(t, func() {
		awscdk.Stage_Of(stack).Synth(nil)
		panic("synth passed")
	})
	if msg != "synth passed" {
		res.failed = true
		require.Contains(t, msg, "ValidationFailed", "synth failed for another reason")
	}
	res.lines = map[string][]nagLine{}
	for _, pack := range []string{awsSolutions, nist} {
		raw, err := os.ReadFile(filepath.Join(outdir, pack+"--"+*stack.StackName()+"-NagReport.json"))
		require.NoError(t, err)
		var report struct {
			Lines []nagLine `json:"lines"`
		}
		require.NoError(t, json.Unmarshal(raw, &report))
		require.Greater(t, len(report.Lines), 5, "the %s pack evaluated the stack", pack)
		res.lines[pack] = report.Lines
	}
	// The only errors are the NIST pack's; CloudFormation Validate finds nothing.
	for _, v := range validationViolations(t, outdir, "Construct Annotations") {
		if strings.Contains(v, "error-annotation") {
			assert.Contains(t, v, ": "+nist+"-", "an error other than a NIST finding")
		}
	}
	assert.Empty(t, validationViolations(t, outdir, "CloudFormation Validate"))
	return res
}

// findings returns "<rule> <resource path>" for every line of a pack that is
// not compliant, suppressed or not applicable, for resources accepted by keep.
func (r nagResult) findings(pack string, keep func(path string) bool) []string {
	var out []string
	for _, l := range r.lines[pack] {
		switch l.Compliance {
		case "Compliant", "Suppressed", "N/A":
			continue
		}
		if keep == nil || keep(l.ResourceID) {
			out = append(out, l.RuleID+" "+l.ResourceID+" ("+l.Compliance+")")
		}
	}
	sort.Strings(out)
	return out
}

// suppressedBy returns the reasons of a pack's suppressed lines for a rule.
func (r nagResult) suppressedBy(pack, rule string) []string {
	var out []string
	for _, l := range r.lines[pack] {
		if l.Compliance == "Suppressed" && l.RuleID == rule {
			out = append(out, l.ResourceID+": "+l.ExceptionReason)
		}
	}
	return out
}

// libraryOwned reports whether a construct path is a resource restorable
// creates (not the test's or the example's own VPC, service and so on).
func libraryOwned(path string) bool {
	parts := strings.SplitN(path, "/", 3)
	if len(parts) < 2 {
		return false
	}
	switch top := parts[1]; {
	case top == "Database", top == "Files", top == "RecoveryVault", strings.HasPrefix(top, "Restorable"):
		return true
	}
	return false
}

// nagCase is a stack to check: the example or one construct, in one mode.
type nagCase struct {
	name  string
	build func(t *testing.T) awscdk.Stack
	// ownedOnly: the stack holds resources of the test (its VPC), which are
	// not restorable's; only restorable's are checked.
	ownedOnly bool
}

func exampleNagCase(name string, ctx map[string]string) nagCase {
	return nagCase{name: "example, " + name, build: func(t *testing.T) awscdk.Stack {
		ex, _ := exampleStack(t, ctx)
		return ex.Stack
	}}
}

func clusterNagCase(name string, ctx map[string]string, engine awsrds.IClusterEngine, protect bool) nagCase {
	return nagCase{name: "AuroraCluster, " + name, ownedOnly: true, build: func(t *testing.T) awscdk.Stack {
		stack := newStack(t, ctx)
		src, err := restorable.AuroraSourceFromContext(stack, "Database")
		require.NoError(t, err)
		p := clusterProps(stack)
		if engine != nil {
			p.Engine = engine
		}
		props := &restorable.AuroraClusterProps{DatabaseClusterProps: p, Source: src}
		if protect {
			props.Protection = restorable.StackProtection(stack)
		}
		restorable.NewAuroraCluster(stack, jsii.String("Database"), props)
		return stack
	}}
}

func filesNagCase(name string, ctx map[string]string) nagCase {
	return nagCase{name: "FileSystem, " + name, ownedOnly: true, build: func(t *testing.T) awscdk.Stack {
		stack := newStack(t, ctx)
		vpc := awsec2.NewVpc(stack, jsii.String("Vpc"), &awsec2.VpcProps{MaxAzs: jsii.Number(2), NatGateways: jsii.Number(1)})
		rp, err := restorable.FileSystemRecoveryPointFromContext(stack, "Files")
		require.NoError(t, err)
		restorable.NewFileSystem(stack, jsii.String("Files"), &restorable.FileSystemProps{
			FileSystemProps: awsefs.FileSystemProps{Vpc: vpc}, RecoveryPointArn: rp,
		})
		return stack
	}}
}

// nagCases are the example in every restore mode, and each construct with its
// defaults in every restore mode.
func nagCases() []nagCase {
	pitr := map[string]string{"restoreToTime": "2026-11-20T10:15:22Z", "restoreSourceCluster": "redminestack-database-abc"}
	mysql := awsrds.DatabaseClusterEngine_AuroraMysql(&awsrds.AuroraMysqlClusterEngineProps{Version: awsrds.AuroraMysqlEngineVersion_VER_3_08_0()})
	return []nagCase{
		exampleNagCase("new", nil),
		exampleNagCase("snapshot", map[string]string{"snapshotArn": snapshotARN}),
		exampleNagCase("point in time", pitr),
		exampleNagCase("clone", map[string]string{"RedmineStack/Database.cloneSourceCluster": "prod-db"}),
		exampleNagCase("EFS recovery point", map[string]string{"efsRecoveryPointArn": efsRecoveryPoint}),
		clusterNagCase("new", nil, nil, false),
		clusterNagCase("new, Aurora MySQL", nil, mysql, false),
		clusterNagCase("new, with protection", nil, nil, true),
		clusterNagCase("snapshot", map[string]string{"snapshotArn": snapshotARN}, nil, false),
		clusterNagCase("point in time", map[string]string{"restoreToTime": "2026-11-20T10:15:22Z", "restoreSourceCluster": "prod-db"}, nil, false),
		clusterNagCase("point in time of a deleted cluster", map[string]string{"restoreToTime": "latest", "restoreSourceClusterResourceId": "cluster-ABCDEFGHIJKLMNOPQRSTUVWXYZ"}, nil, false),
		clusterNagCase("clone", map[string]string{"AppStack/Database.cloneSourceCluster": "prod-db"}, nil, false),
		filesNagCase("new", nil),
		filesNagCase("recovery point", map[string]string{"efsRecoveryPointArn": efsRecoveryPoint}),
		{name: "DR example, recovery vault", build: func(t *testing.T) awscdk.Stack { a, _ := drApp(t, nil); return a.Vault }},
		{name: "DR example, primary with copies and drills", build: func(t *testing.T) awscdk.Stack { a, _ := drApp(t, nil); return a.Primary.Stack }},
		{name: "DR example, recovery restoring the copies", build: func(t *testing.T) awscdk.Stack {
			a, _ := drApp(t, map[string]string{"RedmineRecovery/Database.snapshotArn": copiedSnapshot, "RedmineRecovery/Files.efsRecoveryPointArn": copiedRecoveryPoint})
			return a.Recovery.Stack
		}},
	}
}

func TestNagAwsSolutionsFindsNoErrorInAnyMode(t *testing.T) {
	nistFound := map[string]bool{}
	for _, c := range nagCases() {
		t.Run(c.name, func(t *testing.T) {
			res := runNag(t, c.build(t))
			var keep func(string) bool
			if c.ownedOnly {
				keep = func(path string) bool { return !strings.Contains(path, "/Vpc/") }
			}
			assert.Empty(t, res.findings(awsSolutions, keep))
			for _, f := range res.findings(nist, libraryOwned) {
				nistFound[strings.Fields(f)[0]] = true
				t.Log(f)
			}
		})
	}
	// The README explains each NIST finding on restorable's resources, and
	// only those.
	documented := readmeNISTRules(t)
	var found []string
	for rule := range nistFound {
		found = append(found, rule)
	}
	sort.Strings(found)
	assert.Equal(t, documented, found, "the README's NIST table and the findings differ")
}

// readmeNISTRules returns the rules in the README's NIST 800-53 table.
func readmeNISTRules(t *testing.T) []string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	require.NoError(t, err)
	var out []string
	for _, m := range regexp.MustCompile("(?m)^\\| `("+regexp.QuoteMeta(nist)+"-[A-Za-z0-9]+)` \\|").FindAllStringSubmatch(string(raw), -1) {
		out = append(out, m[1])
	}
	sort.Strings(out)
	return out
}

func TestNagSuppressionsAreGranularAndExplained(t *testing.T) {
	ex, _ := exampleStack(t, map[string]string{"efsRecoveryPointArn": efsRecoveryPoint})
	res := runNag(t, ex.Stack)
	// Every suppression has a reason a reviewer can check.
	for _, l := range res.lines[awsSolutions] {
		if l.Compliance == "Suppressed" {
			assert.Greater(t, len(l.ExceptionReason), 60, "%s on %s: %q", l.RuleID, l.ResourceID, l.ExceptionReason)
		}
	}
	// Wildcards are suppressed finding by finding, never for a whole policy.
	for _, reason := range res.suppressedBy(awsSolutions, "AwsSolutions-IAM5") {
		assert.Regexp(t, `: \[Resource::[^\]]+\] `, reason)
	}
	// AwsSolutions-IAM4 (AWS-managed policies) is fixed, never suppressed.
	assert.Empty(t, res.suppressedBy(awsSolutions, "AwsSolutions-IAM4"))
	// The library's suppressions are the ones listed in the README.
	var rules []string
	seen := map[string]bool{}
	for _, l := range res.lines[awsSolutions] {
		if l.Compliance == "Suppressed" && libraryOwned(l.ResourceID) && !seen[l.RuleID] {
			seen[l.RuleID] = true
			rules = append(rules, l.RuleID)
		}
	}
	sort.Strings(rules)
	assert.Equal(t, []string{"AwsSolutions-IAM5", "AwsSolutions-SF2"}, rules)
}

func TestNagRDS2IsSuppressedOnlyWhereEncryptionIsInherited(t *testing.T) {
	// A restore inherits StorageEncrypted and sets KmsKeyId: RDS2 is suppressed
	// with the CloudFormation documentation's reason.
	restored, _ := newCluster(t, map[string]string{"snapshotArn": snapshotARN})
	res := runNag(t, restored)
	reasons := res.suppressedBy(awsSolutions, "AwsSolutions-RDS2")
	require.Len(t, reasons, 1)
	assert.Contains(t, reasons[0], "AppStack/Database/Default/Resource: ")
	assert.Contains(t, reasons[0], "cfn-rds-dbcluster-storageencrypted")
	// A new cluster has StorageEncrypted and needs no suppression.
	fresh, _ := newCluster(t, nil)
	assert.Empty(t, runNag(t, fresh).suppressedBy(awsSolutions, "AwsSolutions-RDS2"))
	// Turning encryption off is reported, not hidden.
	plain := newStack(t, nil)
	p := clusterProps(plain)
	p.StorageEncrypted = jsii.Bool(false)
	restorable.NewAuroraCluster(plain, jsii.String("Database"), &restorable.AuroraClusterProps{DatabaseClusterProps: p})
	assert.Contains(t, runNag(t, plain).findings(awsSolutions, libraryOwned), "AwsSolutions-RDS2 AppStack/Database/Default/Resource (Non-Compliant)")
}
