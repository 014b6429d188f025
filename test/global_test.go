package test

import (
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsefs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsrds"
	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restorable-cdk/restorable/examples/dr"
	"github.com/restorable-cdk/restorable/internal/contract"
	"github.com/restorable-cdk/restorable/restorable"
)

const (
	replicaFileSystem = "fs-0a1b2c3d4e5f60718"
	globalID          = "orders-global"
	osakaRegion       = "ap-northeast-3"
	oregon            = "us-west-2"
)

// globalApp is a primary in Tokyo, a warm secondary in Osaka and a headless
// one in Oregon, in one app with the given context.
type globalApp struct {
	primary, warm, headless awscdk.Stack
}

func newGlobalApp(t *testing.T, context map[string]string) globalApp {
	t.Helper()
	app := newApp(t, context)
	member := func(id, region string, g *restorable.GlobalDatabase) awscdk.Stack {
		stack := awscdk.NewStack(app, jsii.String(id), &awscdk.StackProps{Env: &awscdk.Environment{Account: jsii.String(account), Region: jsii.String(region)}})
		p := restorable.AuroraClusterProps{DatabaseClusterProps: clusterProps(stack), Global: g}
		p.Readers = &[]awsrds.IClusterInstance{awsrds.ClusterInstance_ServerlessV2(jsii.String("reader"), nil)}
		props, err := restorable.AuroraClusterFromContext(stack, "Database", p)
		require.NoError(t, err)
		restorable.NewAuroraCluster(stack, jsii.String("Database"), props)
		return stack
	}
	return globalApp{
		primary:  member("Primary", region, &restorable.GlobalDatabase{Identifier: globalID, SecondaryRegions: []string{osakaRegion, oregon}}),
		warm:     member("Warm", osakaRegion, &restorable.GlobalDatabase{Identifier: globalID, Secondary: true, PrimaryRegion: region}),
		headless: member("Headless", oregon, &restorable.GlobalDatabase{Identifier: globalID, Secondary: true, PrimaryRegion: region, Headless: true}),
	}
}

func TestAGlobalDatabaseAcrossThreeStacks(t *testing.T) {
	// GIVEN a primary, a warm secondary and a headless one, in a deploy that
	// switches the writer over to the warm secondary
	a := newGlobalApp(t, map[string]string{"Warm/Database." + restorable.ContextSwitchoverTo: osakaRegion})
	primary, warm, headless := templateJSON(t, a.primary), templateJSON(t, a.warm), templateJSON(t, a.headless)
	clusterID, cluster := onlyResource(t, primary, contract.TypeDBCluster)

	// THEN the primary's stack creates the global database from its cluster,
	// with deletion protection, retained, and guarded like the cluster
	globalLogical, global := onlyResource(t, primary, contract.TypeGlobalCluster)
	assert.Equal(t, globalID, props(global)["GlobalClusterIdentifier"])
	assert.Contains(t, refsIn(props(global)["SourceDBClusterIdentifier"]), clusterID)
	assert.Equal(t, true, props(global)["DeletionProtection"])
	assert.Equal(t, "Retain", global["DeletionPolicy"])
	assert.NotContains(t, props(global), "Engine", "Engine comes from the source cluster")
	outputs := primary["Outputs"].(map[string]interface{})
	require.Contains(t, outputs, "DatabaseGlobalWriterEndpointCommand")
	assert.Equal(t, "aws rds describe-global-clusters --region ap-northeast-1 --global-cluster-identifier orders-global --query 'GlobalClusters[0].Endpoint' --output text",
		outputs["DatabaseGlobalWriterEndpointCommand"].(map[string]interface{})["Value"])
	entries := guardProps(t, primary).Resources
	require.Contains(t, entries, globalLogical)
	assert.Equal(t, globalID, entries[globalLogical].CreateOnly["GlobalClusterIdentifier"])
	assert.Contains(t, guardProps(t, primary).Present, globalLogical)
	guardFn := functionsWithHandler(primary, contract.HandlerGuard)
	require.Len(t, guardFn, 1)
	_, guardRes := resourceByID(t, primary, guardFn[0])
	describe := statementBySid(t, statementsOf(t, primary, roleOf(guardRes)), "CompareLiveGlobalDatabases")
	assert.Equal(t, "rds:DescribeGlobalClusters", describe["Action"])
	assert.Contains(t, fmtJSON(describe["Resource"]), ":rds::"+account+":global-cluster:*")

	// AND the primary's master password is its own secret, replicated to
	// each secondary region under one name (RDS manages none in a global
	// database), with no backtrack
	assert.NotEqual(t, true, props(cluster)["ManageMasterUserPassword"])
	assert.NotContains(t, props(cluster), "BacktrackWindow")
	_, secret := onlyResource(t, primary, "AWS::SecretsManager::Secret")
	assert.Equal(t, "restorable/"+globalID+"/master", props(secret)["Name"])
	assert.ElementsMatch(t, []interface{}{map[string]interface{}{"Region": osakaRegion}, map[string]interface{}{"Region": oregon}}, props(secret)["ReplicaRegions"])
	assert.Contains(t, fmtJSON(props(cluster)["MasterUserPassword"]), "resolve:secretsmanager")

	// AND a secondary joins it with no master credentials and no database
	// name, and the guard records what the template holds
	for name, tmpl := range map[string]map[string]interface{}{"warm": warm, "headless": headless} {
		id, c := onlyResource(t, tmpl, contract.TypeDBCluster)
		assert.Equal(t, globalID, props(c)["GlobalClusterIdentifier"], name)
		for _, k := range []string{"MasterUsername", "MasterUserPassword", "ManageMasterUserPassword", "MasterUserSecret", "DatabaseName", "SnapshotIdentifier"} {
			assert.NotContains(t, props(c), k, name)
		}
		assert.NotEmpty(t, props(c)["KmsKeyId"], "%s: encrypted with a key in its own region", name)
		e := guardProps(t, tmpl).Resources[id]
		assert.Equal(t, globalID, e.CreateOnly["GlobalClusterIdentifier"], name)
		assert.NotContains(t, e.CreateOnly, "MasterUsername", name)
		_, none := resourcesOfType(t, tmpl, contract.TypeGlobalCluster)
		assert.Empty(t, none, name)
	}
	// AND the warm secondary keeps its writer and reader, the headless one has
	// no instance
	instances, _ := resourcesOfType(t, warm, "AWS::RDS::DBInstance")
	assert.Len(t, instances, 2)
	instances, _ = resourcesOfType(t, headless, "AWS::RDS::DBInstance")
	assert.Empty(t, instances)

	// AND only the stack that becomes the writer, in the deploy that asks,
	// has the switch and its function
	assert.Empty(t, functionsWithHandler(primary, contract.HandlerGlobalSwitch))
	assert.Empty(t, functionsWithHandler(headless, contract.HandlerGlobalSwitch))
	fnID, fn := functionWithHandler(t, warm, contract.HandlerGlobalSwitch)
	warmCluster, _ := onlyResource(t, warm, contract.TypeDBCluster)
	switchID, sw := onlyResource(t, warm, contract.GlobalSwitchResourceType)
	assert.Equal(t, globalID, props(sw)[contract.GlobalSwitchCluster])
	assert.Equal(t, contract.ModeSwitchover, props(sw)[contract.GlobalSwitchMode])
	assert.Contains(t, refsIn(props(sw)[contract.GlobalSwitchTarget]), warmCluster)
	assert.Contains(t, refsIn(props(sw)["ServiceToken"]), fnID)
	assert.Equal(t, float64(900), props(fn)["Timeout"])
	statements := statementsOf(t, warm, roleOf(fn))
	move := statementBySid(t, statements, "MoveTheWriter")
	assert.Equal(t, "rds:SwitchoverGlobalCluster", move["Action"], "a switchover may not fail over")
	assert.Contains(t, fmtJSON(move["Resource"]), ":global-cluster:"+globalID)
	cont := statementBySid(t, statements, "ContinueWaiting")
	assert.Contains(t, refsIn(cont["Resource"]), fnID)
	// the switch waits for the permission to go on waiting
	deps := fmtJSON(sw["DependsOn"])
	policyIDs := underPath(warm, "Warm/Database/GlobalSwitch/ContinuePolicy", "AWS::IAM::Policy")
	require.Len(t, policyIDs, 1)
	assert.Contains(t, deps, policyIDs[0], switchID)
	// and for the cluster's instances: a pilot light given its instances and
	// the key in one deploy fails over once the writer exists
	warmInstances, _ := resourcesOfType(t, warm, "AWS::RDS::DBInstance")
	for _, id := range warmInstances {
		assert.Contains(t, deps, id)
	}
}

func TestAFailoverNeedsConsentToLoseData(t *testing.T) {
	a := newGlobalApp(t, map[string]string{
		"Warm/Database." + restorable.ContextFailoverTo:    osakaRegion,
		"Warm/Database." + restorable.ContextAllowDataLoss: "true",
	})
	warm := templateJSON(t, a.warm)
	_, sw := onlyResource(t, warm, contract.GlobalSwitchResourceType)
	assert.Equal(t, contract.ModeFailover, props(sw)[contract.GlobalSwitchMode])
	_, fn := functionWithHandler(t, warm, contract.HandlerGlobalSwitch)
	assert.Equal(t, "rds:FailoverGlobalCluster", statementBySid(t, statementsOf(t, warm, roleOf(fn)), "MoveTheWriter")["Action"])
}

// warmFailover is the DR example as a warm standby, in the deploy that fails
// over to the recovery region.
var warmFailover = map[string]string{
	"strategy":            string(dr.WarmStandby),
	"replicaFileSystemId": replicaFileSystem,
	"RedmineRecovery/Files." + restorable.ContextFailoverTo:       osakaRegion,
	"RedmineRecovery/Files." + restorable.ContextAllowDataLoss:    "true",
	"RedmineRecovery/Database." + restorable.ContextFailoverTo:    osakaRegion,
	"RedmineRecovery/Database." + restorable.ContextAllowDataLoss: "true",
}

func TestTheDRExampleAsPilotLightAndWarmStandby(t *testing.T) {
	// GIVEN the DR example as a pilot light, and as a warm standby failing over
	pilot, warm := drTemplates(t, map[string]string{"strategy": string(dr.PilotLight)}), drTemplates(t, warmFailover)
	for name, s := range map[string]drSynth{"pilot light": pilot, "warm standby": warm} {
		// THEN the primary creates the global database, the recovery stack
		// joins it, and deploys after the primary
		_, global := onlyResource(t, s.primary, contract.TypeGlobalCluster)
		assert.Equal(t, dr.GlobalName, props(global)["GlobalClusterIdentifier"], name)
		_, c := onlyResource(t, s.recovery, contract.TypeDBCluster)
		assert.Equal(t, dr.GlobalName, props(c)["GlobalClusterIdentifier"], name)
		assert.Contains(t, manifestDependencies(t, s.outdir, "RedmineRecovery"), "RedminePrimary", name)
		_, secrets := resourcesOfType(t, s.primary, "AWS::SecretsManager::Secret")
		replicated := map[string]interface{}{}
		for _, secret := range secrets {
			if n, _ := props(secret)["Name"].(string); n != "" {
				replicated[n] = props(secret)["ReplicaRegions"]
			}
		}
		assert.Equal(t, map[string]interface{}{"restorable/" + dr.GlobalName + "/master": []interface{}{map[string]interface{}{"Region": osakaRegion}}}, replicated, name)
	}
	// AND the pilot light has no instance and runs no task in the recovery
	// region; the failover deploy of the warm standby moves the writer and
	// starts Redmine there
	instances, _ := resourcesOfType(t, pilot.recovery, "AWS::RDS::DBInstance")
	assert.Empty(t, instances)
	_, service := onlyResource(t, pilot.recovery, "AWS::ECS::Service")
	assert.Equal(t, float64(0), props(service)["DesiredCount"])
	_, service = onlyResource(t, warm.recovery, "AWS::ECS::Service")
	assert.Equal(t, float64(1), props(service)["DesiredCount"])
	swID, sw := onlyResource(t, warm.recovery, contract.GlobalSwitchResourceType)
	promoteID, _ := onlyResource(t, warm.recovery, contract.ReplicaPromoteResourceType)
	// its tasks start once the database and the files are writeable there
	assert.Contains(t, fmtJSON(service["DependsOn"]), swID)
	assert.Contains(t, fmtJSON(service["DependsOn"]), promoteID)
	assert.Equal(t, contract.ModeFailover, props(sw)[contract.GlobalSwitchMode])
	assert.Empty(t, functionsWithHandler(warm.primary, contract.HandlerGlobalSwitch), "the failover runs in the recovery region alone")

	// AND the files: the recovery stack's file system is the replica, made
	// with replication overwrite protection off as EFS requires; the primary
	// replicates into it once it knows its ID, and warns until then
	for name, s := range map[string]drSynth{"pilot light": pilot, "warm standby": warm} {
		_, replica := onlyResource(t, s.recovery, contract.TypeFileSystem)
		assert.Equal(t, map[string]interface{}{"ReplicationOverwriteProtection": "DISABLED"}, props(replica)["FileSystemProtection"], name)
		assert.Equal(t, "Retain", replica["DeletionPolicy"], name)
	}
	_, source := onlyResource(t, pilot.primary, contract.TypeFileSystem)
	assert.NotContains(t, props(source), "ReplicationConfiguration")
	sourceID, source := onlyResource(t, warm.primary, contract.TypeFileSystem)
	assert.Equal(t, map[string]interface{}{"Destinations": []interface{}{map[string]interface{}{"FileSystemId": replicaFileSystem, "Region": osakaRegion}}},
		props(source)["ReplicationConfiguration"])
	// and the guard records both sides, so that ending the replication, or
	// making a file system with data a replica, needs consent
	assert.Equal(t, replicaFileSystem+"@"+osakaRegion, guardProps(t, warm.primary).Resources[sourceID].CreateOnly["ReplicationDestination"])
	recoveryFiles, _ := onlyResource(t, warm.recovery, contract.TypeFileSystem)
	assert.Equal(t, "DISABLED", guardProps(t, warm.recovery).Resources[recoveryFiles].CreateOnly["ReplicationOverwriteProtection"])
	// AND the failover deploy makes the replica writeable, through the same
	// function as the database's switch
	replicaID, _ := onlyResource(t, warm.recovery, contract.TypeFileSystem)
	_, promote := onlyResource(t, warm.recovery, contract.ReplicaPromoteResourceType)
	assert.Equal(t, contract.ModeFailover, props(promote)[contract.GlobalSwitchMode])
	assert.Equal(t, map[string]interface{}{"Ref": replicaID}, props(promote)[contract.ReplicaFileSystem])
	assert.Contains(t, fmtJSON(promote["DependsOn"]), replicaID)
	fns := functionsWithHandler(warm.recovery, contract.HandlerGlobalSwitch)
	require.Len(t, fns, 2, "one for the database, one for the files, each only in this deploy")
	_, pilotPromotes := resourcesOfType(t, pilot.recovery, contract.ReplicaPromoteResourceType)
	assert.Empty(t, pilotPromotes)
	_, filesFn := resourceByID(t, warm.recovery, refsIn(props(promote)["ServiceToken"])[0])
	end := statementBySid(t, statementsOf(t, warm.recovery, roleOf(filesFn)), "EndTheReplication")
	assert.Equal(t, "elasticfilesystem:DeleteReplicationConfiguration", end["Action"])
	assert.Contains(t, fmtJSON(end["Resource"]), ":elasticfilesystem:ap-northeast-1:")
	assert.Contains(t, refsIn(end["Resource"]), replicaID)
}

func TestEFSReplicationMisuseFailsSynth(t *testing.T) {
	for _, tt := range []struct {
		name    string
		context map[string]string
		tweak   func(p *restorable.FileSystemProps)
		want    string
	}{
		{name: "both sides", tweak: func(p *restorable.FileSystemProps) {
			p.ReplicateTo = &restorable.FileSystemReplication{Region: osakaRegion, FileSystemId: replicaFileSystem}
			p.ReplicaOf = &restorable.FileSystemReplica{SourceRegion: osakaRegion}
		}, want: "ReplicateTo=\"fs-0a1b2c3d4e5f60718\": is set together with ReplicaOf"},
		{name: "not an ID", tweak: func(p *restorable.FileSystemProps) {
			p.ReplicateTo = &restorable.FileSystemReplication{Region: osakaRegion, FileSystemId: "Files"}
		}, want: "ReplicateTo.FileSystemId=\"Files\": is not a file system ID"},
		{name: "own region", tweak: func(p *restorable.FileSystemProps) {
			p.ReplicaOf = &restorable.FileSystemReplica{SourceRegion: region}
		}, want: "ReplicaOf.SourceRegion=\"ap-northeast-1\": is not another region than this stack's"},
		{name: "restore into a replica", context: map[string]string{"AppStack/Files.efsRecoveryPointArn": "arn:aws:backup:ap-northeast-1:123456789012:recovery-point:1EB3B5E7-9EB0-435A-A80B-108B488B0D45"},
			tweak: func(p *restorable.FileSystemProps) {
				p.ReplicaOf = &restorable.FileSystemReplica{SourceRegion: osakaRegion}
			},
			want: "restores into a replica, which is read-only"},
		{name: "failover of a file system of its own", context: map[string]string{"AppStack/Files.failoverTo": region, "AppStack/Files.allowDataLoss": "true"},
			want: "makes this file system writeable in place of a source, but it is no replica"},
		{name: "the L2's replication", tweak: func(p *restorable.FileSystemProps) {
			p.ReplicationOverwriteProtection = awsefs.ReplicationOverwriteProtection_DISABLED
		}, want: "ReplicationConfiguration=\"set\": replicates through aws-cdk-lib's props"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			stack := newStack(t, tt.context)
			p := restorable.FileSystemProps{FileSystemProps: awsefs.FileSystemProps{Vpc: newVpc(stack)}}
			if tt.tweak != nil {
				tt.tweak(&p)
			}
			msg := panicMessage(t, func() {
				props, err := restorable.FileSystemFromContext(stack, "Files", p)
				if err != nil {
					panic(err)
				}
				restorable.NewFileSystem(stack, jsii.String("Files"), props)
			})
			assert.Contains(t, msg, tt.want)
		})
	}
}

func TestGlobalDatabaseMisuseFailsSynth(t *testing.T) {
	primary := func(g *restorable.GlobalDatabase) *restorable.GlobalDatabase {
		if g.Identifier == "" {
			g.Identifier = globalID
		}
		return g
	}
	for _, tt := range []struct {
		name    string
		stackIn string
		global  *restorable.GlobalDatabase
		context map[string]string
		tweak   func(p *restorable.AuroraClusterProps)
		want    string
	}{
		{name: "failover without consent", stackIn: osakaRegion, global: &restorable.GlobalDatabase{Secondary: true, PrimaryRegion: region},
			context: map[string]string{"AppStack/Database.failoverTo": osakaRegion},
			want:    "AppStack/Database.failoverTo=\"ap-northeast-3\": asks for a failover, which loses the writes the other region had not replicated"},
		{name: "switch to another region", stackIn: osakaRegion, global: &restorable.GlobalDatabase{Secondary: true, PrimaryRegion: region},
			context: map[string]string{"AppStack/Database.switchoverTo": region},
			want:    "names another region than this resource's (ap-northeast-3); the key goes to the resource that takes over"},
		{name: "switch to a headless secondary", stackIn: osakaRegion, global: &restorable.GlobalDatabase{Secondary: true, PrimaryRegion: region, Headless: true},
			context: map[string]string{"AppStack/Database.switchoverTo": osakaRegion},
			want:    "headless, without an instance to write"},
		{name: "data loss without a failover", stackIn: osakaRegion, global: &restorable.GlobalDatabase{Secondary: true, PrimaryRegion: region},
			context: map[string]string{"AppStack/Database.allowDataLoss": "true"},
			want:    "is given without AppStack/Database.failoverTo"},
		{name: "both", stackIn: osakaRegion, global: &restorable.GlobalDatabase{Secondary: true, PrimaryRegion: region},
			context: map[string]string{"AppStack/Database.switchoverTo": osakaRegion, "AppStack/Database.failoverTo": osakaRegion, "AppStack/Database.allowDataLoss": "true"},
			want:    "is given together with AppStack/Database.failoverTo"},
		{name: "key on a regional cluster", stackIn: region,
			context: map[string]string{"AppStack/Database.switchoverTo": region},
			want:    "moves the writer of a global database, but this cluster is in none"},
		{name: "secondary in the primary's region", stackIn: region, global: &restorable.GlobalDatabase{Secondary: true, PrimaryRegion: region},
			want: "Global.PrimaryRegion=\"ap-northeast-1\": is this stack's region too"},
		{name: "restore of a member", stackIn: region, global: &restorable.GlobalDatabase{},
			context: map[string]string{"AppStack/Database.snapshotArn": "arn:aws:rds:ap-northeast-1:123456789012:cluster-snapshot:before-incident"},
			want:    "restores a member of the global database orders-global"},
		{name: "headless primary", stackIn: region, global: &restorable.GlobalDatabase{Headless: true},
			want: "Global.Headless=\"true\": is set on the primary"},
		{name: "secondary credentials", stackIn: osakaRegion, global: &restorable.GlobalDatabase{Secondary: true, PrimaryRegion: region},
			tweak: func(p *restorable.AuroraClusterProps) {
				p.Credentials = awsrds.Credentials_FromPassword(jsii.String("u"), awscdk.SecretValue_UnsafePlainText(jsii.String("p")))
			},
			want: "Credentials=\"set\": is set on a secondary"},
		{name: "managed password", stackIn: region, global: &restorable.GlobalDatabase{},
			tweak: func(p *restorable.AuroraClusterProps) { p.ManageMasterUserPassword = jsii.Bool(true) },
			want:  "ManageMasterUserPassword=\"true\": is not supported in a global database"},
		{name: "own region as a secondary region", stackIn: region, global: &restorable.GlobalDatabase{SecondaryRegions: []string{region}},
			want: "Global.SecondaryRegions=\"ap-northeast-1\": is the primary's own region"},
		{name: "bad identifier", stackIn: region, global: &restorable.GlobalDatabase{Identifier: "orders--global"},
			want: "Global.Identifier=\"orders--global\": is not a global database identifier"},
		{name: "upper case", stackIn: region, global: &restorable.GlobalDatabase{Identifier: "Orders-Global"},
			want: "Global.Identifier=\"Orders-Global\": is not a global database identifier (1 to 63 lower-case"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			app := newApp(t, tt.context)
			stack := awscdk.NewStack(app, jsii.String("AppStack"), &awscdk.StackProps{Env: &awscdk.Environment{Account: jsii.String(account), Region: jsii.String(tt.stackIn)}})
			p := restorable.AuroraClusterProps{DatabaseClusterProps: clusterProps(stack)}
			if tt.global != nil {
				p.Global = primary(tt.global)
			}
			if tt.tweak != nil {
				tt.tweak(&p)
			}
			msg := panicMessage(t, func() {
				props, err := restorable.AuroraClusterFromContext(stack, "Database", p)
				if err != nil {
					panic(err)
				}
				restorable.NewAuroraCluster(stack, jsii.String("Database"), props)
			})
			assert.Contains(t, msg, tt.want)
			assert.True(t, strings.HasPrefix(msg, "restorable: AppStack/Database"), msg)
		})
	}
}
