package restorable_test

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsefs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsrds"
	"github.com/aws/jsii-runtime-go"

	"github.com/restorable-cdk/restorable/restorable"
)

func TestMain(m *testing.M) {
	// No CloudFormation validation in this package's synths (aws-cdk-lib's
	// synthesis-validation.js reads CDK_VALIDATION when the kernel starts):
	// its engine took 4 s of the package's time, and the test package
	// validates every template of every mode (issue 24).
	os.Setenv("CDK_VALIDATION", "false")
	code := m.Run()
	jsii.Close()
	os.Exit(code)
}

// A restorable cluster whose restore source comes from `cdk deploy -c ...`:
// here the app runs as `cdk deploy -c snapshotArn=before-incident` would run it.
func ExampleAuroraClusterFromContext() {
	app := awscdk.NewApp(&awscdk.AppProps{Context: &map[string]interface{}{"snapshotArn": "before-incident"}})
	stack := awscdk.NewStack(app, jsii.String("AppStack"), nil)
	vpc := awsec2.NewVpc(stack, jsii.String("Vpc"), &awsec2.VpcProps{MaxAzs: jsii.Number(2)})

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
		fmt.Println(err)
		return
	}
	db := restorable.NewAuroraCluster(stack, jsii.String("Database"), props)
	fmt.Println(db.Kind(), props.Source.SnapshotIdentifier)
	// Output: snapshot before-incident
}

// Restoring from a snapshot, a point in time or a clone in code rather than
// from the context.
func ExampleAuroraSource() {
	for _, src := range []restorable.AuroraSource{
		{},
		{SnapshotIdentifier: "arn:aws:rds:ap-northeast-1:123456789012:cluster-snapshot:before-incident"},
		{RestoreToTime: "2026-11-20T19:15:22+09:00", SourceClusterIdentifier: "app-db-abc123"},
		{Clone: true, SourceClusterIdentifier: "prod-db"},
	} {
		fmt.Println(src.Kind())
	}
	// Output:
	// new
	// snapshot
	// point-in-time
	// clone
}

// A restorable file system whose recovery point comes from
// `cdk deploy -c efsRecoveryPointArn=...`: the deploy restores it into this
// same file system.
func ExampleFileSystemFromContext() {
	const point = "arn:aws:backup:ap-northeast-1:123456789012:recovery-point:1EB3B5E7-9EB0-435A-A80B-108B488B0D45"
	app := awscdk.NewApp(&awscdk.AppProps{Context: &map[string]interface{}{"efsRecoveryPointArn": point}})
	stack := awscdk.NewStack(app, jsii.String("AppStack"), &awscdk.StackProps{
		Env: &awscdk.Environment{Account: jsii.String("123456789012"), Region: jsii.String("ap-northeast-1")},
	})
	vpc := awsec2.NewVpc(stack, jsii.String("Vpc"), &awsec2.VpcProps{MaxAzs: jsii.Number(2)})

	props, err := restorable.FileSystemFromContext(stack, "Files", restorable.FileSystemProps{
		FileSystemProps: awsefs.FileSystemProps{Vpc: vpc},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	restorable.NewFileSystem(stack, jsii.String("Files"), props)
	fmt.Println(props.RecoveryPointArn == point)
	// Output: true
}

// A value that cannot be right fails with the setting, the value, the problem
// and the fix.
func ExampleAuroraClusterFromContext_badTime() {
	app := awscdk.NewApp(&awscdk.AppProps{Context: &map[string]interface{}{"restoreToTime": "2026-11-20 10:15", "restoreSourceCluster": "prod-db"}})
	stack := awscdk.NewStack(app, jsii.String("AppStack"), nil)
	vpc := awsec2.NewVpc(stack, jsii.String("Vpc"), &awsec2.VpcProps{MaxAzs: jsii.Number(2)})
	props, err := restorable.AuroraClusterFromContext(stack, "Database", restorable.AuroraClusterProps{
		DatabaseClusterProps: awsrds.DatabaseClusterProps{
			Engine: awsrds.DatabaseClusterEngine_AuroraPostgres(&awsrds.AuroraPostgresClusterEngineProps{Version: awsrds.AuroraPostgresEngineVersion_VER_16_4()}),
			Vpc:    vpc,
			Writer: awsrds.ClusterInstance_ServerlessV2(jsii.String("writer"), nil),
		},
	})
	if err == nil {
		defer func() { fmt.Println(strings.SplitN(fmt.Sprint(recover()), ". Fix:", 2)[0]) }()
		restorable.NewAuroraCluster(stack, jsii.String("Database"), props)
	}
	// Output: restorable: AppStack/Database: restoreToTime="2026-11-20 10:15": is not a time in RFC 3339 format with a time zone
}
