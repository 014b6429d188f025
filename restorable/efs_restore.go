package restorable

import (
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsefs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/customresources"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/restorable-cdk/restorable/internal/efsrestore"
)

// EFSRestoreResourceType is the CloudFormation type of a file system restore.
const EFSRestoreResourceType = "Custom::RestorableEfsRestore"

// moverMountPath is where the mover Lambda mounts the file system's root.
const moverMountPath = "/mnt/efs"

// restoreService is a stack's one EFS restore orchestrator: two functions of the
// handler binary (start the AWS Backup job, then poll it and drive the mover)
// behind a provider whose waiter polls every 30 seconds for up to two hours.
type restoreService struct {
	provider customresources.Provider
	role     awsiam.Role
}

var restoreServices perStack[*restoreService]

// restoreServiceOf returns the EFS restore orchestrator of scope's stack,
// creating it (as "RestorableEfsRestore" at the stack's root) on first use.
func restoreServiceOf(scope constructs.Construct) *restoreService {
	return restoreServices.of(scope, newRestoreService)
}

func newRestoreService(stack awscdk.Stack) *restoreService {
	c := constructs.NewConstruct(stack, jsii.String("RestorableEfsRestore"))
	role := awsiam.NewRole(c, jsii.String("Role"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
		Description: jsii.String("restorable: starts and follows AWS Backup restores of the stack's file systems"),
	})
	// backup:StartRestoreJob is granted per restore, on its recovery point only
	// (addRestore).
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("FollowRestores"),
		Actions:   jsii.Strings("backup:DescribeRestoreJob"),
		Resources: jsii.Strings("*"),
	}))
	suppressNag(role, true, nagException{rule: nagWildcard, appliesTo: []string{"Resource::*"},
		reason: "Actions that support no resource-level permissions (https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html): backup:DescribeRestoreJob and backup:ListBackupVaults, to follow the job and find the recovery point's vault; " +
			"and, only on deploys that restore a recovery point, the EC2 network-interface actions that creating a mount target needs, and DataSync's create actions."})
	suppressNag(role, true,
		nagException{rule: nagWildcard, appliesTo: []string{`/^Resource::arn:.+:elasticfilesystem:.+:file-system\/\*$/`},
			reason: "The temporary file system of a copy is created by AWS Backup during the deploy, so its ID is not known; the orchestrator may change only file systems tagged with the restore request, and is denied every change to this stack's file system."},
		nagException{rule: nagWildcard, appliesTo: []string{`/^Resource::arn:.+:datasync:.+:(task|location)\/\*$/`},
			reason: "The DataSync task and locations of a copy are created during the deploy, so their ARNs are not known; they are tagged with the restore request and deleted when the copy is done."})
	start := newRoleFunction(c, "Start", "efs-restore-start", "restorable: starts an AWS Backup restore of a file system", role, awscdk.Duration_Minutes(jsii.Number(5)))
	complete := newRoleFunction(c, "Complete", "efs-restore-complete", "restorable: follows an AWS Backup restore and moves the files back", role, awscdk.Duration_Minutes(jsii.Number(15)))
	s := &restoreService{role: role, provider: newProvider(c, "Provider", start, &customresources.ProviderProps{
		IsCompleteHandler: complete,
		QueryInterval:     awscdk.Duration_Seconds(jsii.Number(30)),
		// The longest the provider framework waits; restores of very large file
		// systems can take longer (see the README).
		TotalTimeout: awscdk.Duration_Hours(jsii.Number(2)),
	})}
	return s
}

// newRoleFunction is a Lambda function running the restorable handler binary
// as handler, in role (which it lets write the function's log group, kept for a
// year).
func newRoleFunction(scope constructs.Construct, id, handler, description string, role awsiam.Role, timeout awscdk.Duration) awslambda.Function {
	logs := awslogs.NewLogGroup(scope, jsii.String(id+"Logs"), &awslogs.LogGroupProps{
		Retention:     awslogs.RetentionDays_ONE_YEAR,
		RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
	})
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("WriteLogsOf" + id),
		Actions:   jsii.Strings("logs:CreateLogStream", "logs:PutLogEvents"),
		Resources: jsii.Strings(*logs.LogGroupArn()),
	}))
	return awslambda.NewFunction(scope, jsii.String(id), &awslambda.FunctionProps{
		Description:  jsii.String(description),
		Runtime:      awslambda.Runtime_PROVIDED_AL2023(),
		Architecture: awslambda.Architecture_ARM_64(),
		Handler:      jsii.String("bootstrap"),
		Code:         handlerCode(),
		Role:         role,
		LogGroup:     logs,
		MemorySize:   jsii.Number(256),
		Timeout:      timeout,
		Environment:  &map[string]*string{"RESTORABLE_HANDLER": jsii.String(handler)},
	})
}

// isTrue reports whether an L1 boolean property (a bool, a *bool or a token)
// is literally true.
func isTrue(v interface{}) bool {
	switch b := v.(type) {
	case bool:
		return b
	case *bool:
		return b != nil && *b
	}
	return false
}

// fileSystemRestore is the restore machinery of one file system: the mover,
// which mounts the file system's root, and the role AWS Backup restores with.
type fileSystemRestore struct {
	mover       awslambda.Function
	restoreRole awsiam.Role
	accessPoint awsefs.AccessPoint
	// What a copy of another file system's recovery point uses: the subnet
	// and security group of the temporary mount target and of DataSync's
	// network interfaces, and the role DataSync writes into c with.
	transferSubnet awsec2.ISubnet
	transferGroup  awsec2.SecurityGroup
	transferRole   awsiam.Role
}

// newFileSystemRestore creates the mover and the restore role of c. A Lambda
// function mounts at most one file system, so every file system has its own
// mover; the orchestrator is shared by the stack.
func newFileSystemRestore(c *FileSystem, vpc awsec2.IVpc, subnets *awsec2.SubnetSelection) *fileSystemRestore {
	scope := constructs.NewConstruct(c, jsii.String("Restore"))
	stack := awscdk.Stack_Of(c)
	// The mover sees the whole file system, including AWS Backup's restore
	// directory off the root, as root, so it can move every restored file.
	ap := c.fs.AddAccessPoint(jsii.String("RestoreAccessPoint"), &awsefs.AccessPointOptions{
		Path:      jsii.String("/"),
		PosixUser: &awsefs.PosixUser{Uid: jsii.String("0"), Gid: jsii.String("0")},
	})
	moverRole := awsiam.NewRole(scope, jsii.String("MoverRole"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
		Description: jsii.String("restorable: moves restored files back to their paths in " + *c.Node().Path()),
	})
	moverRole.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("MountAsRoot"),
		Actions:   jsii.Strings("elasticfilesystem:ClientRootAccess"),
		Resources: jsii.Strings(*c.fs.FileSystemArn()),
		Conditions: &map[string]interface{}{
			"StringEquals": map[string]interface{}{"elasticfilesystem:AccessPointArn": ap.AccessPointArn()},
			"Bool":         map[string]interface{}{"elasticfilesystem:AccessedViaMountTarget": "true"},
		},
	}))
	// The network interfaces of a function in a VPC; these actions take no
	// resource-level restriction that Lambda can work with.
	moverRole.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid: jsii.String("VpcNetworkInterfaces"),
		Actions: jsii.Strings("ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DeleteNetworkInterface",
			"ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"),
		Resources: jsii.Strings("*"),
	}))
	suppressNag(moverRole, true, nagException{rule: nagWildcard, appliesTo: []string{"Resource::*"},
		reason: "A Lambda function in a VPC needs these EC2 network-interface actions on \"*\", as in AWSLambdaVPCAccessExecutionRole; ec2:DescribeNetworkInterfaces supports no resource-level permissions and the interfaces' IDs are not known before Lambda creates them (https://docs.aws.amazon.com/lambda/latest/dg/configuration-vpc.html#configuration-vpc-permissions)."})
	sg := awsec2.NewSecurityGroup(scope, jsii.String("MoverSecurityGroup"), &awsec2.SecurityGroupProps{
		Vpc:              vpc,
		Description:      jsii.String("restorable: the mover reaches only the file system (NFS, 2049)"),
		AllowAllOutbound: jsii.Bool(false),
	})
	logs := awslogs.NewLogGroup(scope, jsii.String("MoverLogs"), &awslogs.LogGroupProps{
		Retention:     awslogs.RetentionDays_ONE_YEAR,
		RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
	})
	moverRole.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("WriteOwnLogs"),
		Actions:   jsii.Strings("logs:CreateLogStream", "logs:PutLogEvents"),
		Resources: jsii.Strings(*logs.LogGroupArn()),
	}))
	mover := awslambda.NewFunction(scope, jsii.String("Mover"), &awslambda.FunctionProps{
		Description:    jsii.String("restorable: moves restored files back to their paths"),
		Runtime:        awslambda.Runtime_PROVIDED_AL2023(),
		Architecture:   awslambda.Architecture_ARM_64(),
		Handler:        jsii.String("bootstrap"),
		Code:           handlerCode(),
		Role:           moverRole,
		LogGroup:       logs,
		MemorySize:     jsii.Number(512),
		Timeout:        awscdk.Duration_Minutes(jsii.Number(10)),
		Vpc:            vpc,
		VpcSubnets:     subnets,
		SecurityGroups: &[]awsec2.ISecurityGroup{sg},
		// Mounting through the access point makes the function depend on the
		// file system's mount targets, and opens port 2049 to them.
		Filesystem: awslambda.FileSystem_FromEfsAccessPoint(ap, jsii.String(moverMountPath)),
		Environment: &map[string]*string{
			"RESTORABLE_HANDLER": jsii.String("efs-mover"),
			"RESTORABLE_MOUNT":   jsii.String(moverMountPath),
		},
	})

	restoreRole := awsiam.NewRole(scope, jsii.String("RestoreRole"), &awsiam.RoleProps{
		// Only AWS Backup, acting for this account, can assume it.
		AssumedBy: awsiam.NewServicePrincipal(jsii.String("backup.amazonaws.com"), &awsiam.ServicePrincipalOpts{
			Conditions: &map[string]interface{}{"StringEquals": map[string]interface{}{"aws:SourceAccount": stack.Account()}},
		}),
		Description: jsii.String("restorable: AWS Backup restores recovery points into " + *c.Node().Path()),
	})
	// The EFS statements of AWSBackupServiceRolePolicyForRestores, for this file
	// system only, and without creating or deleting file systems. The keys are
	// this account's and region's: the key of the vault that holds the recovery
	// point (a copy from elsewhere is in a vault here) and the file system's.
	keys := jsii.Strings(*stack.FormatArn(&awscdk.ArnComponents{Service: jsii.String("kms"), Resource: jsii.String("key"), ResourceName: jsii.String("*")}))
	for _, st := range []*awsiam.PolicyStatementProps{
		{Sid: jsii.String("RestoreIntoThisFileSystem"), Actions: jsii.Strings("elasticfilesystem:Restore", "elasticfilesystem:DescribeFileSystems"),
			Resources: jsii.Strings(*c.fs.FileSystemArn())},
		{Sid: jsii.String("DescribeKeys"), Actions: jsii.Strings("kms:DescribeKey"), Resources: keys},
		{Sid: jsii.String("UseKeysThroughEFS"), Actions: jsii.Strings("kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext", "kms:ReEncryptFrom", "kms:ReEncryptTo"),
			Resources:  keys,
			Conditions: &map[string]interface{}{"StringLike": map[string]interface{}{"kms:ViaService": "elasticfilesystem.*.amazonaws.com"}}},
		{Sid: jsii.String("GrantKeysToAWSServices"), Actions: jsii.Strings("kms:CreateGrant"), Resources: keys,
			Conditions: &map[string]interface{}{"Bool": map[string]interface{}{"kms:GrantIsForAWSResource": "true"}}},
	} {
		restoreRole.AddToPrincipalPolicy(awsiam.NewPolicyStatement(st))
	}
	suppressNag(restoreRole, true, nagException{rule: nagWildcard, appliesTo: []string{`/^Resource::arn:.+:kms:.+:key\/\*$/`},
		reason: "AWS Backup restores with two KMS keys of this account and region: the key of the vault holding the recovery point, which the deploy does not know (any vault, including copies), and the file system's. KMS use is limited to requests made through EFS (kms:ViaService) and grants for AWS resources."})
	suppressNag(restoreRole, true, nagException{rule: nagWildcard, appliesTo: []string{`/^Resource::arn:.+:elasticfilesystem:.+:file-system\/\*$/`},
		reason: "A recovery point of another file system is restored into a new file system that AWS Backup creates during the deploy, so its ID is not known; this role can create and restore file systems, not delete them, and only AWS Backup can assume it."})

	svc := restoreServiceOf(c)
	svc.role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:    jsii.Strings("iam:PassRole"),
		Resources:  jsii.Strings(*restoreRole.RoleArn()),
		Conditions: &map[string]interface{}{"StringEquals": map[string]interface{}{"iam:PassedToService": "backup.amazonaws.com"}},
	}))
	// The mover function itself, not its versions: the orchestrator invokes it
	// by its ARN.
	svc.role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("lambda:InvokeFunction"),
		Resources: jsii.Strings(*mover.FunctionArn()),
	}))
	r := &fileSystemRestore{mover: mover, restoreRole: restoreRole, accessPoint: ap}
	r.addTransfer(c, scope, vpc, subnets)
	return r
}

// addTransfer creates what AWS DataSync needs to copy a recovery point of
// another file system into c: a security group for DataSync's network
// interfaces and the temporary file system's mount target, which reach each
// other and c's mount targets on NFS only, and a role that only DataSync, for
// this account, can assume, with root access to c.
func (r *fileSystemRestore) addTransfer(c *FileSystem, scope constructs.Construct, vpc awsec2.IVpc, subnets *awsec2.SubnetSelection) {
	stack := awscdk.Stack_Of(c)
	selected := vpc.SelectSubnets(subnets).Subnets
	if selected == nil || len(*selected) == 0 {
		panic(&InputError{Construct: *c.Node().Path(), Setting: "FileSystemProps.VpcSubnets", Problem: "selects no subnet",
			Fix: "select the private subnets the mount targets are in"})
	}
	r.transferSubnet = (*selected)[0]
	r.transferGroup = awsec2.NewSecurityGroup(scope, jsii.String("TransferSecurityGroup"), &awsec2.SecurityGroupProps{
		Vpc:              vpc,
		Description:      jsii.String("restorable: DataSync copies a restored recovery point into the file system (NFS, 2049)"),
		AllowAllOutbound: jsii.Bool(false),
	})
	nfs := awsec2.Port_Tcp(jsii.Number(2049))
	r.transferGroup.AddIngressRule(r.transferGroup, nfs, jsii.String("DataSync to the temporary file system"), nil)
	r.transferGroup.AddEgressRule(r.transferGroup, nfs, jsii.String("DataSync to the temporary file system"), nil)
	c.fs.Connections().AllowDefaultPortFrom(r.transferGroup, jsii.String("DataSync copies a restored recovery point"))
	r.transferRole = awsiam.NewRole(scope, jsii.String("TransferRole"), &awsiam.RoleProps{
		AssumedBy: awsiam.NewServicePrincipal(jsii.String("datasync.amazonaws.com"), &awsiam.ServicePrincipalOpts{
			Conditions: &map[string]interface{}{"StringEquals": map[string]interface{}{"aws:SourceAccount": stack.Account()}},
		}),
		Description: jsii.String("restorable: DataSync writes a restored recovery point into " + *c.Node().Path()),
	})
	// Root access to the file system, over a mount target, to write files as
	// their owners (https://docs.aws.amazon.com/datasync/latest/userguide/create-efs-location.html).
	r.transferRole.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("WriteAsRoot"),
		Actions:    jsii.Strings("elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite", "elasticfilesystem:ClientRootAccess"),
		Resources:  jsii.Strings(*c.fs.FileSystemArn()),
		Conditions: &map[string]interface{}{"Bool": map[string]interface{}{"elasticfilesystem:AccessedViaMountTarget": "true"}},
	}))
}

// subnetArn and securityGroupArn are the ARNs DataSync takes.
func subnetArn(stack awscdk.Stack, subnet awsec2.ISubnet) *string {
	return stack.FormatArn(&awscdk.ArnComponents{Service: jsii.String("ec2"), Resource: jsii.String("subnet"), ResourceName: subnet.SubnetId()})
}

func securityGroupArn(stack awscdk.Stack, sg awsec2.ISecurityGroup) *string {
	return stack.FormatArn(&awscdk.ArnComponents{Service: jsii.String("ec2"), Resource: jsii.String("security-group"), ResourceName: sg.SecurityGroupId()})
}

// addRestore adds the restore of a recovery point into the file system. It
// runs on the deploy that adds it, or changes the recovery point; the same
// recovery point on a later deploy changes nothing, and removing it deletes
// only the custom resource.
func (c *FileSystem) addRestore(recoveryPointArn string) {
	var kmsKeyID interface{} = ""
	if v := c.cfn.KmsKeyId(); v != nil {
		kmsKeyID = *v
	}
	performanceMode := "generalPurpose"
	if v := c.cfn.PerformanceMode(); v != nil {
		performanceMode = *v
	}
	encrypted := "false"
	if isTrue(c.cfn.Encrypted()) || c.cfn.KmsKeyId() != nil {
		encrypted = "true"
	}
	svc := restoreServiceOf(c)
	c.grantRestore(svc.role, recoveryPointArn)
	cr := awscdk.NewCustomResource(c, jsii.String("RecoveryPointRestore"), &awscdk.CustomResourceProps{
		ServiceToken: svc.provider.ServiceToken(),
		ResourceType: jsii.String(EFSRestoreResourceType),
		Properties: &map[string]interface{}{
			efsrestore.PropResource:         *c.Node().Path(),
			efsrestore.PropRecoveryPointArn: recoveryPointArn,
			efsrestore.PropFileSystemID:     c.fs.FileSystemId(),
			efsrestore.PropEncrypted:        encrypted,
			efsrestore.PropKmsKeyID:         kmsKeyID,
			efsrestore.PropPerformanceMode:  performanceMode,
			efsrestore.PropRestoreRoleArn:   c.restore.restoreRole.RoleArn(),
			efsrestore.PropMoverFunction:    c.restore.mover.FunctionArn(),
			efsrestore.PropFileSystemArn:    c.fs.FileSystemArn(),
			// A recovery point of another file system is copied in with these.
			efsrestore.PropTransferSubnetID:         c.restore.transferSubnet.SubnetId(),
			efsrestore.PropTransferSubnetArn:        subnetArn(awscdk.Stack_Of(c), c.restore.transferSubnet),
			efsrestore.PropTransferSecurityGroupID:  c.restore.transferGroup.SecurityGroupId(),
			efsrestore.PropTransferSecurityGroupArn: securityGroupArn(awscdk.Stack_Of(c), c.restore.transferGroup),
			efsrestore.PropTransferRoleArn:          c.restore.transferRole.RoleArn(),
		},
		// Removing the restore must never touch the data.
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})
	c.recoveryPointRestore = cr
}

// grantRestore lets the orchestrator restore one recovery point into c, on the
// deploys that restore it: start the restore job, find the recovery point's
// vault and source, and, for a recovery point of another file system, run the
// copy through a temporary file system (internal/efsrestore/copy.go). It also
// lets AWS Backup create that temporary file system. None of these
// permissions exist when no recovery point is set.
func (c *FileSystem) grantRestore(role awsiam.Role, recoveryPointArn string) {
	stack := awscdk.Stack_Of(c)
	arnOf := func(service, resource string) string {
		return *stack.FormatArn(&awscdk.ArnComponents{Service: jsii.String(service), Resource: jsii.String(resource), ArnFormat: awscdk.ArnFormat_COLON_RESOURCE_NAME})
	}
	fileSystems := *stack.FormatArn(&awscdk.ArnComponents{Service: jsii.String("elasticfilesystem"), Resource: jsii.String("file-system"), ResourceName: jsii.String("*")})
	statement := func(p *awsiam.PolicyStatementProps) { role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(p)) }
	path := *c.Node().Path()
	sid := func(s string) *string { return jsii.String(s + sidSuffix(path)) }

	statement(&awsiam.PolicyStatementProps{Sid: sid("RestoreThisRecoveryPoint"),
		Actions:   jsii.Strings("backup:StartRestoreJob", "backup:DescribeRecoveryPoint", "backup:GetRecoveryPointRestoreMetadata"),
		Resources: jsii.Strings(recoveryPointArn)})
	statement(&awsiam.PolicyStatementProps{Sid: sid("FindItsVault"), Actions: jsii.Strings("backup:ListBackupVaults"), Resources: jsii.Strings("*")})
	// For a recovery point of another file system: the temporary file system
	// AWS Backup restores it into, which the orchestrator tags, gives a mount
	// target and deletes. It can delete and change only file systems that carry
	// the request tag, and never this one.
	statement(&awsiam.PolicyStatementProps{Sid: sid("ReadFileSystems"),
		Actions: jsii.Strings("elasticfilesystem:DescribeFileSystems", "elasticfilesystem:DescribeMountTargets"), Resources: jsii.Strings(fileSystems)})
	statement(&awsiam.PolicyStatementProps{Sid: sid("TagTemporaryFileSystems"),
		Actions: jsii.Strings("elasticfilesystem:TagResource", "elasticfilesystem:UntagResource"), Resources: jsii.Strings(fileSystems),
		Conditions: &map[string]interface{}{"ForAllValues:StringLike": map[string]interface{}{"aws:TagKeys": "restorable:*"}}})
	statement(&awsiam.PolicyStatementProps{Sid: sid("ManageTemporaryFileSystems"),
		Actions:    jsii.Strings("elasticfilesystem:CreateMountTarget", "elasticfilesystem:DeleteMountTarget", "elasticfilesystem:DeleteFileSystem"),
		Resources:  jsii.Strings(fileSystems),
		Conditions: &map[string]interface{}{"StringLike": map[string]interface{}{"aws:ResourceTag/" + efsrestore.TagRequest: "*"}}})
	statement(&awsiam.PolicyStatementProps{Sid: sid("NeverThisFileSystem"), Effect: awsiam.Effect_DENY,
		Actions: jsii.Strings("elasticfilesystem:CreateMountTarget", "elasticfilesystem:DeleteMountTarget", "elasticfilesystem:DeleteFileSystem",
			"elasticfilesystem:TagResource", "elasticfilesystem:UntagResource"),
		Resources: jsii.Strings(*c.fs.FileSystemArn())})
	// CreateMountTarget and DeleteMountTarget also need these EC2 actions
	// (https://docs.aws.amazon.com/efs/latest/ug/API_CreateMountTarget.html).
	statement(&awsiam.PolicyStatementProps{Sid: sid("MountTargetNetworkInterfaces"),
		Actions: jsii.Strings("ec2:DescribeSubnets", "ec2:DescribeSecurityGroups", "ec2:DescribeNetworkInterfaces",
			"ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface"),
		Resources: jsii.Strings("*")})
	statement(&awsiam.PolicyStatementProps{Sid: sid("CreateTransfers"),
		Actions: jsii.Strings("datasync:CreateLocationEfs", "datasync:CreateTask", "datasync:TagResource"), Resources: jsii.Strings("*")})
	statement(&awsiam.PolicyStatementProps{Sid: sid("RunTransfers"),
		Actions:   jsii.Strings("datasync:StartTaskExecution", "datasync:DescribeTaskExecution", "datasync:DeleteTask", "datasync:DeleteLocation"),
		Resources: jsii.Strings(arnOf("datasync", "task/*"), arnOf("datasync", "location/*"))})
	statement(&awsiam.PolicyStatementProps{Sid: sid("PassTransferRole"), Actions: jsii.Strings("iam:PassRole"),
		Resources:  jsii.Strings(*c.restore.transferRole.RoleArn()),
		Conditions: &map[string]interface{}{"StringEquals": map[string]interface{}{"iam:PassedToService": "datasync.amazonaws.com"}}})
	// DataSync creates its service-linked role with the first location.
	statement(&awsiam.PolicyStatementProps{Sid: sid("DataSyncServiceLinkedRole"), Actions: jsii.Strings("iam:CreateServiceLinkedRole"),
		Resources: jsii.Strings(*stack.FormatArn(&awscdk.ArnComponents{Service: jsii.String("iam"), Region: jsii.String(""),
			Resource: jsii.String("role"), ResourceName: jsii.String("aws-service-role/datasync.amazonaws.com/AWSServiceRoleForDataSync")})),
		Conditions: &map[string]interface{}{"StringEquals": map[string]interface{}{"iam:AWSServiceName": "datasync.amazonaws.com"}}})

	// AWS Backup creates the temporary file system with the restore role (the
	// EFS statements of AWSBackupServiceRolePolicyForRestores, without delete).
	c.restore.restoreRole.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("RestoreIntoATemporaryFileSystem"),
		Actions:   jsii.Strings("elasticfilesystem:CreateFilesystem", "elasticfilesystem:Restore", "elasticfilesystem:DescribeFileSystems"),
		Resources: jsii.Strings(fileSystems),
	}))
}

// sidSuffix makes a statement ID unique per file system in the stack's shared
// orchestrator policy: the path's letters and digits.
func sidSuffix(path string) string {
	var b strings.Builder
	for _, r := range path {
		if (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		}
	}
	return b.String()
}
