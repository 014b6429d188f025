package restorable

import (
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// output adds a stack output under c whose logical ID is c's path in its
// stack plus name (for RedmineStack/Database and ClusterIdentifier:
// DatabaseClusterIdentifier), so it is easy to query and stable across
// restores.
func output(c constructs.Construct, name, description string, value *string) {
	// OverrideLogicalId, not CfnOutputProps.Key: Key renames the output in
	// the template only, and the aws:cdk:logicalId metadata the CDK CLI
	// maps to construct paths (cdk diff) would keep the generated ID.
	o := awscdk.NewCfnOutput(c, jsii.String(name), &awscdk.CfnOutputProps{Value: value, Description: jsii.String(description)})
	o.OverrideLogicalId(jsii.String(outputPrefix(c) + name))
}

// Stack outputs of a restorable cluster and file system: the output's logical
// ID is the construct's path in its stack followed by these.
const (
	OutputClusterIdentifier           = "ClusterIdentifier"
	OutputClusterResourceID           = "ClusterResourceId"
	OutputPointInTimeRestoreCommand   = "PointInTimeRestoreCommand"
	OutputListSnapshotsCommand        = "ListSnapshotsCommand"
	OutputStableHostname              = "StableHostname"
	OutputRollbackCommand             = "RollbackCommand"
	OutputGlobalIdentifier            = "GlobalIdentifier"
	OutputGlobalWriterEndpointCommand = "GlobalWriterEndpointCommand"
	OutputFileSystemID                = "FileSystemId"
	OutputListRecoveryPointsCommand   = "ListRecoveryPointsCommand"
)

// addOutputs publishes the current cluster's identifiers and the commands that
// restore it, resolved by CloudFormation, so an operator can copy them from the
// stack outputs. Their logical IDs come from the construct path within the stack
// (for RedmineStack/Database: DatabaseClusterIdentifier, ...), so they are easy
// to query and stable across restores.
func (c *AuroraCluster) addOutputs(path string) {
	id := c.ClusterIdentifier()
	output(c, OutputClusterIdentifier, "Current identifier of "+path+" (it changes with every restore)", id)
	output(c, OutputClusterResourceID, "Resource ID of the current cluster of "+path+", for restoring it after it is deleted", c.ClusterResourceIdentifier())
	output(c, OutputPointInTimeRestoreCommand, "Restores "+path+" to a point in time: replace <time> with an RFC 3339 time or latest",
		awscdk.Fn_Join(jsii.String(""), &[]*string{
			jsii.String("cdk deploy -c " + ContextKey(path, ContextRestoreToTime) + "=<time> -c " + ContextKey(path, ContextRestoreSourceCluster) + "="), id,
		}))
	output(c, OutputListSnapshotsCommand, "Lists the snapshots of the current cluster of "+path+"; restore one with cdk deploy -c "+ContextKey(path, ContextSnapshotArn)+"=<ARN>",
		awscdk.Fn_Join(jsii.String(""), &[]*string{
			jsii.String("aws rds describe-db-cluster-snapshots --db-cluster-identifier "), id,
			jsii.String(" --query 'DBClusterSnapshots[].[SnapshotCreateTime,DBClusterSnapshotArn]' --output text"),
		}))
	if c.writerRecord != nil {
		output(c, OutputStableHostname, "Host name of the writer of "+path+" that no restore changes", c.StableHostname())
	}
	if c.beforeChange.on {
		output(c, OutputRollbackCommand, "Restores "+path+" from the snapshot taken before the last change of its engine, parameters or release", c.rollbackCommand())
	}
}

// addOutputs publishes the file system's ID and the command that lists its
// recovery points.
func (c *FileSystem) addOutputs(path string) {
	output(c, OutputFileSystemID, "ID of the file system "+path, c.fs.FileSystemId())
	output(c, OutputListRecoveryPointsCommand, "Lists the AWS Backup recovery points of "+path+"; restore one with cdk deploy -c "+ContextKey(path, ContextEFSRecoveryPointArn)+"=<ARN>",
		awscdk.Fn_Join(jsii.String(""), &[]*string{
			jsii.String("aws backup list-recovery-points-by-resource --resource-arn "), c.fs.FileSystemArn(),
			jsii.String(" --query 'RecoveryPoints[].[CreationDate,RecoveryPointArn]' --output text"),
		}))
}

// outputPrefix is the construct's path inside its stack with everything but
// letters and digits removed: "RedmineStack/Database" gives "Database".
func outputPrefix(c constructs.Construct) string {
	rel := strings.TrimPrefix(strings.TrimPrefix(pathOf(c), pathOf(stackOf(c))), "/")
	var b strings.Builder
	for _, r := range rel {
		if r < 128 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			b.WriteRune(r)
		}
	}
	return b.String()
}
