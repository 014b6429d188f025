// Package restorable provides AWS CDK constructs whose data can be restored in
// place: a restore is a context value plus `cdk deploy`, and the stack keeps
// owning every restored resource.
//
// # Overview
//
// NewAuroraCluster is a drop-in replacement for awsrds.NewDatabaseCluster, and
// NewFileSystem for awsefs.NewFileSystem: their props embed the L2's props.
// An Aurora cluster restores from a snapshot (or an AWS Backup recovery point),
// a point in time or a clone; the AWS::RDS::DBCluster keeps its construct path
// and logical ID in every mode, so a restore is an in-place update of the
// stack, and every reference (endpoint, secret) follows in the same deploy. A
// file system restores an AWS Backup recovery point into itself, inside the
// deploy. Every stack gets one replacement guard, which refuses a deploy that
// would replace or delete a cluster, file system or backup vault with its data
// unless the deploy names that resource, and which snapshots a cluster before
// a risky change.
//
// For a lost region, AuroraClusterProps.Global puts a cluster into an Aurora
// global database (a primary, and secondaries in other stacks and regions,
// headless or with readers), and FileSystemProps.ReplicateTo and ReplicaOf
// keep an EFS replica in the recovery stack. The writer moves with
// `cdk deploy -c '<path>.switchoverTo=<region>'` (no data lost), or
// `-c '<path>.failoverTo=<region>' -c '<path>.allowDataLoss=true'` when the
// other region is down; the key goes to the resource that takes over
// (docs/global.md).
//
// # Usage
//
// Read everything a construct takes from the context into its props, once,
// and wrap the app in Run, which exits with one message on bad input:
//
//	restorable.Run(func(app awscdk.App) error {
//		stack := awscdk.NewStack(app, jsii.String("AppStack"), nil)
//		props, err := restorable.AuroraClusterFromContext(stack, "Database", restorable.AuroraClusterProps{
//			DatabaseClusterProps: awsrds.DatabaseClusterProps{Engine: engine, Vpc: vpc, Writer: writer},
//			Protection:           restorable.StackProtection(stack),
//		})
//		if err != nil {
//			return err
//		}
//		restorable.NewAuroraCluster(stack, jsii.String("Database"), props)
//		return nil
//	})
//
// Then restore with one command:
//
//	cdk deploy -c snapshotArn=arn:aws:rds:ap-northeast-1:123456789012:cluster-snapshot:before-incident
//	cdk deploy -c restoreToTime=2026-11-20T10:15:22Z -c restoreSourceCluster=<cluster identifier>
//	cdk deploy -c efsRecoveryPointArn=arn:aws:backup:ap-northeast-1:123456789012:recovery-point:<id>
//
// The bare keys apply when the app has exactly one restorable resource of the
// kind; the per-construct keys ("AppStack/Database.snapshotArn") name one of
// several. See the Context* constants and docs/reference.md.
//
// # Gotchas
//
//   - Keep the restore source in cdk.json for every later deploy, until the next
//     restore: without it CloudFormation would create an empty cluster and
//     delete the restored one. The guard refuses that deploy.
//   - Switching an existing plain L2 to restorable: same scope and id, and
//     Adopt: true; otherwise restorable's defaults would replace it (refused).
//   - Do not set ClusterIdentifier: a restore creates the new cluster before it
//     deletes the old one, so a fixed name would collide.
//   - Deletion protection is on by default, so a restore leaves the old cluster
//     in place for you to check and delete.
//   - The constructs are not awsrds.IDatabaseCluster or awsefs.IFileSystem
//     themselves (jsii cannot dispatch the whole interface to Go); pass
//     Cluster() or FileSystem() where one is needed.
//   - Misuse panics with an *InputError that names the setting, the value, the
//     problem and the fix, as CDK errors reach Go as panics; Run prints it alone.
package restorable
