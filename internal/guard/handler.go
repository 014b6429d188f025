package guard

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/cfn"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/backup"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/efs"
	"github.com/aws/aws-sdk-go-v2/service/rds"

	"github.com/restorable-cdk/restorable/internal/cfnstack"
	"github.com/restorable-cdk/restorable/internal/contract"
)

// Clients are the AWS APIs the guard calls: its own stack, the live resources
// it compares a template with, and, before a risky change to an Aurora
// cluster, RDS to take a snapshot and prune older ones. It changes nothing
// else.
type Clients struct {
	CloudFormation *cloudformation.Client
	RDS            *rds.Client
	EFS            *efs.Client
	Backup         *backup.Client
	// Now is the clock for snapshot names; nil is time.Now.
	Now func() time.Time
	// SnapshotPoll is how often the snapshot waiter polls; 0 is the SDK's
	// default.
	SnapshotPoll time.Duration
}

// Logger records the guard's decisions in its log group.
type Logger func(format string, args ...interface{})

// maxReason keeps a refusal within CloudFormation's limit on a custom
// resource response: "The total size of the response body can't exceed 4096
// bytes" (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/crpg-ref-responses.html).
// The full message is in the guard's log.
const maxReason = 3000

// PhysicalID is the guard's own physical ID: stable, so the guard is never
// replaced.
func PhysicalID(logicalID string) string { return "restorable-guard-" + logicalID }

// Handle answers one custom resource event (cfn.LambdaWrap sends the
// response). An error fails the event, and with it the deploy, before
// CloudFormation touches a guarded resource.
func (c Clients) Handle(ctx context.Context, e cfn.Event, log Logger) (string, map[string]interface{}, error) {
	id := e.PhysicalResourceID
	switch e.RequestType {
	case cfn.RequestDelete:
		// Removing the guard never touches data.
		log("delete %s: allowed", id)
		return id, nil, nil
	case cfn.RequestCreate:
		id = PhysicalID(e.LogicalResourceID)
	case cfn.RequestUpdate:
	default:
		return id, nil, fmt.Errorf("guard: unknown request type %q", e.RequestType)
	}
	next, err := ParseProps(e.ResourceProperties)
	if err != nil {
		return id, nil, err
	}
	prev, prevErr := Props{Resources: map[string]Resource{}, Present: map[string]bool{}}, error(nil)
	if e.RequestType == cfn.RequestUpdate {
		prev, prevErr = ParseProps(e.OldResourceProperties)
	}
	var snapshots []string
	newlyWatched := map[string]bool{}
	if prevErr == nil {
		snapshots = changesNeedingSnapshot(prev, next)
		newlyWatched = startsWatching(prev, next)
	}
	if prevErr == nil && onlySafeChanges(prev, next) && len(snapshots) == 0 && len(newlyWatched) == 0 {
		log("%s %s: allowed: no restore source was removed, no create-only property changed, and no guarded resource was added or removed", e.RequestType, next.Stack)
		listing, listErr := c.listingFor(ctx, next)
		return id, rollbackData(next, nil, listing, listErr), nil
	}
	status, err := cfnstack.Status(ctx, c.CloudFormation, e.StackID)
	if err != nil {
		return id, nil, fmt.Errorf("restorable: %s: could not read the stack's status to tell a rollback from an update, so the deploy is refused: %w", next.Stack, err)
	}
	if cfnstack.IsRollback(status) {
		log("%s %s during %s: allowed: CloudFormation is restoring the previous state", e.RequestType, next.Stack, status)
		listing, listErr := c.listingFor(ctx, next)
		return id, rollbackData(next, nil, listing, listErr), nil
	}
	stack, err := c.stackResources(ctx, e.StackID)
	if err != nil {
		return id, nil, fmt.Errorf("restorable: %s: could not list the stack's resources, so the deploy is refused: %w", next.Stack, err)
	}
	var refusals []refusal
	for _, logicalID := range sortedKeys(next.Resources) {
		r := next.Resources[logicalID]
		current, exists := stack[logicalID]
		old, known := prev.Resources[logicalID]
		switch {
		case !exists:
			log("%s: allowed: the stack holds no %s under %s yet, so nothing is replaced", r.Path, r.Type, logicalID)
		case known && prevErr == nil:
			if d := Decide(old, r); d.Verdict == NeedsConsent {
				refusals = append(refusals, replaceRefusal(r, current.physical, d.Danger))
			} else {
				log("%s: allowed: %s", r.Path, d.Reason)
			}
			if newlyWatched[logicalID] {
				// The first deploy that asks for snapshots of a cluster the
				// guard knew (a plain cluster adopted, snapshots turned back
				// on): no earlier watched values to compare with, so the live
				// engine version is.
				live, err := c.describe(ctx, r.Type, current.physical)
				if err != nil {
					return id, nil, fmt.Errorf("restorable: %s: could not read %s %s to compare its engine version, so the deploy is refused: %w", r.Path, r.Type, current.physical, err)
				}
				if upgradesLive(r.BeforeChange, live) {
					log("%s: the template's engine version %s differs from the live cluster's %s: a snapshot comes first", r.Path, str(r.BeforeChange.Watch["EngineVersion"]), live[liveEngineVersion])
					snapshots = append(snapshots, logicalID)
				}
			}
		default:
			// First sight: the first deploy that guards a live resource (an
			// adoption, a stack restorable guards for the first time, a
			// cluster restored before the guard watched it), or an update
			// whose previous properties cannot be read. The guard cannot tell
			// what the template said before, so it compares with the resource
			// itself, whether or not a restore source is set: with a source,
			// a changed create-only property would make CloudFormation restore
			// that same source again into a new resource, and every write since
			// the last restore would be lost.
			live, err := c.describe(ctx, r.Type, current.physical)
			if err != nil {
				return id, nil, fmt.Errorf("restorable: %s: could not read %s %s to compare it with the template, so the deploy is refused: %w", r.Path, r.Type, current.physical, err)
			}
			if from := live[contract.TagRestoredFrom]; from != "" && len(r.Source) == 0 {
				// Describe does not report a cluster's restore source, but
				// restorable tags the clusters it restores.
				refusals = append(refusals, replaceRefusal(r, current.physical, fmt.Sprintf(
					"the live cluster was restored (from a %s; its tag %s), and the template has no restore source: CloudFormation would create a new, EMPTY %s and delete the current one (the guard sees it without its previous template, so it reads the cluster)",
					from, contract.TagRestoredFrom, r.Type)))
			} else if diffs := CompareLive(r, live); len(diffs) > 0 {
				refusals = append(refusals, adoptRefusal(r, current.physical, diffs, prevErr))
			} else {
				log("%s: allowed: the template's create-only properties match the live %s %s", r.Path, r.Type, current.physical)
			}
			if r.BeforeChange != nil && upgradesLive(r.BeforeChange, live) {
				log("%s: the template's engine version %s differs from the live cluster's %s: a snapshot comes first", r.Path, str(r.BeforeChange.Watch["EngineVersion"]), live[liveEngineVersion])
				snapshots = append(snapshots, logicalID)
			}
		}
	}
	for _, logicalID := range sortedKeys(stack) {
		current := stack[logicalID]
		if next.Present[logicalID] || !isGuardedType(current.typ) {
			continue
		}
		path := prev.Resources[logicalID].Path
		if path == "" {
			path = c.constructPath(ctx, e.StackID, logicalID, next.Stack)
		}
		refusals = append(refusals, removeRefusal(path, current.typ, current.physical))
	}
	var refused []string
	for _, r := range refusals {
		if given := next.Consent[r.path]; given != "" && given == r.physical {
			log("%s: allowed by consent %s=%s: %s", r.path, contract.ConsentKey(r.path), given, r.message)
			continue
		}
		refused = append(refused, r.text(next.Consent[r.path]))
	}
	if len(refused) > 0 {
		msg := strings.Join(refused, " | ")
		log("REFUSED: %s", msg)
		return id, nil, errors.New(truncate(msg, maxReason))
	}
	// A snapshot of each cluster whose engine version, parameters or release
	// the deploy changes, taken now, before CloudFormation updates the
	// cluster (which depends on the guard). Every snapshot starts first, then
	// the guard waits for them together, so several clusters take as long as
	// the slowest, not their sum.
	var sources []map[string]interface{}
	for _, r := range next.Resources {
		sources = append(sources, r.Source)
	}
	var jobs []snapshotJob
	for _, logicalID := range snapshots {
		current, exists := stack[logicalID]
		if exists && current.typ == contract.TypeDBCluster {
			jobs = append(jobs, snapshotJob{logicalID: logicalID, r: next.Resources[logicalID], cluster: current.physical})
		}
	}
	listing, listErr := c.listingFor(ctx, next)
	if len(jobs) == 0 {
		return id, rollbackData(next, nil, listing, listErr), nil
	}
	if listErr != nil {
		err := fmt.Errorf("restorable: %s: could not list the snapshots taken before a change, so the deploy is refused before it touches a cluster: %w", next.Stack, listErr)
		log("REFUSED: %v", err)
		return id, nil, errors.New(truncate(err.Error(), maxReason))
	}
	taken, err := c.snapshotsBefore(ctx, jobs, listing, log)
	if err != nil {
		log("REFUSED: %v", err)
		return id, nil, errors.New(truncate(err.Error(), maxReason))
	}
	for _, j := range jobs {
		c.prune(ctx, j.r, sources, listing, taken[j.logicalID], log)
	}
	return id, rollbackData(next, taken, listing, nil), nil
}

// onlySafeChanges reports whether an update changes nothing the guard must
// check with AWS: the same guarded resources and template resources, and no
// decision that needs consent.
func onlySafeChanges(prev, next Props) bool {
	if len(prev.Resources) != len(next.Resources) || len(prev.Present) != len(next.Present) {
		return false
	}
	for id := range next.Present {
		if !prev.Present[id] {
			return false
		}
	}
	for id, r := range next.Resources {
		old, ok := prev.Resources[id]
		if !ok || Decide(old, r).Verdict != Allow {
			return false
		}
	}
	return true
}

// refusal is one resource the deploy may not touch without consent.
type refusal struct {
	path, typ, physical string
	// message says what would happen; fix says what to do instead.
	message, fix string
}

func (r refusal) text(given string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "restorable refused the deploy for %s (%s %s): %s. ", r.path, r.typ, r.physical, r.message)
	if given != "" {
		fmt.Fprintf(&b, "The consent given (%s=%s) names another resource, not the current %s. ", contract.ConsentKey(r.path), given, r.physical)
	}
	fmt.Fprintf(&b, "%s To go ahead and lose its data (a final snapshot is kept where the removal policy is Snapshot), deploy again with: cdk deploy -c '%s=%s'. The consent names this resource, so it does not apply to any later one.",
		r.fix, contract.ConsentKey(r.path), r.physical)
	return b.String()
}

func replaceRefusal(r Resource, physical, danger string) refusal {
	fix := "If this deploy should not replace it, restore the previous settings (for a restore source, keep it in cdk.json)."
	if r.Plain {
		fix = plainFix
	}
	return refusal{path: r.Path, typ: r.Type, physical: physical, message: danger, fix: fix}
}

// plainFix is the advice for a plain aws-cdk-lib resource in a guarded stack.
const plainFix = "It is a plain aws-cdk-lib resource, not a restorable construct, in a stack restorable guards: if it was a restorable construct before, " +
	"put the restorable construct back under the same id (the plain one has other defaults, such as the encryption key and the master user, which CloudFormation cannot change in place); " +
	"otherwise restore its previous props."

func adoptRefusal(r Resource, physical string, diffs []Difference, prevErr error) refusal {
	parts := make([]string, len(diffs))
	for i, d := range diffs {
		parts[i] = d.String()
	}
	why := "this is the first deploy that guards it, and"
	if prevErr != nil {
		why = "the guard cannot read its previous properties (" + prevErr.Error() + "), and"
	}
	fix := "If a plain aws-cdk-lib construct (awsrds.NewDatabaseCluster, awsefs.NewFileSystem) created it under the same id, set Adopt: true in the restorable construct's props: adoption keeps these properties as that construct made them."
	if r.Adopt {
		fix = "Adopt is set, so the props differ from those the resource was created with: give the same props as the construct that created it."
	}
	if r.Plain {
		fix = plainFix
	}
	outcome := "a new, EMPTY one"
	if len(r.Source) > 0 {
		// The guard cannot tell a new restore from the source an earlier
		// deploy restored: either way CloudFormation restores the source
		// again.
		outcome = "a new one restored again from " + Describe(r.Source) + ", losing every write since that source was restored"
		fix = "If this deploy should not replace it, give the create-only properties the live resource has. If it should restore that source again, into a new resource, consent as below."
	}
	return refusal{path: r.Path, typ: r.Type, physical: physical,
		message: fmt.Sprintf("%s the template's create-only properties differ from the live resource (%s), so CloudFormation would replace it with %s", why, strings.Join(parts, "; "), outcome),
		fix:     fix}
}

func removeRefusal(path, typ, physical string) refusal {
	return refusal{path: path, typ: typ, physical: physical,
		message: "it is no longer in the template, so CloudFormation would delete it after the update. A renamed or moved construct has a new logical ID, and CloudFormation creates a new, EMPTY resource for it",
		fix:     "Keep the construct's id and its place in the tree (restore the previous code)."}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "... (the guard's log in CloudWatch Logs has the whole message)"
}

func isGuardedType(t string) bool {
	for _, g := range contract.GuardedTypes {
		if t == g {
			return true
		}
	}
	return false
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// stackResource is a resource the stack holds now.
type stackResource struct {
	typ, physical string
}

// stackResources lists the stack's resources that exist: ListStackResources
// returns every resource, with pagination, where DescribeStackResources stops
// at 100 (https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DescribeStackResources.html).
func (c Clients) stackResources(ctx context.Context, stackID string) (map[string]stackResource, error) {
	out := map[string]stackResource{}
	p := cloudformation.NewListStackResourcesPaginator(c.CloudFormation, &cloudformation.ListStackResourcesInput{StackName: aws.String(stackID)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, r := range page.StackResourceSummaries {
			physical := aws.ToString(r.PhysicalResourceId)
			if physical == "" || !exists(r.ResourceStatus) {
				continue
			}
			out[aws.ToString(r.LogicalResourceId)] = stackResource{typ: aws.ToString(r.ResourceType), physical: physical}
		}
	}
	return out, nil
}

// exists reports whether a resource in this status is a live resource of the
// stack: created (or being updated), and not deleted.
func exists(s cfntypes.ResourceStatus) bool {
	switch s {
	case cfntypes.ResourceStatusCreateInProgress, cfntypes.ResourceStatusCreateFailed,
		cfntypes.ResourceStatusDeleteInProgress, cfntypes.ResourceStatusDeleteComplete, cfntypes.ResourceStatusDeleteSkipped:
		return false
	}
	return true
}

// constructPath is the construct path CDK recorded for a resource in its
// metadata (aws:cdk:path), without the L1's "/Resource" and restorable's
// hidden "/Default", or "<stack>/<logical ID>" when there is none.
func (c Clients) constructPath(ctx context.Context, stackID, logicalID, stackPath string) string {
	fallback := stackPath + "/" + logicalID
	out, err := c.CloudFormation.DescribeStackResource(ctx, &cloudformation.DescribeStackResourceInput{StackName: aws.String(stackID), LogicalResourceId: aws.String(logicalID)})
	if err != nil || out.StackResourceDetail == nil || out.StackResourceDetail.Metadata == nil {
		return fallback
	}
	var meta struct {
		Path string `json:"aws:cdk:path"`
	}
	if json.Unmarshal([]byte(*out.StackResourceDetail.Metadata), &meta) != nil || meta.Path == "" {
		return fallback
	}
	return strings.TrimSuffix(strings.TrimSuffix(meta.Path, "/Resource"), "/Default")
}

// describe reads the create-only properties of a live resource.
func (c Clients) describe(ctx context.Context, typ, physical string) (Live, error) {
	switch typ {
	case contract.TypeDBCluster:
		out, err := c.RDS.DescribeDBClusters(ctx, &rds.DescribeDBClustersInput{DBClusterIdentifier: aws.String(physical)})
		if err != nil {
			return nil, err
		}
		if len(out.DBClusters) != 1 {
			return nil, fmt.Errorf("DescribeDBClusters %s returned %d clusters", physical, len(out.DBClusters))
		}
		d := out.DBClusters[0]
		live := Live{}
		set(live, "Engine", d.Engine)
		set(live, "EngineMode", d.EngineMode)
		set(live, "DatabaseName", d.DatabaseName)
		set(live, "MasterUsername", d.MasterUsername)
		set(live, "KmsKeyId", d.KmsKeyId)
		set(live, "DBSubnetGroupName", d.DBSubnetGroup)
		set(live, "DBClusterIdentifier", d.DBClusterIdentifier)
		set(live, liveEngineVersion, d.EngineVersion)
		if d.ClusterScalabilityType != "" {
			live["ClusterScalabilityType"] = string(d.ClusterScalabilityType)
		}
		if d.StorageEncrypted != nil {
			live["StorageEncrypted"] = strconv.FormatBool(*d.StorageEncrypted)
		}
		for _, t := range d.TagList {
			if aws.ToString(t.Key) == contract.TagRestoredFrom {
				live[contract.TagRestoredFrom] = aws.ToString(t.Value)
			}
		}
		return live, nil
	case contract.TypeFileSystem:
		out, err := c.EFS.DescribeFileSystems(ctx, &efs.DescribeFileSystemsInput{FileSystemId: aws.String(physical)})
		if err != nil {
			return nil, err
		}
		if len(out.FileSystems) != 1 {
			return nil, fmt.Errorf("DescribeFileSystems %s returned %d file systems", physical, len(out.FileSystems))
		}
		f := out.FileSystems[0]
		live := Live{"PerformanceMode": string(f.PerformanceMode)}
		set(live, "KmsKeyId", f.KmsKeyId)
		set(live, "AvailabilityZoneName", f.AvailabilityZoneName)
		if f.Encrypted != nil {
			live["Encrypted"] = strconv.FormatBool(*f.Encrypted)
		}
		return live, nil
	case contract.TypeBackupVault, contract.TypeAirGapVault:
		out, err := c.Backup.DescribeBackupVault(ctx, &backup.DescribeBackupVaultInput{BackupVaultName: aws.String(physical)})
		if err != nil {
			return nil, err
		}
		live := Live{}
		set(live, "BackupVaultName", out.BackupVaultName)
		set(live, "EncryptionKeyArn", out.EncryptionKeyArn)
		if out.MinRetentionDays != nil {
			live["MinRetentionDays"] = strconv.FormatInt(*out.MinRetentionDays, 10)
		}
		if out.MaxRetentionDays != nil {
			live["MaxRetentionDays"] = strconv.FormatInt(*out.MaxRetentionDays, 10)
		}
		return live, nil
	case contract.TypeGlobalCluster:
		out, err := c.RDS.DescribeGlobalClusters(ctx, &rds.DescribeGlobalClustersInput{GlobalClusterIdentifier: aws.String(physical)})
		if err != nil {
			return nil, err
		}
		if len(out.GlobalClusters) != 1 {
			return nil, fmt.Errorf("DescribeGlobalClusters %s returned %d global clusters", physical, len(out.GlobalClusters))
		}
		g := out.GlobalClusters[0]
		live := Live{}
		set(live, "GlobalClusterIdentifier", g.GlobalClusterIdentifier)
		set(live, "Engine", g.Engine)
		if g.StorageEncrypted != nil {
			live["StorageEncrypted"] = strconv.FormatBool(*g.StorageEncrypted)
		}
		return live, nil
	}
	return nil, fmt.Errorf("the guard cannot read a %s", typ)
}

func set(l Live, k string, v *string) {
	if v != nil && *v != "" {
		l[k] = *v
	}
}
