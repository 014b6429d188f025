package restorable

import (
	"errors"

	"github.com/restorable-cdk/restorable/internal/contract"
)

// parseRecoveryPoint parses an EFS recovery point ARN, the one parser the
// constructs, the restore handler and the mover share, and checks it against
// the stack's region.
func parseRecoveryPoint(setting, v, region string) (contract.RecoveryPoint, error) {
	if isToken(v) {
		return contract.RecoveryPoint{}, inputErr(setting, v, "is a token, and the recovery point decides what the deploy creates",
			"give the ARN as a string, for example from -c efsRecoveryPointArn=<ARN>")
	}
	if err := checkRaw(setting, v, "the ARN of an AWS Backup recovery point of the file system"); err != nil {
		return contract.RecoveryPoint{}, err
	}
	point, err := contract.ParseRecoveryPoint(v)
	var pe *contract.ParseError
	if errors.As(err, &pe) {
		return contract.RecoveryPoint{}, inputErr(setting, v, pe.Problem, pe.Fix)
	}
	if err != nil {
		return contract.RecoveryPoint{}, err
	}
	if err := checkRegion(setting, v, point.Region, region,
		"AWS Backup restores a recovery point in its own region: copy it into a vault in "+region+" first (aws backup start-copy-job --recovery-point-arn "+v+" --source-backup-vault-name <vault> --destination-backup-vault-arn <vault in "+region+"> --iam-role-arn <role>), then restore the copy"); err != nil {
		return contract.RecoveryPoint{}, err
	}
	if !knownPartitions[point.Partition] {
		return contract.RecoveryPoint{}, inputErr(setting, v, "names the unknown partition "+point.Partition, "use a partition such as aws, aws-cn or aws-us-gov")
	}
	return point, nil
}
