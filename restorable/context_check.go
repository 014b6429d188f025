package restorable

import (
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// contextKeySpec says which resources a context key applies to, and whether it
// also exists as a bare key.
type contextKeySpec struct {
	kinds []resourceKind
	bare  bool
}

// contextKeySpecs lists every context key restorable reads.
var contextKeySpecs = map[string]contextKeySpec{
	ContextSnapshotArn:                    {kinds: []resourceKind{kindAuroraCluster}, bare: true},
	ContextRestoreToTime:                  {kinds: []resourceKind{kindAuroraCluster}, bare: true},
	ContextRestoreSourceCluster:           {kinds: []resourceKind{kindAuroraCluster}, bare: true},
	ContextRestoreSourceClusterResourceID: {kinds: []resourceKind{kindAuroraCluster}, bare: true},
	ContextCloneSourceCluster:             {kinds: []resourceKind{kindAuroraCluster}},
	ContextEFSRecoveryPointArn:            {kinds: []resourceKind{kindFileSystem}, bare: true},
	ContextAllowReplace:                   {kinds: []resourceKind{kindAuroraCluster, kindFileSystem, kindBackupVault}},
	ContextDrillNow:                       {kinds: []resourceKind{kindAuroraCluster, kindFileSystem}},
	ContextSwitchoverTo:                   {kinds: []resourceKind{kindAuroraCluster, kindFileSystem}},
	ContextFailoverTo:                     {kinds: []resourceKind{kindAuroraCluster, kindFileSystem}},
	ContextAllowDataLoss:                  {kinds: []resourceKind{kindAuroraCluster, kindFileSystem}},
}

// contextCheck is the app-level validation of restorable context keys: it
// runs when the app synthesizes, after every construct exists, so it knows
// every restorable resource and every key the app read.
type contextCheck struct {
	reg    *registry
	root   constructs.IConstruct
	stacks []awscdk.Stack
}

// Validate implements constructs.IValidation.
func (c *contextCheck) Validate() *[]*string {
	all, _ := c.root.Node().GetAllContext(nil).(map[string]interface{})
	keys := make([]string, 0, len(all))
	for k := range all {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var errs []*string
	for _, key := range keys {
		if msg := c.check(key); msg != "" {
			errs = append(errs, jsii.String(msg))
		}
	}
	// The CDK CLI runs the app with CDK_OUTDIR set, and shows what it prints
	// to stderr: the report prints by itself on every cdk synth and deploy.
	if len(errs) == 0 && os.Getenv(outdirEnv) != "" {
		printReportOnce(c.reg)
	}
	return &errs
}

// check returns the error for one context key, or "".
func (c *contextCheck) check(key string) string {
	if spec, ok := contextKeySpecs[key]; ok {
		if !spec.bare {
			return c.bareOnlyPerConstruct(key, spec)
		}
		return c.checkBare(key, spec)
	}
	if dot := strings.LastIndex(key, "."); dot > 0 {
		path, suffix := key[:dot], key[dot+1:]
		if spec, ok := contextKeySpecs[suffix]; ok {
			return c.checkPerConstruct(key, path, suffix, spec)
		}
		if kind, ok := c.reg.kindOf(path); ok {
			near := keysFor(kind)
			return fmt.Sprintf("restorable: context key %q: %q is not a setting of the restorable %s %s, so it would be ignored. Fix: use %s (the settings of a %s are %s).",
				key, suffix, kind, path, quoted(ContextKey(path, nearest(suffix, near))), kind, strings.Join(near, ", "))
		}
		if k := nearKey(suffix); k != "" {
			return fmt.Sprintf("restorable: context key %q looks like %q, but is not it, so it would be ignored. Fix: use %s; the restorable resources in this app are: %s.",
				key, ContextKey(path, k), quoted(ContextKey(path, k)), listOr(c.reg.pathsOf(contextKeySpecs[k].kinds), "none"))
		}
		return ""
	}
	if k := nearKey(key); k != "" {
		form := k
		if !contextKeySpecs[k].bare {
			form = "<construct path>." + k
		}
		return fmt.Sprintf("restorable: context key %q looks like %q, but is not it, so it would be ignored. Fix: use -c %s=... (keys are case-sensitive).", key, form, form)
	}
	return ""
}

func (c *contextCheck) checkBare(key string, spec contextKeySpec) string {
	paths := c.reg.pathsOf(spec.kinds)
	switch {
	case len(paths) == 0:
		return fmt.Sprintf("restorable: context key %q is set, but this app has no restorable %s. Fix: remove -c %s.", key, kindsText(spec.kinds), key)
	case len(paths) > 1:
		perKeys := make([]string, len(paths))
		for i, p := range paths {
			perKeys[i] = ContextKey(p, key)
		}
		return fmt.Sprintf("restorable: context key %q applies only when the app has exactly one restorable %s, and this app has %d: %s. Fix: use the per-construct keys instead: %s.",
			key, kindsText(spec.kinds), len(paths), strings.Join(paths, ", "), strings.Join(perKeys, ", "))
	case !c.reg.read[key]:
		return notReadMessage(key, paths[0])
	}
	return ""
}

// bareOnlyPerConstruct rejects a bare form of a key that exists only per
// construct (a clone source, a consent), which must name its construct.
func (c *contextCheck) bareOnlyPerConstruct(key string, spec contextKeySpec) string {
	paths := c.reg.pathsOf(spec.kinds)
	forms := make([]string, len(paths))
	for i, p := range paths {
		forms[i] = quoted(ContextKey(p, key))
	}
	return fmt.Sprintf("restorable: context key %q exists only per construct, so that it never applies to the wrong resource; as a bare key it would be ignored. Fix: name the construct: %s.",
		key, listOr(forms, "-c '<construct path>."+key+"=...' (this app has no restorable "+kindsText(spec.kinds)+")"))
}

func (c *contextCheck) checkPerConstruct(key, path, suffix string, spec contextKeySpec) string {
	kind, found := c.reg.kindOf(path)
	switch {
	case found && hasKind(spec.kinds, kind):
		if !c.reg.read[key] {
			return notReadMessage(key, path)
		}
		return ""
	case !found && suffix == ContextAllowReplace && c.inAStack(path):
		// Consent for a resource that is no longer a restorable construct (a
		// renamed or removed one): the stack's guard takes it (see
		// stackGuard.consent), and refuses the deploy without it.
		c.warn(path, fmt.Sprintf("restorable: context key %q names %s, which is not a restorable resource in this app; the guard takes it as consent to delete or replace the resource that had this path (a renamed or removed construct). The restorable resources are: %s.",
			key, path, listOr(c.reg.pathsOf(spec.kinds), "none")))
		return ""
	}
	known := c.reg.pathsOf(spec.kinds)
	return fmt.Sprintf("restorable: context key %q names %q, which is not a restorable %s. Fix: correct the construct path; the restorable %ss in this app are: %s.",
		key, path, kindsText(spec.kinds), kindsText(spec.kinds), listOr(known, "none"))
}

// inAStack reports whether path starts with the path of a stack of the app.
func (c *contextCheck) inAStack(path string) bool {
	return c.stackFor(path) != nil
}

func (c *contextCheck) stackFor(path string) awscdk.Stack {
	if c.stacks == nil {
		for _, child := range *c.root.Node().FindAll(constructs.ConstructOrder_PREORDER) {
			if *awscdk.Stack_IsStack(child) {
				c.stacks = append(c.stacks, awscdk.Stack_Of(child))
			}
		}
	}
	for _, s := range c.stacks {
		if strings.HasPrefix(path, *s.Node().Path()+"/") {
			return s
		}
	}
	return nil
}

func (c *contextCheck) warn(path, msg string) {
	if s := c.stackFor(path); s != nil {
		awscdk.Annotations_Of(s).AddWarningV2(jsii.String("restorable:consentForUnknownPath"), jsii.String(msg))
	}
}

func notReadMessage(key, path string) string {
	return fmt.Sprintf("restorable: context key %q is set, but this app does not read it for %s, so it would be ignored. Fix: build the construct's props with its FromContext helper (restorable.AuroraClusterFromContext or FileSystemFromContext), or remove -c %s.",
		key, path, key)
}

// keysFor lists the per-construct settings of a kind.
func keysFor(kind resourceKind) []string {
	var out []string
	for key, spec := range contextKeySpecs {
		if hasKind(spec.kinds, kind) {
			out = append(out, key)
		}
	}
	sort.Strings(out)
	return out
}

// nearKey returns the known key that s most likely misspells: the same
// letters in another case or with '_' and '-', or within edit distance 2,
// ignoring case. Short strings are compared only after normalizing, so that
// unrelated keys of other tools are left alone.
func nearKey(s string) string {
	norm := normalizeKey(s)
	var names []string
	for key := range contextKeySpecs {
		names = append(names, key)
	}
	sort.Strings(names)
	for _, key := range names {
		if normalizeKey(key) == norm {
			return key
		}
	}
	if len(s) < 8 {
		return ""
	}
	best, bestDist := "", 3
	for _, key := range names {
		if d := editDistance(strings.ToLower(s), strings.ToLower(key)); d < bestDist {
			best, bestDist = key, d
		}
	}
	return best
}

// nearest returns the candidate closest to s.
func nearest(s string, candidates []string) string {
	best, bestDist := candidates[0], -1
	for _, c := range candidates {
		d := editDistance(normalizeKey(s), normalizeKey(c))
		if bestDist < 0 || d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

func normalizeKey(s string) string {
	return strings.NewReplacer("_", "", "-", "").Replace(strings.ToLower(s))
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func quoted(key string) string { return "-c '" + key + "=...'" }

func listOr(items []string, none string) string {
	if len(items) == 0 {
		return none
	}
	return strings.Join(items, ", ")
}

func hasKind(kinds []resourceKind, k resourceKind) bool {
	for _, kind := range kinds {
		if kind == k {
			return true
		}
	}
	return false
}

func kindsText(kinds []resourceKind) string {
	parts := make([]string, len(kinds))
	for i, k := range kinds {
		parts[i] = string(k)
	}
	return strings.Join(parts, " or ")
}
