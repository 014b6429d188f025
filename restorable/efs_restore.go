package restorable

import (
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsefs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/restorable-cdk/restorable/internal/contract"
)

// EFSRestoreResourceType is the CloudFormation type of a file system restore.
const EFSRestoreResourceType = contract.EFSRestoreResourceType

// waitTimeout is the longest a restore may take inside one deploy: the
// longest a CloudFormation wait condition waits, 12 hours
// (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-cloudformation-waitcondition.html).
const waitTimeout = "43200"

// fileSystemRestore is the restore machinery of one file system. It exists
// only in a deploy that restores a recovery point: the mover, in the VPC, on
// the file system's root through an access point of its own; the role AWS
// Backup restores with; what DataSync needs to copy a recovery point of
// another file system; and the restore itself: a custom resource that starts
// the restore's execution and a wait condition it signals.
type fileSystemRestore struct {
	mover                            awslambda.Function
	moverRole, restoreRole, transfer awsiam.Role
	cleaner                          awslambda.Function
	cleanerRole                      awsiam.Role
	transferSubnet                   awsec2.ISubnet
	transferGroup                    awsec2.SecurityGroup
	vpc                              awsec2.IVpc
	rootAccessPoint                  awsefs.AccessPoint
	start                            awscdk.CustomResource
	wait                             awscdk.CfnWaitCondition
}

// addRestore adds the restore of c's recovery point.
func (c *FileSystem) addRestore(vpc awsec2.IVpc, subnets *awsec2.SubnetSelection) *fileSystemRestore {
	scope := constructs.NewConstruct(c, jsii.String("Restore"))
	r := &fileSystemRestore{}
	r.addMover(c, scope, vpc, subnets)
	r.addRestoreRole(c, scope)
	r.addTransfer(c, scope, vpc, subnets)
	r.addCleaner(c, scope)
	svc := restoreServiceOf(c)
	svc.grantRestore(c, r)

	// A wait condition waits once: every wait needs a new handle, so the
	// handle and the condition are named after the recovery point, and
	// another recovery point gets a new pair
	// (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-cloudformation-waitconditionhandle.html).
	// They are named after the file system's create-only properties too: a
	// deploy that replaces the file system (with consent) while the recovery
	// point stays in cdk.json gets a new pair, and waits for the restore
	// into the new file system, rather than restore it after the deploy
	// while the app writes.
	suffix := strings.ReplaceAll(c.point.ID, "-", "") + c.guard.fingerprint()[:8]
	handle := awscdk.NewCfnWaitConditionHandle(scope, jsii.String("Handle"+suffix), nil)
	kmsKeyID := ""
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
	stack := awscdk.Stack_Of(c)
	r.start = awscdk.NewCustomResource(scope, jsii.String("Start"), &awscdk.CustomResourceProps{
		ServiceToken:   svc.fn.FunctionArn(),
		ServiceTimeout: awscdk.Duration_Minutes(jsii.Number(15)),
		ResourceType:   jsii.String(contract.EFSRestoreResourceType),
		Properties: &map[string]interface{}{
			contract.RestoreResource:                 *c.Node().Path(),
			contract.RestoreRecoveryPointArn:         c.point.ARN,
			contract.RestoreFileSystemID:             c.fs.FileSystemId(),
			contract.RestoreFileSystemArn:            c.fs.FileSystemArn(),
			contract.RestoreEncrypted:                encrypted,
			contract.RestoreKmsKeyID:                 kmsKeyID,
			contract.RestorePerformanceMode:          performanceMode,
			contract.RestoreRoleArn:                  r.restoreRole.RoleArn(),
			contract.RestoreMoverFunction:            r.mover.FunctionArn(),
			contract.RestoreStateMachineArn:          svc.machineArn,
			contract.RestoreWaitHandle:               handle.Ref(),
			contract.RestoreTransferSubnetID:         r.transferSubnet.SubnetId(),
			contract.RestoreTransferSubnetArn:        subnetArn(stack, r.transferSubnet),
			contract.RestoreTransferSecurityGroupID:  r.transferGroup.SecurityGroupId(),
			contract.RestoreTransferSecurityGroupArn: securityGroupArn(stack, r.transferGroup),
			contract.RestoreTransferRoleArn:          r.transfer.RoleArn(),
			contract.RestoreCleanerFunction:          r.cleaner.FunctionArn(),
			contract.RestoreAlertTopicArn:            alertTopicArn(c.protection),
		},
		// Removing the restore stops its execution, if it still runs; it
		// never touches restored data. A stop that fails is also told to
		// the protection's alert topic (internal/efsrestore: alertOnFailure).
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})
	c.protection.grantAlert(svc.role)
	startCfn := r.start.Node().DefaultChild().(awscdk.CfnResource)
	// The guard first: a refused deploy starts no restore. The file system
	// next, so its policy lets the mover in before the restore starts.
	guardOf(c).before(startCfn)
	startCfn.AddResourceDependency(c.cfn, jsii.String("the file system policy lets the mover in before the restore starts"))
	startCfn.AddResourceDependency(svc.policy, jsii.String("the orchestrator may run the restore"))
	r.wait = awscdk.NewCfnWaitCondition(scope, jsii.String("Done"+suffix), &awscdk.CfnWaitConditionProps{
		Handle:  handle.Ref(),
		Timeout: jsii.String(waitTimeout),
		Count:   jsii.Number(1),
	})
	r.wait.AddResourceDependency(startCfn, jsii.String("the wait condition waits for the restore this resource starts"))
	return r
}

// addMover creates the mover: a function in the VPC that mounts the file
// system's root, as root, through an access point that exists only during the
// restore, and reaches nothing but the file system (NFS, 2049).
func (r *fileSystemRestore) addMover(c *FileSystem, scope constructs.Construct, vpc awsec2.IVpc, subnets *awsec2.SubnetSelection) {
	stack := awscdk.Stack_Of(c)
	r.rootAccessPoint = c.fs.AddAccessPoint(jsii.String("RestoreAccessPoint"), &awsefs.AccessPointOptions{
		Path:      jsii.String("/"),
		PosixUser: &awsefs.PosixUser{Uid: jsii.String("0"), Gid: jsii.String("0")},
	})
	sg := awsec2.NewSecurityGroup(scope, jsii.String("MoverSecurityGroup"), &awsec2.SecurityGroupProps{
		Vpc:              vpc,
		Description:      jsii.String("restorable: the mover reaches only the file system (NFS, 2049)"),
		AllowAllOutbound: jsii.Bool(false),
	})
	r.mover, r.moverRole = newHandlerFunction(scope, "Mover", contract.HandlerMover, functionOptions{
		description:    "restorable: puts the files of a restore of " + *c.Node().Path() + " in place",
		timeout:        awscdk.Duration_Seconds(jsii.Number(contract.MoverTimeout.Seconds())),
		memory:         512,
		env:            map[string]*string{contract.EnvMount: jsii.String(contract.MoverMountPath)},
		vpc:            vpc,
		subnets:        subnets,
		securityGroups: []awsec2.ISecurityGroup{sg},
		// Mounting through the access point makes the function depend on the
		// file system's mount targets, and opens port 2049 to them.
		filesystem: awslambda.FileSystem_FromEfsAccessPoint(r.rootAccessPoint, jsii.String(contract.MoverMountPath)),
	})
	r.moverRole.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("MountTheRootAsRoot"),
		Actions:   jsii.Strings("elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite", "elasticfilesystem:ClientRootAccess"),
		Resources: jsii.Strings(*c.fs.FileSystemArn()),
		Conditions: &map[string]interface{}{
			"StringEquals": map[string]interface{}{"elasticfilesystem:AccessPointArn": r.rootAccessPoint.AccessPointArn()},
			"Bool":         map[string]interface{}{"elasticfilesystem:AccessedViaMountTarget": "true"},
		},
	}))
	// The network interfaces of a function in a VPC, which Lambda manages with
	// the function's role. Lambda checks them when it creates the function and
	// asks for DeleteNetworkInterface on any interface ID ("Either specify a
	// unique resource ID, or include all resource IDs":
	// https://docs.aws.amazon.com/lambda/latest/dg/configuration-vpc.html#configuration-vpc-permissions),
	// so they are scoped to this account and region, not to the VPC;
	// DescribeNetworkInterfaces works only on "*".
	r.moverRole.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("VpcNetworkInterfaces"),
		Actions:   jsii.Strings("ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"),
		Resources: jsii.Strings(*stack.FormatArn(&awscdk.ArnComponents{Service: jsii.String("ec2"), Resource: jsii.String("*"), ResourceName: jsii.String("*")})),
	}))
	r.moverRole.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("DescribeNetworkInterfaces"),
		Actions:   jsii.Strings("ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"),
		Resources: jsii.Strings("*"),
	}))
	suppressNag(r.moverRole, true, nagException{rule: nagWildcard, appliesTo: []string{"Resource::*", `/^Resource::arn:.+:ec2:.+:\*\/\*$/`},
		reason: "A Lambda function in a VPC needs these EC2 network-interface actions: Lambda checks DeleteNetworkInterface on any interface ID, so they are scoped to this account and region, and ec2:DescribeNetworkInterfaces and DescribeSubnets support no resource-level permissions (https://docs.aws.amazon.com/lambda/latest/dg/configuration-vpc.html#configuration-vpc-permissions). " +
			"aws-cdk-lib's Lambda file system mount adds ClientMount and ClientWrite on * conditioned on the access point's ARN. The mover exists only during a restore."})
}

// addRestoreRole creates the role AWS Backup restores with: the EFS
// statements of AWSBackupServiceRolePolicyForRestores, without deletes, for
// this file system and, for a copy, the temporary file system AWS Backup
// creates.
func (r *fileSystemRestore) addRestoreRole(c *FileSystem, scope constructs.Construct) {
	stack := awscdk.Stack_Of(c)
	// AWS Backup documents the confused-deputy condition keys for resource
	// policies only, not for the trust policy of the role it is passed
	// (https://docs.aws.amazon.com/aws-backup/latest/devguide/cross-service-confused-deputy-prevention.html),
	// so the trust policy has none; passing the role needs iam:PassRole,
	// which only the restore's orchestrator has, for this role.
	r.restoreRole = awsiam.NewRole(scope, jsii.String("RestoreRole"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("backup.amazonaws.com"), nil),
		Description: jsii.String("restorable: AWS Backup restores a recovery point into " + *c.Node().Path()),
	})
	fileSystems := *stack.FormatArn(&awscdk.ArnComponents{Service: jsii.String("elasticfilesystem"), Resource: jsii.String("file-system"), ResourceName: jsii.String("*")})
	keys := jsii.Strings(*stack.FormatArn(&awscdk.ArnComponents{Service: jsii.String("kms"), Resource: jsii.String("key"), ResourceName: jsii.String("*")}))
	for _, st := range []*awsiam.PolicyStatementProps{
		{Sid: jsii.String("RestoreIntoThisFileSystem"), Actions: jsii.Strings("elasticfilesystem:Restore", "elasticfilesystem:DescribeFileSystems"),
			Resources: jsii.Strings(*c.fs.FileSystemArn())},
		// A copy: AWS Backup creates the temporary file system, restores into
		// it and tags it (AWSBackupServiceRolePolicyForRestores grants
		// TagResource too); it cannot delete a file system.
		{Sid: jsii.String("RestoreIntoATemporaryFileSystem"), Actions: jsii.Strings("elasticfilesystem:CreateFilesystem", "elasticfilesystem:Restore",
			"elasticfilesystem:DescribeFileSystems", "elasticfilesystem:TagResource"), Resources: jsii.Strings(fileSystems)},
		{Sid: jsii.String("DescribeKeys"), Actions: jsii.Strings("kms:DescribeKey"), Resources: keys},
		{Sid: jsii.String("UseKeysThroughEFS"), Actions: jsii.Strings("kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext", "kms:ReEncryptFrom", "kms:ReEncryptTo"),
			Resources:  keys,
			Conditions: &map[string]interface{}{"StringLike": map[string]interface{}{"kms:ViaService": "elasticfilesystem.*.amazonaws.com"}}},
		{Sid: jsii.String("GrantKeysToAWSServices"), Actions: jsii.Strings("kms:CreateGrant"), Resources: keys,
			Conditions: &map[string]interface{}{"Bool": map[string]interface{}{"kms:GrantIsForAWSResource": "true"}}},
	} {
		r.restoreRole.AddToPolicy(awsiam.NewPolicyStatement(st))
	}
	// The temporary file system AWS Backup creates is not known at synth, so
	// the role restores into file-system/*; but never into a file system of a
	// CloudFormation stack but this one.
	r.restoreRole.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid: jsii.String("NeverIntoAnotherStacksFileSystem"), Effect: awsiam.Effect_DENY,
		Actions: jsii.Strings("elasticfilesystem:Restore"), NotResources: jsii.Strings(*c.fs.FileSystemArn()),
		Conditions: &map[string]interface{}{"Null": map[string]interface{}{"aws:ResourceTag/aws:cloudformation:stack-id": "false"}},
	}))
	suppressNag(r.restoreRole, true, nagException{rule: nagWildcard, appliesTo: []string{`/^Resource::arn:.+:(kms:.+:key|elasticfilesystem:.+:file-system)\/\*$/`},
		reason: "AWS Backup restores with the key of the vault that holds the recovery point, which the deploy does not know, and, for a recovery point of another file system, into a temporary file system it creates during the deploy. " +
			"KMS use is limited to requests made through EFS (kms:ViaService) and grants for AWS resources; the role cannot delete a file system; only AWS Backup can assume it, and only the restore's orchestrator can pass it."})
}

// addTransfer creates what AWS DataSync needs to copy a recovery point of
// another file system into c: a security group for DataSync's network
// interfaces and the temporary file system's mount target, which reach each
// other and c's mount targets on NFS only, and a role that only DataSync, for
// this account's locations, can assume, with root access to c.
func (r *fileSystemRestore) addTransfer(c *FileSystem, scope constructs.Construct, vpc awsec2.IVpc, subnets *awsec2.SubnetSelection) {
	stack := awscdk.Stack_Of(c)
	selected := vpc.SelectSubnets(subnets).Subnets
	if selected == nil || len(*selected) == 0 {
		panic(&InputError{Construct: *c.Node().Path(), Setting: "FileSystemProps.VpcSubnets", Problem: "selects no subnet",
			Fix: "select the private subnets the mount targets are in"})
	}
	r.transferSubnet, r.vpc = (*selected)[0], vpc
	r.transferGroup = awsec2.NewSecurityGroup(scope, jsii.String("TransferSecurityGroup"), &awsec2.SecurityGroupProps{
		Vpc:              vpc,
		Description:      jsii.String("restorable: DataSync copies a restored recovery point into the file system (NFS, 2049)"),
		AllowAllOutbound: jsii.Bool(false),
	})
	nfs := awsec2.Port_Tcp(jsii.Number(2049))
	r.transferGroup.AddIngressRule(r.transferGroup, nfs, jsii.String("DataSync to the temporary file system"), nil)
	r.transferGroup.AddEgressRule(r.transferGroup, nfs, jsii.String("DataSync to the temporary file system"), nil)
	c.fs.Connections().AllowDefaultPortFrom(r.transferGroup, jsii.String("DataSync copies a restored recovery point"))
	// DataSync documents aws:SourceAccount and aws:SourceArn for the trust
	// policy of the role it assumes: "The value of aws:SourceArn must include
	// the DataSync location ARN"
	// (https://docs.aws.amazon.com/datasync/latest/userguide/cross-service-confused-deputy-prevention.html).
	r.transfer = awsiam.NewRole(scope, jsii.String("TransferRole"), &awsiam.RoleProps{
		AssumedBy: awsiam.NewServicePrincipal(jsii.String("datasync.amazonaws.com"), &awsiam.ServicePrincipalOpts{
			Conditions: &map[string]interface{}{
				"StringEquals": map[string]interface{}{"aws:SourceAccount": stack.Account()},
				"ArnLike":      map[string]interface{}{"aws:SourceArn": stack.FormatArn(&awscdk.ArnComponents{Service: jsii.String("datasync"), Resource: jsii.String("location"), ResourceName: jsii.String("*")})},
			},
		}),
		Description: jsii.String("restorable: DataSync writes a restored recovery point into " + *c.Node().Path()),
	})
	// Root access to the file system, over a mount target, to write files as
	// their owners (https://docs.aws.amazon.com/datasync/latest/userguide/create-efs-location.html).
	r.transfer.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("WriteAsRoot"),
		Actions:    jsii.Strings("elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite", "elasticfilesystem:ClientRootAccess"),
		Resources:  jsii.Strings(*c.fs.FileSystemArn()),
		Conditions: &map[string]interface{}{"Bool": map[string]interface{}{"elasticfilesystem:AccessedViaMountTarget": "true"}},
	}))
}

// addCleaner creates the cleaner: a function, outside the VPC, that deletes
// what a copy created, with a role of its own that may delete only file
// systems and DataSync tasks and locations carrying this restore's tag, and
// may tag nothing. The orchestrator tags and deletes nothing, so no one
// principal can tag a file system it did not create and then delete it.
func (r *fileSystemRestore) addCleaner(c *FileSystem, scope constructs.Construct) {
	stack := awscdk.Stack_Of(c)
	r.cleaner, r.cleanerRole = newHandlerFunction(scope, "Cleaner", contract.HandlerEFSCleaner, functionOptions{
		description: "restorable: deletes the temporary file system and DataSync resources of a copy into " + *c.Node().Path(),
		timeout:     awscdk.Duration_Minutes(jsii.Number(5)),
	})
	slash := func(service, resource string) string {
		return *stack.FormatArn(&awscdk.ArnComponents{Service: jsii.String(service), Resource: jsii.String(resource), ResourceName: jsii.String("*")})
	}
	fileSystems := slash("elasticfilesystem", "file-system")
	tagged := map[string]interface{}{"StringEquals": map[string]interface{}{"aws:ResourceTag/" + contract.TagRecoveryPoint: c.point.ID}}
	for _, st := range []*awsiam.PolicyStatementProps{
		{Sid: jsii.String("FindTheTemporaryFileSystem"), Actions: jsii.Strings("elasticfilesystem:DescribeFileSystems", "elasticfilesystem:DescribeMountTargets"),
			Resources: jsii.Strings(fileSystems)},
		{Sid: jsii.String("DeleteOnlyTaggedFileSystems"), Actions: jsii.Strings("elasticfilesystem:UntagResource", "elasticfilesystem:DeleteMountTarget", "elasticfilesystem:DeleteFileSystem"),
			Resources: jsii.Strings(fileSystems), Conditions: &tagged},
		{Sid: jsii.String("NeverAStacksFileSystem"), Effect: awsiam.Effect_DENY, Actions: jsii.Strings("elasticfilesystem:UntagResource", "elasticfilesystem:DeleteMountTarget", "elasticfilesystem:DeleteFileSystem"),
			Resources:  jsii.Strings(fileSystems),
			Conditions: &map[string]interface{}{"Null": map[string]interface{}{"aws:ResourceTag/aws:cloudformation:stack-id": "false"}}},
		{Sid: jsii.String("NeverThisFileSystem"), Effect: awsiam.Effect_DENY, Actions: jsii.Strings("elasticfilesystem:UntagResource", "elasticfilesystem:DeleteMountTarget", "elasticfilesystem:DeleteFileSystem"),
			Resources: jsii.Strings(*c.fs.FileSystemArn())},
		{Sid: jsii.String("DeleteOnlyTaggedTransfers"), Actions: jsii.Strings("datasync:DeleteTask", "datasync:DeleteLocation"),
			Resources: jsii.Strings(slash("datasync", "task"), slash("datasync", "location")), Conditions: &tagged},
	} {
		r.cleanerRole.AddToPolicy(awsiam.NewPolicyStatement(st))
	}
	suppressNag(r.cleanerRole, true, nagException{rule: nagWildcard,
		appliesTo: []string{`/^Resource::arn:.+:(elasticfilesystem:.+:file-system|datasync:.+:(task|location))\/\*$/`},
		reason:    "A copy's temporary file system and DataSync resources are created during the deploy, so their IDs are not known: the cleaner may delete only what carries this restore's tag (aws:ResourceTag), never a file system of a CloudFormation stack, and may tag nothing; its code deletes only the file system whose creation token names the request. It exists only in a deploy that restores."})
}

// subnetArn and securityGroupArn are the ARNs DataSync takes.
func subnetArn(stack awscdk.Stack, subnet awsec2.ISubnet) *string {
	return stack.FormatArn(&awscdk.ArnComponents{Service: jsii.String("ec2"), Resource: jsii.String("subnet"), ResourceName: subnet.SubnetId()})
}

func securityGroupArn(stack awscdk.Stack, sg awsec2.ISecurityGroup) *string {
	return stack.FormatArn(&awscdk.ArnComponents{Service: jsii.String("ec2"), Resource: jsii.String("security-group"), ResourceName: sg.SecurityGroupId()})
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

// alertTopicArn is the protection's alert topic, or "" without one.
func alertTopicArn(p *Protection) interface{} {
	if t := p.AlertTopic(); t != nil {
		return t.TopicArn()
	}
	return ""
}
