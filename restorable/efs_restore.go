package restorable

import (
	"sync"

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

var (
	restoreServicesMu sync.Mutex
	restoreServices   = map[awscdk.Stack]*restoreService{}
)

func restoreServiceOf(scope constructs.Construct) *restoreService {
	stack := awscdk.Stack_Of(scope)
	restoreServicesMu.Lock()
	defer restoreServicesMu.Unlock()
	if s, ok := restoreServices[stack]; ok {
		return s
	}
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
		reason: "backup:DescribeRestoreJob, which follows the restore job this role started, supports no resource-level permissions (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsbackup.html)."})
	start := newRoleFunction(c, "Start", "efs-restore-start", "restorable: starts an AWS Backup restore of a file system", role, awscdk.Duration_Minutes(jsii.Number(5)))
	complete := newRoleFunction(c, "Complete", "efs-restore-complete", "restorable: follows an AWS Backup restore and moves the files back", role, awscdk.Duration_Minutes(jsii.Number(15)))
	s := &restoreService{role: role, provider: newProvider(c, "Provider", start, &customresources.ProviderProps{
		IsCompleteHandler: complete,
		QueryInterval:     awscdk.Duration_Seconds(jsii.Number(30)),
		// The longest the provider framework waits; restores of very large file
		// systems can take longer (see the README).
		TotalTimeout: awscdk.Duration_Hours(jsii.Number(2)),
	})}
	restoreServices[stack] = s
	return s
}

// newRoleFunction is a handler function with a shared role.
func newRoleFunction(scope constructs.Construct, id, handler, description string, role awsiam.Role, timeout awscdk.Duration) awslambda.Function {
	logs := awslogs.NewLogGroup(scope, jsii.String(id+"Logs"), &awslogs.LogGroupProps{
		Retention:     awslogs.RetentionDays_ONE_YEAR,
		RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
	})
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
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
	return &fileSystemRestore{mover: mover, restoreRole: restoreRole, accessPoint: ap}
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
	// The orchestrator may start a restore of this recovery point only, and only
	// on the deploys that restore it.
	svc.role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("backup:StartRestoreJob"),
		Resources: jsii.Strings(recoveryPointArn),
	}))
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
		},
		// Removing the restore must never touch the data.
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})
	c.recoveryPointRestore = cr
}
