// Package cfnstack reads what the handlers need to know about the stack whose
// custom resource they answer: its status, to tell CloudFormation's rollback
// from a deploy.
package cfnstack

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
)

// Status is the stack's status (DescribeStacks by the stack's ID, which
// names this stack only, not a later one of the same name).
func Status(ctx context.Context, client *cloudformation.Client, stackID string) (string, error) {
	out, err := client.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(stackID)})
	if err != nil {
		return "", err
	}
	if len(out.Stacks) != 1 {
		return "", fmt.Errorf("DescribeStacks %s returned %d stacks", stackID, len(out.Stacks))
	}
	return string(out.Stacks[0].StackStatus), nil
}

// IsRollback reports whether a stack status is one of CloudFormation's
// rollbacks (of a creation, an update or an import, or the cleanup after one):
// every change a handler sees then is CloudFormation restoring the previous
// state. The guard never refuses it, and the EFS restore never starts a
// restore in it (StackStatus:
// https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_Stack.html).
func IsRollback(status string) bool {
	return strings.Contains(status, "ROLLBACK")
}
