package restorable

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsrds"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/jsii-runtime-go"
)

// defaultMySQLPort is the port of an Aurora MySQL cluster unless told
// otherwise: not MySQL's well-known 3306.
const defaultMySQLPort = 3307

// defaultMasterUsername is the master user of a new cluster unless told
// otherwise: letters only, at most 16, as RDS allows for every Aurora engine
// (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBCluster.html).
const defaultMasterUsername = "clusteradmin"

// defaultBacktrackHours is the backtrack window of an Aurora MySQL cluster
// unless told otherwise.
const defaultBacktrackHours = 24

// defaultBackupRetentionDays is the automated backup retention restorable uses
// unless told otherwise: a week of point-in-time restore.
const defaultBackupRetentionDays = 7

// maxBacktrack is the longest backtrack window Aurora MySQL supports, 72 hours:
// https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-rds-dbcluster.html#cfn-rds-dbcluster-backtrackwindow
const maxBacktrack = 72 * time.Hour

// credentialsMode is how the master password is kept valid across restores.
type credentialsMode struct {
	// managed: RDS manages the password in Secrets Manager. CloudFormation turns
	// it on again after a restore, which gives the restored cluster a new secret.
	managed bool
	// secretKey encrypts the RDS-managed secret, if the caller chose a key.
	secretKey awskms.IKey
	// secret and password are the caller's own credentials (or an adopted
	// cluster's generated secret), applied again to the restored cluster as
	// its master password.
	secret   awssecretsmanager.ISecret
	password awscdk.SecretValue
}

// clusterProps copies the caller's props, rejects what a restorable cluster
// cannot support, and fills in the defaults: all of them for a new cluster,
// only those CloudFormation applies in place for an adopted one. It never
// writes to the caller's props.
func (c *AuroraCluster) clusterProps(path string, p awsrds.DatabaseClusterProps, protection *Protection) (awsrds.DatabaseClusterProps, credentialsMode) {
	engine := *p.Engine.EngineType()
	var creds credentialsMode
	if c.adopt {
		creds = c.adoptedCredentials(&p)
	} else if g := c.global; g != nil && !g.Secondary && p.Credentials == nil {
		// A global primary: RDS manages no master password in a global
		// database, so restorable generates one, replicated to the
		// secondaries' regions. Restores are refused on global members, so
		// the generated secret never goes stale.
		p.Credentials = g.globalCredentials()
		c.createOnlyDefaults(path, engine, &p)
		p.ManageMasterUserPassword = jsii.Bool(false)
	} else if g != nil && g.Secondary {
		// A secondary has no master credentials (attachGlobal clears them);
		// ManageMasterUserPassword only keeps the L2 from generating a secret.
		c.createOnlyDefaults(path, engine, &p)
		p.ManageMasterUserPassword = jsii.Bool(true)
	} else {
		c.createOnlyDefaults(path, engine, &p)
		creds = credentialsFor(path, p.Credentials, p.ManageMasterUserPassword)
		p.ManageMasterUserPassword = jsii.Bool(creds.managed)
	}
	if p.BacktrackWindow != nil {
		c.backtrackHours = checkBacktrack(path, engine, p.BacktrackWindow)
	}
	if p.RemovalPolicy == "" {
		p.RemovalPolicy = awscdk.RemovalPolicy_SNAPSHOT
	}
	if p.DeletionProtection == nil {
		p.DeletionProtection = jsii.Bool(true)
	}
	c.deletionProtection = *p.DeletionProtection
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
	if !unresolved(backup.Retention) {
		c.retentionDays = *backup.Retention.ToDays(nil)
	}
	p.Backup = &backup
	if p.CloudwatchLogsExports == nil {
		p.CloudwatchLogsExports = jsii.Strings(defaultLogExports(engine)...)
	}
	// Exported logs are kept until deleted: RDS creates the log groups with no
	// expiry, so an audit trail outlives any retention a rule set asks for
	// (AWS Control Tower's CT.CLOUDWATCH.PR.2: a year, or never expire), and
	// no function in the stack may change a log group's retention. With a
	// CloudwatchLogsRetention, aws-cdk-lib adds its LogRetention function,
	// whose role restorable scopes to the RDS log groups.
	if p.CloudwatchLogsRetention != "" && p.CloudwatchLogsRetentionRole == nil && len(*p.CloudwatchLogsExports) > 0 {
		p.CloudwatchLogsRetentionRole = logRetentionRole(c)
	}
	if p.ParameterGroup == nil {
		merged := map[string]*string{}
		for k, v := range defaultParameters(engine, engineMajor(p.Engine)) {
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

// createOnlyDefaults sets the defaults of a new cluster that CloudFormation
// cannot apply to an existing one: the encryption key, and for Aurora MySQL the
// port and backtracking, which RDS turns on only when it creates a cluster.
func (c *AuroraCluster) createOnlyDefaults(path, engine string, p *awsrds.DatabaseClusterProps) {
	switch engine {
	case "aurora-mysql":
		// cdk-nag AwsSolutions-RDS11 and RDS14 ask Aurora MySQL for a port other
		// than 3306 and for backtracking; backtracking rewinds the cluster in
		// place, in minutes, and can only be turned on when the cluster is created.
		if p.Port == nil {
			p.Port = jsii.Number(defaultMySQLPort)
		}
		if p.BacktrackWindow == nil && c.global == nil {
			p.BacktrackWindow = awscdk.Duration_Hours(jsii.Number(defaultBacktrackHours))
		}
	case "aurora-postgresql":
		if p.Port == nil {
			p.Port = jsii.Number(5432)
		}
	}
	if p.Credentials == nil && (p.ManageMasterUserPassword == nil || *p.ManageMasterUserPassword) {
		// Not the engine's well-known default (postgres, admin), which AWS
		// Control Tower's CT.RDS.PR.21 refuses: a guessable name is half of a
		// credential. RDS manages the password.
		p.Credentials = awsrds.Credentials_FromUsername(jsii.String(defaultMasterUsername), nil)
	}
	if p.StorageEncryptionKey == nil && (p.StorageEncrypted == nil || *p.StorageEncrypted) {
		c.key = newHardenedKey(c, "Key", "restorable: storage encryption of "+path)
		p.StorageEncryptionKey = c.key
	}
}

// adoptedCredentials keeps the credentials of a cluster that
// awsrds.NewDatabaseCluster created. Unless they carry a secret or password of
// the caller's, that construct generated a secret, at "<id>/Secret" under
// itself; restorable creates the same secret, with the same props, at
// "<id>/Secret" under the restorable construct, whose hidden "Default" level
// construct IDs leave out, so the secret keeps its logical ID and its value.
// Every restore then applies its password to the restored cluster
// (MasterUserPassword), so the secret stays valid. This mirrors aws-cdk-lib's
// renderCredentials (aws-rds/lib/private/util.ts).
func (c *AuroraCluster) adoptedCredentials(p *awsrds.DatabaseClusterProps) credentialsMode {
	if p.ManageMasterUserPassword != nil && *p.ManageMasterUserPassword {
		mode := credentialsMode{managed: true}
		if p.Credentials != nil {
			mode.secretKey = p.Credentials.EncryptionKey()
		}
		return mode
	}
	creds := p.Credentials
	if creds != nil && (creds.Secret() != nil || creds.Password() != nil) {
		return credentialsMode{secret: creds.Secret(), password: creds.Password()}
	}
	username := p.Engine.DefaultUsername()
	if creds != nil {
		username = creds.Username()
	} else if username == nil {
		username = jsii.String("admin")
	}
	var replaceOnChange *bool
	var usernameAsString bool
	props := awsrds.DatabaseSecretProps{Username: username}
	if creds != nil {
		props.SecretName, props.EncryptionKey, props.ExcludeCharacters, props.ReplicaRegions =
			creds.SecretName(), creds.EncryptionKey(), creds.ExcludeCharacters(), creds.ReplicaRegions()
		replaceOnChange = creds.UsernameAsString()
		usernameAsString = replaceOnChange != nil && *replaceOnChange
	}
	props.ReplaceOnPasswordCriteriaChanges = replaceOnChange
	secret := awsrds.NewDatabaseSecret(c, jsii.String("Secret"), &props)
	var name *string
	if usernameAsString {
		name = username
	}
	p.Credentials = awsrds.Credentials_FromSecret(secret, name)
	return credentialsMode{secret: secret}
}

func protectionContinuousDays(p *Protection) float64 {
	if p == nil {
		return 0
	}
	return p.continuous
}

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

// defaultParameters are the cluster parameters restorable sets by engine and
// major version. TLS is required. The audit log records who changed what, and
// when, so that the time of a bad statement can be found before a
// point-in-time restore, without writing passwords or row data to CloudWatch
// Logs:
//
// PostgreSQL, with pgAudit
// (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/Appendix.PostgreSQL.CommonDBATasks.pgaudit.reference.html):
// the ddl and write classes (CREATE/ALTER/DROP, INSERT/UPDATE/DELETE/TRUNCATE
// /COPY), each with its statement text as sent but without the values of bind
// parameters (pgaudit.log_parameter off), which is how drivers and ORMs send
// row data. The role class is left out: CREATE/ALTER ROLE statements may carry
// a password. PostgreSQL's own statement logging is off (log_statement=none:
// with mod it logged ALTER ROLE ... PASSWORD and every bind parameter), and
// from PostgreSQL 13 no bind parameter is written to any log line
// (log_parameter_max_length and log_parameter_max_length_on_error = 0).
// log_min_error_statement is panic, so a statement that fails (a failed
// ALTER ROLE ... PASSWORD '...', an insert with literal values that breaks a
// constraint) is not written to the log with its text; the error itself
// still is (https://www.postgresql.org/docs/current/runtime-config-logging.html#GUC-LOG-MIN-ERROR-STATEMENT).
// pg_stat_statements stays loaded, as in Aurora's default parameter group.
//
// MySQL, with Advanced Auditing
// (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/AuroraMySQL.Auditing.html):
// CONNECT (who logged in, from where), QUERY_DDL (schema changes, with their
// text) and TABLE (which table each statement read or wrote, by whom, without
// its text). QUERY_DML (statement text, with the row values MySQL drivers put
// in it) and QUERY_DCL (CREATE USER ... IDENTIFIED BY with its password) are
// left out.
//
// TLS: https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/AuroraPostgreSQL.Security.html#AuroraPostgreSQL.Security.SSL.Requiring
// and https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/AuroraMySQL.Security.html#AuroraMySQL.Security.SSL.RequireSSL
func defaultParameters(engine, major string) map[string]string {
	switch engine {
	case "aurora-postgresql":
		params := map[string]string{
			"rds.force_ssl":            "1",
			"shared_preload_libraries": "pg_stat_statements,pgaudit",
			"pgaudit.log":              "ddl,write",
			"pgaudit.log_parameter":    "0",
			"pgaudit.log_catalog":      "0",
			"log_statement":            "none",
			"log_min_error_statement":  "panic",
		}
		if n, err := strconv.Atoi(major); err == nil && n >= 13 {
			params["log_parameter_max_length"] = "0"
			params["log_parameter_max_length_on_error"] = "0"
		}
		return params
	case "aurora-mysql":
		return map[string]string{
			"require_secure_transport": "ON",
			"server_audit_logging":     "1",
			"server_audit_events":      "CONNECT,QUERY_DDL,TABLE",
		}
	}
	return nil
}

// engineMajor is the engine's major version, "" if the engine has none.
func engineMajor(engine awsrds.IClusterEngine) string {
	if v := engine.EngineVersion(); v != nil && v.MajorVersion != nil {
		return *v.MajorVersion
	}
	return ""
}

func parameterHint(engine, major string) string {
	params := defaultParameters(engine, major)
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

// checkBacktrack validates a backtrack window and returns it in hours.
func checkBacktrack(path, engine string, window awscdk.Duration) float64 {
	if unresolved(window) {
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

// credentialsFor decides how the master password of a new cluster survives a
// restore. CloudFormation ignores MasterUsername and MasterUserPassword when it
// restores a snapshot, so a generated secret would describe a password the
// restored cluster does not have (aws-cdk#28761, aws-cdk#22199). Two mechanisms
// keep consumers working, and restorable accepts only those:
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
				Fix:     "leave ManageMasterUserPassword unset (an RDS-managed secret), or pass Credentials: awsrds.Credentials_FromSecret(yourSecret, nil); for a cluster that awsrds.NewDatabaseCluster created with a generated secret, set Adopt: true"})
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
			Fix:     "use awsrds.Credentials_FromUsername(name, &awsrds.CredentialsFromUsernameOptions{EncryptionKey: key}) for an RDS-managed secret (the default), or awsrds.Credentials_FromSecret(yourSecret, nil) for a secret you own; for a cluster that awsrds.NewDatabaseCluster created with these credentials, set Adopt: true"})
	}
	return credentialsMode{managed: true, secretKey: creds.EncryptionKey()}
}
