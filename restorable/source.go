package restorable

import (
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2/awsrds"
	"github.com/aws/constructs-go/constructs/v10"
)

// SourceKind says where a restorable Aurora cluster gets its data from.
type SourceKind string

const (
	// KindNew is a new, empty cluster (an awsrds.DatabaseCluster).
	KindNew SourceKind = "new"
	// KindSnapshot restores a DB cluster snapshot (an awsrds.DatabaseClusterFromSnapshot).
	KindSnapshot SourceKind = "snapshot"
	// KindPointInTime restores a cluster's continuous backup to a point in time.
	KindPointInTime SourceKind = "point-in-time"
	// KindClone is a copy-on-write clone of a running cluster.
	KindClone SourceKind = "clone"
)

// AuroraSource says where a restorable Aurora cluster's data comes from. The zero
// value is a new, empty cluster. At most one source may be set:
//
//   - SnapshotIdentifier alone: restore a DB cluster snapshot, a shared snapshot or an
//     AWS Backup recovery point of the cluster (its ARN is a cluster snapshot ARN).
//   - RestoreToTime with one of SourceClusterIdentifier, SourceClusterResourceID or
//     SourceCluster: point-in-time restore of that cluster's continuous backup.
//   - Clone with SourceClusterIdentifier or SourceCluster: a copy-on-write clone.
//
// Whatever the source, the cluster keeps its construct path and logical ID, so a
// restore is an in-place update of the stack: CloudFormation creates the restored
// cluster, repoints everything that references it, then deletes the old cluster,
// which leaves a final snapshot behind (UpdateReplacePolicy: Snapshot).
//
// Once a restore has been deployed, keep the same source for every later deploy.
// The AWS::RDS::DBCluster documentation says that without the restore property "an
// empty DB cluster is created, and the original DB cluster is deleted":
// https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-rds-dbcluster.html#cfn-rds-dbcluster-snapshotidentifier
type AuroraSource struct {
	// SnapshotIdentifier is the DB cluster snapshot to restore: a name in this
	// account and region ("before-incident", an automated "rds:..." snapshot, an AWS
	// Backup "awsbackup:job-..." snapshot) or an ARN, which a snapshot shared from
	// another account needs.
	// Default: no snapshot.
	SnapshotIdentifier string
	// RestoreToTime is the point in time to restore to, in RFC 3339 format: UTC
	// ("2026-11-20T10:15:22Z") or with an offset ("2026-11-20T19:15:22+09:00"),
	// which is normalized to UTC, or "latest" for the latest restorable time
	// (about five minutes ago). Aurora keeps continuous backups for the cluster's
	// backup retention period, at most 35 days.
	// Default: no point-in-time restore.
	RestoreToTime string
	// SourceClusterIdentifier is the cluster to restore to a point in time or to
	// clone: its identifier, or its ARN when it is in another account.
	// Default: none.
	SourceClusterIdentifier string
	// SourceClusterResourceID restores a cluster that no longer exists from its
	// retained automated backups, by its resource ID ("cluster-ABCD..."). Only with
	// RestoreToTime.
	// Default: none.
	SourceClusterResourceID string
	// SourceCluster is a cluster defined in this app to restore to a point in time
	// or to clone. The template references it, so no identifier needs copying.
	// In another stack, use weak cross-stack references (the context flag
	// "@aws-cdk/core:defaultCrossStackReferences": "weak"): with strong ones the
	// source's stack exports the identifier, and CloudFormation then refuses a
	// restore of the source. With weak ones, a restore of the source gives it a
	// new identifier, and the next deploy of this stack clones (or restores)
	// again from the new cluster; pass SourceClusterIdentifier to pin the source.
	// Default: none.
	SourceCluster awsrds.IDatabaseCluster
	// Clone makes the cluster a copy-on-write clone of the source cluster, as of
	// the time of the deploy that creates it. A clone is quick to create and shares
	// storage with its source until either side writes.
	// Default: false.
	Clone bool

	// from names the settings the values came from, for messages: the context
	// keys when AuroraClusterFromContext read them, the fields otherwise.
	from *sourceSettings
}

// Kind reports which kind of source s describes. It does not validate s.
func (s AuroraSource) Kind() SourceKind {
	switch {
	case s.SnapshotIdentifier != "":
		return KindSnapshot
	case s.Clone:
		return KindClone
	case s.RestoreToTime != "":
		return KindPointInTime
	default:
		return KindNew
	}
}

// IsZero reports whether s is the zero value: a new, empty cluster.
func (s AuroraSource) IsZero() bool {
	s.from = nil
	return s == AuroraSource{}
}

// settings are the names of s's settings in messages.
func (s AuroraSource) settings() sourceSettings {
	if s.from != nil {
		return *s.from
	}
	return propSettings
}

// sourceSettings names the settings of an AuroraSource in error messages: the
// struct fields for props, the context keys for values read from context.
type sourceSettings struct {
	snapshot, restoreToTime, sourceCluster, sourceResourceID, sourceConstruct, clone string
}

var propSettings = sourceSettings{
	snapshot:         "AuroraSource.SnapshotIdentifier",
	restoreToTime:    "AuroraSource.RestoreToTime",
	sourceCluster:    "AuroraSource.SourceClusterIdentifier",
	sourceResourceID: "AuroraSource.SourceClusterResourceID",
	sourceConstruct:  "AuroraSource.SourceCluster",
	clone:            "AuroraSource.Clone",
}

// resolvedSource is a validated AuroraSource with its time normalized.
type resolvedSource struct {
	kind             SourceKind
	snapshot         string
	sourceIdentifier string
	sourceResourceID string
	sourceCluster    awsrds.IDatabaseCluster
	// restoreTime is the normalized UTC time, empty for "latest".
	restoreTime string
	latest      bool
	at          time.Time
	// setting names the restore time's setting, for messages.
	setting string
}

// restoreTimeLayout is the UTC form RDS documents for RestoreToTime, for example
// 2015-03-07T23:45:00Z.
const restoreTimeLayout = "2006-01-02T15:04:05Z"

// resolve validates s and normalizes it; it is the one validation of a
// source. region is the stack's region, or empty (or a token) when the stack is
// environment-agnostic; a known region is checked against the region in ARNs.
// now is the clock a restore time is judged against.
func (s AuroraSource) resolve(region string, now time.Time) (resolvedSource, error) {
	names := s.settings()
	if err := s.checkExclusive(names); err != nil {
		return resolvedSource{}, err
	}
	r := resolvedSource{kind: s.Kind(), sourceCluster: s.SourceCluster, setting: names.restoreToTime}
	switch r.kind {
	case KindNew:
		return r, nil
	case KindSnapshot:
		if err := validateSnapshotIdentifier(names.snapshot, s.SnapshotIdentifier, region); err != nil {
			return resolvedSource{}, err
		}
		r.snapshot = s.SnapshotIdentifier
		return r, nil
	}
	if s.SourceClusterIdentifier != "" {
		if err := validateClusterIdentifier(names.sourceCluster, s.SourceClusterIdentifier, region); err != nil {
			return resolvedSource{}, err
		}
		r.sourceIdentifier = s.SourceClusterIdentifier
	}
	if s.SourceClusterResourceID != "" {
		if err := validateClusterResourceID(names.sourceResourceID, s.SourceClusterResourceID); err != nil {
			return resolvedSource{}, err
		}
		r.sourceResourceID = s.SourceClusterResourceID
	}
	if r.kind == KindClone {
		return r, nil
	}
	at, latest, err := parseRestoreTime(names.restoreToTime, s.RestoreToTime)
	if err != nil {
		return resolvedSource{}, err
	}
	if !latest && !at.IsZero() {
		if err := checkRestoreWindow(names.restoreToTime, s.RestoreToTime, at, now); err != nil {
			return resolvedSource{}, err
		}
	}
	r.latest, r.at = latest, at
	if !latest && !isToken(s.RestoreToTime) {
		r.restoreTime = at.Format(restoreTimeLayout)
	} else if isToken(s.RestoreToTime) {
		r.restoreTime = s.RestoreToTime
	}
	return r, nil
}

// checkExclusive enforces that s describes at most one source, and completely.
func (s AuroraSource) checkExclusive(n sourceSettings) error {
	var sources []string
	if s.SourceClusterIdentifier != "" {
		sources = append(sources, fmt.Sprintf("%s=%q", n.sourceCluster, s.SourceClusterIdentifier))
	}
	if s.SourceClusterResourceID != "" {
		sources = append(sources, fmt.Sprintf("%s=%q", n.sourceResourceID, s.SourceClusterResourceID))
	}
	if s.SourceCluster != nil {
		sources = append(sources, n.sourceConstruct+" (a cluster in this app)")
	}
	if s.SnapshotIdentifier != "" {
		var others []string
		others = append(others, sources...)
		if s.RestoreToTime != "" {
			others = append(others, fmt.Sprintf("%s=%q", n.restoreToTime, s.RestoreToTime))
		}
		if s.Clone {
			others = append(others, n.clone)
		}
		if len(others) > 0 {
			return inputErr(n.snapshot, s.SnapshotIdentifier,
				"conflicts with "+strings.Join(others, ", ")+": a cluster has exactly one restore source",
				"keep the snapshot, or remove it and keep the point-in-time or clone settings")
		}
		return nil
	}
	if len(sources) > 1 {
		return inputErr(n.sourceCluster, "", "more than one source cluster is set: "+strings.Join(sources, ", "),
			"name the cluster to restore from exactly once")
	}
	if s.Clone {
		if s.RestoreToTime != "" {
			return inputErr(n.restoreToTime, s.RestoreToTime,
				"is set together with "+n.clone+": a clone is always of its source's current data",
				"remove "+n.restoreToTime+" for a clone, or remove "+n.clone+" for a point-in-time restore")
		}
		if s.SourceClusterResourceID != "" {
			return inputErr(n.sourceResourceID, s.SourceClusterResourceID,
				"cannot be cloned: a clone needs a running cluster, and a resource ID names the backups of a deleted one",
				"restore the deleted cluster to a point in time with "+n.restoreToTime)
		}
		if len(sources) == 0 {
			return inputErr(n.clone, "true", "has no source cluster to clone",
				"set "+n.sourceCluster+" to the identifier of the cluster to clone, or "+n.sourceConstruct)
		}
		return nil
	}
	if s.RestoreToTime != "" && len(sources) == 0 {
		return inputErr(n.restoreToTime, s.RestoreToTime, "has no cluster to restore from",
			"also set "+n.sourceCluster+" to the identifier of the cluster whose backup to use (its current identifier is the stack output ClusterIdentifier), or "+n.sourceResourceID+" for a deleted cluster")
	}
	if s.RestoreToTime == "" && len(sources) > 0 {
		return inputErr(n.sourceCluster, firstNonEmpty(s.SourceClusterIdentifier, s.SourceClusterResourceID),
			"names a source cluster but neither a time nor a clone",
			"add "+n.restoreToTime+"=<RFC 3339 time or latest> for a point-in-time restore, or "+n.clone+" for a clone")
	}
	return nil
}

// String describes the source for reports and annotations.
func (r resolvedSource) String() string {
	switch r.kind {
	case KindSnapshot:
		return "snapshot " + r.snapshot
	case KindPointInTime:
		when := r.restoreTime
		if r.latest {
			when = "the latest restorable time"
		}
		return "point in time " + when + " of " + r.sourceDescription()
	case KindClone:
		return "clone of " + r.sourceDescription()
	default:
		return "new, empty cluster"
	}
}

func (r resolvedSource) sourceDescription() string {
	switch {
	case r.sourceIdentifier != "":
		return "cluster " + r.sourceIdentifier
	case r.sourceResourceID != "":
		return "deleted cluster " + r.sourceResourceID
	case r.sourceCluster != nil:
		return "cluster " + displayPath(r.sourceCluster)
	default:
		return "an unknown cluster"
	}
}

// checkRestoreWindow rejects a time that RDS is certain to reject: one in the
// future, and one older than the longest backup retention Aurora allows (35
// days: https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/Aurora.Managing.Backups.html).
// RDS restores only to a time between the source's EarliestRestorableTime and
// its LatestRestorableTime, which trails the present by about five minutes
// (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_RestoreDBClusterToPointInTime.html).
func checkRestoreWindow(setting, given string, at, now time.Time) error {
	clock := "this machine's clock says it is now " + now.UTC().Format(restoreTimeLayout)
	if at.After(now) {
		return inputErr(setting, given, "is in the future ("+clock+"), and RDS restores only to a time before the source's LatestRestorableTime, about five minutes ago",
			"give the last second before the incident, or latest; if this machine's clock is wrong, fix it first")
	}
	if days := now.Sub(at); days > maxBackupRetention {
		return inputErr(setting, given, fmt.Sprintf("is %d days ago (%s), and Aurora keeps continuous backups for at most 35 days, so RDS rejects a time before the source's EarliestRestorableTime",
			int(days.Hours()/24), clock),
			"restore a snapshot from that time instead: list them with aws rds describe-db-cluster-snapshots, then use snapshotArn")
	}
	return nil
}

// warnings returns what is legal but likely to fail, judged against now and
// the source cluster's backup retention (0 when unknown).
func (r resolvedSource) warnings(setting string, now time.Time, retentionDays float64) []string {
	if r.kind != KindPointInTime || r.latest || r.at.IsZero() {
		return nil
	}
	clock := "this machine's clock says it is now " + now.UTC().Format(restoreTimeLayout)
	var out []string
	if now.Sub(r.at) < latestRestorableLag {
		out = append(out, fmt.Sprintf("%s=%s is less than five minutes ago (%s). RDS rejects a time after the source's LatestRestorableTime, which trails the present by about five minutes; check it with aws rds describe-db-clusters --query 'DBClusters[0].LatestRestorableTime', or use latest.",
			setting, r.restoreTime, clock))
	}
	if retentionDays > 0 && now.Sub(r.at) > time.Duration(retentionDays*24)*time.Hour {
		out = append(out, fmt.Sprintf("%s=%s is %d days ago (%s), longer than this cluster's backup retention of %g days. If the source is this cluster, RDS rejects a time before its EarliestRestorableTime; check it with aws rds describe-db-clusters --query 'DBClusters[0].EarliestRestorableTime', or restore a snapshot.",
			setting, r.restoreTime, int(now.Sub(r.at).Hours()/24), clock, retentionDays))
	}
	return out
}

// latestRestorableLag is how far the latest restorable time of an Aurora
// cluster typically trails the present.
const latestRestorableLag = 5 * time.Minute

// displayPath is a construct's path as users wrote it: the L2 inside a restorable
// construct sits under the hidden id "Default", which is left out.
func displayPath(c interface{ Node() constructs.Node }) string {
	return strings.TrimSuffix(*c.Node().Path(), "/Default")
}
