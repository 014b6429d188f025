package test

import (
	"bytes"
	"regexp"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsrds"
	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restorable-cdk/restorable/internal/guard"
	"github.com/restorable-cdk/restorable/restorable"
)

// guardOf returns the logical ID and properties of the guard of the one cluster.
func guardOf(t *testing.T, tmpl map[string]interface{}) (string, map[string]interface{}) {
	t.Helper()
	return guardFor(t, tmpl, clusterIDOf(t, tmpl))
}

// guardFor returns the logical ID and properties of the guard that protects the
// resource with the given logical ID.
func guardFor(t *testing.T, tmpl map[string]interface{}, logicalID string) (string, map[string]interface{}) {
	t.Helper()
	ids, guards := resourcesOfType(t, tmpl, restorable.GuardResourceType)
	for i, g := range guards {
		if props(g)["LogicalId"] == logicalID {
			return ids[i], props(g)
		}
	}
	t.Fatalf("no guard protects %s", logicalID)
	return "", nil
}

// guardProps parses synthesized guard properties as the handler would; the
// template's intrinsics stand for the values CloudFormation resolves, and equal
// intrinsics resolve to equal values.
func guardProps(t *testing.T, tmpl map[string]interface{}) guard.Props {
	t.Helper()
	_, raw := guardOf(t, tmpl)
	p, err := guard.ParseProps(raw)
	require.NoError(t, err)
	return p
}

func TestGuardIsUpdatedBeforeTheCluster(t *testing.T) {
	stack, _ := newCluster(t, nil)
	tmpl := templateJSON(t, stack)
	guardID, g := guardOf(t, tmpl)
	clusterID, cluster := onlyResource(t, tmpl, "AWS::RDS::DBCluster")
	// The cluster depends on its guard, so CloudFormation updates the guard first
	// and stops the update before it reaches the cluster.
	assert.Contains(t, cluster["DependsOn"], guardID)
	assert.Equal(t, clusterID, g[guard.PropLogicalID])
	assert.Equal(t, "AppStack/Database", g[guard.PropResource])
	assert.Equal(t, "AWS::RDS::DBCluster", g[guard.PropResourceType])
	assert.Equal(t, "AppStack/Database.allowReplace", g[guard.PropConsentKey])
	assert.NotContains(t, g, guard.PropAllowReplace)
	// It watches every create-only property the cluster sets, resolved by
	// CloudFormation at deploy, and the (empty) restore source.
	keyID, _ := onlyResource(t, tmpl, "AWS::KMS::Key")
	subnetsID, _ := onlyResource(t, tmpl, "AWS::RDS::DBSubnetGroup")
	assert.Equal(t, map[string]interface{}{
		"DBSubnetGroupName": map[string]interface{}{"Ref": subnetsID},
		"Engine":            "aurora-postgresql",
		"KmsKeyId":          map[string]interface{}{"Fn::GetAtt": []interface{}{keyID, "Arn"}},
		"MasterUsername":    "postgres",
		"StorageEncrypted":  true,
	}, g[guard.PropCreateOnly])
	assert.Equal(t, map[string]interface{}{}, g[guard.PropSource])
	// Its service token is the stack's one guard provider.
	fnIDs, fns := resourcesOfType(t, tmpl, "AWS::Lambda::Function")
	var frameworkID string
	for i, fn := range fns {
		if props(fn)["Handler"] == "framework.onEvent" {
			frameworkID = fnIDs[i]
		}
	}
	assert.Equal(t, map[string]interface{}{"Fn::GetAtt": []interface{}{frameworkID, "Arn"}}, g["ServiceToken"])
	// Removing the guard never blocks a deploy.
	_, raw := resourceByID(t, tmpl, guardID)
	assert.Equal(t, "Delete", raw["DeletionPolicy"])
}

func TestGuardHandlerRunsAsAGoLambdaWithLeastPrivilege(t *testing.T) {
	stack, _ := newCluster(t, nil)
	tmpl := templateJSON(t, stack)
	_, fns := resourcesOfType(t, tmpl, "AWS::Lambda::Function")
	var handler map[string]interface{}
	for _, fn := range fns {
		if env, ok := props(fn)["Environment"].(map[string]interface{}); ok && fmtJSON(env) == `{"Variables":{"RESTORABLE_HANDLER":"guard"}}` {
			require.Nil(t, handler, "one guard handler")
			handler = props(fn)
		}
	}
	require.NotNil(t, handler)
	assert.Equal(t, "provided.al2023", handler["Runtime"])
	assert.Equal(t, []interface{}{"arm64"}, handler["Architectures"])
	assert.Equal(t, "bootstrap", handler["Handler"])
	// Its role may read only its own stack, and write only its own logs.
	roleID := handler["Role"].(map[string]interface{})["Fn::GetAtt"].([]interface{})[0].(string)
	_, policies := resourcesOfType(t, tmpl, "AWS::IAM::Policy")
	var statements []string
	for _, p := range policies {
		if fmtJSON(props(p)["Roles"]) == fmtJSON([]interface{}{map[string]interface{}{"Ref": roleID}}) {
			for _, st := range props(p)["PolicyDocument"].(map[string]interface{})["Statement"].([]interface{}) {
				statements = append(statements, fmtJSON(st))
			}
		}
	}
	require.Len(t, statements, 2)
	assert.Contains(t, statements[1], `"Action":["cloudformation:DescribeStacks","cloudformation:DescribeStackResource"]`)
	assert.Contains(t, statements[1], `"Resource":{"Ref":"AWS::StackId"}`, "this stack only, by its ID")
	assert.Contains(t, statements[0], `"Action":["logs:CreateLogStream","logs:PutLogEvents"]`)
	// No role of the guard uses an AWS-managed policy.
	_, role := resourceByID(t, tmpl, roleID)
	assert.NotContains(t, props(role), "ManagedPolicyArns")
}

func resourceByID(t *testing.T, tmpl map[string]interface{}, id string) (string, map[string]interface{}) {
	t.Helper()
	r, ok := tmpl["Resources"].(map[string]interface{})[id].(map[string]interface{})
	require.True(t, ok, id)
	return id, r
}

func TestOneGuardHandlerPerStack(t *testing.T) {
	stack := newStack(t, nil)
	base := clusterProps(stack)
	for _, id := range []string{"Orders", "Users"} {
		p := base
		p.Writer = awsrds.ClusterInstance_ServerlessV2(jsii.String("writer"), nil)
		restorable.NewAuroraCluster(stack, jsii.String(id), &restorable.AuroraClusterProps{DatabaseClusterProps: p})
	}
	tmpl := templateJSON(t, stack)
	guards, _ := resourcesOfType(t, tmpl, restorable.GuardResourceType)
	assert.Len(t, guards, 2)
	_, fns := resourcesOfType(t, tmpl, "AWS::Lambda::Function")
	var guardHandlers, frameworks int
	for _, fn := range fns {
		switch {
		case props(fn)["Handler"] == "framework.onEvent":
			frameworks++
		case props(fn)["Handler"] == "bootstrap":
			guardHandlers++
		}
	}
	assert.Equal(t, 1, guardHandlers)
	assert.Equal(t, 1, frameworks)
}

// clusterVariant synthesizes a cluster with the given context and a tweak to
// the database props.
func clusterVariant(t *testing.T, ctx map[string]string, tweak func(stack awscdk.Stack, p *restorable.AuroraClusterProps)) map[string]interface{} {
	t.Helper()
	stack := newStack(t, ctx)
	src, err := restorable.AuroraSourceFromContext(stack, "Database")
	require.NoError(t, err)
	consent, err := restorable.AllowReplaceFromContext(stack, "Database")
	require.NoError(t, err)
	p := &restorable.AuroraClusterProps{DatabaseClusterProps: clusterProps(stack), Source: src, AllowReplace: consent}
	if tweak != nil {
		tweak(stack, p)
	}
	restorable.NewAuroraCluster(stack, jsii.String("Database"), p)
	return templateJSON(t, stack)
}

func TestGuardPropertiesChangeExactlyOnDangerousTransitions(t *testing.T) {
	snapshot := map[string]string{"snapshotArn": snapshotARN}
	base := clusterVariant(t, nil, nil)
	restored := clusterVariant(t, snapshot, nil)
	guardID, _ := guardOf(t, base)
	guardChanges := func(before, after map[string]interface{}) []string {
		return changesOf(templateChanges(before, after), guardID)
	}

	tests := []struct {
		name        string
		before      map[string]interface{}
		after       map[string]interface{}
		wantChanges []string
		want        guard.Verdict
	}{
		{"a plain redeploy", base, clusterVariant(t, nil, nil), nil, guard.Allow},
		{"an update that replaces nothing (backup retention)", base,
			clusterVariant(t, nil, func(_ awscdk.Stack, p *restorable.AuroraClusterProps) {
				p.Backup = &awsrds.BackupProps{Retention: awscdk.Duration_Days(jsii.Number(14))}
			}), nil, guard.Allow},
		{"new to snapshot: a restore", base, restored,
			[]string{"Properties.CreateOnly.MasterUsername", "Properties.CreateOnly.StorageEncrypted", "Properties.Source.SnapshotIdentifier"}, guard.Allow},
		{"the same snapshot again", restored, clusterVariant(t, snapshot, nil), nil, guard.Allow},
		{"snapshot to none: the source dropped", restored, base,
			[]string{"Properties.CreateOnly.MasterUsername", "Properties.CreateOnly.StorageEncrypted", "Properties.Source.SnapshotIdentifier"}, guard.NeedsConsent},
		{"a new KMS key: a create-only property", base,
			clusterVariant(t, nil, func(stack awscdk.Stack, p *restorable.AuroraClusterProps) {
				p.StorageEncryptionKey = awskms.NewKey(stack, jsii.String("OtherKey"), &awskms.KeyProps{EnableKeyRotation: jsii.Bool(true)})
			}), []string{"Properties.CreateOnly.KmsKeyId.Fn::GetAtt"}, guard.NeedsConsent},
		{"a database name added: a create-only property", base,
			clusterVariant(t, nil, func(_ awscdk.Stack, p *restorable.AuroraClusterProps) { p.DefaultDatabaseName = jsii.String("app") }),
			[]string{"Properties.CreateOnly.DatabaseName"}, guard.NeedsConsent},
		{"consent given", base, clusterVariant(t, map[string]string{"AppStack/Database.allowReplace": "appstack-db-1"}, nil),
			[]string{"Properties.AllowReplace"}, guard.Allow},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.ElementsMatch(t, tt.wantChanges, guardChanges(tt.before, tt.after))
			// The handler's own decision on these very properties.
			assert.Equal(t, tt.want, guard.Decide(guardProps(t, tt.before), guardProps(t, tt.after)).Verdict)
		})
	}
}

func TestRestoredTemplateDropsNoGuard(t *testing.T) {
	// A plain redeploy of a restored stack leaves the guard untouched, and so
	// never calls its handler.
	_, first, _ := example(t, map[string]string{"snapshotArn": snapshotARN})
	_, second, _ := example(t, map[string]string{"snapshotArn": snapshotARN})
	guardID, _ := guardOf(t, first)
	assert.Empty(t, changesOf(templateChanges(first, second), guardID))
}

func TestHandlerAssetIsReproducible(t *testing.T) {
	// GIVEN two synths of the same app
	keys1 := lambdaCodeKeys(t, templateJSON(t, first(newCluster(t, nil))))
	keys2 := lambdaCodeKeys(t, templateJSON(t, first(newCluster(t, nil))))
	// THEN the guard's code has the same asset key, so an unchanged app shows no
	// diff; the key is derived from the binary's SHA-256 (see also the consumer
	// module test, which builds from the module cache)
	require.NotEmpty(t, keys1)
	assert.Equal(t, keys1, keys2)
}

// lambdaCodeKeys returns the S3 keys of the Go handler functions' code.
func lambdaCodeKeys(t *testing.T, tmpl map[string]interface{}) []string {
	t.Helper()
	_, fns := resourcesOfType(t, tmpl, "AWS::Lambda::Function")
	var keys []string
	for _, fn := range fns {
		if props(fn)["Handler"] == "bootstrap" {
			keys = append(keys, props(fn)["Code"].(map[string]interface{})["S3Key"].(string))
		}
	}
	return keys
}

func TestReportListsTheGuardAndTheConsentCommand(t *testing.T) {
	stack, _ := newCluster(t, nil)
	templateJSON(t, stack)
	var b bytes.Buffer
	require.NoError(t, restorable.WriteReport(&b, stack))
	assert.Regexp(t, regexp.MustCompile(`guard:   a deploy that would replace this cluster with an empty one fails first \(template fingerprint [0-9a-f]{12}\)`), b.String())
	assert.Contains(t, b.String(), "consent: cdk deploy -c 'AppStack/Database.allowReplace=<current cluster identifier: stack output DatabaseClusterIdentifier>'")
}
