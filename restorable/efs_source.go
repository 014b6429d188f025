package restorable

import (
	"regexp"
	"strings"

	"github.com/aws/constructs-go/constructs/v10"
)

// ContextEFSRecoveryPointArn restores an AWS Backup recovery point into a
// restorable file system: -c efsRecoveryPointArn=<ARN> for the app's only file
// system, or -c '<path>.efsRecoveryPointArn=<ARN>' for one of several.
const ContextEFSRecoveryPointArn = "efsRecoveryPointArn"

// FileSystemRecoveryPointFromContext reads the recovery point to restore into the
// file system that will be created as NewFileSystem(scope, id, ...) from the
// context keys efsRecoveryPointArn and "<path>.efsRecoveryPointArn". Pass it as
// FileSystemProps.RecoveryPointArn. It returns "" when neither is set, and an
// *InputError for a value that is not an EFS recovery point in the stack's region.
func FileSystemRecoveryPointFromContext(scope constructs.Construct, id string) (string, error) {
	v, err := readContext(scope, registryOf(scope), childPath(scope, id), ContextEFSRecoveryPointArn, true)
	if err != nil || !v.set {
		return "", err
	}
	if err := validateEFSRecoveryPoint(v.setting, v.value, stackRegion(scope)); err != nil {
		return "", err
	}
	return v.value, nil
}

// recoveryPointIDPattern is the ID part of an AWS Backup recovery point ARN of
// EFS, a UUID such as 1EB3B5E7-9EB0-435A-A80B-108B488B0D45.
var recoveryPointIDPattern = regexp.MustCompile(`^[0-9A-Fa-f]{8}(-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12}$`)

// validateEFSRecoveryPoint accepts only an AWS Backup recovery point ARN of the
// kind EFS backups have:
// https://docs.aws.amazon.com/aws-backup/latest/devguide/recovery-points.html
func validateEFSRecoveryPoint(setting, v, region string) error {
	if isToken(v) {
		return nil
	}
	if strings.TrimSpace(v) == "" {
		return inputErr(setting, v, "is empty", "give the ARN of an AWS Backup recovery point of the file system, or leave the setting out")
	}
	a, err := parseARN(setting, v)
	if err != nil {
		return err
	}
	id := strings.TrimPrefix(a.Resource, "recovery-point:")
	switch {
	case a.Service == "rds" && strings.HasPrefix(a.Resource, "cluster-snapshot:"):
		return inputErr(setting, v, "is a recovery point of an Aurora cluster, not of a file system",
			"give it to the cluster: -c snapshotArn="+v)
	case a.Service != "backup" || !strings.HasPrefix(a.Resource, "recovery-point:"):
		return inputErr(setting, v, "is not an AWS Backup recovery point ARN",
			"give an ARN of the form arn:aws:backup:<region>:<account>:recovery-point:<ID>; the stack output <Name>ListRecoveryPointsCommand lists the file system's recovery points")
	case strings.HasPrefix(id, "continuous:"):
		return inputErr(setting, v, "is a continuous backup, which EFS does not have (it belongs to a database)",
			"give a recovery point of the file system; the stack output <Name>ListRecoveryPointsCommand lists them")
	case !recoveryPointIDPattern.MatchString(id):
		return inputErr(setting, v, "does not end in the ID of an EFS recovery point (a UUID)",
			"copy the RecoveryPointArn exactly as aws backup list-recovery-points-by-resource prints it")
	}
	return checkRegion(setting, v, a.Region, region,
		"AWS Backup restores a recovery point in its own region: copy it into a vault in "+region+" first (aws backup start-copy-job --recovery-point-arn "+v+" --source-backup-vault-name <vault> --destination-backup-vault-arn <vault in "+region+"> --iam-role-arn <role>), then restore the copy")
}
