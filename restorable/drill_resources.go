package restorable

import (
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsrds"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// ContextDrillNow runs one validated drill of the resource, 30 minutes after
// synth: cdk deploy -c '<path>.drillNow=true'. Deploy again without it to
// remove the one-off plan.
const ContextDrillNow = "drillNow"

// readDrillNow reads the resource's drillNow key.
func readDrillNow(scope constructs.Construct, path string) bool {
	v, err := readContext(scope, registryOf(scope), path, ContextDrillNow, false)
	if err != nil {
		panic(atConstruct(path, err))
	}
	if !v.set {
		return false
	}
	if v.value != "true" {
		panic(&InputError{Construct: path, Setting: v.setting, Value: v.value, Problem: `is not "true"`,
			Fix: "give -c '" + ContextKey(path, ContextDrillNow) + "=true' to drill now, or leave the key out"})
	}
	return true
}

// refuseDrillSettings refuses drill settings on a resource that has no
// drills: they would be ignored.
func refuseDrillSettings(path string, check bool, now bool) {
	switch {
	case check:
		panic(&InputError{Construct: path, Setting: "DrillCheck", Value: "set",
			Problem: "is set, but the resource's protection runs no drills, so nothing would check it",
			Fix:     "turn drills on with ProtectionProps.RestoreTesting (ConfigureStackProtection), or remove DrillCheck"})
	case now:
		panic(&InputError{Construct: path, Setting: ContextKey(path, ContextDrillNow), Value: "true",
			Problem: "asks for a drill, but the resource's protection runs no drills",
			Fix:     "turn drills on with ProtectionProps.RestoreTesting, or remove the key"})
	}
}

// auroraDrillSpec is what a drill of the cluster checks.
func (c *AuroraCluster) auroraDrillSpec(path string, p awsrds.DatabaseClusterProps, check *AuroraDrillCheck, rto time.Duration) *drillSpec {
	s := &drillSpec{path: path, kind: testedAurora, arn: c.cluster.ClusterArn(), rto: rto, timeout: 30,
		live: []*string{c.cluster.ClusterArn()}}
	if c.secret != nil {
		s.live = append(s.live, c.secret.SecretArn())
	}
	if check != nil {
		s.aurora = *check
	}
	if s.aurora.Database == "" && p.DefaultDatabaseName != nil && !isToken(*p.DefaultDatabaseName) {
		s.aurora.Database = *p.DefaultDatabaseName
	}
	if d := s.aurora.Timeout; d != nil {
		if unresolved(d) {
			panic(&InputError{Construct: path, Setting: "DrillCheck.Timeout", Value: *d.ToString(), Problem: "is a token", Fix: "give a fixed duration"})
		}
		s.timeout = *d.ToSeconds(&awscdk.TimeConversionOptions{Integral: jsii.Bool(false)})
		if s.timeout < 1 || s.timeout > 40 {
			panic(&InputError{Construct: path, Setting: "DrillCheck.Timeout", Value: *d.ToHumanString(),
				Problem: "is not from 1 to 40 seconds; the RDS Data API cancels a call after 45 seconds",
				Fix:     "give a shorter check, with awscdk.Duration_Seconds(jsii.Number(30)) at most 40"})
		}
	}
	if cls := s.aurora.InstanceClass; strings.HasPrefix(cls, "db.t") {
		panic(&InputError{Construct: path, Setting: "DrillCheck.InstanceClass", Value: cls,
			Problem: "is a T class, on which the RDS Data API does not run (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/data-api.limitations.html)",
			Fix:     "leave it unset for db.serverless, or give an R or X class such as db.r6g.large"})
	}
	engine, version := "", ""
	if p.Engine != nil {
		engine = aws(p.Engine.EngineType())
		if v := p.Engine.EngineVersion(); v != nil {
			version = aws(v.FullVersion)
		}
	}
	s.vpc, s.subnetGroup = p.Vpc, c.cfn.DbSubnetGroupName()
	if ok, why := dataAPISupport(engine, version); !ok {
		panic(&InputError{Construct: path, Setting: "Engine", Value: engine + " " + version,
			Problem: "cannot be checked by a drill: " + why + ", through which the drill connects to the copy without a function in the VPC",
			Fix:     "upgrade the engine to a version the Data API supports, or turn drills off for this protection (ProtectionProps.RestoreTesting)"})
	}
	return s
}

// filesDrillSpec is what a drill of the file system checks, and where the
// copy's mount target and the files function go: the file system's first
// subnet, in the drills' own security group (drills.go).
func (c *FileSystem) filesDrillSpec(path string, vpc awsec2.IVpc, subnets *awsec2.SubnetSelection, check *FileSystemDrillCheck, rto time.Duration) *drillSpec {
	s := &drillSpec{path: path, kind: testedEFS, arn: c.fs.FileSystemArn(), rto: rto, live: []*string{c.fs.FileSystemArn()}}
	if check != nil {
		s.files = *check
		s.files.Paths = append([]string(nil), check.Paths...)
	}
	validatePaths(path, s.files.Paths)
	if s.files.Factor == 0 {
		s.files.Factor = 2
	}
	if s.files.Factor < 1 {
		panic(&InputError{Construct: path, Setting: "DrillCheck.Factor", Value: fmt.Sprint(s.files.Factor),
			Problem: "is below 1, which no copy could meet", Fix: "give 1 or more; 2 allows half to twice the backup's size"})
	}
	ids := vpc.SelectSubnets(subnets).SubnetIds
	if ids == nil || len(*ids) == 0 {
		panic(&InputError{Construct: path, Setting: "VpcSubnets", Problem: "selects no subnet for the drill's mount target", Fix: "select the file system's private subnets"})
	}
	s.subnet = (*ids)[0]
	s.vpc = vpc
	return s
}

// aws dereferences a jsii string, "" for nil.
func aws(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
