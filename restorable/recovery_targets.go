package restorable

import (
	"fmt"
	"math"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/restorable-cdk/restorable/internal/contract"
)

// RecoveryTargets are a resource's recovery objectives, which alarms watch
// (docs/backup.md, "Recovery targets"). Every field is optional.
type RecoveryTargets struct {
	// RPO, the recovery point objective, is how much recent data the
	// resource may lose: its RPO alarm fires when its newest recovery point
	// is older, as measured every hour.
	// Default: 1 hour for an Aurora cluster backed up continuously (its
	// latest restorable time is normally minutes old); 32 hours otherwise
	// (the daily backup, plus up to 8 hours for it to start and complete).
	// Watched for resources that join a Protection.
	RPO awscdk.Duration
	// RTO, the recovery time objective, is how long a restore may take: its
	// RTO alarm fires when a drill, restore plus validation, takes longer.
	// Default: 2 hours for an Aurora cluster, 4 hours for a file system.
	RTO awscdk.Duration
}

// Default targets (docs/backup.md states them).
const (
	defaultRPOContinuous = 1 * time.Hour
	defaultRPOPeriodic   = 32 * time.Hour
	defaultRTOAurora     = 2 * time.Hour
	defaultRTOFiles      = 4 * time.Hour
)

// targets are a resource's resolved objectives and what measures them.
type targets struct {
	path       string
	kind       testedType
	rpo, rto   time.Duration
	continuous bool
	drilled    bool
	rpoAlarm   awscloudwatch.Alarm
	rtoAlarm   awscloudwatch.Alarm
	stackName  *string
}

// resolveTargets checks the given targets and fills in the defaults.
func resolveTargets(path string, kind testedType, t *RecoveryTargets, continuous bool) targets {
	r := targets{path: path, kind: kind, continuous: continuous}
	r.rpo, r.rto = defaultRPOPeriodic, defaultRTOFiles
	if continuous {
		r.rpo = defaultRPOContinuous
	}
	if kind == testedAurora {
		r.rto = defaultRTOAurora
	}
	duration := func(setting string, d awscdk.Duration, min time.Duration) time.Duration {
		if unresolved(d) {
			panic(&InputError{Construct: path, Setting: "Targets." + setting, Value: *d.ToString(),
				Problem: "is a token, and the alarm's threshold is set at synth", Fix: "give a fixed duration"})
		}
		v := time.Duration(*d.ToSeconds(&awscdk.TimeConversionOptions{Integral: jsii.Bool(false)}) * float64(time.Second))
		if v < min {
			panic(&InputError{Construct: path, Setting: "Targets." + setting, Value: *d.ToHumanString(),
				Problem: fmt.Sprintf("is shorter than %s, less than what restorable can measure (%s)", min, map[string]string{"RPO": "the probe runs every hour", "RTO": "a restore alone takes longer"}[setting]),
				Fix:     fmt.Sprintf("give at least awscdk.Duration_Hours(jsii.Number(%g))", min.Hours())})
		}
		return v
	}
	if t != nil && t.RPO != nil {
		r.rpo = duration("RPO", t.RPO, time.Hour)
	}
	if t != nil && t.RTO != nil {
		r.rto = duration("RTO", t.RTO, 15*time.Minute)
	}
	return r
}

// addRecoveryAlarms creates the resource's RPO alarm, its RTO alarm when
// drills measure it, and registers it with its stack's probe and dashboard.
func addRecoveryAlarms(owner constructs.Construct, p *Protection, t *targets, arn *string) {
	scope := constructs.NewConstruct(owner, jsii.String("Recovery"))
	stack := awscdk.Stack_Of(owner)
	t.stackName = stack.StackName()
	metric := func(name string, period awscdk.Duration) awscloudwatch.Metric {
		return awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
			Namespace: jsii.String(contract.MetricNamespace), MetricName: jsii.String(name),
			DimensionsMap: &map[string]*string{contract.MetricStack: t.stackName, contract.MetricResource: jsii.String(t.path)},
			Statistic:     jsii.String("Maximum"), Period: period,
		})
	}
	// Every hour the probe writes the age: two hours in a row over the RPO
	// is an alarm. Missing data is missing: a new alarm waits for the
	// probe's first run (up to an hour after the deploy) in
	// INSUFFICIENT_DATA, and a probe that stops turns it from OK to
	// INSUFFICIENT_DATA, which also goes to the topic
	// (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html#alarms-and-missing-data).
	t.rpoAlarm = awscloudwatch.NewAlarm(scope, jsii.String("RPO"), &awscloudwatch.AlarmProps{
		AlarmDescription: jsii.String(fmt.Sprintf("restorable: the newest recovery point of %s is older than its RPO of %s (ALARM), or the hourly probe (RestorableGuard) stopped reporting (INSUFFICIENT_DATA). See docs/backup.md, \"When an alarm fires\".",
			t.path, humanDuration(t.rpo))),
		Metric:             metric(contract.MetricRecoveryPointAge, awscdk.Duration_Hours(jsii.Number(1))),
		Threshold:          jsii.Number(t.rpo.Seconds()),
		ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD,
		EvaluationPeriods:  jsii.Number(2),
		DatapointsToAlarm:  jsii.Number(2),
		TreatMissingData:   awscloudwatch.TreatMissingData_MISSING,
	})
	if t.drilled {
		// A drill a month: the alarm looks at each day's drills only, and a
		// day without a drill changes nothing.
		t.rtoAlarm = awscloudwatch.NewAlarm(scope, jsii.String("RTO"), &awscloudwatch.AlarmProps{
			AlarmDescription: jsii.String(fmt.Sprintf("restorable: a drill of %s, restore plus validation, took longer than its RTO of %s. See docs/backup.md, \"When an alarm fires\".",
				t.path, humanDuration(t.rto))),
			Metric:             metric(contract.MetricDrillTotal, awscdk.Duration_Days(jsii.Number(1))),
			Threshold:          jsii.Number(t.rto.Seconds()),
			ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD,
			EvaluationPeriods:  jsii.Number(1),
			TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
		})
	}
	if p != nil && p.alerts != nil {
		action := awscloudwatchactions.NewSnsAction(p.alerts.topic)
		t.rpoAlarm.AddAlarmAction(action)
		t.rpoAlarm.AddInsufficientDataAction(action)
		if t.rtoAlarm != nil {
			t.rtoAlarm.AddAlarmAction(action)
		}
	}
	guardOf(owner).probe(t, arn)
	dashboardOf(owner).add(t)
}

// reportLines says what the targets are and what measures them.
func (t *targets) reportLines() []string {
	if t.rpoAlarm == nil {
		return []string{"targets: not watched: the resource joins no Protection, so restorable has no backups to measure and no topic to alert"}
	}
	measure := "the newest completed recovery point"
	if t.continuous {
		measure = "the latest restorable time (continuous backup)"
	}
	lines := []string{fmt.Sprintf("targets: RPO %s, measured every hour from %s by the guard's probe; alarm %s",
		humanDuration(t.rpo), measure, *t.rpoAlarm.Node().Path())}
	if t.rtoAlarm != nil {
		lines = append(lines, fmt.Sprintf("         RTO %s, measured by each validated drill (restore plus validation); alarm %s", humanDuration(t.rto), *t.rtoAlarm.Node().Path()))
	} else {
		lines = append(lines, fmt.Sprintf("         RTO %s, not measured: no drills (ProtectionProps.RestoreTesting)", humanDuration(t.rto)))
	}
	return lines
}

// humanDuration writes 2h, 90m, 1d 8h.
func humanDuration(d time.Duration) string {
	switch {
	case d%(24*time.Hour) == 0:
		return fmt.Sprintf("%gd", d.Hours()/24)
	case d%time.Hour == 0:
		return fmt.Sprintf("%gh", d.Hours())
	}
	return fmt.Sprintf("%gm", math.Round(d.Minutes()))
}

// probe adds a resource to the stack's hourly recovery point probe: a
// schedule that runs the guard function (contract.ProbeEvent).
func (g *stackGuard) probe(t *targets, arn *string) {
	g.probed = append(g.probed, probed{t: t, arn: arn})
	if g.probeRule != nil {
		return
	}
	scope := constructs.NewConstruct(g.scope, jsii.String("Probe"))
	g.probeRule = awsevents.NewRule(scope, jsii.String("Schedule"), &awsevents.RuleProps{
		Description: jsii.String("restorable: every hour, the guard measures how old each resource's newest recovery point is (the RPO alarms)"),
		Schedule:    awsevents.Schedule_Rate(awscdk.Duration_Hours(jsii.Number(1))),
		Targets: &[]awsevents.IRuleTarget{awseventstargets.NewLambdaFunction(g.fn, &awseventstargets.LambdaFunctionProps{
			Event:         awsevents.RuleTargetInput_FromObject(awscdk.Lazy_Any(&lazyAny{g.probeEvent}, nil)),
			RetryAttempts: jsii.Number(2),
		})},
	})
	for _, st := range []*awsiam.PolicyStatementProps{
		// ListRecoveryPointsByResource supports no resource-level permission
		// (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsbackup.html);
		// it only lists.
		{Sid: jsii.String("ProbeRecoveryPoints"), Actions: jsii.Strings("backup:ListRecoveryPointsByResource"), Resources: jsii.Strings("*")},
	} {
		g.role.AddToPolicy(awsiam.NewPolicyStatement(st))
	}
	suppressNag(g.role, true, nagException{rule: nagWildcard, appliesTo: []string{"Resource::*"},
		reason: "backup:ListRecoveryPointsByResource supports no resource-level permission; the probe lists the recovery points of the stack's resources to measure their age (RPO)."})
}

type probed struct {
	t   *targets
	arn *string
}

// probeEvent is the probe's input.
func (g *stackGuard) probeEvent() interface{} {
	resources := make([]interface{}, 0, len(g.probed))
	for _, p := range g.probed {
		resources = append(resources, map[string]interface{}{"path": p.t.path, "kind": string(p.t.kind), "arn": p.arn, "continuous": p.t.continuous})
	}
	return map[string]interface{}{"restorableProbe": contract.ProbeValue, "stack": g.stack.StackName(), "resources": resources}
}
