// Package restorable provides AWS CDK constructs whose data can be restored in
// place: a restore is a context value plus `cdk deploy`, and the stack keeps
// owning every restored resource.
//
// # Overview
//
// NewAuroraCluster is a drop-in replacement for awsrds.NewDatabaseCluster. Its
// AuroraClusterProps embed awsrds.DatabaseClusterProps and add one restore
// Source: a DB cluster snapshot (or an AWS Backup recovery point of the
// cluster), a point in time, or a clone of another cluster. Whatever the source,
// the AWS::RDS::DBCluster keeps its construct path and logical ID, and so do its
// instances, security group, subnet group and parameter group. Changing the
// source is therefore an in-place update of the stack: CloudFormation creates
// the restored cluster, repoints every reference (the service's endpoint, the
// secret it reads), and retires the old cluster, keeping its data.
//
// # Usage
//
// Read the source from the CDK context in the app, and pass it to the construct:
//
//	src, err := restorable.AuroraSourceFromContext(stack, "Database")
//	if err != nil {
//		return err
//	}
//	db := restorable.NewAuroraCluster(stack, jsii.String("Database"), &restorable.AuroraClusterProps{
//		DatabaseClusterProps: awsrds.DatabaseClusterProps{Engine: engine, Vpc: vpc, Writer: writer},
//		Source:               src,
//	})
//
// Then restore with one command:
//
//	cdk deploy -c snapshotArn=arn:aws:rds:ap-northeast-1:123456789012:cluster-snapshot:before-incident
//	cdk deploy -c restoreToTime=2026-11-20T10:15:22Z -c restoreSourceCluster=<cluster identifier>
//
// The bare keys apply when the app has exactly one restorable cluster; the
// per-construct keys ("AppStack/Database.snapshotArn") restore one cluster of
// several. See the Context* constants.
//
// Consumers use Cluster(), Connections(), ClusterEndpoint() and Secret(). With
// the default RDS-managed master password, CloudFormation gives a restored
// cluster a new secret, and everything that references Secret() follows it on
// the same deploy.
//
// # Files, backups and disaster recovery
//
// NewFileSystem is a drop-in for awsefs.NewFileSystem that joins the stack's
// AWS Backup protection (StackProtection, ConfigureStackProtection) and restores
// a recovery point inside `cdk deploy` (FileSystemRecoveryPointFromContext). A
// protection can copy every recovery point to a vault in another region
// (NewRecoveryVault, RecoveryVaultArn) and rehearse restores on a schedule
// (RestoreTestingProps). AuroraClusterProps.StableEndpoint gives the cluster a
// host name that no restore changes.
//
// # Gotchas
//
//   - Keep the restore source in cdk.json for every later deploy, until the next
//     restore. Without it CloudFormation creates an empty cluster and deletes the
//     restored one (the AWS::RDS::DBCluster SnapshotIdentifier documentation).
//   - Do not set ClusterIdentifier: a restore creates the new cluster before it
//     deletes the old one, so a fixed name would collide. NewAuroraCluster panics.
//   - Deletion protection is on by default, so a restore leaves the old cluster
//     in place (without instances) for you to check and delete.
//   - The construct is not an awsrds.IDatabaseCluster itself (jsii cannot
//     dispatch the whole interface to Go); pass Cluster() where one is needed.
//   - Misuse panics with an *InputError that names the setting, the value and
//     the fix, as CDK errors reach Go as panics.
package restorable
