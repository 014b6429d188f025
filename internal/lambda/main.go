// Command lambda is the restorable Lambda handler, built at synth for
// provided.al2023 on arm64 (see restorable's handler build). One binary serves
// every function; the function's RESTORABLE_HANDLER environment variable picks
// the handler.
package main

import (
	"context"
	"encoding/json"
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
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/rdsdata"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/restorable-cdk/restorable/internal/contract"
	"github.com/restorable-cdk/restorable/internal/drill"
	"github.com/restorable-cdk/restorable/internal/efsrestore"
	"github.com/restorable-cdk/restorable/internal/failover"
	"github.com/restorable-cdk/restorable/internal/guard"
	"github.com/restorable-cdk/restorable/internal/mover"
)

func main() {
	switch role := os.Getenv(contract.EnvHandler); role {
	case contract.HandlerGuard:
		cfg := awsConfig()
		c := guard.Clients{CloudFormation: cloudformation.NewFromConfig(cfg), RDS: rds.NewFromConfig(cfg),
			EFS: efs.NewFromConfig(cfg), Backup: backup.NewFromConfig(cfg)}
		lambda.Start(guardHandler(c))
	case contract.HandlerEFSRestore:
		cfg := awsConfig()
		h := efsrestore.Handler{Backup: backup.NewFromConfig(cfg), EFS: efs.NewFromConfig(cfg), DataSync: datasync.NewFromConfig(cfg),
			Lambda: awslambda.NewFromConfig(cfg), SFN: sfn.NewFromConfig(cfg), CloudFormation: cloudformation.NewFromConfig(cfg), SNS: sns.NewFromConfig(cfg), Log: log.Printf}
		lambda.Start(restoreHandler(h))
	case contract.HandlerEFSCleaner:
		cfg := awsConfig()
		h := efsrestore.Handler{EFS: efs.NewFromConfig(cfg), DataSync: datasync.NewFromConfig(cfg), Log: log.Printf}
		lambda.Start(h.Clean)
	case contract.HandlerMover:
		m := mover.Mover{Root: os.Getenv(contract.EnvMount), Now: time.Now, LeaseFor: contract.MoverLease}
		if m.Root == "" {
			log.Fatalf("%s is not set", contract.EnvMount)
		}
		lambda.Start(m.Handle)
	case contract.HandlerDrill:
		cfg := awsConfig()
		h := drill.Handler{Backup: backup.NewFromConfig(cfg), RDS: rds.NewFromConfig(cfg), Data: rdsdata.NewFromConfig(cfg), EFS: efs.NewFromConfig(cfg),
			Lambda: awslambda.NewFromConfig(cfg), SNS: sns.NewFromConfig(cfg), Metrics: os.Stdout, Log: log.Printf}
		lambda.Start(h.Step)
	case contract.HandlerGlobalSwitch:
		cfg := awsConfig()
		// Lambda sets AWS_LAMBDA_FUNCTION_NAME; the function times out at 15
		// minutes, so one invocation polls for 13 before it hands over.
		h := failover.Handler{RDS: rds.NewFromConfig(cfg), EFS: efs.NewFromConfig(cfg), Lambda: awslambda.NewFromConfig(cfg), CloudFormation: cloudformation.NewFromConfig(cfg),
			FunctionName: os.Getenv("AWS_LAMBDA_FUNCTION_NAME"), Poll: 15 * time.Second, Slice: 13 * time.Minute, Log: log.Printf}
		lambda.Start(h.Handle)
	case contract.HandlerDrillFiles:
		lambda.Start(drill.Walk(contract.DrillMount, time.Now))
	default:
		log.Fatalf("%s=%q: unknown handler", contract.EnvHandler, role)
	}
}

func awsConfig() aws.Config {
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		log.Fatalf("load AWS config: %v", err)
	}
	return cfg
}

// guardHandler answers both callers of the guard function: CloudFormation,
// with a custom resource event, and the hourly schedule that measures the
// stack's recovery point ages (contract.ProbeEvent), whose metrics go to
// standard output in embedded metric format.
func guardHandler(c guard.Clients) func(context.Context, json.RawMessage) (interface{}, error) {
	onEvent := cfn.LambdaWrap(func(ctx context.Context, e cfn.Event) (string, map[string]interface{}, error) {
		return c.Handle(ctx, e, log.Printf)
	})
	return func(ctx context.Context, raw json.RawMessage) (interface{}, error) {
		var probe contract.ProbeEvent
		if err := json.Unmarshal(raw, &probe); err == nil && probe.Probe == contract.ProbeValue {
			return nil, c.Probe(ctx, probe, os.Stdout, log.Printf)
		}
		var e cfn.Event
		if err := json.Unmarshal(raw, &e); err != nil {
			return nil, fmt.Errorf("guard: neither a CloudFormation event nor a probe: %w", err)
		}
		return onEvent(ctx, e)
	}
}

// restoreHandler answers both callers of the EFS restore function:
// CloudFormation, with a custom resource event that carries a ResponseURL, and
// the restore's state machine, with a step.
func restoreHandler(h efsrestore.Handler) func(context.Context, json.RawMessage) (interface{}, error) {
	onEvent := cfn.LambdaWrap(h.OnEvent)
	return func(ctx context.Context, raw json.RawMessage) (interface{}, error) {
		var probe struct {
			RequestType string `json:"RequestType"`
			ResponseURL string `json:"ResponseURL"`
			Action      string `json:"action"`
		}
		if err := json.Unmarshal(raw, &probe); err != nil {
			return nil, fmt.Errorf("efsrestore: unreadable event: %w", err)
		}
		if probe.RequestType != "" && probe.ResponseURL != "" {
			var e cfn.Event
			if err := json.Unmarshal(raw, &e); err != nil {
				return nil, err
			}
			return onEvent(ctx, e)
		}
		var in efsrestore.StepInput
		if err := json.Unmarshal(raw, &in); err != nil {
			return nil, fmt.Errorf("efsrestore: unreadable step: %w", err)
		}
		switch probe.Action {
		case efsrestore.ActionStep:
			return h.Step(ctx, in)
		case efsrestore.ActionFail:
			return h.Fail(ctx, in)
		}
		return nil, fmt.Errorf("efsrestore: unknown action %q", probe.Action)
	}
}
