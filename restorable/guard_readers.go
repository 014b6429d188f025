package restorable

import (
	"encoding/json"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsbackup"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsefs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsrds"
)

// The readers of what the guard compares, per guarded type, through the L1's
// getters, so that escape-hatch changes (CfnCluster().SetX) are guarded too.
// They serve restorable's constructs and the plain aws-cdk-lib resources of
// a guarded stack alike (guard_scan.go).

// clusterSource reads a cluster's restore properties.
func clusterSource(cfn awsrds.CfnDBCluster) map[string]interface{} {
	m := map[string]interface{}{}
	put(m, "SnapshotIdentifier", cfn.SnapshotIdentifier())
	put(m, "RestoreType", cfn.RestoreType())
	put(m, "SourceDBClusterIdentifier", cfn.SourceDbClusterIdentifier())
	put(m, "SourceDbClusterResourceId", cfn.SourceDbClusterResourceId())
	put(m, "RestoreToTime", cfn.RestoreToTime())
	put(m, "UseLatestRestorableTime", cfn.UseLatestRestorableTime())
	return m
}

// clusterCreateOnly reads a cluster's other create-only properties, a change
// to any of which makes CloudFormation replace the cluster:
// createOnlyProperties and conditionalCreateOnlyProperties of the
// AWS::RDS::DBCluster schema
// (https://github.com/aws-cloudformation/aws-cloudformation-resource-providers-rds/blob/master/aws-rds-dbcluster/aws-rds-dbcluster.json).
func clusterCreateOnly(cfn awsrds.CfnDBCluster) map[string]interface{} {
	m := map[string]interface{}{}
	put(m, "AvailabilityZones", cfn.AvailabilityZones())
	put(m, "ClusterScalabilityType", cfn.ClusterScalabilityType())
	put(m, "DBClusterIdentifier", cfn.DbClusterIdentifier())
	put(m, "DBSubnetGroupName", cfn.DbSubnetGroupName())
	put(m, "DBSystemId", cfn.DbSystemId())
	put(m, "DatabaseName", cfn.DatabaseName())
	put(m, "Engine", cfn.Engine())
	put(m, "EngineMode", cfn.EngineMode())
	put(m, "GlobalClusterIdentifier", cfn.GlobalClusterIdentifier())
	put(m, "KmsKeyId", cfn.KmsKeyId())
	put(m, "MasterUsername", cfn.MasterUsername())
	put(m, "PubliclyAccessible", cfn.PubliclyAccessible())
	put(m, "SourceRegion", cfn.SourceRegion())
	put(m, "StorageEncrypted", cfn.StorageEncrypted())
	return m
}

// fileSystemCreateOnly reads the createOnlyProperties of the
// AWS::EFS::FileSystem schema: a change to any of them replaces the file
// system with an empty one.
func fileSystemCreateOnly(cfn awsefs.CfnFileSystem) map[string]interface{} {
	m := map[string]interface{}{}
	put(m, "AvailabilityZoneName", cfn.AvailabilityZoneName())
	put(m, "Encrypted", cfn.Encrypted())
	put(m, "KmsKeyId", cfn.KmsKeyId())
	put(m, "PerformanceMode", cfn.PerformanceMode())
	// Not create-only, but each can empty or freeze the file system in place:
	// a destination's content is replaced by its source's, and ending a
	// replication leaves the replica behind (internal/guard, replication).
	var protection struct{ ReplicationOverwriteProtection string }
	resolveInto(cfn, cfn.FileSystemProtection(), &protection)
	if protection.ReplicationOverwriteProtection == "DISABLED" {
		m["ReplicationOverwriteProtection"] = "DISABLED"
	}
	var replication struct {
		Destinations []struct{ FileSystemId, Region string }
	}
	resolveInto(cfn, cfn.ReplicationConfiguration(), &replication)
	for _, d := range replication.Destinations {
		if d.FileSystemId != "" {
			m["ReplicationDestination"] = d.FileSystemId + "@" + d.Region
		}
	}
	return m
}

// globalClusterCreateOnly reads the createOnlyProperties of the
// AWS::RDS::GlobalCluster schema. The source cluster is usually the stack's
// own cluster, whose ARN is a reference: the guard records the reference's
// text, not the reference, since the cluster waits for the guard.
func globalClusterCreateOnly(cfn awsrds.CfnGlobalCluster) map[string]interface{} {
	m := map[string]interface{}{}
	put(m, "GlobalClusterIdentifier", cfn.GlobalClusterIdentifier())
	if src := cfn.SourceDbClusterIdentifier(); src != nil {
		raw, _ := json.Marshal(awscdk.Stack_Of(cfn).Resolve(src))
		m["SourceDBClusterIdentifier"] = string(raw)
	}
	put(m, "Engine", cfn.Engine())
	put(m, "StorageEncrypted", cfn.StorageEncrypted())
	return m
}

// resolveInto decodes a property of an L1, as the template renders it, into v.
func resolveInto(r awscdk.CfnResource, property interface{}, v interface{}) {
	if property == nil {
		return
	}
	raw, err := json.Marshal(awscdk.Stack_Of(r).Resolve(property))
	if err == nil {
		_ = json.Unmarshal(raw, v)
	}
}

// vaultCreateOnly reads the createOnlyProperties of the
// AWS::Backup::BackupVault schema.
func vaultCreateOnly(cfn awsbackup.CfnBackupVault) map[string]interface{} {
	m := map[string]interface{}{}
	put(m, "BackupVaultName", cfn.BackupVaultName())
	put(m, "EncryptionKeyArn", cfn.EncryptionKeyArn())
	return m
}

// plainReaders returns the readers of an L1 of a guarded type that no
// restorable construct owns, or false for an L1 the guard cannot read (a
// resource of a guarded type made with awscdk.NewCfnResource, or included
// from a template), which it still counts as present.
func plainReaders(r awscdk.CfnResource) (source, createOnly func() map[string]interface{}, ok bool) {
	empty := func() map[string]interface{} { return map[string]interface{}{} }
	switch l1 := r.(type) {
	case awsrds.CfnDBCluster:
		return func() map[string]interface{} { return clusterSource(l1) }, func() map[string]interface{} { return clusterCreateOnly(l1) }, true
	case awsefs.CfnFileSystem:
		return empty, func() map[string]interface{} { return fileSystemCreateOnly(l1) }, true
	case awsbackup.CfnBackupVault:
		return empty, func() map[string]interface{} { return vaultCreateOnly(l1) }, true
	case awsrds.CfnGlobalCluster:
		return empty, func() map[string]interface{} { return globalClusterCreateOnly(l1) }, true
	case awsbackup.CfnLogicallyAirGappedBackupVault:
		return empty, func() map[string]interface{} { return airGapCreateOnly(l1) }, true
	}
	return nil, nil, false
}
