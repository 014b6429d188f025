// Package guard decides whether a CloudFormation deploy may go ahead on the
// stateful resources of a stack. The replacement guard is one custom resource
// per stack that every guarded resource depends on, so CloudFormation updates
// it first. Its properties carry, for each guarded resource, the restore source
// and the create-only properties, resolved by CloudFormation, and the list of
// every resource of a guarded type in the new template. When any of them
// changes, CloudFormation calls the guard, which fails the deploy before a
// guarded resource is touched when the deploy would:
//
//   - replace a resource with an empty one (a removed restore source, a
//     changed create-only property);
//   - adopt a live resource with create-only properties that differ from it
//     (the first deploy of restorable on a cluster made by a plain L2);
//   - delete a resource, because it was renamed, moved or removed,
//
// unless the deploy consents for that resource, by its physical ID.
package guard

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"github.com/restorable-cdk/restorable/internal/contract"
)

// Props are the guard's properties as CloudFormation passes them to the
// handler (every scalar as a string).
type Props struct {
	// Stack is the stack's construct path, for messages.
	Stack string
	// Resources are the guarded resources by logical ID.
	Resources map[string]Resource
	// Present lists every logical ID of a guarded type in the template.
	Present map[string]bool
	// Consent maps construct paths to the physical ID the deploy may replace.
	Consent map[string]string
}

// Resource is one guarded resource.
type Resource struct {
	// Path is the construct path, for messages and consent.
	Path string
	// Type is the CloudFormation type.
	Type string
	// Source is the restore source: the resource's restore properties, empty
	// when it holds its own data.
	Source map[string]interface{}
	// CreateOnly are the other create-only properties: a change to any of them
	// makes CloudFormation replace the resource.
	CreateOnly map[string]interface{}
	// Adopt is true for a resource adopted from a plain L2.
	Adopt bool
	// Plain is true for a resource of a guarded type that no restorable
	// construct owns.
	Plain bool
	// BeforeChange, for an Aurora cluster, asks for a snapshot before a
	// deploy that changes its watched values; nil when off.
	BeforeChange *BeforeChange
}

// ParseProps reads the guard's properties from a CloudFormation event.
func ParseProps(raw map[string]interface{}) (Props, error) {
	p := Props{Stack: str(raw[contract.GuardStack]), Resources: map[string]Resource{}, Present: map[string]bool{}, Consent: map[string]string{}}
	resources, err := object(raw[contract.GuardResources], contract.GuardResources)
	if err != nil {
		return Props{}, err
	}
	for id, v := range resources {
		r, err := object(v, contract.GuardResources+"."+id)
		if err != nil {
			return Props{}, err
		}
		res := Resource{Path: str(r[contract.GuardPath]), Type: str(r[contract.GuardType]), Adopt: str(r[contract.GuardAdopt]) == "true", Plain: str(r[contract.GuardPlain]) == "true"}
		if res.Source, err = object(r[contract.GuardSource], id+"."+contract.GuardSource); err != nil {
			return Props{}, err
		}
		if res.CreateOnly, err = object(r[contract.GuardCreateOnly], id+"."+contract.GuardCreateOnly); err != nil {
			return Props{}, err
		}
		if res.BeforeChange, err = parseBeforeChange(r[contract.GuardBeforeChange], id); err != nil {
			return Props{}, err
		}
		if res.Path == "" || res.Type == "" {
			return Props{}, fmt.Errorf("guard: resource %s has no %s or %s", id, contract.GuardPath, contract.GuardType)
		}
		p.Resources[id] = res
	}
	switch present := raw[contract.GuardPresent].(type) {
	case nil:
	case []interface{}:
		for _, id := range present {
			p.Present[str(id)] = true
		}
	default:
		return Props{}, fmt.Errorf("guard: property %s is a %T, not a list", contract.GuardPresent, present)
	}
	for id := range p.Resources {
		p.Present[id] = true
	}
	consent, err := object(raw[contract.GuardConsent], contract.GuardConsent)
	if err != nil {
		return Props{}, err
	}
	for path, v := range consent {
		p.Consent[path] = str(v)
	}
	return p, nil
}

func str(v interface{}) string {
	switch s := v.(type) {
	case string:
		return s
	case nil:
		return ""
	default:
		return fmt.Sprint(s)
	}
}

func object(v interface{}, name string) (map[string]interface{}, error) {
	switch o := v.(type) {
	case nil:
		return map[string]interface{}{}, nil
	case map[string]interface{}:
		return o, nil
	default:
		return nil, fmt.Errorf("guard: property %s is a %T, not an object", name, v)
	}
}

// Verdict is the guard's answer for one resource.
type Verdict int

const (
	// Allow: the deploy cannot replace the resource, or it asked to.
	Allow Verdict = iota
	// NeedsConsent: the deploy would replace the resource with one that does
	// not hold its data, and did not ask to; it goes ahead only with consent or
	// during a rollback.
	NeedsConsent
)

// Decision is the guard's verdict on one resource and why.
type Decision struct {
	Verdict Verdict
	// Reason explains an Allow; Danger explains a NeedsConsent.
	Reason string
	Danger string
	// Changes lists the changed create-only properties as "Key: old -> new".
	Changes []string
}

// Decide judges an update of one guarded resource from old to new properties.
//
//	source unchanged, create-only unchanged   allow (nothing replaces the resource)
//	none -> source, source -> other source     allow (a restore was asked for)
//	source -> none                             consent (an empty resource would replace it)
//	create-only property changed               consent (an empty resource would replace it)
func Decide(old, new Resource) Decision {
	oldCreateOnly, detached := detach(old, new)
	oldCreateOnly, newCreateOnly, replicationDanger := replication(new.Type, oldCreateOnly, new.CreateOnly)
	changes := Diff(oldCreateOnly, newCreateOnly)
	if replicationDanger != "" && len(changes) > 0 && onlyReplication(changes) && reflect.DeepEqual(old.Source, new.Source) {
		return Decision{Verdict: NeedsConsent, Changes: changes, Danger: replicationDanger}
	}
	sourceChanged := !reflect.DeepEqual(old.Source, new.Source)
	switch {
	case !sourceChanged && len(changes) == 0 && detached:
		// No data is deleted, but a detached cluster accepts writes while
		// the global database's writer may still take them: two writers
		// diverge, and one side's writes are lost when they are reconciled
		// (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-global-database-disaster-recovery.html).
		return Decision{Verdict: NeedsConsent, Changes: []string{"GlobalClusterIdentifier: " + render(old.CreateOnly["GlobalClusterIdentifier"], true) + " -> (not set)"}, Danger: "GlobalClusterIdentifier was removed: CloudFormation detaches the cluster from its global database (RemoveFromGlobalCluster) and keeps its data, but it then accepts writes of its own. If the global database's writer still takes writes, the two diverge and one side's writes are lost. Stop every writer of the old primary first (docs/global.md, \"Detach\")"}
	case !sourceChanged && len(changes) == 0:
		return Decision{Verdict: Allow, Reason: "neither the restore source nor a create-only property changed, so the resource is not replaced"}
	case sourceChanged && len(new.Source) > 0:
		reason := fmt.Sprintf("a restore was asked for: source %s -> %s", Describe(old.Source), Describe(new.Source))
		if len(changes) > 0 {
			reason += "; the restored resource also takes the changed create-only properties (" + strings.Join(changes, "; ") + ")"
		}
		return Decision{Verdict: Allow, Reason: reason, Changes: changes}
	case sourceChanged:
		return Decision{Verdict: NeedsConsent, Changes: changes, Danger: fmt.Sprintf(
			"the restore source was removed (it was %s). CloudFormation would create a new, EMPTY %s and delete the current one, whose data came from that source",
			Describe(old.Source), new.Type)}
	default:
		return Decision{Verdict: NeedsConsent, Changes: changes, Danger: fmt.Sprintf(
			"create-only properties changed (%s). CloudFormation would replace the %s with a new, EMPTY one and delete the current one",
			strings.Join(changes, "; "), new.Type)}
	}
}

// detach returns old's create-only properties without GlobalClusterIdentifier
// when new drops it from a DB cluster, so that the decision names the detach
// rather than a replacement. The schema marks the property conditionally
// create-only: the RDS resource provider's update handler calls
// RemoveFromGlobalCluster when it is removed, which detaches the cluster in
// place and promotes it to a standalone cluster with its data
// (https://github.com/aws-cloudformation/aws-cloudformation-resource-providers-rds/blob/master/aws-rds-dbcluster/src/main/java/software/amazon/rds/dbcluster/UpdateHandler.java,
// https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-global-database-detaching.html);
// only setting or changing it replaces the cluster.
func detach(old, new Resource) (map[string]interface{}, bool) {
	const key = "GlobalClusterIdentifier"
	if new.Type != contract.TypeDBCluster {
		return old.CreateOnly, false
	}
	v, had := old.CreateOnly[key]
	if _, has := new.CreateOnly[key]; !had || has || v == nil || v == "" {
		return old.CreateOnly, false
	}
	out := map[string]interface{}{}
	for k, v := range old.CreateOnly {
		if k != key {
			out[k] = v
		}
	}
	return out, true
}

// replication drops what an EFS replication may change without consent
// (starting to replicate a file system into a replica; protecting a former
// replica again) and names the danger of the rest: a file system that
// becomes a replica has its content replaced by the source's and turns
// read-only (https://docs.aws.amazon.com/efs/latest/ug/replicate-existing-destination.html),
// and a replication removed or pointed elsewhere leaves its replica behind,
// stale, while DR counts on it.
func replication(typ string, old, new map[string]interface{}) (map[string]interface{}, map[string]interface{}, string) {
	if typ != contract.TypeFileSystem {
		return old, new, ""
	}
	const protection, destination = "ReplicationOverwriteProtection", "ReplicationDestination"
	o, n := map[string]interface{}{}, map[string]interface{}{}
	for k, v := range old {
		o[k] = v
	}
	for k, v := range new {
		n[k] = v
	}
	if _, was := o[destination]; !was {
		delete(n, destination)
	}
	if _, is := n[protection]; !is {
		delete(o, protection)
	}
	var dangers []string
	if _, was := o[protection]; !was {
		if _, is := n[protection]; is {
			dangers = append(dangers, "the file system becomes a replica (replication overwrite protection DISABLED): it turns read-only, and EFS replaces its content with the source's")
		}
	}
	if d, was := o[destination]; was && !reflect.DeepEqual(d, n[destination]) {
		dangers = append(dangers, fmt.Sprintf("its replication to %v ends or moves: that replica stops receiving changes, and a new destination's content is replaced", d))
	}
	return o, n, strings.Join(dangers, "; ")
}

func onlyReplication(changes []string) bool {
	for _, c := range changes {
		if !strings.HasPrefix(c, "ReplicationOverwriteProtection:") && !strings.HasPrefix(c, "ReplicationDestination:") {
			return false
		}
	}
	return true
}

// Diff lists the keys whose values differ between two property maps, as
// "Key: old -> new", sorted by key.
func Diff(old, new map[string]interface{}) []string {
	keys := map[string]bool{}
	for k := range old {
		keys[k] = true
	}
	for k := range new {
		keys[k] = true
	}
	var out []string
	for k := range keys {
		o, inOld := old[k]
		n, inNew := new[k]
		if inOld && inNew && reflect.DeepEqual(o, n) {
			continue
		}
		out = append(out, fmt.Sprintf("%s: %s -> %s", k, render(o, inOld), render(n, inNew)))
	}
	sort.Strings(out)
	return out
}

func render(v interface{}, present bool) string {
	if !present {
		return "(not set)"
	}
	if s, ok := v.(string); ok {
		return s
	}
	raw, _ := json.Marshal(v)
	return string(raw)
}

// Describe renders a restore source for messages: "none" or its properties.
func Describe(source map[string]interface{}) string {
	if len(source) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(source))
	for k := range source {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + render(source[k], true)
	}
	return strings.Join(parts, ", ")
}
