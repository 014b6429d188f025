package test

import (
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const otherSnapshotARN = "arn:aws:rds:ap-northeast-1:123456789012:cluster-snapshot:after-migration"

func TestExampleNewToSnapshotChangesOnlyTheCluster(t *testing.T) {
	// GIVEN the example deployed without a restore source
	_, before, _ := example(t, nil)
	// WHEN it is deployed with -c snapshotArn=...
	_, after, _ := example(t, map[string]string{"snapshotArn": snapshotARN})
	// THEN the only template changes are the cluster's restore source and its
	// guard; the service, the security groups, the key and the subnet group are
	// untouched, and every consumer follows the restored cluster through its
	// references
	assert.ElementsMatch(t, clusterAndGuardChanges(t, before, "SnapshotIdentifier", "MasterUsername", "StorageEncrypted"),
		templateChanges(before, after))
}

func TestExampleSameSnapshotAgainChangesNothing(t *testing.T) {
	// GIVEN the example restored from a snapshot
	_, first, _ := example(t, map[string]string{"snapshotArn": snapshotARN})
	// WHEN it is deployed again with the same source
	_, again, _ := example(t, map[string]string{"snapshotArn": snapshotARN})
	// THEN the template is identical, so CloudFormation changes nothing
	assert.Empty(t, templateChanges(first, again))
	assert.Equal(t, first, again)
}

func TestExampleAnotherSnapshotChangesOnlyTheSource(t *testing.T) {
	// GIVEN the example restored from one snapshot
	_, first, _ := example(t, map[string]string{"snapshotArn": snapshotARN})
	// WHEN it is restored from another snapshot, with the per-construct key
	_, second, _ := example(t, map[string]string{"RedmineStack/Database.snapshotArn": otherSnapshotARN})
	// THEN only the snapshot identifier changes, on the cluster and its guard
	id := clusterIDOf(t, first)
	assert.ElementsMatch(t, clusterAndGuardChanges(t, first, "SnapshotIdentifier"), templateChanges(first, second))
	assert.Equal(t, otherSnapshotARN, props(second["Resources"].(map[string]interface{})[id].(map[string]interface{}))["SnapshotIdentifier"])
}

func TestExampleServiceFollowsTheCluster(t *testing.T) {
	for name, ctx := range map[string]map[string]string{"new": nil, "restored": {"snapshotArn": snapshotARN}} {
		t.Run(name, func(t *testing.T) {
			_, tmpl, _ := example(t, ctx)
			cluster := clusterIDOf(t, tmpl)
			_, taskDef := onlyResource(t, tmpl, "AWS::ECS::TaskDefinition")
			containers := props(taskDef)["ContainerDefinitions"].([]interface{})
			require.Len(t, containers, 1)
			c := containers[0].(map[string]interface{})
			env := map[string]interface{}{}
			for _, e := range c["Environment"].([]interface{}) {
				kv := e.(map[string]interface{})
				env[kv["Name"].(string)] = kv["Value"]
			}
			// The host is the stable endpoint's record, whose value is the
			// cluster's endpoint attribute, so it follows a restore.
			recordID := env["REDMINE_DB_POSTGRES"].(map[string]interface{})["Ref"].(string)
			_, record := resourceByID(t, tmpl, recordID)
			assert.Equal(t, "AWS::Route53::RecordSet", record["Type"])
			assert.Equal(t, []interface{}{map[string]interface{}{"Fn::GetAtt": []interface{}{cluster, "Endpoint.Address"}}}, props(record)["ResourceRecords"])
			assert.Equal(t, "require", env["PGSSLMODE"])
			// The credentials come from the RDS-managed secret of the current cluster.
			secretArn := fmtJSON(map[string]interface{}{"Fn::GetAtt": []interface{}{cluster, "MasterUserSecret.SecretArn"}})
			secrets := map[string]string{}
			for _, s := range c["Secrets"].([]interface{}) {
				kv := s.(map[string]interface{})
				secrets[kv["Name"].(string)] = fmtJSON(kv["ValueFrom"])
			}
			assert.Contains(t, secrets["REDMINE_DB_USERNAME"], secretArn)
			assert.Contains(t, secrets["REDMINE_DB_USERNAME"], ":username::")
			assert.Contains(t, secrets["REDMINE_DB_PASSWORD"], ":password::")
			// The task execution role may read exactly the current cluster's secret
			// (and Redmine's own key; cdk.json's minimizePolicies merges the two).
			_, policies := resourcesOfType(t, tmpl, "AWS::IAM::Policy")
			var grants []string
			for _, p := range policies {
				for _, st := range props(p)["PolicyDocument"].(map[string]interface{})["Statement"].([]interface{}) {
					grants = append(grants, fmtJSON(st))
				}
			}
			secretKeyBase, _ := onlyResource(t, tmpl, "AWS::SecretsManager::Secret")
			assert.Contains(t, grants, fmtJSON(map[string]interface{}{
				"Action": []interface{}{"secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"},
				"Effect": "Allow",
				"Resource": []interface{}{
					map[string]interface{}{"Fn::GetAtt": []interface{}{cluster, "MasterUserSecret.SecretArn"}},
					map[string]interface{}{"Ref": secretKeyBase},
				},
			}))
			// And no restore adds a secret: only Redmine's own SECRET_KEY_BASE exists.
			ids, _ := resourcesOfType(t, tmpl, "AWS::SecretsManager::Secret")
			assert.Len(t, ids, 1)
		})
	}
}

func TestExampleSynthesizesWithoutWarnings(t *testing.T) {
	stack, _, outdir := example(t, nil)
	a := assertions.Annotations_FromStack(stack.Stack)
	a.HasNoWarning(jsii.String("*"), assertions.Match_AnyValue())
	a.HasNoError(jsii.String("*"), assertions.Match_AnyValue())
	assert.Empty(t, validationViolations(t, outdir, "CloudFormation Validate"))
}
