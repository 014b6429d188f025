package restorable

import (
	"fmt"

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
// that looks like one of these but is not exactly one (another case, a typo, an
// unknown setting of a restorable construct, a path that names none) fails synth
// instead of being ignored.
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
	// ContextEFSRecoveryPointArn restores an AWS Backup recovery point into a
	// restorable file system: -c efsRecoveryPointArn=<ARN> for the app's only file
	// system, or -c '<path>.efsRecoveryPointArn=<ARN>' for one of several.
	ContextEFSRecoveryPointArn = "efsRecoveryPointArn"
)

// ContextKey returns the per-construct context key for the construct at path, for
// example ContextKey("AppStack/Database", ContextSnapshotArn) is
// "AppStack/Database.snapshotArn".
func ContextKey(path, key string) string {
	return path + "." + key
}

// AuroraClusterFromContext returns a copy of props whose Source and
// AllowReplace are read from the CDK context, for the restorable cluster that
// NewAuroraCluster(scope, id, ...) creates: a restore is then
// `cdk deploy -c snapshotArn=...`. It reads the per-construct keys, and the
// bare keys when the app has exactly one restorable cluster (checked when the
// app synthesizes). It returns an *InputError for a context value that is not a
// string, is empty, or is set twice; NewAuroraCluster validates the values, and
// its errors name the context keys they came from.
func AuroraClusterFromContext(scope constructs.Construct, id string, props AuroraClusterProps) (*AuroraClusterProps, error) {
	path := childPath(scope, id)
	reg := registryOf(scope)
	ctx := newContextReader(scope)
	read := func(key string, bare bool) (contextValue, error) { return ctx.read(reg, path, key, bare) }
	values := map[string]contextValue{}
	for _, key := range []string{ContextSnapshotArn, ContextRestoreToTime, ContextRestoreSourceCluster, ContextRestoreSourceClusterResourceID} {
		v, err := read(key, true)
		if err != nil {
			return nil, err
		}
		values[key] = v
	}
	clone, err := read(ContextCloneSourceCluster, false)
	if err != nil {
		return nil, err
	}
	consent, err := read(ContextAllowReplace, false)
	if err != nil {
		return nil, err
	}
	out := props
	if consent.set {
		if props.AllowReplace != "" && props.AllowReplace != consent.value {
			return nil, inputErr(consent.setting, consent.value, fmt.Sprintf("conflicts with AuroraClusterProps.AllowReplace=%q", props.AllowReplace), "give the consent once")
		}
		out.AllowReplace = consent.value
	}
	src := AuroraSource{
		SnapshotIdentifier:      values[ContextSnapshotArn].value,
		RestoreToTime:           values[ContextRestoreToTime].value,
		SourceClusterIdentifier: values[ContextRestoreSourceCluster].value,
		SourceClusterResourceID: values[ContextRestoreSourceClusterResourceID].value,
	}
	names := sourceSettings{
		snapshot:         values[ContextSnapshotArn].settingOr(ContextKey(path, ContextSnapshotArn)),
		restoreToTime:    values[ContextRestoreToTime].settingOr(ContextKey(path, ContextRestoreToTime)),
		sourceCluster:    values[ContextRestoreSourceCluster].settingOr(ContextKey(path, ContextRestoreSourceCluster)),
		sourceResourceID: values[ContextRestoreSourceClusterResourceID].settingOr(ContextKey(path, ContextRestoreSourceClusterResourceID)),
		sourceConstruct:  "AuroraSource.SourceCluster",
		clone:            ContextKey(path, ContextCloneSourceCluster),
	}
	if clone.set {
		if src.SourceClusterIdentifier != "" {
			return nil, inputErr(clone.setting, clone.value,
				fmt.Sprintf("conflicts with %s=%q: a cluster has exactly one restore source", names.sourceCluster, src.SourceClusterIdentifier),
				"keep "+clone.setting+" for a clone, or "+names.sourceCluster+" with restoreToTime for a point-in-time restore")
		}
		src.Clone = true
		src.SourceClusterIdentifier = clone.value
		names.sourceCluster = clone.setting
	}
	if !src.IsZero() {
		if !props.Source.IsZero() {
			return nil, inputErr(firstSet(values, clone), "", "sets a restore source in the context, and AuroraClusterProps.Source sets one in code",
				"give the source in one place: remove the context value, or Source from the props")
		}
		src.from = &names
		out.Source = src
	}
	return &out, nil
}

// firstSet names the first context key that was set, for messages.
func firstSet(values map[string]contextValue, clone contextValue) string {
	for _, key := range []string{ContextSnapshotArn, ContextRestoreToTime, ContextRestoreSourceCluster, ContextRestoreSourceClusterResourceID} {
		if values[key].set {
			return values[key].setting
		}
	}
	return clone.setting
}

// FileSystemFromContext returns a copy of props whose RecoveryPointArn and
// AllowReplace are read from the CDK context, for the restorable file system
// that NewFileSystem(scope, id, ...) creates: -c efsRecoveryPointArn=<ARN> for
// the app's only file system, or -c '<path>.efsRecoveryPointArn=<ARN>'.
// NewFileSystem validates the recovery point.
func FileSystemFromContext(scope constructs.Construct, id string, props FileSystemProps) (*FileSystemProps, error) {
	path := childPath(scope, id)
	reg := registryOf(scope)
	ctx := newContextReader(scope)
	point, err := ctx.read(reg, path, ContextEFSRecoveryPointArn, true)
	if err != nil {
		return nil, err
	}
	consent, err := ctx.read(reg, path, ContextAllowReplace, false)
	if err != nil {
		return nil, err
	}
	out := props
	if point.set {
		if props.RecoveryPointArn != "" {
			return nil, inputErr(point.setting, point.value, fmt.Sprintf("conflicts with FileSystemProps.RecoveryPointArn=%q", props.RecoveryPointArn),
				"give the recovery point in one place")
		}
		out.RecoveryPointArn = point.value
		out.recoveryPointSetting = point.setting
	}
	if consent.set {
		if props.AllowReplace != "" && props.AllowReplace != consent.value {
			return nil, inputErr(consent.setting, consent.value, fmt.Sprintf("conflicts with FileSystemProps.AllowReplace=%q", props.AllowReplace), "give the consent once")
		}
		out.AllowReplace = consent.value
	}
	return &out, nil
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

// contextReader reads a scope's context: all of it in one round trip to the
// jsii kernel when the first key is asked (Node.getAllContext merges the
// scope's context over its ancestors', as Node.tryGetContext looks a key up),
// instead of one round trip per key (issue 24). A reader lives for one
// constructor's reads: context can only be set on a scope before it has
// children, and a reader made before the scope's last SetContext would
// miss it.
//
// A reader of one key asks Node.tryGetContext (the same two round trips,
// without copying the whole context of a large cdk.context.json).
type contextReader struct {
	scope constructs.Construct
	all   map[string]interface{}
	one   bool
}

func newContextReader(scope constructs.Construct) *contextReader {
	return &contextReader{scope: scope}
}

func (r *contextReader) get(key string) interface{} {
	if r.one {
		return nodeOf(r.scope).TryGetContext(jsii.String(key))
	}
	if r.all == nil {
		r.all, _ = nodeOf(r.scope).GetAllContext(nil).(map[string]interface{})
		if r.all == nil {
			r.all = map[string]interface{}{}
		}
	}
	return r.all[key]
}

// readContext reads key for the construct at path: its per-construct key and, if
// bare is true, the bare key. It records both as read, so that the app-level check
// knows the app wires them.
func readContext(scope constructs.Construct, reg *registry, path, key string, bare bool) (contextValue, error) {
	return (&contextReader{scope: scope, one: !bare}).read(reg, path, key, bare)
}

// read is readContext with r's context.
func (r *contextReader) read(reg *registry, path, key string, bare bool) (contextValue, error) {
	perKey := ContextKey(path, key)
	reg.markRead(perKey)
	per, err := contextString(r.get(perKey), perKey)
	if err != nil {
		return contextValue{}, err
	}
	var whole contextValue
	if bare {
		reg.markRead(key)
		if whole, err = contextString(r.get(key), key); err != nil {
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

// contextString is the context value raw of key, which must be a non-empty
// string.
func contextString(raw interface{}, key string) (contextValue, error) {
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
	if p := pathOf(scope); p != "" {
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
	return stackEnv(stackOf(scope))[1]
}

// RecoveryVaultFromContext returns a copy of props whose AllowReplace is read
// from the context key "<path>.allowReplace", for the vault that
// NewRecoveryVault(scope, id, ...) creates.
func RecoveryVaultFromContext(scope constructs.Construct, id string, props RecoveryVaultProps) (*RecoveryVaultProps, error) {
	consent, err := readContext(scope, registryOf(scope), childPath(scope, id), ContextAllowReplace, false)
	if err != nil {
		return nil, err
	}
	out := props
	if consent.set {
		out.AllowReplace = consent.value
	}
	return &out, nil
}
