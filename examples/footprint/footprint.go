// Package footprint is the app that measures what restorable costs: a VPC, N
// Aurora PostgreSQL clusters (a writer and a reader each), N EFS file systems,
// and a daily and monthly AWS Backup plan, written once with plain aws-cdk-lib
// L2s and once with restorable. `make bench` synthesizes both, as whole
// processes, and test/footprint_test.go counts their resources.
package footprint

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsbackup"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsefs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsrds"
	"github.com/aws/jsii-runtime-go"

	"github.com/restorable-cdk/restorable/restorable"
)

// Variant is how the app is written.
type Variant string

const (
	// Plain uses aws-cdk-lib's L2s only.
	Plain Variant = "plain"
	// Restorable uses restorable's constructs.
	Restorable Variant = "restorable"
	// RestorableDrills is Restorable with monthly validated drills.
	RestorableDrills Variant = "drills"
)

// New builds the app's stack with n clusters and n file systems.
func New(app awscdk.App, variant Variant, n int) awscdk.Stack {
	stack := awscdk.NewStack(app, jsii.String("FootprintStack"), &awscdk.StackProps{
		Env: &awscdk.Environment{Account: jsii.String("123456789012"), Region: jsii.String("ap-northeast-1")},
	})
	vpc := awsec2.NewVpc(stack, jsii.String("Vpc"), &awsec2.VpcProps{MaxAzs: jsii.Number(2), NatGateways: jsii.Number(1)})
	clusterProps := func() awsrds.DatabaseClusterProps {
		return awsrds.DatabaseClusterProps{
			Engine:  awsrds.DatabaseClusterEngine_AuroraPostgres(&awsrds.AuroraPostgresClusterEngineProps{Version: awsrds.AuroraPostgresEngineVersion_VER_16_4()}),
			Vpc:     vpc,
			Writer:  awsrds.ClusterInstance_ServerlessV2(jsii.String("writer"), nil),
			Readers: &[]awsrds.IClusterInstance{awsrds.ClusterInstance_ServerlessV2(jsii.String("reader"), nil)},
		}
	}
	switch variant {
	case Plain:
		plan := awsbackup.NewBackupPlan(stack, jsii.String("Plan"), &awsbackup.BackupPlanProps{})
		for _, r := range restorable.DefaultRules() {
			plan.AddRule(awsbackup.NewBackupPlanRule(r))
		}
		var resources []awsbackup.BackupResource
		for i := 0; i < n; i++ {
			db := awsrds.NewDatabaseCluster(stack, jsii.String(fmt.Sprintf("Database%d", i)), ptr(clusterProps()))
			fs := awsefs.NewFileSystem(stack, jsii.String(fmt.Sprintf("Files%d", i)), &awsefs.FileSystemProps{Vpc: vpc})
			resources = append(resources, awsbackup.BackupResource_FromRdsDatabaseCluster(db), awsbackup.BackupResource_FromEfsFileSystem(fs))
		}
		plan.AddSelection(jsii.String("Selection"), &awsbackup.BackupSelectionOptions{Resources: &resources})
	case Restorable, RestorableDrills:
		var protection *restorable.Protection
		if variant == RestorableDrills {
			protection = restorable.ConfigureStackProtection(stack, &restorable.ProtectionProps{RestoreTesting: &restorable.RestoreTestingProps{}})
		} else {
			protection = restorable.StackProtection(stack)
		}
		for i := 0; i < n; i++ {
			restorable.NewAuroraCluster(stack, jsii.String(fmt.Sprintf("Database%d", i)), &restorable.AuroraClusterProps{
				DatabaseClusterProps: clusterProps(), Protection: protection,
			})
			restorable.NewFileSystem(stack, jsii.String(fmt.Sprintf("Files%d", i)), &restorable.FileSystemProps{
				FileSystemProps: awsefs.FileSystemProps{Vpc: vpc},
			})
		}
	default:
		panic(fmt.Sprintf("footprint: unknown variant %q (plain or restorable)", variant))
	}
	return stack
}

func ptr[T any](v T) *T { return &v }
