package guard

import (
	"fmt"
	"sort"
	"strings"

	"github.com/restorable-cdk/restorable/internal/contract"
)

// Live holds the create-only properties of a live resource as its service
// describes them, under their CloudFormation names. A property the service
// does not report is absent.
type Live map[string]string

// Difference is a create-only property whose value in the template differs
// from the live resource's.
type Difference struct {
	Property, Live, Template string
}

func (d Difference) String() string {
	return fmt.Sprintf("%s: live %s, template %s", d.Property, d.Live, d.Template)
}

// liveRule compares one create-only property. absent is the value
// CloudFormation's resource handler uses when the template leaves the
// property out ("" to skip the comparison then, because the default depends
// on something the guard cannot see, such as a snapshot the resource was
// restored from).
type liveRule struct {
	property string
	absent   string
	equal    func(live, template string) bool
	// inherited: a restored resource that leaves the property out takes it
	// from its restore source (a snapshot's database name, master user and
	// encryption), so an absent value is not compared then.
	inherited bool
}

// liveRules are the create-only properties (createOnlyProperties and
// conditionalCreateOnlyProperties of each type's registry schema,
// https://github.com/aws-cloudformation/aws-cloudformation-resource-providers-rds/blob/master/aws-rds-dbcluster/aws-rds-dbcluster.json,
// https://github.com/aws-cloudformation/aws-cloudformation-resource-providers-efs/blob/master/aws-efs-filesystem/aws-efs-filesystem.json,
// https://github.com/aws-cloudformation/aws-cloudformation-resource-providers-backup/blob/main/backup-vault/aws-backup-backupvault.json)
// that the service's Describe API reports back, with the default the
// resource handler applies when the template leaves them out. Properties the
// API does not return (a restore's SnapshotIdentifier, AvailabilityZones) are
// not compared.
var liveRules = map[string][]liveRule{
	contract.TypeDBCluster: {
		{property: "Engine", equal: strings.EqualFold},
		{property: "EngineMode", absent: "provisioned", equal: strings.EqualFold},
		{property: "DatabaseName", absent: "(not set)", equal: equalOrBothUnset, inherited: true},
		{property: "MasterUsername", equal: equalUnlessReference, inherited: true},
		{property: "StorageEncrypted", equal: strings.EqualFold, inherited: true},
		{property: "KmsKeyId", equal: sameKey, inherited: true},
		// RDS stores identifiers and subnet group names in lower case.
		{property: "DBSubnetGroupName", equal: strings.EqualFold},
		{property: "DBClusterIdentifier", equal: strings.EqualFold},
		{property: "ClusterScalabilityType", equal: strings.EqualFold},
	},
	contract.TypeFileSystem: {
		{property: "Encrypted", absent: "false", equal: strings.EqualFold},
		{property: "KmsKeyId", equal: sameKey},
		{property: "PerformanceMode", absent: "generalPurpose", equal: strings.EqualFold},
		{property: "AvailabilityZoneName", absent: "(not set)", equal: equalOrBothUnset},
	},
	contract.TypeBackupVault: {
		{property: "BackupVaultName", equal: func(l, t string) bool { return l == t }},
		{property: "EncryptionKeyArn", equal: sameKey},
	},
	// https://github.com/aws-cloudformation/aws-cloudformation-resource-providers-rds/blob/master/aws-rds-globalcluster/aws-rds-globalcluster.json:
	// SourceDBClusterIdentifier is not reported back once the global cluster
	// exists, so it is compared between templates only.
	contract.TypeGlobalCluster: {
		{property: "GlobalClusterIdentifier", equal: strings.EqualFold},
		{property: "Engine", equal: strings.EqualFold},
		{property: "StorageEncrypted", equal: strings.EqualFold},
	},
	// https://github.com/aws-cloudformation/aws-cloudformation-resource-providers-backup/blob/main/logically-air-gapped-backup-vault/aws-backup-logicallyairgappedbackupvault.json
	contract.TypeAirGapVault: {
		{property: "BackupVaultName", equal: func(l, t string) bool { return l == t }},
		{property: "MinRetentionDays", equal: sameNumber},
		{property: "MaxRetentionDays", equal: sameNumber},
	},
}

// sameNumber compares numbers that CloudFormation passes as strings ("35")
// with what the service reports.
func sameNumber(live, template string) bool {
	return strings.TrimSuffix(live, ".0") == strings.TrimSuffix(template, ".0")
}

// CompareLive lists the create-only properties whose template value differs
// from the live resource: deploying the template would replace the live
// resource with a new one, empty or restored again from its source.
func CompareLive(r Resource, live Live) []Difference {
	var out []Difference
	restored := len(r.Source) > 0
	for _, rule := range liveRules[r.Type] {
		t, inTemplate := r.CreateOnly[rule.property]
		template := ""
		if !inTemplate && restored && rule.inherited {
			continue
		}
		if inTemplate {
			template = str(t)
		} else if rule.absent != "" {
			template = rule.absent
		} else {
			continue
		}
		l, ok := live[rule.property]
		if !ok {
			l = "(not set)"
		}
		if !rule.equal(l, template) {
			shown := template
			if !inTemplate && template != "(not set)" {
				shown = "(not set, so " + template + ")"
			}
			out = append(out, Difference{Property: rule.property, Live: l, Template: shown})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Property < out[j].Property })
	return out
}

func equalOrBothUnset(live, template string) bool { return live == template }

// equalUnlessReference compares a value that the template may give as a
// dynamic reference ({{resolve:secretsmanager:...}}), which the guard
// receives unresolved: such a value cannot be compared and is taken as equal.
func equalUnlessReference(live, template string) bool {
	return strings.Contains(template, "{{resolve:") || live == template
}

// sameKey compares KMS keys given as a key ARN, a key ID or an alias. An alias
// cannot be compared with the key ARN the service reports, and is taken as
// equal.
func sameKey(live, template string) bool {
	switch {
	case live == template:
		return true
	case strings.Contains(template, "alias/"):
		return true
	case !strings.HasPrefix(template, "arn:"):
		return strings.HasSuffix(live, "key/"+template)
	}
	return false
}

// liveEngineVersion is the key under which describe reports a cluster's
// engine version, which is not create-only: an in-place upgrade keeps the
// cluster, but cannot be undone in place.
const liveEngineVersion = "EngineVersion"

// upgradesLive reports whether the template's engine version differs from
// the live cluster's, on a first sight, where the guard has no previous
// template to compare with. A template version that names the major version
// only ("16") matches every minor version of it ("16.4").
func upgradesLive(b *BeforeChange, live Live) bool {
	template, current := str(b.Watch[liveEngineVersion]), live[liveEngineVersion]
	if template == "" || current == "" || strings.EqualFold(template, current) {
		return false
	}
	return !strings.HasPrefix(current, template+".")
}
