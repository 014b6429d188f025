// Package emf writes CloudWatch metrics in the embedded metric format: one
// JSON object per log line, which CloudWatch Logs turns into metrics of the
// namespace it names, without a PutMetricData call
// (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html).
package emf

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/restorable-cdk/restorable/internal/contract"
)

// Metric is one value and its CloudWatch unit (Seconds, Count, None).
type Metric struct {
	Name  string
	Value float64
	Unit  string
}

// Write prints one log line that records metrics for a resource of a stack,
// at time at, in restorable's namespace with the Stack and Resource
// dimensions. Extra properties go into the line too, for people reading the
// log (they are not dimensions).
func Write(w io.Writer, at time.Time, stack, resource string, metrics []Metric, extra map[string]interface{}) error {
	line := map[string]interface{}{}
	for k, v := range extra {
		line[k] = v
	}
	defs := make([]map[string]string, 0, len(metrics))
	sort.Slice(metrics, func(i, j int) bool { return metrics[i].Name < metrics[j].Name })
	for _, m := range metrics {
		defs = append(defs, map[string]string{"Name": m.Name, "Unit": m.Unit})
		line[m.Name] = m.Value
	}
	line[contract.MetricStack] = stack
	line[contract.MetricResource] = resource
	line["_aws"] = map[string]interface{}{
		"Timestamp": at.UnixMilli(),
		"CloudWatchMetrics": []interface{}{map[string]interface{}{
			"Namespace":  contract.MetricNamespace,
			"Dimensions": [][]string{{contract.MetricStack, contract.MetricResource}},
			"Metrics":    defs,
		}},
	}
	raw, err := json.Marshal(line)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(w, string(raw))
	return err
}

// Record is a metric line as read back: what a test or a reader of the log
// finds.
type Record struct {
	Namespace  string
	Dimensions map[string]string
	Values     map[string]float64
	Units      map[string]string
	Timestamp  time.Time
}

// Parse reads one line that Write printed, checking that it is a valid
// embedded-metric-format object: a namespace, dimension sets whose keys are
// properties of the line, and a numeric property for every metric.
func Parse(line []byte) (Record, error) {
	var raw map[string]interface{}
	if err := json.Unmarshal(line, &raw); err != nil {
		return Record{}, err
	}
	meta, ok := raw["_aws"].(map[string]interface{})
	if !ok {
		return Record{}, fmt.Errorf("emf: no _aws object")
	}
	ts, ok := meta["Timestamp"].(float64)
	if !ok {
		return Record{}, fmt.Errorf("emf: no numeric _aws.Timestamp")
	}
	defs, ok := meta["CloudWatchMetrics"].([]interface{})
	if !ok || len(defs) != 1 {
		return Record{}, fmt.Errorf("emf: want one CloudWatchMetrics directive")
	}
	def := defs[0].(map[string]interface{})
	r := Record{Dimensions: map[string]string{}, Values: map[string]float64{}, Units: map[string]string{}, Timestamp: time.UnixMilli(int64(ts)).UTC()}
	r.Namespace, _ = def["Namespace"].(string)
	if r.Namespace == "" {
		return Record{}, fmt.Errorf("emf: no namespace")
	}
	for _, set := range def["Dimensions"].([]interface{}) {
		for _, d := range set.([]interface{}) {
			v, ok := raw[d.(string)].(string)
			if !ok {
				return Record{}, fmt.Errorf("emf: dimension %v is not a string property", d)
			}
			r.Dimensions[d.(string)] = v
		}
	}
	for _, m := range def["Metrics"].([]interface{}) {
		name := m.(map[string]interface{})["Name"].(string)
		v, ok := raw[name].(float64)
		if !ok {
			return Record{}, fmt.Errorf("emf: metric %s has no numeric value", name)
		}
		r.Values[name] = v
		r.Units[name], _ = m.(map[string]interface{})["Unit"].(string)
	}
	return r, nil
}
