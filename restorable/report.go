package restorable

import (
	"fmt"
	"io"
	"strings"

	"github.com/aws/constructs-go/constructs/v10"
)

// WriteReport writes, for every restorable resource in the app that holds scope,
// where its data comes from, what the next `cdk deploy` does to it, and the
// command lines that restore it. The example app prints it to stderr after it
// synthesizes, so `cdk synth` and `cdk deploy` show it.
func WriteReport(w io.Writer, scope constructs.Construct) error {
	resources := registryOf(scope).all()
	var b strings.Builder
	fmt.Fprintf(&b, "restorable: %d restorable resource(s)\n", len(resources))
	for _, r := range resources {
		fmt.Fprintf(&b, "  %s (%s)\n", r.path, r.kind)
		for _, line := range r.report() {
			fmt.Fprintf(&b, "    %s\n", line)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// reportLines describes an Aurora cluster for the synth report.
func (c *AuroraCluster) reportLines() []string {
	path := *c.Node().Path()
	key := func(k string) string { return ContextKey(path, k) }
	lines := []string{"source:  " + c.describeSource()}
	if c.source.kind == KindNew {
		lines = append(lines, "deploy:  creates the cluster if it does not exist; an existing cluster keeps its data")
	} else {
		lines = append(lines,
			"deploy:  restores in place on the deploy that sets or changes this source (the cluster and its instances are replaced, the old cluster is kept by deletion protection); later deploys with the same source change nothing",
			"keep:    this source in cdk.json for every later deploy until the next restore")
	}
	if c.protection != nil {
		lines = append(lines, "backup:  selected by ARN in "+*c.protection.Node().Path()+"'s plan")
	}
	if c.writerRecord != nil {
		lines = append(lines, "endpoint: consumers use the stable endpoint (stack output "+outputPrefix(c)+"StableHostname), a CNAME that every restore points at the new cluster")
	}
	lines = append(lines,
		"guard:   a deploy that would replace this cluster with an empty one fails first (template fingerprint "+c.guard.fingerprint()+")",
		"consent: cdk deploy -c '"+key(ContextAllowReplace)+"=<current cluster identifier: stack output "+outputPrefix(c)+"ClusterIdentifier>' (one deploy, this cluster only)")
	if c.backtrackHours > 0 {
		lines = append(lines, fmt.Sprintf("rewind:  backtracking keeps %g hours; rewinding is outside CloudFormation: aws rds backtrack-db-cluster --db-cluster-identifier <current identifier> --backtrack-to <RFC 3339 time>", c.backtrackHours))
	}
	lines = append(lines,
		"restore: cdk deploy -c "+key(ContextSnapshotArn)+"=<snapshot name or ARN>",
		"         cdk deploy -c "+key(ContextRestoreToTime)+"=<RFC 3339 time|latest> -c "+key(ContextRestoreSourceCluster)+"=<current cluster identifier>",
		"         cdk deploy -c "+key(ContextCloneSourceCluster)+"=<cluster to clone>")
	return lines
}
