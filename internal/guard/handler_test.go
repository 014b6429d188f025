package guard

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/cfn"
	"github.com/aws/aws-sdk-go-v2/service/backup"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/efs"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restorable-cdk/restorable/internal/awstest"
	"github.com/restorable-cdk/restorable/internal/contract"
)

const (
	stackID   = "arn:aws:cloudformation:ap-northeast-1:123456789012:stack/AppStack/6f1e0a30-c7d1-11ee-8c1e-0a1b2c3d4e5f"
	clusterID = "DatabaseB269D8BB"
	filesID   = "FilesFC6B6BA4"
	keyArn    = "arn:aws:kms:ap-northeast-1:123456789012:key/1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d"
	otherKey  = "arn:aws:kms:ap-northeast-1:123456789012:key/9f8e7d6c-5b4a-3f2e-1d0c-9b8a7f6e5d4c"
)

// stackResource is one resource of the fake stack.
type fakeResource struct {
	typ, physical, status, path string
}

// world is the account the guard runs in: its stack and the live resources,
// served through the real SDK clients.
type world struct {
	status    string
	resources map[string]fakeResource
	clusters  map[string]string // identifier -> DBCluster XML body
	files     map[string]map[string]interface{}
	globals   map[string]string // identifier -> GlobalCluster XML body
	cfnError  *awstest.Response

	cfnServer, rdsServer, efsServer, backupServer *awstest.Server
}

func newWorld(t *testing.T) (*world, Clients) {
	t.Helper()
	w := &world{status: "UPDATE_IN_PROGRESS", resources: map[string]fakeResource{}, clusters: map[string]string{}, files: map[string]map[string]interface{}{}, globals: map[string]string{}}
	// CloudFormation, query protocol:
	// https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DescribeStacks.html,
	// API_ListStackResources.html, API_DescribeStackResource.html.
	w.cfnServer = awstest.NewServer(t, func(r awstest.Request) awstest.Response {
		if w.cfnError != nil {
			return *w.cfnError
		}
		switch r.Operation {
		case "DescribeStacks":
			return awstest.QueryXML(awstest.CloudFormationNS, "DescribeStacks", fmt.Sprintf(
				`<Stacks><member><StackName>AppStack</StackName><StackId>%s</StackId><CreationTime>2026-10-01T09:00:00Z</CreationTime><StackStatus>%s</StackStatus></member></Stacks>`,
				stackID, w.status))
		case "ListStackResources":
			var b strings.Builder
			for id, res := range w.resources {
				fmt.Fprintf(&b, `<member><LogicalResourceId>%s</LogicalResourceId><PhysicalResourceId>%s</PhysicalResourceId><ResourceType>%s</ResourceType><LastUpdatedTimestamp>2026-10-01T09:10:00Z</LastUpdatedTimestamp><ResourceStatus>%s</ResourceStatus></member>`,
					id, res.physical, res.typ, res.status)
			}
			return awstest.QueryXML(awstest.CloudFormationNS, "ListStackResources", "<StackResourceSummaries>"+b.String()+"</StackResourceSummaries>")
		case "DescribeStackResource":
			id := r.Form.Get("LogicalResourceId")
			res, ok := w.resources[id]
			if !ok {
				return awstest.QueryError(400, "ValidationError", "Resource "+id+" does not exist for stack AppStack")
			}
			meta, _ := json.Marshal(map[string]string{"aws:cdk:path": res.path})
			return awstest.QueryXML(awstest.CloudFormationNS, "DescribeStackResource", fmt.Sprintf(
				`<StackResourceDetail><StackName>AppStack</StackName><StackId>%s</StackId><LogicalResourceId>%s</LogicalResourceId><PhysicalResourceId>%s</PhysicalResourceId><ResourceType>%s</ResourceType><LastUpdatedTimestamp>2026-10-01T09:10:00Z</LastUpdatedTimestamp><ResourceStatus>%s</ResourceStatus><Metadata>%s</Metadata></StackResourceDetail>`,
				stackID, id, res.physical, res.typ, res.status, xmlEscape(string(meta))))
		}
		return awstest.QueryError(400, "InvalidAction", r.Operation)
	})
	// RDS, query protocol: https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DescribeDBClusters.html,
	// API_DescribeGlobalClusters.html
	w.rdsServer = awstest.NewServer(t, func(r awstest.Request) awstest.Response {
		if r.Operation == "DescribeGlobalClusters" {
			body, ok := w.globals[r.Form.Get("GlobalClusterIdentifier")]
			if !ok {
				return awstest.QueryError(404, "GlobalClusterNotFoundFault", "GlobalCluster "+r.Form.Get("GlobalClusterIdentifier")+" not found")
			}
			return awstest.QueryXML(awstest.RDSNS, "DescribeGlobalClusters", "<GlobalClusters><GlobalClusterMember>"+body+"</GlobalClusterMember></GlobalClusters>")
		}
		if r.Operation != "DescribeDBClusters" {
			return awstest.QueryError(400, "InvalidAction", r.Operation)
		}
		body, ok := w.clusters[r.Form.Get("DBClusterIdentifier")]
		if !ok {
			return awstest.QueryError(404, "DBClusterNotFoundFault", "DBCluster "+r.Form.Get("DBClusterIdentifier")+" not found.")
		}
		return awstest.QueryXML(awstest.RDSNS, "DescribeDBClusters", "<DBClusters><DBCluster>"+body+"</DBCluster></DBClusters>")
	})
	// Amazon EFS, REST-JSON: https://docs.aws.amazon.com/efs/latest/ug/API_DescribeFileSystems.html
	w.efsServer = awstest.NewServer(t, func(r awstest.Request) awstest.Response {
		fs, ok := w.files[r.Query.Get("FileSystemId")]
		if r.Operation != "GET /2015-02-01/file-systems" || !ok {
			return awstest.JSONError(404, "FileSystemNotFound", "File system '"+r.Query.Get("FileSystemId")+"' does not exist.")
		}
		return awstest.JSON(map[string]interface{}{"FileSystems": []interface{}{fs}})
	})
	// AWS Backup, REST-JSON: https://docs.aws.amazon.com/aws-backup/latest/devguide/API_DescribeBackupVault.html
	w.backupServer = awstest.NewServer(t, func(r awstest.Request) awstest.Response {
		name := strings.TrimPrefix(r.Operation, "GET /backup-vaults/")
		return awstest.JSON(map[string]interface{}{"BackupVaultName": name, "BackupVaultArn": "arn:aws:backup:ap-northeast-1:123456789012:backup-vault:" + name,
			"EncryptionKeyArn": keyArn, "CreationDate": 1.7e9, "NumberOfRecoveryPoints": 3})
	})
	return w, Clients{
		CloudFormation: cloudformation.NewFromConfig(awstest.Config(w.cfnServer.URL)),
		RDS:            rds.NewFromConfig(awstest.Config(w.rdsServer.URL)),
		EFS:            efs.NewFromConfig(awstest.Config(w.efsServer.URL)),
		Backup:         backup.NewFromConfig(awstest.Config(w.backupServer.URL)),
	}
}

func xmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace(s)
}

// liveCluster is an Aurora PostgreSQL cluster as a plain awsrds.DatabaseCluster
// with default props creates it: unencrypted, master user postgres.
const liveCluster = `<DBClusterIdentifier>appstack-databaseb269d8bb-0abcdefghijk</DBClusterIdentifier><Engine>aurora-postgresql</Engine><EngineVersion>16.4</EngineVersion>
<EngineMode>provisioned</EngineMode><MasterUsername>postgres</MasterUsername><StorageEncrypted>false</StorageEncrypted>
<DBSubnetGroup>appstack-databasesubnetscab2d5d2-kmbtwpuu5ti2</DBSubnetGroup><Status>available</Status><Port>5432</Port>`

// restoredCluster is a cluster restorable restored from a snapshot: encrypted
// with the stack's key, its database name and master user the snapshot's.
const restoredCluster = `<DBClusterIdentifier>appstack-databaseb269d8bb-0abcdefghijk</DBClusterIdentifier><Engine>aurora-postgresql</Engine><EngineVersion>16.4</EngineVersion>
<EngineMode>provisioned</EngineMode><MasterUsername>clusteradmin</MasterUsername><DatabaseName>redmine</DatabaseName><StorageEncrypted>true</StorageEncrypted>
<KmsKeyId>` + keyArn + `</KmsKeyId><DBSubnetGroup>appstack-databasesubnetscab2d5d2-kmbtwpuu5ti2</DBSubnetGroup><Status>available</Status><Port>5432</Port>
<TagList><Tag><Key>restorable:restored-from</Key><Value>snapshot</Value></Tag></TagList>`

// Properties as CloudFormation passes them: scalars as strings.
var (
	noSource   = map[string]interface{}{}
	snapshotA  = map[string]interface{}{"SnapshotIdentifier": "arn:aws:rds:ap-northeast-1:123456789012:cluster-snapshot:a"}
	restorable = map[string]interface{}{"KmsKeyId": keyArn, "DBSubnetGroupName": "appstack-databasesubnetscab2d5d2-kmbtwpuu5ti2", "Engine": "aurora-postgresql",
		"MasterUsername": "postgres", "StorageEncrypted": "true"}
	adopted = map[string]interface{}{"DBSubnetGroupName": "appstack-databasesubnetscab2d5d2-kmbtwpuu5ti2", "Engine": "aurora-postgresql",
		"MasterUsername": "{{resolve:secretsmanager:arn:aws:secretsmanager:ap-northeast-1:123456789012:secret:DatabaseSecret3B817195-AbCdEf:SecretString:username::}}"}
)

func cluster(source, createOnly map[string]interface{}) Resource {
	return Resource{Path: "AppStack/Database", Type: contract.TypeDBCluster, Source: source, CreateOnly: createOnly}
}

// raw renders guard props as the event's property map.
func raw(resources map[string]Resource, consent map[string]string, extraPresent ...string) map[string]interface{} {
	res := map[string]interface{}{}
	var present []interface{}
	for id, r := range resources {
		entry := map[string]interface{}{contract.GuardPath: r.Path, contract.GuardType: r.Type, contract.GuardSource: r.Source, contract.GuardCreateOnly: r.CreateOnly}
		if r.Adopt {
			entry[contract.GuardAdopt] = "true"
		}
		res[id] = entry
		present = append(present, id)
	}
	for _, id := range extraPresent {
		present = append(present, id)
	}
	c := map[string]interface{}{}
	for k, v := range consent {
		c[k] = v
	}
	return map[string]interface{}{contract.GuardStack: "AppStack", contract.GuardResources: res, contract.GuardPresent: present, contract.GuardConsent: c}
}

func update(old, new map[string]interface{}) cfn.Event {
	return cfn.Event{RequestType: cfn.RequestUpdate, StackID: stackID, LogicalResourceID: "RestorableGuard", PhysicalResourceID: "restorable-guard-RestorableGuard",
		ResourceProperties: new, OldResourceProperties: old}
}

func create(props map[string]interface{}) cfn.Event {
	return cfn.Event{RequestType: cfn.RequestCreate, StackID: stackID, LogicalResourceID: "RestorableGuard", ResourceProperties: props}
}

func discard(string, ...interface{}) {}

func one(r Resource) map[string]Resource { return map[string]Resource{clusterID: r} }

func TestAnUpdateThatRestoresIsAllowedWithoutAskingAWS(t *testing.T) {
	w, c := newWorld(t)
	id, _, err := c.Handle(context.Background(), update(raw(one(cluster(noSource, restorable)), nil), raw(one(cluster(snapshotA, restorable)), nil)), discard)
	require.NoError(t, err)
	assert.Equal(t, "restorable-guard-RestorableGuard", id)
	assert.Empty(t, w.cfnServer.Operations())
}

func TestADroppedSourceIsRefusedWithTheConsentCommand(t *testing.T) {
	w, c := newWorld(t)
	w.resources[clusterID] = fakeResource{typ: contract.TypeDBCluster, physical: "appstack-databaseb269d8bb-0abc", status: "UPDATE_COMPLETE"}
	_, _, err := c.Handle(context.Background(), update(raw(one(cluster(snapshotA, restorable)), nil), raw(one(cluster(noSource, restorable)), nil)), discard)
	require.Error(t, err)
	assert.Equal(t, "restorable refused the deploy for AppStack/Database (AWS::RDS::DBCluster appstack-databaseb269d8bb-0abc): "+
		"the restore source was removed (it was SnapshotIdentifier=arn:aws:rds:ap-northeast-1:123456789012:cluster-snapshot:a). "+
		"CloudFormation would create a new, EMPTY AWS::RDS::DBCluster and delete the current one, whose data came from that source. "+
		"If this deploy should not replace it, restore the previous settings (for a restore source, keep it in cdk.json). "+
		"To go ahead and lose its data (a final snapshot is kept where the removal policy is Snapshot), deploy again with: "+
		"cdk deploy -c 'AppStack/Database.allowReplace=appstack-databaseb269d8bb-0abc'. "+
		"The consent names this resource, so it does not apply to any later one.", err.Error())
	assert.Equal(t, []string{"DescribeStacks", "ListStackResources"}, w.cfnServer.Operations())
	assert.Equal(t, stackID, w.cfnServer.Requests()[0].Form.Get("StackName"), "the stack by its ID")
}

func TestConsentAppliesToTheCurrentResourceOnly(t *testing.T) {
	w, c := newWorld(t)
	w.resources[clusterID] = fakeResource{typ: contract.TypeDBCluster, physical: "appstack-db-current", status: "UPDATE_COMPLETE"}
	rekeyed := cluster(noSource, map[string]interface{}{"KmsKeyId": otherKey})
	old := raw(one(cluster(noSource, map[string]interface{}{"KmsKeyId": keyArn})), nil)

	_, _, err := c.Handle(context.Background(), update(old, raw(one(rekeyed), map[string]string{"AppStack/Database": "appstack-db-current"})), discard)
	require.NoError(t, err, "consent naming the current cluster")

	_, _, err = c.Handle(context.Background(), update(old, raw(one(rekeyed), map[string]string{"AppStack/Database": "appstack-db-replaced-last-month"})), discard)
	require.Error(t, err, "a stale consent left in cdk.json")
	assert.Contains(t, err.Error(), "The consent given (AppStack/Database.allowReplace=appstack-db-replaced-last-month) names another resource, not the current appstack-db-current")
	assert.Contains(t, err.Error(), "KmsKeyId: "+keyArn+" -> "+otherKey)
}

func TestARollbackIsNeverRefused(t *testing.T) {
	// CloudFormation rolls the guard back too: a forward "none -> snapshot"
	// restore that fails later comes back as "snapshot -> none".
	for _, status := range []string{"UPDATE_ROLLBACK_IN_PROGRESS", "ROLLBACK_IN_PROGRESS", "IMPORT_ROLLBACK_IN_PROGRESS"} {
		t.Run(status, func(t *testing.T) {
			w, c := newWorld(t)
			w.status = status
			w.resources[clusterID] = fakeResource{typ: contract.TypeDBCluster, physical: "db-new", status: "UPDATE_COMPLETE"}
			_, _, err := c.Handle(context.Background(), update(raw(one(cluster(snapshotA, restorable)), nil), raw(one(cluster(noSource, restorable)), nil)), discard)
			require.NoError(t, err)
			assert.Equal(t, []string{"DescribeStacks"}, w.cfnServer.Operations())
		})
	}
}

func TestTheGuardFailsClosedWhenAWSCannotBeRead(t *testing.T) {
	event := update(raw(one(cluster(snapshotA, restorable)), nil), raw(one(cluster(noSource, restorable)), nil))
	t.Run("throttled, after the SDK's retries", func(t *testing.T) {
		w, c := newWorld(t)
		throttled := awstest.QueryError(400, "Throttling", "Rate exceeded")
		w.cfnError = &throttled
		_, _, err := c.Handle(context.Background(), event, discard)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "could not read the stack's status to tell a rollback from an update, so the deploy is refused")
		assert.Contains(t, err.Error(), "Throttling: Rate exceeded")
		assert.Len(t, w.cfnServer.Operations(), 3, "the standard retryer's three attempts")
	})
	t.Run("access denied to the live cluster", func(t *testing.T) {
		w, c := newWorld(t)
		w.resources[clusterID] = fakeResource{typ: contract.TypeDBCluster, physical: "appstack-db-1", status: "UPDATE_COMPLETE"}
		_, _, err := c.Handle(context.Background(), create(raw(one(cluster(noSource, restorable)), nil)), discard)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "could not read AWS::RDS::DBCluster appstack-db-1 to compare it with the template, so the deploy is refused")
		assert.Contains(t, err.Error(), "DBClusterNotFoundFault")
	})
}

func TestTheFirstDeployOnALiveClusterIsComparedWithIt(t *testing.T) {
	live := fakeResource{typ: contract.TypeDBCluster, physical: "appstack-databaseb269d8bb-0abcdefghijk", status: "UPDATE_COMPLETE"}
	t.Run("restorable's defaults would replace a cluster made by the plain L2", func(t *testing.T) {
		w, c := newWorld(t)
		w.resources[clusterID] = live
		w.clusters[live.physical] = liveCluster
		_, _, err := c.Handle(context.Background(), create(raw(one(cluster(noSource, restorable)), nil)), discard)
		require.Error(t, err)
		msg := err.Error()
		assert.Contains(t, msg, "restorable refused the deploy for AppStack/Database (AWS::RDS::DBCluster appstack-databaseb269d8bb-0abcdefghijk): this is the first deploy that guards it, and the template's create-only properties differ from the live resource")
		assert.Contains(t, msg, "KmsKeyId: live (not set), template "+keyArn)
		assert.Contains(t, msg, "StorageEncrypted: live false, template true")
		assert.NotContains(t, msg, "MasterUsername", "the same user name on both sides")
		assert.Contains(t, msg, "set Adopt: true")
		assert.Contains(t, msg, "cdk deploy -c 'AppStack/Database.allowReplace=appstack-databaseb269d8bb-0abcdefghijk'")
		assert.Equal(t, []string{"DescribeDBClusters"}, w.rdsServer.Operations())
		assert.Equal(t, live.physical, w.rdsServer.Requests()[0].Form.Get("DBClusterIdentifier"))
	})
	t.Run("adopted with the L2's props, it matches", func(t *testing.T) {
		w, c := newWorld(t)
		w.resources[clusterID] = live
		w.clusters[live.physical] = liveCluster
		r := cluster(noSource, adopted)
		r.Adopt = true
		_, _, err := c.Handle(context.Background(), create(raw(one(r), nil)), discard)
		require.NoError(t, err)
	})
	t.Run("adopted, but with another database name", func(t *testing.T) {
		w, c := newWorld(t)
		w.resources[clusterID] = live
		w.clusters[live.physical] = liveCluster
		r := cluster(noSource, map[string]interface{}{"Engine": "aurora-postgresql", "DatabaseName": "app"})
		r.Adopt = true
		_, _, err := c.Handle(context.Background(), create(raw(one(r), nil)), discard)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "DatabaseName: live (not set), template app")
		assert.Contains(t, err.Error(), "Adopt is set, so the props differ")
	})
	t.Run("with consent for that cluster", func(t *testing.T) {
		w, c := newWorld(t)
		w.resources[clusterID] = live
		w.clusters[live.physical] = liveCluster
		_, _, err := c.Handle(context.Background(), create(raw(one(cluster(noSource, restorable)), map[string]string{"AppStack/Database": live.physical})), discard)
		require.NoError(t, err)
	})
	t.Run("a restore source on first sight is compared too", func(t *testing.T) {
		// GIVEN a cluster restored from snapshot a before the guard watched it
		// (or whose previous properties the guard cannot read): encrypted
		// with the stack's key, its database name and master user from the
		// snapshot
		w, c := newWorld(t)
		w.resources[clusterID] = live
		w.clusters[live.physical] = restoredCluster
		restoredTemplate := map[string]interface{}{"KmsKeyId": keyArn, "DBSubnetGroupName": "appstack-databasesubnetscab2d5d2-kmbtwpuu5ti2", "Engine": "aurora-postgresql"}
		// WHEN the template keeps its create-only properties, THEN the deploy
		// goes ahead: the inherited ones are not compared
		_, _, err := c.Handle(context.Background(), create(raw(one(cluster(snapshotA, restoredTemplate)), nil)), discard)
		require.NoError(t, err)
		assert.Equal(t, []string{"DescribeDBClusters"}, w.rdsServer.Operations())
		// WHEN the same deploy also changes the key, THEN it is refused: the
		// guard cannot tell a new restore from the old one, and CloudFormation
		// would restore snapshot a again, losing every write since
		for _, changed := range []map[string]interface{}{with(restoredTemplate, "KmsKeyId", otherKey), with(restoredTemplate, "DatabaseName", "other")} {
			_, _, err = c.Handle(context.Background(), create(raw(one(cluster(snapshotA, changed)), nil)), discard)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "so CloudFormation would replace it with a new one restored again from SnapshotIdentifier=arn:aws:rds:ap-northeast-1:123456789012:cluster-snapshot:a, losing every write since that source was restored")
			assert.Contains(t, err.Error(), "cdk deploy -c 'AppStack/Database.allowReplace="+live.physical+"'")
		}
		// WHEN the template drops the source and the guard cannot read its
		// previous properties, THEN the cluster's tag tells it was restored
		_, _, err = c.Handle(context.Background(), update(map[string]interface{}{contract.GuardResources: "garbage"}, raw(one(cluster(noSource, restoredTemplate)), nil)), discard)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "the live cluster was restored (from a snapshot; its tag restorable:restored-from), and the template has no restore source: CloudFormation would create a new, EMPTY")
		// AND with unreadable previous properties, the same
		_, _, err = c.Handle(context.Background(), update(map[string]interface{}{contract.GuardResources: "garbage"}, raw(one(cluster(snapshotA, with(restoredTemplate, "KmsKeyId", otherKey))), nil)), discard)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "the guard cannot read its previous properties")
		assert.Contains(t, err.Error(), "KmsKeyId: live "+keyArn+", template "+otherKey)
	})
	t.Run("a new stack passes", func(t *testing.T) {
		w, c := newWorld(t)
		w.status = "CREATE_IN_PROGRESS"
		_, _, err := c.Handle(context.Background(), create(raw(one(cluster(noSource, restorable)), nil)), discard)
		require.NoError(t, err)
		assert.Empty(t, w.rdsServer.Operations())
	})
}

func TestAFileSystemIsComparedWithDescribeFileSystems(t *testing.T) {
	w, c := newWorld(t)
	w.resources[filesID] = fakeResource{typ: contract.TypeFileSystem, physical: "fs-0123456789abcdef0", status: "CREATE_COMPLETE"}
	// As awsefs.NewFileSystem makes it: encrypted with the AWS-managed key.
	w.files["fs-0123456789abcdef0"] = map[string]interface{}{"OwnerId": awstest.Account, "CreationToken": "AppStackFilesFC6B6BA4", "FileSystemId": "fs-0123456789abcdef0",
		"CreationTime": 1.7e9, "LifeCycleState": "available", "NumberOfMountTargets": 2, "SizeInBytes": map[string]interface{}{"Value": 6144},
		"PerformanceMode": "generalPurpose", "Encrypted": true, "KmsKeyId": "arn:aws:kms:ap-northeast-1:123456789012:key/aws-managed-efs", "ThroughputMode": "bursting", "Tags": []interface{}{}}
	files := func(co map[string]interface{}) map[string]Resource {
		return map[string]Resource{filesID: {Path: "AppStack/Files", Type: contract.TypeFileSystem, CreateOnly: co}}
	}
	_, _, err := c.Handle(context.Background(), create(raw(files(map[string]interface{}{"Encrypted": "true"}), nil)), discard)
	require.NoError(t, err, "the L2's Encrypted: true, no key")

	_, _, err = c.Handle(context.Background(), create(raw(files(map[string]interface{}{"Encrypted": "true", "KmsKeyId": keyArn}), nil)), discard)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "KmsKeyId: live arn:aws:kms:ap-northeast-1:123456789012:key/aws-managed-efs, template "+keyArn)

	_, _, err = c.Handle(context.Background(), create(raw(files(map[string]interface{}{"Encrypted": "true", "PerformanceMode": "maxIO"}), nil)), discard)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "PerformanceMode: live generalPurpose, template maxIO")
}

func TestAGlobalDatabaseIsComparedWithDescribeGlobalClusters(t *testing.T) {
	w, c := newWorld(t)
	const globalID = "GlobalCluster1A2B3C4D"
	w.resources[globalID] = fakeResource{typ: contract.TypeGlobalCluster, physical: "orders-global", status: "CREATE_COMPLETE"}
	w.globals["orders-global"] = `<GlobalClusterIdentifier>orders-global</GlobalClusterIdentifier><Engine>aurora-postgresql</Engine><EngineVersion>16.4</EngineVersion><StorageEncrypted>true</StorageEncrypted><Status>available</Status>`
	global := func(co map[string]interface{}) map[string]Resource {
		return map[string]Resource{globalID: {Path: "AppStack/Database/Global", Type: contract.TypeGlobalCluster, CreateOnly: co}}
	}
	// GIVEN a first deploy that guards a live global database made from the
	// stack's cluster (its engine and encryption come from the cluster)
	_, _, err := c.Handle(context.Background(), create(raw(global(map[string]interface{}{"GlobalClusterIdentifier": "orders-global", "SourceDBClusterIdentifier": `{"Fn::GetAtt":["DatabaseB269D8BB","DBClusterArn"]}`}), nil)), discard)
	require.NoError(t, err)
	assert.Contains(t, w.rdsServer.Operations(), "DescribeGlobalClusters")
	// THEN a template whose create-only properties differ from it is refused
	_, _, err = c.Handle(context.Background(), create(raw(global(map[string]interface{}{"GlobalClusterIdentifier": "orders-global", "Engine": "aurora-mysql"}), nil)), discard)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "Engine: live aurora-postgresql, template aurora-mysql")
}

func TestARenamedOrRemovedResourceIsRefused(t *testing.T) {
	physical := "appstack-databaseb269d8bb-0abc"
	t.Run("renamed: its logical ID leaves the template", func(t *testing.T) {
		w, c := newWorld(t)
		w.resources[clusterID] = fakeResource{typ: contract.TypeDBCluster, physical: physical, status: "UPDATE_COMPLETE"}
		renamed := map[string]Resource{"MainDatabase4F3A2B1C": {Path: "AppStack/MainDatabase", Type: contract.TypeDBCluster, Source: noSource, CreateOnly: restorable}}
		_, _, err := c.Handle(context.Background(), update(raw(one(cluster(noSource, restorable)), nil), raw(renamed, nil)), discard)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "restorable refused the deploy for AppStack/Database (AWS::RDS::DBCluster "+physical+"): it is no longer in the template, so CloudFormation would delete it after the update")
		assert.Contains(t, err.Error(), "cdk deploy -c 'AppStack/Database.allowReplace="+physical+"'")
		assert.NotContains(t, err.Error(), "MainDatabase", "the new, empty cluster is no danger in itself")

		_, _, err = c.Handle(context.Background(), update(raw(one(cluster(noSource, restorable)), nil), raw(renamed, map[string]string{"AppStack/Database": physical})), discard)
		require.NoError(t, err, "consent by the old path")
	})
	t.Run("a plain L2 cluster renamed in the deploy that adds restorable", func(t *testing.T) {
		w, c := newWorld(t)
		w.resources["OldDbC0FFEE11"] = fakeResource{typ: contract.TypeDBCluster, physical: "appstack-olddb-1", status: "CREATE_COMPLETE", path: "AppStack/OldDb/Resource"}
		_, _, err := c.Handle(context.Background(), create(raw(one(cluster(noSource, restorable)), nil)), discard)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "restorable refused the deploy for AppStack/OldDb (AWS::RDS::DBCluster appstack-olddb-1): it is no longer in the template")
		assert.Contains(t, w.cfnServer.Operations(), "DescribeStackResource")
	})
	t.Run("still in the template, as a plain L2", func(t *testing.T) {
		w, c := newWorld(t)
		w.resources[clusterID] = fakeResource{typ: contract.TypeDBCluster, physical: physical, status: "UPDATE_COMPLETE"}
		_, _, err := c.Handle(context.Background(), update(raw(one(cluster(noSource, restorable)), nil), raw(nil, nil, clusterID)), discard)
		require.NoError(t, err)
	})
	t.Run("resources being deleted or never created are not counted", func(t *testing.T) {
		w, c := newWorld(t)
		w.resources["GoneDb1"] = fakeResource{typ: contract.TypeDBCluster, physical: "gone-1", status: "DELETE_COMPLETE"}
		w.resources["Failed2"] = fakeResource{typ: contract.TypeFileSystem, physical: "fs-2", status: "CREATE_FAILED"}
		_, _, err := c.Handle(context.Background(), create(raw(one(cluster(noSource, restorable)), nil)), discard)
		require.NoError(t, err)
	})
}

func TestUnreadablePreviousPropertiesFallBackToTheLiveResource(t *testing.T) {
	w, c := newWorld(t)
	w.resources[clusterID] = fakeResource{typ: contract.TypeDBCluster, physical: "appstack-databaseb269d8bb-0abcdefghijk", status: "UPDATE_COMPLETE"}
	w.clusters["appstack-databaseb269d8bb-0abcdefghijk"] = liveCluster
	event := update(map[string]interface{}{contract.GuardResources: "not an object"}, raw(one(cluster(noSource, restorable)), nil))
	_, _, err := c.Handle(context.Background(), event, discard)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "the guard cannot read its previous properties")
	assert.Contains(t, err.Error(), "StorageEncrypted: live false, template true")
}

func TestDeleteAlwaysSucceedsAndTouchesNothing(t *testing.T) {
	w, c := newWorld(t)
	id, _, err := c.Handle(context.Background(), cfn.Event{RequestType: cfn.RequestDelete, PhysicalResourceID: "restorable-guard-X",
		ResourceProperties: map[string]interface{}{contract.GuardResources: "garbage"}}, discard)
	require.NoError(t, err)
	assert.Equal(t, "restorable-guard-X", id)
	assert.Empty(t, w.cfnServer.Operations())
}

func TestTheResponseFitsCloudFormationsLimit(t *testing.T) {
	// GIVEN twenty renamed clusters, whose refusals together are long
	w, c := newWorld(t)
	old := map[string]Resource{}
	for i := 0; i < 20; i++ {
		id := fmt.Sprintf("Database%02dB269D8BB", i)
		w.resources[id] = fakeResource{typ: contract.TypeDBCluster, physical: fmt.Sprintf("appstack-database%02d-0abcdefghijk", i), status: "UPDATE_COMPLETE"}
		old[id] = Resource{Path: fmt.Sprintf("AppStack/Database%02d", i), Type: contract.TypeDBCluster, Source: noSource, CreateOnly: restorable}
	}
	var sent []byte
	responses := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		sent, _ = io.ReadAll(r.Body)
	}))
	t.Cleanup(responses.Close)
	// WHEN the handler runs behind aws-lambda-go's cfn.LambdaWrap, which sends
	// the response to the presigned URL
	event := update(raw(old, nil), raw(nil, nil))
	event.ResponseURL = responses.URL
	_, err := cfn.LambdaWrap(func(ctx context.Context, e cfn.Event) (string, map[string]interface{}, error) {
		return c.Handle(ctx, e, discard)
	})(context.Background(), event)
	require.NoError(t, err)
	// THEN the response is a FAILED one within 4096 bytes
	var resp cfn.Response
	require.NoError(t, json.Unmarshal(sent, &resp))
	assert.Equal(t, cfn.StatusFailed, resp.Status)
	assert.LessOrEqual(t, len(sent), 4096)
	assert.Contains(t, resp.Reason, "restorable refused the deploy for AppStack/Database00")
	assert.True(t, strings.HasSuffix(resp.Reason, "the guard's log in CloudWatch Logs has the whole message)"))
}

func TestTheLastRestorableConstructRemovedIsRefused(t *testing.T) {
	// GIVEN a stack with a restorable cluster and file system, whose code no
	// longer has any restorable construct: the guard record keeps the guard,
	// which now lists nothing (test/guard_paths_test.go)
	w, c := newWorld(t)
	w.resources[clusterID] = fakeResource{typ: contract.TypeDBCluster, physical: "appstack-databaseb269d8bb-0abc", status: "UPDATE_COMPLETE"}
	w.resources[filesID] = fakeResource{typ: contract.TypeFileSystem, physical: "fs-0123456789abcdef0", status: "UPDATE_COMPLETE"}
	before := map[string]Resource{clusterID: cluster(noSource, restorable), filesID: {Path: "AppStack/Files", Type: contract.TypeFileSystem, CreateOnly: map[string]interface{}{"Encrypted": "true"}}}
	// WHEN the deploy removes both
	_, _, err := c.Handle(context.Background(), update(raw(before, nil), raw(nil, nil)), discard)
	// THEN it is refused for each, by its old path
	require.Error(t, err)
	assert.Contains(t, err.Error(), "restorable refused the deploy for AppStack/Database (AWS::RDS::DBCluster appstack-databaseb269d8bb-0abc): it is no longer in the template")
	assert.Contains(t, err.Error(), "restorable refused the deploy for AppStack/Files (AWS::EFS::FileSystem fs-0123456789abcdef0): it is no longer in the template")
	// AND consent for both lets it go ahead
	_, _, err = c.Handle(context.Background(), update(raw(before, nil), raw(nil, map[string]string{"AppStack/Database": "appstack-databaseb269d8bb-0abc", "AppStack/Files": "fs-0123456789abcdef0"})), discard)
	require.NoError(t, err)
}
