package restorable

import (
	"fmt"
	"regexp"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsefs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/restorable-cdk/restorable/internal/contract"
)

// EFS replication keeps a read-only copy of a file system in another region,
// most changes there within 15 minutes
// (https://docs.aws.amazon.com/efs/latest/ug/efs-replication.html). The
// replica is a restorable FileSystem in the recovery region's stack, so that
// stack keeps owning it after a failover; the source replicates into it
// (https://docs.aws.amazon.com/efs/latest/ug/replicate-existing-destination.html).

// FileSystemReplication replicates a file system into a replica in another
// region (the source's side).
type FileSystemReplication struct {
	// Region is the replica's region. Required.
	Region string
	// FileSystemId is the replica's ID: the <Name>FileSystemId output of the
	// restorable FileSystem with ReplicaOf in Region's stack, deployed first.
	// Required.
	FileSystemId string
}

// FileSystemReplica makes the file system the destination of a replication
// (the replica's side): it is created with replication overwrite protection
// DISABLED, which EFS requires of an existing destination, and is read-only
// while the source replicates into it. EFS replaces its content with the
// source's: give it only to a new file system.
type FileSystemReplica struct {
	// SourceRegion is the source's region. Required.
	SourceRegion string
}

var fileSystemIDPattern = regexp.MustCompile(`^fs-[0-9a-f]{8,40}$`)

// validateReplication checks the replication settings in the stack's region.
func validateReplication(region string, p *FileSystemProps) error {
	switch {
	case p.ReplicationConfiguration != nil || p.ReplicationOverwriteProtection != "":
		return inputErr("ReplicationConfiguration", "set", "replicates through aws-cdk-lib's props, which restorable does not guard or fail over",
			"use FileSystemProps.ReplicateTo on the source and ReplicaOf on the replica")
	case p.ReplicateTo != nil && p.ReplicaOf != nil:
		return inputErr("ReplicateTo", p.ReplicateTo.FileSystemId, "is set together with ReplicaOf, but EFS cannot use a destination as a source (https://docs.aws.amazon.com/efs/latest/ug/replicate-existing-destination.html)",
			"set one: ReplicateTo on the source, ReplicaOf on the replica")
	case (p.ReplicateTo != nil || p.ReplicaOf != nil) && isToken(region):
		return inputErr("env.region", "(unresolved)", "is not known at synth, but a replication needs both regions", "give the stack an explicit region")
	}
	if r := p.ReplicateTo; r != nil {
		switch {
		case !regionPattern.MatchString(r.Region) || r.Region == region:
			return inputErr("ReplicateTo.Region", r.Region, "is not another region than this stack's ("+region+")", `give the replica's region, for example "ap-northeast-3"`)
		case !isToken(r.FileSystemId) && !fileSystemIDPattern.MatchString(r.FileSystemId):
			return inputErr("ReplicateTo.FileSystemId", r.FileSystemId, "is not a file system ID",
				"deploy the replica's stack first and give its <Name>FileSystemId output (fs-...)")
		}
	}
	if r := p.ReplicaOf; r != nil {
		switch {
		case !regionPattern.MatchString(r.SourceRegion) || r.SourceRegion == region:
			return inputErr("ReplicaOf.SourceRegion", r.SourceRegion, "is not another region than this stack's ("+region+")", `give the source's region, for example "ap-northeast-1"`)
		case p.RecoveryPointArn != "":
			return inputErr("RecoveryPointArn", p.RecoveryPointArn, "restores into a replica, which is read-only while the source replicates into it",
				"restore the source, or fail over first (-c '<path>.failoverTo=<region>'), then restore")
		case p.Adopt:
			return inputErr("Adopt", "true", "is set on a replica, whose content EFS replaces with the source's", "give ReplicaOf only to a new file system")
		}
	}
	return nil
}

// replication wires the file system's side of a replication.
type replication struct {
	replicaOf  *FileSystemReplica
	switchMode string
	// promoted is the promotion of a deploy that makes the replica writeable.
	promoted awscdk.CustomResource
}

// attachReplication sets the L1's replication properties and, in a deploy
// that asks, the promotion of the replica.
func (c *FileSystem) attachReplication(path string, p *FileSystemProps) {
	if r := p.ReplicateTo; r != nil {
		// https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-efs-filesystem-replicationconfiguration.html
		c.cfn.SetReplicationConfiguration(&awsefs.CfnFileSystem_ReplicationConfigurationProperty{
			Destinations: &[]interface{}{&awsefs.CfnFileSystem_ReplicationDestinationProperty{FileSystemId: jsii.String(r.FileSystemId), Region: jsii.String(r.Region)}},
		})
	}
	mode, _ := readSwitch(c, path, stackRegion(c), p.ReplicaOf != nil, "makes this file system writeable in place of a source, but it is no replica",
		"set FileSystemProps.ReplicaOf, or remove the key")
	c.replication = replication{replicaOf: p.ReplicaOf, switchMode: mode}
	if p.ReplicaOf == nil {
		return
	}
	// https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-efs-filesystem-filesystemprotection.html
	c.cfn.SetFileSystemProtection(&awsefs.CfnFileSystem_FileSystemProtectionProperty{ReplicationOverwriteProtection: jsii.String("DISABLED")})
	awscdk.Annotations_Of(c).AddWarningV2(jsii.String("restorable:replica"), jsii.String(path+
		": a replica of a file system in "+p.ReplicaOf.SourceRegion+": once the source's ReplicateTo names it, EFS replaces its content with the source's and keeps it read-only, until a deploy with -c '"+
		ContextKey(path, ContextSwitchoverTo)+"=<this region>' or failoverTo makes it writeable."))
	if mode == "" {
		return
	}
	stack := awscdk.Stack_Of(c)
	// DeleteReplicationConfiguration names the source, in the other region
	// under an ID EFS generated there; it acts only on its configuration
	// with this replica.
	sources := stack.FormatArn(&awscdk.ArnComponents{Service: jsii.String("elasticfilesystem"), Region: jsii.String(p.ReplicaOf.SourceRegion),
		Resource: jsii.String("file-system"), ResourceName: jsii.String("*")})
	c.replication.promoted = addSwitch(constructs.NewConstruct(c, jsii.String("ReplicaPromote")), switchSpec{
		description:  "restorable: makes " + path + " writeable (" + mode + ")",
		resourceType: contract.ReplicaPromoteResourceType,
		properties:   map[string]interface{}{contract.ReplicaFileSystem: c.fs.FileSystemId(), contract.GlobalSwitchMode: mode},
		statements: []*awsiam.PolicyStatementProps{
			{Sid: jsii.String("ReadTheReplica"), Actions: jsii.Strings("elasticfilesystem:DescribeFileSystems", "elasticfilesystem:DescribeReplicationConfigurations"),
				Resources: jsii.Strings(*c.fs.FileSystemArn())},
			{Sid: jsii.String("EndTheReplication"), Actions: jsii.Strings("elasticfilesystem:DeleteReplicationConfiguration"),
				Resources: jsii.Strings(*c.fs.FileSystemArn(), *sources)},
		},
		wildcard: nagException{rule: nagWildcard, appliesTo: []string{`/^Resource::arn:.+:elasticfilesystem:.+:file-system\/\*$/`},
			reason: "DeleteReplicationConfiguration names the source, a file system in the other region whose ID EFS generated there; only its configuration with this replica is deleted."},
		after: []constructs.IConstruct{c.cfn},
	})
	awscdk.Annotations_Of(c).AddWarningV2(jsii.String("restorable:replicaPromote"), jsii.String(fmt.Sprintf(
		"%s: this deploy makes the replica writeable (%s) and ends its replication for good. Keep the key in cdk.json while it serves; replicating back overwrites the old source (docs/global.md, \"Files\").", path, mode)))
}

// AfterSwitch makes each construct wait, in a deploy that makes the replica
// writeable, until it is. In other deploys it does nothing.
func (c *FileSystem) AfterSwitch(dependents ...constructs.IConstruct) {
	if c.replication.promoted == nil {
		return
	}
	for _, d := range dependents {
		dependOn(d, c.replication.promoted)
	}
}

// IsStandby reports whether the file system is a replica that this deploy
// does not make writeable: it is read-only.
func (c *FileSystem) IsStandby() bool {
	return c.replication.replicaOf != nil && c.replication.switchMode == ""
}
