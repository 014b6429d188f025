package failover

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/cfn"
	"github.com/aws/aws-sdk-go-v2/service/efs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restorable-cdk/restorable/internal/awstest"
	"github.com/restorable-cdk/restorable/internal/contract"
)

const (
	replicaFS = "fs-0a1b2c3d4e5f60718"
	sourceFS  = "fs-08f7e6d5c4b3a2910"
	// sourceArn is what the deletion names: the API takes an ARN, which
	// names the source's region.
	sourceArn = "arn:aws:elasticfilesystem:ap-northeast-1:123456789012:file-system/" + sourceFS
)

// replication is an EFS replication from Tokyo into the recovery stack's
// replica, served by Amazon EFS's REST-JSON API:
// https://docs.aws.amazon.com/efs/latest/ug/API_DescribeFileSystems.html,
// API_DescribeReplicationConfigurations.html, API_DeleteReplicationConfiguration.html.
type replication struct {
	protection string
	// configured is whether the replication configuration exists.
	configured bool
	// lastReplicated moves on by step at each describe, as EFS syncs.
	lastReplicated time.Time
	step           time.Duration
	status         string
	// sourceDown refuses a deletion on both sides; denied refuses every
	// deletion with AccessDenied; neverSynced has no completed sync.
	sourceDown, denied, neverSynced bool
	// writeableAfter is how many describes after the deletion the replica
	// becomes writeable.
	writeableAfter int
	deletions      []string
	server         *awstest.Server
}

func newReplication(t *testing.T, w *world) *replication {
	r := &replication{protection: "REPLICATING", configured: true, status: "ENABLED", writeableAfter: 2, step: time.Minute,
		lastReplicated: w.now.Add(-10 * time.Minute)}
	r.server = awstest.NewServer(t, func(req awstest.Request) awstest.Response {
		switch {
		case req.Operation == "GET /2015-02-01/file-systems":
			if req.Query.Get("FileSystemId") != replicaFS {
				return awstest.JSONError(404, "FileSystemNotFound", "File system does not exist.")
			}
			if !r.configured {
				if r.writeableAfter--; r.writeableAfter < 0 {
					r.protection = "ENABLED"
				}
			}
			return awstest.JSON(map[string]interface{}{"FileSystems": []interface{}{map[string]interface{}{
				"OwnerId": awstest.Account, "CreationToken": "RecoveryFiles", "FileSystemId": replicaFS, "CreationTime": 1.7e9,
				"LifeCycleState": "available", "NumberOfMountTargets": 2, "SizeInBytes": map[string]interface{}{"Value": 6144},
				"PerformanceMode": "generalPurpose", "Encrypted": true, "Tags": []interface{}{},
				"FileSystemProtection": map[string]interface{}{"ReplicationOverwriteProtection": r.protection}}}})
		case req.Operation == "GET /2015-02-01/file-systems/replication-configurations":
			if !r.configured {
				return awstest.JSONError(404, "ReplicationNotFound", "Replication configuration not found")
			}
			r.lastReplicated = r.lastReplicated.Add(r.step)
			dest := map[string]interface{}{"FileSystemId": replicaFS, "Region": "ap-northeast-3", "Status": r.status,
				"LastReplicatedTimestamp": float64(r.lastReplicated.Unix())}
			if r.neverSynced {
				delete(dest, "LastReplicatedTimestamp")
			}
			return awstest.JSON(map[string]interface{}{"Replications": []interface{}{map[string]interface{}{
				"SourceFileSystemId": sourceFS, "SourceFileSystemRegion": "ap-northeast-1", "OriginalSourceFileSystemArn": "arn:aws:elasticfilesystem:ap-northeast-1:123456789012:file-system/" + sourceFS,
				"SourceFileSystemArn": "arn:aws:elasticfilesystem:ap-northeast-1:123456789012:file-system/" + sourceFS, "CreationTime": 1.7e9,
				"Destinations": []interface{}{dest}}}})
		case req.Operation == "DELETE /2015-02-01/file-systems/"+sourceArn+"/replication-configuration":
			mode := req.Query.Get("deletionMode")
			r.deletions = append(r.deletions, mode)
			if r.denied {
				return awstest.JSONError(403, "AccessDeniedException", "not authorized to perform elasticfilesystem:DeleteReplicationConfiguration")
			}
			if r.sourceDown && mode != "LOCAL_CONFIGURATION_ONLY" {
				return awstest.JSONError(500, "InternalServerError", "Unable to reach the source Region")
			}
			r.configured = false
			return awstest.Response{Status: 204}
		}
		return awstest.JSONError(400, "BadRequest", req.Operation)
	})
	w.h.EFS = efs.NewFromConfig(awstest.Config(r.server.URL))
	return r
}

func promote(mode string) Event {
	return Event{Event: cfn.Event{RequestType: cfn.RequestCreate, RequestID: "req-2", ResponseURL: "https://cloudformation-custom-resource-response-apne3.s3.amazonaws.com/y",
		StackID: stackID, LogicalResourceID: "FilesReplicaPromote", ResourceType: contract.ReplicaPromoteResourceType,
		ResourceProperties: map[string]interface{}{contract.ReplicaFileSystem: replicaFS, contract.GlobalSwitchMode: mode}}}
}

func TestASwitchoverWaitsForTheLastChangesThenMakesTheReplicaWriteable(t *testing.T) {
	w := newWorld(t)
	r := newReplication(t, w)
	require.NoError(t, w.h.Handle(context.Background(), promote(contract.ModeSwitchover)))
	require.Len(t, w.responses, 1)
	assert.Equal(t, cfn.StatusSuccess, w.responses[0].Status, w.responses[0].Reason)
	assert.Equal(t, []string{"ALL_CONFIGURATIONS"}, r.deletions)
	assert.Equal(t, "ENABLED", r.protection)
	// It deleted the replication only once a sync had completed after the
	// switch began (10 minutes behind, a minute a poll)
	assert.False(t, r.lastReplicated.Before(time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)))
	assert.Equal(t, replicaFS+"/switchover", w.responses[0].PhysicalResourceID)
}

func TestAFailoverDoesNotWaitAndDeletesTheLocalSideWhenTheSourceIsDown(t *testing.T) {
	w := newWorld(t)
	r := newReplication(t, w)
	r.sourceDown = true
	r.lastReplicated = w.now.Add(-time.Hour)
	r.step = 0
	require.NoError(t, w.h.Handle(context.Background(), promote(contract.ModeFailover)))
	require.Len(t, w.responses, 1)
	assert.Equal(t, cfn.StatusSuccess, w.responses[0].Status, w.responses[0].Reason)
	// (the SDK's standard retryer tries the 500 three times first)
	require.NotEmpty(t, r.deletions)
	assert.Equal(t, "LOCAL_CONFIGURATION_ONLY", r.deletions[len(r.deletions)-1])
	assert.NotContains(t, r.deletions[:len(r.deletions)-1], "LOCAL_CONFIGURATION_ONLY")
	assert.Contains(t, r.deletions, "ALL_CONFIGURATIONS", "both sides are tried first")
}

func TestASwitchoverNeverDropsTheReplicationWhenTheSourceIsDown(t *testing.T) {
	w := newWorld(t)
	r := newReplication(t, w)
	r.sourceDown = true
	r.step = 20 * time.Minute
	require.NoError(t, w.h.Handle(context.Background(), promote(contract.ModeSwitchover)))
	require.Len(t, w.responses, 1)
	assert.Equal(t, cfn.StatusFailed, w.responses[0].Status)
	assert.Contains(t, w.responses[0].Reason, "could not delete the replication from "+sourceArn+" to "+replicaFS+" (ALL_CONFIGURATIONS)")
	assert.NotContains(t, r.deletions, "LOCAL_CONFIGURATION_ONLY", "a switchover never leaves the source's side behind")
	assert.Equal(t, "REPLICATING", r.protection, "the replica stays read-only")
}

// A replication that cannot hold every change is refused, and kept.
func TestAPromotionRefusesAReplicaWithoutItsData(t *testing.T) {
	for _, tt := range []struct {
		name, mode, reason string
		spoil              func(r *replication)
	}{
		{"a switchover, the replication in ERROR", contract.ModeSwitchover, "is in ERROR", func(r *replication) { r.status = "ERROR" }},
		{"a failover, a replica that never synced", contract.ModeFailover, "has never completed a replication", func(r *replication) { r.neverSynced = true }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			r := newReplication(t, w)
			tt.spoil(r)
			require.NoError(t, w.h.Handle(context.Background(), promote(tt.mode)))
			assert.Equal(t, cfn.StatusFailed, w.responses[0].Status)
			assert.Contains(t, w.responses[0].Reason, tt.reason)
			assert.Empty(t, r.deletions)
		})
	}
}

func TestAWriteableReplicaIsLeftAlone(t *testing.T) {
	w := newWorld(t)
	r := newReplication(t, w)
	r.protection, r.configured = "ENABLED", false
	require.NoError(t, w.h.Handle(context.Background(), promote(contract.ModeFailover)))
	assert.Equal(t, cfn.StatusSuccess, w.responses[0].Status)
	// but a switchover cannot show it holds every change
	require.NoError(t, w.h.Handle(context.Background(), promote(contract.ModeSwitchover)))
	assert.Equal(t, cfn.StatusFailed, w.responses[1].Status)
	assert.Contains(t, w.responses[1].Reason, "is writeable already: its replication ended before this deploy")
	assert.Empty(t, r.deletions)
	for _, op := range r.server.Operations() {
		assert.False(t, strings.HasPrefix(op, "DELETE"), op)
	}
}

func TestAReplicaThatNeverSyncsFailsWithinTheHour(t *testing.T) {
	w := newWorld(t)
	r := newReplication(t, w)
	r.step = 0 // stuck 10 minutes behind
	w.untilAnswered(t, promote(contract.ModeSwitchover))
	require.Len(t, w.responses, 1)
	assert.Equal(t, cfn.StatusFailed, w.responses[0].Status)
	assert.Contains(t, w.responses[0].Reason, "waiting for the replica to have every change before 2026-12-03T09:00:00Z")
	assert.Empty(t, r.deletions, "the replication is kept")
}

func TestAFailoverDeletesOnlyBothSidesWhenItIsRefused(t *testing.T) {
	w := newWorld(t)
	r := newReplication(t, w)
	r.denied = true
	require.NoError(t, w.h.Handle(context.Background(), promote(contract.ModeFailover)))
	assert.Equal(t, cfn.StatusFailed, w.responses[0].Status)
	assert.NotContains(t, r.deletions, "LOCAL_CONFIGURATION_ONLY", "an AccessDenied is no unreachable region")
}
