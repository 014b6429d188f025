package restorable

import (
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// AlertProps configures the alerts on every attempt to weaken the
// protection, and on every backup that did not happen. Every field is
// optional.
type AlertProps struct {
	// Topic receives the alerts (and, with drills, the drills' alarms).
	// Default: a new SNS topic, encrypted with a new customer-managed key
	// with rotation, that accepts only TLS; subscribe to it (the stack output
	// <protection>AlertTopicArn names it).
	Topic awssns.ITopic
	// Disabled sends no alerts. The synth report says so.
	// Default: false.
	Disabled bool
}

// alerts is a protection's notification topic and what it watches.
type alerts struct {
	topic awssns.ITopic
	// key encrypts the topic restorable created; nil with AlertProps.Topic.
	key     awskms.IKey
	watched []string
}

// The calls that weaken a vault, a plan or a key, as CloudTrail records them
// (eventName). AWS Backup's own events (job, plan and vault state changes)
// reach EventBridge directly; API calls reach it through CloudTrail, which
// needs a trail that logs management events in the account and region
// ("To record events with a detail-type value of AWS API Call via CloudTrail,
// a CloudTrail trail with logging enabled is required":
// https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-service-event.html).
var (
	backupWeakeningCalls = []string{
		"PutBackupVaultAccessPolicy", "DeleteBackupVaultAccessPolicy",
		"PutBackupVaultLockConfiguration", "DeleteBackupVaultLockConfiguration",
		"DeleteBackupVault", "DeleteRecoveryPoint", "DisassociateRecoveryPoint", "UpdateRecoveryPointLifecycle",
		"PutBackupVaultNotifications", "DeleteBackupVaultNotifications",
		"UpdateBackupPlan", "DeleteBackupPlan", "DeleteBackupSelection", "UpdateRegionSettings", "UpdateGlobalSettings",
	}
	keyWeakeningCalls = []string{"ScheduleKeyDeletion", "DisableKey", "DisableKeyRotation", "PutKeyPolicy", "RevokeGrant"}
)

// newAlerts creates the topic, unless given, and the EventBridge rules that
// route to it; no function is involved.
func (p *Protection) newAlerts(props AlertProps) *alerts {
	scope := constructs.NewConstruct(p, jsii.String("Alerts"))
	a := &alerts{topic: props.Topic}
	stack := awscdk.Stack_Of(p)
	if a.topic == nil {
		key := newHardenedKey(scope, "TopicKey", "restorable: encryption of the alert topic of "+*p.Node().Path())
		a.key = key
		// EventBridge and CloudWatch alarms publish to an encrypted topic only
		// if they may use its key
		// (https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services).
		// No aws:SourceAccount or aws:SourceArn condition: the same page says
		// "Adding the aws:SourceAccount and aws:SourceArn to a AWS KMS policy
		// is not supported for EventBridge-to-encrypted topics", and with one
		// every delivery fails (awslabs/landing-zone-accelerator-on-aws#407).
		// The key encrypts this topic only, and the topic's own policy says
		// who may publish.
		key.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:        jsii.String("PublishFromEventBridgeAndCloudWatch"),
			Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("events.amazonaws.com"), nil), awsiam.NewServicePrincipal(jsii.String("cloudwatch.amazonaws.com"), nil)},
			Actions:    jsii.Strings("kms:Decrypt", "kms:GenerateDataKey*"),
			Resources:  jsii.Strings("*"),
		}), jsii.Bool(false))
		a.topic = awssns.NewTopic(scope, jsii.String("Topic"), &awssns.TopicProps{
			DisplayName: jsii.String("restorable alerts"),
			MasterKey:   key,
			EnforceSSL:  jsii.Bool(true),
		})
		awscdk.NewCfnOutput(stack, jsii.String(outputPrefix(p)+"AlertTopicArn"), &awscdk.CfnOutputProps{
			Value:       a.topic.TopicArn(),
			Description: jsii.String("restorable: subscribe to this topic for alerts on weakened backups and failed backup jobs (aws sns subscribe --topic-arn <this> --protocol email --notification-endpoint <address>)"),
		})
	}
	target := awseventstargets.NewSnsTopic(a.topic, nil)
	rule := func(id, description string, pattern *awsevents.EventPattern) {
		awsevents.NewRule(scope, jsii.String(id), &awsevents.RuleProps{
			Description:  jsii.String("restorable: " + description),
			EventPattern: pattern,
			Targets:      &[]awsevents.IRuleTarget{target},
		})
		a.watched = append(a.watched, description)
	}
	// https://docs.aws.amazon.com/aws-backup/latest/devguide/eventbridge.html
	rule("FailedJobs", "a backup or copy job that failed, expired or was aborted", &awsevents.EventPattern{
		Source:     jsii.Strings("aws.backup"),
		DetailType: jsii.Strings("Backup Job State Change", "Copy Job State Change"),
		Detail:     &map[string]interface{}{"state": []string{"FAILED", "EXPIRED", "ABORTED"}},
	})
	rule("PlanAndVaultChanges", "a backup plan or vault changed or deleted", &awsevents.EventPattern{
		Source:     jsii.Strings("aws.backup"),
		DetailType: jsii.Strings("Backup Plan State Change", "Backup Vault State Change"),
		Detail:     &map[string]interface{}{"state": []interface{}{map[string]interface{}{"anything-but": []string{"CREATED"}}}},
	})
	rule("BackupCalls", "a call that loosens a vault, its lock or a recovery point, or changes a plan, selection or setting ("+strings.Join(backupWeakeningCalls, ", ")+")", &awsevents.EventPattern{
		Source:     jsii.Strings("aws.backup"),
		DetailType: jsii.Strings("AWS API Call via CloudTrail"),
		Detail:     &map[string]interface{}{"eventSource": []string{"backup.amazonaws.com"}, "eventName": backupWeakeningCalls},
	})
	rule("KeyCalls", "a call that schedules a key's deletion, disables it or its rotation, or changes its policy or grants ("+strings.Join(keyWeakeningCalls, ", ")+")", &awsevents.EventPattern{
		Source:     jsii.Strings("aws.kms"),
		DetailType: jsii.Strings("AWS API Call via CloudTrail"),
		Detail:     &map[string]interface{}{"eventSource": []string{"kms.amazonaws.com"}, "eventName": keyWeakeningCalls},
	})
	return a
}

// grantAlert lets grantee publish to the alert topic: sns:Publish on the
// topic, and the data key calls SNS makes with the caller's permissions on
// the topic's key (https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html),
// named rather than through GrantPublish's kms:GenerateDataKey*.
func (p *Protection) grantAlert(grantee awsiam.IGrantable) {
	if p.alerts == nil {
		return
	}
	grantee.GrantPrincipal().AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions: jsii.Strings("sns:Publish"), Resources: &[]*string{p.alerts.topic.TopicArn()},
	}))
	if p.alerts.key != nil {
		grantee.GrantPrincipal().AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions: jsii.Strings("kms:GenerateDataKey", "kms:Decrypt"), Resources: &[]*string{p.alerts.key.KeyArn()},
		}))
	}
}

// AlertTopic is the topic the protection's alerts go to, or nil when they are
// disabled.
func (p *Protection) AlertTopic() awssns.ITopic {
	if p.alerts == nil {
		return nil
	}
	return p.alerts.topic
}

func (a *alerts) reportLines() []string {
	lines := []string{"alerts:  to SNS topic " + *a.topic.Node().Path() + " (stack output <protection>AlertTopicArn), on:"}
	for _, w := range a.watched {
		lines = append(lines, "         - "+w)
	}
	return append(lines, "         the two API-call rules need a CloudTrail trail logging management events in this account and region (AWS Control Tower's organization trail is one)")
}
