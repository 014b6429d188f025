package restorable

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsbackup"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// ProtectionProps configures AWS Backup protection. Every field is optional.
type ProtectionProps struct {
	// Vault stores the recovery points.
	// Default: a new vault, encrypted with a new customer-managed KMS key with
	// rotation, whose access policy denies deleting recovery points and changing
	// their lifecycle, kept (with the key) when the stack is deleted or the vault
	// replaced.
	Vault awsbackup.IBackupVault
	// Plan receives the selections of the protected resources.
	// Default: a new plan with Rules.
	Plan awsbackup.IBackupPlan
	// Rules are the rules of the new plan (ignored with Plan).
	// Default: DefaultRules: a daily backup kept 35 days, continuous for the
	// resources that support it (Aurora: point-in-time restore for 35 days), and
	// a monthly backup kept a year, moved to cold storage after 90 days where the
	// resource type supports it (EFS).
	Rules []*awsbackup.BackupPlanRuleProps
	// VaultLock locks the new vault with AWS Backup Vault Lock. With
	// ChangeableFor set (at least 72 hours) the lock is in compliance mode and
	// becomes immutable when that grace time ends; without it, governance mode,
	// which privileged users can remove.
	// Default: no Vault Lock.
	VaultLock *awsbackup.LockConfiguration
	// VaultName names the new vault. A fixed name gives the vault an ARN that
	// other stacks can compute, as a DR stack's vault that copies go to
	// (NewRecoveryVault, RecoveryVaultArn).
	// Default: a name CloudFormation generates.
	VaultName string
	// CopyToVaultArn copies every recovery point to this vault: in another
	// region, for disaster recovery (see RecoveryVaultArn), or in another
	// account of the organization (see NewBackupDestination), in any region.
	// Default: no copies.
	CopyToVaultArn string
	// AlsoCopyToVaultArns copies every recovery point to these vaults as
	// well, one copy action each. AWS Backup copies an Aurora snapshot
	// across accounts or across regions, never both in one copy ("For
	// Amazon RDS and Aurora snapshots, AWS Backup only supports automating
	// either cross-account or cross-Region copies":
	// https://docs.aws.amazon.com/aws-backup/latest/devguide/recov-point-create-a-copy.html),
	// so with an Aurora cluster, survive both the region and the account
	// with two destinations: a vault in another region of this account and
	// one in another account in this region.
	// Default: no further copies.
	AlsoCopyToVaultArns []string
	// AirGap configures the copy of every recovery point into a logically
	// air-gapped vault, which no principal of this account can empty early.
	// Default: on, into a new logically air-gapped vault in the stack, kept
	// from the shortest to the longest retention of the rules (35 to 365 days
	// with DefaultRules); off with Plan (restorable adds copies only to its
	// own plan).
	AirGap *AirGapProps
	// Alerts configures the alerts, through EventBridge to an SNS topic, on
	// every attempt to weaken the protection (a vault policy, lock or
	// recovery point call; a plan or selection changed or deleted; a key
	// scheduled for deletion or disabled) and on every failed, expired or
	// aborted backup or copy job.
	// Default: on, to a new encrypted topic.
	Alerts *AlertProps
	// RestoreTesting rehearses restores on a schedule with an AWS Backup
	// restore testing plan: AWS Backup restores the latest recovery point of
	// each protected resource into a new, temporary resource, keeps it for the
	// validation window, and deletes it.
	// Default: no restore testing.
	RestoreTesting *RestoreTestingProps
	// AllowReplace consents, for one deploy, to replacing the new vault (a new
	// name or key): the name of the current vault. The old vault and its recovery
	// points are kept either way.
	// Default: no consent; the replacement guard refuses such a deploy.
	AllowReplace string
}

// Protection is AWS Backup protection that restorable resources join: one vault,
// one plan and one role, shared by every resource that uses it, so a stack with
// three resources still has one vault and one plan. Each resource joins the plan
// with a selection that names it by ARN.
type Protection struct {
	constructs.Construct
	vault      awsbackup.IBackupVault
	vaultKey   awskms.IKey
	plan       awsbackup.IBackupPlan
	role       awsiam.Role
	continuous float64 // retention in days of the plan's continuous rule, 0 if none
	guard      *guardEntry
	// copyVaults are the vaults every recovery point is copied to.
	copyVaults []string
	airGap     *airGap
	alerts     *alerts
	// noAirGap says why there is no air-gapped copy, for the report.
	noAirGap   string
	selections int
	testing    *restoreTesting
	// copyAccounts are the other accounts copies go to.
	copyAccounts []string
	// clusterStacks are the stacks of the clusters that joined.
	clusterStacks []awscdk.Stack
}

// clusterStackIDs are the stack IDs of the clusters that joined, the
// protection's own stack's at least.
func (p *Protection) clusterStackIDs() []*string {
	stacks := append([]awscdk.Stack{awscdk.Stack_Of(p)}, p.clusterStacks...)
	seen := map[awscdk.Stack]bool{}
	var out []*string
	for _, s := range stacks {
		if !seen[s] {
			seen[s] = true
			out = append(out, s.StackId())
		}
	}
	return out
}

// NewProtection creates AWS Backup protection. Resources join it through their
// Protection prop.
func NewProtection(scope constructs.Construct, id *string, props *ProtectionProps) *Protection {
	p := &Protection{}
	constructs.NewConstruct_Override(p, scope, id)
	path := *p.Node().Path()
	refuseNestedStack(p, awscdk.Stack_Of(p))
	var pp ProtectionProps
	if props != nil {
		pp = *props
	}
	p.addCopyVault(path, "CopyToVaultArn", pp.CopyToVaultArn)
	for i, v := range pp.AlsoCopyToVaultArns {
		p.addCopyVault(path, fmt.Sprintf("AlsoCopyToVaultArns[%d]", i), v)
	}
	p.vault = pp.Vault
	if p.vault == nil {
		p.vault = p.newVault(path, pp)
		p.shareKey(p.vaultKey)
	}
	rules := pp.Rules
	if rules == nil {
		rules = DefaultRules()
	}
	switch {
	case pp.AirGap != nil && pp.AirGap.Disabled:
		p.noAirGap = "off (AirGap.Disabled): a principal who can deploy this stack can still delete every recovery point"
	case pp.Plan != nil:
		p.noAirGap = "off: the plan is not restorable's (Plan), so restorable adds no copy to it; add a copy action to a logically air-gapped vault yourself"
	default:
		var ap AirGapProps
		if pp.AirGap != nil {
			ap = *pp.AirGap
		}
		p.airGap = p.newAirGap(path, ap, rules)
	}
	p.role = p.newRole()
	p.plan = pp.Plan
	if p.plan == nil {
		p.plan = p.newPlan(path, rules, pp.VaultLock)
	}
	if pp.Alerts == nil || !pp.Alerts.Disabled {
		var ap AlertProps
		if pp.Alerts != nil {
			ap = *pp.Alerts
		}
		p.alerts = p.newAlerts(ap)
	}
	if pp.RestoreTesting != nil {
		p.testing = newRestoreTesting(p, path, *pp.RestoreTesting)
	}
	registryOf(p).add(path, kindBackupVault, p.reportLines)
	return p
}

// DefaultRules are the rules of a new protection's plan: "Daily", at 03:00 UTC,
// kept 35 days, with continuous backup for the resources that support it, and
// "Monthly", on the first of the month, kept 365 days and moved to cold storage
// after 90 days where the resource supports it. AWS Backup takes a snapshot
// backup of a resource that does not support continuous backup, such as EFS
// (https://docs.aws.amazon.com/aws-backup/latest/devguide/point-in-time-recovery.html).
func DefaultRules() []*awsbackup.BackupPlanRuleProps {
	return []*awsbackup.BackupPlanRuleProps{
		{
			RuleName:               jsii.String("Daily"),
			ScheduleExpression:     awsevents.Schedule_Cron(&awsevents.CronOptions{Hour: jsii.String("3"), Minute: jsii.String("0")}),
			DeleteAfter:            awscdk.Duration_Days(jsii.Number(35)),
			EnableContinuousBackup: jsii.Bool(true),
		},
		{
			RuleName:               jsii.String("Monthly"),
			ScheduleExpression:     awsevents.Schedule_Cron(&awsevents.CronOptions{Day: jsii.String("1"), Hour: jsii.String("3"), Minute: jsii.String("0")}),
			DeleteAfter:            awscdk.Duration_Days(jsii.Number(365)),
			MoveToColdStorageAfter: awscdk.Duration_Days(jsii.Number(90)),
		},
	}
}

func (p *Protection) newVault(path string, pp ProtectionProps) awsbackup.IBackupVault {
	if lock := pp.VaultLock; lock != nil {
		checkVaultLock(path, lock, pp.Rules)
	}
	var vault awsbackup.IBackupVault
	vault, p.vaultKey, p.guard = newSecureVault(p, path, pp.VaultName, pp.VaultLock, pp.AllowReplace)
	return vault
}

func unresolved(d awscdk.Duration) bool { return d.IsUnresolved() != nil && *d.IsUnresolved() }

// unresolvedNumber reports whether a number is a token.
func unresolvedNumber(n float64) bool { return *awscdk.Token_IsUnresolved(n) }

func (p *Protection) newPlan(path string, rules []*awsbackup.BackupPlanRuleProps, lock *awsbackup.LockConfiguration) awsbackup.IBackupPlan {
	// Plan names must be unique in the account and region; this one comes from
	// the construct path, so it is also stable.
	plan := awsbackup.NewBackupPlan(p, jsii.String("Plan"), &awsbackup.BackupPlanProps{
		BackupVault:    p.vault,
		BackupPlanName: awscdk.Names_UniqueResourceName(p, &awscdk.UniqueResourceNameOptions{MaxLength: jsii.Number(50)}),
	})
	for _, r := range rules {
		rule := *r
		if rule.EnableContinuousBackup != nil && *rule.EnableContinuousBackup && rule.DeleteAfter != nil && !unresolved(rule.DeleteAfter) {
			p.continuous = *rule.DeleteAfter.ToDays(nil)
		}
		var copies []*awsbackup.BackupPlanCopyActionProps
		for i, v := range p.copyVaults {
			id := "CopyVault" + *rule.RuleName
			if i > 0 {
				id = fmt.Sprintf("CopyVault%d%s", i+1, *rule.RuleName)
			}
			copies = append(copies, &awsbackup.BackupPlanCopyActionProps{
				DestinationBackupVault: awsbackup.BackupVault_FromBackupVaultArn(p, jsii.String(id), jsii.String(v)),
				DeleteAfter:            rule.DeleteAfter,
				MoveToColdStorageAfter: rule.MoveToColdStorageAfter,
			})
		}
		if p.airGap != nil {
			// Kept warm: the copy's retention must lie within the vault's
			// bounds, which hold every rule's DeleteAfter.
			copies = append(copies, &awsbackup.BackupPlanCopyActionProps{
				DestinationBackupVault: awsbackup.BackupVault_FromBackupVaultArn(p, jsii.String("AirGapVault"+*rule.RuleName), jsii.String(p.airGap.arn)),
				DeleteAfter:            p.airGap.copyRetention(r),
			})
		}
		if len(copies) > 0 {
			rule.CopyActions = &copies
		}
		plan.AddRule(awsbackup.NewBackupPlanRule(&rule))
	}
	return plan
}

// newRole is the role AWS Backup assumes to back up the protected resources,
// with the statements of AWSBackupServiceRolePolicyForBackup that EFS and
// Aurora need, scoped to this account, region and the protection's resources
// where the actions allow it, instead of that AWS-managed policy.
func (p *Protection) newRole() awsiam.Role {
	stack := awscdk.Stack_Of(p)
	role := awsiam.NewRole(p, jsii.String("BackupRole"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("backup.amazonaws.com"), nil),
		Description: jsii.String("restorable: AWS Backup backs up the protected file systems and clusters"),
	})
	arn := func(service, resource string) string { return *stackArn(stack, service, resource) }
	statement := func(sid string, actions []string, resources *[]*string, conditions map[string]interface{}) *awsiam.PolicyStatementProps {
		props := &awsiam.PolicyStatementProps{Sid: jsii.String(sid), Actions: jsii.Strings(actions...), Resources: resources}
		if conditions != nil {
			props.Conditions = &conditions
		}
		return props
	}
	vaults := []*string{p.vault.BackupVaultArn()}
	for _, v := range p.copyVaults {
		vaults = append(vaults, jsii.String(v))
	}
	if p.airGap != nil {
		vaults = append(vaults, jsii.String(p.airGap.arn))
	}
	statements := []*awsiam.PolicyStatementProps{
		statement("EFSBackup", []string{"elasticfilesystem:Backup", "elasticfilesystem:DescribeTags"},
			jsii.Strings(arn("elasticfilesystem", "file-system")+"/*"), nil),
		// A restore gives a cluster a new identifier, so the cluster ARNs are
		// matched within this account and region.
		statement("AuroraDescribe", []string{"rds:DescribeDBClusters", "rds:DescribeDBClusterSnapshots", "rds:DescribeDBClusterAutomatedBackups", "rds:ListTagsForResource"},
			jsii.Strings("*"), nil),
		statement("AuroraSnapshot", []string{"rds:CreateDBClusterSnapshot", "rds:CopyDBClusterSnapshot", "rds:AddTagsToResource"},
			jsii.Strings(arn("rds", "cluster:*"), arn("rds", "cluster-snapshot:*")), nil),
		// AWS Backup sets the backup retention of a cluster with continuous
		// backup (ModifyDBCluster, as AWSBackupServiceRolePolicyForBackup
		// grants); only on the clusters of the stacks whose clusters joined
		// this protection, by the tag CloudFormation puts on every resource
		// it creates (aws:cloudformation:stack-id:
		// https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-resource-tags.html).
		statement("AuroraContinuousRetention", []string{"rds:ModifyDBCluster"}, jsii.Strings(arn("rds", "cluster:*")),
			map[string]interface{}{"StringEquals": map[string]interface{}{"aws:ResourceTag/aws:cloudformation:stack-id": awscdk.Lazy_List(&lazyList{p.clusterStackIDs}, nil)}}),
		statement("AuroraBackupLifecycle", []string{"rds:DeleteDBClusterSnapshot", "rds:ModifyDBClusterSnapshotAttribute"},
			jsii.Strings(arn("rds", "cluster-snapshot:awsbackup:*")), nil),
		statement("AuroraContinuousLifecycle", []string{"rds:DeleteDBClusterAutomatedBackup"},
			jsii.Strings(arn("rds", "cluster-auto-backup:*")), nil),
		statement("Vaults", []string{"backup:DescribeBackupVault", "backup:CopyIntoBackupVault", "backup:CopyFromBackupVault"}, &vaults, nil),
		statement("DescribeKeys", []string{"kms:DescribeKey"}, jsii.Strings(arn("kms", "key/*")), nil),
		statement("GrantKeysToAWSServices", []string{"kms:CreateGrant"}, jsii.Strings(arn("kms", "key/*")),
			map[string]interface{}{"Bool": map[string]interface{}{"kms:GrantIsForAWSResource": "true"}}),
		statement("ResourceTags", []string{"tag:GetResources"}, jsii.Strings("*"), nil),
	}
	for i, v := range p.copyVaults {
		// Copies are made in the destination region: AWS Backup copies an
		// Aurora snapshot there and has it encrypted with that vault's key.
		suffix := ""
		if i > 0 {
			suffix = strconv.Itoa(i + 1)
		}
		dest := awscdk.Arn_Split(jsii.String(v), awscdk.ArnFormat_COLON_RESOURCE_NAME).Region
		inDest := func(service, resource string) *string {
			return stack.FormatArn(&awscdk.ArnComponents{Service: jsii.String(service), Region: dest, Resource: jsii.String(resource), ArnFormat: awscdk.ArnFormat_COLON_RESOURCE_NAME})
		}
		statements = append(statements,
			statement("CopyAuroraSnapshots"+suffix, []string{"rds:CopyDBClusterSnapshot", "rds:AddTagsToResource", "rds:DescribeDBClusterSnapshots"},
				&[]*string{inDest("rds", "cluster-snapshot:*")}, nil),
			statement("CopyKeys"+suffix, []string{"kms:DescribeKey", "kms:CreateGrant"}, &[]*string{inDest("kms", "key/*")},
				map[string]interface{}{"Bool": map[string]interface{}{"kms:GrantIsForAWSResource": "true"}}))
	}
	addToRole(role, statements...)
	suppressNag(role, true,
		nagException{rule: nagWildcard, appliesTo: []string{"Resource::*"},
			reason: "Read-only lookups AWS Backup makes before a backup (rds:Describe*, rds:ListTagsForResource, tag:GetResources), granted on * as in AWSBackupServiceRolePolicyForBackup; tag:GetResources supports no resource-level permissions."},
		nagException{rule: nagWildcard, appliesTo: []string{`/^Resource::arn:.+:elasticfilesystem:.+:file-system\/\*$/`},
			reason: "The role is shared by every file system that joins this protection, including ones added later; it may back up file systems of this account and region only, and AWS Backup acts only on those the plan selects."},
		nagException{rule: nagWildcard, appliesTo: []string{`/^Resource::arn:.+:rds:.+:(cluster|cluster-snapshot):\*$/`},
			reason: "A restore gives an Aurora cluster a new identifier that CloudFormation generates, so cluster and snapshot ARNs are matched within this account and region; AWS Backup acts only on the clusters the plan selects."},
		nagException{rule: nagWildcard, appliesTo: []string{`/^Resource::arn:.+:rds:.+:(cluster-snapshot:awsbackup|cluster-auto-backup):\*$/`},
			reason: "AWS Backup's own snapshots (awsbackup:job-<id>) and continuous backups (cluster-auto-backup:<id>) have generated names; the role may delete only those, to expire them on the plan's schedule."},
		nagException{rule: nagWildcard, appliesTo: []string{`/^Resource::arn:.+:kms:.+:key\/\*$/`},
			reason: "AWS Backup describes, and creates grants for AWS resources (kms:GrantIsForAWSResource) on, the KMS keys of the resources it backs up, which are keys of this account and region chosen by each resource."},
	)
	return role
}

// join selects a resource by ARN in the protection's plan, and in its restore
// testing plan if it has one.
func (p *Protection) join(scope constructs.Construct, resource awsbackup.BackupResource, kind testedType, arn *string, drill *drillSpec, drillNow bool) awsbackup.BackupSelection {
	p.selections++
	if kind == testedAurora {
		p.clusterStacks = append(p.clusterStacks, awscdk.Stack_Of(scope))
		p.airGap.refuseAuroraAcrossRegions(*p.Node().Path(), stackRegion(p))
		p.refuseAuroraAcrossAccountsAndRegions()
	}
	if p.testing != nil {
		p.testing.add(kind, arn, drill, drillNow)
	}
	return awsbackup.NewBackupSelection(scope, jsii.String("BackupSelection"), &awsbackup.BackupSelectionProps{
		BackupSelectionName: awscdk.Names_UniqueResourceName(scope, &awscdk.UniqueResourceNameOptions{MaxLength: jsii.Number(50)}),
		BackupPlan:          p.plan,
		Resources:           &[]awsbackup.BackupResource{resource},
		Role:                p.role,
		// No AWS-managed policies: the role carries its own statements.
		DisableDefaultBackupPolicy: jsii.Bool(true),
		AllowRestores:              jsii.Bool(false),
	})
}

// Vault is the vault that stores the recovery points.
func (p *Protection) Vault() awsbackup.IBackupVault { return p.vault }

// Plan is the backup plan the protected resources are selected in.
func (p *Protection) Plan() awsbackup.IBackupPlan { return p.plan }

// Role is the role AWS Backup assumes for the protected resources.
func (p *Protection) Role() awsiam.IRole { return p.role }

// ContinuousRetentionDays is the retention of the plan's continuous rule, 0
// when the plan has none (or is not restorable's own).
func (p *Protection) ContinuousRetentionDays() float64 { return p.continuous }

func (p *Protection) reportLines() []string {
	lines := []string{fmt.Sprintf("plan:    %d resource(s) selected by ARN", p.selections)}
	if p.continuous > 0 {
		lines = append(lines, fmt.Sprintf("         continuous backup for %g days where supported (Aurora point in time)", p.continuous))
	}
	for _, v := range p.copyVaults {
		lines = append(lines, "copies:  every recovery point to "+v)
	}
	if p.airGap != nil {
		lines = append(lines, p.airGap.reportLines()...)
	} else {
		lines = append(lines, "air gap: "+p.noAirGap)
	}
	if p.alerts != nil {
		lines = append(lines, p.alerts.reportLines()...)
	} else {
		lines = append(lines, "alerts:  off (Alerts.Disabled): nothing reports a deleted plan, a loosened vault or key, or a failed backup")
	}
	if p.testing != nil {
		lines = append(lines, fmt.Sprintf("drills:  AWS Backup restores the latest recovery point of each resource on schedule; restorable checks the copy within %g hours (less 15 minutes), sets the result on the restore job, then AWS Backup deletes the copy", p.testing.validation))
		if p.testing.now != nil {
			lines = append(lines, "drill now: at "+p.testing.nowAt.Format(time.RFC3339)+" (the one-off plan "+*p.testing.now.Node().Path()+"; deploy without drillNow afterwards to remove it)")
		}
	}
	if p.guard != nil {
		lines = append(lines,
			"guard:   a deploy that would replace the vault fails first (template fingerprint "+p.guard.fingerprint()+")",
			"consent: cdk deploy -c '"+ContextKey(*p.Node().Path(), ContextAllowReplace)+"=<current vault name>'")
	}
	return lines
}

// shareKey lets the account that copies go to use key through AWS services
// only: a copy into another account needs the source's key shared with it
// ("you must share the KMS key with the destination account":
// https://docs.aws.amazon.com/aws-backup/latest/devguide/create-cross-account-backup.html;
// https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/share-encrypted-snapshot.html).
// kms:GrantIsForAWSResource is in the request context of the grant
// operations only (https://docs.aws.amazon.com/kms/latest/developerguide/grant-authorization.html),
// so it conditions CreateGrant, and kms:ViaService the rest.
func (p *Protection) shareKey(key constructs.IConstruct) {
	for i, account := range p.copyAccounts {
		suffix := ""
		if i > 0 {
			suffix = strconv.Itoa(i + 1)
		}
		p.shareKeyWith(key, account, suffix)
	}
}

func (p *Protection) shareKeyWith(key constructs.IConstruct, copyAccount, suffix string) {
	k, ok := key.(awskms.Key)
	if !ok {
		awscdk.Annotations_Of(p).AddWarningV2(jsii.String("restorable:keyNotShared"), jsii.String(fmt.Sprintf(
			"copies go to account %s, but the key %s is not one restorable created, so restorable cannot share it: add to its key policy kms:Decrypt, kms:DescribeKey and kms:ReEncryptFrom through backup, rds and elasticfilesystem, and kms:CreateGrant with kms:GrantIsForAWSResource, for arn:aws:iam::%s:root, or every copy job fails (the alerts report it)",
			copyAccount, *key.Node().Path(), copyAccount)))
		return
	}
	stack := awscdk.Stack_Of(p)
	via := func(service string) string {
		return *awscdk.Fn_Join(jsii.String(""), &[]*string{jsii.String(service + "."), stack.Region(), jsii.String(".amazonaws.com")})
	}
	account := &[]awsiam.IPrincipal{awsiam.NewAccountPrincipal(jsii.String(copyAccount))}
	k.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("CopiesIntoTheBackupAccount" + suffix),
		Principals: account,
		Actions:    jsii.Strings("kms:Decrypt", "kms:DescribeKey", "kms:ReEncryptFrom"),
		Resources:  jsii.Strings("*"),
		Conditions: &map[string]interface{}{"StringEquals": map[string]interface{}{"kms:ViaService": []string{via("backup"), via("rds"), via("elasticfilesystem")}}},
	}), jsii.Bool(false))
	k.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("GrantsForCopiesIntoTheBackupAccount" + suffix),
		Principals: account,
		Actions:    jsii.Strings("kms:CreateGrant"),
		Resources:  jsii.Strings("*"),
		Conditions: &map[string]interface{}{"Bool": map[string]interface{}{"kms:GrantIsForAWSResource": "true"}},
	}), jsii.Bool(false))
}

// addCopyVault validates and adds a copy destination.
func (p *Protection) addCopyVault(path, setting, v string) {
	if v == "" {
		return
	}
	if err := validateVaultArn(setting, v, stackRegion(p), *awscdk.Stack_Of(p).Account()); err != nil {
		panic(atConstruct(path, err))
	}
	p.copyVaults = append(p.copyVaults, v)
	// The ARN may hold a token for its partition; the account is the fifth
	// field either way.
	if account := vaultAccount(v); account != "" && !isToken(*awscdk.Stack_Of(p).Account()) && account != *awscdk.Stack_Of(p).Account() {
		for _, a := range p.copyAccounts {
			if a == account {
				return
			}
		}
		p.copyAccounts = append(p.copyAccounts, account)
	}
}

// vaultAccount and vaultRegion are the account and region fields of a vault
// ARN, "" when they are not literal.
func vaultAccount(arn string) string {
	if parts := strings.SplitN(arn, ":", 6); len(parts) == 6 && accountIDPattern.MatchString(parts[4]) {
		return parts[4]
	}
	return ""
}

func vaultRegion(arn string) string {
	if parts := strings.SplitN(arn, ":", 6); len(parts) == 6 && regionName.MatchString(parts[3]) {
		return parts[3]
	}
	return ""
}

// refuseAuroraAcrossAccountsAndRegions refuses, once an Aurora cluster
// joins, a copy destination in another account and another region: AWS
// Backup copies an Aurora snapshot across one or the other, not both
// (https://docs.aws.amazon.com/aws-backup/latest/devguide/recov-point-create-a-copy.html),
// so every copy of the cluster would fail.
func (p *Protection) refuseAuroraAcrossAccountsAndRegions() {
	account, region := *awscdk.Stack_Of(p).Account(), stackRegion(p)
	if isToken(account) || region == "" {
		return
	}
	for _, v := range p.copyVaults {
		a, r := vaultAccount(v), vaultRegion(v)
		if a == "" || r == "" || a == account || r == region {
			continue
		}
		panic(&InputError{Construct: *p.Node().Path(), Setting: "CopyToVaultArn", Value: v,
			Problem: "is in another account (" + a + ") and another region (" + r + "), and AWS Backup copies an Aurora snapshot across accounts or across regions, never both, so every copy of the cluster that joins would fail",
			Fix:     "copy to a vault of account " + a + " in " + region + " (BackupDestinationArn(stack, \"" + a + "\", \"" + region + "\", name)) and, for the loss of the region, to one of this account in " + r + " (AlsoCopyToVaultArns: RecoveryVaultArn)"})
	}
}
