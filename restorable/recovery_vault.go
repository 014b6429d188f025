package restorable

import (
	"regexp"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsbackup"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// RecoveryVaultProps configures the vault a DR region keeps copies in.
type RecoveryVaultProps struct {
	// VaultName is the vault's name, which the primary stack puts in its copy
	// rules (RecoveryVaultArn). Required.
	VaultName string
	// VaultLock locks the vault (see ProtectionProps.VaultLock).
	// Default: Vault Lock in governance mode with a minimum retention of 7
	// days: a copy kept less than a week is refused, and only principals with
	// backup:DeleteBackupVaultLockConfiguration, which the vault's own policy
	// denies to all but the break-glass principal, can remove the lock. A lock
	// in compliance mode (ChangeableFor set) cannot be removed by anyone once
	// its grace time ends.
	VaultLock *awsbackup.LockConfiguration
	// WithoutVaultLock leaves the vault unlocked.
	// Default: false (see VaultLock).
	WithoutVaultLock bool
	// AllowReplace consents, for one deploy, to replacing the vault: the name
	// of the current vault. The old vault and its copies are kept either way.
	// Default: no consent; the replacement guard refuses such a deploy.
	AllowReplace string
}

// defaultRecoveryLockDays is the minimum retention of a recovery vault's
// default governance-mode lock.
const defaultRecoveryLockDays = 7

// RecoveryVault is a vault in a DR region that receives copies of another
// region's recovery points, with the same protection as a Protection's vault:
// its own rotating customer-managed key, recovery points that nobody can
// delete early, kept when the stack is deleted, and guarded. Deploy it, in its
// own small stack, before the primary stack that copies to it; a restore in the
// DR region then uses the copies it holds.
type RecoveryVault struct {
	constructs.Construct
	vault awsbackup.IBackupVault
	key   awskms.IKey
	guard *guardEntry
}

// NewRecoveryVault creates a vault for copies from another region.
func NewRecoveryVault(scope constructs.Construct, id *string, props *RecoveryVaultProps) *RecoveryVault {
	v := &RecoveryVault{}
	constructs.NewConstruct_Override(v, scope, id)
	path := *v.Node().Path()
	refuseNestedStack(v, awscdk.Stack_Of(v))
	if props == nil || props.VaultName == "" {
		panic(&InputError{Construct: path, Setting: "VaultName", Problem: "is not set, and the primary stack needs the vault's name to copy to it",
			Fix: "set VaultName, for example \"redmine-dr\", and give the primary stack CopyToVaultArn: restorable.RecoveryVaultArn(stack, region, name)"})
	}
	lock := props.VaultLock
	switch {
	case lock != nil && props.WithoutVaultLock:
		panic(&InputError{Construct: path, Setting: "WithoutVaultLock", Value: "true",
			Problem: "is set together with VaultLock", Fix: "choose one: remove VaultLock, or remove WithoutVaultLock"})
	case lock != nil:
		checkVaultLock(path, lock, nil)
	case !props.WithoutVaultLock:
		lock = &awsbackup.LockConfiguration{MinRetention: awscdk.Duration_Days(jsii.Number(defaultRecoveryLockDays))}
	}
	v.vault, v.key, v.guard = newSecureVault(v, path, props.VaultName, lock, props.AllowReplace)
	registryOf(v).add(path, kindBackupVault, v.reportLines)
	return v
}

// Vault is the vault that receives the copies.
func (v *RecoveryVault) Vault() awsbackup.IBackupVault { return v.vault }

// VaultArn is the vault's ARN.
func (v *RecoveryVault) VaultArn() *string { return v.vault.BackupVaultArn() }

func (v *RecoveryVault) reportLines() []string {
	return []string{
		"receives: copies of another region's recovery points (restore them here with the copied ARNs)",
		"guard:   a deploy that would replace the vault fails first (template fingerprint " + v.guard.fingerprint() + ")",
		"consent: cdk deploy -c '" + ContextKey(*v.Node().Path(), ContextAllowReplace) + "=<current vault name>'",
	}
}

// regionName matches AWS region names such as ap-northeast-3 or us-gov-west-1.
var regionName = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-\d$`)

// RecoveryVaultArn is the ARN of the vault named name in region, in the account
// of scope's stack: the CopyToVaultArn of a primary stack whose DR stack
// creates that vault with NewRecoveryVault. It needs no reference between the
// stacks, so the two can live in different regions. It panics when region is
// the stack's own: a copy there does not survive the loss of the region.
func RecoveryVaultArn(scope constructs.Construct, region, name string) string {
	stack := awscdk.Stack_Of(scope)
	path := *stack.Node().Path()
	checkVaultName(path, "RecoveryVaultArn name", name)
	if !regionName.MatchString(region) {
		panic(&InputError{Construct: path, Setting: "RecoveryVaultArn region", Value: region, Problem: "is not an AWS region name",
			Fix: "give the DR region's name, for example ap-northeast-3"})
	}
	if r := stackRegion(scope); r == region {
		panic(&InputError{Construct: path, Setting: "RecoveryVaultArn region", Value: region,
			Problem: "is the stack's own region, so a copy there does not survive the loss of the region",
			Fix:     "give the DR region, where the recovery vault's stack is deployed"})
	}
	return *stack.FormatArn(&awscdk.ArnComponents{Service: jsii.String("backup"), Region: jsii.String(region),
		Resource: jsii.String("backup-vault"), ResourceName: jsii.String(name), ArnFormat: awscdk.ArnFormat_COLON_RESOURCE_NAME})
}
