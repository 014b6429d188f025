// Package contract holds what the restorable constructs and the Lambda handlers
// must agree on: the names of custom resource properties, handlers,
// environment variables and tags, and the small pure functions both sides
// compute. It imports no AWS SDK service package, so that the construct
// library (package restorable) stays free of them.
package contract

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"
)

// Environment variables of the restorable Lambda functions.
const (
	// EnvHandler selects which handler the one binary runs.
	EnvHandler = "RESTORABLE_HANDLER"
	// EnvMount is where the mover mounts the file system's root.
	EnvMount = "RESTORABLE_MOUNT"
)

// Handler names, the values of EnvHandler.
const (
	HandlerGuard      = "guard"
	HandlerEFSRestore = "efs-restore"
	HandlerMover      = "efs-mover"
	// HandlerEFSCleaner deletes what a copy created: a principal of its own,
	// which cannot tag, apart from the orchestrator, which cannot delete.
	HandlerEFSCleaner = "efs-cleaner"
)

// The replacement guard: one Custom::RestorableGuard per stack, which every
// guarded resource depends on, so CloudFormation updates it first.
const (
	GuardResourceType = "Custom::RestorableGuard"

	// GuardStack is the stack's construct path, for messages.
	GuardStack = "Stack"
	// GuardResources maps the logical ID of each guarded resource to its
	// entry (GuardPath, GuardType, GuardSource, GuardCreateOnly, GuardAdopt).
	GuardResources = "Resources"
	// GuardPresent lists the logical IDs of every resource of a guarded type
	// (GuardedTypes) in the template, restorable's or not: a resource of such a
	// type that the stack holds and this list lacks is about to be deleted.
	GuardPresent = "Present"
	// GuardConsent maps a construct path to the physical ID of the resource
	// the deploy may replace or remove (the <path>.allowReplace values).
	GuardConsent = "Consent"

	GuardPath       = "Path"
	GuardType       = "Type"
	GuardSource     = "Source"
	GuardCreateOnly = "CreateOnly"
	// GuardAdopt is "true" for a resource adopted from a plain L2, so the
	// refusal can say what Adopt keeps.
	GuardAdopt = "Adopt"
	// GuardPlain is "true" for a resource of a guarded type that no
	// restorable construct owns (a plain aws-cdk-lib one in a guarded stack).
	GuardPlain = "Plain"
	// GuardBeforeChange, on an Aurora cluster's entry, asks for a manual
	// snapshot before any deploy that changes one of its GuardWatch values:
	// {"Watch": {...}, "Keep": "<n>"}.
	GuardBeforeChange = "BeforeChange"
	GuardWatch        = "Watch"
	GuardKeep         = "Keep"
)

// Tags of the snapshots the guard takes before a risky change.
const (
	// TagBeforeChange holds the construct path of the cluster: the guard keeps
	// and prunes snapshots by it, across the cluster identifiers restores give.
	TagBeforeChange = "restorable:before-change"
	// TagChange holds the Fingerprint of the watched values the deploy brings,
	// so a deploy retried after a timeout waits on the same snapshot.
	TagChange = "restorable:change"
)

// TagRestoredFrom, on an Aurora cluster restorable restored, holds the kind
// of its restore source (snapshot, point-in-time, clone): the guard, seeing
// the cluster without its previous template, can tell from it that a
// template without a restore source would replace it with an empty one.
const TagRestoredFrom = "restorable:restored-from"

// RollbackAttribute is the guard's response attribute that holds the rollback
// command of the cluster with this logical ID: `cdk deploy -c
// '<path>.snapshotArn=<the newest snapshot taken before a change>'`.
func RollbackAttribute(logicalID string) string { return "RollbackCommand" + logicalID }

// NoSnapshotYet is the rollback attribute's value before the first snapshot.
const NoSnapshotYet = "no snapshot before a change yet"

// The resource types the guard protects.
const (
	TypeDBCluster   = "AWS::RDS::DBCluster"
	TypeFileSystem  = "AWS::EFS::FileSystem"
	TypeBackupVault = "AWS::Backup::BackupVault"
	TypeAirGapVault = "AWS::Backup::LogicallyAirGappedBackupVault"
)

// GuardedTypes are the stateful resource types the guard protects.
var GuardedTypes = []string{TypeDBCluster, TypeFileSystem, TypeBackupVault, TypeAirGapVault, TypeGlobalCluster}

// ConsentSuffix ends the context key that consents to a replacement:
// "<construct path>.allowReplace".
const ConsentSuffix = "allowReplace"

// ConsentKey is the context key of the consent for the construct at path.
func ConsentKey(path string) string { return path + "." + ConsentSuffix }

// Fingerprint is a short, stable digest of a resource's restore source and
// create-only properties, for reports and logs: the synth report prints the
// template's, the guard logs the resolved one.
func Fingerprint(source, createOnly map[string]interface{}) string {
	raw, _ := json.Marshal(map[string]interface{}{"s": source, "c": createOnly}) // json sorts map keys
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:])[:12]
}

// The EFS restore: in a deploy that restores a recovery point, a short custom
// resource (Custom::RestorableEfsRestore) starts one Step Functions execution,
// which restores, puts the files in place, and signals a wait condition.
const (
	EFSRestoreResourceType = "Custom::RestorableEfsRestore"

	// Properties of the custom resource, which are also the execution's
	// request.
	RestoreResource                 = "Resource"
	RestoreRecoveryPointArn         = "RecoveryPointArn"
	RestoreFileSystemID             = "FileSystemId"
	RestoreFileSystemArn            = "FileSystemArn"
	RestoreEncrypted                = "Encrypted"
	RestoreKmsKeyID                 = "KmsKeyId"
	RestorePerformanceMode          = "PerformanceMode"
	RestoreRoleArn                  = "RestoreRoleArn"
	RestoreMoverFunction            = "MoverFunction"
	RestoreStateMachineArn          = "StateMachineArn"
	RestoreWaitHandle               = "WaitHandle"
	RestoreTransferSubnetID         = "TransferSubnetId"
	RestoreTransferSubnetArn        = "TransferSubnetArn"
	RestoreTransferSecurityGroupID  = "TransferSecurityGroupId"
	RestoreTransferSecurityGroupArn = "TransferSecurityGroupArn"
	RestoreTransferRoleArn          = "TransferRoleArn"
	RestoreCleanerFunction          = "CleanerFunction"
	RestoreAlertTopicArn            = "AlertTopicArn"

	// TagRecoveryPoint tags what a copy creates (the temporary file system,
	// the DataSync locations and task) with the recovery point's ID, which the
	// restore's IAM policy requires for every change to them.
	TagRecoveryPoint = "restorable:recovery-point"
	// TagRequest tags them with the request that created them.
	TagRequest = "restorable:restore-request"

	// MoverMountPath is where the mover mounts the file system's root.
	MoverMountPath = "/mnt/efs"
)

// The times a restore's stop depends on. A mover step holds the file
// system's lock with a lease that ends a minute after the longest the step
// can run (its function's timeout), so a step that crashed holding it
// frees it then; the stop of a restore, which runs in the orchestrator
// (15 minutes, the custom resource's ServiceTimeout too) and keeps a minute
// to answer CloudFormation, waits longer than that lease, so it can always
// undo the request's swaps instead of failing the rollback.
const (
	MoverTimeout        = 10 * time.Minute
	MoverLease          = MoverTimeout + time.Minute
	OrchestratorTimeout = 15 * time.Minute
	StopMargin          = time.Minute
)
