package restorable

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsrds"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/restorable-cdk/restorable/internal/contract"
)

// GlobalDatabase puts a restorable cluster into an Aurora global database
// (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-global-database.html):
// storage-level replication to clusters in other regions, typically under a
// second behind, so a lost region costs the time of a failover, not of a
// restore. See docs/global.md for the strategies, their RTO, RPO and cost.
//
// The primary's stack creates the AWS::RDS::GlobalCluster from its cluster
// (SourceDBClusterIdentifier); a restorable cluster in a stack in another
// region, with Secondary set and the same Identifier, joins it. Deploy the
// primary's stack first.
type GlobalDatabase struct {
	// Identifier names the global database (GlobalClusterIdentifier), the
	// same in every member's stack. Required. It cannot change: CloudFormation
	// would replace the global database, which the guard refuses.
	Identifier string
	// Secondary makes this cluster a read-only member of the global database
	// that PrimaryRegion's stack created. A secondary sets no master
	// credentials (RDS refuses them: aws/aws-cdk#29880) and no DatabaseName:
	// both come from the primary by replication.
	// Default: false, this cluster is the primary and creates the global
	// database.
	Secondary bool
	// PrimaryRegion is the region of the primary's stack. Required with
	// Secondary, and checked: a secondary must be in another region.
	PrimaryRegion string
	// SecondaryRegions are the regions of the secondaries (primary only). The
	// master secret, which restorable creates for a global primary because RDS
	// does not manage master passwords in global databases
	// (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/rds-secrets-manager.html#rds-secrets-manager-limitations),
	// is replicated to each, so applications in every region read the same
	// credentials under the same name, also after a failover.
	// Default: none; the secret stays in the primary's region.
	SecondaryRegions []string
	// Headless removes the secondary's DB instances: a pilot light. The
	// storage replicates and costs storage and I/O only; a failover to it
	// first adds an instance (deploy with the instances back, minutes), then
	// promotes it. Secondary only.
	// Default: false, the secondary keeps the instances of its props (warm
	// standby: readers serve reads, and a failover takes about a minute).
	Headless bool
	// Detached takes a secondary out of the global database and makes it a
	// standalone cluster that accepts writes, keeping its data: CloudFormation
	// calls RemoveFromGlobalCluster when GlobalClusterIdentifier is removed
	// (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-global-database-detaching.html).
	// It is the way out when a managed failover cannot run, and the first step
	// of a restore of a global database (docs/global.md, "Detach"): stop the
	// old primary's writers first, since the two would diverge; the guard asks
	// for consent (<path>.allowReplace). Keep Secondary and the other settings
	// as they were, so no other create-only property changes.
	// Default: false.
	Detached bool
}

// Context keys of a global database's members: cdk deploy -c
// '<path>.switchoverTo=<region>' moves the writer to the member in that
// region with SwitchoverGlobalCluster (no data lost; both regions healthy);
// -c '<path>.failoverTo=<region>' -c '<path>.allowDataLoss=true' does it with
// FailoverGlobalCluster and AllowDataLoss (the writer's region is down; what
// it had not replicated is lost). <path> is the member in that region, and
// its stack is the one to deploy.
const (
	ContextSwitchoverTo  = "switchoverTo"
	ContextFailoverTo    = "failoverTo"
	ContextAllowDataLoss = "allowDataLoss"
)

// globalMember is a cluster's part in a global database.
type globalMember struct {
	GlobalDatabase
	// cfn is the global database, in the primary's stack.
	cfn awsrds.CfnGlobalCluster
	// switchMode is "switchover" or "failover" in a deploy that moves the
	// writer to this cluster, "" otherwise.
	switchMode string
}

// secretName is the master secret's name, the same in every region it is
// replicated to.
func (g *GlobalDatabase) secretName() string { return "restorable/" + g.Identifier + "/master" }

var regionPattern = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-\d$`)

// validate checks the global settings against the cluster's props, in the
// region of the cluster's stack.
func (g *GlobalDatabase) validate(region string, p *AuroraClusterProps, src resolvedSource) error {
	if err := validateClusterIdentifier("Global.Identifier", g.Identifier, ""); err != nil || g.Identifier == "" || strings.HasPrefix(g.Identifier, "arn:") || isToken(g.Identifier) || strings.ToLower(g.Identifier) != g.Identifier {
		// RDS stores the identifier in lower case, and IAM compares the ARNs
		// that name it case-sensitively
		// (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateGlobalCluster.html).
		return inputErr("Global.Identifier", g.Identifier,
			"is not a global database identifier (1 to 63 lower-case letters, digits or hyphens, starting with a letter, with no double or trailing hyphen; not a token, since every member's stack names it)",
			`give the same fixed name in the primary's and each secondary's props, for example "orders-global"`)
	}
	if engine := *p.Engine.EngineType(); engine != "aurora-postgresql" && engine != "aurora-mysql" {
		return inputErr("Engine", engine, "has no global databases",
			"use Aurora PostgreSQL or Aurora MySQL, in a version the global database supports: https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/Concepts.Aurora_Fea_Regions_DB-eng.Feature.GlobalDatabase.html")
	}
	if src.kind != KindNew {
		return inputErr("Source", src.String(),
			"restores a member of the global database "+g.Identifier+", but a restore replaces the cluster, and the global database's source cluster cannot change (CloudFormation would replace the global database and every secondary's copy with it)",
			"follow docs/global.md, \"Restoring a global database\": set Detached: true on the secondaries and deploy (each detaches and keeps its data), restore the primary without Global, then add Global back with a new Identifier and let new secondaries join it")
	}
	if p.BacktrackWindow != nil {
		return inputErr("BacktrackWindow", "set", "is not supported in a global database (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-global-database.html#aurora-global-database.limitations)",
			"remove BacktrackWindow; rewind with a point-in-time restore of a detached copy instead")
	}
	if p.ManageMasterUserPassword != nil && *p.ManageMasterUserPassword {
		return inputErr("ManageMasterUserPassword", "true", "is not supported in a global database (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/rds-secrets-manager.html#rds-secrets-manager-limitations)",
			"leave it unset: restorable creates the master secret and replicates it to SecondaryRegions")
	}
	if isToken(region) {
		return inputErr("env.region", "(unresolved)", "is not known at synth, but a global database needs each member's region",
			"give the stack an explicit region: awscdk.StackProps{Env: &awscdk.Environment{Region: jsii.String(\"ap-northeast-1\")}}")
	}
	if !g.Secondary {
		switch {
		case g.Headless:
			return inputErr("Global.Headless", "true", "is set on the primary, which holds the writer", "set Headless on a secondary only")
		case g.Detached:
			return inputErr("Global.Detached", "true", "is set on the primary", "detach secondaries; to take the primary out, follow docs/global.md, \"Restoring a global database\"")
		case g.PrimaryRegion != "" && g.PrimaryRegion != region:
			return inputErr("Global.PrimaryRegion", g.PrimaryRegion, "is not this stack's region ("+region+"), but this cluster is the primary", "leave PrimaryRegion unset on the primary, or set Secondary: true")
		case p.Credentials != nil && p.Credentials.Secret() == nil && p.Credentials.Password() == nil && !p.Adopt:
			return inputErr("Credentials", "a user name", "asks for an RDS-managed or CDK-generated password, which restorable does not replicate under the name the secondaries read",
				"leave Credentials unset (restorable creates the secret restorable/<Identifier>/master and replicates it to SecondaryRegions), or pass awsrds.Credentials_FromSecret(yourSecret, nil) replicated to every secondary region under that name")
		}
		seen := map[string]bool{}
		for _, r := range g.SecondaryRegions {
			switch {
			case !regionPattern.MatchString(r):
				return inputErr("Global.SecondaryRegions", r, "is not a region name", `give regions such as "ap-northeast-3"`)
			case r == region:
				return inputErr("Global.SecondaryRegions", r, "is the primary's own region; a secondary must be in another region", "remove "+r)
			case seen[r]:
				return inputErr("Global.SecondaryRegions", r, "is listed twice", "list each region once")
			}
			seen[r] = true
		}
		return nil
	}
	switch {
	case !regionPattern.MatchString(g.PrimaryRegion):
		return inputErr("Global.PrimaryRegion", g.PrimaryRegion, "is not a region name, but a secondary needs its primary's region",
			`give the region of the primary's stack, for example "ap-northeast-1"`)
	case g.PrimaryRegion == region:
		return inputErr("Global.PrimaryRegion", g.PrimaryRegion, "is this stack's region too; Aurora keeps one cluster of a global database per region",
			"deploy the secondary's stack in another region")
	case g.Detached && g.Headless:
		return inputErr("Global.Detached", "true", "is set on a headless secondary, which would become a standalone cluster without an instance to write to",
			"remove Headless, deploy so the secondary has its instances, then set Detached")
	case len(g.SecondaryRegions) > 0:
		return inputErr("Global.SecondaryRegions", strings.Join(g.SecondaryRegions, ","), "is set on a secondary", "list the secondary regions on the primary")
	case p.Credentials != nil:
		return inputErr("Credentials", "set", "is set on a secondary, which takes its users from the primary (RDS refuses master credentials on a secondary)",
			"remove Credentials; Secret() reads the primary's secret replicated into this region")
	case p.DefaultDatabaseName != nil:
		return inputErr("DefaultDatabaseName", *p.DefaultDatabaseName, "is set on a secondary, whose databases are the primary's", "remove DatabaseName")
	case p.Adopt:
		return inputErr("Adopt", "true", "is set on a secondary; a secondary holds no data of its own to adopt", "remove Adopt: CloudFormation creates the secondary, which copies the primary's data")
	}
	return nil
}

// globalCredentials are the primary's master credentials: a generated
// secret with a fixed name, replicated to each secondary region.
func (g *globalMember) globalCredentials() awsrds.Credentials {
	var replicas []*awssecretsmanager.ReplicaRegion
	for _, r := range g.SecondaryRegions {
		replicas = append(replicas, &awssecretsmanager.ReplicaRegion{Region: jsii.String(r)})
	}
	return awsrds.Credentials_FromGeneratedSecret(jsii.String(defaultMasterUsername), &awsrds.CredentialsBaseOptions{
		SecretName: jsii.String(g.secretName()), ReplicaRegions: &replicas,
	})
}

// attach wires the cluster into its global database: the primary creates
// it, a secondary joins it; then the switch, when the deploy asks for one.
func (c *AuroraCluster) attachGlobal(path string) {
	g := c.global
	if !g.Secondary {
		g.cfn = awsrds.NewCfnGlobalCluster(c, jsii.String("Global"), &awsrds.CfnGlobalClusterProps{
			GlobalClusterIdentifier:   jsii.String(g.Identifier),
			SourceDbClusterIdentifier: c.cluster.ClusterArn(),
			// Deleting the global database takes the secondaries' replication
			// with it; the guard also refuses its removal without consent.
			DeletionProtection: true,
		})
		g.cfn.ApplyRemovalPolicy(awscdk.RemovalPolicy_RETAIN, nil)
		if l2, ok := c.cluster.(awsrds.DatabaseCluster); ok && c.secret == nil {
			// The cluster's secret is the secret's attachment; the secret is
			// the cluster's child "Secret".
			c.secret = l2.Secret()
			if secret := c.cluster.Node().TryFindChild(jsii.String("Secret")); secret != nil {
				suppressNag(secret, true, nagException{rule: "AwsSolutions-SMG4",
					reason: "The master secret of a global database, replicated to each secondary region: rotation would add a function to every stack, and RDS manages no password in a global database; add it with Cluster().(awsrds.DatabaseCluster).AddRotationSingleUser() where policy asks for it (docs/global.md)."})
			}
		}
		output(c, OutputGlobalIdentifier, "Global database of "+path, g.cfn.Ref())
		// The schema has no string attribute for the writer endpoint (only the
		// GlobalEndpoint object), so the output is the command that reads it.
		output(c, OutputGlobalWriterEndpointCommand, "Prints the writer endpoint of "+g.Identifier+", which follows every switchover and failover",
			jsii.String("aws rds describe-global-clusters --region "+stackRegion(c)+" --global-cluster-identifier "+g.Identifier+" --query 'GlobalClusters[0].Endpoint' --output text"))
	} else {
		// https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-rds-dbcluster.html#cfn-rds-dbcluster-globalclusteridentifier
		if !g.Detached {
			c.cfn.SetGlobalClusterIdentifier(jsii.String(g.Identifier))
		}
		// Through the L1's setters, so the guard reads what the template holds.
		c.cfn.SetMasterUsername(nil)
		c.cfn.SetMasterUserPassword(nil)
		c.cfn.SetManageMasterUserPassword((*bool)(nil))
		c.cfn.SetMasterUserSecret((*awsrds.CfnDBCluster_MasterUserSecretProperty)(nil))
		if g.Headless {
			removeInstances(c.cluster)
		}
		c.secret = awssecretsmanager.Secret_FromSecretNameV2(c, jsii.String("MasterSecret"), jsii.String(g.secretName()))
	}
	if g.switchMode != "" {
		c.addGlobalSwitch(path)
	}
}

// removeInstances deletes the DB instances of a headless secondary: the
// instance constructs of the L2 (ClusterInstance: a construct whose child is
// the AWS::RDS::DBInstance), or the L1s themselves when they are the
// cluster's children (instanceProps).
func removeInstances(cluster constructs.IConstruct) {
	for _, child := range *cluster.Node().FindAll(constructs.ConstructOrder_POSTORDER) {
		if _, ok := child.(awsrds.CfnDBInstance); !ok {
			continue
		}
		owner := child.Node().Scope()
		if *owner.Node().Path() == *cluster.Node().Path() {
			cluster.Node().TryRemoveChild(child.Node().Id())
		} else {
			owner.Node().Scope().Node().TryRemoveChild(owner.Node().Id())
		}
	}
}

// readGlobalSwitch reads the cluster's switch keys (switch_keys.go).
func readGlobalSwitch(scope constructs.Construct, path, region string, g *GlobalDatabase) string {
	mode, v := readSwitch(scope, path, region, g != nil, "moves the writer of a global database, but this cluster is in none", "set AuroraClusterProps.Global, or remove the key")
	if mode != "" && (g.Detached || g.Headless) {
		panic(&InputError{Construct: path, Setting: v.setting, Value: v.value,
			Problem: "makes this cluster the writer, but it is " + map[bool]string{true: "detached from the global database", false: "headless, without an instance to write"}[g.Detached],
			Fix:     map[bool]string{true: "a detached cluster is a writer already; remove the key", false: "remove Headless and deploy first, so the cluster has its instances, then give the key"}[g.Detached]})
	}
	return mode
}

// addGlobalSwitch adds, for this deploy only, the custom resource and the
// function that move the writer to this cluster. The function answers
// within CloudFormation's hour (internal/failover).
func (c *AuroraCluster) addGlobalSwitch(path string) {
	g := c.global
	scope := constructs.NewConstruct(c, jsii.String("GlobalSwitch"))
	stack := awscdk.Stack_Of(c)
	globalArn := stack.FormatArn(&awscdk.ArnComponents{Service: jsii.String("rds"), Region: jsii.String(""),
		Resource: jsii.String("global-cluster"), ResourceName: jsii.String(g.Identifier), ArnFormat: awscdk.ArnFormat_COLON_RESOURCE_NAME})
	// The writer being demoted is in another region, under an identifier
	// CloudFormation generated there, so the cluster is matched in this
	// account in any region; the global database is named.
	anyCluster := stack.FormatArn(&awscdk.ArnComponents{Service: jsii.String("rds"), Region: jsii.String("*"),
		Resource: jsii.String("cluster"), ResourceName: jsii.String("*"), ArnFormat: awscdk.ArnFormat_COLON_RESOURCE_NAME})
	action := "rds:SwitchoverGlobalCluster"
	if g.switchMode == contract.ModeFailover {
		action = "rds:FailoverGlobalCluster"
	}
	c.switchDone = addSwitch(scope, switchSpec{
		description:  "restorable: moves the writer of " + g.Identifier + " to " + path,
		resourceType: contract.GlobalSwitchResourceType,
		properties: map[string]interface{}{
			contract.GlobalSwitchCluster: g.Identifier,
			contract.GlobalSwitchTarget:  c.cluster.ClusterArn(),
			contract.GlobalSwitchMode:    g.switchMode,
		},
		statements: []*awsiam.PolicyStatementProps{
			{Sid: jsii.String("ReadTheGlobalDatabase"), Actions: jsii.Strings("rds:DescribeGlobalClusters"), Resources: &[]*string{globalArn}},
			{Sid: jsii.String("MoveTheWriter"), Actions: jsii.Strings(action), Resources: &[]*string{globalArn, c.cluster.ClusterArn(), anyCluster}},
		},
		wildcard: nagException{rule: nagWildcard, appliesTo: []string{`/^Resource::arn:.+:rds:\*:.+:cluster:\*$/`},
			reason: "The writer being demoted is in another region, named by CloudFormation there; the action is tied to the named global database."},
		after: c.writerResources(),
	})
	awscdk.Annotations_Of(c).AddWarningV2(jsii.String("restorable:globalSwitch"), jsii.String(fmt.Sprintf(
		"%s: this deploy makes this cluster the writer of %s (%s). Keep the key in cdk.json while this cluster is the writer: later deploys with it change nothing; removing it removes the switch and moves nothing back.",
		path, g.Identifier, g.switchMode)))
}

// writerResources are what a writer is made of here: the cluster and its
// instances (not the rules of its security group, which other resources'
// security groups may reference).
func (c *AuroraCluster) writerResources() []constructs.IConstruct {
	out := []constructs.IConstruct{c.cfn}
	for _, child := range *c.cluster.Node().FindAll(constructs.ConstructOrder_PREORDER) {
		if _, ok := child.(awsrds.CfnDBInstance); ok {
			out = append(out, child)
		}
	}
	return out
}

// AfterSwitch makes each construct wait, in a deploy that moves the writer
// to this cluster, until the writer is here: an app whose tasks write when
// they start, a migration. In other deploys it does nothing.
func (c *AuroraCluster) AfterSwitch(dependents ...constructs.IConstruct) {
	if c.switchDone == nil {
		return
	}
	for _, d := range dependents {
		dependOn(d, c.switchDone)
	}
}

// IsStandby reports whether the cluster is a global database's secondary
// that this deploy does not make the writer: it serves reads only (or, when
// headless, nothing). An app can run no writers against it, and start them
// in the deploy that gives the cluster's switchoverTo or failoverTo key (keep
// the key in cdk.json while the cluster is the writer).
func (c *AuroraCluster) IsStandby() bool {
	return c.global != nil && c.global.Secondary && !c.global.Detached && c.global.switchMode == ""
}

// globalLines are the report's lines on the global database.
func (c *AuroraCluster) globalLines(path string) []string {
	g := c.global
	if g == nil {
		return nil
	}
	role := "primary: creates the global database " + g.Identifier + " from this cluster"
	if g.Secondary {
		role = "secondary of " + g.Identifier + " (primary in " + g.PrimaryRegion + "), read-only until it becomes the writer"
		if g.Headless {
			role += "; headless (no instances): add them back before a failover"
		}
	}
	lines := []string{"global:  " + role,
		"switch:  cdk deploy -c '" + ContextKey(path, ContextSwitchoverTo) + "=" + stackRegion(c) + "' makes this cluster the writer (no data lost); " +
			"with its region's writer down: -c '" + ContextKey(path, ContextFailoverTo) + "=" + stackRegion(c) + "' -c '" + ContextKey(path, ContextAllowDataLoss) + "=true'"}
	if g.switchMode != "" {
		lines = append(lines, "this deploy: "+g.switchMode+" of the writer to this cluster")
	}
	return lines
}
