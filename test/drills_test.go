package test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsrds"
	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restorable-cdk/restorable/internal/contract"
	"github.com/restorable-cdk/restorable/restorable"
)

// rendered writes a template value as text: strings as they are, Fn::Join
// joined, a Ref as ${Ref:<path>} (${AWS::Region} for a pseudo parameter) and
// a Fn::GetAtt as ${<path>.<attribute>}, where <path> is the resource's
// construct path in its stack, so that nothing depends on a hashed logical ID.
func rendered(t *testing.T, tmpl map[string]interface{}, v interface{}) string {
	t.Helper()
	pathOf := func(id string) string {
		r, ok := tmpl["Resources"].(map[string]interface{})[id].(map[string]interface{})
		require.True(t, ok, "resource %s", id)
		p := cdkPath(r)
		p = p[strings.Index(p, "/")+1:]
		return strings.TrimSuffix(strings.TrimSuffix(p, "/Resource"), "/Default")
	}
	switch x := v.(type) {
	case string:
		return x
	case map[string]interface{}:
		if join, ok := x["Fn::Join"].([]interface{}); ok {
			var b strings.Builder
			for i, part := range join[1].([]interface{}) {
				if i > 0 {
					b.WriteString(join[0].(string))
				}
				b.WriteString(rendered(t, tmpl, part))
			}
			return b.String()
		}
		if ref, ok := x["Ref"].(string); ok {
			if strings.HasPrefix(ref, "AWS::") {
				return "${" + ref + "}"
			}
			return "${Ref:" + pathOf(ref) + "}"
		}
		if att, ok := x["Fn::GetAtt"].([]interface{}); ok {
			return "${" + pathOf(att[0].(string)) + "." + att[1].(string) + "}"
		}
	}
	t.Fatalf("cannot render %s", fmtJSON(v))
	return ""
}

// drillDefinition is the drill state machine's definition in stack.
func drillDefinition(t *testing.T, tmpl map[string]interface{}, stack string) map[string]interface{} {
	t.Helper()
	_, machine := byPath(t, tmpl, stack+"/RestorableProtection/RestoreTesting/Validation/StateMachine")
	var def map[string]interface{}
	text := rendered(t, tmpl, props(machine)["DefinitionString"])
	require.NoError(t, json.Unmarshal([]byte(text), &def), text)
	return def
}

// drillConfig is the config the state machine's first state gives every
// drill.
func drillConfig(t *testing.T, tmpl map[string]interface{}, stack string) map[string]interface{} {
	t.Helper()
	states := drillDefinition(t, tmpl, stack)["States"].(map[string]interface{})
	return states["Configure"].(map[string]interface{})["Parameters"].(map[string]interface{})["config"].(map[string]interface{})
}

func TestTheExampleValidatesItsDrills(t *testing.T) {
	// GIVEN the example app, whose protection drills monthly
	_, tmpl, _ := example(t, nil)

	t.Run("a restore job of the drill plans starts the validation", func(t *testing.T) {
		_, rule := byPath(t, tmpl, "RedmineStack/RestorableProtection/RestoreTesting/Validation/RestoreJobEnded")
		pattern := props(rule)["EventPattern"].(map[string]interface{})
		assert.Equal(t, []interface{}{"aws.backup"}, pattern["source"])
		assert.Equal(t, []interface{}{"Restore Job State Change"}, pattern["detail-type"])
		detail := pattern["detail"].(map[string]interface{})
		assert.ElementsMatch(t, []interface{}{"COMPLETED", "FAILED", "ABORTED"}, detail["status"])
		var plans []string
		for _, p := range detail["restoreTestingPlanArn"].([]interface{}) {
			plans = append(plans, rendered(t, tmpl, p))
		}
		assert.Equal(t, []string{"${RestorableProtection/RestoreTesting/Plan.RestoreTestingPlanArn}"}, plans)
		machineID, _ := byPath(t, tmpl, "RedmineStack/RestorableProtection/RestoreTesting/Validation/StateMachine")
		target := props(rule)["Targets"].([]interface{})[0].(map[string]interface{})
		assert.Equal(t, map[string]interface{}{"Ref": machineID}, target["Arn"])
	})
	t.Run("the rule passes the restore job's ID, and the state machine knows every drilled resource and what its drill checks", func(t *testing.T) {
		_, rule := byPath(t, tmpl, "RedmineStack/RestorableProtection/RestoreTesting/Validation/RestoreJobEnded")
		target := props(rule)["Targets"].([]interface{})[0].(map[string]interface{})
		transformer := target["InputTransformer"].(map[string]interface{})
		assert.Equal(t, map[string]interface{}{"detail-restoreJobId": "$.detail.restoreJobId"}, transformer["InputPathsMap"])
		assert.Equal(t, `{"restoreJobId":<detail-restoreJobId>}`, rendered(t, tmpl, transformer["InputTemplate"]))
		cfg := drillConfig(t, tmpl, "RedmineStack")
		assert.Equal(t, 24.0, cfg["validationWindowHours"])
		assert.Equal(t, "${Ref:RestorableProtection/Alerts/Topic}", cfg["alertTopicArn"])
		byPathOf := map[string]map[string]interface{}{}
		for _, r := range cfg["resources"].([]interface{}) {
			byPathOf[r.(map[string]interface{})["path"].(string)] = r.(map[string]interface{})
		}
		require.Len(t, byPathOf, 2)
		db := byPathOf["RedmineStack/Database"]
		assert.Equal(t, "Aurora", db["kind"])
		assert.Equal(t, "SELECT count(*) > 0 FROM users", db["sql"])
		assert.Equal(t, "redmine", db["database"])
		assert.Equal(t, 7200.0, db["rtoSeconds"])
		assert.Contains(t, db["arn"], ":cluster:${Ref:Database}")
		files := byPathOf["RedmineStack/Files"]
		assert.Equal(t, "EFS", files["kind"])
		assert.Equal(t, []interface{}{"redmine-files"}, files["paths"])
		assert.Equal(t, 2.0, files["factor"])
		assert.Equal(t, 14400.0, files["rtoSeconds"])
		assert.Equal(t, "${RestorableProtection/RestoreTesting/Validation/SecurityGroup.GroupId}", files["securityGroup"], "the drills' own group, not the live file system's")
		assert.Contains(t, files["subnetId"], "${Ref:Vpc/PrivateSubnet1/Subnet}")
		// The config is what the drill handler reads.
		raw, _ := json.Marshal(cfg)
		var typed contract.DrillConfig
		require.NoError(t, json.Unmarshal(raw, &typed))
		assert.Len(t, typed.Resources, 2)
	})
	t.Run("the state machine creates the drill's function, runs it, and deletes it", func(t *testing.T) {
		def := drillDefinition(t, tmpl, "RedmineStack")
		assert.Equal(t, "Configure", def["StartAt"])
		states := def["States"].(map[string]interface{})
		create := states["CreateFunction"].(map[string]interface{})
		assert.Equal(t, "arn:aws:states:::aws-sdk:lambda:createFunction", create["Resource"])
		params := create["Parameters"].(map[string]interface{})
		assert.Equal(t, "States.Format('restorable-drill-{}', $.restoreJobId)", params["FunctionName.$"])
		assert.Equal(t, "${RestorableProtection/RestoreTesting/Validation/DrillRole.Arn}", params["Role"])
		assert.NotContains(t, params, "VpcConfig", "the drill function is outside the VPC; it creates the files function inside")
		assert.Equal(t, contract.HandlerDrill, params["Environment"].(map[string]interface{})["Variables"].(map[string]interface{})[contract.EnvHandler])
		code := params["Code"].(map[string]interface{})
		assert.Regexp(t, `^[0-9a-f]{64}\.zip$`, code["S3Key"])
		for _, name := range []string{"WaitActive", "Step", "Wait", "Abort", "DeleteFunction", "CreateFailed"} {
			assert.Contains(t, states, name)
		}
		assert.Equal(t, "arn:aws:states:::aws-sdk:lambda:deleteFunction", states["DeleteFunction"].(map[string]interface{})["Resource"])
		assert.Equal(t, "Abort", states["Step"].(map[string]interface{})["Catch"].([]interface{})[0].(map[string]interface{})["Next"])
		assert.Equal(t, "Carry", states["Abort"].(map[string]interface{})["Next"], "an abort goes on with the cleanup")
		// A second execution for the same job does not report a false FAILED.
		catches := create["Catch"].([]interface{})
		assert.Equal(t, []interface{}{"Lambda.ResourceConflictException"}, catches[0].(map[string]interface{})["ErrorEquals"])
		assert.Equal(t, "Succeed", states[catches[0].(map[string]interface{})["Next"].(string)].(map[string]interface{})["Type"])
		// A function that never starts is reported and deleted.
		isActive := fmtJSON(states["IsActive"])
		assert.Contains(t, isActive, `{"Next":"FunctionFailed","StringEquals":"Failed"`)
		assert.Equal(t, "DeleteFailedFunction", states["FunctionFailed"].(map[string]interface{})["Next"])
		assert.Equal(t, "arn:aws:states:::aws-sdk:lambda:deleteFunction", states["DeleteFailedFunction"].(map[string]interface{})["Resource"])
		// A handler's passing error is retried before the drill is aborted.
		assert.Contains(t, fmtJSON(states["Step"].(map[string]interface{})["Retry"]), `"States.TaskFailed"`)
		// The code the state machine names is the handler asset the guard runs.
		guardID, guard := functionWithHandler(t, tmpl, contract.HandlerGuard)
		_ = guardID
		assert.Equal(t, code["S3Key"], props(guard)["Code"].(map[string]interface{})["S3Key"])
	})
	t.Run("the state machine may create and run only the drill's functions, with the drill role", func(t *testing.T) {
		_, machine := byPath(t, tmpl, "RedmineStack/RestorableProtection/RestoreTesting/Validation/StateMachine")
		policy := iamPolicy(statementsOf(t, tmpl, refOf(props(machine)["RoleArn"])))
		fn := "arn:aws:lambda:ap-northeast-1:123456789012:function:"
		assert.True(t, policy.allows("lambda:CreateFunction", fn+contract.DrillFunctionPrefix+"6f0c8e1a", nil))
		assert.False(t, policy.allows("lambda:CreateFunction", fn+"anything-else", nil))
		assert.False(t, policy.allows("lambda:InvokeFunction", fn+contract.DrillFilesFunctionPrefix+"6f0c8e1a", nil), "the files function is the drill function's")
		assert.False(t, policy.allows("lambda:UpdateFunctionCode", fn+contract.DrillFunctionPrefix+"6f0c8e1a", nil))
	})
	t.Run("Aurora copies are restored into the cluster's subnet group and the drills' group, not the default VPC", func(t *testing.T) {
		_, sel := byPath(t, tmpl, "RedmineStack/RestorableProtection/RestoreTesting/Aurora/Selection")
		o := props(sel)["RestoreMetadataOverrides"].(map[string]interface{})
		assert.Equal(t, "${Ref:Database/Default/Subnets}", rendered(t, tmpl, o["dbSubnetGroupName"]))
		assert.Equal(t, `["${RestorableProtection/RestoreTesting/Validation/SecurityGroup.GroupId}"]`, rendered(t, tmpl, o["vpcSecurityGroupIds"]))
		_, efsSel := byPath(t, tmpl, "RedmineStack/RestorableProtection/RestoreTesting/EFS/Selection")
		assert.NotContains(t, props(efsSel), "RestoreMetadataOverrides")
		// The drills' group lets in NFS from itself only; the live file
		// system's group gains nothing.
		groupID, _ := byPath(t, tmpl, "RedmineStack/RestorableProtection/RestoreTesting/Validation/SecurityGroup")
		_, ingresses := resourcesOfType(t, tmpl, "AWS::EC2::SecurityGroupIngress")
		liveGroup, _ := byPath(t, tmpl, "RedmineStack/Files/EfsSecurityGroup")
		for _, in := range ingresses {
			p := props(in)
			if refOf(p["GroupId"]) == groupID {
				assert.Equal(t, 2049.0, p["FromPort"])
				assert.Equal(t, groupID, refOf(p["SourceSecurityGroupId"]))
			}
			if refOf(p["GroupId"]) == liveGroup {
				assert.NotEqual(t, refOf(p["SourceSecurityGroupId"]), liveGroup, "no drill rule on the live file system's group")
			}
		}
	})
	t.Run("no drill function is in the template: they exist only while a drill runs", func(t *testing.T) {
		assert.Empty(t, functionsWithHandler(tmpl, contract.HandlerDrill))
		assert.Empty(t, functionsWithHandler(tmpl, contract.HandlerDrillFiles))
	})
}

// live stands for the example's live resources in the drill roles' policies.
func liveResources(t *testing.T, tmpl map[string]interface{}) (map[string]string, map[string]string) {
	clusterID, _ := byPath(t, tmpl, "RedmineStack/Database/Default")
	fsID, _ := byPath(t, tmpl, "RedmineStack/Files/Default")
	refs := map[string]string{clusterID: "redminestack-database-live1", fsID: "fs-0live0000000000001"}
	atts := map[string]string{
		clusterID + ".MasterUserSecret.SecretArn": "arn:aws:secretsmanager:ap-northeast-1:123456789012:secret:rds!cluster-live-AbCdEf",
		fsID + ".Arn":               "arn:aws:elasticfilesystem:ap-northeast-1:123456789012:file-system/fs-0live0000000000001",
		clusterID + ".DBClusterArn": "arn:aws:rds:ap-northeast-1:123456789012:cluster:redminestack-database-live1",
	}
	return refs, atts
}

// substituted replaces Refs and Fn::GetAtts of the given resources with
// strings, so the policy evaluator can match them.
func substituted(v interface{}, refs, atts map[string]string) interface{} {
	switch x := v.(type) {
	case map[string]interface{}:
		if ref, ok := x["Ref"].(string); ok {
			if s, ok := refs[ref]; ok {
				return s
			}
		}
		if att, ok := x["Fn::GetAtt"].([]interface{}); ok {
			if s, ok := atts[att[0].(string)+"."+att[1].(string)]; ok {
				return s
			}
		}
		out := map[string]interface{}{}
		for k, e := range x {
			out[k] = substituted(e, refs, atts)
		}
		return out
	case []interface{}:
		out := make([]interface{}, len(x))
		for i, e := range x {
			out[i] = substituted(e, refs, atts)
		}
		return out
	}
	return v
}

func TestADrillNeverTouchesTheLiveResources(t *testing.T) {
	// GIVEN the drill roles' policies, with the example's live cluster, file
	// system and secret in them
	_, tmpl, _ := example(t, nil)
	refs, atts := liveResources(t, tmpl)
	policyOf := func(path string) iamPolicy {
		id, _ := byPath(t, tmpl, path)
		var p iamPolicy
		for _, st := range statementsOf(t, tmpl, id) {
			p = append(p, substituted(st, refs, atts).(map[string]interface{}))
		}
		return p
	}
	drill := policyOf("RedmineStack/RestorableProtection/RestoreTesting/Validation/DrillRole")
	files := policyOf("RedmineStack/RestorableProtection/RestoreTesting/Validation/FilesRole")
	const (
		liveCluster  = "arn:aws:rds:ap-northeast-1:123456789012:cluster:redminestack-database-live1"
		liveInstance = "arn:aws:rds:ap-northeast-1:123456789012:db:redminestack-database-writer-1"
		liveSecret   = "arn:aws:secretsmanager:ap-northeast-1:123456789012:secret:rds!cluster-live-AbCdEf"
		liveFS       = "arn:aws:elasticfilesystem:ap-northeast-1:123456789012:file-system/fs-0live0000000000001"
		copyCluster  = "arn:aws:rds:ap-northeast-1:123456789012:cluster:awsbackup-restore-test-7a1b2c3d4e5f"
		copyInstance = "arn:aws:rds:ap-northeast-1:123456789012:db:awsbackup-restore-test-7a1b2c3d4e5f-drill"
		copySecret   = "arn:aws:secretsmanager:ap-northeast-1:123456789012:secret:rds!cluster-5f1d-AbCdEf"
		copyFS       = "arn:aws:elasticfilesystem:ap-northeast-1:123456789012:file-system/fs-0copy0000000000002"
	)
	// Even with every tag a copy has, forged onto the live resources.
	forged := map[string]string{contract.RestoreTestTag: "x", contract.TagDrill: "awsbackup-restore-test-7a1b2c3d4e5f",
		"aws:rds:primaryDBClusterArn": copyCluster}
	// WHEN every action either role allows is tried on the live resources
	actions := map[string]bool{}
	for _, p := range []iamPolicy{drill, files} {
		for _, st := range p {
			if st["Effect"] != "Allow" {
				continue
			}
			switch a := st["Action"].(type) {
			case string:
				actions[a] = true
			case []interface{}:
				for _, x := range a {
					actions[x.(string)] = true
				}
			}
		}
	}
	require.Contains(t, actions, "rds:ModifyDBCluster")
	require.Contains(t, actions, "elasticfilesystem:CreateMountTarget")
	// THEN none is allowed (IAM matches an action against its own service's
	// resources only)
	service := func(arn string) string { return strings.SplitN(arn, ":", 4)[2] }
	for action := range actions {
		for _, live := range []string{liveCluster, liveInstance, liveSecret, liveFS} {
			if prefix := strings.SplitN(action, ":", 2)[0]; prefix != service(live) && !(prefix == "rds-data" && service(live) == "rds") {
				continue
			}
			for name, p := range map[string]iamPolicy{"drill": drill, "files": files} {
				assert.False(t, p.allowsRequest(iamRequest{action: action, resource: live, context: forged}), "%s role: %s on %s", name, action, live)
			}
		}
	}
	// AND the copies are what the drill may change (the policy is not
	// simply empty)
	tagged := map[string]string{contract.RestoreTestTag: "x"}
	for _, tt := range []iamRequest{
		{action: "rds:ModifyDBCluster", resource: copyCluster},
		{action: "rds:CreateDBInstance", resource: copyInstance},
		{action: "rds:DeleteDBInstance", resource: copyInstance, context: map[string]string{contract.TagDrill: "awsbackup-restore-test-7a1b2c3d4e5f"}},
		{action: "rds-data:ExecuteStatement", resource: copyCluster},
		{action: "secretsmanager:GetSecretValue", resource: copySecret, context: map[string]string{"aws:rds:primaryDBClusterArn": copyCluster}},
		{action: "elasticfilesystem:CreateMountTarget", resource: copyFS, context: tagged},
	} {
		assert.True(t, drill.allowsRequest(tt), "%s on %s", tt.action, tt.resource)
	}
	assert.True(t, files.allowsRequest(iamRequest{action: "elasticfilesystem:ClientMount", resource: copyFS, context: tagged}))
	// AND a copy's neighbours stay out: an untagged file system, another
	// cluster's secret, an instance the drill did not tag
	assert.False(t, drill.allowsRequest(iamRequest{action: "elasticfilesystem:CreateMountTarget", resource: copyFS}))
	assert.False(t, drill.allowsRequest(iamRequest{action: "secretsmanager:GetSecretValue", resource: copySecret,
		context: map[string]string{"aws:rds:primaryDBClusterArn": "arn:aws:rds:ap-northeast-1:123456789012:cluster:other"}}))
	assert.False(t, drill.allowsRequest(iamRequest{action: "rds:DeleteDBInstance", resource: copyInstance}))
	assert.False(t, files.allowsRequest(iamRequest{action: "elasticfilesystem:ClientWrite", resource: copyFS, context: tagged}), "the files function only reads")
	// AND an application's access point cannot be tagged as the drill's, then
	// deleted: tags only as an access point is created
	liveAP := "arn:aws:elasticfilesystem:ap-northeast-1:123456789012:access-point/fsap-0live00000000001"
	assert.False(t, drill.allowsRequest(iamRequest{action: "elasticfilesystem:TagResource", resource: liveAP, requestTags: map[string]string{contract.TagDrill: "fs-0live"}}))
	assert.True(t, drill.allowsRequest(iamRequest{action: "elasticfilesystem:TagResource", resource: liveAP,
		requestTags: map[string]string{contract.TagDrill: "fs-0copy"}, context: map[string]string{"elasticfilesystem:CreateAction": "CreateAccessPoint"}}))
	assert.False(t, drill.allowsRequest(iamRequest{action: "elasticfilesystem:DeleteAccessPoint", resource: liveAP}))
	// AND it may describe the copy secret's key, as ManageMasterUserPassword needs
	assert.True(t, drill.allows("kms:DescribeKey", "arn:aws:kms:ap-northeast-1:123456789012:key/aws-secretsmanager", nil))
}

func TestRecoveryTargetsAreAlarmed(t *testing.T) {
	_, tmpl, _ := example(t, nil)
	topicID, _ := byPath(t, tmpl, "RedmineStack/RestorableProtection/Alerts/Topic")
	alarm := func(path string) map[string]interface{} {
		_, a := byPath(t, tmpl, path)
		p := props(a)
		assert.Equal(t, []interface{}{map[string]interface{}{"Ref": topicID}}, p["AlarmActions"], "%s alerts the protection's topic", path)
		assert.Equal(t, contract.MetricNamespace, p["Namespace"])
		assert.Equal(t, "GreaterThanThreshold", p["ComparisonOperator"])
		dims := map[string]string{}
		for _, d := range p["Dimensions"].([]interface{}) {
			dims[d.(map[string]interface{})["Name"].(string)] = rendered(t, tmpl, d.(map[string]interface{})["Value"])
		}
		assert.Equal(t, "RedmineStack", dims[contract.MetricStack])
		return p
	}
	for _, tt := range []struct {
		path, metric, missing string
		threshold, period     float64
		evaluations           float64
	}{
		// Aurora, continuously backed up: its latest restorable time within an hour.
		{"RedmineStack/Database/Recovery/RPO", contract.MetricRecoveryPointAge, "missing", 3600, 3600, 2},
		{"RedmineStack/Database/Recovery/RTO", contract.MetricDrillTotal, "notBreaching", 7200, 86400, 1},
		// The files: a daily backup, plus up to 8 hours.
		{"RedmineStack/Files/Recovery/RPO", contract.MetricRecoveryPointAge, "missing", 32 * 3600, 3600, 2},
		{"RedmineStack/Files/Recovery/RTO", contract.MetricDrillTotal, "notBreaching", 4 * 3600, 86400, 1},
	} {
		p := alarm(tt.path)
		if tt.missing == "missing" {
			// A probe that stops turns the alarm INSUFFICIENT_DATA, which is
			// told too.
			assert.Equal(t, []interface{}{map[string]interface{}{"Ref": topicID}}, p["InsufficientDataActions"], tt.path)
		}
		assert.Equal(t, tt.metric, p["MetricName"], tt.path)
		assert.Equal(t, tt.threshold, p["Threshold"], tt.path)
		assert.Equal(t, tt.period, p["Period"], tt.path)
		assert.Equal(t, tt.missing, p["TreatMissingData"], tt.path)
		assert.Equal(t, tt.evaluations, p["EvaluationPeriods"], tt.path)
		assert.Equal(t, "Maximum", p["Statistic"], tt.path)
	}
	// The unvalidated-drill alarm: a failed delivery or execution.
	_, unvalidated := byPath(t, tmpl, "RedmineStack/RestorableProtection/RestoreTesting/Validation/Unvalidated")
	assert.Equal(t, []interface{}{map[string]interface{}{"Ref": topicID}}, props(unvalidated)["AlarmActions"])
	assert.Contains(t, fmtJSON(props(unvalidated)["Metrics"]), `"MetricName":"FailedInvocations"`)
	assert.Contains(t, fmtJSON(props(unvalidated)["Metrics"]), `"MetricName":"ExecutionsFailed"`)
}

func TestTheProbeMeasuresEveryProtectedResourceHourly(t *testing.T) {
	_, tmpl, _ := example(t, nil)
	_, rule := byPath(t, tmpl, "RedmineStack/RestorableGuard/Probe/Schedule")
	assert.Equal(t, "rate(1 hour)", props(rule)["ScheduleExpression"])
	target := props(rule)["Targets"].([]interface{})[0].(map[string]interface{})
	guardID, _ := functionWithHandler(t, tmpl, contract.HandlerGuard)
	assert.Equal(t, map[string]interface{}{"Fn::GetAtt": []interface{}{guardID, "Arn"}}, target["Arn"])
	var e contract.ProbeEvent
	require.NoError(t, json.Unmarshal([]byte(rendered(t, tmpl, target["Input"])), &e))
	assert.Equal(t, contract.ProbeValue, e.Probe)
	assert.Equal(t, "RedmineStack", e.Stack)
	require.Len(t, e.Resources, 2)
	assert.Equal(t, contract.ProbeResource{Path: "RedmineStack/Database", Kind: "Aurora", Continuous: true, Arn: e.Resources[0].Arn}, e.Resources[0])
	assert.Contains(t, e.Resources[0].Arn, ":cluster:${Ref:Database}")
	assert.Equal(t, "${Files.Arn}", e.Resources[1].Arn)
	assert.False(t, e.Resources[1].Continuous)
	// The guard may list recovery points, and the events service invoke it.
	guardRole := iamPolicy(statementsOf(t, tmpl, roleOf(resourceOf(t, tmpl, guardID))))
	assert.True(t, guardRole.allows("backup:ListRecoveryPointsByResource", "*", nil))
	_, perms := resourcesOfType(t, tmpl, "AWS::Lambda::Permission")
	found := false
	for _, p := range perms {
		found = found || (props(p)["Principal"] == "events.amazonaws.com" && fmtJSON(props(p)["FunctionName"]) == fmtJSON(map[string]interface{}{"Fn::GetAtt": []interface{}{guardID, "Arn"}}))
	}
	assert.True(t, found, "EventBridge may invoke the guard")
}

func resourceOf(t *testing.T, tmpl map[string]interface{}, id string) map[string]interface{} {
	_, r := resourceByID(t, tmpl, id)
	return r
}

// The dashboard's JSON is kept in testdata/dashboard.golden.json; with
// RESTORABLE_UPDATE_GOLDEN=1 the test writes it.
func TestTheDashboardMatchesItsGoldenFile(t *testing.T) {
	_, tmpl, _ := example(t, nil)
	_, dash := onlyResource(t, tmpl, "AWS::CloudWatch::Dashboard")
	var body interface{}
	text := rendered(t, tmpl, props(dash)["DashboardBody"])
	require.NoError(t, json.Unmarshal([]byte(text), &body), text)
	golden := filepath.Join("testdata", "dashboard.golden.json")
	if os.Getenv("RESTORABLE_UPDATE_GOLDEN") == "1" {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetIndent("", "  ")
		require.NoError(t, enc.Encode(body))
		require.NoError(t, os.MkdirAll("testdata", 0o755))
		require.NoError(t, os.WriteFile(golden, b.Bytes(), 0o644))
	}
	raw, err := os.ReadFile(golden)
	require.NoError(t, err, "run with RESTORABLE_UPDATE_GOLDEN=1 to write it")
	var want interface{}
	require.NoError(t, json.Unmarshal(raw, &want))
	assert.Equal(t, want, body)
	// AND what a person reads: each resource's age against its RPO, its
	// drills against its RTO, the copy jobs, the alarms
	for _, s := range []string{"RedmineStack/Database: newest recovery point age (hours) vs RPO", "RedmineStack/Files: drill time (hours) vs RTO",
		`"label":"RPO 1h","value":1`, `"label":"RTO 4h","value":4`, "NumberOfCopyJobsFailed", "${Database/Recovery/RPO.Arn}", "${Files/Recovery/RTO.Arn}"} {
		assert.Contains(t, fmtJSON(body), s)
	}
}

func TestADrillNow(t *testing.T) {
	before := time.Now().UTC()
	stack, outdir := exampleStack(t, map[string]string{"RedmineStack/Files.drillNow": "true"})
	_ = outdir
	tmpl := templateJSON(t, stack.Stack)
	after := time.Now().UTC()
	_, plan := byPath(t, tmpl, "RedmineStack/RestorableProtection/RestoreTesting/Now/Plan")
	var at time.Time
	var min, hour, day, month, year int
	_, err := fmtSscanf(props(plan)["ScheduleExpression"].(string), "cron(%d %d %d %d ? %d)", &min, &hour, &day, &month, &year)
	require.NoError(t, err)
	at = time.Date(year, time.Month(month), day, hour, min, 0, 0, time.UTC)
	assert.False(t, at.Before(before.Add(30*time.Minute).Truncate(time.Minute)), "30 minutes after synth: %s", at)
	assert.False(t, at.After(after.Add(30*time.Minute)), "30 minutes after synth: %s", at)
	assert.Equal(t, 1.0, props(plan)["StartWindowHours"])
	_, sel := byPath(t, tmpl, "RedmineStack/RestorableProtection/RestoreTesting/Now/EFS/Selection")
	assert.Equal(t, "EFS", props(sel)["ProtectedResourceType"])
	assert.Equal(t, 1, len(props(sel)["ProtectedResourceArns"].([]interface{})), "only the file system asked for")
	assert.Empty(t, underPath(tmpl, "RedmineStack/RestorableProtection/RestoreTesting/Now/Aurora", ""))
	// The validation hears the one-off plan's jobs too.
	_, rule := byPath(t, tmpl, "RedmineStack/RestorableProtection/RestoreTesting/Validation/RestoreJobEnded")
	assert.Len(t, props(rule)["EventPattern"].(map[string]interface{})["detail"].(map[string]interface{})["restoreTestingPlanArn"], 2)
	var b strings.Builder
	require.NoError(t, restorable.WriteReport(&b, stack.Stack))
	assert.Contains(t, b.String(), "drill now: at "+at.Format(time.RFC3339))
	assert.Contains(t, b.String(), "drill now: cdk deploy -c 'RedmineStack/Files.drillNow=true'")
	assert.Contains(t, b.String(), "targets: RPO 32h, measured every hour from the newest completed recovery point")
}

func fmtSscanf(s, format string, args ...interface{}) (int, error) {
	return fmt.Sscanf(s, format, args...)
}

func awsrdsPostgres(version string) awsrds.IClusterEngine {
	major := strings.SplitN(version, ".", 2)[0]
	return awsrds.DatabaseClusterEngine_AuroraPostgres(&awsrds.AuroraPostgresClusterEngineProps{
		Version: awsrds.AuroraPostgresEngineVersion_Of(jsii.String(version), jsii.String(major), nil),
	})
}

func TestDrillMisuse(t *testing.T) {
	drilled := func(stack awscdk.Stack) *restorable.Protection {
		return restorable.NewProtection(stack, jsii.String("Protection"), &restorable.ProtectionProps{RestoreTesting: &restorable.RestoreTestingProps{}})
	}
	for name, tt := range map[string]struct {
		build func(t *testing.T)
		want  string
	}{
		"a T class for the drill's writer": {func(t *testing.T) {
			newCluster(t, nil, func(stack awscdk.Stack, p *restorable.AuroraClusterProps) {
				p.Protection = drilled(stack)
				p.DrillCheck = &restorable.AuroraDrillCheck{InstanceClass: "db.t4g.medium"}
			})
		}, `DrillCheck.InstanceClass="db.t4g.medium": is a T class, on which the RDS Data API does not run`},
		"a check longer than the Data API waits": {func(t *testing.T) {
			newCluster(t, nil, func(stack awscdk.Stack, p *restorable.AuroraClusterProps) {
				p.Protection = drilled(stack)
				p.DrillCheck = &restorable.AuroraDrillCheck{Timeout: awscdk.Duration_Minutes(jsii.Number(2))}
			})
		}, `DrillCheck.Timeout="2 minutes": is not from 1 to 40 seconds`},
		"an engine without the Data API": {func(t *testing.T) {
			newCluster(t, nil, func(stack awscdk.Stack, p *restorable.AuroraClusterProps) {
				p.Protection = drilled(stack)
				p.Engine = awsrdsPostgres("14.6")
			})
		}, `Engine="aurora-postgresql 14.6": cannot be checked by a drill: Aurora PostgreSQL 14 supports the RDS Data API from 14.8`},
		"a drill check without drills": {func(t *testing.T) {
			newFiles(t, nil, func(stack awscdk.Stack, p *restorable.FileSystemProps) {
				p.DrillCheck = &restorable.FileSystemDrillCheck{Paths: []string{"data"}}
			})
		}, `DrillCheck="set": is set, but the resource's protection runs no drills`},
		"drill now without drills": {func(t *testing.T) {
			newFiles(t, map[string]string{"AppStack/Files.drillNow": "true"})
		}, `AppStack/Files.drillNow="true": asks for a drill, but the resource's protection runs no drills`},
		"drill now, not true": {func(t *testing.T) {
			newFiles(t, map[string]string{"AppStack/Files.drillNow": "yes"}, func(stack awscdk.Stack, p *restorable.FileSystemProps) {
				p.Protection = drilled(stack)
			})
		}, `AppStack/Files.drillNow="yes": is not "true"`},
		"a path out of the file system": {func(t *testing.T) {
			newFiles(t, nil, func(stack awscdk.Stack, p *restorable.FileSystemProps) {
				p.Protection = drilled(stack)
				p.DrillCheck = &restorable.FileSystemDrillCheck{Paths: []string{"../etc"}}
			})
		}, `DrillCheck.Paths="../etc": is not a path inside the file system`},
		"an RPO the hourly probe cannot see": {func(t *testing.T) {
			newFiles(t, nil, func(stack awscdk.Stack, p *restorable.FileSystemProps) {
				p.Targets = &restorable.RecoveryTargets{RPO: awscdk.Duration_Minutes(jsii.Number(15))}
			})
		}, `Targets.RPO="15 minutes": is shorter than 1h0m0s, less than what restorable can measure (the probe runs every hour)`},
	} {
		t.Run(name, func(t *testing.T) {
			msg := panicMessage(t, func() { tt.build(t) })
			assert.Contains(t, msg, tt.want)
			assert.Regexp(t, regexp.MustCompile(`Fix: `), msg)
		})
	}
}
