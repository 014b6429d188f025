package restorable

import (
	"encoding/base64"
	"encoding/json"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
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

// nagMetadataKey is the template metadata cdk-nag reads suppressions from, on
// each resource: {"rules_to_suppress": [{"id", "reason", "applies_to"}]}. It is
// what cdk-nag's NagSuppressions.addResourceSuppressions writes
// (cdk-nag src/utils/nag-suppression-helper.ts, toCfnFormat): a regular
// expression in applies_to is {"regex": "/.../"}, and a reason with characters
// outside Latin-1 is base64 with "is_reason_encoded": true. restorable writes it
// itself, so that an app that uses restorable does not load cdk-nag.
const nagMetadataKey = "cdk_nag"

// nagSuppression is one entry of rules_to_suppress.
type nagSuppression struct {
	ID              string        `json:"id"`
	Reason          string        `json:"reason"`
	AppliesTo       []interface{} `json:"applies_to,omitempty"`
	IsReasonEncoded bool          `json:"is_reason_encoded,omitempty"`
}

func (e nagException) suppression() nagSuppression {
	s := nagSuppression{ID: e.rule, Reason: e.reason}
	for _, r := range e.reason {
		if r > 255 {
			s.Reason = base64.StdEncoding.EncodeToString([]byte(e.reason))
			s.IsReasonEncoded = true
			break
		}
	}
	for _, a := range e.appliesTo {
		if len(a) > 1 && a[0] == '/' && a[len(a)-1] == '/' {
			s.AppliesTo = append(s.AppliesTo, map[string]string{"regex": a})
		} else {
			s.AppliesTo = append(s.AppliesTo, a)
		}
	}
	return s
}

// suppressNag adds the exceptions to scope's resource and, with children, to
// every resource under scope that exists now, as cdk-nag's
// NagSuppressions.addResourceSuppressions does.
func suppressNag(scope constructs.IConstruct, children bool, exceptions ...nagException) {
	targets := []constructs.IConstruct{scope}
	if children {
		targets = *nodeOf(scope).FindAll(constructs.ConstructOrder_PREORDER)
	}
	for _, c := range targets {
		// An L1's Go proxy is an awscdk.CfnResource: no round trip to ask,
		// and it has no default child.
		if r, ok := c.(awscdk.CfnResource); ok {
			addNagSuppressions(r, exceptions)
			continue
		}
		// With children, the default child is one of the targets itself.
		if !children {
			if r, ok := c.Node().DefaultChild().(awscdk.CfnResource); ok {
				addNagSuppressions(r, exceptions)
			}
		}
	}
}

// addNagSuppressions merges the exceptions into a resource's cdk_nag metadata,
// leaving out exact duplicates.
func addNagSuppressions(r awscdk.CfnResource, exceptions []nagException) {
	var existing struct {
		Rules []json.RawMessage `json:"rules_to_suppress"`
	}
	if old := r.GetMetadata(jsii.String(nagMetadataKey)); old != nil {
		raw, _ := json.Marshal(old)
		_ = json.Unmarshal(raw, &existing)
	}
	seen := map[string]bool{}
	var rules []interface{}
	add := func(raw []byte) {
		// Compared as JSON with its keys sorted: the metadata the kernel
		// returns and a suppression marshalled from its struct name the
		// same keys in different orders.
		var v interface{}
		_ = json.Unmarshal(raw, &v)
		key, _ := json.Marshal(v)
		if seen[string(key)] {
			return
		}
		seen[string(key)] = true
		rules = append(rules, v)
	}
	for _, raw := range existing.Rules {
		add(raw)
	}
	for _, e := range exceptions {
		raw, _ := json.Marshal(e.suppression())
		add(raw)
	}
	r.AddMetadata(jsii.String(nagMetadataKey), map[string]interface{}{"rules_to_suppress": rules})
}

// The rule IDs restorable has exceptions for, in cdk-nag's packs.
const (
	nagWildcard = "AwsSolutions-IAM5"
)

// storageEncryptionRules are the rules, one per cdk-nag pack, that ask an
// AWS::RDS::DBCluster for StorageEncrypted: true, which a restored cluster must
// not set (it inherits encryption from its source).
var storageEncryptionRules = []string{
	"AwsSolutions-RDS2",
	"NIST.800.53.R4-RDSStorageEncrypted",
	"NIST.800.53.R5-RDSStorageEncrypted",
	"HIPAA.Security-RDSStorageEncrypted",
	"PCI.DSS.321-RDSStorageEncrypted",
}
