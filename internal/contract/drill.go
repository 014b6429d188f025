package contract

import "time"

// Validated drills (restorable/drills.go, internal/drill): AWS Backup's
// restore testing restores a copy, EventBridge starts the stack's drill state
// machine when the restore job ends, and the state machine creates the drill
// function for the drill's window only, runs its steps, and deletes it.
const (
	// HandlerDrill validates a drill's copy, step by step; it exists only
	// while a drill runs.
	HandlerDrill = "drill"
	// HandlerDrillFiles walks a restored file system's copy, mounted in the
	// VPC; the drill function creates it for one drill and deletes it.
	HandlerDrillFiles = "drill-files"

	// DrillFunctionPrefix and DrillFilesFunctionPrefix start the names of
	// the functions of one drill, followed by the restore job's ID (36
	// characters; a function name has at most 64).
	DrillFunctionPrefix      = "restorable-drill-"
	DrillFilesFunctionPrefix = "restorable-drillfs-"

	// DrillMount is where the files function mounts the copy's root.
	DrillMount = "/mnt/drill"

	// RestoreTestTag is the tag AWS Backup puts on every resource a restore
	// test creates, and needs to delete it
	// (https://docs.aws.amazon.com/aws-backup/latest/devguide/restore-testing.html).
	RestoreTestTag = "awsbackup-restore-test"
	// RestoreTestPrefix starts the identifier AWS Backup gives a restored
	// Aurora cluster ("a random value starting with awsbackup-restore-test":
	// https://docs.aws.amazon.com/aws-backup/latest/devguide/restore-testing-inferred-metadata.html).
	RestoreTestPrefix = "awsbackup-restore-test"
	// TagDrill marks what a drill creates on the copy (a DB instance, a
	// mount target's access point) with the restore job's ID.
	TagDrill = "restorable:drill"

	// DrillInstanceSuffix names the DB instance a drill adds to a restored
	// Aurora cluster, which AWS Backup restores without one
	// (https://docs.aws.amazon.com/aws-backup/latest/devguide/restoring-aur.html).
	DrillInstanceSuffix = "-drill"

	// DrillMargin is how long before the end of the validation window a
	// drill gives up (TIMED_OUT) and cleans up, so that AWS Backup can
	// delete the copy on time.
	DrillMargin = 15 * time.Minute
	// DrillFilesTimeout is the files function's timeout; its walk stops a
	// minute earlier.
	DrillFilesTimeout = 15 * time.Minute
)

// Metrics restorable publishes, in CloudWatch embedded metric format from the
// guard's and the drill function's logs
// (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html),
// with the dimensions MetricStack and MetricResource.
const (
	MetricNamespace = "restorable"
	MetricStack     = "Stack"
	MetricResource  = "Resource"

	// MetricRecoveryPointAge is how old the newest recovery point is, in
	// seconds: for Aurora with continuous backup, the age of its latest
	// restorable time.
	MetricRecoveryPointAge = "RecoveryPointAge"
	// MetricDrillRestore is the drill's restore job, creation to completion,
	// in seconds.
	MetricDrillRestore = "DrillRestoreTime"
	// MetricDrillTotal is the drill end to end, restore plus validation, in
	// seconds: what counts against the RTO.
	MetricDrillTotal = "DrillTime"
	// MetricDrillPassed is 1 for a drill whose copy passed its checks, 0
	// otherwise.
	MetricDrillPassed = "DrillPassed"
)

// DrillConfig is what the drill state machine's input carries besides the
// restore job's ID: the stack's drilled resources and where things are.
type DrillConfig struct {
	Stack string `json:"stack"`
	// ValidationWindowHours is the plan's validation window: the drill
	// must report before it ends.
	ValidationWindowHours float64 `json:"validationWindowHours"`
	AlertTopicArn         string  `json:"alertTopicArn,omitempty"`
	// FilesRoleArn, CodeBucket, CodeKey and LogGroup create the files
	// function.
	FilesRoleArn string          `json:"filesRoleArn,omitempty"`
	CodeBucket   string          `json:"codeBucket,omitempty"`
	CodeKey      string          `json:"codeKey,omitempty"`
	LogGroup     string          `json:"logGroup,omitempty"`
	Resources    []DrillResource `json:"resources"`
}

// DrillResource is one drilled resource, matched to a restore job by its ARN
// (the job's SourceResourceArn).
type DrillResource struct {
	Path       string  `json:"path"`
	Kind       string  `json:"kind"` // Aurora or EFS
	Arn        string  `json:"arn"`
	RTOSeconds float64 `json:"rtoSeconds"`

	// Aurora: the check, and the DB instance the drill adds.
	SQL            string  `json:"sql,omitempty"`
	Database       string  `json:"database,omitempty"`
	TimeoutSeconds float64 `json:"timeoutSeconds,omitempty"`
	InstanceClass  string  `json:"instanceClass,omitempty"`

	// EFS: the paths that must be there, the factor the size and file
	// count must be within, and where the copy is mounted.
	Paths         []string `json:"paths,omitempty"`
	Factor        float64  `json:"factor,omitempty"`
	SubnetID      string   `json:"subnetId,omitempty"`
	SecurityGroup string   `json:"securityGroup,omitempty"`
}

// ProbeEvent is the input of the guard function's scheduled run that
// measures each resource's recovery point age.
type ProbeEvent struct {
	// Probe is always "recovery-points"; it tells the guard function's
	// entry point this is not a CloudFormation event.
	Probe     string          `json:"restorableProbe"`
	Stack     string          `json:"stack"`
	Resources []ProbeResource `json:"resources"`
}

// ProbeValue is ProbeEvent.Probe.
const ProbeValue = "recovery-points"

// ProbeResource is a resource whose newest recovery point is measured.
type ProbeResource struct {
	Path string `json:"path"`
	Kind string `json:"kind"`
	Arn  string `json:"arn"`
	// Continuous says the plan backs the cluster up continuously: its
	// latest restorable time counts.
	Continuous bool `json:"continuous,omitempty"`
}
