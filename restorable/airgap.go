package restorable

import (
	"fmt"
	"math"
	"strconv"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsbackup"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// AirGapProps configures the copy of every recovery point into a logically
// air-gapped vault: a vault that AWS Backup always locks in compliance mode,
// whose recovery points are kept in an account AWS owns, so that no principal
// of this account (not the root user, not a deployer, not AWS Support) can
// delete them before their minimum retention ends
// (https://docs.aws.amazon.com/aws-backup/latest/devguide/logicallyairgappedvault.html,
// https://docs.aws.amazon.com/aws-backup/latest/devguide/vault-lock.html).
// AWS Backup supports both Aurora and EFS in such a vault: AWS Config's
// managed rules aurora-resources-in-logically-air-gapped-vault and
// efs-resources-in-logically-air-gapped-vault check exactly that
// (https://docs.aws.amazon.com/config/latest/developerguide/aurora-resources-in-logically-air-gapped-vault.html,
// https://docs.aws.amazon.com/config/latest/developerguide/efs-resources-in-logically-air-gapped-vault.html).
// Every field is optional.
type AirGapProps struct {
	// VaultArn copies into this logically air-gapped vault instead of a new
	// one: one that another account of the organization owns, whose access
	// policy lets this account copy in, with cross-account backup turned on
	// in the organization. (A vault shared with this account through AWS RAM
	// can be restored from, not copied into: copies are made from the
	// owning account.) Aurora cannot be copied across regions to or from a
	// logically air-gapped vault, so with an Aurora cluster the vault must be
	// in the stack's region
	// (https://docs.aws.amazon.com/aws-backup/latest/devguide/logicallyairgappedvault.html).
	// Default: a new vault in this stack.
	VaultArn string
	// VaultName names the new vault (2 to 50 letters, digits, hyphens and
	// underscores; unique in the account and region).
	// Default: a name from the construct path.
	VaultName string
	// MinRetention is how long every copy is kept at least; nobody can delete
	// it earlier. It is create-only: changing it replaces the vault (the old
	// one keeps its copies).
	// Default: the shortest retention of the plan's rules, at least 7 days
	// (35 days with DefaultRules).
	MinRetention awscdk.Duration
	// MaxRetention is the longest a copy may be kept; create-only.
	// Default: the longest retention of the plan's rules (365 days with
	// DefaultRules).
	MaxRetention awscdk.Duration
	// Disabled copies nothing into an air-gapped vault. The synth report
	// says so.
	// Default: false.
	Disabled bool
	// AllowReplace consents, for one deploy, to replacing the new vault (a
	// new name or retention bounds): the name of the current vault. Its
	// copies stay in it until they expire.
	// Default: no consent; the replacement guard refuses such a deploy.
	AllowReplace string
}

// minAirGapDays is the shortest minimum retention a logically air-gapped
// vault accepts (MinRetentionDays: "The minimum value accepted is 7 days",
// AWS::Backup::LogicallyAirGappedBackupVault).
const minAirGapDays = 7

// airGap is a protection's air-gapped copy: the destination vault's ARN, the
// new vault if restorable made it, and the retention bounds.
type airGap struct {
	arn      string
	vault    awsbackup.CfnLogicallyAirGappedBackupVault
	min, max float64
	given    bool
	guard    *guardEntry
}

// retentionBounds are the shortest and the longest DeleteAfter of the rules,
// in days; ok is false when a rule's retention is a token.
func retentionBounds(rules []*awsbackup.BackupPlanRuleProps) (lo, hi float64, ok bool) {
	lo, hi = math.Inf(1), 0
	for _, r := range rules {
		if r.DeleteAfter == nil {
			continue
		}
		if unresolved(r.DeleteAfter) {
			return 0, 0, false
		}
		d := *r.DeleteAfter.ToDays(nil)
		lo, hi = math.Min(lo, d), math.Max(hi, d)
	}
	if hi == 0 {
		return 0, 0, false
	}
	return lo, hi, true
}

// newAirGap creates the air-gapped vault (or takes the given one) for a plan
// with these rules.
func (p *Protection) newAirGap(path string, props AirGapProps, rules []*awsbackup.BackupPlanRuleProps) *airGap {
	days := func(setting string, d awscdk.Duration) float64 {
		if unresolved(d) {
			panic(&InputError{Construct: path, Setting: "AirGap." + setting, Value: *d.ToString(),
				Problem: "is a token, and the vault's retention bounds are checked against the plan's rules at synth", Fix: "give a fixed duration in whole days"})
		}
		v := *d.ToDays(&awscdk.TimeConversionOptions{Integral: jsii.Bool(false)})
		if v != math.Trunc(v) {
			panic(&InputError{Construct: path, Setting: "AirGap." + setting, Value: *d.ToHumanString(),
				Problem: "is not a whole number of days", Fix: "use awscdk.Duration_Days(...)"})
		}
		return v
	}
	if props.VaultArn != "" {
		if err := validateVaultArn("AirGap.VaultArn", props.VaultArn, "", ""); err != nil {
			panic(atConstruct(path, err))
		}
	}
	lo, hi, ok := retentionBounds(rules)
	g := &airGap{given: props.VaultArn != ""}
	switch {
	case props.MinRetention != nil:
		g.min = days("MinRetention", props.MinRetention)
	case ok:
		g.min = math.Max(lo, minAirGapDays)
	}
	switch {
	case props.MaxRetention != nil:
		g.max = days("MaxRetention", props.MaxRetention)
	case ok:
		g.max = hi
	}
	if !g.given && (g.min == 0 || g.max == 0) {
		panic(&InputError{Construct: path, Setting: "AirGap", Problem: "has no retention bounds: the plan's rules keep their backups for a token, or forever",
			Fix: "set AirGap.MinRetention and AirGap.MaxRetention, or give every rule a fixed DeleteAfter"})
	}
	switch {
	case !g.given && g.min < minAirGapDays:
		panic(&InputError{Construct: path, Setting: "AirGap.MinRetention", Value: strconv.FormatFloat(g.min, 'f', -1, 64) + " days",
			Problem: "is shorter than the 7 days a logically air-gapped vault requires", Fix: "use at least awscdk.Duration_Days(jsii.Number(7))"})
	case g.max != 0 && g.min > g.max:
		panic(&InputError{Construct: path, Setting: "AirGap.MinRetention", Value: strconv.FormatFloat(g.min, 'f', -1, 64) + " days",
			Problem: fmt.Sprintf("is longer than MaxRetention (%g days)", g.max), Fix: "lower MinRetention or raise MaxRetention"})
	}
	if ok && !g.given {
		// A copy whose retention is outside the vault's bounds fails: the
		// vault refuses it.
		for _, r := range rules {
			if r.DeleteAfter == nil {
				continue
			}
			if d := *r.DeleteAfter.ToDays(nil); d < g.min || d > g.max {
				panic(&InputError{Construct: path, Setting: "AirGap", Value: fmt.Sprintf("%g to %g days", g.min, g.max),
					Problem: fmt.Sprintf("does not hold the %g-day retention of rule %s, so its copies would be refused", d, *r.RuleName),
					Fix:     "widen AirGap.MinRetention and MaxRetention to cover every rule's DeleteAfter"})
			}
		}
	}
	if g.given {
		g.arn = props.VaultArn
		return g
	}
	name := props.VaultName
	if name == "" {
		// Unique in the account and region, and stable: from the path.
		name = "airgap-" + *awscdk.Names_UniqueResourceName(p, &awscdk.UniqueResourceNameOptions{MaxLength: jsii.Number(43), Separator: jsii.String("-")})
	}
	checkVaultName(path, "AirGap.VaultName", name)
	scope := constructs.NewConstruct(p, jsii.String("AirGap"))
	scopePath := *scope.Node().Path()
	reg := registryOf(p)
	if props.AllowReplace == "" {
		consent, err := readContext(p, reg, scopePath, ContextAllowReplace, false)
		if err != nil {
			panic(err)
		}
		props.AllowReplace = consent.value
	}
	policy := awsiam.NewPolicyDocument(&awsiam.PolicyDocumentProps{Statements: &[]awsiam.PolicyStatement{
		denyEveryone("DenyVaultLossExceptBreakGlass", vaultLossActions, exceptBreakGlass(scope)),
	}})
	g.vault = awsbackup.NewCfnLogicallyAirGappedBackupVault(scope, jsii.String("Vault"), &awsbackup.CfnLogicallyAirGappedBackupVaultProps{
		BackupVaultName:  jsii.String(name),
		MinRetentionDays: jsii.Number(g.min),
		MaxRetentionDays: jsii.Number(g.max),
		AccessPolicy:     policy,
	})
	g.vault.ApplyRemovalPolicy(awscdk.RemovalPolicy_RETAIN, nil)
	g.arn = *g.vault.AttrBackupVaultArn()
	cfn := g.vault
	g.guard = guardOf(scope).protect(scope, cfn, props.AllowReplace, false, nil, func() map[string]interface{} { return airGapCreateOnly(cfn) })
	reg.add(scopePath, kindBackupVault, func() []string {
		return []string{
			fmt.Sprintf("holds:   the air-gapped copies of %s's recovery points, %g to %g days, compliance-locked by AWS Backup", path, g.min, g.max),
			"guard:   a deploy that would replace the vault fails first (template fingerprint " + g.guard.fingerprint() + ")",
			"consent: cdk deploy -c '" + ContextKey(scopePath, ContextAllowReplace) + "=<current vault name>' (the old vault keeps its copies)",
		}
	})
	return g
}

// airGapCreateOnly reads the createOnlyProperties of the
// AWS::Backup::LogicallyAirGappedBackupVault schema.
func airGapCreateOnly(cfn awsbackup.CfnLogicallyAirGappedBackupVault) map[string]interface{} {
	m := map[string]interface{}{}
	put(m, "BackupVaultName", cfn.BackupVaultName())
	put(m, "MinRetentionDays", cfn.MinRetentionDays())
	put(m, "MaxRetentionDays", cfn.MaxRetentionDays())
	put(m, "EncryptionKeyArn", cfn.EncryptionKeyArn())
	return m
}

// copyRetention is how long a rule's copy is kept in the air-gapped vault:
// the rule's own retention, or the vault's maximum for a rule that keeps its
// backups forever.
func (g *airGap) copyRetention(r *awsbackup.BackupPlanRuleProps) awscdk.Duration {
	if r.DeleteAfter != nil {
		return r.DeleteAfter
	}
	return awscdk.Duration_Days(jsii.Number(g.max))
}

func (g *airGap) reportLines() []string {
	if g.given {
		return []string{"air gap: every recovery point copied to " + g.arn + " (its owner's compliance lock keeps them)"}
	}
	return []string{
		fmt.Sprintf("air gap: every recovery point copied to a logically air-gapped vault, compliance-locked: kept %g to %g days, deletable by no one earlier", g.min, g.max),
		"         (Aurora and EFS: the Config rules aurora- and efs-resources-in-logically-air-gapped-vault check it)",
	}
}

// refuseAuroraAcrossRegions refuses a given air-gapped vault in another
// region once an Aurora cluster joins: "Cross-Region copy to or from a
// logically air-gapped vault is not currently available for backups that
// contain Amazon Aurora"
// (https://docs.aws.amazon.com/aws-backup/latest/devguide/logicallyairgappedvault.html),
// so every copy job of the cluster would fail.
func (g *airGap) refuseAuroraAcrossRegions(path, region string) {
	if g == nil || !g.given || isToken(g.arn) || region == "" || isToken(region) {
		return
	}
	a, err := parseARN("AirGap.VaultArn", g.arn)
	if err != nil || a.Region == region {
		return
	}
	panic(&InputError{Construct: path, Setting: "AirGap.VaultArn", Value: g.arn,
		Problem: "is in " + a.Region + ", and AWS Backup copies no Aurora backup across regions into a logically air-gapped vault, so every copy of the cluster that joins would fail",
		Fix:     "give a logically air-gapped vault in " + region + " (another account's, for a copy outside this account), and copy to another region with CopyToVaultArn"})
}
