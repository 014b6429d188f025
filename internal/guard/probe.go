package guard

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/backup"
	backuptypes "github.com/aws/aws-sdk-go-v2/service/backup/types"
	"github.com/aws/aws-sdk-go-v2/service/efs"
	"github.com/aws/aws-sdk-go-v2/service/rds"

	"github.com/restorable-cdk/restorable/internal/contract"
	"github.com/restorable-cdk/restorable/internal/emf"
)

// Probe measures how old each resource's newest recovery point is, and
// writes it as the RecoveryPointAge metric, which the RPO alarm watches. The
// guard function runs it on a schedule: AWS Backup's own metrics have no
// per-resource dimension (https://docs.aws.amazon.com/aws-backup/latest/devguide/cloudwatch.html),
// and nothing native reports Aurora's latest restorable time
// (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DBCluster.html),
// so the one idle function does it (docs/design.md).
//
// A resource's age is the youngest of:
//   - its newest completed recovery point made by AWS Backup, in any vault
//     (ListRecoveryPointsByResource);
//   - for an Aurora cluster backed up continuously, its latest restorable
//     time;
//   - and, before its first backup, its own creation, so that a new
//     resource is not late until its RPO has passed.
//
// A resource that cannot be measured gets no data point; its alarm treats
// missing data as breaching, so a probe that stops working alarms too.
func (c Clients) Probe(ctx context.Context, e contract.ProbeEvent, metrics io.Writer, logf func(string, ...interface{})) error {
	now := time.Now()
	if c.Now != nil {
		now = c.Now()
	}
	var failed []string
	for _, r := range e.Resources {
		newest, err := c.newestRecoveryPoint(ctx, r)
		if err != nil {
			logf("probe: %s (%s): %v", r.Path, r.Arn, err)
			failed = append(failed, r.Path)
			continue
		}
		age := now.Sub(newest).Seconds()
		if age < 0 {
			age = 0
		}
		if err := emf.Write(metrics, now, e.Stack, r.Path, []emf.Metric{{Name: contract.MetricRecoveryPointAge, Value: age, Unit: "Seconds"}},
			map[string]interface{}{"newestRecoveryPoint": newest.UTC().Format(time.RFC3339), "resourceArn": r.Arn}); err != nil {
			return err
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("probe: could not measure %v (see the log above); their RPO alarms go off on the missing data", failed)
	}
	return nil
}

// newestRecoveryPoint is the time of the resource's newest restorable state.
func (c Clients) newestRecoveryPoint(ctx context.Context, r contract.ProbeResource) (time.Time, error) {
	var newest time.Time
	later := func(t *time.Time) {
		if t != nil && t.After(newest) {
			newest = *t
		}
	}
	// AWS Backup's own recovery points only: for RDS the listing would
	// include automated snapshots too (ManagedByAWSBackupOnly). RDS wants a
	// page of at least 20.
	pages := backup.NewListRecoveryPointsByResourcePaginator(c.Backup, &backup.ListRecoveryPointsByResourceInput{
		ResourceArn: aws.String(r.Arn), ManagedByAWSBackupOnly: true, MaxResults: aws.Int32(100),
	})
	// A usable recovery point is COMPLETED or AVAILABLE ("successfully
	// created": https://docs.aws.amazon.com/aws-backup/latest/devguide/API_DescribeRecoveryPoint.html).
	// The continuous one's ARN names it (recovery-point:continuous:...); its
	// CreationDate is when continuous backup began, not how current it is.
	continuousActive := false
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return time.Time{}, fmt.Errorf("list recovery points: %w", err)
		}
		for _, p := range page.RecoveryPoints {
			if p.Status != backuptypes.RecoveryPointStatusCompleted && p.Status != backuptypes.RecoveryPointStatusAvailable {
				continue
			}
			if strings.Contains(aws.ToString(p.RecoveryPointArn), ":recovery-point:continuous:") {
				continuousActive = true
				continue
			}
			later(p.CreationDate)
		}
	}
	switch r.Kind {
	case "Aurora":
		out, err := c.RDS.DescribeDBClusters(ctx, &rds.DescribeDBClustersInput{DBClusterIdentifier: aws.String(r.Arn)})
		if err != nil {
			return time.Time{}, fmt.Errorf("describe cluster: %w", err)
		}
		if len(out.DBClusters) != 1 {
			return time.Time{}, fmt.Errorf("describe cluster: %d clusters", len(out.DBClusters))
		}
		cl := out.DBClusters[0]
		// The latest restorable time is RDS's own; it counts only while AWS
		// Backup's continuous recovery point is active (a stopped one means
		// AWS Backup no longer keeps it).
		if r.Continuous && continuousActive {
			later(cl.LatestRestorableTime)
		}
		if newest.IsZero() {
			later(cl.ClusterCreateTime)
		}
	case "EFS":
		if newest.IsZero() {
			out, err := c.EFS.DescribeFileSystems(ctx, &efs.DescribeFileSystemsInput{FileSystemId: aws.String(fileSystemID(r.Arn))})
			if err != nil {
				return time.Time{}, fmt.Errorf("describe file system: %w", err)
			}
			if len(out.FileSystems) != 1 {
				return time.Time{}, fmt.Errorf("describe file system: %d file systems", len(out.FileSystems))
			}
			later(out.FileSystems[0].CreationTime)
		}
	default:
		return time.Time{}, fmt.Errorf("unknown kind %q", r.Kind)
	}
	if newest.IsZero() {
		return time.Time{}, fmt.Errorf("no recovery point and no creation time")
	}
	return newest, nil
}

// fileSystemID is the fs-... part of a file system ARN.
func fileSystemID(arn string) string {
	for i := len(arn) - 1; i >= 0; i-- {
		if arn[i] == '/' {
			return arn[i+1:]
		}
	}
	return arn
}
