package restorable

import (
	"fmt"
	"sort"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// Context keys that select a restore with `cdk deploy -c <key>=<value>`.
//
// A bare key (for example snapshotArn) applies when the app has exactly one
// restorable resource of its kind; with several, it is an error that names them.
// The per-construct key "<construct path>.<key>" (for example
// "AppStack/Database.snapshotArn") applies to one construct, so two clusters can be
// restored independently. Setting both for the same construct is an error. A key
// that no construct reads (a typo in the path, or an app that does not call the
// FromContext helpers) fails synth instead of being ignored.
const (
	// ContextSnapshotArn restores a cluster from a DB cluster snapshot, a shared
	// snapshot or an AWS Backup recovery point of the cluster (name or ARN).
	ContextSnapshotArn = "snapshotArn"
	// ContextRestoreToTime restores a cluster to a point in time: RFC 3339 or "latest".
	ContextRestoreToTime = "restoreToTime"
	// ContextRestoreSourceCluster names the cluster whose continuous backup a
	// point-in-time restore reads: its identifier, or its ARN in another account.
	ContextRestoreSourceCluster = "restoreSourceCluster"
	// ContextRestoreSourceClusterResourceID names a deleted cluster, by resource ID,
	// whose retained automated backups a point-in-time restore reads.
	ContextRestoreSourceClusterResourceID = "restoreSourceClusterResourceId"
	// ContextCloneSourceCluster makes the cluster a copy-on-write clone of the named
	// cluster. It exists only as a per-construct key, so that a bare key can never
	// turn a production cluster into a clone.
	ContextCloneSourceCluster = "cloneSourceCluster"
)

// auroraContextKeys are the keys AuroraSourceFromContext reads, and whether each
// also exists as a bare key.
var auroraContextKeys = map[string]bool{
	ContextSnapshotArn:                    true,
	ContextRestoreToTime:                  true,
	ContextRestoreSourceCluster:           true,
	ContextRestoreSourceClusterResourceID: true,
	ContextCloneSourceCluster:             false,
}

// ContextKey returns the per-construct context key for the construct at path, for
// example ContextKey("AppStack/Database", ContextSnapshotArn) is
// "AppStack/Database.snapshotArn".
func ContextKey(path, key string) string {
	return path + "." + key
}

// AuroraSourceFromContext reads the restore source of the restorable cluster that
// will be created as NewAuroraCluster(scope, id, ...) from the CDK context, so that
// a restore is `cdk deploy -c snapshotArn=...`. Pass the result as
// AuroraClusterProps.Source. It reads the per-construct keys, and the bare keys
// when the app has exactly one restorable cluster (checked when the app
// synthesizes). It returns the zero AuroraSource (a new cluster) when no key is set,
// and an *InputError for a malformed or conflicting value.
func AuroraSourceFromContext(scope constructs.Construct, id string) (AuroraSource, error) {
	path := childPath(scope, id)
	reg := registryOf(scope)
	values := map[string]contextValue{}
	for key, bare := range auroraContextKeys {
		v, err := readContext(scope, reg, path, key, bare)
		if err != nil {
			return AuroraSource{}, err
		}
		if v.set {
			values[key] = v
		}
	}
	names := sourceSettings{
		snapshot:         values[ContextSnapshotArn].settingOr(ContextSnapshotArn),
		restoreToTime:    values[ContextRestoreToTime].settingOr(ContextRestoreToTime),
		sourceCluster:    values[ContextRestoreSourceCluster].settingOr(ContextRestoreSourceCluster),
		sourceResourceID: values[ContextRestoreSourceClusterResourceID].settingOr(ContextRestoreSourceClusterResourceID),
		sourceConstruct:  "AuroraSource.SourceCluster",
		clone:            ContextKey(path, ContextCloneSourceCluster),
	}
	src := AuroraSource{
		SnapshotIdentifier:      values[ContextSnapshotArn].value,
		RestoreToTime:           values[ContextRestoreToTime].value,
		SourceClusterIdentifier: values[ContextRestoreSourceCluster].value,
		SourceClusterResourceID: values[ContextRestoreSourceClusterResourceID].value,
	}
	if clone, ok := values[ContextCloneSourceCluster]; ok {
		if src.SourceClusterIdentifier != "" {
			return AuroraSource{}, inputErr(clone.setting, clone.value,
				"conflicts with "+names.sourceCluster+"="+fmt.Sprintf("%q", src.SourceClusterIdentifier)+": a cluster has exactly one restore source",
				"keep "+clone.setting+" for a clone, or "+names.sourceCluster+" with restoreToTime for a point-in-time restore")
		}
		src.Clone = true
		src.SourceClusterIdentifier = clone.value
		names.sourceCluster = clone.setting
	}
	if _, err := src.resolve(names, stackRegion(scope)); err != nil {
		return AuroraSource{}, withBareKeyHint(err, values, path)
	}
	return src, nil
}

// withBareKeyHint adds to an error about a value read from a bare key that the
// bare key applies to whichever restorable cluster reads it, and how to name
// one: in an app with several stacks (a DR app), a bare key meant for one
// stack reaches the others too.
func withBareKeyHint(err error, values map[string]contextValue, path string) error {
	var bare []string
	for key, v := range values {
		if v.setting == key {
			bare = append(bare, key)
		}
	}
	if len(bare) == 0 {
		return err
	}
	sort.Strings(bare)
	return fmt.Errorf("%w. (%s came from a bare context key, which applies to the app's only restorable cluster, here %s; to restore one cluster of several, name it: -c <stack>/<construct>.%s=...)",
		err, strings.Join(bare, ", "), path, bare[0])
}

// contextValue is one context value and the key it was read from.
type contextValue struct {
	value, setting string
	set            bool
}

func (v contextValue) settingOr(def string) string {
	if v.set {
		return v.setting
	}
	return def
}

// readContext reads key for the construct at path: its per-construct key and, if
// bare is true, the bare key. It records both as read, so that the app-level check
// knows the app wires them.
func readContext(scope constructs.Construct, reg *registry, path, key string, bare bool) (contextValue, error) {
	perKey := ContextKey(path, key)
	reg.markRead(perKey)
	per, err := contextString(scope, perKey)
	if err != nil {
		return contextValue{}, err
	}
	var whole contextValue
	if bare {
		reg.markRead(key)
		if whole, err = contextString(scope, key); err != nil {
			return contextValue{}, err
		}
	}
	switch {
	case per.set && whole.set:
		return contextValue{}, inputErr(key, whole.value,
			fmt.Sprintf("is set together with %s=%q", perKey, per.value),
			"set one of them: the per-construct key for this construct, or the bare key when the app has a single restorable resource")
	case per.set:
		return per, nil
	default:
		return whole, nil
	}
}

// contextString reads one context value, which must be a non-empty string.
func contextString(scope constructs.Construct, key string) (contextValue, error) {
	raw := scope.Node().TryGetContext(jsii.String(key))
	if raw == nil {
		return contextValue{}, nil
	}
	s, ok := raw.(string)
	if !ok {
		return contextValue{}, inputErr(key, fmt.Sprint(raw), fmt.Sprintf("is a %T, not a string", raw),
			`quote the value in cdk.json ("`+key+`": "...") or pass it with -c `+key+`=...`)
	}
	if s == "" {
		return contextValue{}, inputErr(key, s, "is set but empty",
			"give a value, or remove the key; after a restore, keep the key with the same value for every later deploy")
	}
	return contextValue{value: s, setting: key, set: true}, nil
}

// childPath is the construct path that NewX(scope, id) will have.
func childPath(scope constructs.Construct, id string) string {
	if p := *scope.Node().Path(); p != "" {
		return p + "/" + id
	}
	return id
}

// stackRegion is the region of the stack that holds scope, or "" when scope is
// not in a stack.
func stackRegion(scope constructs.Construct) string {
	if !isInStack(scope) {
		return ""
	}
	return *awscdk.Stack_Of(scope).Region()
}

func isInStack(scope constructs.Construct) bool {
	for _, c := range *scope.Node().Scopes() {
		if awscdk.Stack_IsStack(c) != nil && *awscdk.Stack_IsStack(c) {
			return true
		}
	}
	return false
}
