package guard

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/backup"
	"github.com/aws/aws-sdk-go-v2/service/efs"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restorable-cdk/restorable/internal/awstest"
	"github.com/restorable-cdk/restorable/internal/contract"
	"github.com/restorable-cdk/restorable/internal/emf"
)

const (
	probeClusterArn = "arn:aws:rds:ap-northeast-1:123456789012:cluster:appstack-database-1"
	probeFilesArn   = "arn:aws:elasticfilesystem:ap-northeast-1:123456789012:file-system/fs-0123456789abcdef0"
)

// probeWorld is an account with recovery points by resource (AWS Backup's
// ListRecoveryPointsByResource, REST-JSON, dates in epoch seconds:
// https://docs.aws.amazon.com/aws-backup/latest/devguide/API_ListRecoveryPointsByResource.html),
// a cluster (DescribeDBClusters, query protocol:
// https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DBCluster.html)
// and a file system (DescribeFileSystems, REST-JSON).
type probeWorld struct {
	points       map[string][]map[string]interface{}
	latest       time.Time
	clusterMade  time.Time
	filesMade    time.Time
	listFailures int
	backup       *awstest.Server
}

func newProbeWorld(t *testing.T) (*probeWorld, Clients) {
	w := &probeWorld{points: map[string][]map[string]interface{}{}}
	w.backup = awstest.NewServer(t, func(r awstest.Request) awstest.Response {
		arn, ok := strings.CutPrefix(r.Operation, "GET /resources/")
		if !ok {
			return awstest.JSONError(400, "InvalidRequestException", r.Operation)
		}
		arn = strings.TrimSuffix(strings.TrimSuffix(arn, "/"), "/recovery-points")
		if w.listFailures > 0 {
			w.listFailures--
			return awstest.JSONError(500, "ServiceUnavailableException", "try again")
		}
		if r.Query.Get("managedByAWSBackupOnly") != "true" {
			return awstest.JSONError(400, "InvalidParameterValueException", "the probe lists AWS Backup's recovery points only")
		}
		return awstest.JSON(map[string]interface{}{"RecoveryPoints": w.points[arn]})
	})
	rdsServer := awstest.NewServer(t, func(r awstest.Request) awstest.Response {
		if r.Operation != "DescribeDBClusters" || r.Form.Get("DBClusterIdentifier") != probeClusterArn {
			return awstest.QueryError(404, "DBClusterNotFoundFault", r.Form.Get("DBClusterIdentifier"))
		}
		latest := ""
		if !w.latest.IsZero() {
			latest = "<LatestRestorableTime>" + w.latest.Format(time.RFC3339) + "</LatestRestorableTime>"
		}
		return awstest.QueryXML(awstest.RDSNS, "DescribeDBClusters", fmt.Sprintf(
			`<DBClusters><DBCluster><DBClusterIdentifier>appstack-database-1</DBClusterIdentifier><DBClusterArn>%s</DBClusterArn><Status>available</Status><ClusterCreateTime>%s</ClusterCreateTime>%s</DBCluster></DBClusters>`,
			probeClusterArn, w.clusterMade.Format(time.RFC3339), latest))
	})
	efsServer := awstest.NewServer(t, func(r awstest.Request) awstest.Response {
		if r.Operation != "GET /2015-02-01/file-systems" || r.Query.Get("FileSystemId") != "fs-0123456789abcdef0" {
			return awstest.JSONError(404, "FileSystemNotFound", r.Operation)
		}
		return awstest.JSON(map[string]interface{}{"FileSystems": []interface{}{map[string]interface{}{
			"FileSystemId": "fs-0123456789abcdef0", "CreationTime": float64(w.filesMade.Unix()), "LifeCycleState": "available",
			"OwnerId": awstest.Account, "CreationToken": "t", "NumberOfMountTargets": 2, "PerformanceMode": "generalPurpose",
			"SizeInBytes": map[string]interface{}{"Value": 6144}, "Tags": []interface{}{},
		}}})
	})
	return w, Clients{Backup: backup.NewFromConfig(awstest.Config(w.backup.URL)), RDS: rds.NewFromConfig(awstest.Config(rdsServer.URL)),
		EFS: efs.NewFromConfig(awstest.Config(efsServer.URL))}
}

func (w *probeWorld) point(resource, status string, created time.Time) {
	w.points[resource] = append(w.points[resource], map[string]interface{}{
		"RecoveryPointArn": fmt.Sprintf("arn:aws:backup:ap-northeast-1:123456789012:recovery-point:%d", len(w.points[resource])),
		"Status":           status, "CreationDate": float64(created.Unix()), "BackupVaultName": "AppStackVault",
	})
}

// continuous adds AWS Backup's continuous recovery point of a cluster.
func (w *probeWorld) continuous(resource, status string, created time.Time) {
	w.points[resource] = append(w.points[resource], map[string]interface{}{
		"RecoveryPointArn": "arn:aws:backup:ap-northeast-1:123456789012:recovery-point:continuous:cluster-abcd-1234",
		"Status":           status, "CreationDate": float64(created.Unix()), "BackupVaultName": "AppStackVault",
	})
}

// ages runs the probe and reads back the metric lines it printed.
func probeAges(t *testing.T, c Clients, resources []contract.ProbeResource) (map[string]float64, error) {
	var out bytes.Buffer
	err := c.Probe(context.Background(), contract.ProbeEvent{Probe: contract.ProbeValue, Stack: "AppStack", Resources: resources}, &out, t.Logf)
	ages := map[string]float64{}
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		rec, perr := emf.Parse(sc.Bytes())
		require.NoError(t, perr, sc.Text())
		assert.Equal(t, contract.MetricNamespace, rec.Namespace)
		assert.Equal(t, "AppStack", rec.Dimensions[contract.MetricStack])
		assert.Equal(t, "Seconds", rec.Units[contract.MetricRecoveryPointAge])
		ages[rec.Dimensions[contract.MetricResource]] = rec.Values[contract.MetricRecoveryPointAge]
	}
	return ages, err
}

func TestTheProbeMeasuresTheNewestRecoveryPointOfEachResource(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	cluster := contract.ProbeResource{Path: "AppStack/Database", Kind: "Aurora", Arn: probeClusterArn, Continuous: true}
	files := contract.ProbeResource{Path: "AppStack/Files", Kind: "EFS", Arn: probeFilesArn}

	t.Run("the newest completed recovery point; for continuous Aurora, its latest restorable time", func(t *testing.T) {
		w, c := newProbeWorld(t)
		c.Now = func() time.Time { return now }
		w.point(probeFilesArn, "COMPLETED", now.Add(-30*time.Hour))
		w.point(probeFilesArn, "COMPLETED", now.Add(-6*time.Hour))
		w.point(probeFilesArn, "PARTIAL", now.Add(-1*time.Hour)) // not restorable as a whole
		w.point(probeClusterArn, "COMPLETED", now.Add(-20*24*time.Hour))
		w.continuous(probeClusterArn, "AVAILABLE", now.Add(-30*24*time.Hour))
		w.latest = now.Add(-5 * time.Minute)
		ages, err := probeAges(t, c, []contract.ProbeResource{cluster, files})
		require.NoError(t, err)
		assert.Equal(t, 5*60.0, ages["AppStack/Database"])
		assert.Equal(t, 6*3600.0, ages["AppStack/Files"])
	})
	t.Run("without continuous backup the cluster's latest restorable time does not count", func(t *testing.T) {
		w, c := newProbeWorld(t)
		c.Now = func() time.Time { return now }
		w.point(probeClusterArn, "COMPLETED", now.Add(-26*time.Hour))
		w.latest = now.Add(-5 * time.Minute)
		snapshotOnly := cluster
		snapshotOnly.Continuous = false
		ages, err := probeAges(t, c, []contract.ProbeResource{snapshotOnly})
		require.NoError(t, err)
		assert.Equal(t, 26*3600.0, ages["AppStack/Database"])
	})
	t.Run("a stopped continuous backup does not count, whatever RDS's own latest restorable time", func(t *testing.T) {
		w, c := newProbeWorld(t)
		c.Now = func() time.Time { return now }
		w.point(probeClusterArn, "COMPLETED", now.Add(-40*time.Hour))
		w.continuous(probeClusterArn, "STOPPED", now.Add(-30*24*time.Hour))
		w.latest = now.Add(-5 * time.Minute)
		ages, err := probeAges(t, c, []contract.ProbeResource{cluster})
		require.NoError(t, err)
		assert.Equal(t, 40*3600.0, ages["AppStack/Database"])
	})
	t.Run("a resource never backed up is as old as itself", func(t *testing.T) {
		w, c := newProbeWorld(t)
		c.Now = func() time.Time { return now }
		w.filesMade = now.Add(-2 * time.Hour)
		w.clusterMade = now.Add(-3 * time.Hour)
		snapshotOnly := cluster
		snapshotOnly.Continuous = false
		ages, err := probeAges(t, c, []contract.ProbeResource{snapshotOnly, files})
		require.NoError(t, err)
		assert.Equal(t, 2*3600.0, ages["AppStack/Files"])
		assert.Equal(t, 3*3600.0, ages["AppStack/Database"])
	})
	t.Run("a resource that cannot be measured gets no data point, and the others still do", func(t *testing.T) {
		w, c := newProbeWorld(t)
		c.Now = func() time.Time { return now }
		w.point(probeFilesArn, "COMPLETED", now.Add(-1*time.Hour))
		gone := contract.ProbeResource{Path: "AppStack/Gone", Kind: "Aurora", Arn: "arn:aws:rds:ap-northeast-1:123456789012:cluster:gone"}
		ages, err := probeAges(t, c, []contract.ProbeResource{gone, files})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "AppStack/Gone")
		assert.NotContains(t, ages, "AppStack/Gone")
		assert.Equal(t, 3600.0, ages["AppStack/Files"])
	})
	t.Run("a throttled listing is retried by the SDK", func(t *testing.T) {
		w, c := newProbeWorld(t)
		c.Now = func() time.Time { return now }
		w.listFailures = 2
		w.point(probeFilesArn, "COMPLETED", now.Add(-1*time.Hour))
		ages, err := probeAges(t, c, []contract.ProbeResource{files})
		require.NoError(t, err)
		assert.Equal(t, 3600.0, ages["AppStack/Files"])
	})
}
