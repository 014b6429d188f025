package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restorable-cdk/restorable/internal/guard"
)

const stackID = "arn:aws:cloudformation:ap-northeast-1:123456789012:stack/AppStack/6f1e"

// fakeCloudFormation answers DescribeStacks and DescribeStackResource in the
// CloudFormation query protocol, and records the requests.
type fakeCloudFormation struct {
	status   string
	physical string
	requests []string
}

func (f *fakeCloudFormation) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	action := r.PostForm.Get("Action")
	f.requests = append(f.requests, action+" "+r.PostForm.Get("StackName")+" "+r.PostForm.Get("LogicalResourceId"))
	w.Header().Set("Content-Type", "text/xml")
	switch action {
	case "DescribeStacks":
		fmt.Fprintf(w, `<DescribeStacksResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><DescribeStacksResult><Stacks><member>
<StackName>AppStack</StackName><StackId>%s</StackId><StackStatus>%s</StackStatus><CreationTime>2026-11-20T10:00:00Z</CreationTime>
</member></Stacks></DescribeStacksResult><ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></DescribeStacksResponse>`, stackID, f.status)
	case "DescribeStackResource":
		if f.physical == "" {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `<ErrorResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><Error><Type>Sender</Type><Code>ValidationError</Code><Message>Resource DatabaseB269D8BB does not exist for stack AppStack</Message></Error><RequestId>2</RequestId></ErrorResponse>`)
			return
		}
		fmt.Fprintf(w, `<DescribeStackResourceResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><DescribeStackResourceResult><StackResourceDetail>
<StackName>AppStack</StackName><StackId>%s</StackId><LogicalResourceId>DatabaseB269D8BB</LogicalResourceId><PhysicalResourceId>%s</PhysicalResourceId>
<ResourceType>AWS::RDS::DBCluster</ResourceType><LastUpdatedTimestamp>2026-11-20T10:00:00Z</LastUpdatedTimestamp><ResourceStatus>UPDATE_COMPLETE</ResourceStatus>
</StackResourceDetail></DescribeStackResourceResult><ResponseMetadata><RequestId>3</RequestId></ResponseMetadata></DescribeStackResourceResponse>`, stackID, f.physical)
	default:
		http.Error(w, "unexpected action "+action, http.StatusBadRequest)
	}
}

func newReader(t *testing.T, fake *fakeCloudFormation) stackReader {
	t.Helper()
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	return stackReader{cloudformation.New(cloudformation.Options{
		Region:           "ap-northeast-1",
		BaseEndpoint:     aws.String(srv.URL),
		Credentials:      credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
		RetryMaxAttempts: 1,
	})}
}

func TestStackReaderReadsStatusAndPhysicalID(t *testing.T) {
	fake := &fakeCloudFormation{status: "UPDATE_IN_PROGRESS", physical: "appstack-databaseb269d8bb-0abc"}
	r := newReader(t, fake)
	status, err := r.StackStatus(context.Background(), stackID)
	require.NoError(t, err)
	assert.Equal(t, "UPDATE_IN_PROGRESS", status)
	id, err := r.PhysicalID(context.Background(), stackID, "DatabaseB269D8BB")
	require.NoError(t, err)
	assert.Equal(t, "appstack-databaseb269d8bb-0abc", id)
	assert.Equal(t, []string{"DescribeStacks " + stackID + " ", "DescribeStackResource " + stackID + " DatabaseB269D8BB"}, fake.requests)
}

func TestStackReaderReturnsAPIErrors(t *testing.T) {
	_, err := newReader(t, &fakeCloudFormation{status: "UPDATE_IN_PROGRESS"}).PhysicalID(context.Background(), stackID, "DatabaseB269D8BB")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "ValidationError")
	assert.Contains(t, err.Error(), "Resource DatabaseB269D8BB does not exist")
}

func TestGuardThroughTheSDK(t *testing.T) {
	props := func(source map[string]interface{}) map[string]interface{} {
		return map[string]interface{}{
			guard.PropResource: "AppStack/Database", guard.PropResourceType: "AWS::RDS::DBCluster", guard.PropLogicalID: "DatabaseB269D8BB",
			guard.PropConsentKey: "AppStack/Database.allowReplace", guard.PropSource: source,
			guard.PropCreateOnly: map[string]interface{}{"Engine": "aurora-postgresql"},
		}
	}
	event := guard.Event{RequestType: "Update", StackID: stackID, PhysicalResourceID: "restorable-guard-DatabaseB269D8BB",
		OldResourceProperties: props(map[string]interface{}{"SnapshotIdentifier": "before-incident"}),
		ResourceProperties:    props(map[string]interface{}{})}
	noLog := func(string, ...interface{}) {}

	// A deploy that drops the source is refused, naming the cluster CloudFormation reports.
	_, err := guard.Handle(context.Background(), newReader(t, &fakeCloudFormation{status: "UPDATE_IN_PROGRESS", physical: "appstack-db-0abc"}), event, noLog)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "restorable refused to replace AppStack/Database (AWS::RDS::DBCluster appstack-db-0abc)")
	assert.Contains(t, err.Error(), "cdk deploy -c 'AppStack/Database.allowReplace=appstack-db-0abc'")

	// The same change during a rollback goes through.
	_, err = guard.Handle(context.Background(), newReader(t, &fakeCloudFormation{status: "UPDATE_ROLLBACK_IN_PROGRESS"}), event, noLog)
	require.NoError(t, err)
}
