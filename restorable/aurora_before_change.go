package restorable

import (
	"fmt"
	"strconv"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsrds"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/restorable-cdk/restorable/internal/contract"
)

// SnapshotBeforeChangeProps configures the manual snapshot the guard takes of
// an Aurora cluster before a deploy that changes its engine version, its
// cluster parameter group or that group's parameters, or the release marker.
// Every field is optional.
type SnapshotBeforeChangeProps struct {
	// Release is a marker of the application release, such as the container
	// image tag, for apps whose database migrations run on release: a deploy
	// that changes it takes a snapshot first.
	// Default: none; only engine and parameter changes take a snapshot.
	Release string
	// Keep is how many of the cluster's snapshots taken before a change are
	// kept; the guard deletes older ones, never one a restore source names.
	// Default: 3.
	Keep int
	// Disabled turns the snapshots off.
	// Default: false.
	Disabled bool
}

// defaultKeepBeforeChange is how many snapshots taken before a change are kept
// unless told otherwise.
const defaultKeepBeforeChange = 3

// validate checks the props.
func (p SnapshotBeforeChangeProps) validate() error {
	if p.Keep < 0 || p.Keep > 100 {
		return inputErr("SnapshotBeforeChange.Keep", strconv.Itoa(p.Keep), "is not from 1 to 100",
			"keep a few snapshots, for example 3 (0 means the default, 3); to take none, set Disabled")
	}
	if p.Disabled && (p.Release != "" || p.Keep != 0) {
		return inputErr("SnapshotBeforeChange.Disabled", "true", "is set together with Release or Keep",
			"choose one: remove Disabled to take snapshots, or remove Release and Keep")
	}
	return nil
}

// watchBeforeChange returns what the guard compares between deploys to decide
// on a snapshot, resolved at synth: the engine version, the cluster parameter
// group (by logical ID and family, with its parameters, when it is a resource
// of the app; by name otherwise), and the release marker. The group is named
// by logical ID, not referenced: it must be updated after the guard (see
// parameterGroupsAfterGuard), and a reference would make the guard wait for
// it instead.
func (c *AuroraCluster) watchBeforeChange(p SnapshotBeforeChangeProps) func() map[string]interface{} {
	keep := p.Keep
	if keep == 0 {
		keep = defaultKeepBeforeChange
	}
	return func() map[string]interface{} {
		stack := awscdk.Stack_Of(c)
		watch := map[string]interface{}{}
		put(watch, "EngineVersion", c.cfn.EngineVersion())
		groups := c.clusterParameterGroups()
		if len(groups) == 0 {
			put(watch, "DBClusterParameterGroupName", c.cfn.DbClusterParameterGroupName())
		}
		for _, pg := range groups {
			watch["ParameterGroup"] = logicalID(pg)
			put(watch, "Family", pg.Family())
			put(watch, "Parameters", stack.Resolve(pg.Parameters()))
		}
		if p.Release != "" {
			watch["Release"] = p.Release
		}
		return map[string]interface{}{contract.GuardWatch: watch, contract.GuardKeep: strconv.Itoa(keep)}
	}
}

// clusterParameterGroups are the cluster parameter groups of the app that the
// cluster uses: the one the construct made for its Parameters, or the caller's
// ParameterGroup when it is a resource of this stack.
func (c *AuroraCluster) clusterParameterGroups() []awsrds.CfnDBClusterParameterGroup {
	var out []awsrds.CfnDBClusterParameterGroup
	scopes := []constructs.IConstruct{c.cluster}
	if c.parameterGroup != nil {
		scopes = append(scopes, c.parameterGroup)
	}
	stack := awscdk.Stack_Of(c)
	for _, scope := range scopes {
		for _, child := range *scope.Node().FindAll(constructs.ConstructOrder_PREORDER) {
			if pg, ok := child.(awsrds.CfnDBClusterParameterGroup); ok && awscdk.Stack_Of(pg) == stack {
				out = append(out, pg)
			}
		}
	}
	return out
}

// parameterGroupsAfterGuard makes CloudFormation update the cluster's
// parameter groups after the guard, so that its snapshot comes before a
// parameter change: RDS applies dynamic parameters "immediately without a
// reboot" when a group changes
// (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_ModifyDBClusterParameterGroup.html).
func (c *AuroraCluster) parameterGroupsAfterGuard() {
	g := guardOf(c)
	for _, pg := range c.clusterParameterGroups() {
		g.before(pg)
	}
	for _, child := range *c.cluster.Node().FindAll(constructs.ConstructOrder_PREORDER) {
		if pg, ok := child.(awsrds.CfnDBParameterGroup); ok {
			g.before(pg)
		}
	}
}

// allowSnapshotsBeforeChange lets the guard take, list and prune the
// snapshots: create a snapshot of a cluster of this account and region (a
// restore gives the cluster a generated identifier, and the guard cannot name
// the cluster that depends on it) only with restorable's tag naming one of the
// stack's clusters; list snapshots (read-only); delete only snapshots that
// carry that tag.
func (g *stackGuard) allowSnapshotsBeforeChange() {
	if g.snapshots {
		return
	}
	g.snapshots = true
	stack := g.stack
	arn := func(resource string) *string { return stackArn(stack, "rds", resource) }
	paths := awscdk.Lazy_List(&lazyList{func() []*string {
		var out []*string
		for _, e := range g.entries {
			if e.beforeChange != nil {
				out = append(out, jsii.String(e.path))
			}
		}
		return out
	}}, nil)
	tagged := func(key string) *map[string]interface{} {
		return &map[string]interface{}{"StringEquals": map[string]interface{}{key + "/" + contract.TagBeforeChange: paths}}
	}
	addToRole(g.role,
		&awsiam.PolicyStatementProps{Sid: jsii.String("SnapshotClustersBeforeAChange"), Actions: jsii.Strings("rds:CreateDBClusterSnapshot"), Resources: &[]*string{arn("cluster:*")}},
		&awsiam.PolicyStatementProps{Sid: jsii.String("TagSnapshotsBeforeAChange"), Actions: jsii.Strings("rds:CreateDBClusterSnapshot", "rds:AddTagsToResource"),
			Resources: &[]*string{arn("cluster-snapshot:restorable-*")}, Conditions: tagged("aws:RequestTag")},
		&awsiam.PolicyStatementProps{Sid: jsii.String("ListSnapshots"), Actions: jsii.Strings("rds:DescribeDBClusterSnapshots"), Resources: &[]*string{arn("cluster:*"), arn("cluster-snapshot:*")}},
		&awsiam.PolicyStatementProps{Sid: jsii.String("PruneSnapshotsBeforeAChange"), Actions: jsii.Strings("rds:DeleteDBClusterSnapshot"),
			Resources: &[]*string{arn("cluster-snapshot:restorable-*")}, Conditions: tagged("aws:ResourceTag")},
	)
	suppressNag(g.role, true, nagException{rule: nagWildcard,
		appliesTo: []string{`/^Resource::arn:.+:rds:.+:(cluster:\*|cluster-snapshot:\*|cluster-snapshot:restorable-\*)$/`},
		reason: "Before a deploy changes a cluster's engine or parameters, the guard snapshots the cluster, whose identifier CloudFormation generates and every restore changes; " +
			"it can create and delete only snapshots that carry restorable's tag naming one of this stack's clusters (aws:RequestTag, aws:ResourceTag), and list them."})
}

// snapshotBeforeChange asks the guard for snapshots before risky changes,
// and prepares in-place major version upgrades. EngineVersion is not a
// create-only property of AWS::RDS::DBCluster, and when it changes the
// resource handler calls ModifyDBCluster with AllowMajorVersionUpgrade and
// the new DBInstanceParameterGroupName itself (Translator.modifyDbClusterRequest in
// https://github.com/aws-cloudformation/aws-cloudformation-resource-providers-rds/blob/master/aws-rds-dbcluster/src/main/java/software/amazon/rds/dbcluster/Translator.java),
// so the cluster keeps its identifier, endpoint and data. On a rollback it
// sends no engine version: an upgrade is not undone by CloudFormation, which
// is what the snapshot is for.
func (c *AuroraCluster) snapshotBeforeChange(props *SnapshotBeforeChangeProps) {
	c.setInstanceParameterGroup()
	var p SnapshotBeforeChangeProps
	if props != nil {
		p = *props
	}
	if p.Disabled {
		return
	}
	c.beforeChange.on, c.beforeChange.keep, c.beforeChange.release = true, p.Keep, p.Release
	if c.beforeChange.keep == 0 {
		c.beforeChange.keep = defaultKeepBeforeChange
	}
	c.guard.beforeChange = c.watchBeforeChange(p)
	c.parameterGroupsAfterGuard()
	guardOf(c).allowSnapshotsBeforeChange()
}

// rollbackCommand is the guard's answer with the command that restores the
// newest snapshot taken before a change.
func (c *AuroraCluster) rollbackCommand() *string {
	return guardOf(c).resource.GetAttString(jsii.String(contract.RollbackAttribute(logicalID(c.cfn))))
}

func (c *AuroraCluster) beforeChangeReport() []string {
	if !c.beforeChange.on {
		return []string{"before a change: no snapshot (SnapshotBeforeChange.Disabled)"}
	}
	what := "the engine version, the cluster parameter group or its parameters"
	if c.beforeChange.release != "" {
		what += ", or the release marker (now " + c.beforeChange.release + ")"
	}
	return []string{
		fmt.Sprintf("before a change: a deploy that changes %s first takes a manual snapshot and waits for it (the newest %d are kept)", what, c.beforeChange.keep),
		"rollback: stack output " + outputPrefix(c) + OutputRollbackCommand + " (cdk deploy -c " + ContextKey(*c.Node().Path(), ContextSnapshotArn) + "=<that snapshot>)",
	}
}

// setInstanceParameterGroup names, on the cluster, the parameter group its
// instances share, when they have one of their own: a major version upgrade
// must name the instances' group of the new family
// (DBInstanceParameterGroupName, which CloudFormation sends only with a new
// engine version), or RDS refuses to upgrade instances whose custom group is
// of the old family. Instances with different groups are left as they are,
// with a warning.
func (c *AuroraCluster) setInstanceParameterGroup() {
	if c.cfn.DbInstanceParameterGroupName() != nil {
		return
	}
	var names []*string
	for _, child := range *c.cluster.Node().FindAll(constructs.ConstructOrder_PREORDER) {
		if instance, ok := child.(awsrds.CfnDBInstance); ok {
			names = append(names, instance.DbParameterGroupName())
		}
	}
	if len(names) == 0 || names[0] == nil {
		return
	}
	stack := awscdk.Stack_Of(c)
	first := fmtResolved(stack, names[0])
	for _, n := range names[1:] {
		if n == nil || fmtResolved(stack, n) != first {
			awscdk.Annotations_Of(c).AddWarningV2(jsii.String("restorable:instanceParameterGroups"), jsii.String(*c.Node().Path()+
				": the instances have different parameter groups, so a major version upgrade needs DBInstanceParameterGroupName set on the cluster (CfnCluster().SetDbInstanceParameterGroupName) to a group of the new family"))
			return
		}
	}
	c.cfn.SetDbInstanceParameterGroupName(names[0])
}

func fmtResolved(stack awscdk.Stack, v *string) string {
	return fmt.Sprint(stack.Resolve(v))
}

// SnapshotBefore makes each dependent wait for the replacement guard, and so
// for the snapshot the guard takes before a risky change: a database
// migration task, a custom resource that runs SQL, an ECS service whose new
// tasks migrate on start. CloudFormation updates resources that do not depend
// on each other in parallel, and a DependsOn orders updates as well as
// creations (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-attribute-dependson.html),
// so without it a migration that reaches the database through a stable host
// name, a secret or another stack runs while the snapshot is still being
// taken. A dependent in another stack of the app makes that stack deploy
// after this one.
//
// The guard snapshots the cluster when the deploy changes its engine
// version, parameters, or its SnapshotBeforeChange.Release marker: give the
// release (an image tag) as the marker so that every release that migrates
// is preceded by a snapshot.
func (c *AuroraCluster) SnapshotBefore(dependents ...constructs.IConstruct) {
	guard := guardOf(c).resource
	for _, d := range dependents {
		if d == nil {
			panic(&InputError{Construct: *c.Node().Path(), Setting: "SnapshotBefore", Problem: "is given a nil construct",
				Fix: "pass the construct that changes the database, such as the migration task or the service"})
		}
		d.Node().AddDependency(guard)
	}
	if !c.beforeChange.on {
		awscdk.Annotations_Of(c).AddWarningV2(jsii.String("restorable:snapshotBeforeDisabled"), jsii.String(*c.Node().Path()+
			": SnapshotBefore orders the dependents after the guard, but SnapshotBeforeChange.Disabled is set, so no snapshot is taken before them"))
	}
}
