package restorable

import (
	"fmt"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/restorable-cdk/restorable/internal/contract"
)

// DashboardID is the construct ID of each stack's recovery dashboard.
const DashboardID = "RestorableDashboard"

// dashboard is a stack's CloudWatch dashboard of its restorable resources:
// for each, the newest recovery point's age against its RPO, the drills'
// times against its RTO and whether they passed; the account's copy jobs; the
// alarms. Its body is written at synth from what registered
// (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/CloudWatch-Dashboard-Body-Structure.html).
type dashboard struct {
	stack     awscdk.Stack
	resources []*targets
}

var stackDashboards perStack[*dashboard]

func dashboardOf(scope constructs.Construct) *dashboard {
	return stackDashboards.of(scope, func(stack awscdk.Stack) *dashboard {
		d := &dashboard{stack: stack}
		awscloudwatch.NewCfnDashboard(stack, jsii.String(DashboardID), &awscloudwatch.CfnDashboardProps{
			DashboardBody: awscdk.Lazy_String(&lazyString{func() string { return *stack.ToJsonString(d.body(), nil) }}, nil),
		})
		return d
	})
}

func (d *dashboard) add(t *targets) { d.resources = append(d.resources, t) }

// body is the dashboard's JSON, with tokens for the stack's name, region
// and alarms.
func (d *dashboard) body() map[string]interface{} {
	region := d.stack.Region()
	var widgets []interface{}
	y := 0
	place := func(w map[string]interface{}, x, width, height int) {
		w["x"], w["y"], w["width"], w["height"] = x, y, width, height
		widgets = append(widgets, w)
	}
	place(map[string]interface{}{"type": "text", "properties": map[string]interface{}{"markdown": strings.Join([]string{
		"## restorable: can this stack's data come back, and how fast?",
		"Each row is a resource. **Left:** how old its newest recovery point is, against its RPO line; above the line is data you would lose. " +
			"**Middle:** each drill's time, restore plus validation, against its RTO line. **Right:** 1 when every drill in the range passed, 0 when one failed. " +
			"Below: the account's copy jobs (to the other region, account or air-gapped vault) and the alarms. What to do when an alarm fires: docs/backup.md, \"When an alarm fires\".",
	}, "\n\n")}}, 0, 24, 3)
	y += 3
	metric := func(name string, t *targets, opts map[string]interface{}) []interface{} {
		return []interface{}{contract.MetricNamespace, name, contract.MetricStack, t.stackName, contract.MetricResource, t.path, opts}
	}
	for _, t := range d.resources {
		place(map[string]interface{}{"type": "metric", "properties": map[string]interface{}{
			"title": t.path + ": newest recovery point age (hours) vs RPO", "view": "timeSeries", "region": region, "period": 3600,
			"metrics": []interface{}{
				[]interface{}{map[string]interface{}{"expression": "age / 3600", "label": "age", "id": "hours"}},
				metric(contract.MetricRecoveryPointAge, t, map[string]interface{}{"id": "age", "stat": "Maximum", "visible": false}),
			},
			"annotations": map[string]interface{}{"horizontal": []interface{}{map[string]interface{}{"label": "RPO " + humanDuration(t.rpo), "value": t.rpo.Hours(), "color": "#d62728"}}},
			"yAxis":       map[string]interface{}{"left": map[string]interface{}{"min": 0, "label": "hours", "showUnits": false}},
		}}, 0, 9, 6)
		if t.drilled {
			place(map[string]interface{}{"type": "metric", "properties": map[string]interface{}{
				"title": t.path + ": drill time (hours) vs RTO", "view": "timeSeries", "region": region, "period": 86400,
				"metrics": []interface{}{
					[]interface{}{map[string]interface{}{"expression": "drill / 3600", "label": "restore + validation", "id": "drillHours"}},
					[]interface{}{map[string]interface{}{"expression": "restore / 3600", "label": "restore job", "id": "restoreHours"}},
					metric(contract.MetricDrillTotal, t, map[string]interface{}{"id": "drill", "stat": "Maximum", "visible": false}),
					metric(contract.MetricDrillRestore, t, map[string]interface{}{"id": "restore", "stat": "Maximum", "visible": false}),
				},
				"annotations": map[string]interface{}{"horizontal": []interface{}{map[string]interface{}{"label": "RTO " + humanDuration(t.rto), "value": t.rto.Hours(), "color": "#d62728"}}},
				"yAxis":       map[string]interface{}{"left": map[string]interface{}{"min": 0, "label": "hours", "showUnits": false}},
			}}, 9, 9, 6)
			place(map[string]interface{}{"type": "metric", "properties": map[string]interface{}{
				"title": t.path + ": drills passed", "view": "singleValue", "region": region, "setPeriodToTimeRange": true,
				"metrics": []interface{}{metric(contract.MetricDrillPassed, t, map[string]interface{}{"stat": "Minimum", "label": "every drill passed (1) or not (0)"})},
			}}, 18, 6, 6)
		} else {
			place(map[string]interface{}{"type": "text", "properties": map[string]interface{}{"markdown": fmt.Sprintf(
				"**%s: no drills.** RTO %s is not measured. Turn drills on with ProtectionProps.RestoreTesting.", t.path, humanDuration(t.rto))}}, 9, 15, 6)
		}
		y += 6
	}
	search := func(name, label string) []interface{} {
		return []interface{}{map[string]interface{}{"expression": fmt.Sprintf(`SEARCH('Namespace="AWS/Backup" MetricName="%s"', 'Sum', 86400)`, name), "label": label, "id": strings.ToLower(label)}}
	}
	place(map[string]interface{}{"type": "metric", "properties": map[string]interface{}{
		"title": "Copy jobs of the account, per day (AWS/Backup has no per-resource dimension)", "view": "timeSeries", "stacked": false, "region": region, "period": 86400,
		"metrics": []interface{}{search("NumberOfCopyJobsCompleted", "Completed"), search("NumberOfCopyJobsFailed", "Failed")},
	}}, 0, 12, 6)
	var alarms []interface{}
	for _, t := range d.resources {
		alarms = append(alarms, t.rpoAlarm.AlarmArn())
		if t.rtoAlarm != nil {
			alarms = append(alarms, t.rtoAlarm.AlarmArn())
		}
	}
	place(map[string]interface{}{"type": "alarm", "properties": map[string]interface{}{"title": "restorable alarms", "alarms": alarms}}, 12, 12, 6)
	return map[string]interface{}{"start": "-P90D", "periodOverride": "inherit", "widgets": widgets}
}
