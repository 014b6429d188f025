package contract

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws/arn"
)

// RecoveryPoint is an AWS Backup recovery point of an EFS file system, parsed
// once from its ARN, arn:<partition>:backup:<region>:<account>:recovery-point:<ID>
// (https://docs.aws.amazon.com/aws-backup/latest/devguide/recovery-points.html).
// The constructs, the restore handler and the mover share it.
type RecoveryPoint struct {
	ARN, Partition, Region, Account string
	// ID is the recovery point's ID, a UUID.
	ID string
}

// ParseError says why a string is not an EFS recovery point ARN, and what to
// give instead.
type ParseError struct {
	Problem, Fix string
}

func (e *ParseError) Error() string { return e.Problem + ". Fix: " + e.Fix }

var (
	recoveryPointIDPattern = regexp.MustCompile(`^[0-9A-Fa-f]{8}(-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12}$`)
	accountPattern         = regexp.MustCompile(`^[0-9]{12}$`)
)

// ParseRecoveryPoint parses the ARN of an AWS Backup recovery point of an EFS
// file system. The error is a *ParseError.
func ParseRecoveryPoint(s string) (RecoveryPoint, error) {
	a, err := arn.Parse(s)
	if err != nil {
		return RecoveryPoint{}, &ParseError{Problem: "is not a valid ARN (" + err.Error() + ")",
			Fix: "copy the RecoveryPointArn exactly as aws backup list-recovery-points-by-resource prints it"}
	}
	id := strings.TrimPrefix(a.Resource, "recovery-point:")
	switch {
	case a.Service == "rds" && strings.HasPrefix(a.Resource, "cluster-snapshot:"):
		return RecoveryPoint{}, &ParseError{Problem: "is a recovery point of an Aurora cluster, not of a file system",
			Fix: "give it to the cluster as its snapshot (snapshotArn)"}
	case a.Service != "backup" || !strings.HasPrefix(a.Resource, "recovery-point:"):
		return RecoveryPoint{}, &ParseError{Problem: "is not an AWS Backup recovery point ARN",
			Fix: "give an ARN of the form arn:aws:backup:<region>:<account>:recovery-point:<ID>; the stack output <Name>ListRecoveryPointsCommand lists the file system's recovery points"}
	case strings.HasPrefix(id, "continuous:"):
		return RecoveryPoint{}, &ParseError{Problem: "is a continuous backup, which EFS does not have (it belongs to a database)",
			Fix: "give a recovery point of the file system; the stack output <Name>ListRecoveryPointsCommand lists them"}
	case !recoveryPointIDPattern.MatchString(id):
		return RecoveryPoint{}, &ParseError{Problem: "does not end in the ID of an EFS recovery point (a UUID)",
			Fix: "copy the RecoveryPointArn exactly as aws backup list-recovery-points-by-resource prints it"}
	case a.Region == "":
		return RecoveryPoint{}, &ParseError{Problem: "has no region", Fix: "copy the full ARN, which includes the region"}
	case !accountPattern.MatchString(a.AccountID):
		return RecoveryPoint{}, &ParseError{Problem: fmt.Sprintf("has account %q, which is not a 12-digit AWS account ID", a.AccountID),
			Fix: "copy the full ARN, which includes the 12-digit account ID"}
	}
	return RecoveryPoint{ARN: s, Partition: a.Partition, Region: a.Region, Account: a.AccountID, ID: id}, nil
}

// RequestIDPattern is what the restore accepts as a request ID: CloudFormation
// request IDs are UUIDs. It keeps every name built from a request ID (an
// execution name, a file name under the mover's state directory) to letters,
// digits and hyphens.
var RequestIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9-]{0,63}$`)
