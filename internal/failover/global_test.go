package failover

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/cfn"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restorable-cdk/restorable/internal/awstest"
	"github.com/restorable-cdk/restorable/internal/contract"
)

const (
	globalID  = "orders-global"
	tokyo     = "arn:aws:rds:ap-northeast-1:123456789012:cluster:primary-databasecluster-1a2b3c4d5e6f"
	osaka     = "arn:aws:rds:ap-northeast-3:123456789012:cluster:secondary-databasecluster-6f5e4d3c2b1a"
	stackID   = "arn:aws:cloudformation:ap-northeast-3:123456789012:stack/Secondary/6f1e0a30-c7d1-11ee-8c1e-0a1b2c3d4e5f"
	functionN = "Secondary-DatabaseGlobalSwitchFunction-1A2B3C"
)

// world is a global database of two clusters behind real SDK clients: RDS
// (query protocol, https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DescribeGlobalClusters.html,
// API_SwitchoverGlobalCluster.html, API_FailoverGlobalCluster.html),
// CloudFormation (DescribeStacks) and Lambda (Invoke, REST-JSON).
type world struct {
	mu     sync.Mutex
	writer string
	// failover is the FailoverState's status while an operation runs.
	failover string
	// target and lossAllowed are what the running operation was asked.
	target      string
	lossAllowed bool
	// polls is how many describes the operation takes; cancel ends it without
	// moving the writer.
	polls, left int
	cancel      bool
	// refuse answers the first starts with this error code.
	refuse      []string
	stackStatus string
	rds, cfn    *awstest.Server
	lambda      *awstest.Server
	responses   []*cfn.Response
	now         time.Time
	h           Handler
}

func newWorld(t *testing.T) *world {
	w := &world{writer: tokyo, polls: 3, stackStatus: "UPDATE_IN_PROGRESS", now: time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)}
	w.rds = awstest.NewServer(t, w.serveRDS)
	w.cfn = awstest.NewServer(t, func(r awstest.Request) awstest.Response {
		return awstest.QueryXML(awstest.CloudFormationNS, "DescribeStacks", fmt.Sprintf(
			`<Stacks><member><StackId>%s</StackId><StackName>Secondary</StackName><CreationTime>2026-01-01T00:00:00Z</CreationTime><StackStatus>%s</StackStatus></member></Stacks>`,
			stackID, w.stackStatus))
	})
	// https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html: 202 for
	// an asynchronous invocation.
	w.lambda = awstest.NewServer(t, func(r awstest.Request) awstest.Response { return awstest.Response{Status: 202} })
	w.h = Handler{
		RDS:            rds.NewFromConfig(awstest.Config(w.rds.URL)),
		CloudFormation: cloudformation.NewFromConfig(awstest.Config(w.cfn.URL)),
		Lambda:         lambda.NewFromConfig(awstest.Config(w.lambda.URL)),
		Respond: func(_ context.Context, r *cfn.Response) error {
			w.responses = append(w.responses, r)
			return nil
		},
		FunctionName: functionN,
		Now:          func() time.Time { return w.now },
		Sleep:        func(d time.Duration) { w.now = w.now.Add(d) },
		Poll:         15 * time.Second,
		Slice:        13 * time.Minute,
		Log:          t.Logf,
	}
	return w
}

func (w *world) serveRDS(r awstest.Request) awstest.Response {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch r.Operation {
	case "DescribeGlobalClusters":
		if r.Form.Get("GlobalClusterIdentifier") != globalID {
			return awstest.QueryError(404, "GlobalClusterNotFoundFault", "GlobalCluster "+r.Form.Get("GlobalClusterIdentifier")+" not found")
		}
		status, state := "available", ""
		if w.failover != "" {
			if w.left--; w.left <= 0 {
				if !w.cancel {
					w.writer = w.target
				}
				w.failover = ""
			} else {
				status = map[bool]string{true: "failing-over", false: "switching-over"}[w.lossAllowed]
				state = fmt.Sprintf(`<FailoverState><Status>%s</Status><FromDbClusterArn>%s</FromDbClusterArn><ToDbClusterArn>%s</ToDbClusterArn><IsDataLossAllowed>%t</IsDataLossAllowed></FailoverState>`,
					w.failover, w.writer, w.target, w.lossAllowed)
			}
		}
		member := func(arn string) string {
			return fmt.Sprintf(`<GlobalClusterMember><DBClusterArn>%s</DBClusterArn><IsWriter>%t</IsWriter></GlobalClusterMember>`, arn, arn == w.writer)
		}
		return awstest.QueryXML(awstest.RDSNS, "DescribeGlobalClusters", fmt.Sprintf(
			`<GlobalClusters><GlobalClusterMember><GlobalClusterIdentifier>%s</GlobalClusterIdentifier><Status>%s</Status><Engine>aurora-postgresql</Engine><StorageEncrypted>true</StorageEncrypted><GlobalClusterMembers>%s%s</GlobalClusterMembers>%s</GlobalClusterMember></GlobalClusters>`,
			globalID, status, member(tokyo), member(osaka), state))
	case "SwitchoverGlobalCluster", "FailoverGlobalCluster":
		if len(w.refuse) > 0 {
			code := w.refuse[0]
			w.refuse = w.refuse[1:]
			return awstest.QueryError(400, code, "The global cluster is not in a valid state")
		}
		w.target, w.failover, w.left = r.Form.Get("TargetDbClusterIdentifier"), "pending", w.polls
		w.lossAllowed = r.Form.Get("AllowDataLoss") == "true"
		return awstest.QueryXML(awstest.RDSNS, r.Operation, `<GlobalCluster><GlobalClusterIdentifier>`+globalID+`</GlobalClusterIdentifier><Status>available</Status></GlobalCluster>`)
	}
	return awstest.QueryError(400, "InvalidAction", r.Operation)
}

func event(mode string) Event {
	return Event{Event: cfn.Event{RequestType: cfn.RequestCreate, RequestID: "req-1", ResponseURL: "https://cloudformation-custom-resource-response-apne3.s3.amazonaws.com/x",
		StackID: stackID, LogicalResourceID: "DatabaseGlobalSwitch", ResourceType: contract.GlobalSwitchResourceType,
		ResourceProperties: map[string]interface{}{contract.GlobalSwitchCluster: globalID, contract.GlobalSwitchTarget: osaka, contract.GlobalSwitchMode: mode}}}
}

func (w *world) starts() []string {
	var out []string
	for _, op := range w.rds.Operations() {
		if strings.HasSuffix(op, "GlobalCluster") {
			out = append(out, op)
		}
	}
	return out
}

func TestSwitchoverWaitsUntilTheTargetIsTheWriter(t *testing.T) {
	w := newWorld(t)
	require.NoError(t, w.h.Handle(context.Background(), event(contract.ModeSwitchover)))
	require.Len(t, w.responses, 1)
	assert.Equal(t, cfn.StatusSuccess, w.responses[0].Status, w.responses[0].Reason)
	assert.Equal(t, osaka, w.writer)
	assert.Equal(t, []string{"SwitchoverGlobalCluster"}, w.starts())
	req := w.rds.Requests()[1]
	assert.Equal(t, osaka, req.Form.Get("TargetDbClusterIdentifier"))
	assert.Empty(t, req.Form.Get("AllowDataLoss"), "a switchover never allows data loss")
	assert.Equal(t, globalID+"/switchover/"+osaka, w.responses[0].PhysicalResourceID)
	// It answered only after the global database reported the new writer
	assert.GreaterOrEqual(t, len(w.rds.Operations()), 2+w.polls)
}

func TestFailoverAllowsDataLoss(t *testing.T) {
	w := newWorld(t)
	require.NoError(t, w.h.Handle(context.Background(), event(contract.ModeFailover)))
	require.Len(t, w.responses, 1)
	assert.Equal(t, cfn.StatusSuccess, w.responses[0].Status, w.responses[0].Reason)
	assert.Equal(t, []string{"FailoverGlobalCluster"}, w.starts())
	assert.Equal(t, "true", w.rds.Requests()[1].Form.Get("AllowDataLoss"))
	assert.Equal(t, osaka, w.writer)
}

func TestABusyGlobalDatabaseIsWaitedFor(t *testing.T) {
	w := newWorld(t)
	w.refuse = []string{"InvalidGlobalClusterStateFault", "InvalidDBClusterStateFault"}
	require.NoError(t, w.h.Handle(context.Background(), event(contract.ModeSwitchover)))
	require.Len(t, w.responses, 1)
	assert.Equal(t, cfn.StatusSuccess, w.responses[0].Status, w.responses[0].Reason)
	assert.Equal(t, []string{"SwitchoverGlobalCluster", "SwitchoverGlobalCluster", "SwitchoverGlobalCluster"}, w.starts())
}

func TestTheWriterAlreadyThereMovesNothing(t *testing.T) {
	w := newWorld(t)
	w.writer = osaka
	require.NoError(t, w.h.Handle(context.Background(), event(contract.ModeFailover)))
	assert.Equal(t, cfn.StatusSuccess, w.responses[0].Status)
	assert.Empty(t, w.starts())
}

func TestARollbackOrADeleteMovesNothing(t *testing.T) {
	w := newWorld(t)
	w.stackStatus = "UPDATE_ROLLBACK_IN_PROGRESS"
	require.NoError(t, w.h.Handle(context.Background(), event(contract.ModeSwitchover)))
	e := event(contract.ModeSwitchover)
	e.RequestType, e.PhysicalResourceID = cfn.RequestDelete, globalID+"/switchover/"+osaka
	require.NoError(t, w.h.Handle(context.Background(), e))
	require.Len(t, w.responses, 2)
	for _, r := range w.responses {
		assert.Equal(t, cfn.StatusSuccess, r.Status)
	}
	assert.Empty(t, w.rds.Operations())
	assert.Equal(t, tokyo, w.writer)
}

func TestATargetOutsideTheGlobalDatabaseFails(t *testing.T) {
	w := newWorld(t)
	e := event(contract.ModeSwitchover)
	e.ResourceProperties[contract.GlobalSwitchTarget] = "arn:aws:rds:ap-northeast-3:123456789012:cluster:other"
	require.NoError(t, w.h.Handle(context.Background(), e))
	assert.Equal(t, cfn.StatusFailed, w.responses[0].Status)
	assert.Contains(t, w.responses[0].Reason, "is not a member of the global database orders-global (members: "+tokyo+", "+osaka+")")
	assert.Empty(t, w.starts())
}

func TestAnOperationThatEndsWithoutMovingTheWriterFails(t *testing.T) {
	w := newWorld(t)
	w.cancel = true
	require.NoError(t, w.h.Handle(context.Background(), event(contract.ModeSwitchover)))
	assert.Equal(t, cfn.StatusFailed, w.responses[0].Status)
	assert.Contains(t, w.responses[0].Reason, "ended, but the writer is still "+tokyo)
}

func TestALongSwitchGoesOnInANewInvocationAndFailsWithinTheHour(t *testing.T) {
	w := newWorld(t)
	w.polls = 100 // 25 minutes at 15 s
	require.NoError(t, w.h.Handle(context.Background(), event(contract.ModeSwitchover)))
	// THEN the first invocation answers nothing and invokes itself again
	assert.Empty(t, w.responses)
	require.Len(t, w.lambda.Requests(), 1)
	inv := w.lambda.Requests()[0]
	assert.Equal(t, "POST /2015-03-31/functions/"+functionN+"/invocations", inv.Operation)
	var next Event
	require.NoError(t, json.Unmarshal(inv.Body, &next))
	require.NotNil(t, next.Started)
	assert.True(t, next.Requested)
	assert.Equal(t, stackID, next.StackID)
	// AND the continuation does not start a second switchover, and answers
	// once the writer moved
	require.NoError(t, w.h.Handle(context.Background(), next))
	require.Len(t, w.responses, 1)
	assert.Equal(t, cfn.StatusSuccess, w.responses[0].Status, w.responses[0].Reason)
	assert.Equal(t, []string{"SwitchoverGlobalCluster"}, w.starts())

	// GIVEN one that never finishes
	w = newWorld(t)
	w.polls = 1 << 20
	w.untilAnswered(t, event(contract.ModeSwitchover))
	// THEN it fails before CloudFormation's hour, and says so
	require.Len(t, w.responses, 1)
	assert.Equal(t, cfn.StatusFailed, w.responses[0].Status)
	assert.Contains(t, w.responses[0].Reason, "has not finished within 55m0s")
	assert.LessOrEqual(t, w.now.Sub(time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)), time.Hour)
}

func TestAContinuationAfterARollbackOrACancelMovesNothing(t *testing.T) {
	// GIVEN a switch still waiting to start when the deploy is cancelled
	w := newWorld(t)
	w.stackStatus = "UPDATE_ROLLBACK_IN_PROGRESS"
	e := event(contract.ModeFailover)
	started := w.now.Add(-14 * time.Minute)
	e.Started = &started
	// WHEN its continuation runs
	require.NoError(t, w.h.Handle(context.Background(), e))
	// THEN it asks nothing of RDS and the writer stays
	require.Len(t, w.responses, 1)
	assert.Equal(t, cfn.StatusFailed, w.responses[0].Status)
	assert.Contains(t, w.responses[0].Reason, "the stack is UPDATE_ROLLBACK_IN_PROGRESS, no longer in the deploy that asked for this, so nothing moves")
	assert.Empty(t, w.starts())
	assert.Equal(t, tokyo, w.writer)
}

func TestASwitchElsewhereUnderWayIsNotFollowedByAnother(t *testing.T) {
	w := newWorld(t)
	other := "arn:aws:rds:us-west-2:123456789012:cluster:oregon"
	w.target, w.failover, w.left, w.polls = other, "pending", 1<<20, 1<<20
	require.NoError(t, w.h.Handle(context.Background(), event(contract.ModeSwitchover)))
	assert.Equal(t, cfn.StatusFailed, w.responses[0].Status)
	assert.Contains(t, w.responses[0].Reason, "a switchover of orders-global to "+other+" is under way, not to "+osaka)
	assert.Empty(t, w.starts())
}

func TestAPermanentRefusalFailsAfterTenMinutes(t *testing.T) {
	w := newWorld(t)
	for i := 0; i < 100; i++ {
		w.refuse = append(w.refuse, "InvalidDBClusterStateFault")
	}
	require.NoError(t, w.h.Handle(context.Background(), event(contract.ModeFailover)))
	require.Len(t, w.responses, 1)
	assert.Equal(t, cfn.StatusFailed, w.responses[0].Status)
	assert.Contains(t, w.responses[0].Reason, "has refused the failover of orders-global to "+osaka+" for 10m0s with nothing under way")
	assert.Less(t, len(w.starts()), 50)
	assert.Equal(t, tokyo, w.writer)
}

// untilAnswered runs the event, then each continuation the function invokes,
// until CloudFormation has an answer (at most ten invocations).
func (w *world) untilAnswered(t *testing.T, e Event) {
	t.Helper()
	for i := 0; i < 10 && len(w.responses) == 0; i++ {
		require.NoError(t, w.h.Handle(context.Background(), e))
		if reqs := w.lambda.Requests(); len(reqs) > 0 {
			e = Event{}
			require.NoError(t, json.Unmarshal(reqs[len(reqs)-1].Body, &e))
		}
	}
}
