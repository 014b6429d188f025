package guard

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"

	"github.com/restorable-cdk/restorable/internal/contract"
)

// BeforeChange asks the guard for a manual snapshot of an Aurora cluster
// before any deploy that changes one of the Watch values (the engine version,
// the cluster parameter group and its parameters, a release marker). A major
// version upgrade cannot be rolled back in place: CloudFormation cannot lower
// EngineVersion, so the way back is a restore of this snapshot.
type BeforeChange struct {
	Watch map[string]interface{}
	// Keep is how many of the cluster's snapshots taken before a change are
	// kept; older ones are deleted.
	Keep int
}

func parseBeforeChange(v interface{}, id string) (*BeforeChange, error) {
	if v == nil {
		return nil, nil
	}
	o, err := object(v, id+"."+contract.GuardBeforeChange)
	if err != nil {
		return nil, err
	}
	watch, err := object(o[contract.GuardWatch], id+"."+contract.GuardBeforeChange+"."+contract.GuardWatch)
	if err != nil {
		return nil, err
	}
	keep, err := strconv.Atoi(str(o[contract.GuardKeep]))
	if err != nil || keep < 1 {
		return nil, fmt.Errorf("guard: %s.%s.%s is %q, not a whole number of at least 1", id, contract.GuardBeforeChange, contract.GuardKeep, str(o[contract.GuardKeep]))
	}
	return &BeforeChange{Watch: watch, Keep: keep}, nil
}

// changesNeedingSnapshot returns the logical IDs of the clusters whose watched
// values the deploy changes.
func changesNeedingSnapshot(prev, next Props) []string {
	var out []string
	for _, id := range sortedKeys(next.Resources) {
		n, p := next.Resources[id].BeforeChange, prev.Resources[id].BeforeChange
		if n != nil && p != nil && !reflect.DeepEqual(n.Watch, p.Watch) {
			out = append(out, id)
		}
	}
	return out
}

// startsWatching returns the clusters the guard knew whose entry asks for
// snapshots before a change for the first time.
func startsWatching(prev, next Props) map[string]bool {
	out := map[string]bool{}
	for id, n := range next.Resources {
		p, known := prev.Resources[id]
		if known && n.BeforeChange != nil && p.BeforeChange == nil {
			out[id] = true
		}
	}
	return out
}

// snapshotMargin is the time left, when the guard stops waiting for a
// snapshot, to answer CloudFormation before the function's own deadline.
const snapshotMargin = 20 * time.Second

// snapshotJob is one cluster the deploy changes in a way that needs a
// snapshot first.
type snapshotJob struct {
	logicalID, cluster string
	r                  Resource
	// name is the snapshot the guard waits on.
	name string
}

// snapshotListing is the guard's snapshots before a change, by the
// construct path of their cluster, newest first: one listing per deploy.
type snapshotListing map[string][]rdstypes.DBClusterSnapshot

// listingFor lists the snapshots taken before a change when a cluster of the
// template takes them, once; nil otherwise.
func (c Clients) listingFor(ctx context.Context, p Props) (snapshotListing, error) {
	for _, r := range p.Resources {
		if r.BeforeChange != nil {
			return c.beforeChangeSnapshots(ctx)
		}
	}
	return nil, nil
}

// snapshotsBefore takes a manual snapshot of each cluster before the deploy
// changes it, and waits until all are available: every snapshot is started
// (or found, for a deploy retried after a timeout, by the same path and
// change) before the guard waits for the first, so the wait is the slowest
// snapshot's, not the sum. It returns each snapshot's ARN by logical ID.
//
// The time a cluster snapshot takes "varies with the size of your databases"
// (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/USER_CreateSnapshotCluster.html);
// the guard waits until shortly before its function's timeout (15 minutes,
// within the custom resource's ServiceTimeout) and otherwise fails the deploy,
// before CloudFormation touches a cluster; the next deploy waits on the same
// snapshots.
func (c Clients) snapshotsBefore(ctx context.Context, jobs []snapshotJob, listing snapshotListing, log Logger) (map[string]string, error) {
	for i := range jobs {
		name, err := c.startSnapshot(ctx, jobs[i].r, jobs[i].cluster, listing, log)
		if err != nil {
			return nil, err
		}
		jobs[i].name = name
	}
	deadline := c.deadline(ctx).Add(-snapshotMargin)
	taken := map[string]string{}
	for _, j := range jobs {
		snapArn, err := c.waitSnapshot(ctx, j, deadline)
		if err != nil {
			return nil, err
		}
		log("%s: snapshot %s is available; rollback: %s", j.r.Path, snapArn, RollbackCommand(j.r.Path, snapArn))
		taken[j.logicalID] = snapArn
	}
	return taken, nil
}

// startSnapshot starts the snapshot of one cluster, or finds the one an
// earlier deploy started for the same change, and returns its name.
func (c Clients) startSnapshot(ctx context.Context, r Resource, cluster string, listing snapshotListing, log Logger) (string, error) {
	change := contract.Fingerprint(r.BeforeChange.Watch, nil)
	if snap := c.findSnapshot(listing, r.Path, change); snap != nil {
		log("%s: waiting on snapshot %s, started for this same change by an earlier deploy", r.Path, aws.ToString(snap.DBClusterSnapshotIdentifier))
		return aws.ToString(snap.DBClusterSnapshotIdentifier), nil
	}
	name := SnapshotName(r.Path, c.now())
	_, err := c.RDS.CreateDBClusterSnapshot(ctx, &rds.CreateDBClusterSnapshotInput{
		DBClusterIdentifier:         aws.String(cluster),
		DBClusterSnapshotIdentifier: aws.String(name),
		Tags: []rdstypes.Tag{
			{Key: aws.String(contract.TagBeforeChange), Value: aws.String(r.Path)},
			{Key: aws.String(contract.TagChange), Value: aws.String(change)},
		},
	})
	if err != nil {
		return "", fmt.Errorf("restorable: %s: could not take a snapshot of %s before the change (%s), so the deploy is refused before it touches the cluster: %w",
			r.Path, cluster, describeWatch(r.BeforeChange.Watch), err)
	}
	log("%s: snapshot %s of %s started before the change", r.Path, name, cluster)
	return name, nil
}

// waitSnapshot waits until the job's snapshot is available, at most until
// deadline, and returns its ARN.
func (c Clients) waitSnapshot(ctx context.Context, j snapshotJob, deadline time.Time) (string, error) {
	wait := time.Until(deadline)
	if wait <= 0 {
		wait = time.Second
	}
	waiter := rds.NewDBClusterSnapshotAvailableWaiter(c.RDS, func(o *rds.DBClusterSnapshotAvailableWaiterOptions) {
		if c.SnapshotPoll > 0 {
			o.MinDelay, o.MaxDelay = c.SnapshotPoll, c.SnapshotPoll
		}
	})
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	out, err := waiter.WaitForOutput(wctx, &rds.DescribeDBClusterSnapshotsInput{DBClusterSnapshotIdentifier: aws.String(j.name)}, wait+time.Minute)
	if err != nil {
		if wctx.Err() != nil {
			return "", fmt.Errorf("restorable: %s: the snapshot %s taken before the change (%s) is not available after %s, so the deploy is refused before it touches the cluster. "+
				"Deploy again when it is available (aws rds wait db-cluster-snapshot-available --db-cluster-snapshot-identifier %s): the next deploy uses it",
				j.r.Path, j.name, describeWatch(j.r.BeforeChange.Watch), wait.Round(time.Second), j.name)
		}
		return "", fmt.Errorf("restorable: %s: the snapshot %s taken before the change did not become available, so the deploy is refused before it touches the cluster: %w", j.r.Path, j.name, err)
	}
	if len(out.DBClusterSnapshots) == 1 && out.DBClusterSnapshots[0].DBClusterSnapshotArn != nil {
		return *out.DBClusterSnapshots[0].DBClusterSnapshotArn, nil
	}
	return j.name, nil
}

// deadline is when the guard must have answered: the function's deadline, or
// 15 minutes from now without one.
func (c Clients) deadline(ctx context.Context) time.Time {
	if d, ok := ctx.Deadline(); ok {
		return d
	}
	return c.now().Add(15 * time.Minute)
}

func (c Clients) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// beforeChangeSnapshots lists the manual snapshots the guard took, by the
// construct path of their cluster, newest first. DescribeDBClusterSnapshots
// returns each snapshot's tags (TagList) but cannot filter by them (its
// filters are db-cluster-id, db-cluster-snapshot-id, snapshot-type and
// engine), and a restore gives a cluster a new identifier, so it lists the
// account's manual snapshots in the region once per deploy and keeps those
// with restorable's tag
// (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DescribeDBClusterSnapshots.html).
func (c Clients) beforeChangeSnapshots(ctx context.Context) (snapshotListing, error) {
	out := snapshotListing{}
	p := rds.NewDescribeDBClusterSnapshotsPaginator(c.RDS, &rds.DescribeDBClusterSnapshotsInput{SnapshotType: aws.String("manual")})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, s := range page.DBClusterSnapshots {
			if path := tag(s.TagList, contract.TagBeforeChange); path != "" {
				out[path] = append(out[path], s)
			}
		}
	}
	for _, snaps := range out {
		sort.SliceStable(snaps, func(i, j int) bool {
			return aws.ToTime(snaps[i].SnapshotCreateTime).After(aws.ToTime(snaps[j].SnapshotCreateTime))
		})
	}
	return out, nil
}

func (c Clients) findSnapshot(listing snapshotListing, path, change string) *rdstypes.DBClusterSnapshot {
	for _, s := range listing[path] {
		if tag(s.TagList, contract.TagChange) != change {
			continue
		}
		switch status := aws.ToString(s.Status); {
		case status == "creating":
			return &s
		case status == "available" && c.now().Sub(aws.ToTime(s.SnapshotCreateTime)) < reuseFor:
			return &s
		}
	}
	return nil
}

// reuseFor is how old an available snapshot of the same change may be, from
// the time it was started (SnapshotCreateTime), for a retried deploy to use it
// rather than take a new one: long enough for a snapshot that takes hours and
// a deploy after it, short enough that a change that comes back days later (A
// to B, back to A, to B again) gets a snapshot of that day's data. The
// snapshot's name holds its time, so the rollback command shows its age.
const reuseFor = 6 * time.Hour

// prune deletes the cluster's snapshots taken before a change beyond the
// newest keep that are available, never one that a restore source of the
// template names, and never one still being created. taken, the snapshot
// this deploy waited for, is the newest and counts first.
func (c Clients) prune(ctx context.Context, r Resource, sources []map[string]interface{}, listing snapshotListing, taken string, log Logger) {
	kept := 0
	if taken != "" {
		kept = 1
	}
	for _, s := range listing[r.Path] {
		name, snapArn := aws.ToString(s.DBClusterSnapshotIdentifier), aws.ToString(s.DBClusterSnapshotArn)
		if snapArn == taken || name == taken || aws.ToString(s.Status) != "available" {
			continue
		}
		if kept < r.BeforeChange.Keep {
			kept++
			continue
		}
		if namedBySource(sources, name, snapArn) {
			log("%s: keeping snapshot %s: a restore source in the template names it", r.Path, name)
			continue
		}
		if _, err := c.RDS.DeleteDBClusterSnapshot(ctx, &rds.DeleteDBClusterSnapshotInput{DBClusterSnapshotIdentifier: aws.String(name)}); err != nil {
			log("%s: could not delete the older snapshot %s: %v", r.Path, name, err)
			continue
		}
		log("%s: deleted the older snapshot %s (keeping the newest %d)", r.Path, name, r.BeforeChange.Keep)
	}
}

// namedBySource reports whether any restore source names the snapshot, by
// identifier or ARN.
func namedBySource(sources []map[string]interface{}, name, snapArn string) bool {
	for _, s := range sources {
		v := str(s["SnapshotIdentifier"])
		if v == "" {
			continue
		}
		if v == name || v == snapArn {
			return true
		}
		if a, err := arn.Parse(v); err == nil && strings.TrimPrefix(a.Resource, "cluster-snapshot:") == name {
			return true
		}
	}
	return false
}

// rollbackData is the guard's response data: for each cluster that takes
// snapshots before a change, the rollback command to the snapshot this deploy
// took (taken, by logical ID) or else to its newest available one in the
// listing, which a stack output shows.
func rollbackData(p Props, taken map[string]string, listing snapshotListing, listErr error) map[string]interface{} {
	var ids []string
	for _, id := range sortedKeys(p.Resources) {
		if p.Resources[id].BeforeChange != nil {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	data := map[string]interface{}{}
	for _, id := range ids {
		path := p.Resources[id].Path
		if arn, ok := taken[id]; ok {
			data[contract.RollbackAttribute(id)] = RollbackCommand(path, arn)
			continue
		}
		value := contract.NoSnapshotYet
		if listErr != nil {
			value = truncate("could not list the snapshots taken before a change: "+listErr.Error(), 200)
		}
		for _, s := range listing[path] {
			if aws.ToString(s.Status) == "available" {
				value = RollbackCommand(path, aws.ToString(s.DBClusterSnapshotArn))
				break
			}
		}
		data[contract.RollbackAttribute(id)] = value
	}
	return data
}

// RollbackCommand is the deploy that restores the cluster at path from a
// snapshot.
func RollbackCommand(path, snapshotArn string) string {
	return "cdk deploy -c '" + path + ".snapshotArn=" + snapshotArn + "'"
}

var notSnapshotChar = regexp.MustCompile(`[^a-z0-9]+`)

// maxSnapshotName is the longest DB cluster snapshot identifier RDS accepts:
// "1 to 63 letters, numbers, or hyphens", starting with a letter, without two
// consecutive hyphens or a hyphen at the end
// (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBClusterSnapshot.html).
const maxSnapshotName = 63

// SnapshotName is "restorable-<path>-<hash>-<UTC time>" in at most 63
// characters: the path, lowercased and cut to fit, for people, and 8
// hexadecimal digits of the whole path's digest, so two long paths that share
// a beginning still get different names.
func SnapshotName(path string, at time.Time) string {
	sum := sha256.Sum256([]byte(path))
	suffix := "-" + hex.EncodeToString(sum[:])[:8] + "-" + at.UTC().Format("20060102-150405")
	slug := strings.Trim(notSnapshotChar.ReplaceAllString(strings.ToLower(path), "-"), "-")
	if room := maxSnapshotName - len("restorable-") - len(suffix); len(slug) > room {
		slug = strings.TrimRight(slug[:room], "-")
	}
	if slug == "" {
		return "restorable" + suffix
	}
	return "restorable-" + slug + suffix
}

func describeWatch(w map[string]interface{}) string {
	var parts []string
	for _, k := range sortedKeys(w) {
		v := fmt.Sprint(w[k])
		if len(v) > 60 {
			v = v[:60] + "..."
		}
		parts = append(parts, k+"="+v)
	}
	return strings.Join(parts, ", ")
}

func tag(tags []rdstypes.Tag, key string) string {
	for _, t := range tags {
		if aws.ToString(t.Key) == key {
			return aws.ToString(t.Value)
		}
	}
	return ""
}
