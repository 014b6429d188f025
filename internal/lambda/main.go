// Command lambda is the restorable Lambda handler, built at synth for
// provided.al2023 on arm64 (see restorable's handler build). One binary serves
// every role; the function's RESTORABLE_HANDLER environment variable picks it.
package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/cfn"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/backup"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/datasync"
	"github.com/aws/aws-sdk-go-v2/service/efs"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/restorable-cdk/restorable/internal/efsrestore"
	"github.com/restorable-cdk/restorable/internal/guard"
	"github.com/restorable-cdk/restorable/internal/mover"
)

// HandlerEnv names the environment variable that selects the handler.
const HandlerEnv = "RESTORABLE_HANDLER"

func main() {
	switch role := os.Getenv(HandlerEnv); role {
	case "guard":
		cfg, err := config.LoadDefaultConfig(context.Background())
		if err != nil {
			log.Fatalf("load AWS config: %v", err)
		}
		stacks := stackReader{cloudformation.NewFromConfig(cfg)}
		lambda.Start(func(ctx context.Context, e cfn.Event) (guard.Response, error) {
			return guard.Handle(ctx, stacks, guard.Event{
				RequestType:           string(e.RequestType),
				StackID:               e.StackID,
				PhysicalResourceID:    e.PhysicalResourceID,
				ResourceProperties:    e.ResourceProperties,
				OldResourceProperties: e.OldResourceProperties,
			}, log.Printf)
		})
	case "efs-restore-start", "efs-restore-complete":
		cfg, err := config.LoadDefaultConfig(context.Background())
		if err != nil {
			log.Fatalf("load AWS config: %v", err)
		}
		h := efsrestore.Handler{Backup: backup.NewFromConfig(cfg), Lambda: awslambda.NewFromConfig(cfg),
			EFS: efs.NewFromConfig(cfg), DataSync: datasync.NewFromConfig(cfg), Log: log.Printf}
		if role == "efs-restore-start" {
			lambda.Start(h.OnEvent)
		} else {
			lambda.Start(h.IsComplete)
		}
	case "efs-mover":
		m := mover.Mover{Root: os.Getenv(MountEnv), Now: time.Now}
		if m.Root == "" {
			log.Fatalf("%s is not set", MountEnv)
		}
		lambda.Start(m.Handle)
	default:
		log.Fatalf("%s=%q: unknown handler", HandlerEnv, role)
	}
}

// MountEnv names the environment variable with the mover's mount path.
const MountEnv = "RESTORABLE_MOUNT"

// stackReader implements guard.Stacks with the CloudFormation API.
type stackReader struct{ client *cloudformation.Client }

func (s stackReader) StackStatus(ctx context.Context, stackID string) (string, error) {
	out, err := s.client.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(stackID)})
	if err != nil {
		return "", err
	}
	if len(out.Stacks) != 1 {
		return "", fmt.Errorf("DescribeStacks %s returned %d stacks", stackID, len(out.Stacks))
	}
	return string(out.Stacks[0].StackStatus), nil
}

func (s stackReader) PhysicalID(ctx context.Context, stackID, logicalID string) (string, error) {
	out, err := s.client.DescribeStackResource(ctx, &cloudformation.DescribeStackResourceInput{
		StackName: aws.String(stackID), LogicalResourceId: aws.String(logicalID),
	})
	if err != nil {
		return "", err
	}
	return aws.ToString(out.StackResourceDetail.PhysicalResourceId), nil
}
