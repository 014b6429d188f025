package restorable

import (
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// resourceKind is a kind of stateful resource that restorable owns.
type resourceKind string

const (
	kindAuroraCluster resourceKind = "Aurora cluster"
	kindFileSystem    resourceKind = "file system"
	kindBackupVault   resourceKind = "backup vault"
)

// contextKeySpec says which resources a context key applies to, and whether it
// also exists as a bare key.
type contextKeySpec struct {
	kinds []resourceKind
	bare  bool
}

// contextKeySpecs lists every context key restorable reads.
var contextKeySpecs = func() map[string]contextKeySpec {
	specs := map[string]contextKeySpec{}
	for key, bare := range auroraContextKeys {
		specs[key] = contextKeySpec{kinds: []resourceKind{kindAuroraCluster}, bare: bare}
	}
	specs[ContextEFSRecoveryPointArn] = contextKeySpec{kinds: []resourceKind{kindFileSystem}, bare: true}
	specs[ContextAllowReplace] = contextKeySpec{kinds: []resourceKind{kindAuroraCluster, kindFileSystem, kindBackupVault}}
	return specs
}()

// registry records, per app, the restorable resources and the context keys the
// app reads, so that an app-level validation can enforce the bare-key rule and
// reject keys that nothing reads.
type registry struct {
	mu        sync.Mutex
	resources []registered
	read      map[string]bool
}

type registered struct {
	path string
	kind resourceKind
	// report describes, for the synth report, what a deploy does to the resource.
	report func() []string
}

// registries maps each app's root construct to its registry. The key is the
// root itself: jsii returns the same Go value for the same construct, while
// Node().Addr() is derived from the path, which is empty for every app's root.
var (
	registriesMu sync.Mutex
	registries   = map[constructs.IConstruct]*registry{}
)

// registryOf returns the registry of the app that holds scope, creating it (and
// its validation) on first use.
func registryOf(scope constructs.Construct) *registry {
	root := scope.Node().Root()
	registriesMu.Lock()
	defer registriesMu.Unlock()
	if reg, ok := registries[root]; ok {
		return reg
	}
	reg := &registry{read: map[string]bool{}}
	registries[root] = reg
	root.Node().AddValidation(&contextCheck{reg: reg, root: root})
	return reg
}

func (r *registry) add(path string, kind resourceKind, report func() []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.resources = append(r.resources, registered{path: path, kind: kind, report: report})
}

func (r *registry) all() []registered {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]registered(nil), r.resources...)
}

func (r *registry) markRead(key string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.read[key] = true
}

func (r *registry) pathsOf(kinds []resourceKind) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var paths []string
	for _, res := range r.resources {
		for _, k := range kinds {
			if res.kind == k {
				paths = append(paths, res.path)
			}
		}
	}
	return paths
}

func (r *registry) kindOf(path string) (resourceKind, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, res := range r.resources {
		if res.path == path {
			return res.kind, true
		}
	}
	return "", false
}

// contextCheck is the app-level validation of restorable context keys.
type contextCheck struct {
	reg  *registry
	root constructs.IConstruct
}

// Validate implements constructs.IValidation.
func (c *contextCheck) Validate() *[]*string {
	all, _ := c.root.Node().GetAllContext(nil).(map[string]interface{})
	keys := make([]string, 0, len(all))
	for k := range all {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var errs []string
	for _, key := range keys {
		if msg := c.check(key); msg != "" {
			errs = append(errs, msg)
		}
	}
	out := make([]*string, len(errs))
	for i := range errs {
		out[i] = jsii.String(errs[i])
	}
	return &out
}

func (c *contextCheck) check(key string) string {
	if spec, ok := contextKeySpecs[key]; ok && spec.bare {
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
	dot := strings.LastIndex(key, ".")
	if dot <= 0 {
		return ""
	}
	path, suffix := key[:dot], key[dot+1:]
	spec, ok := contextKeySpecs[suffix]
	if !ok {
		return ""
	}
	kind, found := c.reg.kindOf(path)
	if !found || !hasKind(spec.kinds, kind) {
		known := c.reg.pathsOf(spec.kinds)
		list := "none"
		if len(known) > 0 {
			list = strings.Join(known, ", ")
		}
		return fmt.Sprintf("restorable: context key %q names %q, which is not a restorable %s. Fix: correct the construct path; the restorable %ss in this app are: %s.",
			key, path, kindsText(spec.kinds), kindsText(spec.kinds), list)
	}
	if !c.reg.read[key] {
		return notReadMessage(key, path)
	}
	return ""
}

func notReadMessage(key, path string) string {
	return fmt.Sprintf("restorable: context key %q is set, but this app does not read it for %s, so it would be ignored. Fix: pass the construct's FromContext helper (restorable.AuroraSourceFromContext, FileSystemRecoveryPointFromContext or AllowReplaceFromContext) to its props, or remove -c %s.",
		key, path, key)
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
