package restorable

import (
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// A nagException records, on the resource it concerns, why a cdk-nag rule does
// not apply there. Security reviewers read these reasons in cdk-nag's reports
// (and with LogIgnores, in the synth output), so each says what the finding is
// and why it is needed or harmless. Only the findings listed in appliesTo are
// suppressed: any other finding of the same rule still fails.
type nagException struct {
	rule   string
	reason string
	// appliesTo are the granular findings (such as "Resource::*") this exception
	// covers; each is a literal or, between slashes, a regular expression.
	appliesTo []string
}

// suppressNag adds the exceptions to scope and, with children, to every
// resource under it.
func suppressNag(scope interface{}, children bool, exceptions ...nagException) {
	list := make([]*cdknag.NagPackSuppression, 0, len(exceptions))
	for _, e := range exceptions {
		s := &cdknag.NagPackSuppression{Id: jsii.String(e.rule), Reason: jsii.String(e.reason)}
		if len(e.appliesTo) > 0 {
			applies := make([]interface{}, 0, len(e.appliesTo))
			for _, a := range e.appliesTo {
				if len(a) > 1 && a[0] == '/' && a[len(a)-1] == '/' {
					applies = append(applies, &cdknag.RegexAppliesTo{Regex: jsii.String(a)})
				} else {
					applies = append(applies, a)
				}
			}
			s.AppliesTo = &applies
		}
		list = append(list, s)
	}
	cdknag.NagSuppressions_AddResourceSuppressions(scope, &list, jsii.Bool(children))
}

// The rule IDs restorable has exceptions for, in cdk-nag's AwsSolutions and
// NIST 800-53 rev 5 packs.
const (
	nagNISTStorageEncryption = "NIST.800.53.R5-RDSStorageEncrypted"

	nagWildcard          = "AwsSolutions-IAM5"
	nagManagedPolicy     = "AwsSolutions-IAM4"
	nagStateMachineXRay  = "AwsSolutions-SF2"
	nagStorageEncryption = "AwsSolutions-RDS2"
)
