// Package dr is the disaster recovery example: the Redmine app of
// examples/redmine in a primary region, its backups copied to a vault in a
// recovery region, and the same app, from the same code, ready to be deployed
// in the recovery region from those copies (backup & restore).
//
//	RedmineDrVault   recovery region  the vault that receives the copies (deploy first, keep)
//	RedminePrimary   primary region   the app; copies every recovery point to RedmineDrVault; monthly restore drills
//	RedmineRecovery  recovery region  the same app; deployed only when the primary region is lost:
//
//	cdk deploy RedmineRecovery \
//	  -c RedmineRecovery/Database.snapshotArn=<copied snapshot ARN> \
//	  -c RedmineRecovery/Files.efsRecoveryPointArn=<copied recovery point ARN>
//
// The app has two restorable clusters, so restorable refuses the bare keys
// (-c snapshotArn=...): a restore always names the stack it restores.
package dr

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsbackup"
	"github.com/aws/jsii-runtime-go"

	"github.com/restorable-cdk/restorable/examples/redmine"
	"github.com/restorable-cdk/restorable/restorable"
)

// Props configures the example.
type Props struct {
	// Account deploys every stack to this account.
	// Default: the account of the deploying credentials (environment-agnostic
	// account, fixed regions).
	Account *string
	// PrimaryRegion runs the app.
	// Default: ap-northeast-1 (Tokyo).
	PrimaryRegion string
	// RecoveryRegion keeps the copies and takes over when the primary region
	// is lost.
	// Default: ap-northeast-3 (Osaka).
	RecoveryRegion string
	// BackupAccount keeps a second copy in this other account of the
	// organization (a restorable.BackupDestination, in the primary region),
	// so that one copy outlives the workload account's credentials while the
	// other, in the recovery region, outlives the region. Needs Account.
	// Default: the copies stay in the workload account (a RecoveryVault).
	BackupAccount string
	// LockRecoveryVault locks the vault that keeps the copies in compliance
	// mode: after 3 days nobody, not even the root user, can remove the lock
	// or delete a copy before its 7 days.
	// Default: governance mode (NewRecoveryVault's default).
	LockRecoveryVault bool
	// Strategy is how the recovery region waits for a disaster
	// (docs/global.md compares their RTO, RPO and cost).
	// Default: BackupAndRestore.
	Strategy Strategy
	// ReplicaFileSystemId is the ID of RedmineRecovery's file system (its
	// output FilesFileSystemId), with PilotLight or WarmStandby: the
	// primary's files replicate into it. Deploy RedmineRecovery first, then
	// RedminePrimary with it.
	// Default: no replication yet (synth warns); the files are copied as
	// backups only.
	ReplicaFileSystemId string
}

// Strategy is a disaster recovery strategy, after AWS's
// (https://docs.aws.amazon.com/whitepapers/latest/disaster-recovery-workloads-on-aws/disaster-recovery-options-in-the-cloud.html).
type Strategy string

const (
	// BackupAndRestore copies backups to the recovery region; RedmineRecovery
	// is deployed from them when the primary region is lost (hours).
	BackupAndRestore Strategy = "backup-and-restore"
	// PilotLight keeps a headless Aurora secondary in the recovery region:
	// the data replicates, no instance runs. A failover first deploys the
	// instance, then promotes it.
	PilotLight Strategy = "pilot-light"
	// WarmStandby keeps a secondary with its instances; Redmine runs no task
	// there until the failover deploy starts it (about a minute for the
	// database).
	WarmStandby Strategy = "warm-standby"
)

// GlobalName names the global database of PilotLight and WarmStandby.
const GlobalName = "redmine-global"

// VaultName names the recovery vault, so the primary stack can compute its ARN
// without a reference across regions.
const VaultName = "redmine-dr"

// App is the example's stacks.
type App struct {
	Vault awscdk.Stack
	// Backup is the backup account's vault, with Props.BackupAccount.
	Backup   awscdk.Stack
	Primary  *redmine.Stack
	Recovery *redmine.Stack
}

// New builds the three stacks in app.
func New(app awscdk.App, props *Props) (*App, error) {
	p := Props{PrimaryRegion: "ap-northeast-1", RecoveryRegion: "ap-northeast-3"}
	if props != nil {
		if props.Account != nil {
			p.Account = props.Account
		}
		if props.PrimaryRegion != "" {
			p.PrimaryRegion = props.PrimaryRegion
		}
		if props.RecoveryRegion != "" {
			p.RecoveryRegion = props.RecoveryRegion
		}
		p.BackupAccount, p.LockRecoveryVault, p.Strategy, p.ReplicaFileSystemId = props.BackupAccount, props.LockRecoveryVault, props.Strategy, props.ReplicaFileSystemId
	}
	var primaryGlobal, recoveryGlobal *restorable.GlobalDatabase
	var replicateTo *restorable.FileSystemReplication
	var replicaOf *restorable.FileSystemReplica
	switch p.Strategy {
	case "", BackupAndRestore:
	case PilotLight, WarmStandby:
		primaryGlobal = &restorable.GlobalDatabase{Identifier: GlobalName, SecondaryRegions: []string{p.RecoveryRegion}}
		recoveryGlobal = &restorable.GlobalDatabase{Identifier: GlobalName, Secondary: true, PrimaryRegion: p.PrimaryRegion, Headless: p.Strategy == PilotLight}
		replicaOf = &restorable.FileSystemReplica{SourceRegion: p.PrimaryRegion}
		if p.ReplicaFileSystemId != "" {
			replicateTo = &restorable.FileSystemReplication{Region: p.RecoveryRegion, FileSystemId: p.ReplicaFileSystemId}
		}
	default:
		return nil, fmt.Errorf("dr: Strategy=%q is not a strategy; use %q, %q or %q", p.Strategy, BackupAndRestore, PilotLight, WarmStandby)
	}
	if p.BackupAccount != "" && p.Account == nil {
		return nil, fmt.Errorf("dr: BackupAccount=%q needs Account, the workload account that copies into it", p.BackupAccount)
	}
	env := func(region string) *awscdk.Environment {
		return &awscdk.Environment{Account: p.Account, Region: jsii.String(region)}
	}
	a := &App{}

	var err error
	var lock *awsbackup.LockConfiguration
	if p.LockRecoveryVault {
		lock = &awsbackup.LockConfiguration{MinRetention: awscdk.Duration_Days(jsii.Number(7)), ChangeableFor: awscdk.Duration_Days(jsii.Number(3))}
	}
	copyTo := &redmine.RecoveryVault{Region: p.RecoveryRegion, Name: VaultName}
	a.Vault = awscdk.NewStack(app, jsii.String("RedmineDrVault"), &awscdk.StackProps{
		Env:         env(p.RecoveryRegion),
		Description: jsii.String("Redmine DR: the vault in " + p.RecoveryRegion + " that keeps copies of " + p.PrimaryRegion + "'s backups"),
	})
	vaultProps, err := restorable.RecoveryVaultFromContext(a.Vault, "RecoveryVault", restorable.RecoveryVaultProps{VaultName: VaultName, VaultLock: lock})
	if err != nil {
		return nil, err
	}
	restorable.NewRecoveryVault(a.Vault, jsii.String("RecoveryVault"), vaultProps)
	var copyToAccount *redmine.RecoveryVault
	if p.BackupAccount != "" {
		// AWS Backup copies an Aurora snapshot across accounts or across
		// regions, not both at once
		// (https://docs.aws.amazon.com/aws-backup/latest/devguide/recov-point-create-a-copy.html):
		// the backup account's vault is in the primary region, and the
		// recovery region's vault stays in the workload account.
		a.Backup = awscdk.NewStack(app, jsii.String("RedmineBackupVault"), &awscdk.StackProps{
			Env:         &awscdk.Environment{Account: jsii.String(p.BackupAccount), Region: jsii.String(p.PrimaryRegion)},
			Description: jsii.String("Redmine DR: the vault in the backup account " + p.BackupAccount + " that keeps copies of " + p.PrimaryRegion + "'s backups"),
		})
		destProps, err := restorable.BackupDestinationFromContext(a.Backup, "BackupDestination", restorable.BackupDestinationProps{
			VaultName: VaultName, SourceAccounts: []string{*p.Account}, VaultLock: lock,
		})
		if err != nil {
			return nil, err
		}
		restorable.NewBackupDestination(a.Backup, jsii.String("BackupDestination"), destProps)
		copyToAccount = &redmine.RecoveryVault{Region: p.PrimaryRegion, Name: VaultName, Account: p.BackupAccount}
	}

	// The primary stack copies every recovery point to the vault, whose ARN it
	// computes from the vault's name and region (no reference across regions);
	// the dependency deploys the vault first. AWS Backup rehearses a restore of
	// the database and the files every month.
	a.Primary, err = redmine.NewStack(app, "RedminePrimary", &redmine.StackProps{
		StackProps:    awscdk.StackProps{Env: env(p.PrimaryRegion), Description: jsii.String("Redmine in " + p.PrimaryRegion)},
		Protection:    &restorable.ProtectionProps{RestoreTesting: &restorable.RestoreTestingProps{}},
		CopyBackupsTo: copyTo,
		AlsoCopyTo:    copyToAccount,
		Global:        primaryGlobal,

		FilesReplicateTo: replicateTo,
	})
	if err != nil {
		return nil, err
	}
	a.Primary.Stack.AddDependency(a.Vault, jsii.String("copies go to the recovery vault"))
	if a.Backup != nil {
		a.Primary.Stack.AddDependency(a.Backup, jsii.String("copies go to the backup account's vault"))
	}

	a.Recovery, err = redmine.NewStack(app, "RedmineRecovery", &redmine.StackProps{
		NoDrills:   true,
		StackProps: awscdk.StackProps{Env: env(p.RecoveryRegion), Description: jsii.String("Redmine in " + p.RecoveryRegion + ", restored from copies when " + p.PrimaryRegion + " is lost")},
		Global:     recoveryGlobal,

		FilesReplicaOf: replicaOf,
	})
	if err != nil {
		return nil, err
	}
	if recoveryGlobal != nil {
		// The secondary joins the global database the primary's stack creates.
		a.Recovery.Stack.AddDependency(a.Primary.Stack, jsii.String("the secondary joins the primary's global database"))
		if replicateTo == nil {
			awscdk.Annotations_Of(a.Primary.Stack).AddWarningV2(jsii.String("dr:filesNotReplicated"), jsii.String(
				"RedminePrimary's files are not replicated yet: deploy RedmineRecovery, then RedminePrimary with -c replicaFileSystemId=<RedmineRecovery's output FilesFileSystemId>. Until then they reach "+p.RecoveryRegion+" as backup copies only."))
		}
	} else if a.Recovery.Database.Kind() == restorable.KindNew {
		awscdk.Annotations_Of(a.Recovery.Stack).AddWarningV2(jsii.String("dr:emptyRecovery"), jsii.String(
			"RedmineRecovery has no restore source: deploying it now creates an EMPTY Redmine in "+p.RecoveryRegion+
				". In a disaster, deploy it with -c RedmineRecovery/Database.snapshotArn=<copied snapshot> -c RedmineRecovery/Files.efsRecoveryPointArn=<copied recovery point> (README: the primary region is down)."))
	}
	return a, nil
}
