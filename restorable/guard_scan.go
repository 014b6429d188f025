package restorable

import (
	"reflect"
	"sort"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsbackup"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsefs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsrds"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/restorable-cdk/restorable/internal/contract"
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
	// The logical IDs, asked once: no construct changes them after the
	// validations start.
	g.ids = map[awscdk.CfnResource]string{}
	owned := map[string]bool{}
	for _, e := range g.entries {
		g.ids[e.target] = logicalID(e.target)
		owned[g.ids[e.target]] = true
	}
	for _, c := range *g.stack.Node().FindAll(constructs.ConstructOrder_PREORDER) {
		r, ok := c.(awscdk.CfnResource)
		if !ok || !isGuardedType(resourceType(r)) || stackOf(r) != g.stack {
			continue
		}
		id, known := g.ids[r]
		if !known {
			id = logicalID(r)
			g.ids[r] = id
		}
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

// resourceType is r's CloudFormation type. The Go proxy of an aws-cdk-lib L1
// class says it without asking the kernel, which saves a round trip per
// resource of the stack (60 in a small stack; issue 24): the guarded types by
// their L1 interfaces, every other L1 class by its proxy's name. A plain
// awscdk.CfnResource, a Go type that embeds one, and a class of another
// library ask.
func resourceType(r awscdk.CfnResource) string {
	switch r.(type) {
	case awsrds.CfnDBCluster:
		return contract.TypeDBCluster
	case awsrds.CfnGlobalCluster:
		return contract.TypeGlobalCluster
	case awsefs.CfnFileSystem:
		return contract.TypeFileSystem
	case awsbackup.CfnBackupVault:
		return contract.TypeBackupVault
	case awsbackup.CfnLogicallyAirGappedBackupVault:
		return contract.TypeAirGapVault
	}
	if t := reflect.TypeOf(r); t.Kind() == reflect.Pointer {
		name, pkg := t.Elem().Name(), t.Elem().PkgPath()
		if strings.HasPrefix(name, "jsiiProxy_Cfn") && strings.HasPrefix(pkg, "github.com/aws/aws-cdk-go/awscdk/v2/") {
			return "" // another L1 class: no guarded type
		}
	}
	return *r.CfnResourceType()
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
