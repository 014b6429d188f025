package restorable

import (
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsbackup"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
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
	// time, a clone, or nothing. Use AuroraSourceFromContext to take it from
	// `cdk deploy -c ...`.
	// Default: a new, empty cluster.
	Source AuroraSource
	// AllowReplace consents, for one deploy, to a change that would replace the
	// cluster with an empty one (a removed restore source, a changed create-only
	// property such as the KMS key): it must be the identifier of the current
	// cluster, so a consent left in cdk.json never applies to a later cluster.
	// Use AllowReplaceFromContext to take it from -c '<path>.allowReplace=<id>'.
	// Default: no consent; the replacement guard refuses such a deploy.
	AllowReplace string
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
	guard   *replacementGuard
	// protection is the AWS Backup protection the cluster joined, if any.
	protection *Protection
	// backtrackHours is the backtrack window in hours, 0 when none is set.
	backtrackHours float64
	// connections is the cluster's security groups with the cluster's port as a
	// number, not the endpoint's port attribute.
	connections awsec2.Connections
	// writerRecord and readerRecord are the stable endpoint's records.
	writerRecord, readerRecord awsroute53.CnameRecord
}

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
// DatabaseClusterProps):
//   - storage encrypted with a new customer-managed KMS key with rotation, kept
//     when the stack is deleted;
//   - the master password managed by RDS in Secrets Manager
//     (ManageMasterUserPassword), so the credentials consumers read stay valid
//     after every restore;
//   - IAM database authentication and deletion protection on;
//   - removal policy Snapshot (DeletionPolicy and UpdateReplacePolicy);
//   - backup retention 7 days, automated backups kept when the cluster is
//     deleted, tags copied to snapshots;
//   - TLS required and data-changing statements logged, through a cluster
//     parameter group (rds.force_ssl and log_statement=mod for PostgreSQL;
//     require_secure_transport and Advanced Auditing for MySQL);
//   - the engine's logs exported to CloudWatch Logs, kept for one year.
//
// Misuse (a malformed source, a fixed ClusterIdentifier, RemovalPolicy DESTROY,
// credentials that a restore would break) panics with an *InputError that names
// the setting, the value and the fix.
func NewAuroraCluster(scope constructs.Construct, id *string, props *AuroraClusterProps) *AuroraCluster {
	c := &AuroraCluster{}
	constructs.NewConstruct_Override(c, scope, id)
	// Without this flag, DatabaseClusterFromSnapshot renders a deprecated,
	// generated secret next to the real credentials: a second secret that no
	// restore applies. The flag is set for this construct's subtree only, so the
	// cluster looks the same whatever the app's feature flags.
	c.Node().SetContext(jsii.String(preventDeprecatedCredentialsFlag), true)
	path := *c.Node().Path()
	if props == nil {
		panic(&InputError{Construct: path, Setting: "props", Problem: "are nil",
			Fix: "pass &restorable.AuroraClusterProps{DatabaseClusterProps: awsrds.DatabaseClusterProps{Engine: ..., Vpc: ..., Writer: ...}}"})
	}
	src, err := props.Source.resolve(propSettings, stackRegion(c))
	if err != nil {
		panic(atConstruct(path, err))
	}
	c.source = src
	p, creds := c.clusterProps(path, props.DatabaseClusterProps, props.Protection)

	if src.kind == KindNew {
		c.cluster = awsrds.NewDatabaseCluster(c, jsii.String("Default"), &p)
	} else {
		c.cluster = c.newRestoredCluster(path, p, creds)
	}
	c.cfn = c.cluster.Node().DefaultChild().(awsrds.CfnDBCluster)
	keepInstancesPrivate(c.cluster)
	c.connections = c.cluster.Connections()
	if p.Port != nil && !unresolvedNumber(*p.Port) {
		// Rules on this port stay the same when a restore replaces the cluster;
		// rules on the endpoint's port attribute would be recreated.
		c.connections = awsec2.NewConnections(&awsec2.ConnectionsProps{
			SecurityGroups: c.cluster.Connections().SecurityGroups(),
			DefaultPort:    awsec2.Port_Tcp(p.Port),
		})
	}
	c.applySource()
	c.secret = c.masterSecret(creds)
	c.guard = newReplacementGuard(c, c.cfn, props.AllowReplace, c.guardSource, c.guardCreateOnly)
	if c.protection = props.Protection; c.protection != nil {
		c.protection.join(c, awsbackup.BackupResource_FromRdsDatabaseCluster(c.cluster), testedAurora, c.cluster.ClusterArn())
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

// credentialsMode is how the master password is kept valid across restores.
type credentialsMode struct {
	// managed: RDS manages the password in Secrets Manager. CloudFormation turns
	// it on again after a restore, which gives the restored cluster a new secret.
	managed bool
	// secretKey encrypts the RDS-managed secret, if the caller chose a key.
	secretKey awskms.IKey
	// secret and password are the caller's own credentials, applied again to the
	// restored cluster as its master password; given is the Credentials they came in.
	secret   awssecretsmanager.ISecret
	password awscdk.SecretValue
}

// clusterProps copies the caller's props, rejects what a restorable cluster cannot
// support, and fills in the secure defaults. It never writes to the caller's props.
func (c *AuroraCluster) clusterProps(path string, p awsrds.DatabaseClusterProps, protection *Protection) (awsrds.DatabaseClusterProps, credentialsMode) {
	if p.Engine == nil {
		panic(&InputError{Construct: path, Setting: "Engine", Problem: "is not set",
			Fix: "set Engine, for example awsrds.DatabaseClusterEngine_AuroraPostgres(...)"})
	}
	if p.ClusterIdentifier != nil {
		panic(&InputError{Construct: path, Setting: "ClusterIdentifier", Value: *p.ClusterIdentifier,
			Problem: "fixes the cluster's name, but a restore replaces the cluster, and CloudFormation creates the replacement before it deletes the old one, so the two names would collide",
			Fix:     "remove ClusterIdentifier and let CloudFormation name the cluster; use the ClusterIdentifier stack output, or a stable DNS name, where a fixed name is needed"})
	}
	if p.ReplicationSourceIdentifier != nil {
		panic(&InputError{Construct: path, Setting: "ReplicationSourceIdentifier", Value: *p.ReplicationSourceIdentifier,
			Problem: "makes the cluster a read replica, whose data comes from its source, not from a restore",
			Fix:     "use awsrds.NewDatabaseCluster for a read replica, and a restorable cluster for its source"})
	}
	if p.RemovalPolicy == awscdk.RemovalPolicy_DESTROY {
		panic(&InputError{Construct: path, Setting: "RemovalPolicy", Value: "DESTROY",
			Problem: "would delete the cluster's data, without a snapshot, when the cluster is replaced or removed",
			Fix:     "leave RemovalPolicy unset (Snapshot) or use RemovalPolicy_RETAIN"})
	}
	engine := *p.Engine.EngineType()
	if engine == "aurora-mysql" {
		// cdk-nag AwsSolutions-RDS11 and RDS14 ask Aurora MySQL for a port other
		// than 3306 and for backtracking; backtracking rewinds the cluster in
		// place, in minutes, and can only be turned on when the cluster is created.
		if p.Port == nil {
			p.Port = jsii.Number(defaultMySQLPort)
		}
		if p.BacktrackWindow == nil {
			p.BacktrackWindow = awscdk.Duration_Hours(jsii.Number(defaultBacktrackHours))
		}
	}
	if engine == "aurora-postgresql" && p.Port == nil {
		p.Port = jsii.Number(5432)
	}
	if p.BacktrackWindow != nil {
		c.backtrackHours = checkBacktrack(path, engine, p.BacktrackWindow)
	}
	creds := credentialsFor(path, p.Credentials, p.ManageMasterUserPassword)
	p.ManageMasterUserPassword = jsii.Bool(creds.managed)

	if p.StorageEncryptionKey == nil && (p.StorageEncrypted == nil || *p.StorageEncrypted) {
		c.key = awskms.NewKey(c, jsii.String("Key"), &awskms.KeyProps{
			Description:       jsii.String("restorable: storage encryption of " + path),
			EnableKeyRotation: jsii.Bool(true),
			RemovalPolicy:     awscdk.RemovalPolicy_RETAIN,
		})
		p.StorageEncryptionKey = c.key
	}
	if p.RemovalPolicy == "" {
		p.RemovalPolicy = awscdk.RemovalPolicy_SNAPSHOT
	}
	if p.DeletionProtection == nil {
		p.DeletionProtection = jsii.Bool(true)
	}
	if p.IamAuthentication == nil {
		p.IamAuthentication = jsii.Bool(true)
	}
	if p.DeleteAutomatedBackups == nil {
		p.DeleteAutomatedBackups = jsii.Bool(false)
	}
	if p.CopyTagsToSnapshot == nil {
		p.CopyTagsToSnapshot = jsii.Bool(true)
	}
	backup := awsrds.BackupProps{}
	if p.Backup != nil {
		backup = *p.Backup
	}
	if continuous := protectionContinuousDays(protection); continuous > 0 {
		if backup.Retention != nil && !unresolved(backup.Retention) && *backup.Retention.ToDays(nil) != continuous {
			awscdk.Annotations_Of(c).AddWarningV2(jsii.String("restorable:retentionManagedByBackup"), jsii.String(fmt.Sprintf(
				"%s: Backup.Retention is %g days, but the AWS Backup plan's continuous rule keeps %g days and manages the cluster's retention; restorable uses %g so that CloudFormation and AWS Backup agree.",
				path, *backup.Retention.ToDays(nil), continuous, continuous)))
		}
		backup.Retention = awscdk.Duration_Days(jsii.Number(continuous))
	}
	if backup.Retention == nil {
		backup.Retention = awscdk.Duration_Days(jsii.Number(defaultBackupRetentionDays))
	}
	p.Backup = &backup
	if p.CloudwatchLogsExports == nil {
		p.CloudwatchLogsExports = jsii.Strings(defaultLogExports(engine)...)
	}
	if p.CloudwatchLogsRetention == "" {
		p.CloudwatchLogsRetention = awslogs.RetentionDays_ONE_YEAR
	}
	if p.CloudwatchLogsRetentionRole == nil && len(*p.CloudwatchLogsExports) > 0 {
		p.CloudwatchLogsRetentionRole = logRetentionRole(c)
	}
	if p.ParameterGroup == nil {
		merged := map[string]*string{}
		for k, v := range defaultParameters(engine) {
			merged[k] = jsii.String(v)
		}
		if p.Parameters != nil {
			for k, v := range *p.Parameters {
				merged[k] = v
			}
		}
		if len(merged) > 0 {
			p.Parameters = &merged
		}
	}
	return p, creds
}

func protectionContinuousDays(p *Protection) float64 {
	if p == nil {
		return 0
	}
	return p.continuous
}

// defaultMySQLPort is the port of an Aurora MySQL cluster unless told
// otherwise: not MySQL's well-known 3306.
const defaultMySQLPort = 3307

// defaultBacktrackHours is the backtrack window of an Aurora MySQL cluster
// unless told otherwise.
const defaultBacktrackHours = 24

// defaultBackupRetentionDays is the automated backup retention restorable uses
// unless told otherwise: a week of point-in-time restore.
const defaultBackupRetentionDays = 7

// defaultLogExports are the log types exported to CloudWatch Logs by engine.
func defaultLogExports(engine string) []string {
	switch engine {
	case "aurora-postgresql":
		return []string{"postgresql"}
	case "aurora-mysql", "aurora":
		return []string{"audit", "error", "slowquery"}
	}
	return nil
}

// defaultParameters are the cluster parameters restorable sets by engine: TLS is
// required, and data-changing statements are logged, so the time of a bad
// statement can be read from the logs before a point-in-time restore.
// PostgreSQL: https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/AuroraPostgreSQL.Security.html#AuroraPostgreSQL.Security.SSL.Requiring
// MySQL: https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/AuroraMySQL.Security.html#AuroraMySQL.Security.SSL.RequireSSL
// and https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/AuroraMySQL.Auditing.html
func defaultParameters(engine string) map[string]string {
	switch engine {
	case "aurora-postgresql":
		return map[string]string{"rds.force_ssl": "1", "log_statement": "mod"}
	case "aurora-mysql":
		return map[string]string{
			"require_secure_transport": "ON",
			"server_audit_logging":     "1",
			"server_audit_events":      "QUERY_DCL,QUERY_DDL,QUERY_DML",
		}
	}
	return nil
}

// maxBacktrack is the longest backtrack window Aurora MySQL supports, 72 hours:
// https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-rds-dbcluster.html#cfn-rds-dbcluster-backtrackwindow
const maxBacktrack = 72 * time.Hour

// checkBacktrack validates a backtrack window and returns it in hours.
func checkBacktrack(path, engine string, window awscdk.Duration) float64 {
	if window.IsUnresolved() != nil && *window.IsUnresolved() {
		return 0
	}
	seconds := *window.ToSeconds(nil)
	value := fmt.Sprintf("%g hours", seconds/3600)
	if engine != "aurora-mysql" {
		panic(&InputError{Construct: path, Setting: "BacktrackWindow", Value: value,
			Problem: "is only supported by Aurora MySQL, and this cluster's engine is " + engine,
			Fix:     "remove BacktrackWindow, and use a point-in-time restore (restoreToTime) to go back in time"})
	}
	if seconds < 0 || seconds > maxBacktrack.Seconds() {
		panic(&InputError{Construct: path, Setting: "BacktrackWindow", Value: value,
			Problem: "is outside 0 to 72 hours",
			Fix:     "use a window of at most 72 hours, for example awscdk.Duration_Hours(jsii.Number(24))"})
	}
	return seconds / 3600
}

// credentialsFor decides how the master password survives a restore.
// CloudFormation ignores MasterUsername and MasterUserPassword when it restores a
// snapshot, so a generated secret would describe a password the restored cluster
// does not have (aws-cdk#28761, aws-cdk#22199). Two mechanisms keep consumers
// working, and restorable accepts only those:
//   - an RDS-managed secret (the default): after a snapshot or point-in-time
//     restore, CloudFormation calls ModifyDBCluster with ManageMasterUserPassword,
//     so RDS creates a new secret for the restored cluster, and consumers that
//     reference the secret's ARN follow it on the same deploy;
//   - the caller's own secret or password: applied again as the master password
//     of the restored cluster (MasterUserPassword is applied by the same
//     ModifyDBCluster after the restore), so the secret stays valid and its ARN
//     never changes.
//
// The ModifyDBCluster after a restore is in the AWS::RDS::DBCluster resource
// handler (CreateHandler, Translator.modifyDbClusterAfterCreateRequest):
// https://github.com/aws-cloudformation/aws-cloudformation-resource-providers-rds/blob/master/aws-rds-dbcluster/src/main/java/software/amazon/rds/dbcluster/Translator.java
func credentialsFor(path string, creds awsrds.Credentials, manage *bool) credentialsMode {
	if creds == nil {
		if manage != nil && !*manage {
			panic(&InputError{Construct: path, Setting: "ManageMasterUserPassword", Value: "false",
				Problem: "without Credentials makes CDK generate a secret, which a restore does not apply, so after a restore the secret would not match the cluster's password",
				Fix:     "leave ManageMasterUserPassword unset (an RDS-managed secret), or pass Credentials: awsrds.Credentials_FromSecret(yourSecret, nil)"})
		}
		return credentialsMode{managed: true}
	}
	if creds.Secret() != nil || creds.Password() != nil {
		if manage != nil && *manage {
			panic(&InputError{Construct: path, Setting: "ManageMasterUserPassword", Value: "true",
				Problem: "is set together with Credentials that carry a secret or password",
				Fix:     "choose one: unset Credentials for an RDS-managed secret, or unset ManageMasterUserPassword to use your secret"})
		}
		return credentialsMode{secret: creds.Secret(), password: creds.Password()}
	}
	generated := creds.ExcludeCharacters() != nil || creds.SecretName() != nil || creds.ReplicaRegions() != nil ||
		(creds.UsernameAsString() != nil && *creds.UsernameAsString())
	if generated || (manage != nil && !*manage) {
		panic(&InputError{Construct: path, Setting: "Credentials",
			Problem: "ask CDK to generate a secret, which a restore does not apply (CloudFormation ignores MasterUserPassword when it restores a snapshot), so after a restore the secret would not match the cluster's password",
			Fix:     "use awsrds.Credentials_FromUsername(name, &awsrds.CredentialsFromUsernameOptions{EncryptionKey: key}) for an RDS-managed secret (the default), or awsrds.Credentials_FromSecret(yourSecret, nil) for a secret you own"})
	}
	return credentialsMode{managed: true, secretKey: creds.EncryptionKey()}
}

// newRestoredCluster creates the awsrds.DatabaseClusterFromSnapshot that carries
// every restore kind: its props are the caller's cluster props, field by field.
func (c *AuroraCluster) newRestoredCluster(path string, p awsrds.DatabaseClusterProps, creds credentialsMode) awsrds.IDatabaseCluster {
	sp, err := snapshotProps(p)
	if err != nil {
		panic(atConstruct(path, err))
	}
	// A snapshot restore names the snapshot; the other kinds replace it with their
	// restore properties in applySource.
	sp.SnapshotIdentifier = jsii.String(c.source.snapshot)
	if c.source.kind != KindSnapshot {
		sp.SnapshotIdentifier = jsii.String("replaced-by-restore-properties")
	}
	sp.Credentials = nil
	switch {
	case creds.managed:
		sp.ManageMasterUserPassword = jsii.Bool(true)
	case creds.secret != nil:
		sp.ManageMasterUserPassword = nil
		sp.SnapshotCredentials = awsrds.SnapshotCredentials_FromSecret(creds.secret)
	default:
		sp.ManageMasterUserPassword = nil
		sp.SnapshotCredentials = awsrds.SnapshotCredentials_FromPassword(creds.password)
	}
	cluster := awsrds.NewDatabaseClusterFromSnapshot(c, jsii.String("Default"), &sp)
	if !creds.managed {
		// CloudFormation Validate (like cfn-lint) expects MasterUsername next to
		// MasterUserPassword, but a restore must not set MasterUsername (it is
		// the snapshot's), and the password is what keeps the caller's secret
		// valid: CloudFormation applies it with ModifyDBCluster right after the
		// restore (Translator.modifyDbClusterAfterCreateRequest).
		awscdk.Validations_Of(cluster.Node().DefaultChild()).Acknowledge(&awscdk.Acknowledgment{
			Id:     jsii.String("CloudFormation-Validate::F3021"),
			Reason: jsii.String("a restored cluster inherits MasterUsername from its source; MasterUserPassword re-applies the caller's password after the restore"),
		})
	}
	if creds.managed {
		awscdk.Annotations_Of(cluster).AcknowledgeWarning(jsii.String("@aws-cdk/aws-rds:generatedCredsNotApplied"),
			jsii.String("restorable uses an RDS-managed master secret, which CloudFormation turns on for the restored cluster"))
		if creds.secretKey != nil {
			cfn := cluster.Node().DefaultChild().(awsrds.CfnDBCluster)
			cfn.SetMasterUserSecret(&awsrds.CfnDBCluster_MasterUserSecretProperty{KmsKeyId: creds.secretKey.KeyArn()})
		}
	}
	return cluster
}

// snapshotProps copies every field of the cluster props onto the props of a
// cluster restored from a snapshot. Both structs share their fields; a set field
// that a restored cluster lacks is an error rather than silently dropped.
func snapshotProps(p awsrds.DatabaseClusterProps) (awsrds.DatabaseClusterFromSnapshotProps, error) {
	var out awsrds.DatabaseClusterFromSnapshotProps
	src := reflect.ValueOf(p)
	dst := reflect.ValueOf(&out).Elem()
	for i := 0; i < src.NumField(); i++ {
		field, value := src.Type().Field(i), src.Field(i)
		if value.IsZero() {
			continue
		}
		target := dst.FieldByName(field.Name)
		if !target.IsValid() || target.Type() != field.Type {
			return out, inputErr(field.Name, "", "has no equivalent on a cluster restored from a backup",
				"remove "+field.Name+" from the props of a restorable cluster")
		}
		target.Set(value)
	}
	return out, nil
}

// applySource writes the point-in-time and clone restore properties on the
// AWS::RDS::DBCluster, which no L2 exposes. Encryption is inherited from the
// source on every restore, so StorageEncrypted is removed, as the
// AWS::RDS::DBCluster docs ask ("If you specify the SnapshotIdentifier or
// SourceDBClusterIdentifier property, don't specify this property"); KmsKeyId
// still re-encrypts the restored cluster with the cluster's key.
func (c *AuroraCluster) applySource() {
	s := c.source
	if s.kind == KindNew {
		return
	}
	c.cfn.SetStorageEncrypted((*bool)(nil))
	if c.cfn.KmsKeyId() != nil {
		reason := "A restored cluster must not set StorageEncrypted: it is inherited from the snapshot or source cluster (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-rds-dbcluster.html#cfn-rds-dbcluster-storageencrypted). KmsKeyId is set, so the restored cluster is encrypted with the cluster's customer-managed key whatever the source."
		suppressNag(c.cfn, false, nagException{rule: nagStorageEncryption, reason: reason}, nagException{rule: nagNISTStorageEncryption, reason: reason})
	}
	if s.kind == KindSnapshot {
		return
	}
	c.cfn.SetSnapshotIdentifier(nil)
	switch {
	case s.sourceIdentifier != "":
		c.cfn.SetSourceDbClusterIdentifier(jsii.String(s.sourceIdentifier))
	case s.sourceResourceID != "":
		c.cfn.SetSourceDbClusterResourceId(jsii.String(s.sourceResourceID))
	case s.sourceCluster != nil:
		c.cfn.SetSourceDbClusterIdentifier(s.sourceCluster.ClusterIdentifier())
	}
	if s.kind == KindClone {
		c.cfn.SetRestoreType(jsii.String("copy-on-write"))
		c.cfn.SetUseLatestRestorableTime(true)
		return
	}
	c.cfn.SetRestoreType(jsii.String("full-copy"))
	if s.latest {
		c.cfn.SetUseLatestRestorableTime(true)
	} else {
		c.cfn.SetRestoreToTime(jsii.String(s.restoreTime))
	}
}

// masterSecret is the secret consumers read: the RDS-managed secret of whichever
// cluster is current, or the caller's own secret.
func (c *AuroraCluster) masterSecret(creds credentialsMode) awssecretsmanager.ISecret {
	if creds.secret != nil {
		return creds.secret
	}
	if !creds.managed {
		return nil
	}
	return awssecretsmanager.Secret_FromSecretAttributes(c, jsii.String("MasterSecret"), &awssecretsmanager.SecretAttributes{
		SecretCompleteArn: c.cfn.AttrMasterUserSecretSecretArn(),
		EncryptionKey:     creds.secretKey,
	})
}

// guardSource reads the cluster's restore properties for the replacement guard.
func (c *AuroraCluster) guardSource() map[string]interface{} {
	m := map[string]interface{}{}
	put(m, "SnapshotIdentifier", c.cfn.SnapshotIdentifier())
	put(m, "RestoreType", c.cfn.RestoreType())
	put(m, "SourceDBClusterIdentifier", c.cfn.SourceDbClusterIdentifier())
	put(m, "SourceDbClusterResourceId", c.cfn.SourceDbClusterResourceId())
	put(m, "RestoreToTime", c.cfn.RestoreToTime())
	put(m, "UseLatestRestorableTime", c.cfn.UseLatestRestorableTime())
	return m
}

// guardCreateOnly reads the cluster's other create-only properties, a change to
// any of which makes CloudFormation replace the cluster: createOnlyProperties
// and conditionalCreateOnlyProperties of the AWS::RDS::DBCluster schema
// (https://github.com/aws-cloudformation/aws-cloudformation-resource-providers-rds/blob/master/aws-rds-dbcluster/aws-rds-dbcluster.json).
func (c *AuroraCluster) guardCreateOnly() map[string]interface{} {
	m := map[string]interface{}{}
	put(m, "AvailabilityZones", c.cfn.AvailabilityZones())
	put(m, "ClusterScalabilityType", c.cfn.ClusterScalabilityType())
	put(m, "DBClusterIdentifier", c.cfn.DbClusterIdentifier())
	put(m, "DBSubnetGroupName", c.cfn.DbSubnetGroupName())
	put(m, "DBSystemId", c.cfn.DbSystemId())
	put(m, "DatabaseName", c.cfn.DatabaseName())
	put(m, "Engine", c.cfn.Engine())
	put(m, "EngineMode", c.cfn.EngineMode())
	put(m, "GlobalClusterIdentifier", c.cfn.GlobalClusterIdentifier())
	put(m, "KmsKeyId", c.cfn.KmsKeyId())
	put(m, "MasterUsername", c.cfn.MasterUsername())
	put(m, "PubliclyAccessible", c.cfn.PubliclyAccessible())
	put(m, "SourceRegion", c.cfn.SourceRegion())
	put(m, "StorageEncrypted", c.cfn.StorageEncrypted())
	return m
}

// addOutputs publishes the current cluster's identifiers and the commands that
// restore it, resolved by CloudFormation, so an operator can copy them from the
// stack outputs. Their logical IDs come from the construct path within the stack
// (for RedmineStack/Database: DatabaseClusterIdentifier, ...), so they are easy
// to query and stable across restores.
func (c *AuroraCluster) addOutputs(path string) {
	prefix := outputPrefix(c)
	id := c.ClusterIdentifier()
	output := func(name, description string, value *string) {
		o := awscdk.NewCfnOutput(c, jsii.String(name), &awscdk.CfnOutputProps{Value: value, Description: jsii.String(description)})
		o.OverrideLogicalId(jsii.String(prefix + name))
	}
	output("ClusterIdentifier", "Current identifier of "+path+" (it changes with every restore)", id)
	output("ClusterResourceId", "Resource ID of the current cluster of "+path+", for restoring it after it is deleted", c.ClusterResourceIdentifier())
	output("PointInTimeRestoreCommand", "Restores "+path+" to a point in time: replace <time> with an RFC 3339 time or latest",
		awscdk.Fn_Join(jsii.String(""), &[]*string{
			jsii.String("cdk deploy -c " + ContextKey(path, ContextRestoreToTime) + "=<time> -c " + ContextKey(path, ContextRestoreSourceCluster) + "="), id,
		}))
	output("ListSnapshotsCommand", "Lists the snapshots of the current cluster of "+path+"; restore one with cdk deploy -c "+ContextKey(path, ContextSnapshotArn)+"=<ARN>",
		awscdk.Fn_Join(jsii.String(""), &[]*string{
			jsii.String("aws rds describe-db-cluster-snapshots --db-cluster-identifier "), id,
			jsii.String(" --query 'DBClusterSnapshots[].[SnapshotCreateTime,DBClusterSnapshotArn]' --output text"),
		}))
	if c.writerRecord != nil {
		output("StableHostname", "Host name of the writer of "+path+" that no restore changes", c.StableHostname())
	}
}

// outputPrefix is the construct's path inside its stack with everything but
// letters and digits removed: "RedmineStack/Database" gives "Database".
func outputPrefix(c constructs.Construct) string {
	stackPath := *awscdk.Stack_Of(c).Node().Path()
	rel := strings.TrimPrefix(strings.TrimPrefix(*c.Node().Path(), stackPath), "/")
	var b strings.Builder
	for _, r := range rel {
		if r < 128 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// keepInstancesPrivate sets PubliclyAccessible to false on the cluster's
// instances that leave it unset (aws-cdk-lib sets it only for explicit subnet
// selections). Unset, RDS makes an instance in a VPC with an internet gateway
// publicly accessible
// (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBInstance.html,
// PubliclyAccessible).
func keepInstancesPrivate(cluster constructs.IConstruct) {
	for _, child := range *cluster.Node().FindAll(constructs.ConstructOrder_PREORDER) {
		if instance, ok := child.(awsrds.CfnDBInstance); ok && instance.PubliclyAccessible() == nil {
			instance.SetPubliclyAccessible(false)
		}
	}
}

// addStableEndpoint creates CNAME records for the writer and reader endpoints.
// A restore changes only the records' values, which CloudFormation updates in
// place; their names never change.
func (c *AuroraCluster) addStableEndpoint(path string, se StableEndpointProps) {
	if se.Zone == nil {
		panic(&InputError{Construct: path, Setting: "StableEndpoint.Zone", Problem: "is not set",
			Fix: "give a hosted zone, for example awsroute53.NewPrivateHostedZone(stack, jsii.String(\"Zone\"), &awsroute53.PrivateHostedZoneProps{ZoneName: jsii.String(\"app.internal\"), Vpc: vpc})"})
	}
	name := se.RecordName
	if name == "" {
		name = "database"
	}
	if !recordLabel.MatchString(name) {
		panic(&InputError{Construct: path, Setting: "StableEndpoint.RecordName", Value: name,
			Problem: "is not a DNS name inside the zone (letters, digits and hyphens, in dot-separated labels of 1 to 60 characters)",
			Fix:     "use a name such as database, or db.orders"})
	}
	ttl := se.Ttl
	if ttl == nil {
		ttl = awscdk.Duration_Seconds(jsii.Number(60))
	}
	c.writerRecord = awsroute53.NewCnameRecord(c, jsii.String("StableEndpoint"), &awsroute53.CnameRecordProps{
		Zone: se.Zone, RecordName: jsii.String(name), DomainName: c.cluster.ClusterEndpoint().Hostname(), Ttl: ttl,
		Comment: jsii.String("restorable: the writer of " + path + ", whichever cluster a restore created"),
	})
	c.readerRecord = awsroute53.NewCnameRecord(c, jsii.String("StableReaderEndpoint"), &awsroute53.CnameRecordProps{
		Zone: se.Zone, RecordName: jsii.String(name + "-ro"), DomainName: c.cluster.ClusterReadEndpoint().Hostname(), Ttl: ttl,
		Comment: jsii.String("restorable: the readers of " + path + ", whichever cluster a restore created"),
	})
}

// recordLabel matches a relative DNS name of letters, digits and hyphens.
var recordLabel = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,58}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,58}[A-Za-z0-9])?)*$`)

// StableHostname is the writer's host name in the stable endpoint's zone, which
// no restore changes; nil without StableEndpoint. Clients that verify the
// server certificate's host name (PostgreSQL sslmode=verify-full, MySQL
// VERIFY_IDENTITY) must connect to ClusterEndpoint() instead: the certificate
// names the cluster's own endpoints
// (https://www.postgresql.org/docs/current/libpq-ssl.html).
func (c *AuroraCluster) StableHostname() *string {
	if c.writerRecord == nil {
		return nil
	}
	return c.writerRecord.DomainName()
}

// StableReaderHostname is the readers' host name in the stable endpoint's
// zone; nil without StableEndpoint.
func (c *AuroraCluster) StableReaderHostname() *string {
	if c.readerRecord == nil {
		return nil
	}
	return c.readerRecord.DomainName()
}

// Cluster returns the underlying awsrds.DatabaseCluster (or
// DatabaseClusterFromSnapshot) as the interface every CDK API accepts.
func (c *AuroraCluster) Cluster() awsrds.IDatabaseCluster { return c.cluster }

// CfnCluster returns the AWS::RDS::DBCluster, the escape hatch to the L1.
func (c *AuroraCluster) CfnCluster() awsrds.CfnDBCluster { return c.cfn }

// Connections manages the cluster's security group; it makes AuroraCluster an
// awsec2.IConnectable.
//
// Its default port is the cluster's port as a number (5432 for PostgreSQL, 3307
// for MySQL, or Port), so the security group rules it adds are not recreated
// when a restore replaces the cluster.
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
// consumers follow it after a restore); otherwise the secret passed in Credentials.
func (c *AuroraCluster) Secret() awssecretsmanager.ISecret { return c.secret }

// EncryptionKey is the KMS key that encrypts the cluster's storage, or nil when
// the caller supplied StorageEncryptionKey or turned encryption off.
func (c *AuroraCluster) EncryptionKey() awskms.IKey { return c.key }

// Kind reports where the cluster's data comes from in this synth.
func (c *AuroraCluster) Kind() SourceKind { return c.source.kind }

// GrantConnect grants an IAM principal access to the cluster with IAM database
// authentication as dbUser.
func (c *AuroraCluster) GrantConnect(grantee awsiam.IGrantable, dbUser *string) awsiam.Grant {
	return c.cluster.GrantConnect(grantee, dbUser)
}

// describeSource is the one-line description used in annotations and reports.
func (c *AuroraCluster) describeSource() string { return c.source.String() }

// annotate records at synth what this configuration does, and warns about what is
// legal but dangerous.
func (c *AuroraCluster) annotate(path string, p awsrds.DatabaseClusterProps) {
	a := awscdk.Annotations_Of(c)
	if c.source.kind != KindNew {
		a.AddWarningV2(jsii.String("restorable:restore"), jsii.String(fmt.Sprintf(
			"%s: restoring from %s. On the deploy that sets or changes this source, CloudFormation creates a new cluster and instances from it, points every reference at them, then deletes the old instances and tries to delete the old cluster: deletion protection keeps it (CloudFormation skips it after three attempts and the update completes), otherwise its final snapshot is kept (UpdateReplacePolicy: Snapshot). Later deploys with the same source change nothing.",
			path, c.describeSource())))
		a.AddWarningV2(jsii.String("restorable:keepSource"), jsii.String(fmt.Sprintf(
			"%s: keep this restore source in cdk.json (commit it) for every later deploy, until the next restore. The AWS::RDS::DBCluster docs: if you don't specify it, \"an empty DB cluster is created, and the original DB cluster is deleted\" (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-rds-dbcluster.html#cfn-rds-dbcluster-snapshotidentifier).",
			path)))
	}
	if src := c.source.sourceCluster; src != nil && awscdk.Stack_Of(src) != awscdk.Stack_Of(c) {
		if mode, _ := c.Node().TryGetContext(jsii.String(crossStackReferencesFlag)).(string); mode != "weak" {
			a.AddWarningV2(jsii.String("restorable:strongReference"), jsii.String(fmt.Sprintf(
				"%s: the source cluster %s is in another stack, so its stack exports its cluster identifier, and CloudFormation refuses to change an export that another stack imports: a restore of %s would fail while this stack exists. Set the context flag %s to \"weak\", or pass SourceClusterIdentifier instead.",
				path, displayPath(src), displayPath(src), crossStackReferencesFlag)))
		}
	}
	for _, w := range c.source.warnings("restoreToTime", time.Now()) {
		a.AddWarningV2(jsii.String("restorable:restoreTime"), jsii.String(path+": "+w))
	}
	if p.StorageEncrypted != nil && !*p.StorageEncrypted && p.StorageEncryptionKey == nil {
		a.AddWarningV2(jsii.String("restorable:unencrypted"), jsii.String(path+": storage encryption is off (StorageEncrypted: false); turning it on later replaces the cluster."))
	}
	if !*p.DeletionProtection {
		a.AddWarningV2(jsii.String("restorable:deletionProtection"), jsii.String(path+": deletion protection is off, so a restore or removal deletes the old cluster (after its final snapshot) instead of leaving it for you to check."))
	}
	if *p.DeleteAutomatedBackups {
		a.AddWarningV2(jsii.String("restorable:deleteAutomatedBackups"), jsii.String(path+": DeleteAutomatedBackups is true, so once the cluster is deleted its point-in-time backups are gone too, and restoreSourceClusterResourceId cannot restore it."))
	}
	if days := p.Backup.Retention.ToDays(nil); days != nil && *days < defaultBackupRetentionDays {
		a.AddWarningV2(jsii.String("restorable:shortRetention"), jsii.String(fmt.Sprintf("%s: backup retention is %g days, so a point-in-time restore can reach back only that far (the default here is %d, Aurora allows 35).", path, *days, defaultBackupRetentionDays)))
	}
	if p.BacktrackWindow != nil && c.backtrackHours > 0 {
		a.AddInfo(jsii.String(fmt.Sprintf("%s: backtracking (%g hours) can only be turned on when a cluster is created or restored; RDS changes the window only of a cluster created with it (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/AuroraMySQL.Managing.Backtrack.Configuring.html). Rewinding is an RDS operation outside CloudFormation: aws rds backtrack-db-cluster --db-cluster-identifier <current identifier> --backtrack-to <time>.", path, c.backtrackHours)))
	}
	if p.BacktrackWindow != nil && c.backtrackHours == 0 && (p.BacktrackWindow.IsUnresolved() == nil || !*p.BacktrackWindow.IsUnresolved()) {
		a.AddWarningV2(jsii.String("restorable:backtrackOff"), jsii.String(path+": BacktrackWindow is 0, which turns backtracking off for good: RDS cannot turn it on again for this cluster."))
	}
	if p.ParameterGroup != nil {
		a.AddWarningV2(jsii.String("restorable:parameterGroup"), jsii.String(path+": a ParameterGroup was passed, so restorable does not set its TLS and statement-logging parameters; set "+parameterHint(*p.Engine.EngineType())+" in that group."))
	}
}

func parameterHint(engine string) string {
	params := defaultParameters(engine)
	if len(params) == 0 {
		return "TLS and audit logging"
	}
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + params[k]
	}
	return strings.Join(parts, ", ")
}

// atConstruct attaches the construct path to an *InputError.
func atConstruct(path string, err error) error {
	if ie, ok := err.(*InputError); ok {
		copy := *ie
		copy.Construct = path
		return &copy
	}
	return fmt.Errorf("restorable: %s: %w", path, err)
}
