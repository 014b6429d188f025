package restorable

import (
	"fmt"
	"regexp"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsbackup"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// newSecureVault creates a vault, encrypted with its own rotating
// customer-managed key, whose recovery points nobody can delete early, which
// only the break-glass principal can loosen (as its key), kept (with the key)
// when the stack is deleted, and guarded against replacement.
func newSecureVault(scope constructs.Construct, path, name string, lock *awsbackup.LockConfiguration, allowReplace string) (awsbackup.IBackupVault, awskms.IKey, *guardEntry) {
	key := newHardenedKey(scope, "VaultKey", "restorable: encryption of the AWS Backup vault "+path)
	var vaultName *string
	if name != "" {
		checkVaultName(path, "VaultName", name)
		vaultName = jsii.String(name)
	}
	vault := awsbackup.NewBackupVault(scope, jsii.String("Vault"), &awsbackup.BackupVaultProps{
		BackupVaultName:   vaultName,
		EncryptionKey:     key,
		RemovalPolicy:     awscdk.RemovalPolicy_RETAIN,
		LockConfiguration: lock,
	})
	// Nobody, whatever their IAM permissions, may delete a recovery point or
	// shorten its retention; AWS Backup still expires recovery points on the
	// plan's schedule.
	vault.BlockRecoveryPointDeletion()
	// Nor, but for the break-glass principal, delete the vault, loosen its
	// access policy or lock, or disassociate a recovery point.
	hardenVault(vault)
	cfn := vault.Node().DefaultChild().(awsbackup.CfnBackupVault)
	guard := guardOf(scope).protect(scope, cfn, allowReplace, false, nil, func() map[string]interface{} { return vaultCreateOnly(cfn) })
	return vault, key, guard
}

// vaultNamePattern is what AWS Backup accepts as a vault name
// (https://docs.aws.amazon.com/aws-backup/latest/devguide/API_CreateBackupVault.html).
var vaultNamePattern = regexp.MustCompile(`^[a-zA-Z0-9\-_]{2,50}$`)

func checkVaultName(path, setting, name string) {
	if !isToken(name) && !vaultNamePattern.MatchString(name) {
		panic(&InputError{Construct: path, Setting: setting, Value: name,
			Problem: "is not a valid AWS Backup vault name: 2 to 50 letters, digits, hyphens and underscores",
			Fix:     "use a name such as redmine-dr"})
	}
}

// minVaultLockGrace is the shortest grace time of a compliance-mode Vault Lock:
// https://docs.aws.amazon.com/aws-backup/latest/devguide/vault-lock.html
const minVaultLockGraceDays = 3

func checkVaultLock(path string, lock *awsbackup.LockConfiguration, rules []*awsbackup.BackupPlanRuleProps) {
	if lock.ChangeableFor != nil && !unresolved(lock.ChangeableFor) && *lock.ChangeableFor.ToHours(nil) < minVaultLockGraceDays*24 {
		panic(&InputError{Construct: path, Setting: "VaultLock.ChangeableFor", Value: *lock.ChangeableFor.ToHumanString(),
			Problem: "is shorter than the 72 hours AWS Backup requires before a compliance-mode lock becomes immutable",
			Fix:     "use at least awscdk.Duration_Days(jsii.Number(3)); after that time nobody, including the root user, can remove the lock or delete recovery points early"})
	}
	if lock.MinRetention == nil || unresolved(lock.MinRetention) {
		return
	}
	if rules == nil {
		rules = DefaultRules()
	}
	for _, r := range rules {
		if r.DeleteAfter != nil && !unresolved(r.DeleteAfter) && *r.DeleteAfter.ToDays(nil) < *lock.MinRetention.ToDays(nil) {
			panic(&InputError{Construct: path, Setting: "VaultLock.MinRetention", Value: *lock.MinRetention.ToHumanString(),
				Problem: fmt.Sprintf("is longer than the retention of rule %s (%s), so AWS Backup would fail that rule's backups", *r.RuleName, *r.DeleteAfter.ToHumanString()),
				Fix:     "lower MinRetention to the shortest rule retention, or keep that rule's backups longer"})
		}
	}
}
