package restorable

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/aws/constructs-go/constructs/v10"
)

// WriteReport writes, for every restorable resource in the app that holds scope,
// where its data comes from, what the next `cdk deploy` does to it, the stack
// outputs that hold its identifiers, and the command lines that restore it.
// Synth and Run print it; an app synthesized by the CDK CLI prints it by
// itself, once, when it validates.
func WriteReport(w io.Writer, scope constructs.Construct) error {
	_, err := io.WriteString(w, report(registryOf(scope)))
	return err
}

func report(reg *registry) string {
	resources := reg.all()
	var b strings.Builder
	fmt.Fprintf(&b, "restorable: %d restorable resource(s)\n", len(resources))
	for _, r := range resources {
		fmt.Fprintf(&b, "  %s (%s)\n", r.path, r.kind)
		for _, line := range r.report() {
			fmt.Fprintf(&b, "    %s\n", line)
		}
	}
	return b.String()
}

// printReportOnce prints the report to stderr, the first time it is asked to
// in this process.
func printReportOnce(reg *registry) {
	reg.mu.Lock()
	done := reg.reported
	reg.reported = true
	reg.mu.Unlock()
	if !done {
		fmt.Fprint(os.Stderr, report(reg))
	}
}

// reportLines describes an Aurora cluster for the synth report: what the next
// deploy does with its actual props, and where its identifiers are.
func (c *AuroraCluster) reportLines() []string {
	path := *c.Node().Path()
	key := func(k string) string { return ContextKey(path, k) }
	prefix := outputPrefix(c)
	lines := []string{"source:  " + c.describeSource()}
	if c.source.kind == KindNew {
		lines = append(lines, "deploy:  creates the cluster if it does not exist; an existing cluster keeps its data")
	} else {
		lines = append(lines,
			"deploy:  restores on the deploy that sets or changes this source: CloudFormation creates a new cluster and instances from it and "+c.oldClusterFate()+"; later deploys with the same source change nothing",
			"keep:    this source in cdk.json for every later deploy until the next restore")
	}
	if c.adopt {
		lines = append(lines, "adopt:   keeps the create-only properties and credentials of the cluster awsrds.NewDatabaseCluster made; keep Adopt set")
	}
	protection := "off: a restore or removal deletes the old cluster after its final snapshot"
	if c.deletionProtection {
		protection = "on: a restore leaves the old cluster for you to check and retire"
	}
	lines = append(lines, "deletion protection: "+protection)
	lines = append(lines, c.globalLines(path)...)
	outputs := prefix + OutputClusterIdentifier + " (current identifier), " + prefix + OutputClusterResourceID + ", " + prefix + OutputPointInTimeRestoreCommand + ", " + prefix + OutputListSnapshotsCommand
	if c.writerRecord != nil {
		outputs += ", " + prefix + OutputStableHostname + " (a host name no restore changes)"
	}
	if c.beforeChange.on {
		outputs += ", " + prefix + OutputRollbackCommand
	}
	lines = append(lines, "outputs: "+outputs)
	lines = append(lines, c.beforeChangeReport()...)
	if c.protection != nil {
		lines = append(lines, "backup:  selected by ARN in "+*c.protection.Node().Path()+"'s plan")
	}
	lines = append(lines, c.targets.reportLines()...)
	lines = append(lines, drillLines(path, c.targets.drilled)...)
	lines = append(lines,
		"guard:   a deploy that would replace or delete this cluster fails first (template fingerprint "+c.guard.fingerprint()+")",
		"consent: cdk deploy -c '"+key(ContextAllowReplace)+"=<stack output "+prefix+OutputClusterIdentifier+">' (one deploy, this cluster only)")
	if c.backtrackHours > 0 {
		lines = append(lines, fmt.Sprintf("rewind:  backtracking keeps %g hours; rewinding is outside CloudFormation: aws rds backtrack-db-cluster --db-cluster-identifier <current identifier> --backtrack-to <RFC 3339 time>", c.backtrackHours))
	}
	lines = append(lines,
		"restore: cdk deploy -c "+key(ContextSnapshotArn)+"=<snapshot name or ARN>",
		"         cdk deploy -c "+key(ContextRestoreToTime)+"=<RFC 3339 time|latest> -c "+key(ContextRestoreSourceCluster)+"=<stack output "+prefix+OutputClusterIdentifier+">")
	if c.source.kind == KindClone {
		// Only a clone is refreshed by cloning again.
		lines = append(lines, "         cdk deploy -c "+key(ContextCloneSourceCluster)+"=<cluster to clone> (a fresh clone)")
	}
	return lines
}

// reportLines describes a file system for the synth report.
func (c *FileSystem) reportLines() []string {
	path := *c.Node().Path()
	prefix := outputPrefix(c)
	source := "source:  its own data"
	if c.point != nil {
		source = "source:  recovery point " + c.point.ARN + " (restored into the file system on the deploy that sets it, up to 12 hours; later deploys change nothing)"
	}
	lines := []string{source}
	if c.adopt {
		lines = append(lines, "adopt:   keeps the encryption and performance mode awsefs.NewFileSystem gave it; keep Adopt set")
	}
	lines = append(lines,
		"outputs: "+prefix+OutputFileSystemID+", "+prefix+OutputListRecoveryPointsCommand,
		"backup:  selected by ARN in "+*c.protection.Node().Path()+"'s plan (EFS automatic backups off)")
	lines = append(lines, c.targets.reportLines()...)
	lines = append(lines, drillLines(path, c.targets.drilled)...)
	return append(lines,
		"guard:   a deploy that would replace or delete this file system fails first (template fingerprint "+c.guard.fingerprint()+")",
		"consent: cdk deploy -c '"+ContextKey(path, ContextAllowReplace)+"=<stack output "+prefix+OutputFileSystemID+">' (one deploy, this file system only)",
		"restore: cdk deploy -c "+ContextKey(path, ContextEFSRecoveryPointArn)+"=<recovery point ARN: stack output "+prefix+OutputListRecoveryPointsCommand+" lists them>",
	)
}

// drillLines say how a resource is drilled, and how to drill it now.
func drillLines(path string, drilled bool) []string {
	if !drilled {
		return []string{"drills:  none (ProtectionProps.RestoreTesting turns on monthly validated drills)"}
	}
	return []string{
		"drills:  validated: the copy AWS Backup restores is checked, the result set on the restore job, the times written as metrics",
		"drill now: cdk deploy -c '" + ContextKey(path, ContextDrillNow) + "=true' (starts 30 minutes after synth; deploy again without it afterwards)",
	}
}
