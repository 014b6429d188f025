// Package guard decides whether a CloudFormation update of a restorable resource
// may go ahead. The replacement guard is a custom resource that the guarded
// resource depends on, so CloudFormation updates it first. Its properties carry
// the resource's restore source and its create-only properties, resolved by
// CloudFormation; when either changes, CloudFormation calls the guard with the
// old and new values, and the guard fails the update unless the replacement was
// asked for.
package guard

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
)

// Property names of the guard custom resource.
const (
	PropResource     = "Resource"
	PropResourceType = "ResourceType"
	PropLogicalID    = "LogicalId"
	PropSource       = "Source"
	PropCreateOnly   = "CreateOnly"
	PropAllowReplace = "AllowReplace"
	PropConsentKey   = "ConsentKey"
)

// Props are the guard's properties as CloudFormation passes them to the handler
// (every scalar as a string).
type Props struct {
	// Resource is the construct path of the guarded resource, for messages.
	Resource string
	// ResourceType is its CloudFormation type, for messages.
	ResourceType string
	// LogicalID is the guarded resource's logical ID in the stack.
	LogicalID string
	// Source is the restore source: the resource's restore properties, empty
	// when it holds its own data.
	Source map[string]interface{}
	// CreateOnly are the resource's other create-only properties: a change to any
	// of them makes CloudFormation replace the resource.
	CreateOnly map[string]interface{}
	// AllowReplace is the consent of this deploy: the physical ID of the resource
	// that may be replaced.
	AllowReplace string
	// ConsentKey is the context key that carries the consent, for messages.
	ConsentKey string
}

// ParseProps reads the guard's properties from a CloudFormation event.
func ParseProps(raw map[string]interface{}) (Props, error) {
	p := Props{
		Resource:     str(raw[PropResource]),
		ResourceType: str(raw[PropResourceType]),
		LogicalID:    str(raw[PropLogicalID]),
		AllowReplace: str(raw[PropAllowReplace]),
		ConsentKey:   str(raw[PropConsentKey]),
	}
	var err error
	if p.Source, err = object(raw[PropSource], PropSource); err != nil {
		return Props{}, err
	}
	if p.CreateOnly, err = object(raw[PropCreateOnly], PropCreateOnly); err != nil {
		return Props{}, err
	}
	if p.LogicalID == "" {
		return Props{}, fmt.Errorf("guard: property %s is missing", PropLogicalID)
	}
	return p, nil
}

func str(v interface{}) string {
	s, _ := v.(string)
	return s
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

// Verdict is the guard's answer to an update.
type Verdict int

const (
	// Allow: the update cannot replace the resource, or it asked to.
	Allow Verdict = iota
	// NeedsConsent: the update would replace the resource with one that does not
	// hold its data, and did not ask to; it goes ahead only with consent or
	// during a rollback.
	NeedsConsent
)

// Decision is the guard's verdict on an update and why.
type Decision struct {
	Verdict Verdict
	// Reason explains an Allow; Danger explains a NeedsConsent.
	Reason string
	Danger string
	// Changes lists the changed create-only properties as "Key: old -> new".
	Changes []string
}

// Decide judges an update of the guard from old to new properties.
//
//	source unchanged, create-only unchanged   allow (nothing replaces the resource)
//	none -> source, source -> other source     allow (a restore was asked for)
//	source -> none                             consent (an empty resource would replace it)
//	create-only property changed               consent (an empty resource would replace it)
func Decide(old, new Props) Decision {
	changes := Diff(old.CreateOnly, new.CreateOnly)
	sourceChanged := !reflect.DeepEqual(old.Source, new.Source)
	switch {
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
			Describe(old.Source), new.ResourceType)}
	default:
		return Decision{Verdict: NeedsConsent, Changes: changes, Danger: fmt.Sprintf(
			"create-only properties changed (%s). CloudFormation would replace the %s with a new, EMPTY one and delete the current one",
			strings.Join(changes, "; "), new.ResourceType)}
	}
}

// Refusal is the failure message of a refused update: the resource, the old and
// new values, what would be lost, and the exact flag that consents.
func Refusal(d Decision, p Props, physicalID string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "restorable refused to replace %s (%s %s): %s. ", p.Resource, p.ResourceType, physicalID, d.Danger)
	if p.AllowReplace != "" && p.AllowReplace != physicalID {
		fmt.Fprintf(&b, "The consent given (%s=%s) names another resource, not the current %s. ", p.ConsentKey, p.AllowReplace, physicalID)
	}
	fmt.Fprintf(&b, "If this deploy should not replace it, restore the previous settings (for a restore source, keep it in cdk.json). "+
		"To replace it and lose its data (a final snapshot is kept where the removal policy is Snapshot), deploy again with: cdk deploy -c '%s=%s'. "+
		"The consent names this resource, so it does not apply to any later one.", p.ConsentKey, physicalID)
	return b.String()
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

// Fingerprint is a short, stable digest of the source and create-only
// properties, for reports and logs.
func Fingerprint(source, createOnly map[string]interface{}) string {
	raw, _ := json.Marshal(map[string]interface{}{"s": source, "c": createOnly}) // json sorts map keys
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:])[:12]
}

// IsRollback reports whether a stack status means CloudFormation is rolling an
// update (or a creation or import) back; every change the guard sees then is
// CloudFormation restoring the previous state, which must never be refused.
func IsRollback(stackStatus string) bool {
	return strings.Contains(stackStatus, "ROLLBACK_IN_PROGRESS")
}
