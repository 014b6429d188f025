package restorable

import (
	"sync"

	"github.com/aws/constructs-go/constructs/v10"
)

// resourceKind is a kind of stateful resource that restorable owns.
type resourceKind string

const (
	kindAuroraCluster resourceKind = "Aurora cluster"
	kindFileSystem    resourceKind = "file system"
	kindBackupVault   resourceKind = "backup vault"
	kindStackGuard    resourceKind = "stack guard"
)

// registry records, per app, the restorable resources and the context keys the
// app reads, so that an app-level validation can enforce the bare-key rule and
// reject keys that nothing reads.
type registry struct {
	mu        sync.Mutex
	resources []registered
	read      map[string]bool
	// reported is set once the report is printed.
	reported bool
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
	root := rootOf(scope)
	registriesMu.Lock()
	defer registriesMu.Unlock()
	if reg, ok := registries[root]; ok {
		return reg
	}
	startHandlerBuild()
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
