package restorable_test

import (
	"log"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsrds"
	"github.com/aws/jsii-runtime-go"

	"github.com/restorable-cdk/restorable/restorable"
)

// A restorable cluster whose restore source comes from `cdk deploy -c ...`. The
// example compiles with the tests; it has no output to check, so it does not run
// (which would start the jsii kernel in this package's tests).
func ExampleNewAuroraCluster() {
	app := awscdk.NewApp(nil)
	stack := awscdk.NewStack(app, jsii.String("AppStack"), nil)
	vpc := awsec2.NewVpc(stack, jsii.String("Vpc"), nil)

	src, err := restorable.AuroraSourceFromContext(stack, "Database")
	if err != nil {
		log.Fatal(err)
	}
	db := restorable.NewAuroraCluster(stack, jsii.String("Database"), &restorable.AuroraClusterProps{
		DatabaseClusterProps: awsrds.DatabaseClusterProps{
			Engine: awsrds.DatabaseClusterEngine_AuroraPostgres(&awsrds.AuroraPostgresClusterEngineProps{
				Version: awsrds.AuroraPostgresEngineVersion_VER_16_4(),
			}),
			Vpc:    vpc,
			Writer: awsrds.ClusterInstance_ServerlessV2(jsii.String("writer"), nil),
		},
		Source: src,
	})
	awscdk.NewCfnOutput(stack, jsii.String("Endpoint"), &awscdk.CfnOutputProps{Value: db.ClusterEndpoint().Hostname()})
	app.Synth(nil)
}

// Restoring from a snapshot in code rather than from the context.
func ExampleAuroraSource() {
	_ = restorable.AuroraSource{SnapshotIdentifier: "arn:aws:rds:ap-northeast-1:123456789012:cluster-snapshot:before-incident"}
	_ = restorable.AuroraSource{RestoreToTime: "2026-11-20T19:15:22+09:00", SourceClusterIdentifier: "app-db-abc123"}
	_ = restorable.AuroraSource{Clone: true, SourceClusterIdentifier: "prod-db"}
}
