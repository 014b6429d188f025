package test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsefs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsrds"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/aws-lambda-go/cfn"
	"github.com/aws/aws-sdk-go-v2/service/backup"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/efs"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restorable-cdk/restorable/internal/awstest"
	"github.com/restorable-cdk/restorable/internal/contract"
	"github.com/restorable-cdk/restorable/internal/guard"
	"github.com/restorable-cdk/restorable/restorable"
)

// A switch from plain aws-cdk-lib L2s to restorable with Adopt: the same stack,
// once as deployed, once as the next deploy. The changes between the two
// templates are classified with the registry schemas' create-only properties.

// statefulTypes are the resources whose replacement or deletion loses data or
// credentials.
var statefulTypes = map[string]bool{
	"AWS::RDS::DBCluster": true, "AWS::RDS::DBInstance": true, "AWS::EFS::FileSystem": true,
	"AWS::SecretsManager::Secret": true, "AWS::SecretsManager::SecretTargetAttachment": true,
	"AWS::EC2::SecurityGroupIngress": true, "AWS::EC2::SecurityGroup": true, "AWS::RDS::DBSubnetGroup": true,
	"AWS::EFS::MountTarget": true, "AWS::KMS::Key": true,
}

// switchReport lists what a deploy from before to after would replace or
// delete: "<type> <logical ID>: replaced (Property, ...)" or "... : deleted".
func switchReport(t *testing.T, before, after map[string]interface{}) []string {
	t.Helper()
	var out []string
	b := before["Resources"].(map[string]interface{})
	a := after["Resources"].(map[string]interface{})
	for id, r := range b {
		typ := r.(map[string]interface{})["Type"].(string)
		nr, ok := a[id]
		if !ok {
			out = append(out, typ+" "+id+": deleted")
			continue
		}
		if !strings.HasPrefix(typ, "AWS::") {
			continue
		}
		var replaced []string
		schema := createOnly(t, typ)
		if nr.(map[string]interface{})["Type"] != typ {
			replaced = append(replaced, "Type")
		}
		bp, ap := props(r.(map[string]interface{})), props(nr.(map[string]interface{}))
		for k := range schema {
			if fmtJSON(bp[k]) != fmtJSON(ap[k]) {
				replaced = append(replaced, k)
			}
		}
		if len(replaced) > 0 {
			sort.Strings(replaced)
			out = append(out, typ+" "+id+": replaced ("+strings.Join(replaced, ", ")+")")
		}
	}
	sort.Strings(out)
	return out
}

// dataLoss keeps the entries of a switch report on stateful resources.
func dataLoss(report []string) []string {
	var out []string
	for _, line := range report {
		if statefulTypes[strings.Fields(line)[0]] {
			out = append(out, line)
		}
	}
	return out
}

// auroraPair builds the same app twice: with awsrds.NewDatabaseCluster, and
// with restorable.NewAuroraCluster and Adopt. A service connects to the
// cluster through Connections() in both.
func auroraPair(t *testing.T, ctx map[string]string, engine func() awsrds.IClusterEngine, credentials func(stack awscdk.Stack) awsrds.Credentials) (plain, adopted map[string]interface{}, adoptedStack awscdk.Stack) {
	t.Helper()
	build := func(restorableToo bool) (awscdk.Stack, map[string]interface{}) {
		stack := newStack(t, ctx)
		vpc := newVpc(stack)
		service := awsec2.NewSecurityGroup(stack, jsii.String("Service"), &awsec2.SecurityGroupProps{Vpc: vpc})
		p := awsrds.DatabaseClusterProps{
			Engine:  engine(),
			Vpc:     vpc,
			Writer:  awsrds.ClusterInstance_Provisioned(jsii.String("writer"), nil),
			Readers: &[]awsrds.IClusterInstance{awsrds.ClusterInstance_Provisioned(jsii.String("reader"), nil)},
		}
		if credentials != nil {
			p.Credentials = credentials(stack)
		}
		if restorableToo {
			props, err := restorable.AuroraClusterFromContext(stack, "Database", restorable.AuroraClusterProps{DatabaseClusterProps: p, Adopt: true})
			require.NoError(t, err)
			db := restorable.NewAuroraCluster(stack, jsii.String("Database"), props)
			db.Connections().AllowDefaultPortFrom(service, jsii.String("the service"))
		} else {
			db := awsrds.NewDatabaseCluster(stack, jsii.String("Database"), &p)
			db.Connections().AllowDefaultPortFrom(service, jsii.String("the service"))
		}
		return stack, templateJSON(t, stack)
	}
	_, plain = build(false)
	adoptedStack, adopted = build(true)
	return plain, adopted, adoptedStack
}

func postgres() awsrds.IClusterEngine {
	return awsrds.DatabaseClusterEngine_AuroraPostgres(&awsrds.AuroraPostgresClusterEngineProps{Version: awsrds.AuroraPostgresEngineVersion_VER_16_4()})
}

func mysql() awsrds.IClusterEngine {
	return awsrds.DatabaseClusterEngine_AuroraMysql(&awsrds.AuroraMysqlClusterEngineProps{Version: awsrds.AuroraMysqlEngineVersion_VER_3_08_0()})
}

func TestAdoptingAClusterReplacesAndDeletesNothing(t *testing.T) {
	tests := []struct {
		name        string
		engine      func() awsrds.IClusterEngine
		credentials func(stack awscdk.Stack) awsrds.Credentials
	}{
		{"Aurora PostgreSQL with the L2's defaults and a reader", postgres, nil},
		{"Aurora MySQL with its own secret", mysql, func(stack awscdk.Stack) awsrds.Credentials {
			return awsrds.Credentials_FromSecret(awssecretsmanager.NewSecret(stack, jsii.String("DbSecret"), &awssecretsmanager.SecretProps{
				GenerateSecretString: &awssecretsmanager.SecretStringGenerator{SecretStringTemplate: jsii.String(`{"username":"app"}`), GenerateStringKey: jsii.String("password")},
			}), nil)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plain, adopted, stack := auroraPair(t, nil, tt.engine, tt.credentials)
			// THEN no stateful resource is replaced or deleted: not the
			// cluster, not its instances, not its secret, not the service's
			// rule, which keeps its logical ID
			assert.Empty(t, dataLoss(switchReport(t, plain, adopted)))
			// AND the cluster gains only what CloudFormation applies in place
			id := clusterIDOf(t, plain)
			var changed []string
			for _, c := range templateChanges(plain, adopted) {
				if strings.HasPrefix(c, id+".") {
					changed = append(changed, strings.SplitN(strings.TrimPrefix(c, id+".Properties."), ".", 2)[0])
				}
			}
			for _, c := range changed {
				assert.False(t, createOnly(t, "AWS::RDS::DBCluster")[c], "%s is create-only", c)
			}
			assert.Contains(t, changed, "DeletionProtection")
			// AND synth names each default that adoption does not apply
			check(t, func() {
				assertions.Annotations_FromStack(stack).HasWarning(jsii.String("/AppStack/Database"),
					assertions.Match_StringLikeRegexp(jsii.String(`.*Adopt keeps the create-only properties.*a customer-managed KMS key: KmsKeyId is create-only.*`)))
			})
		})
	}
}

func TestWithoutAdoptTheSwitchWouldReplaceTheCluster(t *testing.T) {
	// GIVEN the plain L2's template, and the same stack with restorable's
	// defaults and no Adopt
	plain, _, _ := auroraPair(t, nil, postgres, nil)
	stack, _ := newCluster(t, nil, func(stack awscdk.Stack, p *restorable.AuroraClusterProps) {
		p.Readers = &[]awsrds.IClusterInstance{awsrds.ClusterInstance_Provisioned(jsii.String("reader"), nil)}
		p.Writer = awsrds.ClusterInstance_Provisioned(jsii.String("writer"), nil)
	})
	tmpl := templateJSON(t, stack)
	// THEN the template would replace the cluster (the schema says so)
	report := dataLoss(switchReport(t, plain, tmpl))
	assert.Contains(t, report, "AWS::RDS::DBCluster "+clusterIDOf(t, plain)+": replaced (KmsKeyId, MasterUsername, StorageEncrypted)")
	// AND the guard, on this first deploy, compares the live cluster (as the
	// plain L2 made it) with the template, through the real SDK, and refuses
	refusal := firstDeploy(t, tmpl, liveCluster(plain))
	require.Error(t, refusal)
	assert.Contains(t, refusal.Error(), "restorable refused the deploy for AppStack/Database (AWS::RDS::DBCluster appstack-databaseb269d8bb-abcdefghijkl): this is the first deploy that guards it")
	assert.Contains(t, refusal.Error(), "StorageEncrypted: live false, template true")
	assert.Contains(t, refusal.Error(), "set Adopt: true")
	assert.Contains(t, refusal.Error(), "cdk deploy -c 'AppStack/Database.allowReplace=appstack-databaseb269d8bb-abcdefghijkl'")
	// AND with Adopt, the same first deploy goes ahead
	_, adopted, _ := auroraPair(t, nil, postgres, nil)
	require.NoError(t, firstDeploy(t, adopted, liveCluster(plain)))
}

// liveCluster is the cluster a plain L2 template creates, as RDS describes it.
func liveCluster(plain map[string]interface{}) string {
	_, r := onlyResourceNoT(plain, "AWS::RDS::DBCluster")
	p := props(r)
	encrypted := fmt.Sprint(p["StorageEncrypted"] == true)
	return `<DBClusterIdentifier>appstack-databaseb269d8bb-abcdefghijkl</DBClusterIdentifier><Engine>` + p["Engine"].(string) + `</Engine>
<EngineMode>provisioned</EngineMode><MasterUsername>postgres</MasterUsername><StorageEncrypted>` + encrypted + `</StorageEncrypted>
<DBSubnetGroup>appstack-databasesubnets-0a1b2c3d</DBSubnetGroup><Status>available</Status>`
}

func onlyResourceNoT(tmpl map[string]interface{}, typ string) (string, map[string]interface{}) {
	for id, r := range tmpl["Resources"].(map[string]interface{}) {
		if r.(map[string]interface{})["Type"] == typ {
			return id, r.(map[string]interface{})
		}
	}
	return "", nil
}

// firstDeploy runs the guard's handler on the Create that the first deploy of
// tmpl sends, in a stack that holds the cluster (and its subnet group) already,
// with CloudFormation's resolution of the template's references stood in for
// by the deployed names.
func firstDeploy(t *testing.T, tmpl map[string]interface{}, cluster string) error {
	t.Helper()
	clusterID := clusterIDOf(t, tmpl)
	subnets, _ := onlyResourceNoT(tmpl, "AWS::RDS::DBSubnetGroup")
	physical := map[string]string{clusterID: "appstack-databaseb269d8bb-abcdefghijkl", subnets: "appstack-databasesubnets-0a1b2c3d"}
	_, g := onlyResource(t, tmpl, restorable.GuardResourceType)
	resolved := resolveRefs(props(g), physical).(map[string]interface{})
	cfnServer := awstest.NewServer(t, func(r awstest.Request) awstest.Response {
		switch r.Operation {
		case "DescribeStacks":
			return awstest.QueryXML(awstest.CloudFormationNS, "DescribeStacks", `<Stacks><member><StackName>AppStack</StackName><StackId>arn:aws:cloudformation:ap-northeast-1:123456789012:stack/AppStack/1</StackId><CreationTime>2026-10-01T09:00:00Z</CreationTime><StackStatus>UPDATE_IN_PROGRESS</StackStatus></member></Stacks>`)
		case "ListStackResources":
			return awstest.QueryXML(awstest.CloudFormationNS, "ListStackResources", `<StackResourceSummaries><member><LogicalResourceId>`+clusterID+`</LogicalResourceId><PhysicalResourceId>`+physical[clusterID]+`</PhysicalResourceId><ResourceType>AWS::RDS::DBCluster</ResourceType><LastUpdatedTimestamp>2026-10-01T09:10:00Z</LastUpdatedTimestamp><ResourceStatus>UPDATE_COMPLETE</ResourceStatus></member></StackResourceSummaries>`)
		}
		return awstest.QueryError(400, "InvalidAction", r.Operation)
	})
	rdsServer := awstest.NewServer(t, func(r awstest.Request) awstest.Response {
		return awstest.QueryXML(awstest.RDSNS, "DescribeDBClusters", "<DBClusters><DBCluster>"+cluster+"</DBCluster></DBClusters>")
	})
	clients := guard.Clients{
		CloudFormation: cloudformation.NewFromConfig(awstest.Config(cfnServer.URL)),
		RDS:            rds.NewFromConfig(awstest.Config(rdsServer.URL)),
		EFS:            efs.NewFromConfig(awstest.Config(cfnServer.URL)),
		Backup:         backup.NewFromConfig(awstest.Config(cfnServer.URL)),
	}
	// Only the cluster exists yet in this simulation: drop the others.
	res := resolved[contract.GuardResources].(map[string]interface{})
	for id := range res {
		if id != clusterID {
			delete(res, id)
		}
	}
	_, _, err := clients.Handle(context.Background(), cfn.Event{RequestType: cfn.RequestCreate, StackID: "arn:aws:cloudformation:ap-northeast-1:123456789012:stack/AppStack/1",
		LogicalResourceID: "RestorableGuard", ResourceProperties: resolved}, t.Logf)
	return err
}

// resolveRefs stands in for CloudFormation's resolution: a Ref to a deployed
// resource becomes its physical name, other intrinsics a string that names
// them, and scalars strings, as CloudFormation passes them to a custom resource.
func resolveRefs(v interface{}, physical map[string]string) interface{} {
	switch x := v.(type) {
	case map[string]interface{}:
		if r, ok := x["Ref"].(string); ok {
			if p, ok := physical[r]; ok {
				return p
			}
			return "ref:" + r
		}
		if g, ok := x["Fn::GetAtt"].([]interface{}); ok {
			return fmt.Sprintf("getatt:%s.%s", g[0], g[1])
		}
		if j, ok := x["Fn::Join"].([]interface{}); ok {
			var b strings.Builder
			for _, part := range j[1].([]interface{}) {
				b.WriteString(resolveRefs(part, physical).(string))
			}
			return b.String()
		}
		out := map[string]interface{}{}
		for k, y := range x {
			out[k] = resolveRefs(y, physical)
		}
		return out
	case []interface{}:
		out := make([]interface{}, len(x))
		for i, y := range x {
			out[i] = resolveRefs(y, physical)
		}
		return out
	case bool, float64:
		return fmt.Sprint(x)
	}
	return v
}

func TestARestoreAfterAdoptionKeepsTheSecretValid(t *testing.T) {
	// GIVEN an adopted cluster, and the same cluster restored from a snapshot
	_, adopted, _ := auroraPair(t, nil, postgres, nil)
	_, restored, _ := auroraPair(t, map[string]string{"snapshotArn": snapshotARN}, postgres, nil)
	// THEN the secret the L2 generated keeps its logical ID and its value,
	// and the restored cluster gets its password again
	secretID, secret := onlyResource(t, adopted, "AWS::SecretsManager::Secret")
	againID, again := onlyResource(t, restored, "AWS::SecretsManager::Secret")
	assert.Equal(t, secretID, againID)
	assert.Equal(t, secret, again)
	_, cluster := onlyResource(t, restored, "AWS::RDS::DBCluster")
	assert.Equal(t, snapshotARN, props(cluster)["SnapshotIdentifier"])
	assert.Contains(t, fmtJSON(props(cluster)["MasterUserPassword"]), `{"Ref":"`+secretID+`"}`)
	assert.Contains(t, fmtJSON(props(cluster)["MasterUserPassword"]), ":SecretString:password::}}")
	// AND the only stateful resources the restore replaces are the cluster
	// and its instances, which a restore asks for; the secret's attachment
	// follows the new cluster in place
	for _, line := range dataLoss(switchReport(t, adopted, restored)) {
		assert.Regexp(t, `^AWS::RDS::DB(Cluster|Instance) `, line)
	}
	// AND the guard lets the restore through
	id := clusterIDOf(t, adopted)
	assert.Equal(t, guard.Allow, guard.Decide(guardProps(t, adopted).Resources[id], guardProps(t, restored).Resources[id]).Verdict)
}

func TestAdoptingAFileSystemReplacesAndDeletesNothing(t *testing.T) {
	build := func(restorableToo, requireTLS bool) map[string]interface{} {
		stack := newStack(t, nil)
		p := awsefs.FileSystemProps{Vpc: newVpc(stack)}
		if restorableToo {
			restorable.NewFileSystem(stack, jsii.String("Files"), &restorable.FileSystemProps{FileSystemProps: p, Adopt: true, RequireTLSAndIAM: requireTLS})
		} else {
			awsefs.NewFileSystem(stack, jsii.String("Files"), &p)
		}
		return templateJSON(t, stack)
	}
	plain, adopted := build(false, false), build(true, false)
	assert.Empty(t, dataLoss(switchReport(t, plain, adopted)))
	id, _ := onlyResource(t, adopted, "AWS::EFS::FileSystem")
	entry := guardProps(t, adopted).Resources[id]
	assert.True(t, entry.Adopt)
	assert.Equal(t, map[string]interface{}{"Encrypted": true}, entry.CreateOnly, "encryption as the L2 made it, with the AWS-managed key")
	// The file system policy is the plain construct's: any policy ends EFS's
	// anonymous access, so clients that mount without TLS or IAM keep working.
	_, plainFS := onlyResource(t, plain, "AWS::EFS::FileSystem")
	_, adoptedFS := onlyResource(t, adopted, "AWS::EFS::FileSystem")
	assert.Equal(t, props(plainFS)["FileSystemPolicy"], props(adoptedFS)["FileSystemPolicy"])
	// So it is when the plain app granted a client, which makes aws-cdk-lib
	// add its statement against anonymous clients: restorable's
	// GrantReadWrite grants through the plain construct
	granted := func(restorableToo bool) map[string]interface{} {
		stack := newStack(t, nil)
		p := awsefs.FileSystemProps{Vpc: newVpc(stack)}
		role := awsiam.NewRole(stack, jsii.String("TaskRole"), &awsiam.RoleProps{AssumedBy: awsiam.NewServicePrincipal(jsii.String("ecs-tasks.amazonaws.com"), nil)})
		if restorableToo {
			restorable.NewFileSystem(stack, jsii.String("Files"), &restorable.FileSystemProps{FileSystemProps: p, Adopt: true}).GrantReadWrite(role)
		} else {
			awsefs.NewFileSystem(stack, jsii.String("Files"), &p).GrantReadWrite(role)
		}
		return templateJSON(t, stack)
	}
	plainGranted, adoptedGranted := granted(false), granted(true)
	_, plainGrantedFS := onlyResource(t, plainGranted, "AWS::EFS::FileSystem")
	_, adoptedGrantedFS := onlyResource(t, adoptedGranted, "AWS::EFS::FileSystem")
	require.NotNil(t, props(plainGrantedFS)["FileSystemPolicy"], "the plain construct has a policy once it granted a client")
	assert.Equal(t, props(plainGrantedFS)["FileSystemPolicy"], props(adoptedGrantedFS)["FileSystemPolicy"])
	// Once every client mounts with -o tls,iam, RequireTLSAndIAM applies
	// restorable's policy, in place.
	strict := build(true, true)
	_, strictFS := onlyResource(t, strict, "AWS::EFS::FileSystem")
	assert.Contains(t, fmtJSON(props(strictFS)["FileSystemPolicy"]), `"aws:SecureTransport":"false"`)
	assert.Empty(t, dataLoss(switchReport(t, adopted, strict)))
}
