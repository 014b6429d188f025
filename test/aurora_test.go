package test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsrds"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restorable-cdk/restorable/restorable"
)

func TestANewCluster(t *testing.T) {
	// GIVEN a restorable cluster with no restore source
	stack, db := newCluster(t, nil, cfnValidated)
	// WHEN the stack is synthesized
	tmpl := templateJSON(t, stack)
	clusterID, cluster := byPath(t, tmpl, "AppStack/Database/Default")
	p := props(cluster)
	t.Run("encrypted with a rotating customer key, protected, with an RDS-managed password", func(t *testing.T) {
		assert.Equal(t, "Snapshot", cluster["DeletionPolicy"])
		assert.Equal(t, "Snapshot", cluster["UpdateReplacePolicy"])
		assert.Equal(t, true, p["StorageEncrypted"])
		keyID, key := byPath(t, tmpl, "AppStack/Database/Key")
		assert.Equal(t, map[string]interface{}{"Fn::GetAtt": []interface{}{keyID, "Arn"}}, p["KmsKeyId"])
		assert.Equal(t, true, props(key)["EnableKeyRotation"])
		assert.Equal(t, "Retain", key["DeletionPolicy"])
		assert.Equal(t, true, p["ManageMasterUserPassword"])
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
		ids, _ := resourcesOfType(t, tmpl, "AWS::SecretsManager::Secret")
		assert.Empty(t, ids, "consumers read the RDS-managed secret")
		assert.Equal(t, map[string]interface{}{"Fn::GetAtt": []interface{}{clusterID, "MasterUserSecret.SecretArn"}}, stack.Resolve(db.Secret().SecretArn()))
		assert.Equal(t, restorable.KindNew, db.Kind())
	})
	t.Run("TLS and statement logging through its parameter group", func(t *testing.T) {
		pgID, pg := onlyResource(t, tmpl, "AWS::RDS::DBClusterParameterGroup")
		assert.Equal(t, map[string]interface{}{"Ref": pgID}, p["DBClusterParameterGroupName"])
		assert.Equal(t, "1", props(pg)["Parameters"].(map[string]interface{})["rds.force_ssl"])
	})
	t.Run("exported logs kept until deleted, with no function that may change a retention", func(t *testing.T) {
		ids, _ := resourcesOfType(t, tmpl, "Custom::LogRetention")
		assert.Empty(t, ids)
		_, fns := resourcesOfType(t, tmpl, "AWS::Lambda::Function")
		assert.Len(t, fns, 1, "the guard only")
	})
	t.Run("instances private", func(t *testing.T) {
		_, instance := onlyResource(t, tmpl, "AWS::RDS::DBInstance")
		assert.Equal(t, false, props(instance)["PubliclyAccessible"])
	})
	t.Run("rules through Connections() name the port as the plain L2 does, and carry it as a number", func(t *testing.T) {
		assert.Equal(t, float64(5432), p["Port"])
		assert.Equal(t, "{IndirectPort}", *db.Connections().DefaultPort().ToString())
		assert.Equal(t, float64(5432), db.Connections().DefaultPort().ToRuleJson().(map[string]interface{})["fromPort"])
	})
	t.Run("no warning, and CloudFormation Validate finds nothing", func(t *testing.T) {
		check(t, func() {
			a := assertions.Annotations_FromStack(stack)
			a.HasNoWarning(jsii.String("*"), assertions.Match_AnyValue())
			a.HasNoError(jsii.String("*"), assertions.Match_AnyValue())
		})
		expectValid(t, *awscdk.Stage_Of(stack).Outdir())
	})
	t.Run("the report says what a deploy does", func(t *testing.T) {
		var b bytes.Buffer
		require.NoError(t, restorable.WriteReport(&b, stack))
		report := b.String()
		assert.Contains(t, report, "AppStack/Database (Aurora cluster)\n    source:  new, empty cluster\n")
		assert.Contains(t, report, "deletion protection: on: a restore leaves the old cluster for you to check and retire")
		assert.Contains(t, report, "outputs: DatabaseClusterIdentifier (current identifier), DatabaseClusterResourceId, DatabasePointInTimeRestoreCommand, DatabaseListSnapshotsCommand")
		assert.Contains(t, report, "restore: cdk deploy -c AppStack/Database.snapshotArn=<snapshot name or ARN>")
		assert.NotContains(t, report, "cloneSourceCluster", "a production cluster is never replaced by a clone")
		outputs := tmpl["Outputs"].(map[string]interface{})
		for _, name := range []string{"DatabaseClusterIdentifier", "DatabaseClusterResourceId", "DatabasePointInTimeRestoreCommand", "DatabaseListSnapshotsCommand"} {
			assert.Contains(t, outputs, name)
		}
		assert.Equal(t, map[string]interface{}{"Ref": clusterID}, outputs["DatabaseClusterIdentifier"].(map[string]interface{})["Value"])
	})
}

func TestEveryRestoreModeRestoresTheSameClusterResource(t *testing.T) {
	fresh := templateJSON(t, first(newCluster(t, nil)))
	freshID := clusterIDOf(t, fresh)
	tests := []struct {
		name    string
		ctx     map[string]string
		kind    restorable.SourceKind
		want    map[string]interface{}
		absent  []string
		warning string
	}{
		{"snapshot", map[string]string{"snapshotArn": snapshotARN}, restorable.KindSnapshot,
			map[string]interface{}{"SnapshotIdentifier": snapshotARN}, []string{"RestoreType", "SourceDBClusterIdentifier"}, "restoring from snapshot " + snapshotARN},
		{"a time with an offset, normalized to UTC", map[string]string{"restoreToTime": restoreTimeJST, "restoreSourceCluster": "app-db-abc123"}, restorable.KindPointInTime,
			map[string]interface{}{"RestoreToTime": restoreTime, "RestoreType": "full-copy", "SourceDBClusterIdentifier": "app-db-abc123"},
			[]string{"UseLatestRestorableTime", "SourceDbClusterResourceId", "SnapshotIdentifier"}, "restoring from point in time " + restoreTime + " of cluster app-db-abc123"},
		{"the latest restorable time", map[string]string{"restoreToTime": "latest", "restoreSourceCluster": "app-db-abc123"}, restorable.KindPointInTime,
			map[string]interface{}{"UseLatestRestorableTime": true, "RestoreType": "full-copy", "SourceDBClusterIdentifier": "app-db-abc123"}, []string{"RestoreToTime"}, "the latest restorable time"},
		{"a deleted cluster by resource ID", map[string]string{"restoreToTime": restoreTime, "restoreSourceClusterResourceId": "cluster-ABCDEFGHIJKLMNOPQRSTUVWXYZ"}, restorable.KindPointInTime,
			map[string]interface{}{"RestoreToTime": restoreTime, "SourceDbClusterResourceId": "cluster-ABCDEFGHIJKLMNOPQRSTUVWXYZ"}, []string{"SourceDBClusterIdentifier"}, "deleted cluster cluster-ABCDEFGHIJKLMNOPQRSTUVWXYZ"},
		{"a clone", map[string]string{"AppStack/Database.cloneSourceCluster": "prod-db"}, restorable.KindClone,
			map[string]interface{}{"RestoreType": "copy-on-write", "UseLatestRestorableTime": true, "SourceDBClusterIdentifier": "prod-db"}, []string{"RestoreToTime"}, "restoring from clone of cluster prod-db"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stack, db := newCluster(t, tt.ctx, cfnValidated)
			tmpl := templateJSON(t, stack)
			id, cluster := byPath(t, tmpl, "AppStack/Database/Default")
			// The same logical ID: a restore is an update of the stack.
			assert.Equal(t, freshID, id)
			assert.Equal(t, tt.kind, db.Kind())
			p := props(cluster)
			for k, v := range tt.want {
				assert.Equal(t, v, p[k], k)
			}
			// Every kind leaves out what a restore must not set, and keeps the
			// key and the RDS-managed password.
			for _, k := range append(tt.absent, "MasterUsername", "StorageEncrypted", "MasterUserPassword") {
				assert.NotContains(t, p, k)
			}
			assert.NotNil(t, p["KmsKeyId"])
			assert.Equal(t, true, p["ManageMasterUserPassword"])
			// Synth says what the restore does, and that the source must stay.
			check(t, func() {
				a := assertions.Annotations_FromStack(stack)
				a.HasWarning(jsii.String("/AppStack/Database"), assertions.Match_StringLikeRegexp(jsii.String(".*"+regexpQuote(tt.warning)+`.*deletion protection keeps it.*`)))
				a.HasWarning(jsii.String("/AppStack/Database"), assertions.Match_StringLikeRegexp(jsii.String(`keep this restore source in cdk.json .*an empty DB cluster is created, and the original DB cluster is deleted`)))
				a.HasNoWarning(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("Generated credentials will not be applied")))
			})
			expectValid(t, *awscdk.Stage_Of(stack).Outdir())
			// Only the cluster and its entry in the guard change.
			for _, c := range templateChanges(fresh, tmpl) {
				assert.True(t, strings.HasPrefix(c, freshID+".Properties.") || strings.HasPrefix(c, guardIDOf(t, tmpl)+".Properties.Resources."+freshID+"."), c)
			}
		})
	}
}

func regexpQuote(s string) string {
	return strings.NewReplacer(".", `\.`, "(", `\(`, ")", `\)`, "+", `\+`, "*", `\*`, "?", `\?`, "[", `\[`, "]", `\]`).Replace(s)
}

func first[A, B any](a A, _ B) A { return a }

func TestWithoutDeletionProtectionTheOldClusterGoes(t *testing.T) {
	// The report and the warnings say the same, true thing.
	stack, _ := newCluster(t, map[string]string{"snapshotArn": snapshotARN}, func(_ awscdk.Stack, p *restorable.AuroraClusterProps) {
		p.DeletionProtection = jsii.Bool(false)
	})
	templateJSON(t, stack)
	var b bytes.Buffer
	require.NoError(t, restorable.WriteReport(&b, stack))
	assert.Contains(t, b.String(), "deletes the old cluster, because deletion protection is off; its final snapshot is kept")
	assert.Contains(t, b.String(), "deletion protection: off")
	assert.NotContains(t, b.String(), "kept by deletion protection")
	check(t, func() {
		a := assertions.Annotations_FromStack(stack)
		a.HasWarning(jsii.String("/AppStack/Database"), assertions.Match_StringLikeRegexp(jsii.String(".*deletes the old cluster, because deletion protection is off.*")))
		a.HasNoWarning(jsii.String("/AppStack/Database"), assertions.Match_StringLikeRegexp(jsii.String(".*deletion protection keeps it.*")))
	})
}

func TestAClonesReportOffersAFreshClone(t *testing.T) {
	stack, _ := newCluster(t, map[string]string{"AppStack/Database.cloneSourceCluster": "prod-db"}, func(_ awscdk.Stack, p *restorable.AuroraClusterProps) {
		p.DeletionProtection = jsii.Bool(false)
	})
	templateJSON(t, stack)
	var b bytes.Buffer
	require.NoError(t, restorable.WriteReport(&b, stack))
	assert.Contains(t, b.String(), "cdk deploy -c AppStack/Database.cloneSourceCluster=<cluster to clone> (a fresh clone)")
}

func TestMySQLDefaultsRequireTLSAndAudit(t *testing.T) {
	stack, _ := newCluster(t, nil, func(_ awscdk.Stack, p *restorable.AuroraClusterProps) {
		p.Engine = awsrds.DatabaseClusterEngine_AuroraMysql(&awsrds.AuroraMysqlClusterEngineProps{Version: awsrds.AuroraMysqlEngineVersion_VER_3_08_0()})
	})
	tmpl := templateJSON(t, stack)
	_, pg := onlyResource(t, tmpl, "AWS::RDS::DBClusterParameterGroup")
	assert.Equal(t, "ON", props(pg)["Parameters"].(map[string]interface{})["require_secure_transport"])
	_, cluster := byPath(t, tmpl, "AppStack/Database/Default")
	assert.Equal(t, []interface{}{"audit", "error", "slowquery"}, props(cluster)["EnableCloudwatchLogsExports"])
	assert.Equal(t, float64(3307), props(cluster)["Port"])
	assert.Equal(t, float64(24*3600), props(cluster)["BacktrackWindow"])
}

func TestUserSettingsOverrideDefaults(t *testing.T) {
	var original, given restorable.AuroraClusterProps
	stack, _ := newCluster(t, nil, func(_ awscdk.Stack, p *restorable.AuroraClusterProps) {
		p.Parameters = &map[string]*string{"log_statement": jsii.String("ddl"), "work_mem": jsii.String("65536")}
		p.Backup = &awsrds.BackupProps{Retention: awscdk.Duration_Days(jsii.Number(14)), PreferredWindow: jsii.String("16:00-17:00")}
		p.RemovalPolicy = awscdk.RemovalPolicy_RETAIN
		original, given = *p, *p
	})
	tmpl := templateJSON(t, stack)
	_, pg := onlyResource(t, tmpl, "AWS::RDS::DBClusterParameterGroup")
	params := props(pg)["Parameters"].(map[string]interface{})
	assert.Equal(t, "ddl", params["log_statement"])
	assert.Equal(t, "65536", params["work_mem"])
	assert.Equal(t, "1", params["rds.force_ssl"])
	_, cluster := byPath(t, tmpl, "AppStack/Database/Default")
	assert.Equal(t, float64(14), props(cluster)["BackupRetentionPeriod"])
	assert.Equal(t, "16:00-17:00", props(cluster)["PreferredBackupWindow"])
	assert.Equal(t, "Retain", cluster["DeletionPolicy"])
	assert.Equal(t, "Retain", cluster["UpdateReplacePolicy"])
	// The caller's props were not written to.
	assert.Equal(t, original, given)
	assert.Nil(t, given.ManageMasterUserPassword)
	assert.Len(t, *given.Parameters, 2)
}

func TestOwnSecretIsReappliedOnRestore(t *testing.T) {
	build := func(ctx map[string]string) (awscdk.Stack, *restorable.AuroraCluster, awssecretsmanager.Secret) {
		var secret awssecretsmanager.Secret
		stack, db := newCluster(t, ctx, cfnValidated, func(stack awscdk.Stack, p *restorable.AuroraClusterProps) {
			secret = awssecretsmanager.NewSecret(stack, jsii.String("DbSecret"), &awssecretsmanager.SecretProps{
				GenerateSecretString: &awssecretsmanager.SecretStringGenerator{
					SecretStringTemplate: jsii.String(`{"username":"app"}`),
					GenerateStringKey:    jsii.String("password"),
				},
			})
			p.Credentials = awsrds.Credentials_FromSecret(secret, nil)
		})
		return stack, db, secret
	}
	newStack, _, _ := build(nil)
	_, cluster := byPath(t, templateJSON(t, newStack), "AppStack/Database/Default")
	assert.Contains(t, props(cluster), "MasterUserPassword")
	assert.NotContains(t, props(cluster), "ManageMasterUserPassword")
	// A restored cluster has the secret's password applied again, so the
	// secret, whose ARN never changes, stays valid.
	restoredStack, restoredDB, secret := build(map[string]string{"snapshotArn": snapshotARN})
	tmpl := templateJSON(t, restoredStack)
	_, cluster = byPath(t, tmpl, "AppStack/Database/Default")
	rp := props(cluster)
	assert.NotContains(t, rp, "MasterUsername")
	assert.NotContains(t, rp, "ManageMasterUserPassword")
	assert.Contains(t, fmtJSON(rp["MasterUserPassword"]), "resolve:secretsmanager")
	assert.Equal(t, restoredStack.Resolve(secret.SecretArn()), restoredStack.Resolve(restoredDB.Secret().SecretArn()))
	ids, _ := resourcesOfType(t, tmpl, "AWS::SecretsManager::Secret")
	assert.Len(t, ids, 1, "no second secret")
	// The acknowledgment this restore needs covers the whole app, and synth
	// says so; the RDS-managed default needs none.
	check(t, func() {
		assertions.Annotations_FromStack(restoredStack).HasWarning(jsii.String("/AppStack/Database"),
			assertions.Match_StringLikeRegexp(jsii.String(`.*acknowledges the CloudFormation validation rule CloudFormation-Validate::F3021 .*reports no other AWS::RDS::DBCluster of the app.*`)))
		assertions.Annotations_FromStack(newStack).HasNoWarning(jsii.String("*"),
			assertions.Match_StringLikeRegexp(jsii.String(`.*CloudFormation-Validate::F3021.*`)))
	})
	expectValid(t, *awscdk.Stage_Of(restoredStack).Outdir())
}

func TestALogRetentionHasOneScopedRolePerStack(t *testing.T) {
	// GIVEN two clusters whose logs expire after a year
	stack := newStack(t, nil)
	p := clusterProps(stack)
	p.CloudwatchLogsRetention = awslogs.RetentionDays_ONE_YEAR
	for _, id := range []string{"Orders", "Billing"} {
		restorable.NewAuroraCluster(stack, jsii.String(id), &restorable.AuroraClusterProps{DatabaseClusterProps: p})
	}
	tmpl := templateJSON(t, stack)
	// THEN aws-cdk-lib's one LogRetention function per stack gets restorable's
	// role, and the second cluster adds no unused role
	assert.Len(t, underPath(tmpl, "AppStack/RestorableLogRetentionRole", "AWS::IAM::Role"), 1)
	_, retentions := resourcesOfType(t, tmpl, "Custom::LogRetention")
	require.Len(t, retentions, 2)
	assert.Equal(t, float64(365), props(retentions[0])["RetentionInDays"])
	assert.Equal(t, fmtJSON(props(retentions[0])["ServiceToken"]), fmtJSON(props(retentions[1])["ServiceToken"]))
	roleID, role := byPath(t, tmpl, "AppStack/RestorableLogRetentionRole")
	_, fn := resourceByID(t, tmpl, refOf(props(retentions[0])["ServiceToken"]))
	assert.Equal(t, roleID, roleOf(fn))
	// AND the role's statements are its own, inline, on the clusters' log
	// groups: aws-cdk-lib's statement on every log group ("*") is not added,
	// and there is no AWS-managed policy
	assert.NotContains(t, props(role), "ManagedPolicyArns")
	assert.Empty(t, statementsOf(t, tmpl, roleID), "no separate policy")
	statements := inlineStatements(t, role)
	policy := iamPolicy(statements)
	assert.True(t, policy.allows("logs:PutRetentionPolicy", "arn:aws:logs:ap-northeast-1:123456789012:log-group:/aws/rds/cluster/appstack-orders-1a2b3c/postgresql", nil))
	assert.False(t, policy.allows("logs:PutRetentionPolicy", "arn:aws:logs:ap-northeast-1:123456789012:log-group:audit-trail", nil))
	assert.False(t, policy.allows("logs:DeleteRetentionPolicy", "arn:aws:logs:ap-northeast-1:123456789012:log-group:/aws/lambda/payments", nil))
	for _, st := range statements {
		assert.NotEqual(t, "*", st["Resource"], "%v", st)
	}
}

func TestMisusedPropsFailWithSettingValueAndFix(t *testing.T) {
	tests := []struct {
		name   string
		modify func(p *restorable.AuroraClusterProps)
		want   []string
	}{
		{"fixed cluster identifier", func(p *restorable.AuroraClusterProps) { p.ClusterIdentifier = jsii.String("prod-db") },
			[]string{`restorable: AppStack/Database: ClusterIdentifier="prod-db"`, "names would collide", "Fix: remove ClusterIdentifier"}},
		{"removal policy destroy", func(p *restorable.AuroraClusterProps) { p.RemovalPolicy = awscdk.RemovalPolicy_DESTROY },
			[]string{`RemovalPolicy="DESTROY"`, "without a snapshot", "Fix: leave RemovalPolicy unset"}},
		{"generated secret", func(p *restorable.AuroraClusterProps) {
			p.Credentials = awsrds.Credentials_FromGeneratedSecret(jsii.String("app"), nil)
		}, []string{"Credentials: ask CDK to generate a secret", "set Adopt: true"}},
		{"unmanaged password without credentials", func(p *restorable.AuroraClusterProps) { p.ManageMasterUserPassword = jsii.Bool(false) },
			[]string{`ManageMasterUserPassword="false"`, "would not match", "Fix: leave ManageMasterUserPassword unset"}},
		{"backtrack on PostgreSQL", func(p *restorable.AuroraClusterProps) { p.BacktrackWindow = awscdk.Duration_Hours(jsii.Number(24)) },
			[]string{`BacktrackWindow="24 hours"`, "only supported by Aurora MySQL", "aurora-postgresql"}},
		{"backtrack over 72 hours", func(p *restorable.AuroraClusterProps) {
			p.Engine = awsrds.DatabaseClusterEngine_AuroraMysql(&awsrds.AuroraMysqlClusterEngineProps{Version: awsrds.AuroraMysqlEngineVersion_VER_3_08_0()})
			p.BacktrackWindow = awscdk.Duration_Hours(jsii.Number(73))
		}, []string{`BacktrackWindow="73 hours"`, "outside 0 to 72 hours"}},
		{"snapshot from another region", func(p *restorable.AuroraClusterProps) {
			p.Source = restorable.AuroraSource{SnapshotIdentifier: "arn:aws:rds:us-west-2:123456789012:cluster-snapshot:s1"}
		}, []string{"AppStack/Database: AuroraSource.SnapshotIdentifier=", "is in region us-west-2, but the stack deploys to ap-northeast-1", "copy-db-cluster-snapshot --region ap-northeast-1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stack := newStack(t, nil)
			p := &restorable.AuroraClusterProps{DatabaseClusterProps: clusterProps(stack)}
			tt.modify(p)
			msg := panicMessage(t, func() { restorable.NewAuroraCluster(stack, jsii.String("Database"), p) })
			for _, w := range tt.want {
				assert.Contains(t, msg, w)
			}
		})
	}
	stack := newStack(t, nil)
	assert.Contains(t, panicMessage(t, func() { restorable.NewAuroraCluster(stack, jsii.String("Database"), nil) }), "restorable: AppStack/Database: props: are nil")
}
