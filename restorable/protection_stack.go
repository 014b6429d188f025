package restorable

import (
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

var stackProtections perStack[*Protection]

// StackProtectionID is the construct ID of a stack's shared protection.
const StackProtectionID = "RestorableProtection"

// ConfigureStackProtection creates the AWS Backup protection that StackProtection
// returns for scope's stack, with props: call it before creating the stack's
// restorable resources. A second call, or a call after StackProtection has
// created the protection, panics.
func ConfigureStackProtection(scope constructs.Construct, props *ProtectionProps) *Protection {
	p, created := stackProtections.create(scope, func(stack awscdk.Stack) *Protection { return newStackProtection(stack, props) })
	if !created {
		panic(&InputError{Construct: *p.Node().Path(), Setting: "ConfigureStackProtection",
			Problem: "is called after the stack's protection was created (by a restorable resource or an earlier call)",
			Fix:     "call ConfigureStackProtection once, before creating the stack's restorable resources"})
	}
	return p
}

// newStackProtection creates a stack's shared protection, reading its consent
// to replace the vault from the context unless props give one.
func newStackProtection(stack awscdk.Stack, props *ProtectionProps) *Protection {
	var pp ProtectionProps
	if props != nil {
		pp = *props
	}
	if pp.AllowReplace == "" {
		consent, err := readContext(stack, registryOf(stack), childPath(stack, StackProtectionID), ContextAllowReplace, false)
		if err != nil {
			panic(err)
		}
		pp.AllowReplace = consent.value
	}
	return NewProtection(stack, jsii.String(StackProtectionID), &pp)
}

// StackProtection returns the AWS Backup protection shared by the restorable
// resources of scope's stack, created on first use as "RestorableProtection" at
// the stack's root with the default ProtectionProps (or those given to
// ConfigureStackProtection). Its consent to replace the
// vault is read from the context key "<stack>/RestorableProtection.allowReplace".
// A file system joins it unless given another; an Aurora cluster joins it with
// AuroraClusterProps.Protection.
func StackProtection(scope constructs.Construct) *Protection {
	return stackProtections.of(scope, func(stack awscdk.Stack) *Protection { return newStackProtection(stack, nil) })
}

// validateVaultArn checks a copy destination: a vault ARN, in another region
// (a copy there survives the loss of the stack's region) or in another
// account (a copy there survives the loss of this account's credentials),
// or, with region "", anywhere.
func validateVaultArn(setting, v, region, account string) error {
	if isToken(v) {
		return nil
	}
	a, err := parseARN(setting, v)
	if err != nil {
		return err
	}
	if a.Service != "backup" || !strings.HasPrefix(a.Resource, "backup-vault:") || strings.TrimPrefix(a.Resource, "backup-vault:") == "" {
		return inputErr(setting, v, "is not an AWS Backup vault ARN",
			"give the ARN of the destination vault: arn:aws:backup:<region>:<account>:backup-vault:<name>")
	}
	otherAccount := account != "" && !isToken(account) && a.AccountID != account
	if region != "" && !isToken(region) && a.Region == region && !otherAccount {
		return inputErr(setting, v, "is in the stack's own region, "+region+", and account, so a copy there survives neither the loss of the region nor of the account",
			"give a vault in another region (for example one that a DR stack deployed there owns, RecoveryVaultArn), or in another account (NewBackupDestination); for a logically air-gapped vault use AirGap")
	}
	return nil
}
