package restorable

// The parsers and validators of the values a restore source is made of:
// restore times, snapshot ARNs and names, cluster identifiers and resource IDs.

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/arn"
)

// maxBackupRetention is the longest backup retention Aurora supports (35 days).
const maxBackupRetention = 35 * 24 * time.Hour

func parseRestoreTime(setting, v string) (time.Time, bool, error) {
	if strings.EqualFold(v, "latest") {
		return time.Time{}, true, nil
	}
	if isToken(v) {
		return time.Time{}, false, nil
	}
	const fix = "give the time in RFC 3339 format: UTC like 2026-11-20T10:15:22Z, with an offset like 2026-11-20T19:15:22+09:00, or latest"
	if err := checkRaw(setting, v, "a time"); err != nil {
		return time.Time{}, false, err
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, false, inputErr(setting, v, "is not a time in RFC 3339 format with a time zone", fix)
	}
	if t.Nanosecond() != 0 {
		return time.Time{}, false, inputErr(setting, v, "has fractional seconds, and Aurora restores to whole seconds",
			"drop the fraction, which keeps the restore before the incident: "+t.UTC().Truncate(time.Second).Format(restoreTimeLayout))
	}
	return t.UTC(), false, nil
}

var (
	// identifierPattern is the DB cluster identifier rule from the AWS::RDS::DBCluster
	// schema: a letter, then letters, digits and single hyphens, not ending in a hyphen.
	identifierPattern = regexp.MustCompile(`^[a-zA-Z](?:-?[a-zA-Z0-9])*$`)
	resourceIDPattern = regexp.MustCompile(`^cluster-[A-Z0-9]+$`)
	accountPattern    = regexp.MustCompile(`^[0-9]{12}$`)
)

// knownPartitions are the AWS partitions an ARN can name.
var knownPartitions = map[string]bool{
	"aws": true, "aws-cn": true, "aws-us-gov": true, "aws-iso": true,
	"aws-iso-b": true, "aws-iso-e": true, "aws-iso-f": true, "aws-eusc": true,
}

const (
	maxClusterIdentifier  = 63
	maxSnapshotIdentifier = 255
)

// checkRaw rejects the mistakes of copying a value by hand: an empty value,
// spaces around it, and quotes around it (a shell or cdk.json quoting twice).
func checkRaw(setting, v, what string) error {
	t := strings.TrimSpace(v)
	switch {
	case t == "":
		return inputErr(setting, v, "is empty", "give "+what+", or leave the setting out")
	case len(t) >= 2 && strings.ContainsAny(t[:1], `"'`) && t[len(t)-1] == t[0]:
		return inputErr(setting, v, "is wrapped in quotes, which are part of the value as given",
			"remove the quotes: in cdk.json the JSON string's own quotes are enough, and on the command line quote the whole argument, -c '"+setting+"="+t[1:len(t)-1]+"'")
	case t != v:
		return inputErr(setting, v, "has leading or trailing spaces", "remove the spaces")
	}
	return nil
}

func validateSnapshotIdentifier(setting, v, region string) error {
	if isToken(v) {
		return nil
	}
	if err := checkRaw(setting, v, "the name or ARN of a DB cluster snapshot"); err != nil {
		return err
	}
	if !strings.HasPrefix(v, "arn:") {
		return validateSnapshotName(setting, v)
	}
	a, err := parseARN(setting, v)
	if err != nil {
		return err
	}
	switch {
	case a.Service == "backup" && strings.HasPrefix(a.Resource, "recovery-point:continuous:"):
		return inputErr(setting, v, "is an AWS Backup continuous backup, which is restored by time, not as a snapshot",
			"restore to a point in time: -c restoreToTime=<RFC 3339 time> -c restoreSourceCluster=<cluster identifier>")
	case a.Service == "backup" && strings.HasPrefix(a.Resource, "recovery-point:"):
		return inputErr(setting, v, "is an AWS Backup recovery point ARN, which CloudFormation cannot restore a cluster from: in the stack's own vault AWS Backup keeps an Aurora cluster's recovery points as DB cluster snapshots (arn:aws:rds:<region>:<account>:cluster-snapshot:awsbackup:job-<id>), but a recovery point in a logically air-gapped vault, or of an EFS file system, is not one",
			"for an Aurora copy in a logically air-gapped vault, copy it into the stack's vault first: aws backup start-copy-job --recovery-point-arn "+v+" --source-backup-vault-name <air-gapped vault> --destination-backup-vault-arn <stack output vault ARN> --iam-role-arn <the protection's BackupRole ARN>, then give the copy's cluster-snapshot ARN (aws backup describe-copy-job); give an EFS recovery point to efsRecoveryPointArn instead")
	case a.Service != "rds":
		return inputErr(setting, v, fmt.Sprintf("is an ARN of the %q service, not a DB cluster snapshot", a.Service),
			"give the name or ARN (arn:aws:rds:<region>:<account>:cluster-snapshot:<name>) of a DB cluster snapshot")
	case strings.HasPrefix(a.Resource, "snapshot:"):
		return inputErr(setting, v, "is a DB instance snapshot, and an Aurora cluster restores from DB cluster snapshots",
			"use a cluster snapshot ARN (…:cluster-snapshot:<name>); to move an RDS instance into Aurora, first migrate its snapshot (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/AuroraMySQL.Migrating.RDSMySQL.Snapshot.html)")
	case strings.HasPrefix(a.Resource, "cluster:"):
		return inputErr(setting, v, "is a DB cluster ARN, not a snapshot",
			"to restore a cluster's current or past data, use restoreToTime with restoreSourceCluster, or clone it")
	case !strings.HasPrefix(a.Resource, "cluster-snapshot:"):
		return inputErr(setting, v, fmt.Sprintf("has resource %q, which is not a DB cluster snapshot", a.Resource),
			"give an ARN of the form arn:aws:rds:<region>:<account>:cluster-snapshot:<name>")
	}
	if err := validateSnapshotName(setting, strings.TrimPrefix(a.Resource, "cluster-snapshot:")); err != nil {
		e := err.(*InputError)
		e.Value = v
		return e
	}
	return checkRegion(setting, v, a.Region, region,
		"copy the snapshot into the stack's region first: aws rds copy-db-cluster-snapshot --region "+region+" --source-db-cluster-snapshot-identifier "+v+" --target-db-cluster-snapshot-identifier <name> --kms-key-id <key in "+region+">, then restore the copy")
}

func validateSnapshotName(setting, name string) error {
	base := name
	for _, prefix := range []string{"rds:", "awsbackup:"} {
		base = strings.TrimPrefix(base, prefix)
	}
	limit := maxSnapshotIdentifier
	if base == name {
		limit = maxClusterIdentifier
	}
	if base == "" || len(base) > limit || !identifierPattern.MatchString(base) {
		return inputErr(setting, name, fmt.Sprintf("is not a valid DB cluster snapshot identifier (1 to %d letters, digits or hyphens, starting with a letter, with no double or trailing hyphen; optionally after rds: or awsbackup:)", limit),
			"copy the snapshot identifier or ARN exactly as aws rds describe-db-cluster-snapshots prints it")
	}
	return nil
}

func validateClusterIdentifier(setting, v, region string) error {
	if isToken(v) {
		return nil
	}
	if err := checkRaw(setting, v, "the identifier or ARN of a DB cluster"); err != nil {
		return err
	}
	if strings.HasPrefix(v, "arn:") {
		a, err := parseARN(setting, v)
		if err != nil {
			return err
		}
		if a.Service != "rds" || !strings.HasPrefix(a.Resource, "cluster:") {
			return inputErr(setting, v, "is not a DB cluster ARN",
				"give the source cluster's identifier, or its ARN (arn:aws:rds:<region>:<account>:cluster:<identifier>) when it is in another account")
		}
		if err := validateClusterIdentifier(setting, strings.TrimPrefix(a.Resource, "cluster:"), ""); err != nil {
			e := err.(*InputError)
			e.Value = v
			return e
		}
		return checkRegion(setting, v, a.Region, region,
			"a point-in-time restore or clone reads the source's backups in its own region: deploy the restore in "+a.Region+", or restore a snapshot copied into "+region)
	}
	if len(v) > maxClusterIdentifier || !identifierPattern.MatchString(v) {
		return inputErr(setting, v, "is not a valid DB cluster identifier (1 to 63 letters, digits or hyphens, starting with a letter, with no double or trailing hyphen)",
			"copy the identifier from the stack output ClusterIdentifier or from aws rds describe-db-clusters")
	}
	return nil
}

func validateClusterResourceID(setting, v string) error {
	if isToken(v) {
		return nil
	}
	if err := checkRaw(setting, v, "the resource ID of a DB cluster"); err != nil {
		return err
	}
	if !resourceIDPattern.MatchString(v) {
		return inputErr(setting, v, "is not a DB cluster resource ID (cluster- followed by upper-case letters and digits)",
			"copy DbClusterResourceId from aws rds describe-db-cluster-automated-backups, or from the stack output ClusterResourceId")
	}
	return nil
}

func parseARN(setting, v string) (arn.ARN, error) {
	a, err := arn.Parse(v)
	if err != nil {
		return arn.ARN{}, inputErr(setting, v, "is not a valid ARN ("+err.Error()+")",
			"copy the ARN exactly, in the form arn:<partition>:<service>:<region>:<account>:<resource>")
	}
	if !knownPartitions[a.Partition] {
		return arn.ARN{}, inputErr(setting, v, fmt.Sprintf("names the unknown partition %q", a.Partition),
			"use a partition such as aws, aws-cn or aws-us-gov")
	}
	if a.Region == "" {
		return arn.ARN{}, inputErr(setting, v, "has no region", "copy the full ARN, which includes the region")
	}
	if !accountPattern.MatchString(a.AccountID) {
		return arn.ARN{}, inputErr(setting, v, fmt.Sprintf("has account %q, which is not a 12-digit AWS account ID", a.AccountID),
			"copy the full ARN, which includes the 12-digit account ID")
	}
	return a, nil
}

func checkRegion(setting, v, got, stackRegion, fix string) error {
	if stackRegion == "" || isToken(stackRegion) || got == stackRegion {
		return nil
	}
	return inputErr(setting, v, fmt.Sprintf("is in region %s, but the stack deploys to %s", got, stackRegion), fix)
}

// isToken reports whether v holds an unresolved CDK token, whose value is only
// known at deploy time and so cannot be checked at synth.
func isToken(v string) bool {
	return strings.Contains(v, "${Token[")
}

func firstNonEmpty(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}
