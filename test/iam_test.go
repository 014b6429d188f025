package test

import (
	"path"
	"strings"
)

// iamPolicy evaluates the statements of a role's policies the way IAM does for
// one request: an explicit deny wins, then an allow, else the request is
// denied (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html).
// It knows the condition operators restorable's policies use, and renders the
// template's pseudo parameters for this account and region; any other
// intrinsic in a resource matches nothing.
type iamPolicy []map[string]interface{}

func (p iamPolicy) allows(action, resource string, tags map[string]string) bool {
	return p.allowsRequest(iamRequest{action: action, resource: resource, context: tags})
}

// iamRequest is one request: its action and resource, the tags the resource
// has (aws:ResourceTag), the tags the request sets (aws:RequestTag and
// aws:TagKeys), and any other context key, by name.
type iamRequest struct {
	action, resource string
	// context holds resource tags by their key, and other keys by name.
	context     map[string]string
	requestTags map[string]string
}

// applies reports whether a statement's Resource (or NotResource) covers
// the request's resource.
func applies(st map[string]interface{}, resource string) bool {
	if not, ok := st["NotResource"]; ok {
		return !matchAny(not, resource)
	}
	return matchAny(st["Resource"], resource)
}

func (p iamPolicy) allowsRequest(r iamRequest) bool {
	allowed := false
	for _, st := range p {
		if !matchAny(st["Action"], r.action) || !applies(st, r.resource) || !conditionsHoldFor(st["Condition"], r) {
			continue
		}
		if st["Effect"] == "Deny" {
			return false
		}
		allowed = true
	}
	return allowed
}

// denies reports whether an explicit deny matches the request: a resource
// policy (a key policy, a vault access policy) that denies wins over any allow
// the caller's identity policies give.
func (p iamPolicy) denies(action, resource string, ctx map[string]string) bool {
	r := iamRequest{action: action, resource: resource, context: ctx}
	for _, st := range p {
		if st["Effect"] == "Deny" && matchAny(st["Action"], action) && applies(st, resource) && conditionsHoldFor(st["Condition"], r) {
			return true
		}
	}
	return false
}

func matchAny(v interface{}, s string) bool {
	var values []interface{}
	switch x := v.(type) {
	case []interface{}:
		values = x
	default:
		values = []interface{}{x}
	}
	for _, value := range values {
		if pattern, ok := renderArn(value); ok {
			if matched, _ := path.Match(strings.ReplaceAll(pattern, "/", "\x00"), strings.ReplaceAll(s, "/", "\x00")); matched {
				return true
			}
			if pattern == "*" || wildcard(pattern, s) {
				return true
			}
		}
	}
	return false
}

// wildcard matches an IAM pattern, where * matches any run of characters,
// slashes included.
func wildcard(pattern, s string) bool {
	parts := strings.Split(pattern, "*")
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	for i, part := range parts[1:] {
		if i == len(parts)-2 {
			return strings.HasSuffix(s, part)
		}
		j := strings.Index(s, part)
		if j < 0 {
			return false
		}
		s = s[j+len(part):]
	}
	return s == ""
}

// renderArn renders a string or an Fn::Join of strings and pseudo parameters.
func renderArn(v interface{}) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case map[string]interface{}:
		if sub, ok := x["Fn::Sub"].(string); ok {
			return strings.NewReplacer("${AWS::Partition}", "aws", "${AWS::Region}", region, "${AWS::AccountId}", account).Replace(sub), true
		}
		join, ok := x["Fn::Join"].([]interface{})
		if !ok {
			return "", false
		}
		var b strings.Builder
		for _, part := range join[1].([]interface{}) {
			switch p := part.(type) {
			case string:
				b.WriteString(p)
			case map[string]interface{}:
				switch p["Ref"] {
				case "AWS::Partition":
					b.WriteString("aws")
				case "AWS::Region":
					b.WriteString(region)
				case "AWS::AccountId":
					b.WriteString(account)
				default:
					return "", false
				}
			}
		}
		return b.String(), true
	}
	return "", false
}

func conditionsHold(v interface{}, tags map[string]string) bool {
	return conditionsHoldFor(v, iamRequest{context: tags})
}

func conditionsHoldFor(v interface{}, r iamRequest) bool {
	conditions, _ := v.(map[string]interface{})
	for op, block := range conditions {
		for key, want := range block.(map[string]interface{}) {
			if key == "aws:TagKeys" {
				if !tagKeysHold(op, r.requestTags, want) {
					return false
				}
				continue
			}
			got, present := contextValue(key, r)
			if !conditionHolds(op, got, present, want) {
				return false
			}
		}
	}
	return true
}

// tagKeysHold evaluates a condition on aws:TagKeys, the keys of the tags the
// request sets: ForAllValues holds when every key matches (also for none),
// ForAnyValue when one does
// (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html).
func tagKeysHold(op string, requestTags map[string]string, want interface{}) bool {
	qualifier, base, _ := strings.Cut(op, ":")
	if base == "" {
		base, qualifier = qualifier, "ForAnyValue"
	}
	any := false
	for k := range requestTags {
		ok := conditionHolds(base, k, true, want)
		if qualifier == "ForAllValues" && !ok {
			return false
		}
		any = any || ok
	}
	return qualifier == "ForAllValues" || any
}

// contextValue reads a condition key from the request: a resource's tags by
// their key, a tag the request sets by aws:RequestTag, any other key
// (aws:PrincipalArn) by its name.
func contextValue(key string, r iamRequest) (string, bool) {
	// Secrets Manager's own form of aws:ResourceTag
	// (https://docs.aws.amazon.com/secretsmanager/latest/userguide/reference_iam-permissions.html).
	for _, prefix := range []string{"aws:ResourceTag/", "secretsmanager:ResourceTag/"} {
		if k, ok := strings.CutPrefix(key, prefix); ok {
			v, present := r.context[k]
			return v, present
		}
	}
	if k, ok := strings.CutPrefix(key, "aws:RequestTag/"); ok {
		v, present := r.requestTags[k]
		return v, present
	}
	v, present := r.context[key]
	return v, present
}

func conditionHolds(op, got string, present bool, want interface{}) bool {
	wants := []string{}
	switch w := want.(type) {
	case string:
		wants = append(wants, w)
	case []interface{}:
		for _, x := range w {
			if s, ok := renderArn(x); ok {
				wants = append(wants, s)
			}
		}
	default:
		if s, ok := renderArn(w); ok {
			wants = append(wants, s)
		}
	}
	switch op {
	case "Null":
		return (wants[0] == "true") == !present
	case "StringEquals", "ArnEquals":
		for _, w := range wants {
			if present && got == w {
				return true
			}
		}
		return false
	case "StringLike", "ArnLike":
		for _, w := range wants {
			if present && wildcard(w, got) {
				return true
			}
		}
		return false
	case "Bool":
		return present && got == wants[0]
	case "BoolIfExists":
		return !present || got == wants[0]
	case "StringNotLike", "ArnNotLike":
		for _, w := range wants {
			if present && wildcard(w, got) {
				return false
			}
		}
		return true
	case "StringNotEquals", "ArnNotEquals":
		for _, w := range wants {
			if present && got == w {
				return false
			}
		}
		return true
	}
	// Operators this evaluator does not model hold never.
	return false
}
