package restorable

import (
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsbackup"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsrds"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsroute53"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// AuroraClusterProps configures a restorable Aurora cluster. It embeds
// awsrds.DatabaseClusterProps, so every setting of an awsrds.DatabaseCluster works
// the same; restorable only changes the defaults listed on NewAuroraCluster.
type AuroraClusterProps struct {
	awsrds.DatabaseClusterProps
	// Source says where the cluster's data comes from: a snapshot, a point in
	// time, a clone, or nothing. Use AuroraClusterFromContext to take it from
	// `cdk deploy -c ...`.
	// Default: a new, empty cluster.
	Source AuroraSource
	// AllowReplace consents, for one deploy, to a change that would replace the
	// cluster with an empty one (a removed restore source, a changed create-only
	// property such as the KMS key): it must be the identifier of the current
	// cluster, so a consent left in cdk.json never applies to a later cluster.
	// AuroraClusterFromContext takes it from -c '<path>.allowReplace=<id>'.
	// Default: no consent; the replacement guard refuses such a deploy.
	AllowReplace string
	// Adopt says that the cluster exists already, created by
	// awsrds.NewDatabaseCluster under the same scope and id with these same
	// props. restorable then keeps every create-only property and the
	// credentials exactly as that construct made them (encryption, the
	// generated secret and its master user name, the port, the instances, the
	// logical IDs of security group rules), and adds only what CloudFormation
	// changes in place: deletion protection, backup retention, log exports,
	// the parameter group, the guard and the backup selection. Keep it set for
	// as long as the cluster exists: removing it would change create-only
	// properties, which the guard refuses. A synth warning names each default
	// that adoption does not apply.
	// Default: false, a cluster created by restorable, with its defaults.
	Adopt bool
	// Protection is AWS Backup protection the cluster joins, for example
	// StackProtection(stack), so that it is backed up with the stack's file
	// systems in one plan and one vault, kept longer than Aurora's automated
	// backups allow, and copied to another region if the protection does so.
	// With a continuous rule in the plan (the default rules have one), AWS
	// Backup manages the cluster's point-in-time backups, and the cluster's
	// backup retention is set to that rule's retention so CloudFormation and AWS
	// Backup agree on it.
	// Default: no AWS Backup; Aurora's automated backups only.
	Protection *Protection
	// StableEndpoint publishes the cluster's endpoints under fixed names in a
	// Route 53 hosted zone, usually a private one, so that consumers outside
	// the stack keep one host name across restores (StableHostname).
	// Default: none; consumers use ClusterEndpoint(), whose host name changes
	// with every restore.
	StableEndpoint *StableEndpointProps
	// SnapshotBeforeChange configures the manual snapshot the replacement
	// guard takes, and waits for, before a deploy changes the cluster's engine
	// version, its cluster parameter group or that group's parameters, or a
	// release marker: the way back from a failed upgrade or migration is then
	// `cdk deploy -c <path>.snapshotArn=<that snapshot>` (stack output
	// <id>RollbackCommand).
	// Default: on, keeping the newest 3, without a release marker.
	SnapshotBeforeChange *SnapshotBeforeChangeProps
	// Targets are the cluster's RPO and RTO, which alarms watch.
	// Default: RPO 1 hour (its latest restorable time, with continuous
	// backup), 32 hours with snapshots only; RTO 2 hours. Watched when the
	// cluster joins a Protection.
	Targets *RecoveryTargets
	// DrillCheck is what a validated drill checks on the copy AWS Backup
	// restores (with ProtectionProps.RestoreTesting).
	// Default: the copy has a user table, and a row of it can be read.
	DrillCheck *AuroraDrillCheck
	// Global puts the cluster into an Aurora global database, as its primary
	// or as a secondary in another region (docs/global.md).
	// Default: a regional cluster.
	Global *GlobalDatabase
}

// validate checks what needs no synthesized app: the source, and the props a
// restorable cluster cannot support. It returns the resolved source.
func (p AuroraClusterProps) validate(region string, now time.Time) (resolvedSource, error) {
	if p.Engine == nil {
		return resolvedSource{}, inputErr("Engine", "", "is not set", "set Engine, for example awsrds.DatabaseClusterEngine_AuroraPostgres(...)")
	}
	// A fixed name is kept for an adopted cluster (removing it is a change
	// of a create-only property, so a replacement), but cannot take a
	// restore: CloudFormation creates the replacement before it deletes the
	// old cluster, so the two names would collide.
	switch {
	case p.ClusterIdentifier != nil && !p.Adopt:
		return resolvedSource{}, inputErr("ClusterIdentifier", *p.ClusterIdentifier,
			"fixes the cluster's name, but a restore replaces the cluster, and CloudFormation creates the replacement before it deletes the old one, so the two names would collide",
			"remove ClusterIdentifier and let CloudFormation name the cluster; use the ClusterIdentifier stack output, or a stable DNS name, where a fixed name is needed; for a cluster that awsrds.NewDatabaseCluster created with this name, set Adopt: true")
	case p.ClusterIdentifier != nil && !p.Source.IsZero():
		return resolvedSource{}, inputErr("ClusterIdentifier", *p.ClusterIdentifier,
			"is set together with a restore source, but CloudFormation creates the restored cluster before it deletes the old one, so the two names would collide",
			"remove ClusterIdentifier in the deploy that restores: CloudFormation names the restored cluster, and the old one is kept by deletion protection")
	}
	if p.ReplicationSourceIdentifier != nil {
		return resolvedSource{}, inputErr("ReplicationSourceIdentifier", *p.ReplicationSourceIdentifier,
			"makes the cluster a read replica, whose data comes from its source, not from a restore",
			"use awsrds.NewDatabaseCluster for a read replica, and a restorable cluster for its source")
	}
	if p.RemovalPolicy == awscdk.RemovalPolicy_DESTROY {
		return resolvedSource{}, inputErr("RemovalPolicy", "DESTROY",
			"would delete the cluster's data, without a snapshot, when the cluster is replaced or removed",
			"leave RemovalPolicy unset (Snapshot) or use RemovalPolicy_RETAIN")
	}
	if p.SnapshotBeforeChange != nil {
		if err := p.SnapshotBeforeChange.validate(); err != nil {
			return resolvedSource{}, err
		}
	}
	if p.AllowReplace != "" && !isToken(p.AllowReplace) {
		if err := validateClusterIdentifier("AllowReplace", p.AllowReplace, ""); err != nil {
			return resolvedSource{}, err
		}
	}
	return p.Source.resolve(region, now)
}

// StableEndpointProps names the cluster's endpoints in a hosted zone.
type StableEndpointProps struct {
	// Zone holds the records. Required.
	Zone awsroute53.IHostedZone
	// RecordName is the writer's name in the zone; the reader's is RecordName
	// with "-ro" appended.
	// Default: "database".
	RecordName string
	// Ttl is how long resolvers keep the records: after a restore, clients
	// reach the restored cluster within this time.
	// Default: 60 seconds.
	Ttl awscdk.Duration
}

// AuroraCluster is an Aurora cluster whose data can be restored in place by
// changing its Source and running `cdk deploy`. The stack keeps owning the cluster
// through every restore. Consumers use Cluster() (the awsrds.IDatabaseCluster),
// Connections(), ClusterEndpoint() and Secret(), which keep working in every mode.
type AuroraCluster struct {
	constructs.Construct
	cluster awsrds.IDatabaseCluster
	cfn     awsrds.CfnDBCluster
	secret  awssecretsmanager.ISecret
	key     awskms.IKey
	source  resolvedSource
	adopt   bool
	guard   *guardEntry
	// protection is the AWS Backup protection the cluster joined, if any.
	protection *Protection
	// backtrackHours is the backtrack window in hours, 0 when none is set.
	backtrackHours float64
	// retentionDays is the backup retention, 0 when it is a token.
	retentionDays float64
	// deletionProtection is whether deletion protection is on.
	deletionProtection bool
	connections        awsec2.Connections
	// writerRecord and readerRecord are the stable endpoint's records.
	writerRecord, readerRecord awsroute53.CnameRecord
	// parameterGroup is the caller's cluster parameter group, if any.
	parameterGroup awsrds.IParameterGroup
	// targets are the cluster's RPO and RTO and their alarms.
	targets targets
	// global is the cluster's part in a global database, if any.
	global *globalMember
	// switchDone is the switch of a deploy that moves the writer here.
	switchDone awscdk.CustomResource
	// beforeChange is the snapshot taken before a risky change.
	beforeChange struct {
		on      bool
		keep    int
		release string
	}
}

// clock is the time restore times are judged against; tests replace it.
var clock = time.Now

// NewAuroraCluster creates a restorable Aurora cluster, a drop-in replacement for
// awsrds.NewDatabaseCluster. With no Source it is an awsrds.DatabaseCluster; with a
// snapshot it is an awsrds.DatabaseClusterFromSnapshot with the same props; a
// point-in-time restore or clone sets the restore properties of the same
// AWS::RDS::DBCluster. The L2 is created with the id "Default", which construct
// IDs hide, so the cluster, its instances, security group, subnet group and
// parameter group have the same logical IDs in every mode, and the same logical
// IDs as awsrds.NewDatabaseCluster(scope, id, ...) would give them.
//
// Defaults that differ from awsrds.DatabaseCluster (each can be overridden in
// DatabaseClusterProps; with Adopt, only those CloudFormation applies in place):
//   - storage encrypted with a new customer-managed KMS key with rotation, kept
//     when the stack is deleted;
//   - the master user "clusteradmin" (not the engine's well-known postgres or
//     admin), its password managed by RDS in Secrets Manager
//     (ManageMasterUserPassword), so the credentials consumers read stay valid
//     after every restore;
//   - IAM database authentication and deletion protection on;
//   - removal policy Snapshot (DeletionPolicy and UpdateReplacePolicy);
//   - backup retention 7 days, automated backups kept when the cluster is
//     deleted, tags copied to snapshots;
//   - TLS required, and an audit log of who changed what and when, without
//     passwords or row data, through a cluster parameter group (PostgreSQL:
//     rds.force_ssl and pgAudit's ddl and write classes without bind
//     parameters; MySQL: require_secure_transport and Advanced Auditing of
//     connections, DDL and table access); see defaultParameters;
//   - the engine's logs exported to CloudWatch Logs, kept until you delete them
//     (set CloudwatchLogsRetention to expire them).
//
// Misuse (a malformed source, a fixed ClusterIdentifier, RemovalPolicy DESTROY,
// credentials that a restore would break) panics with an *InputError that names
// the setting, the value and the fix; restorable.Run prints it alone.
func NewAuroraCluster(scope constructs.Construct, id *string, props *AuroraClusterProps) *AuroraCluster {
	c := &AuroraCluster{}
	constructs.NewConstruct_Override(c, scope, id)
	// Without this flag, DatabaseClusterFromSnapshot renders a deprecated,
	// generated secret next to the real credentials: a second secret that no
	// restore applies. The flag is set for this construct's subtree only, so the
	// cluster looks the same whatever the app's feature flags.
	c.Node().SetContext(jsii.String(preventDeprecatedCredentialsFlag), true)
	path := *c.Node().Path()
	refuseNestedStack(c, awscdk.Stack_Of(c))
	if props == nil {
		panic(&InputError{Construct: path, Setting: "props", Problem: "are nil",
			Fix: "pass &restorable.AuroraClusterProps{DatabaseClusterProps: awsrds.DatabaseClusterProps{Engine: ..., Vpc: ..., Writer: ...}}"})
	}
	src, err := props.validate(stackRegion(c), clock())
	if err != nil {
		panic(atConstruct(path, err))
	}
	c.source, c.adopt = src, props.Adopt
	if props.Global != nil {
		if err := props.Global.validate(stackRegion(c), props, src); err != nil {
			panic(atConstruct(path, err))
		}
		c.global = &globalMember{GlobalDatabase: *props.Global}
	}
	if mode := readGlobalSwitch(c, path, stackRegion(c), props.Global); mode != "" {
		c.global.switchMode = mode
	}
	p, creds := c.clusterProps(path, props.DatabaseClusterProps, props.Protection)
	c.parameterGroup = p.ParameterGroup
	if src.kind == KindNew {
		c.cluster = awsrds.NewDatabaseCluster(c, jsii.String("Default"), &p)
	} else {
		c.cluster = c.newRestoredCluster(path, p, creds)
	}
	c.cfn = c.cluster.Node().DefaultChild().(awsrds.CfnDBCluster)
	keepInstancesPrivate(c.cluster)
	c.connections = c.newConnections(p)
	c.applySource()
	c.secret = c.masterSecret(creds)
	if c.global != nil {
		c.attachGlobal(path)
	}
	c.guard = guardOf(c).protect(c, c.cfn, props.AllowReplace, props.Adopt, c.guardSource, c.guardCreateOnly)
	c.snapshotBeforeChange(props.SnapshotBeforeChange)
	drillNow := readDrillNow(c, path)
	c.targets = resolveTargets(path, testedAurora, props.Targets, props.Protection != nil && props.Protection.continuous > 0)
	if c.protection = props.Protection; c.protection != nil {
		var spec *drillSpec
		if c.targets.drilled = c.protection.testing != nil; c.targets.drilled {
			spec = c.auroraDrillSpec(path, p, props.DrillCheck, c.targets.rto)
		} else {
			refuseDrillSettings(path, props.DrillCheck != nil, drillNow)
		}
		c.protection.join(c, awsbackup.BackupResource_FromRdsDatabaseCluster(c.cluster), testedAurora, c.cluster.ClusterArn(), spec, drillNow)
		if p.StorageEncryptionKey != nil {
			c.protection.shareKey(p.StorageEncryptionKey)
		}
	}
	if c.protection == nil {
		refuseDrillSettings(path, props.DrillCheck != nil, drillNow)
	} else {
		addRecoveryAlarms(c, c.protection, &c.targets, c.cluster.ClusterArn())
	}
	if props.StableEndpoint != nil {
		c.addStableEndpoint(path, *props.StableEndpoint)
	}
	c.addOutputs(path)
	c.annotate(path, p)
	registryOf(c).add(path, kindAuroraCluster, c.reportLines)
	return c
}

const (
	preventDeprecatedCredentialsFlag = "@aws-cdk/aws-rds:preventRenderingDeprecatedCredentials"
	crossStackReferencesFlag         = "@aws-cdk/core:defaultCrossStackReferences"
)

// newConnections is the cluster's security groups with the cluster's port.
// Rules made through it have the logical IDs that rules made through a plain
// awsrds.DatabaseCluster's Connections() have (the port renders as
// "{IndirectPort}" in the rule's construct ID, as aws-cdk-lib's Port.tcp of a
// token does), so switching to restorable creates no rule. A new cluster's
// rules carry the port as a number, so a restore, which replaces the cluster,
// changes no rule; an adopted cluster's keep the endpoint's port attribute, as
// the plain construct made them, since a changed FromPort would replace the
// rule, and CloudFormation creates the same rule before deleting the old one,
// which revokes it.
func (c *AuroraCluster) newConnections(p awsrds.DatabaseClusterProps) awsec2.Connections {
	if c.adopt || p.Port == nil || unresolvedNumber(*p.Port) {
		return c.cluster.Connections()
	}
	return awsec2.NewConnections(&awsec2.ConnectionsProps{
		SecurityGroups: c.cluster.Connections().SecurityGroups(),
		DefaultPort: awsec2.NewPort(&awsec2.PortProps{Protocol: awsec2.Protocol_TCP, FromPort: p.Port, ToPort: p.Port,
			StringRepresentation: jsii.String("{IndirectPort}")}),
	})
}

// keepInstancesPrivate sets PubliclyAccessible to false on the cluster's
// instances that leave it unset (aws-cdk-lib sets it only for explicit subnet
// selections). Unset, RDS makes an instance in a VPC with an internet gateway
// publicly accessible
// (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBInstance.html,
// PubliclyAccessible). PubliclyAccessible is not a create-only property of
// AWS::RDS::DBInstance, so this is an update in place.
func keepInstancesPrivate(cluster constructs.IConstruct) {
	for _, child := range *cluster.Node().FindAll(constructs.ConstructOrder_PREORDER) {
		if instance, ok := child.(awsrds.CfnDBInstance); ok && instance.PubliclyAccessible() == nil {
			instance.SetPubliclyAccessible(false)
		}
	}
}

// Cluster returns the underlying awsrds.DatabaseCluster (or
// DatabaseClusterFromSnapshot) as the interface every CDK API accepts.
func (c *AuroraCluster) Cluster() awsrds.IDatabaseCluster { return c.cluster }

// CfnCluster returns the AWS::RDS::DBCluster, the escape hatch to the L1.
func (c *AuroraCluster) CfnCluster() awsrds.CfnDBCluster { return c.cfn }

// Connections manages the cluster's security group; it makes AuroraCluster an
// awsec2.IConnectable. Rules made through it have the logical IDs of rules made
// through a plain awsrds.DatabaseCluster, and are not recreated when a restore
// replaces the cluster.
func (c *AuroraCluster) Connections() awsec2.Connections { return c.connections }

// ClusterEndpoint is the writer endpoint. Its host name changes when a restore
// replaces the cluster; references to it follow on the same deploy.
func (c *AuroraCluster) ClusterEndpoint() awsrds.Endpoint { return c.cluster.ClusterEndpoint() }

// ClusterReadEndpoint is the reader endpoint.
func (c *AuroraCluster) ClusterReadEndpoint() awsrds.Endpoint { return c.cluster.ClusterReadEndpoint() }

// ClusterIdentifier is the current cluster identifier (a Ref to the DBCluster).
func (c *AuroraCluster) ClusterIdentifier() *string { return c.cluster.ClusterIdentifier() }

// ClusterResourceIdentifier is the current cluster's resource ID (cluster-...).
func (c *AuroraCluster) ClusterResourceIdentifier() *string {
	return c.cluster.ClusterResourceIdentifier()
}

// Secret is the master user secret: with the default RDS-managed password, the
// secret of the current cluster (its ARN is a GetAtt of the DBCluster, so
// consumers follow it after a restore); otherwise the secret passed in
// Credentials, or the adopted cluster's generated secret, whose password every
// restore applies again.
func (c *AuroraCluster) Secret() awssecretsmanager.ISecret { return c.secret }

// EncryptionKey is the KMS key that encrypts the cluster's storage, or nil when
// the caller supplied StorageEncryptionKey, turned encryption off, or adopted
// the cluster.
func (c *AuroraCluster) EncryptionKey() awskms.IKey { return c.key }

// Kind reports where the cluster's data comes from in this synth.
func (c *AuroraCluster) Kind() SourceKind { return c.source.kind }

// GrantConnect grants an IAM principal access to the cluster with IAM database
// authentication as dbUser.
func (c *AuroraCluster) GrantConnect(grantee awsiam.IGrantable, dbUser *string) awsiam.Grant {
	return c.cluster.GrantConnect(grantee, dbUser)
}
