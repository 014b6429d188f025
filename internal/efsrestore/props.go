// Package efsrestore restores an AWS Backup recovery point into a stack's own
// EFS file system, inside one `cdk deploy`, for restores of any length up to
// the 12 hours a CloudFormation wait condition can wait.
//
// CloudFormation gives a custom resource at most an hour (ServiceTimeout, 1 to
// 3600 s: https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/crpg-ref-requests.html),
// so the restore is split in three:
//
//   - Custom::RestorableEfsRestore (OnEvent) starts one Step Functions
//     execution, named after the CloudFormation request, and answers at once.
//     It never starts anything while the stack rolls back; on a rollback or a
//     delete it stops the execution and has the mover undo the request's own
//     swaps, so nothing keeps running after a failed deploy, and the files are
//     either as they were or fully restored.
//   - The execution calls Step every 30 seconds: it records the file system
//     root with the mover, starts the AWS Backup restore job, follows it,
//     copies a recovery point of another file system through a temporary one
//     (copy.go), has the mover put the files in place, and signals the result.
//   - An AWS::CloudFormation::WaitCondition (Timeout up to 43200 s) waits for
//     that signal, so the deploy succeeds when the files are in place, and
//     fails, and rolls back, when the restore fails or takes longer.
package efsrestore

import (
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws/arn"

	"github.com/restorable-cdk/restorable/internal/contract"
)

// Props are the restore's properties: the custom resource's, and the
// execution's request.
type Props struct {
	Resource, RecoveryPointArn, FileSystemID, FileSystemArn    string
	Encrypted, KmsKeyID, PerformanceMode                       string
	RestoreRoleArn, MoverFunction, StateMachineArn, WaitHandle string
	TransferSubnetID, TransferSubnetArn                        string
	TransferSecurityGroupID, TransferSecurityGroupArn          string
	TransferRoleArn                                            string
	CleanerFunction                                            string
	// AlertTopicArn, if set, hears of a stop that could not undo a swap.
	AlertTopicArn string `json:",omitempty"`
	// RequestID is the CloudFormation request that started the restore; the
	// custom resource adds it to the execution's request.
	RequestID string `json:",omitempty"`

	point contract.RecoveryPoint
}

// ParseProps reads and checks the properties of an event.
func ParseProps(raw map[string]interface{}) (Props, error) {
	s := func(k string) string { v, _ := raw[k].(string); return v }
	p := Props{
		Resource: s(contract.RestoreResource), RecoveryPointArn: s(contract.RestoreRecoveryPointArn),
		FileSystemID: s(contract.RestoreFileSystemID), FileSystemArn: s(contract.RestoreFileSystemArn),
		Encrypted: s(contract.RestoreEncrypted), KmsKeyID: s(contract.RestoreKmsKeyID), PerformanceMode: s(contract.RestorePerformanceMode),
		RestoreRoleArn: s(contract.RestoreRoleArn), MoverFunction: s(contract.RestoreMoverFunction),
		StateMachineArn: s(contract.RestoreStateMachineArn), WaitHandle: s(contract.RestoreWaitHandle),
		TransferSubnetID: s(contract.RestoreTransferSubnetID), TransferSubnetArn: s(contract.RestoreTransferSubnetArn),
		TransferSecurityGroupID: s(contract.RestoreTransferSecurityGroupID), TransferSecurityGroupArn: s(contract.RestoreTransferSecurityGroupArn),
		TransferRoleArn: s(contract.RestoreTransferRoleArn), CleanerFunction: s(contract.RestoreCleanerFunction),
		AlertTopicArn: s(contract.RestoreAlertTopicArn),
	}
	return p, p.check()
}

// check validates the properties; every value used in a name or a call has a
// fixed shape.
func (p *Props) check() error {
	for name, v := range map[string]string{contract.RestoreRecoveryPointArn: p.RecoveryPointArn, contract.RestoreFileSystemID: p.FileSystemID,
		contract.RestoreFileSystemArn: p.FileSystemArn, contract.RestoreRoleArn: p.RestoreRoleArn, contract.RestoreMoverFunction: p.MoverFunction,
		contract.RestoreStateMachineArn: p.StateMachineArn, contract.RestoreWaitHandle: p.WaitHandle} {
		if v == "" {
			return fmt.Errorf("efsrestore: property %s is missing", name)
		}
	}
	point, err := contract.ParseRecoveryPoint(p.RecoveryPointArn)
	if err != nil {
		return fmt.Errorf("efsrestore: %s=%q %w", contract.RestoreRecoveryPointArn, p.RecoveryPointArn, err)
	}
	p.point = point
	for name, v := range map[string]string{contract.RestoreFileSystemArn: p.FileSystemArn, contract.RestoreRoleArn: p.RestoreRoleArn,
		contract.RestoreMoverFunction: p.MoverFunction, contract.RestoreStateMachineArn: p.StateMachineArn} {
		if _, err := arn.Parse(v); err != nil {
			return fmt.Errorf("efsrestore: property %s=%q is not an ARN", name, v)
		}
	}
	if p.RequestID != "" && !contract.RequestIDPattern.MatchString(p.RequestID) {
		return fmt.Errorf("efsrestore: request ID %q is not valid", p.RequestID)
	}
	return nil
}

// checkTransfer reports a template without the properties a copy needs.
func (p Props) checkTransfer() error {
	for name, v := range map[string]string{contract.RestoreTransferSubnetID: p.TransferSubnetID, contract.RestoreTransferSubnetArn: p.TransferSubnetArn,
		contract.RestoreTransferSecurityGroupID: p.TransferSecurityGroupID, contract.RestoreTransferSecurityGroupArn: p.TransferSecurityGroupArn,
		contract.RestoreTransferRoleArn: p.TransferRoleArn, contract.RestoreCleanerFunction: p.CleanerFunction} {
		if v == "" {
			return fmt.Errorf("restorable: %s: %s is a recovery point of another file system, and the restore's property %s is missing", p.Resource, p.RecoveryPointArn, name)
		}
	}
	return nil
}
