package restorable

import (
	"fmt"
	"regexp"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsbackup"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// RestoreTestingProps configures restore drills: an AWS Backup restore testing
// plan that restores the protection's resources on a schedule
// (https://docs.aws.amazon.com/aws-backup/latest/devguide/restore-testing.html).
// Every field is optional.
type RestoreTestingProps struct {
	// Schedule is when drills start.
	// Default: monthly, on the 2nd at 05:00 UTC, the day after the monthly
	// backup of the default rules, so that within the selection window there
	// is a snapshot of every resource (the daily EFS backup, the monthly Aurora
	// one) as well as Aurora's continuous recovery point.
	Schedule awsevents.Schedule
	// StartWindow is how long after the scheduled time a drill may start.
	// Default: 24 hours.
	StartWindow awscdk.Duration
	// ValidationWindow is how long the restored copy is kept before AWS
	// Backup deletes it: restorable's validation checks it within this time,
	// less 15 minutes (1 to 168 hours).
	// Default: 24 hours.
	ValidationWindow awscdk.Duration
	// SelectionWindow is how recent the tested recovery point must be: the
	// latest one within this many days.
	// Default: 7 days.
	SelectionWindow awscdk.Duration
}

// testedType is a resource type of a restore testing selection.
type testedType string

const (
	testedAurora testedType = "Aurora"
	testedEFS    testedType = "EFS"
)

// restoreTesting is a protection's restore testing plan, with one selection per
// resource type, each naming its resources by ARN.
type restoreTesting struct {
	scope      constructs.Construct
	plan       awsbackup.CfnRestoreTestingPlan
	role       awsiam.Role
	validation float64
	arns       map[testedType][]*string
	// drills validates the copies (drills.go); now is the one-off plan of
	// the resources whose drillNow is set.
	drills *drillValidation
	now    awsbackup.CfnRestoreTestingPlan
	// nowArns are the resources of the one-off plan, by type.
	nowArns    map[testedType][]*string
	nowAt      time.Time
	nowScope   constructs.Construct
	protection *Protection
	start      float64
	days       float64
}

// defaultDrillSchedule is when drills start unless told otherwise.
const defaultDrillSchedule = "cron(0 5 2 * ? *)"

// maxValidationHours is the longest validation window AWS Backup accepts
// (RestoreTestingSelection ValidationWindowHours: 0 to 168).
const maxValidationHours = 168

func newRestoreTesting(p *Protection, path string, props RestoreTestingProps) *restoreTesting {
	scope := constructs.NewConstruct(p, jsii.String("RestoreTesting"))
	hours := func(setting string, d awscdk.Duration, def, min, max float64) float64 {
		if d == nil {
			return def
		}
		if unresolved(d) {
			panic(&InputError{Construct: path, Setting: "RestoreTesting." + setting, Value: *d.ToString(),
				Problem: "is a token, and restorable checks it against AWS Backup's limits at synth", Fix: "give a fixed duration"})
		}
		h := *d.ToHours(&awscdk.TimeConversionOptions{Integral: jsii.Bool(false)})
		if h < min || h > max || h != float64(int(h)) {
			panic(&InputError{Construct: path, Setting: "RestoreTesting." + setting, Value: *d.ToHumanString(),
				Problem: fmt.Sprintf("is not a whole number of hours from %g to %g, which AWS Backup requires", min, max),
				Fix:     fmt.Sprintf("use a duration of whole hours, for example awscdk.Duration_Hours(jsii.Number(%g))", def)})
		}
		return h
	}
	start := hours("StartWindow", props.StartWindow, 24, 1, 168)
	// At least an hour: the drill validates the copy inside the window.
	validation := hours("ValidationWindow", props.ValidationWindow, 24, 1, maxValidationHours)
	days := 7.0
	if d := props.SelectionWindow; d != nil {
		days, value := -1.0, *d.ToString()
		if !unresolved(d) {
			days, value = *d.ToHours(&awscdk.TimeConversionOptions{Integral: jsii.Bool(false)})/24, *d.ToHumanString()
		}
		if days < 1 || days > 365 || days != float64(int(days)) {
			panic(&InputError{Construct: path, Setting: "RestoreTesting.SelectionWindow", Value: value,
				Problem: "is not a whole number of days from 1 to 365, which AWS Backup requires",
				Fix:     "use a duration of whole days, for example awscdk.Duration_Days(jsii.Number(7))"})
		}
	}
	schedule := props.Schedule
	if schedule == nil {
		schedule = awsevents.Schedule_Expression(jsii.String(defaultDrillSchedule))
	}
	t := &restoreTesting{scope: scope, validation: validation, arns: map[testedType][]*string{}, protection: p, start: start, days: days}
	vaults := []*string{p.vault.BackupVaultArn()}
	t.plan = awsbackup.NewCfnRestoreTestingPlan(scope, jsii.String("Plan"), &awsbackup.CfnRestoreTestingPlanProps{
		// Letters, digits and underscores only, unique in the account and region.
		RestoreTestingPlanName: restoreTestingName(scope),
		ScheduleExpression:     schedule.ExpressionString(),
		StartWindowHours:       jsii.Number(start),
		RecoveryPointSelection: &awsbackup.CfnRestoreTestingPlan_RestoreTestingRecoveryPointSelectionProperty{
			Algorithm:     jsii.String("LATEST_WITHIN_WINDOW"),
			IncludeVaults: &vaults,
			// A rule with continuous backup gives Aurora one continuous
			// recovery point and no snapshots, so drills that chose snapshots
			// only would never test Aurora between two monthly backups
			// (https://docs.aws.amazon.com/aws-backup/latest/devguide/point-in-time-recovery.html;
			// "include CONTINUOUS to restore continuous recovery points":
			// https://docs.aws.amazon.com/aws-backup/latest/devguide/API_RestoreTestingRecoveryPointSelection.html).
			RecoveryPointTypes:  jsii.Strings("CONTINUOUS", "SNAPSHOT"),
			SelectionWindowDays: jsii.Number(days),
		},
	})
	t.role = t.newRole()
	return t
}

var restoreTestingNameChars = regexp.MustCompile(`[^A-Za-z0-9_]`)

// restoreTestingName is a unique, stable name from the construct path, in the
// characters a restore testing plan or selection name allows.
func restoreTestingName(scope constructs.Construct) *string {
	name := *awscdk.Names_UniqueResourceName(scope, &awscdk.UniqueResourceNameOptions{MaxLength: jsii.Number(50), Separator: jsii.String("_")})
	return jsii.String(restoreTestingNameChars.ReplaceAllString(name, "_"))
}

// add selects a resource for the drills, in its type's selection, validated
// as spec says, and in the one-off plan too when now is set.
func (t *restoreTesting) add(kind testedType, arn *string, spec *drillSpec, now bool) {
	if spec != nil {
		t.drillValidationOf(t.protection).add(spec)
	}
	if now {
		t.addNow(kind, arn)
	}
	t.addSelection(kind, arn)
}

// addSelection selects a resource in its type's selection of the plan.
func (t *restoreTesting) addSelection(kind testedType, arn *string) {
	if len(t.arns[kind]) == 0 {
		sel := constructs.NewConstruct(t.scope, jsii.String(string(kind)))
		awsbackup.NewCfnRestoreTestingSelection(sel, jsii.String("Selection"), &awsbackup.CfnRestoreTestingSelectionProps{
			RestoreTestingPlanName:      t.plan.RestoreTestingPlanName(),
			RestoreTestingSelectionName: restoreTestingName(sel),
			ProtectedResourceType:       jsii.String(string(kind)),
			ProtectedResourceArns: awscdk.Lazy_List(&lazyList{func() []*string { return t.arns[kind] }}, &awscdk.LazyListValueOptions{
				OmitEmpty: jsii.Bool(true),
			}),
			IamRoleArn:               t.role.RoleArn(),
			ValidationWindowHours:    jsii.Number(t.validation),
			RestoreMetadataOverrides: t.overrides(kind),
		})
	}
	t.arns[kind] = append(t.arns[kind], arn)
}

// newRole is the role AWS Backup restores the drills' copies with: the create
// and restore statements of AWSBackupServiceRolePolicyForRestores for EFS and
// Aurora, without deletes. AWS Backup deletes the copies after the validation
// window with its own service-linked role, AWSServiceRoleForBackupRestoreTesting
// (https://docs.aws.amazon.com/aws-backup/latest/devguide/restore-testing.html).
func (t *restoreTesting) newRole() awsiam.Role {
	stack := awscdk.Stack_Of(t.scope)
	// No confused-deputy condition in the trust policy: AWS Backup documents
	// those keys for resource policies only
	// (https://docs.aws.amazon.com/aws-backup/latest/devguide/cross-service-confused-deputy-prevention.html),
	// and a key it does not send would stop it from assuming the role.
	role := awsiam.NewRole(t.scope, jsii.String("Role"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("backup.amazonaws.com"), nil),
		Description: jsii.String("restorable: AWS Backup restores the drills' copies"),
	})
	arn := func(service, resource string) string {
		return *stack.FormatArn(&awscdk.ArnComponents{Service: jsii.String(service), Resource: jsii.String(resource), ArnFormat: awscdk.ArnFormat_COLON_RESOURCE_NAME})
	}
	for _, st := range []*awsiam.PolicyStatementProps{
		{Sid: jsii.String("RestoreFileSystems"), Actions: jsii.Strings("elasticfilesystem:CreateFilesystem", "elasticfilesystem:Restore",
			"elasticfilesystem:DescribeFileSystems", "elasticfilesystem:TagResource"),
			Resources: jsii.Strings(arn("elasticfilesystem", "file-system/*"))},
		{Sid: jsii.String("RestoreClusters"), Actions: jsii.Strings("rds:RestoreDBClusterFromSnapshot", "rds:RestoreDBClusterToPointInTime",
			"rds:CreateDBInstance", "rds:AddTagsToResource"),
			Resources: jsii.Strings(arn("rds", "cluster:*"), arn("rds", "cluster-snapshot:*"), arn("rds", "db:*"), arn("rds", "subgrp:*"),
				arn("rds", "cluster-pg:*"), arn("rds", "pg:*"), arn("rds", "og:*"))},
		{Sid: jsii.String("Describe"), Actions: jsii.Strings("rds:DescribeDBClusters", "rds:DescribeDBClusterSnapshots", "rds:DescribeDBInstances",
			"rds:DescribeDBSubnetGroups", "ec2:DescribeSecurityGroups", "ec2:DescribeSubnets", "ec2:DescribeVpcs", "ec2:DescribeAvailabilityZones"),
			Resources: jsii.Strings("*")},
		{Sid: jsii.String("DescribeKeys"), Actions: jsii.Strings("kms:DescribeKey"), Resources: jsii.Strings(arn("kms", "key/*"))},
		{Sid: jsii.String("UseKeysThroughServices"), Actions: jsii.Strings("kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:ReEncryptFrom", "kms:ReEncryptTo"),
			Resources: jsii.Strings(arn("kms", "key/*")),
			Conditions: &map[string]interface{}{"StringLike": map[string]interface{}{"kms:ViaService": []interface{}{
				*awscdk.Fn_Join(jsii.String(""), &[]*string{jsii.String("elasticfilesystem."), stack.Region(), jsii.String(".amazonaws.com")}),
				*awscdk.Fn_Join(jsii.String(""), &[]*string{jsii.String("rds."), stack.Region(), jsii.String(".amazonaws.com")}),
			}}}},
		{Sid: jsii.String("GrantKeysToAWSServices"), Actions: jsii.Strings("kms:CreateGrant"), Resources: jsii.Strings(arn("kms", "key/*")),
			Conditions: &map[string]interface{}{"Bool": map[string]interface{}{"kms:GrantIsForAWSResource": "true"}}},
	} {
		role.AddToPolicy(awsiam.NewPolicyStatement(st))
	}
	suppressNag(role, true,
		nagException{rule: nagWildcard, appliesTo: []string{"Resource::*"},
			reason: "Read-only describe actions AWS Backup makes to restore a copy; ec2:Describe* and these rds:Describe* calls list resources and support no resource-level restriction to the ones restored."},
		nagException{rule: nagWildcard, appliesTo: []string{`/^Resource::arn:.+:(elasticfilesystem|rds|kms):.+:(file-system\/\*|cluster:\*|cluster-snapshot:\*|db:\*|subgrp:\*|cluster-pg:\*|pg:\*|og:\*|key\/\*)$/`},
			reason: "A drill restores into new resources that AWS Backup names during the drill, so their ARNs are not known; the role can create and restore, never delete (AWS Backup's service-linked role deletes the copies), and only AWS Backup can assume it."})
	return role
}

// drillNowLead is how long after synth the one-off drill starts: time for
// the deploy to create its plan first.
const drillNowLead = 30 * time.Minute

// addNow adds a resource to the one-off plan that drills now: a restore
// testing plan whose schedule names one minute, 30 minutes after synth
// (cron with a year), so that the drill is AWS Backup's own, with its
// validation window and clean-up, and restorable's validation. The next
// deploy without drillNow removes the plan.
func (t *restoreTesting) addNow(kind testedType, arn *string) {
	if t.now == nil {
		t.nowArns = map[testedType][]*string{}
		t.nowAt = clock().UTC().Add(drillNowLead).Truncate(time.Minute)
		scope := constructs.NewConstruct(t.scope, jsii.String("Now"))
		t.nowScope = scope
		vaults := []*string{t.protection.vault.BackupVaultArn()}
		at := t.nowAt
		t.now = awsbackup.NewCfnRestoreTestingPlan(scope, jsii.String("Plan"), &awsbackup.CfnRestoreTestingPlanProps{
			RestoreTestingPlanName: restoreTestingName(scope),
			ScheduleExpression:     jsii.String(fmt.Sprintf("cron(%d %d %d %d ? %d)", at.Minute(), at.Hour(), at.Day(), int(at.Month()), at.Year())),
			StartWindowHours:       jsii.Number(1),
			RecoveryPointSelection: &awsbackup.CfnRestoreTestingPlan_RestoreTestingRecoveryPointSelectionProperty{
				Algorithm: jsii.String("LATEST_WITHIN_WINDOW"), IncludeVaults: &vaults,
				RecoveryPointTypes: jsii.Strings("CONTINUOUS", "SNAPSHOT"), SelectionWindowDays: jsii.Number(t.days),
			},
		})
	}
	if len(t.nowArns[kind]) == 0 {
		sel := constructs.NewConstruct(t.nowScope, jsii.String(string(kind)))
		k := kind
		awsbackup.NewCfnRestoreTestingSelection(sel, jsii.String("Selection"), &awsbackup.CfnRestoreTestingSelectionProps{
			RestoreTestingPlanName:      t.now.RestoreTestingPlanName(),
			RestoreTestingSelectionName: restoreTestingName(sel),
			ProtectedResourceType:       jsii.String(string(kind)),
			ProtectedResourceArns:       awscdk.Lazy_List(&lazyList{func() []*string { return t.nowArns[k] }}, &awscdk.LazyListValueOptions{OmitEmpty: jsii.Bool(true)}),
			IamRoleArn:                  t.role.RoleArn(),
			ValidationWindowHours:       jsii.Number(t.validation),
			RestoreMetadataOverrides:    t.overrides(kind),
		})
	}
	t.nowArns[kind] = append(t.nowArns[kind], arn)
}

// overrides are the restore metadata of a type's copies: the Aurora copies
// go into the drilled cluster's subnet group and the drills' security group.
func (t *restoreTesting) overrides(kind testedType) interface{} {
	if kind != testedAurora {
		return nil
	}
	return awscdk.Lazy_Any(&lazyAny{func() interface{} { return t.drills.auroraOverrides() }}, &awscdk.LazyAnyValueOptions{OmitEmptyArray: jsii.Bool(true)})
}
