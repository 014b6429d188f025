package restorable

import (
	"sort"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// scan finds, once the app is complete, every resource of a guarded type in
// the guard's stack, restorable's or not. The guard lists them all (a
// resource of a guarded type that the stack holds and the list lacks is
// about to be deleted), and guards the plain aws-cdk-lib ones like
// restorable's: their create-only properties too, and with the guard updated
// first. So a restorable cluster swapped back to awsrds.NewDatabaseCluster
// under the same id, whose create-only properties then change, is refused
// like any other replacement.
//
// It runs as a validation of the guard, after every construct exists and
// before the template is written, so that the dependencies it adds are in
// the template; the guard's properties read its result when they resolve.
func (g *stackGuard) scan() {
	if g.scanned {
		return
	}
	g.scanned = true
	owned := map[string]bool{}
	for _, e := range g.entries {
		owned[logicalID(e.target)] = true
	}
	for _, c := range *g.stack.Node().FindAll(constructs.ConstructOrder_PREORDER) {
		r, ok := c.(awscdk.CfnResource)
		if !ok || !isGuardedType(*r.CfnResourceType()) || awscdk.Stack_Of(r) != g.stack {
			continue
		}
		id := logicalID(r)
		g.presentIDs = append(g.presentIDs, id)
		if owned[id] {
			continue
		}
		source, createOnly, readable := plainReaders(r)
		if !readable {
			continue
		}
		g.plain = append(g.plain, &guardEntry{path: plainPath(r), target: r, plain: true, source: source, createOnly: createOnly})
		g.before(r)
	}
	sort.Strings(g.presentIDs)
}

// plainPath is a plain resource's construct path as the guard names it in
// messages and consent keys: its L2's path, without the L1's "/Resource".
func plainPath(r awscdk.CfnResource) string {
	return strings.TrimSuffix(*r.Node().Path(), "/Resource")
}

// guardScan runs the scan as a validation of the guard.
type guardScan struct{ g *stackGuard }

// Validate implements constructs.IValidation.
func (v *guardScan) Validate() *[]*string {
	v.g.scan()
	return &[]*string{}
}

var _ constructs.IValidation = (*guardScan)(nil)

// present lists the logical IDs of every resource of a guarded type in the
// stack's template, restorable's or not.
func (g *stackGuard) present() []*string {
	g.scan()
	return *jsii.Strings(g.presentIDs...)
}
