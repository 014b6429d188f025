package restorable

import (
	"regexp"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsbackup"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// BackupDestinationProps configures a vault, in a backup account of the
// organization, that receives copies from the workload accounts.
type BackupDestinationProps struct {
	// VaultName is the vault's name, which the source stacks' CopyToVaultArn
	// names (BackupDestinationArn). Required.
	VaultName string
	// SourceAccounts are the 12-digit IDs of the accounts that copy into
	// the vault. Required unless OrganizationID is set.
	SourceAccounts []string
	// OrganizationID lets every account of the organization (o-...) copy
	// into the vault (aws:PrincipalOrgID).
	// Default: only SourceAccounts.
	OrganizationID string
	// VaultLock locks the vault (see ProtectionProps.VaultLock).
	// Default: governance mode, a minimum retention of 7 days, as
	// NewRecoveryVault.
	VaultLock *awsbackup.LockConfiguration
	// AllowReplace consents, for one deploy, to replacing the vault: the
	// name of the current vault.
	// Default: no consent; the replacement guard refuses such a deploy.
	AllowReplace string
}

// BackupDestination is a vault in a backup account that other accounts of
// the organization copy their recovery points into: a deployer or an
// administrator of a workload account has no credentials here, so the copies
// outlive that account. It has the protection of every vault restorable
// makes (its own rotating key, recovery points nobody can delete early,
// kept on deletion, guarded, break-glass-only loosening), and its access
// policy lets the source accounts copy in, and do nothing else: "Regardless
// of the AWS Backup vault's access policy, cross-account access for any
// action other than backup:CopyIntoBackupVault will be rejected"
// (https://docs.aws.amazon.com/aws-backup/latest/devguide/create-a-vault-access-policy.html).
//
// Cross-account copies also need, outside this construct (docs/backup.md):
// cross-account backup turned on in the organization's management account
// (aws backup update-global-settings --global-settings
// isCrossAccountBackupEnabled=true), and, in each source account, the source
// keys shared with this account, which the source stacks' Protection does by
// itself when CopyToVaultArn names another account
// (https://docs.aws.amazon.com/aws-backup/latest/devguide/create-cross-account-backup.html).
type BackupDestination struct {
	constructs.Construct
	vault awsbackup.IBackupVault
	key   awskms.IKey
	guard *guardEntry
}

var accountIDPattern = regexp.MustCompile(`^\d{12}$`)
var orgIDPattern = regexp.MustCompile(`^o-[a-z0-9]{10,32}$`)

// NewBackupDestination creates the vault that other accounts copy into.
func NewBackupDestination(scope constructs.Construct, id *string, props *BackupDestinationProps) *BackupDestination {
	d := &BackupDestination{}
	constructs.NewConstruct_Override(d, scope, id)
	path := *d.Node().Path()
	refuseNestedStack(d, awscdk.Stack_Of(d))
	if props == nil || props.VaultName == "" {
		panic(&InputError{Construct: path, Setting: "VaultName", Problem: "is not set, and the source stacks need the vault's name to copy to it",
			Fix: "set VaultName, for example \"org-backups\", and give each source stack CopyToVaultArn: restorable.BackupDestinationArn(...)"})
	}
	if len(props.SourceAccounts) == 0 && props.OrganizationID == "" {
		panic(&InputError{Construct: path, Setting: "SourceAccounts", Problem: "is empty and OrganizationID is not set, so no account could copy into the vault",
			Fix: "list the 12-digit account IDs of the workload accounts, or set OrganizationID"})
	}
	for _, a := range props.SourceAccounts {
		if !isToken(a) && !accountIDPattern.MatchString(a) {
			panic(&InputError{Construct: path, Setting: "SourceAccounts", Value: a, Problem: "is not a 12-digit AWS account ID", Fix: "give account IDs such as 123456789012"})
		}
	}
	if o := props.OrganizationID; o != "" && !isToken(o) && !orgIDPattern.MatchString(o) {
		panic(&InputError{Construct: path, Setting: "OrganizationID", Value: o, Problem: "is not an AWS Organizations ID (o-...)", Fix: "copy it from aws organizations describe-organization"})
	}
	lock := props.VaultLock
	if lock == nil {
		lock = &awsbackup.LockConfiguration{MinRetention: awscdk.Duration_Days(jsii.Number(defaultRecoveryLockDays))}
	} else {
		checkVaultLock(path, lock, nil)
	}
	vault, key, guard := newSecureVault(d, path, props.VaultName, lock, props.AllowReplace)
	d.vault, d.key, d.guard = vault, key, guard
	var principals []awsiam.IPrincipal
	for _, a := range props.SourceAccounts {
		principals = append(principals, awsiam.NewAccountPrincipal(jsii.String(a)))
	}
	var conditions *map[string]interface{}
	if props.OrganizationID != "" {
		principals = []awsiam.IPrincipal{awsiam.NewStarPrincipal()}
		conditions = &map[string]interface{}{"StringEquals": map[string]interface{}{"aws:PrincipalOrgID": props.OrganizationID}}
	}
	vault.(awsbackup.BackupVault).AddToAccessPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid: jsii.String("CopyIntoFromSourceAccounts"), Principals: &principals,
		Actions: jsii.Strings("backup:CopyIntoBackupVault"), Resources: jsii.Strings("*"), Conditions: conditions,
	}))
	// The copy is made by AWS Backup in this account with this vault's key.
	registryOf(d).add(path, kindBackupVault, func() []string {
		who := strings.Join(props.SourceAccounts, ", ")
		if props.OrganizationID != "" {
			who = "every account of " + props.OrganizationID
		}
		return []string{
			"receives: copies from " + who + " (backup:CopyIntoBackupVault only); no workload account's credentials can delete them",
			"needs:   cross-account backup on in the management account (aws backup update-global-settings --global-settings isCrossAccountBackupEnabled=true)",
			"guard:   a deploy that would replace the vault fails first (template fingerprint " + guard.fingerprint() + ")",
		}
	})
	return d
}

// BackupDestinationFromContext reads the destination's consent from the
// context: -c '<path>.allowReplace=<vault name>'.
func BackupDestinationFromContext(scope constructs.Construct, id string, props BackupDestinationProps) (*BackupDestinationProps, error) {
	consent, err := readContext(scope, registryOf(scope), childPath(scope, id), ContextAllowReplace, false)
	if err != nil {
		return nil, err
	}
	out := props
	if consent.set {
		out.AllowReplace = consent.value
	}
	return &out, nil
}

// Vault is the vault that receives the copies.
func (d *BackupDestination) Vault() awsbackup.IBackupVault { return d.vault }

// BackupDestinationArn is the ARN of the vault named name in account and
// region: the CopyToVaultArn of a source stack whose copies go to a
// BackupDestination deployed there.
func BackupDestinationArn(scope constructs.Construct, account, region, name string) string {
	path := *awscdk.Stack_Of(scope).Node().Path()
	checkVaultName(path, "BackupDestinationArn name", name)
	if !accountIDPattern.MatchString(account) {
		panic(&InputError{Construct: path, Setting: "BackupDestinationArn account", Value: account, Problem: "is not a 12-digit AWS account ID", Fix: "give the backup account's ID"})
	}
	if !regionName.MatchString(region) {
		panic(&InputError{Construct: path, Setting: "BackupDestinationArn region", Value: region, Problem: "is not an AWS region name", Fix: "give a region such as ap-northeast-3"})
	}
	return "arn:" + *awscdk.Aws_PARTITION() + ":backup:" + region + ":" + account + ":backup-vault:" + name
}
