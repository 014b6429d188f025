package guard

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restorable-cdk/restorable/internal/contract"
)

var (
	pointInTime = map[string]interface{}{"RestoreType": "full-copy", "SourceDBClusterIdentifier": "db-1", "RestoreToTime": "2026-11-20T10:15:22Z"}
	clone       = map[string]interface{}{"RestoreType": "copy-on-write", "SourceDBClusterIdentifier": "prod", "UseLatestRestorableTime": "true"}
	snapshotB   = map[string]interface{}{"SnapshotIdentifier": "arn:aws:rds:ap-northeast-1:123456789012:cluster-snapshot:b"}
	createOnly  = map[string]interface{}{"KmsKeyId": "arn:aws:kms:ap-northeast-1:123456789012:key/1", "DBSubnetGroupName": "sg-1", "Engine": "aurora-postgresql"}
)

func with(m map[string]interface{}, k string, v interface{}) map[string]interface{} {
	out := map[string]interface{}{}
	for key, val := range m {
		out[key] = val
	}
	if v == nil {
		delete(out, k)
	} else {
		out[k] = v
	}
	return out
}

func TestDecideEveryTransitionInBothDirections(t *testing.T) {
	otherKey := with(createOnly, "KmsKeyId", "arn:aws:kms:ap-northeast-1:123456789012:key/2")
	withDBName := with(createOnly, "DatabaseName", "app")
	inGlobal := with(createOnly, "GlobalClusterIdentifier", "orders-global")
	fsCreateOnly := map[string]interface{}{"Encrypted": "true"}
	files := func(co map[string]interface{}) Resource {
		return Resource{Path: "AppStack/Files", Type: contract.TypeFileSystem, Source: map[string]interface{}{}, CreateOnly: co}
	}
	tests := []struct {
		name        string
		old, new    Resource
		want        Verdict
		wantMessage string
	}{
		{"plain redeploy", cluster(noSource, createOnly), cluster(noSource, createOnly), Allow, "neither the restore source nor a create-only property changed"},
		{"same snapshot again", cluster(snapshotA, createOnly), cluster(snapshotA, createOnly), Allow, "neither"},
		{"new to snapshot", cluster(noSource, createOnly), cluster(snapshotA, createOnly), Allow, "a restore was asked for: source none -> SnapshotIdentifier="},
		{"snapshot to none", cluster(snapshotA, createOnly), cluster(noSource, createOnly), NeedsConsent, "the restore source was removed (it was SnapshotIdentifier=arn:aws:rds:ap-northeast-1:123456789012:cluster-snapshot:a). CloudFormation would create a new, EMPTY AWS::RDS::DBCluster"},
		{"snapshot to another snapshot", cluster(snapshotA, createOnly), cluster(snapshotB, createOnly), Allow, "cluster-snapshot:a -> SnapshotIdentifier=arn:aws:rds:ap-northeast-1:123456789012:cluster-snapshot:b"},
		{"another snapshot back to the first", cluster(snapshotB, createOnly), cluster(snapshotA, createOnly), Allow, "a restore was asked for"},
		{"new to point in time", cluster(noSource, createOnly), cluster(pointInTime, createOnly), Allow, "RestoreToTime=2026-11-20T10:15:22Z"},
		{"point in time to none", cluster(pointInTime, createOnly), cluster(noSource, createOnly), NeedsConsent, "the restore source was removed"},
		{"point in time to snapshot", cluster(pointInTime, createOnly), cluster(snapshotA, createOnly), Allow, "a restore was asked for"},
		{"snapshot to point in time", cluster(snapshotA, createOnly), cluster(pointInTime, createOnly), Allow, "a restore was asked for"},
		{"new to clone", cluster(noSource, createOnly), cluster(clone, createOnly), Allow, "RestoreType=copy-on-write"},
		{"clone to none", cluster(clone, createOnly), cluster(noSource, createOnly), NeedsConsent, "the restore source was removed"},
		{"key changed", cluster(noSource, createOnly), cluster(noSource, otherKey), NeedsConsent, "create-only properties changed (KmsKeyId: arn:aws:kms:ap-northeast-1:123456789012:key/1 -> arn:aws:kms:ap-northeast-1:123456789012:key/2)"},
		{"key changed back", cluster(noSource, otherKey), cluster(noSource, createOnly), NeedsConsent, "KmsKeyId: arn:aws:kms:ap-northeast-1:123456789012:key/2 -> arn:aws:kms:ap-northeast-1:123456789012:key/1"},
		{"create-only added", cluster(noSource, createOnly), cluster(noSource, withDBName), NeedsConsent, "DatabaseName: (not set) -> app"},
		{"create-only removed", cluster(noSource, withDBName), cluster(noSource, createOnly), NeedsConsent, "DatabaseName: app -> (not set)"},
		{"key changed while restored", cluster(snapshotA, createOnly), cluster(snapshotA, otherKey), NeedsConsent, "create-only properties changed"},
		{"key changed with a new restore", cluster(noSource, createOnly), cluster(snapshotA, otherKey), Allow, "the restored resource also takes the changed create-only properties (KmsKeyId:"},
		{"source dropped and key changed", cluster(snapshotA, createOnly), cluster(noSource, otherKey), NeedsConsent, "the restore source was removed"},
		// A global database's secondary: removing GlobalClusterIdentifier
		// detaches it in place (consent: a second writer); setting or
		// changing it replaces the cluster.
		{"secondary detached", cluster(noSource, inGlobal), cluster(noSource, createOnly), NeedsConsent, "GlobalClusterIdentifier was removed: CloudFormation detaches the cluster from its global database (RemoveFromGlobalCluster) and keeps its data, but it then accepts writes"},
		{"cluster joins a global database", cluster(noSource, createOnly), cluster(noSource, inGlobal), NeedsConsent, "GlobalClusterIdentifier: (not set) -> orders-global"},
		{"secondary moved to another global database", cluster(noSource, inGlobal), cluster(noSource, with(createOnly, "GlobalClusterIdentifier", "other")), NeedsConsent, "GlobalClusterIdentifier: orders-global -> other"},
		{"a file system becomes a replica", files(fsCreateOnly), files(with(fsCreateOnly, "ReplicationOverwriteProtection", "DISABLED")), NeedsConsent, "the file system becomes a replica (replication overwrite protection DISABLED): it turns read-only, and EFS replaces its content"},
		{"a replica is protected again", files(with(fsCreateOnly, "ReplicationOverwriteProtection", "DISABLED")), files(fsCreateOnly), Allow, "neither"},
		{"a file system starts replicating", files(fsCreateOnly), files(with(fsCreateOnly, "ReplicationDestination", "fs-0a1b2c3d@ap-northeast-3")), Allow, "neither"},
		{"a replication ends", files(with(fsCreateOnly, "ReplicationDestination", "fs-0a1b2c3d@ap-northeast-3")), files(fsCreateOnly), NeedsConsent, "its replication to fs-0a1b2c3d@ap-northeast-3 ends or moves"},
		{"a replication moves", files(with(fsCreateOnly, "ReplicationDestination", "fs-0a1b2c3d@ap-northeast-3")), files(with(fsCreateOnly, "ReplicationDestination", "fs-99999999@ap-northeast-3")), NeedsConsent, "ends or moves"},
		{"secondary detached and key changed", cluster(noSource, inGlobal), cluster(noSource, otherKey), NeedsConsent, "KmsKeyId:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Decide(tt.old, tt.new)
			assert.Equal(t, tt.want, d.Verdict)
			if tt.want == Allow {
				assert.Contains(t, d.Reason, tt.wantMessage)
			} else {
				assert.Contains(t, d.Danger, tt.wantMessage)
			}
		})
	}
}

func TestParsePropsReadsWhatCloudFormationSends(t *testing.T) {
	p, err := ParseProps(raw(one(cluster(snapshotA, createOnly)), map[string]string{"AppStack/Database": "db-1"}, "PlainDb1"))
	require.NoError(t, err)
	assert.Equal(t, "AppStack", p.Stack)
	assert.Equal(t, cluster(snapshotA, createOnly), p.Resources[clusterID])
	assert.Equal(t, map[string]bool{clusterID: true, "PlainDb1": true}, p.Present)
	assert.Equal(t, map[string]string{"AppStack/Database": "db-1"}, p.Consent)

	for _, bad := range []map[string]interface{}{
		{contract.GuardResources: "x"},
		{contract.GuardResources: map[string]interface{}{clusterID: map[string]interface{}{contract.GuardType: contract.TypeDBCluster}}},
		{contract.GuardPresent: "x"},
		{contract.GuardConsent: []interface{}{"x"}},
	} {
		_, err := ParseProps(bad)
		assert.Error(t, err, "%v", bad)
	}
}

func TestCompareLiveUsesTheHandlersDefaults(t *testing.T) {
	live := Live{"Engine": "aurora-postgresql", "EngineMode": "provisioned", "MasterUsername": "postgres", "StorageEncrypted": "false",
		"DBSubnetGroupName": "appstack-subnets-1", "DBClusterIdentifier": "appstack-db-1"}
	tests := []struct {
		give map[string]interface{}
		want []string
	}{
		{map[string]interface{}{"Engine": "aurora-postgresql", "DBSubnetGroupName": "AppStack-Subnets-1"}, nil},
		{map[string]interface{}{"EngineMode": "serverless"}, []string{"EngineMode: live provisioned, template serverless"}},
		{map[string]interface{}{"DatabaseName": "app"}, []string{"DatabaseName: live (not set), template app"}},
		{map[string]interface{}{"MasterUsername": "admin"}, []string{"MasterUsername: live postgres, template admin"}},
		{map[string]interface{}{"MasterUsername": "{{resolve:secretsmanager:s:SecretString:username::}}"}, nil},
		{map[string]interface{}{"KmsKeyId": "alias/aws/rds"}, nil},
		{map[string]interface{}{"DBClusterIdentifier": "other"}, []string{"DBClusterIdentifier: live appstack-db-1, template other"}},
	}
	for _, tt := range tests {
		var got []string
		for _, d := range CompareLive(Resource{Type: contract.TypeDBCluster, CreateOnly: tt.give}, live) {
			got = append(got, d.String())
		}
		assert.Equal(t, tt.want, got, "%v", tt.give)
	}
	// A database name on the live cluster that the template leaves out: the
	// cluster was made with one, or restored, and either way the template
	// would replace it.
	got := CompareLive(Resource{Type: contract.TypeDBCluster, CreateOnly: map[string]interface{}{}}, Live{"DatabaseName": "redmine", "EngineMode": "provisioned"})
	require.Len(t, got, 1)
	assert.Equal(t, "DatabaseName: live redmine, template (not set)", got[0].String())
}
