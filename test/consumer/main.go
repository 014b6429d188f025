// Command consumer is a CDK app in its own Go module that depends on restorable,
// as a user's app does. test/consumer_test.go runs it with restorable served from
// a module proxy, so that restorable sits in the read-only module cache and its
// Lambda handler is built from there. `go run .` here uses the replace in go.mod.
package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsrds"
	"github.com/aws/jsii-runtime-go"

	"github.com/restorable-cdk/restorable/restorable"
)

func main() {
	restorable.Run(func(app awscdk.App) error {
		stack := awscdk.NewStack(app, jsii.String("ConsumerStack"), &awscdk.StackProps{
			Env: &awscdk.Environment{Account: jsii.String("123456789012"), Region: jsii.String("ap-northeast-1")},
		})
		vpc := awsec2.NewVpc(stack, jsii.String("Vpc"), &awsec2.VpcProps{MaxAzs: jsii.Number(2), NatGateways: jsii.Number(1)})
		props, err := restorable.AuroraClusterFromContext(stack, "Database", restorable.AuroraClusterProps{
			DatabaseClusterProps: awsrds.DatabaseClusterProps{
				Engine: awsrds.DatabaseClusterEngine_AuroraPostgres(&awsrds.AuroraPostgresClusterEngineProps{
					Version: awsrds.AuroraPostgresEngineVersion_VER_16_4(),
				}),
				Vpc:    vpc,
				Writer: awsrds.ClusterInstance_ServerlessV2(jsii.String("writer"), nil),
			},
		})
		if err != nil {
			return err
		}
		restorable.NewAuroraCluster(stack, jsii.String("Database"), props)
		return nil
	})
}
