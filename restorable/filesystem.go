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

	"github.com/restorable-cdk/restorable/internal/contract"
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
	// AccessPoint is the application's access point, the only way clients
	// mount the file system.
	// Default: the directory /data, created owned by 1000:1000 with mode 750,
	// with clients acting as 1000:1000.
	AccessPoint *awsefs.AccessPointOptions
	// AllowReplace consents, for one deploy, to a change that would replace the
	// file system with an empty one (a new KMS key, performance mode or
	// availability zone): the ID of the current file system (fs-...).
	// FileSystemFromContext takes it from -c '<path>.allowReplace=<id>'.
	// Default: no consent; the replacement guard refuses such a deploy.
	AllowReplace string
	// RecoveryPointArn restores this AWS Backup recovery point into the file
	// system, inside the deploy that sets it: AWS Backup restores it into a new
	// directory off the root, and the mover swaps each entry at the root that
	// the backup holds with the restored one, keeping the current one in
	// /.restorable/pre-restore-<time>-<request>. Nothing is overwritten. The
	// same recovery point on a later deploy does nothing; removing it removes
	// the restore machinery, and does nothing to the data.
	// FileSystemFromContext takes it from -c efsRecoveryPointArn=<ARN>.
	// Default: no restore, and no restore machinery in the stack.
	RecoveryPointArn string
	// Adopt says that the file system exists already, created by
	// awsefs.NewFileSystem under the same scope and id with these same props:
	// restorable keeps its encryption and performance mode as that construct
	// made them, does not restrict mounts to the access point (existing clients
	// may mount the root), and adds what CloudFormation changes in place. Keep
	// it set for as long as the file system exists.
	// Default: false, a file system created by restorable, with its defaults.
	Adopt bool
	// RequireTLSAndIAM, with Adopt, applies restorable's file system policy to
	// the adopted file system: every request over TLS, no anonymous client.
	// Without it, an adopted file system keeps the policy awsefs.NewFileSystem
	// gave it (AllowAnonymousAccess as given), because any file system policy
	// ends the anonymous access EFS otherwise allows, and a client that mounts
	// without TLS or IAM would lose the file system at its next mount. Set it
	// once every client mounts with `-o tls,iam`.
	// Default: false with Adopt; always applied without Adopt.
	RequireTLSAndIAM bool

	// Targets are the file system's RPO and RTO, which alarms watch.
	// Default: RPO 32 hours (the daily backup, plus up to 8 hours for it to
	// start and complete), RTO 4 hours.
	Targets *RecoveryTargets
	// DrillCheck is what a validated drill checks on the copy AWS Backup
	// restores (with ProtectionProps.RestoreTesting).
	// Default: the copy holds at least one file, its size within a factor 2
	// of the backup's, its file count within a factor 2 of the last passed
	// drill's.
	DrillCheck *FileSystemDrillCheck
	// ReplicateTo replicates the file system into a replica in another
	// region (efs_replication.go, docs/global.md).
	// Default: no replication; the files reach other regions as backup copies.
	ReplicateTo *FileSystemReplication
	// ReplicaOf makes the file system the read-only replica of a file system
	// in another region, until a switchoverTo or failoverTo deploy makes it
	// writeable.
	// Default: a file system of its own.
	ReplicaOf *FileSystemReplica

	// recoveryPointSetting names the context key RecoveryPointArn came from.
	recoveryPointSetting string
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
	guard       *guardEntry
	adopt       bool
	// restrictAccess is whether the file system policy allows only TLS and
	// IAM-authorized clients (always, except for an adopted file system that
	// has not asked for it).
	restrictAccess bool
	point          *contract.RecoveryPoint
	restore        *fileSystemRestore
	// targets are the file system's RPO and RTO and their alarms.
	targets targets
	// replication is the file system's side of a replication, if any.
	replication replication
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
//     every mount that does not go through an access point (except, during a
//     restore, DataSync's), and that allows
//     nothing by itself: each client must mount with IAM authorization and be
//     granted access (GrantReadWrite), so anonymous clients, which the default
//     EFS policy lets in, are refused;
//   - mount targets in the VPC's private subnets;
//   - an access point for the application (AccessPoint);
//   - kept on delete and on replace (RemovalPolicy RETAIN);
//   - EFS's own automatic backups off, and the file system selected by ARN in
//     the AWS Backup plan of its Protection, so it is backed up once, by one plan.
func NewFileSystem(scope constructs.Construct, id *string, props *FileSystemProps) *FileSystem {
	c := &FileSystem{}
	constructs.NewConstruct_Override(c, scope, id)
	path := *c.Node().Path()
	refuseNestedStack(c, awscdk.Stack_Of(c))
	if props == nil || props.Vpc == nil {
		panic(&InputError{Construct: path, Setting: "Vpc", Problem: "is not set",
			Fix: "pass &restorable.FileSystemProps{FileSystemProps: awsefs.FileSystemProps{Vpc: vpc}}"})
	}
	c.adopt = props.Adopt
	c.restrictAccess = !props.Adopt || props.RequireTLSAndIAM
	if props.RequireTLSAndIAM && !props.Adopt {
		panic(&InputError{Construct: path, Setting: "RequireTLSAndIAM", Value: "true",
			Problem: "is set without Adopt, where restorable always requires TLS and IAM",
			Fix:     "remove RequireTLSAndIAM"})
	}
	if props.RecoveryPointArn != "" {
		setting := props.recoveryPointSetting
		if setting == "" {
			setting = "FileSystemProps.RecoveryPointArn"
		}
		point, err := parseRecoveryPoint(setting, props.RecoveryPointArn, stackRegion(c))
		if err != nil {
			panic(atConstruct(path, err))
		}
		c.point = &point
	}
	if err := validateReplication(stackRegion(c), props); err != nil {
		panic(atConstruct(path, err))
	}
	p := c.fileSystemProps(path, props.FileSystemProps)
	c.fs = awsefs.NewFileSystem(c, jsii.String("Default"), &p)
	c.cfn = c.fs.Node().DefaultChild().(awsefs.CfnFileSystem)
	c.attachReplication(path, props)
	// EFS's automatic backups use a second plan (aws/efs/automatic-backup-plan);
	// say explicitly that they are off rather than rely on the API's default.
	c.cfn.SetBackupPolicy(&awsefs.CfnFileSystem_BackupPolicyProperty{Status: jsii.String("DISABLED")})
	if c.restrictAccess {
		c.fs.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:        jsii.String("DenyWithoutTLS"),
			Effect:     awsiam.Effect_DENY,
			Principals: &[]awsiam.IPrincipal{awsiam.NewAnyPrincipal()},
			Actions:    jsii.Strings("*"),
			Conditions: &map[string]interface{}{"Bool": map[string]interface{}{"aws:SecureTransport": "false"}},
		}))
	}
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
	drillNow := readDrillNow(c, path)
	c.targets = resolveTargets(path, testedEFS, props.Targets, false)
	var spec *drillSpec
	if c.targets.drilled = c.protection.testing != nil; c.targets.drilled {
		spec = c.filesDrillSpec(path, p.Vpc, p.VpcSubnets, props.DrillCheck, c.targets.rto)
	} else {
		refuseDrillSettings(path, props.DrillCheck != nil, drillNow)
	}
	c.protection.join(c, awsbackup.BackupResource_FromEfsFileSystem(c.fs), testedEFS, c.fs.FileSystemArn(), spec, drillNow)
	addRecoveryAlarms(c, c.protection, &c.targets, c.fs.FileSystemArn())
	if p.KmsKey != nil {
		c.protection.shareKey(p.KmsKey)
	}
	c.guard = guardOf(c).protect(c, c.cfn, props.AllowReplace, props.Adopt, nil, c.guardCreateOnly)
	var restorers []*string
	if c.point != nil {
		c.restore = c.addRestore(p.Vpc, p.VpcSubnets)
		restorers = []*string{c.restore.transfer.RoleArn()}
	}
	if !c.adopt {
		c.onlyThroughAnAccessPoint(restorers)
	}
	c.addOutputs(path)
	c.annotate(path, p)
	registryOf(c).add(path, kindFileSystem, c.reportLines)
	return c
}

// onlyThroughAnAccessPoint denies every mount that does not go through an
// access point: a client that mounts the root could read the mover's state and
// AWS Backup's restore directories, and act as root. The file system's access
// points are the application's and, only while a restore is in the template,
// the mover's; GrantReadWrite further ties a client to the application's. The
// exceptions are the restore's clients that mount the root (DataSync), which
// exist only while a restore is in the template. The policy cannot name the
// application's access point itself: the access point refers to the file
// system, so the two would depend on each other
// (https://docs.aws.amazon.com/efs/latest/ug/access-points-iam-policy.html).
func (c *FileSystem) onlyThroughAnAccessPoint(exceptions []*string) {
	conditions := map[string]interface{}{
		"Null": map[string]interface{}{"elasticfilesystem:AccessPointArn": "true"},
	}
	if len(exceptions) > 0 {
		conditions["ArnNotEquals"] = map[string]interface{}{"aws:PrincipalArn": exceptions}
	}
	c.fs.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("OnlyThroughAnAccessPoint"),
		Effect:     awsiam.Effect_DENY,
		Principals: &[]awsiam.IPrincipal{awsiam.NewAnyPrincipal()},
		Actions:    jsii.Strings("elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite", "elasticfilesystem:ClientRootAccess"),
		Conditions: &conditions,
	}))
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
	if p.AllowAnonymousAccess != nil && c.restrictAccess {
		panic(&InputError{Construct: path, Setting: "AllowAnonymousAccess", Value: fmt.Sprint(*p.AllowAnonymousAccess),
			Problem: "is managed by restorable: the file system policy allows only the principals you grant, over TLS, and no anonymous client",
			Fix:     "remove AllowAnonymousAccess, and grant clients with GrantReadWrite"})
	}
	if p.VpcSubnets != nil && p.VpcSubnets.SubnetType == awsec2.SubnetType_PUBLIC {
		panic(&InputError{Construct: path, Setting: "VpcSubnets.SubnetType", Value: "PUBLIC",
			Problem: "puts the file system's mount targets in public subnets",
			Fix:     "use private subnets (the default)"})
	}
	if !c.adopt && p.KmsKey == nil && (p.Encrypted == nil || *p.Encrypted) {
		c.key = newHardenedKey(c, "Key", "restorable: encryption of the file system "+path)
		p.KmsKey = c.key
	}
	if p.KmsKey != nil && !c.adopt {
		p.Encrypted = jsii.Bool(true)
	}
	if p.RemovalPolicy == "" {
		p.RemovalPolicy = awscdk.RemovalPolicy_RETAIN
	}
	if p.SecurityGroup == nil {
		// The plain L2 creates this group under itself, described by its path
		// (AppStack/Files/EfsSecurityGroup). Created here, under the restorable
		// construct, it has that same path, so the same description (a
		// create-only property of AWS::EC2::SecurityGroup) and logical ID.
		p.SecurityGroup = awsec2.NewSecurityGroup(c, jsii.String("EfsSecurityGroup"), &awsec2.SecurityGroupProps{Vpc: p.Vpc})
	}
	p.EnableAutomaticBackups = jsii.Bool(false)
	if c.restrictAccess {
		// With true, the L2 adds no policy statement of its own (it would let
		// any IAM principal write and act as root through a mount target);
		// restorable's policy, which allows nothing, already refuses anonymous
		// clients.
		p.AllowAnonymousAccess = jsii.Bool(true)
	}
	return p
}

// guardCreateOnly reads the file system's create-only properties.
func (c *FileSystem) guardCreateOnly() map[string]interface{} { return fileSystemCreateOnly(c.cfn) }

func (c *FileSystem) annotate(path string, p awsefs.FileSystemProps) {
	a := awscdk.Annotations_Of(c)
	if c.point != nil {
		a.AddWarningV2(jsii.String("restorable:efsRestore"), jsii.String(path+": restoring recovery point "+c.point.ARN+
			" into this file system, inside this deploy (up to 12 hours). AWS Backup restores it into a new directory off the root; then each entry at the root that the backup holds is swapped with the restored one, and the current one is kept in /.restorable/pre-restore-<time>-<request>; nothing is overwritten. "+
			"Stop the writers (scale the service to 0) first, and start them after the deploy: clients that stay mounted keep using the entries that were swapped out, and a file written at the root during the swap is kept but stops the swap. The same recovery point on later deploys does nothing; removing it removes the restore machinery and does nothing to the data."))
	}
	if p.Encrypted != nil && !*p.Encrypted {
		a.AddWarningV2(jsii.String("restorable:unencrypted"),
			jsii.String(path+": the file system is not encrypted at rest (Encrypted: false); turning encryption on later replaces it with an empty one."))
	}
	if c.adopt {
		msg := path + ": Adopt keeps the encryption, performance mode and file system policy that awsefs.NewFileSystem gave this file system, and adds the access point, the guard and the backup selection in place."
		if c.restrictAccess {
			msg += " RequireTLSAndIAM is set: clients must mount over TLS with IAM authorization (-o tls,iam), and anonymous clients are refused."
		} else {
			msg += " Not applied: the TLS-only, IAM-only file system policy, because any policy ends EFS's anonymous access and clients that mount without -o tls,iam would lose the file system; set RequireTLSAndIAM once every client mounts with it;"
		}
		if p.KmsKey == nil {
			msg += " Not applied: a customer-managed KMS key (KmsKeyId is create-only; restore a recovery point into a new restorable file system to move to one);"
		}
		msg += " not applied: the deny of mounts that bypass the access point, because existing clients may mount the root; once every client mounts through AccessPoint(), adopt the file system into a new restorable one with a recovery point."
		a.AddWarningV2(jsii.String("restorable:adopt"), jsii.String(msg))
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
// caller supplied KmsKey, turned encryption off, or adopted the file system.
func (c *FileSystem) EncryptionKey() awskms.IKey { return c.key }

// Protection is the AWS Backup protection the file system is selected in.
func (c *FileSystem) Protection() *Protection { return c.protection }

// GrantReadWrite lets a principal mount and write the file system with IAM
// authorization, through a mount target and the application's access point
// only (an adopted file system's clients may mount without it).
func (c *FileSystem) GrantReadWrite(grantee awsiam.IGrantable) awsiam.Grant {
	if !c.restrictAccess {
		// An adopted file system keeps the plain construct's policy, which
		// depends on whether a client was granted through it: aws-cdk-lib adds
		// its statement against anonymous access when one was
		// (aws-efs/lib/efs-file-system.ts, _grantedClient). Granting through it
		// keeps that policy as it was.
		return c.fs.GrantReadWrite(grantee)
	}
	conditions := map[string]*map[string]interface{}{
		"Bool": {"elasticfilesystem:AccessedViaMountTarget": "true"},
	}
	if !c.adopt {
		conditions["StringEquals"] = &map[string]interface{}{"elasticfilesystem:AccessPointArn": c.accessPoint.AccessPointArn()}
	}
	return awsiam.Grant_AddToPrincipal(&awsiam.GrantOnPrincipalOptions{
		Grantee:      grantee,
		Actions:      jsii.Strings("elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"),
		ResourceArns: jsii.Strings(*c.fs.FileSystemArn()),
		Conditions:   &conditions,
	})
}
