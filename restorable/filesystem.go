package restorable

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsbackup"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsefs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// FileSystemProps configures a restorable EFS file system. It embeds
// awsefs.FileSystemProps, so every setting of an awsefs.FileSystem works the
// same; restorable changes the defaults listed on NewFileSystem.
type FileSystemProps struct {
	awsefs.FileSystemProps
	// Protection is the AWS Backup protection the file system joins.
	// Default: StackProtection(scope), the vault and plan shared by the stack's
	// restorable resources.
	Protection *Protection
	// AccessPoint is the application's access point.
	// Default: the directory /data, created owned by 1000:1000 with mode 750,
	// with clients acting as 1000:1000.
	AccessPoint *awsefs.AccessPointOptions
	// AllowReplace consents, for one deploy, to a change that would replace the
	// file system with an empty one (a new KMS key, performance mode or
	// availability zone): the ID of the current file system (fs-...). Use
	// AllowReplaceFromContext to take it from -c '<path>.allowReplace=<id>'.
	// Default: no consent; the replacement guard refuses such a deploy.
	AllowReplace string
	// RecoveryPointArn restores this AWS Backup recovery point into the file
	// system, inside the deploy that sets it: a restore job writes it into a new
	// directory off the root, and the mover puts every restored entry back at
	// its path, first moving any current entry it would replace to
	// /.restorable/pre-restore-<time>-<request>. Nothing is deleted. The same
	// recovery point on a later deploy does nothing, and removing it does
	// nothing to the data. Use FileSystemRecoveryPointFromContext to take it
	// from -c efsRecoveryPointArn=<ARN>.
	// Default: no restore.
	RecoveryPointArn string
}

// FileSystem is an EFS file system that is always backed up by AWS Backup, in a
// vault whose recovery points cannot be deleted, and whose data a deploy can never
// replace with an empty file system unless it asks to. Consumers use
// FileSystem(), AccessPoint(), Connections() and GrantReadWrite().
type FileSystem struct {
	constructs.Construct
	fs          awsefs.FileSystem
	cfn         awsefs.CfnFileSystem
	accessPoint awsefs.AccessPoint
	key         awskms.IKey
	protection  *Protection
	guard       *replacementGuard
	restore     *fileSystemRestore
	// recoveryPointRestore is the Custom::RestorableEfsRestore, when a recovery
	// point is being restored.
	recoveryPointRestore awscdk.CustomResource
	recoveryPointArn     string
}

// NewFileSystem creates a restorable EFS file system, a drop-in replacement for
// awsefs.NewFileSystem. The L2 sits under the id "Default", so the file system,
// its mount targets and security group have the logical IDs that
// awsefs.NewFileSystem(scope, id, ...) would give them.
//
// Defaults that differ from awsefs.FileSystem:
//   - encrypted at rest with a new customer-managed KMS key with rotation, kept
//     when the stack is deleted;
//   - a file system policy that denies every request not sent over TLS, and
//     allows nothing by itself: each client must mount with IAM authorization
//     and be granted access (GrantReadWrite), so anonymous clients, which the
//     default EFS policy lets in, are refused;
//   - mount targets in the VPC's private subnets;
//   - an access point for the application (AccessPoint);
//   - kept on delete and on replace (RemovalPolicy RETAIN);
//   - EFS's own automatic backups off, and the file system selected by ARN in
//     the AWS Backup plan of its Protection, so it is backed up once, by one plan.
func NewFileSystem(scope constructs.Construct, id *string, props *FileSystemProps) *FileSystem {
	c := &FileSystem{}
	constructs.NewConstruct_Override(c, scope, id)
	path := *c.Node().Path()
	if props == nil || props.Vpc == nil {
		panic(&InputError{Construct: path, Setting: "Vpc", Problem: "is not set",
			Fix: "pass &restorable.FileSystemProps{FileSystemProps: awsefs.FileSystemProps{Vpc: vpc}}"})
	}
	if props.RecoveryPointArn != "" {
		if err := validateEFSRecoveryPoint("FileSystemProps.RecoveryPointArn", props.RecoveryPointArn, stackRegion(c)); err != nil {
			panic(atConstruct(path, err))
		}
	}
	p := c.fileSystemProps(path, props.FileSystemProps)
	c.fs = awsefs.NewFileSystem(c, jsii.String("Default"), &p)
	c.cfn = c.fs.Node().DefaultChild().(awsefs.CfnFileSystem)
	// EFS's automatic backups use a second plan (aws/efs/automatic-backup-plan);
	// say explicitly that they are off rather than rely on the API's default.
	c.cfn.SetBackupPolicy(&awsefs.CfnFileSystem_BackupPolicyProperty{Status: jsii.String("DISABLED")})
	c.fs.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("DenyWithoutTLS"),
		Effect:     awsiam.Effect_DENY,
		Principals: &[]awsiam.IPrincipal{awsiam.NewAnyPrincipal()},
		Actions:    jsii.Strings("*"),
		Conditions: &map[string]interface{}{"Bool": map[string]interface{}{"aws:SecureTransport": "false"}},
	}))
	ap := props.AccessPoint
	if ap == nil {
		ap = &awsefs.AccessPointOptions{
			Path:      jsii.String("/data"),
			CreateAcl: &awsefs.Acl{OwnerUid: jsii.String("1000"), OwnerGid: jsii.String("1000"), Permissions: jsii.String("750")},
			PosixUser: &awsefs.PosixUser{Uid: jsii.String("1000"), Gid: jsii.String("1000")},
		}
	}
	c.accessPoint = c.fs.AddAccessPoint(jsii.String("AccessPoint"), ap)

	c.protection = props.Protection
	if c.protection == nil {
		c.protection = StackProtection(c)
	}
	c.protection.join(c, awsbackup.BackupResource_FromEfsFileSystem(c.fs), testedEFS, c.fs.FileSystemArn())
	c.guard = newReplacementGuard(c, c.cfn, props.AllowReplace,
		func() map[string]interface{} { return map[string]interface{}{} }, c.guardCreateOnly)
	c.restore = newFileSystemRestore(c, p.Vpc, p.VpcSubnets)
	if c.recoveryPointArn = props.RecoveryPointArn; c.recoveryPointArn != "" {
		c.addRestore(c.recoveryPointArn)
	}
	c.addOutputs(path)
	c.annotate(path, p)
	registryOf(c).add(path, kindFileSystem, c.reportLines)
	return c
}

func (c *FileSystem) fileSystemProps(path string, p awsefs.FileSystemProps) awsefs.FileSystemProps {
	switch p.RemovalPolicy {
	case awscdk.RemovalPolicy_DESTROY, awscdk.RemovalPolicy_SNAPSHOT:
		panic(&InputError{Construct: path, Setting: "RemovalPolicy", Value: string(p.RemovalPolicy),
			Problem: "would delete the file system's data when it is replaced or removed (EFS has no final snapshot)",
			Fix:     "leave RemovalPolicy unset (RETAIN); the AWS Backup recovery points stay in the vault either way"})
	}
	if p.EnableAutomaticBackups != nil && *p.EnableAutomaticBackups {
		panic(&InputError{Construct: path, Setting: "EnableAutomaticBackups", Value: "true",
			Problem: "turns on EFS's own backup plan next to restorable's, so the file system would be backed up twice, by two plans (aws-cdk#29881)",
			Fix:     "leave EnableAutomaticBackups unset: restorable's Protection backs the file system up, and restores from its vault"})
	}
	if p.AllowAnonymousAccess != nil {
		panic(&InputError{Construct: path, Setting: "AllowAnonymousAccess", Value: fmt.Sprint(*p.AllowAnonymousAccess),
			Problem: "is managed by restorable: the file system policy allows only the principals you grant, over TLS, and no anonymous client",
			Fix:     "remove AllowAnonymousAccess, and grant clients with GrantReadWrite (or FileSystem().Grant*)"})
	}
	if p.VpcSubnets != nil && p.VpcSubnets.SubnetType == awsec2.SubnetType_PUBLIC {
		panic(&InputError{Construct: path, Setting: "VpcSubnets.SubnetType", Value: "PUBLIC",
			Problem: "puts the file system's mount targets in public subnets",
			Fix:     "use private subnets (the default)"})
	}
	if p.KmsKey == nil && (p.Encrypted == nil || *p.Encrypted) {
		c.key = awskms.NewKey(c, jsii.String("Key"), &awskms.KeyProps{
			Description:       jsii.String("restorable: encryption of the file system " + path),
			EnableKeyRotation: jsii.Bool(true),
			RemovalPolicy:     awscdk.RemovalPolicy_RETAIN,
		})
		p.KmsKey = c.key
	}
	if p.KmsKey != nil {
		p.Encrypted = jsii.Bool(true)
	}
	if p.RemovalPolicy == "" {
		p.RemovalPolicy = awscdk.RemovalPolicy_RETAIN
	}
	p.EnableAutomaticBackups = jsii.Bool(false)
	// With true, the L2 adds no policy statement of its own (it would let any
	// IAM principal write and act as root through a mount target); restorable's
	// policy, which allows nothing, already refuses anonymous clients.
	p.AllowAnonymousAccess = jsii.Bool(true)
	return p
}

// guardCreateOnly reads the createOnlyProperties of the AWS::EFS::FileSystem
// schema: a change to any of them replaces the file system with an empty one.
func (c *FileSystem) guardCreateOnly() map[string]interface{} {
	m := map[string]interface{}{}
	put(m, "AvailabilityZoneName", c.cfn.AvailabilityZoneName())
	put(m, "Encrypted", c.cfn.Encrypted())
	put(m, "KmsKeyId", c.cfn.KmsKeyId())
	put(m, "PerformanceMode", c.cfn.PerformanceMode())
	return m
}

func (c *FileSystem) addOutputs(path string) {
	prefix := outputPrefix(c)
	output := func(name, description string, value *string) {
		o := awscdk.NewCfnOutput(c, jsii.String(name), &awscdk.CfnOutputProps{Value: value, Description: jsii.String(description)})
		o.OverrideLogicalId(jsii.String(prefix + name))
	}
	output("FileSystemId", "ID of the file system "+path, c.fs.FileSystemId())
	output("ListRecoveryPointsCommand", "Lists the AWS Backup recovery points of "+path,
		awscdk.Fn_Join(jsii.String(""), &[]*string{
			jsii.String("aws backup list-recovery-points-by-resource --resource-arn "), c.fs.FileSystemArn(),
			jsii.String(" --query 'RecoveryPoints[].[CreationDate,RecoveryPointArn]' --output text"),
		}))
}

func (c *FileSystem) annotate(path string, p awsefs.FileSystemProps) {
	if c.recoveryPointArn != "" {
		awscdk.Annotations_Of(c).AddWarningV2(jsii.String("restorable:efsRestore"), jsii.String(path+": restoring recovery point "+c.recoveryPointArn+
			" into this file system. On the deploy that sets or changes it, AWS Backup restores it into a new directory off the root, then the mover puts every restored entry back at its path, moving any current entry it would replace to /.restorable/pre-restore-<time>-<request> (nothing is deleted). Stop writers (scale the service to 0) for a consistent result. The same recovery point on later deploys does nothing; removing it does nothing to the data."))
	}
	if p.Encrypted != nil && !*p.Encrypted {
		awscdk.Annotations_Of(c).AddWarningV2(jsii.String("restorable:unencrypted"),
			jsii.String(path+": the file system is not encrypted at rest (Encrypted: false); turning encryption on later replaces it with an empty one."))
	}
}

func (c *FileSystem) reportLines() []string {
	path := *c.Node().Path()
	source := "source:  its own data"
	if c.recoveryPointArn != "" {
		source = "source:  recovery point " + c.recoveryPointArn + " (restored into the file system on the deploy that sets it; later deploys change nothing)"
	}
	return []string{
		source,
		"restore: cdk deploy -c " + ContextKey(path, ContextEFSRecoveryPointArn) + "=<recovery point ARN: stack output " + outputPrefix(c) + "ListRecoveryPointsCommand lists them>",
		"backup:  selected by ARN in " + *c.protection.Node().Path() + "'s plan (EFS automatic backups off)",
		"guard:   a deploy that would replace this file system with an empty one fails first (template fingerprint " + c.guard.fingerprint() + ")",
		"consent: cdk deploy -c '" + ContextKey(path, ContextAllowReplace) + "=<current file system ID: stack output " + outputPrefix(c) + "FileSystemId>' (one deploy, this file system only)",
	}
}

// FileSystem returns the underlying awsefs.FileSystem.
func (c *FileSystem) FileSystem() awsefs.IFileSystem { return c.fs }

// CfnFileSystem returns the AWS::EFS::FileSystem, the escape hatch to the L1.
func (c *FileSystem) CfnFileSystem() awsefs.CfnFileSystem { return c.cfn }

// AccessPoint is the application's access point.
func (c *FileSystem) AccessPoint() awsefs.AccessPoint { return c.accessPoint }

// Connections manages the mount targets' security group; it makes FileSystem an
// awsec2.IConnectable.
func (c *FileSystem) Connections() awsec2.Connections { return c.fs.Connections() }

// FileSystemId is the ID of the file system (fs-...).
func (c *FileSystem) FileSystemId() *string { return c.fs.FileSystemId() }

// FileSystemArn is the ARN of the file system.
func (c *FileSystem) FileSystemArn() *string { return c.fs.FileSystemArn() }

// EncryptionKey is the KMS key that encrypts the file system, or nil when the
// caller supplied KmsKey or turned encryption off.
func (c *FileSystem) EncryptionKey() awskms.IKey { return c.key }

// Protection is the AWS Backup protection the file system is selected in.
func (c *FileSystem) Protection() *Protection { return c.protection }

// GrantReadWrite lets a principal mount and write the file system with IAM
// authorization, through a mount target.
func (c *FileSystem) GrantReadWrite(grantee awsiam.IGrantable) awsiam.Grant {
	return c.fs.GrantReadWrite(grantee)
}
