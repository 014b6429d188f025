package test

import (
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsrds"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restorable-cdk/restorable/restorable"
)

const snapshotARN = "arn:aws:rds:ap-northeast-1:123456789012:cluster-snapshot:before-incident"

func TestNewClusterDefaults(t *testing.T) {
	// GIVEN a restorable cluster with no restore source
	stack, db := newCluster(t, nil)
	// WHEN the stack is synthesized
	tmpl := templateJSON(t, stack)
	// THEN the cluster is encrypted with a rotating customer key, protected, and
	// its master password is managed by RDS
	_, cluster := onlyResource(t, tmpl, "AWS::RDS::DBCluster")
	p := props(cluster)
	assert.Equal(t, "Snapshot", cluster["DeletionPolicy"])
	assert.Equal(t, "Snapshot", cluster["UpdateReplacePolicy"])
	assert.Equal(t, true, p["StorageEncrypted"])
	keyID, key := onlyResource(t, tmpl, "AWS::KMS::Key")
	assert.Equal(t, map[string]interface{}{"Fn::GetAtt": []interface{}{keyID, "Arn"}}, p["KmsKeyId"])
	assert.Equal(t, true, props(key)["EnableKeyRotation"])
	assert.Equal(t, "Retain", key["DeletionPolicy"])
	assert.Equal(t, true, p["ManageMasterUserPassword"])
	assert.Equal(t, "postgres", p["MasterUsername"])
	assert.Nil(t, p["MasterUserPassword"])
	assert.Equal(t, true, p["DeletionProtection"])
	assert.Equal(t, true, p["EnableIAMDatabaseAuthentication"])
	assert.Equal(t, false, p["DeleteAutomatedBackups"])
	assert.Equal(t, true, p["CopyTagsToSnapshot"])
	assert.Equal(t, float64(7), p["BackupRetentionPeriod"])
	assert.Equal(t, []interface{}{"postgresql"}, p["EnableCloudwatchLogsExports"])
	for _, absent := range []string{"SnapshotIdentifier", "RestoreType", "SourceDBClusterIdentifier", "RestoreToTime", "UseLatestRestorableTime", "DBClusterIdentifier"} {
		assert.NotContains(t, p, absent)
	}
	// AND TLS and statement logging are required through its parameter group
	pgID, pg := onlyResource(t, tmpl, "AWS::RDS::DBClusterParameterGroup")
	assert.Equal(t, map[string]interface{}{"Ref": pgID}, p["DBClusterParameterGroupName"])
	assert.Equal(t, map[string]interface{}{"rds.force_ssl": "1", "log_statement": "mod"}, props(pg)["Parameters"])
	// AND the exported logs are kept for a year
	_, retention := onlyResource(t, tmpl, "Custom::LogRetention")
	assert.Equal(t, float64(365), props(retention)["RetentionInDays"])
	// AND the function that sets that retention runs as restorable's role, with
	// no AWS-managed policy: it may create and set the retention of the
	// clusters' log groups and its own
	fnIDs, fns := resourcesOfType(t, tmpl, "AWS::Lambda::Function")
	var retentionRoleID string
	for i, fn := range fns {
		if strings.HasPrefix(fnIDs[i], "LogRetentionaae0aa3c5b4d4f87b02d85b201efdd8a") {
			retentionRoleID = roleOf(fn)
		}
	}
	require.True(t, strings.HasPrefix(retentionRoleID, "RestorableLogRetentionRole"), retentionRoleID)
	_, retentionRole := resourceByID(t, tmpl, retentionRoleID)
	assert.NotContains(t, props(retentionRole), "ManagedPolicyArns")
	assert.Contains(t, fmtJSON(statementBySid(t, statementsOf(t, tmpl, retentionRoleID), "ClusterLogGroups")["Resource"]), ":log-group:/aws/rds/cluster/*")
	// AND its instance is not publicly accessible, though the VPC has an
	// internet gateway
	_, instance := onlyResource(t, tmpl, "AWS::RDS::DBInstance")
	assert.Equal(t, false, props(instance)["PubliclyAccessible"])
	// AND Connections() opens the cluster's port as a number, so rules added
	// through it survive a restore
	assert.Equal(t, float64(5432), p["Port"])
	assert.Equal(t, "5432", *db.Connections().DefaultPort().ToString())
	// AND no CDK-generated secret exists: consumers read the RDS-managed one
	ids, _ := resourcesOfType(t, tmpl, "AWS::SecretsManager::Secret")
	assert.Empty(t, ids)
	assert.Equal(t, restorable.KindNew, db.Kind())
	assert.Equal(t, map[string]interface{}{"Fn::GetAtt": []interface{}{clusterIDOf(t, tmpl), "MasterUserSecret.SecretArn"}},
		stack.Resolve(db.Secret().SecretArn()))
}

func TestMySQLDefaultsRequireTLSAndAudit(t *testing.T) {
	// GIVEN a restorable Aurora MySQL cluster
	stack := newStack(t, nil)
	p := clusterProps(stack)
	p.Engine = awsrds.DatabaseClusterEngine_AuroraMysql(&awsrds.AuroraMysqlClusterEngineProps{Version: awsrds.AuroraMysqlEngineVersion_VER_3_08_0()})
	restorable.NewAuroraCluster(stack, jsii.String("Database"), &restorable.AuroraClusterProps{DatabaseClusterProps: p})
	// WHEN synthesized
	tmpl := templateJSON(t, stack)
	// THEN its parameter group requires TLS and turns on Advanced Auditing, and
	// the audit log is exported
	_, pg := onlyResource(t, tmpl, "AWS::RDS::DBClusterParameterGroup")
	assert.Equal(t, map[string]interface{}{
		"require_secure_transport": "ON",
		"server_audit_logging":     "1",
		"server_audit_events":      "QUERY_DCL,QUERY_DDL,QUERY_DML",
	}, props(pg)["Parameters"])
	_, cluster := onlyResource(t, tmpl, "AWS::RDS::DBCluster")
	assert.Equal(t, []interface{}{"audit", "error", "slowquery"}, props(cluster)["EnableCloudwatchLogsExports"])
	assert.Equal(t, "admin", props(cluster)["MasterUsername"])
}

func TestUserSettingsOverrideDefaults(t *testing.T) {
	// GIVEN a cluster whose props set what restorable defaults
	stack := newStack(t, nil)
	p := clusterProps(stack)
	p.Parameters = &map[string]*string{"log_statement": jsii.String("ddl"), "work_mem": jsii.String("65536")}
	p.Backup = &awsrds.BackupProps{Retention: awscdk.Duration_Days(jsii.Number(14)), PreferredWindow: jsii.String("16:00-17:00")}
	p.RemovalPolicy = awscdk.RemovalPolicy_RETAIN
	original := p
	restorable.NewAuroraCluster(stack, jsii.String("Database"), &restorable.AuroraClusterProps{DatabaseClusterProps: p})
	tmpl := templateJSON(t, stack)
	// THEN the caller's values win, merged over restorable's parameters
	_, pg := onlyResource(t, tmpl, "AWS::RDS::DBClusterParameterGroup")
	assert.Equal(t, map[string]interface{}{"rds.force_ssl": "1", "log_statement": "ddl", "work_mem": "65536"}, props(pg)["Parameters"])
	_, cluster := onlyResource(t, tmpl, "AWS::RDS::DBCluster")
	assert.Equal(t, float64(14), props(cluster)["BackupRetentionPeriod"])
	assert.Equal(t, "16:00-17:00", props(cluster)["PreferredBackupWindow"])
	assert.Equal(t, "Retain", cluster["DeletionPolicy"])
	assert.Equal(t, "Retain", cluster["UpdateReplacePolicy"])
	// AND the caller's props struct was not written to
	assert.Equal(t, original, p)
	assert.Nil(t, p.ManageMasterUserPassword)
	assert.Len(t, *p.Parameters, 2)
}

func TestSnapshotRestoreIsTheSameClusterResource(t *testing.T) {
	// GIVEN the same cluster without and with a snapshot source
	before := templateJSON(t, first(newCluster(t, nil)))
	stack, db := newCluster(t, map[string]string{"snapshotArn": snapshotARN})
	after := templateJSON(t, stack)
	// THEN the restored cluster keeps its logical ID and reads the snapshot
	id := clusterIDOf(t, before)
	require.Equal(t, id, clusterIDOf(t, after))
	p := props(after["Resources"].(map[string]interface{})[id].(map[string]interface{}))
	assert.Equal(t, snapshotARN, p["SnapshotIdentifier"])
	assert.Equal(t, restorable.KindSnapshot, db.Kind())
	// AND, as the AWS::RDS::DBCluster docs ask for a snapshot restore, it sets no
	// MasterUsername and no StorageEncrypted, but keeps the cluster's key and the
	// RDS-managed password
	assert.NotContains(t, p, "MasterUsername")
	assert.NotContains(t, p, "StorageEncrypted")
	assert.NotNil(t, p["KmsKeyId"])
	assert.Equal(t, true, p["ManageMasterUserPassword"])
	// AND only the cluster and its replacement guard changed in the template
	assert.ElementsMatch(t, clusterAndGuardChanges(t, before, "SnapshotIdentifier", "MasterUsername", "StorageEncrypted"),
		templateChanges(before, after))
}

func TestLogicalIDsMatchAPlainDatabaseCluster(t *testing.T) {
	// GIVEN a stack built with awsrds.NewDatabaseCluster and the same stack built
	// with restorable.NewAuroraCluster under the same id
	plainStack := newStack(t, nil)
	awsrds.NewDatabaseCluster(plainStack, jsii.String("Database"), ptr(clusterProps(plainStack)))
	plain := templateJSON(t, plainStack)
	stack, _ := newCluster(t, nil)
	restored := templateJSON(t, stack)
	// THEN the cluster, its instance, security group and subnet group keep their
	// logical IDs, so switching an existing stack to restorable updates them in
	// place instead of replacing them
	for _, typ := range []string{"AWS::RDS::DBCluster", "AWS::RDS::DBInstance", "AWS::RDS::DBSubnetGroup"} {
		want, _ := onlyResource(t, plain, typ)
		got, _ := onlyResource(t, restored, typ)
		assert.Equal(t, want, got, typ)
	}
	plainSGs, _ := resourcesOfType(t, plain, "AWS::EC2::SecurityGroup")
	restoredSGs, _ := resourcesOfType(t, restored, "AWS::EC2::SecurityGroup")
	assert.Equal(t, plainSGs, restoredSGs)
}

func TestOwnSecretIsReappliedOnRestore(t *testing.T) {
	build := func(ctx map[string]string) (awscdk.Stack, *restorable.AuroraCluster, awssecretsmanager.Secret) {
		stack := newStack(t, ctx)
		secret := awssecretsmanager.NewSecret(stack, jsii.String("DbSecret"), &awssecretsmanager.SecretProps{
			GenerateSecretString: &awssecretsmanager.SecretStringGenerator{
				SecretStringTemplate: jsii.String(`{"username":"app"}`),
				GenerateStringKey:    jsii.String("password"),
			},
		})
		src, err := restorable.AuroraSourceFromContext(stack, "Database")
		require.NoError(t, err)
		p := clusterProps(stack)
		p.Credentials = awsrds.Credentials_FromSecret(secret, nil)
		db := restorable.NewAuroraCluster(stack, jsii.String("Database"), &restorable.AuroraClusterProps{DatabaseClusterProps: p, Source: src})
		return stack, db, secret
	}
	// GIVEN a cluster whose credentials are the caller's own secret
	newStack, newDB, _ := build(nil)
	restoredStack, restoredDB, secret := build(map[string]string{"snapshotArn": snapshotARN})
	// THEN a new cluster takes its user name and password from the secret
	_, cluster := onlyResource(t, templateJSON(t, newStack), "AWS::RDS::DBCluster")
	assert.Contains(t, props(cluster), "MasterUserPassword")
	assert.NotContains(t, props(cluster), "ManageMasterUserPassword")
	// AND a restored cluster has the secret's password applied again, so the
	// secret, whose ARN never changes, stays valid
	_, cluster = onlyResource(t, templateJSON(t, restoredStack), "AWS::RDS::DBCluster")
	rp := props(cluster)
	assert.NotContains(t, rp, "MasterUsername")
	assert.NotContains(t, rp, "ManageMasterUserPassword")
	assert.Contains(t, fmtJSON(rp["MasterUserPassword"]), "resolve:secretsmanager")
	assert.Equal(t, restoredStack.Resolve(secret.SecretArn()), restoredStack.Resolve(restoredDB.Secret().SecretArn()))
	assert.NotNil(t, newDB.Secret())
	// AND no second secret is created
	ids, _ := resourcesOfType(t, templateJSON(t, restoredStack), "AWS::SecretsManager::Secret")
	assert.Len(t, ids, 1)
	// AND CloudFormation Validate's wish for MasterUsername next to the password is
	// acknowledged in code, with the reason, so the report stays clean
	assert.Empty(t, validationViolations(t, *awscdk.Stage_Of(restoredStack).Outdir(), "CloudFormation Validate"))
}

func TestSnapshotRestoreAnnotatesWhatHappens(t *testing.T) {
	// GIVEN a cluster restored from a snapshot
	stack, _ := newCluster(t, map[string]string{"snapshotArn": snapshotARN})
	templateJSON(t, stack)
	a := assertions.Annotations_FromStack(stack)
	// THEN synth warns what the restore does, and that the source must be kept
	a.HasWarning(jsii.String("/AppStack/Database"), assertions.Match_StringLikeRegexp(jsii.String("restoring from snapshot "+snapshotARN+`\. On the deploy that sets or changes this source, CloudFormation creates a new cluster`)))
	a.HasWarning(jsii.String("/AppStack/Database"), assertions.Match_StringLikeRegexp(jsii.String(`keep this restore source in cdk.json .*an empty DB cluster is created, and the original DB cluster is deleted`)))
	// AND the CDK's generic warning about snapshot credentials is acknowledged,
	// because the RDS-managed secret covers it
	a.HasNoWarning(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("Generated credentials will not be applied")))
}

func TestNewClusterHasNoRestoreWarnings(t *testing.T) {
	stack, _ := newCluster(t, nil)
	templateJSON(t, stack)
	a := assertions.Annotations_FromStack(stack)
	a.HasNoWarning(jsii.String("*"), assertions.Match_AnyValue())
	a.HasNoError(jsii.String("*"), assertions.Match_AnyValue())
}

func TestValidationReportIsCleanInEveryMode(t *testing.T) {
	for name, ctx := range map[string]map[string]string{
		"new":           nil,
		"snapshot":      {"snapshotArn": snapshotARN},
		"point in time": {"restoreToTime": "2026-11-20T10:15:22Z", "restoreSourceCluster": "app-db-abc123"},
		"latest":        {"restoreToTime": "latest", "restoreSourceCluster": "app-db-abc123"},
		"deleted":       {"restoreToTime": "2026-11-20T10:15:22Z", "restoreSourceClusterResourceId": "cluster-ABCDEFGHIJKLMNOPQRSTUVWXYZ"},
		"clone":         {"AppStack/Database.cloneSourceCluster": "prod-db"},
	} {
		t.Run(name, func(t *testing.T) {
			stack, _ := newCluster(t, ctx)
			templateJSON(t, stack)
			assert.Empty(t, validationViolations(t, *awscdk.Stage_Of(stack).Outdir(), "CloudFormation Validate"))
		})
	}
}

func first[A, B any](a A, _ B) A { return a }

func ptr[T any](v T) *T { return &v }

func clusterIDOf(t *testing.T, tmpl map[string]interface{}) string {
	t.Helper()
	id, _ := onlyResource(t, tmpl, "AWS::RDS::DBCluster")
	return id
}

func TestTwoClustersShareOneLogRetentionRole(t *testing.T) {
	stack := newStack(t, nil)
	p := clusterProps(stack)
	for _, id := range []string{"Orders", "Billing"} {
		restorable.NewAuroraCluster(stack, jsii.String(id), &restorable.AuroraClusterProps{DatabaseClusterProps: p})
	}
	tmpl := templateJSON(t, stack)
	// aws-cdk-lib has one LogRetention function per stack; the first cluster
	// gives it restorable's role, and the second adds no unused role.
	roleIDs, _ := resourcesOfType(t, tmpl, "AWS::IAM::Role")
	var retentionRoles []string
	for _, id := range roleIDs {
		if strings.HasPrefix(id, "RestorableLogRetentionRole") {
			retentionRoles = append(retentionRoles, id)
		}
	}
	require.Len(t, retentionRoles, 1)
	_, retentions := resourcesOfType(t, tmpl, "Custom::LogRetention")
	assert.Len(t, retentions, 2)
	for _, r := range retentions {
		assert.Contains(t, fmtJSON(props(r)["ServiceToken"]), "LogRetentionaae0aa3c5b4d4f87b02d85b201efdd8a")
	}
}
