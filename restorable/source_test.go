package restorable

import (
	"regexp"
	"testing"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsrds"
	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// These tests are pure Go: they never start the jsii kernel.

func TestAuroraSourceResolveAcceptsEveryRealShape(t *testing.T) {
	tests := []struct {
		name       string
		give       AuroraSource
		region     string
		wantKind   SourceKind
		wantString string
	}{
		{"zero value is a new cluster", AuroraSource{}, "ap-northeast-1", KindNew, "new, empty cluster"},
		{"manual snapshot name", AuroraSource{SnapshotIdentifier: "before-incident"}, "ap-northeast-1", KindSnapshot, "snapshot before-incident"},
		{"automated snapshot name", AuroraSource{SnapshotIdentifier: "rds:app-db-2026-11-20-03-05"}, "", KindSnapshot, "snapshot rds:app-db-2026-11-20-03-05"},
		{"AWS Backup snapshot name", AuroraSource{SnapshotIdentifier: "awsbackup:job-be59cf2a-2343-4402-bd8b-226993d23453"}, "", KindSnapshot, "snapshot awsbackup:job-be59cf2a-2343-4402-bd8b-226993d23453"},
		{"snapshot ARN", AuroraSource{SnapshotIdentifier: "arn:aws:rds:ap-northeast-1:123456789012:cluster-snapshot:before-incident"}, "ap-northeast-1", KindSnapshot, "snapshot arn:aws:rds:ap-northeast-1:123456789012:cluster-snapshot:before-incident"},
		{"shared snapshot from another account", AuroraSource{SnapshotIdentifier: "arn:aws:rds:ap-northeast-1:210987654321:cluster-snapshot:shared-copy"}, "ap-northeast-1", KindSnapshot, "snapshot arn:aws:rds:ap-northeast-1:210987654321:cluster-snapshot:shared-copy"},
		{"AWS Backup recovery point of an Aurora cluster", AuroraSource{SnapshotIdentifier: "arn:aws:rds:ap-northeast-1:123456789012:cluster-snapshot:awsbackup:job-be59cf2a-2343-4402-bd8b-226993d23453"}, "ap-northeast-1", KindSnapshot, "snapshot arn:aws:rds:ap-northeast-1:123456789012:cluster-snapshot:awsbackup:job-be59cf2a-2343-4402-bd8b-226993d23453"},
		{"China partition", AuroraSource{SnapshotIdentifier: "arn:aws-cn:rds:cn-north-1:123456789012:cluster-snapshot:s1"}, "cn-north-1", KindSnapshot, "snapshot arn:aws-cn:rds:cn-north-1:123456789012:cluster-snapshot:s1"},
		{"GovCloud partition, environment-agnostic stack", AuroraSource{SnapshotIdentifier: "arn:aws-us-gov:rds:us-gov-west-1:123456789012:cluster-snapshot:s1"}, "", KindSnapshot, "snapshot arn:aws-us-gov:rds:us-gov-west-1:123456789012:cluster-snapshot:s1"},
		{"point in time, UTC", AuroraSource{RestoreToTime: "2026-11-20T10:15:22Z", SourceClusterIdentifier: "app-db-abc123"}, "", KindPointInTime, "point in time 2026-11-20T10:15:22Z of cluster app-db-abc123"},
		{"point in time, offset normalized to UTC", AuroraSource{RestoreToTime: "2026-11-20T19:15:22+09:00", SourceClusterIdentifier: "app-db-abc123"}, "", KindPointInTime, "point in time 2026-11-20T10:15:22Z of cluster app-db-abc123"},
		{"point in time, latest", AuroraSource{RestoreToTime: "latest", SourceClusterIdentifier: "app-db-abc123"}, "", KindPointInTime, "point in time the latest restorable time of cluster app-db-abc123"},
		{"point in time of a deleted cluster", AuroraSource{RestoreToTime: "2026-11-20T10:15:22Z", SourceClusterResourceID: "cluster-ABCDEFGHIJKLMNOPQRSTUVWXYZ"}, "", KindPointInTime, "point in time 2026-11-20T10:15:22Z of deleted cluster cluster-ABCDEFGHIJKLMNOPQRSTUVWXYZ"},
		{"point in time of a cluster in another account", AuroraSource{RestoreToTime: "latest", SourceClusterIdentifier: "arn:aws:rds:ap-northeast-1:210987654321:cluster:prod-db"}, "ap-northeast-1", KindPointInTime, "point in time the latest restorable time of cluster arn:aws:rds:ap-northeast-1:210987654321:cluster:prod-db"},
		{"clone", AuroraSource{Clone: true, SourceClusterIdentifier: "prod-db"}, "", KindClone, "clone of cluster prod-db"},
		{"token values are checked at deploy time", AuroraSource{SnapshotIdentifier: "${Token[TOKEN.123]}"}, "ap-northeast-1", KindSnapshot, "snapshot ${Token[TOKEN.123]}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.give.resolve(tt.region, testNow)
			require.NoError(t, err)
			assert.Equal(t, tt.wantKind, got.kind)
			assert.Equal(t, tt.wantKind, tt.give.Kind())
			assert.Equal(t, tt.wantString, got.String())
		})
	}
}

func TestAuroraSourceResolveRejectsBadInputWithValueAndFix(t *testing.T) {
	tests := []struct {
		name        string
		give        AuroraSource
		region      string
		wantSetting string
		wantProblem string
		wantFix     string
	}{
		{"instance snapshot", AuroraSource{SnapshotIdentifier: "arn:aws:rds:ap-northeast-1:123456789012:snapshot:mydb-snap"}, "", "AuroraSource.SnapshotIdentifier", "DB instance snapshot", "cluster-snapshot"},
		{"another service", AuroraSource{SnapshotIdentifier: "arn:aws:s3:::my-bucket"}, "", "AuroraSource.SnapshotIdentifier", "no region", "full ARN"},
		{"another service with region", AuroraSource{SnapshotIdentifier: "arn:aws:ec2:ap-northeast-1:123456789012:snapshot/snap-0123"}, "", "AuroraSource.SnapshotIdentifier", `"ec2" service`, "DB cluster snapshot"},
		{"EFS recovery point", AuroraSource{SnapshotIdentifier: "arn:aws:backup:ap-northeast-1:123456789012:recovery-point:1EB3B5E7-9EB0-435A-A80B-108B488B0D45"}, "", "AuroraSource.SnapshotIdentifier", "logically air-gapped vault", "efsRecoveryPointArn"},
		{"continuous backup recovery point", AuroraSource{SnapshotIdentifier: "arn:aws:backup:ap-northeast-1:123456789012:recovery-point:continuous:cluster-abc-1234"}, "", "AuroraSource.SnapshotIdentifier", "restored by time", "restoreToTime"},
		{"cluster ARN instead of snapshot", AuroraSource{SnapshotIdentifier: "arn:aws:rds:ap-northeast-1:123456789012:cluster:prod"}, "", "AuroraSource.SnapshotIdentifier", "DB cluster ARN", "restoreToTime"},
		{"malformed ARN", AuroraSource{SnapshotIdentifier: "arn:aws:rds:ap-northeast-1"}, "", "AuroraSource.SnapshotIdentifier", "not a valid ARN", "arn:<partition>"},
		{"invalid account", AuroraSource{SnapshotIdentifier: "arn:aws:rds:ap-northeast-1:12345:cluster-snapshot:s1"}, "", "AuroraSource.SnapshotIdentifier", "12-digit", "account ID"},
		{"unknown partition", AuroraSource{SnapshotIdentifier: "arn:aws-moon:rds:moon-1:123456789012:cluster-snapshot:s1"}, "", "AuroraSource.SnapshotIdentifier", "unknown partition", "aws-cn"},
		{"invalid snapshot name", AuroraSource{SnapshotIdentifier: "before_incident!"}, "", "AuroraSource.SnapshotIdentifier", "not a valid DB cluster snapshot identifier", "describe-db-cluster-snapshots"},
		{"name with double hyphen", AuroraSource{SnapshotIdentifier: "before--incident"}, "", "AuroraSource.SnapshotIdentifier", "not a valid", "describe-db-cluster-snapshots"},
		{"invalid name inside ARN", AuroraSource{SnapshotIdentifier: "arn:aws:rds:ap-northeast-1:123456789012:cluster-snapshot:-bad"}, "", "AuroraSource.SnapshotIdentifier", "not a valid", "describe-db-cluster-snapshots"},
		{"blank name", AuroraSource{SnapshotIdentifier: "  "}, "", "AuroraSource.SnapshotIdentifier", "is empty", "leave the setting out"},
		{"spaces around name", AuroraSource{SnapshotIdentifier: " snap "}, "", "AuroraSource.SnapshotIdentifier", "spaces", "remove the spaces"},
		{"snapshot in another region", AuroraSource{SnapshotIdentifier: "arn:aws:rds:us-east-1:123456789012:cluster-snapshot:s1"}, "ap-northeast-1", "AuroraSource.SnapshotIdentifier", "region us-east-1, but the stack deploys to ap-northeast-1", "copy-db-cluster-snapshot --region ap-northeast-1"},
		{"snapshot and time conflict", AuroraSource{SnapshotIdentifier: "s1", RestoreToTime: "latest"}, "", "AuroraSource.SnapshotIdentifier", `conflicts with AuroraSource.RestoreToTime="latest"`, "keep the snapshot"},
		{"snapshot and clone conflict", AuroraSource{SnapshotIdentifier: "s1", Clone: true, SourceClusterIdentifier: "prod"}, "", "AuroraSource.SnapshotIdentifier", "AuroraSource.Clone", "keep the snapshot"},
		{"two source clusters", AuroraSource{RestoreToTime: "latest", SourceClusterIdentifier: "a", SourceClusterResourceID: "cluster-ABC"}, "", "AuroraSource.SourceClusterIdentifier", "more than one source cluster", "exactly once"},
		{"time without source", AuroraSource{RestoreToTime: "2026-11-20T10:15:22Z"}, "", "AuroraSource.RestoreToTime", "no cluster to restore from", "ClusterIdentifier"},
		{"source without time", AuroraSource{SourceClusterIdentifier: "prod"}, "", "AuroraSource.SourceClusterIdentifier", "neither a time nor a clone", "AuroraSource.RestoreToTime=<RFC 3339 time or latest>"},
		{"time without zone", AuroraSource{RestoreToTime: "2026-11-20T10:15:22", SourceClusterIdentifier: "prod"}, "", "AuroraSource.RestoreToTime", "RFC 3339", "2026-11-20T10:15:22Z"},
		{"date only", AuroraSource{RestoreToTime: "2026-11-20", SourceClusterIdentifier: "prod"}, "", "AuroraSource.RestoreToTime", "RFC 3339", "+09:00"},
		{"space instead of T", AuroraSource{RestoreToTime: "2026-11-20 10:15:22Z", SourceClusterIdentifier: "prod"}, "", "AuroraSource.RestoreToTime", "RFC 3339", "latest"},
		{"fractional seconds", AuroraSource{RestoreToTime: "2026-11-20T10:15:22.750Z", SourceClusterIdentifier: "prod"}, "", "AuroraSource.RestoreToTime", "fractional seconds", "2026-11-20T10:15:22Z"},
		{"clone with time", AuroraSource{Clone: true, RestoreToTime: "latest", SourceClusterIdentifier: "prod"}, "", "AuroraSource.RestoreToTime", "clone is always of its source's current data", "remove AuroraSource.RestoreToTime"},
		{"clone of deleted cluster", AuroraSource{Clone: true, SourceClusterResourceID: "cluster-ABC"}, "", "AuroraSource.SourceClusterResourceID", "cannot be cloned", "point in time"},
		{"clone without source", AuroraSource{Clone: true}, "", "AuroraSource.Clone", "no source cluster", "AuroraSource.SourceClusterIdentifier"},
		{"invalid source identifier", AuroraSource{RestoreToTime: "latest", SourceClusterIdentifier: "1-prod"}, "", "AuroraSource.SourceClusterIdentifier", "not a valid DB cluster identifier", "ClusterIdentifier"},
		{"source cluster ARN of a snapshot", AuroraSource{RestoreToTime: "latest", SourceClusterIdentifier: "arn:aws:rds:ap-northeast-1:123456789012:cluster-snapshot:s"}, "", "AuroraSource.SourceClusterIdentifier", "not a DB cluster ARN", "arn:aws:rds:<region>:<account>:cluster:<identifier>"},
		{"source cluster in another region", AuroraSource{RestoreToTime: "latest", SourceClusterIdentifier: "arn:aws:rds:us-east-1:123456789012:cluster:prod"}, "ap-northeast-1", "AuroraSource.SourceClusterIdentifier", "region us-east-1", "deploy the restore in us-east-1"},
		{"invalid resource ID", AuroraSource{RestoreToTime: "latest", SourceClusterResourceID: "db-ABC"}, "", "AuroraSource.SourceClusterResourceID", "not a DB cluster resource ID", "describe-db-cluster-automated-backups"},
		{"snapshot ARN in quotes", AuroraSource{SnapshotIdentifier: `"arn:aws:rds:ap-northeast-1:123456789012:cluster-snapshot:s1"`}, "", "AuroraSource.SnapshotIdentifier", "wrapped in quotes", "remove the quotes"},
		{"snapshot name in single quotes", AuroraSource{SnapshotIdentifier: `'before-incident'`}, "", "AuroraSource.SnapshotIdentifier", "wrapped in quotes", "=before-incident'"},
		{"time in quotes", AuroraSource{RestoreToTime: `"2026-11-20T10:15:22Z"`, SourceClusterIdentifier: "prod"}, "", "AuroraSource.RestoreToTime", "wrapped in quotes", "remove the quotes"},
		{"source in quotes", AuroraSource{RestoreToTime: "latest", SourceClusterIdentifier: `"prod"`}, "", "AuroraSource.SourceClusterIdentifier", "wrapped in quotes", "remove the quotes"},
		{"a time in the future", AuroraSource{RestoreToTime: "2026-12-01T10:15:22Z", SourceClusterIdentifier: "prod"}, "", "AuroraSource.RestoreToTime", "is in the future (this machine's clock says it is now 2026-11-22T12:00:00Z)", "the last second before the incident"},
		{"a second in the future", AuroraSource{RestoreToTime: "2026-11-22T21:00:01+09:00", SourceClusterIdentifier: "prod"}, "", "AuroraSource.RestoreToTime", "is in the future", "latest"},
		{"older than Aurora keeps backups", AuroraSource{RestoreToTime: "2026-10-11T12:00:00Z", SourceClusterIdentifier: "prod"}, "", "AuroraSource.RestoreToTime", "is 42 days ago (this machine's clock says it is now 2026-11-22T12:00:00Z), and Aurora keeps continuous backups for at most 35 days", "restore a snapshot"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.give.resolve(tt.region, testNow)
			require.Error(t, err)
			var ie *InputError
			require.ErrorAs(t, err, &ie)
			assert.Equal(t, tt.wantSetting, ie.Setting)
			assert.Contains(t, ie.Problem, tt.wantProblem)
			assert.Contains(t, ie.Fix, tt.wantFix)
			assert.Contains(t, err.Error(), "restorable: "+tt.wantSetting)
		})
	}
}

func TestErrorMessageNamesValueAndFix(t *testing.T) {
	_, err := AuroraSource{SnapshotIdentifier: "arn:aws:rds:ap-northeast-1:123456789012:snapshot:mydb"}.resolve("", testNow)
	require.Error(t, err)
	assert.Equal(t,
		`restorable: AuroraSource.SnapshotIdentifier="arn:aws:rds:ap-northeast-1:123456789012:snapshot:mydb": is a DB instance snapshot, and an Aurora cluster restores from DB cluster snapshots. Fix: use a cluster snapshot ARN (…:cluster-snapshot:<name>); to move an RDS instance into Aurora, first migrate its snapshot (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/AuroraMySQL.Migrating.RDSMySQL.Snapshot.html)`,
		err.Error())
}

// testNow is the clock of these tests.
var testNow = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

func TestRestoreTimeWarnings(t *testing.T) {
	resolve := func(at string) resolvedSource {
		r, err := AuroraSource{RestoreToTime: at, SourceClusterIdentifier: "prod"}.resolve("", testNow)
		require.NoError(t, err)
		return r
	}
	tests := []struct {
		give string
		want []string
	}{
		{"2026-11-20T10:15:22Z", nil},
		{"latest", nil},
		{"2026-11-22T13:00:00+09:00", nil}, // 04:00 UTC, in the past
		{"2026-11-22T11:58:00Z", []string{"is less than five minutes ago (this machine's clock says it is now 2026-11-22T12:00:00Z)", "LatestRestorableTime"}},
		{"2026-11-10T12:00:00Z", []string{"is 12 days ago", "longer than this cluster's backup retention of 7 days", "EarliestRestorableTime"}},
		{"2026-10-20T12:00:00Z", []string{"is 33 days ago"}},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			got := resolve(tt.give).warnings(AuroraSource{}.settings().restoreToTime, testNow, 7)
			if tt.want == nil {
				assert.Empty(t, got)
				return
			}
			require.Len(t, got, 1)
			for _, w := range tt.want {
				assert.Contains(t, got[0], w)
			}
		})
	}
}

func TestContextValuesNameTheirKeys(t *testing.T) {
	names := sourceSettings{snapshot: "AppStack/Database.snapshotArn", restoreToTime: "restoreToTime", sourceCluster: "restoreSourceCluster"}
	_, err := AuroraSource{RestoreToTime: "2026-12-01T10:15:22Z", SourceClusterIdentifier: "prod", from: &names}.resolve("", testNow)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `restorable: restoreToTime="2026-12-01T10:15:22Z": is in the future`)
	assert.True(t, AuroraSource{from: &names}.IsZero(), "where the values came from is not a value")
}

// fakeEngine stands in for an awsrds engine, so props validate without jsii.
type fakeEngine struct{ awsrds.IClusterEngine }

func TestPropsValidateWithoutJsii(t *testing.T) {
	engine := fakeEngine{}
	tests := []struct {
		name string
		give AuroraClusterProps
		want string
	}{
		{"no engine", AuroraClusterProps{}, "restorable: Engine: is not set. Fix: set Engine"},
		{"fixed identifier", AuroraClusterProps{DatabaseClusterProps: awsrds.DatabaseClusterProps{Engine: engine, ClusterIdentifier: jsii.String("prod-db")}},
			`restorable: ClusterIdentifier="prod-db": fixes the cluster's name, but a restore replaces the cluster`},
		{"fixed identifier, adopted, with a restore", AuroraClusterProps{DatabaseClusterProps: awsrds.DatabaseClusterProps{Engine: engine, ClusterIdentifier: jsii.String("prod-db")},
			Adopt: true, Source: AuroraSource{SnapshotIdentifier: "before-incident"}},
			`restorable: ClusterIdentifier="prod-db": is set together with a restore source`},
		{"removal policy destroy", AuroraClusterProps{DatabaseClusterProps: awsrds.DatabaseClusterProps{Engine: engine, RemovalPolicy: awscdk.RemovalPolicy_DESTROY}},
			`restorable: RemovalPolicy="DESTROY": would delete the cluster's data`},
		{"read replica", AuroraClusterProps{DatabaseClusterProps: awsrds.DatabaseClusterProps{Engine: engine, ReplicationSourceIdentifier: jsii.String("src")}},
			`restorable: ReplicationSourceIdentifier="src": makes the cluster a read replica`},
		{"consent that is no cluster identifier", AuroraClusterProps{DatabaseClusterProps: awsrds.DatabaseClusterProps{Engine: engine}, AllowReplace: "1-cluster"},
			`restorable: AllowReplace="1-cluster": is not a valid DB cluster identifier`},
		{"a bad source", AuroraClusterProps{DatabaseClusterProps: awsrds.DatabaseClusterProps{Engine: engine}, Source: AuroraSource{SnapshotIdentifier: "a b"}},
			`restorable: AuroraSource.SnapshotIdentifier="a b": is not a valid DB cluster snapshot identifier`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.give.validate("", testNow)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
	src, err := AuroraClusterProps{DatabaseClusterProps: awsrds.DatabaseClusterProps{Engine: engine}, AllowReplace: "appstack-database-1abc",
		Source: AuroraSource{SnapshotIdentifier: "before-incident"}}.validate("", testNow)
	require.NoError(t, err)
	assert.Equal(t, KindSnapshot, src.kind)
	// An adopted cluster keeps the fixed name it was created with.
	_, err = AuroraClusterProps{DatabaseClusterProps: awsrds.DatabaseClusterProps{Engine: engine, ClusterIdentifier: jsii.String("prod-db")}, Adopt: true}.validate("", testNow)
	require.NoError(t, err)
}

func TestEFSRecoveryPointValidation(t *testing.T) {
	const good = "arn:aws:backup:ap-northeast-1:123456789012:recovery-point:1EB3B5E7-9EB0-435A-A80B-108B488B0D45"
	p, err := parseRecoveryPoint("efsRecoveryPointArn", good, "ap-northeast-1")
	require.NoError(t, err)
	assert.Equal(t, "1EB3B5E7-9EB0-435A-A80B-108B488B0D45", p.ID)
	_, err = parseRecoveryPoint("efsRecoveryPointArn", good, "")
	require.NoError(t, err)
	tests := []struct {
		give, region, problem, fix string
	}{
		{"", "", "is empty", "leave the setting out"},
		{`"` + good + `"`, "", "wrapped in quotes", "remove the quotes"},
		{"arn:aws:rds:ap-northeast-1:123456789012:cluster-snapshot:awsbackup:job-1", "", "recovery point of an Aurora cluster", "snapshotArn"},
		{"arn:aws:s3:ap-northeast-1:123456789012:bucket", "", "not an AWS Backup recovery point ARN", "ListRecoveryPointsCommand"},
		{"arn:aws:backup:ap-northeast-1:123456789012:backup-vault:v", "", "not an AWS Backup recovery point ARN", "recovery-point:<ID>"},
		{"arn:aws:backup:ap-northeast-1:123456789012:recovery-point:continuous:cluster-abc", "", "continuous backup", "ListRecoveryPointsCommand"},
		{"arn:aws:backup:ap-northeast-1:123456789012:recovery-point:not-a-uuid", "", "does not end in the ID of an EFS recovery point", "list-recovery-points-by-resource"},
		{"arn:aws:backup:ap-northeast-1:123456789012:recovery-point:../../x", "", "does not end in the ID of an EFS recovery point", "list-recovery-points-by-resource"},
		{"arn:aws:backup:us-east-1:123456789012:recovery-point:1EB3B5E7-9EB0-435A-A80B-108B488B0D45", "ap-northeast-1", "is in region us-east-1, but the stack deploys to ap-northeast-1", "aws backup start-copy-job"},
		{"recovery-point:1EB3B5E7", "", "not a valid ARN", "list-recovery-points-by-resource"},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			_, err := parseRecoveryPoint("efsRecoveryPointArn", tt.give, tt.region)
			var ie *InputError
			require.ErrorAs(t, err, &ie)
			assert.Equal(t, "efsRecoveryPointArn", ie.Setting)
			assert.Contains(t, ie.Problem, tt.problem)
			assert.Contains(t, ie.Fix, tt.fix)
		})
	}
}

func TestNearKeysAreCaught(t *testing.T) {
	tests := []struct{ give, want string }{
		{"snapshotARN", "snapshotArn"},
		{"snapshot_arn", "snapshotArn"},
		{"SnapshotArn", "snapshotArn"},
		{"snapshot-arn", "snapshotArn"},
		{"restoreTime", "restoreToTime"},
		{"restoreToTimes", "restoreToTime"},
		{"restoreSourceClusterId", "restoreSourceCluster"},
		{"allow_replace", "allowReplace"},
		{"cloneSourceClusters", "cloneSourceCluster"},
		{"efsRecoveryPointAr", "efsRecoveryPointArn"},
		{"efsRecoveryPointARN", "efsRecoveryPointArn"},
		// other tools' keys stay untouched
		{"primaryRegion", ""},
		{"@aws-cdk/core:target-partitions", ""},
		{"aws:cdk:enable-path-metadata", ""},
		{"snapshot", ""},
		{"stage", ""},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, nearKey(tt.give), tt.give)
	}
	assert.Equal(t, 2, editDistance("restoretime", "restoretotime"))
	assert.Equal(t, "snapshotArn", nearest("SnapshotArn", keysFor(kindAuroraCluster)))
}

func TestNamePatterns(t *testing.T) {
	for _, tt := range []struct {
		give    string
		pattern *regexp.Regexp
		want    bool
	}{
		{"ap-northeast-3", regionName, true},
		{"us-gov-west-1", regionName, true},
		{"osaka", regionName, false},
		{"ap-northeast-3a", regionName, false},
		{"redmine-dr", vaultNamePattern, true},
		{"redmine_dr_2", vaultNamePattern, true},
		{"redmine dr", vaultNamePattern, false},
		{"r", vaultNamePattern, false},
		{"database", recordLabel, true},
		{"db.orders", recordLabel, true},
		{"db_writer", recordLabel, false},
		{"-db", recordLabel, false},
		{"db.", recordLabel, false},
	} {
		assert.Equal(t, tt.want, tt.pattern.MatchString(tt.give), "%s against %s", tt.give, tt.pattern)
	}
}
