package test

import (
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsrds"
	"github.com/aws/jsii-runtime-go"

	"github.com/restorable-cdk/restorable/restorable"
)

// The synth benchmarks build a fresh app with a VPC and one Aurora cluster per
// iteration and synthesize it, once with plain awsrds L2s and once with
// restorable, so that the cost of restorable's extra resources and checks shows.
// Run them with `make bench`.

func benchmarkSynth(b *testing.B, build func(stack awscdk.Stack)) {
	b.Helper()
	for i := 0; i < b.N; i++ {
		app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(b.TempDir())})
		stack := awscdk.NewStack(app, jsii.String("AppStack"), &awscdk.StackProps{
			Env: &awscdk.Environment{Account: jsii.String(account), Region: jsii.String(region)},
		})
		build(stack)
		app.Synth(nil)
	}
}

func BenchmarkSynthPlainDatabaseCluster(b *testing.B) {
	benchmarkSynth(b, func(stack awscdk.Stack) {
		awsrds.NewDatabaseCluster(stack, jsii.String("Database"), ptr(clusterProps(stack)))
	})
}

func BenchmarkSynthPlainDatabaseClusterFromSnapshot(b *testing.B) {
	benchmarkSynth(b, func(stack awscdk.Stack) {
		p := clusterProps(stack)
		awsrds.NewDatabaseClusterFromSnapshot(stack, jsii.String("Database"), &awsrds.DatabaseClusterFromSnapshotProps{
			Engine: p.Engine, Vpc: p.Vpc, Writer: p.Writer, SnapshotIdentifier: jsii.String(snapshotARN),
		})
	})
}

func BenchmarkSynthRestorableNew(b *testing.B) {
	benchmarkSynth(b, func(stack awscdk.Stack) {
		restorable.NewAuroraCluster(stack, jsii.String("Database"), &restorable.AuroraClusterProps{DatabaseClusterProps: clusterProps(stack)})
	})
}

func BenchmarkSynthRestorableSnapshot(b *testing.B) {
	benchmarkSynth(b, func(stack awscdk.Stack) {
		restorable.NewAuroraCluster(stack, jsii.String("Database"), &restorable.AuroraClusterProps{
			DatabaseClusterProps: clusterProps(stack),
			Source:               restorable.AuroraSource{SnapshotIdentifier: snapshotARN},
		})
	})
}
