package cfnstack

import (
	"context"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restorable-cdk/restorable/internal/awstest"
)

func TestStatusAndRollback(t *testing.T) {
	const stackID = "arn:aws:cloudformation:ap-northeast-1:123456789012:stack/AppStack/6f1e0a30-c7d1-11ee-8c1e-0a1b2c3d4e5f"
	status := "UPDATE_ROLLBACK_IN_PROGRESS"
	// CloudFormation, query protocol:
	// https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DescribeStacks.html
	server := awstest.NewServer(t, func(r awstest.Request) awstest.Response {
		if r.Operation != "DescribeStacks" || r.Form.Get("StackName") != stackID {
			return awstest.QueryError(400, "ValidationError", "Stack with id "+r.Form.Get("StackName")+" does not exist")
		}
		return awstest.QueryXML(awstest.CloudFormationNS, "DescribeStacks", fmt.Sprintf(
			`<Stacks><member><StackName>AppStack</StackName><StackId>%s</StackId><CreationTime>2026-10-01T09:00:00Z</CreationTime><StackStatus>%s</StackStatus></member></Stacks>`,
			stackID, status))
	})
	client := cloudformation.NewFromConfig(awstest.Config(server.URL))
	got, err := Status(context.Background(), client, stackID)
	require.NoError(t, err)
	assert.Equal(t, "UPDATE_ROLLBACK_IN_PROGRESS", got)
	_, err = Status(context.Background(), client, "arn:aws:cloudformation:ap-northeast-1:123456789012:stack/Other/1")
	assert.ErrorContains(t, err, "ValidationError")
	for give, want := range map[string]bool{
		"UPDATE_ROLLBACK_IN_PROGRESS":                  true,
		"ROLLBACK_IN_PROGRESS":                         true,
		"IMPORT_ROLLBACK_IN_PROGRESS":                  true,
		"UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS": true,
		"UPDATE_IN_PROGRESS":                           false,
		"CREATE_IN_PROGRESS":                           false,
		"UPDATE_COMPLETE_CLEANUP_IN_PROGRESS":          false,
	} {
		assert.Equal(t, want, IsRollback(give), give)
	}
}
