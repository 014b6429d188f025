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

// The keys and vaults restorable creates refuse, to every principal but one,
// the calls that would make the backups unreadable or deletable: scheduling
// the deletion of a key, disabling it, or replacing its policy; deleting a
// vault, replacing or removing its access policy or its Vault Lock, or
// disassociating a recovery point. An administrator whose credentials are
// stolen, or who makes a mistake, cannot undo the protection; an explicit deny
// in a resource policy wins over any allow in an identity policy
// (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html).
//
// The one exception is the break-glass principal, matched by aws:PrincipalArn,
// which for a role session is the role's ARN
// (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-principalarn).
// By default it is the stack's CloudFormation execution role, so that
// `cdk deploy` can still update the key and vault policies. Deploying with
// `cdk deploy --role-arn` needs ConfigureBreakGlass with that role.

// breakGlassSettings holds each stack's break-glass principals, if configured.
var breakGlassSettings perStack[[]string]

// principalArnPattern is an IAM role, user or account root ARN, as
// aws:PrincipalArn gives it.
var principalArnPattern = regexp.MustCompile(`^arn:aws[a-z-]*:iam::\d{12}:(role/.+|user/.+|root)$`)

// ConfigureBreakGlass names the principals (IAM role ARNs) that alone may
// loosen the KMS keys and AWS Backup vaults restorable creates in scope's
// stack: schedule a key's deletion, disable it, change its policy, or delete a
// vault, change its access policy or its lock. CloudFormation must deploy the
// stack as one of them (the bootstrap's execution role, or the role given to
// `cdk deploy --role-arn`), or it cannot update those policies: KMS refuses a
// key policy that would lock out the caller who sets it
// (https://docs.aws.amazon.com/kms/latest/APIReference/API_PutKeyPolicy.html).
// To move from one principal to another, deploy once as the current one with
// both configured, then with the new one alone. It may be called at any time
// before synth; a second call panics.
// Default: the stack's CloudFormation execution role from the CDK bootstrap
// (DefaultStackSynthesizer: cdk-<qualifier>-cfn-exec-role-<account>-<region>).
func ConfigureBreakGlass(scope constructs.Construct, principalArns ...string) {
	path := *awscdk.Stack_Of(scope).Node().Path()
	if len(principalArns) == 0 {
		panic(&InputError{Construct: path, Setting: "ConfigureBreakGlass",
			Problem: "is given no principal ARN",
			Fix:     "give the ARN of the IAM role that may loosen the keys and vaults, for example arn:aws:iam::123456789012:role/BreakGlass"})
	}
	for _, arn := range principalArns {
		if !isToken(arn) && (!principalArnPattern.MatchString(arn) || strings.ContainsAny(arn, "*?")) {
			panic(&InputError{Construct: path, Setting: "ConfigureBreakGlass", Value: arn,
				Problem: "is not the ARN of one IAM role, user or account root (wildcards would exempt every principal they match)",
				Fix:     "give the role's ARN, for example arn:aws:iam::123456789012:role/BreakGlass (a mistyped one would leave nobody able to change the key policies)"})
		}
	}
	_, created := breakGlassSettings.create(scope, func(awscdk.Stack) []string { return append([]string(nil), principalArns...) })
	if !created {
		panic(&InputError{Construct: path, Setting: "ConfigureBreakGlass", Value: strings.Join(principalArns, ","),
			Problem: "is called a second time for this stack", Fix: "call ConfigureBreakGlass once per stack, with every principal"})
	}
}

// breakGlassArns are the break-glass principals of scope's stack, resolved at
// synth, so that ConfigureBreakGlass may come after the resources.
// One token per stack: Lazy.list produces once and keeps the value.
func breakGlassArns(scope constructs.Construct) *[]*string {
	return breakGlassTokens.of(scope, newBreakGlassToken)
}

var breakGlassTokens perStack[*[]*string]

func newBreakGlassToken(stack awscdk.Stack) *[]*string {
	return awscdk.Lazy_List(&lazyList{func() []*string {
		breakGlassSettings.mu.Lock()
		configured, ok := breakGlassSettings.byStack[stack]
		breakGlassSettings.mu.Unlock()
		if ok {
			return *jsii.Strings(configured...)
		}
		if s, ok := stack.Synthesizer().(awscdk.DefaultStackSynthesizer); ok {
			// The synthesizer's ARN carries ${AWS::Partition} (and, for an
			// environment-agnostic stack, ${AWS::AccountId} and ${AWS::Region})
			// placeholders for the cloud assembly; Fn::Sub resolves them.
			if arn := s.CloudFormationExecutionRoleArn(); arn != nil {
				return []*string{awscdk.Fn_Sub(arn, nil)}
			}
		}
		panic(&InputError{Construct: *stack.Node().Path(), Setting: "break-glass principal",
			Problem: "has no default: the stack's synthesizer has no CloudFormation execution role",
			Fix:     "call restorable.ConfigureBreakGlass(stack, \"arn:aws:iam::<account>:role/<role that deploys this stack>\")"})
	}}, nil)
}

// exceptBreakGlass is the condition that leaves the break-glass principal out
// of a deny.
func exceptBreakGlass(scope constructs.Construct) *map[string]interface{} {
	return &map[string]interface{}{"ArnNotEquals": map[string]interface{}{"aws:PrincipalArn": breakGlassArns(scope)}}
}

// keyLossActions are the calls that make a key, and so every backup and
// snapshot it encrypts, unusable, or loosen who may use it: scheduling its
// deletion, disabling it or its rotation, replacing its policy, and revoking
// the grants AWS services (RDS, EFS, AWS Backup) use it through
// (https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html#key-policy-default-allow-administrators
// names them as key administration actions).
var keyLossActions = []string{"kms:ScheduleKeyDeletion", "kms:DisableKey", "kms:DisableKeyRotation", "kms:PutKeyPolicy", "kms:RevokeGrant"}

// vaultLossActions are the calls that delete a vault or loosen its
// protection, each of which a vault access policy can deny: "A vault access
// policy can deny access to the API operations that target a backup vault
// and the ability to delete the stored recovery points"
// (https://repost.aws/knowledge-center/backup-vault-access-policy); for the
// vault's deletion, "make sure that the access policy that's attached to
// your backup vault doesn't include an explicit Deny statement that denies
// the DeleteBackupVault action" (https://repost.aws/knowledge-center/delete-aws-backup-vault).
// Deleting a recovery point and shortening its lifecycle are denied to all
// by BlockRecoveryPointDeletion (the example policies of
// https://docs.aws.amazon.com/aws-backup/latest/devguide/create-a-vault-access-policy.html).
// A vault access policy binds only those who do not deploy the stack: the
// SCPs in docs/scp bind deployers too (docs/security.md).
var vaultLossActions = []string{
	"backup:DeleteBackupVault",                  // targets the vault
	"backup:DeleteBackupVaultAccessPolicy",      // targets the vault
	"backup:PutBackupVaultAccessPolicy",         // targets the vault
	"backup:DeleteBackupVaultLockConfiguration", // targets the vault
	"backup:PutBackupVaultLockConfiguration",    // targets the vault
	"backup:DisassociateRecoveryPoint",          // targets a recovery point in the vault
}

// hardenKey adds to a key restorable created the deny of keyLossActions to all
// but the break-glass principal, and the restriction of grants to AWS services
// that AWS Control Tower's CT.KMS.PR.3 asks for: a grant lets its grantee use
// the key without the key policy, so only AWS services acting for a resource
// (RDS, EFS, AWS Backup) may create one
// (https://docs.aws.amazon.com/controltower/latest/controlreference/kms-rules.html#ct-kms-pr-3-description).
//
// Both statements go into the key's policy document in one call, as
// Key.addToResourcePolicy puts them there, in two round trips fewer each
// (issue 24).
func hardenKey(key awskms.Key) {
	key.Policy().AddStatements(
		denyEveryone("DenyKeyLossExceptBreakGlass", keyLossActions, exceptBreakGlass(key)),
		denyEveryone("DenyGrantsExceptForAWSServices", []string{"kms:CreateGrant"},
			&map[string]interface{}{"BoolIfExists": map[string]interface{}{
				"kms:GrantIsForAWSResource": "false",
				"aws:PrincipalIsAWSService": "false",
			}}))
}

// denyEveryone is a resource policy statement that denies the actions to
// every principal ("*") under the conditions, made from its JSON in one
// round trip to the jsii kernel (a StarPrincipal would be a second).
func denyEveryone(sid string, actions []string, conditions *map[string]interface{}) awsiam.PolicyStatement {
	statement := map[string]interface{}{
		"Sid":       sid,
		"Effect":    "Deny",
		"Principal": "*",
		"Action":    actions,
		"Resource":  "*",
	}
	if conditions != nil {
		statement["Condition"] = *conditions
	}
	return awsiam.PolicyStatement_FromJson(statement)
}

// newHardenedKey is a customer-managed key with rotation, kept when the stack
// is deleted, and hardened.
func newHardenedKey(scope constructs.Construct, id, description string) awskms.Key {
	key := awskms.NewKey(scope, jsii.String(id), &awskms.KeyProps{
		Description:       jsii.String(description),
		EnableKeyRotation: jsii.Bool(true),
		RemovalPolicy:     awscdk.RemovalPolicy_RETAIN,
	})
	hardenKey(key)
	return key
}

// hardenVault denies vaultLossActions to all but the break-glass principal.
func hardenVault(vault awsbackup.BackupVault) {
	vault.AddToAccessPolicy(denyEveryone("DenyVaultLossExceptBreakGlass", vaultLossActions, exceptBreakGlass(vault)))
}
