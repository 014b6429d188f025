package drill

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/backup"
	"github.com/aws/aws-sdk-go-v2/service/efs"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/rdsdata"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/stretchr/testify/require"

	"github.com/restorable-cdk/restorable/internal/awstest"
	"github.com/restorable-cdk/restorable/internal/contract"
	"github.com/restorable-cdk/restorable/internal/emf"
)

const (
	jobID      = "6f0c8e1a-2b3d-4c5e-8f90-a1b2c3d4e5f6"
	planArn    = "arn:aws:backup:ap-northeast-1:123456789012:restore-testing-plan:AppStack_RestorableProtection_RestoreTesting_Plan-abcd"
	liveDB     = "arn:aws:rds:ap-northeast-1:123456789012:cluster:appstack-database-1"
	copyDB     = "awsbackup-restore-test-7a1b2c3d4e5f"
	copyDBArn  = "arn:aws:rds:ap-northeast-1:123456789012:cluster:" + copyDB
	liveFiles  = "arn:aws:elasticfilesystem:ap-northeast-1:123456789012:file-system/fs-0aaaaaaaaaaaaaaa1"
	copyFiles  = "fs-0bbbbbbbbbbbbbbb2"
	copyFsArn  = "arn:aws:elasticfilesystem:ap-northeast-1:123456789012:file-system/" + copyFiles
	topicArn   = "arn:aws:sns:ap-northeast-1:123456789012:alerts"
	copySecret = "arn:aws:secretsmanager:ap-northeast-1:123456789012:secret:rds!cluster-5f1d-AbCdEf"
)

// world is an account in which AWS Backup has restored a drill's copy: the
// restore job (AWS Backup, REST-JSON:
// https://docs.aws.amazon.com/aws-backup/latest/devguide/API_DescribeRestoreJob.html),
// the restored cluster (RDS, query protocol) and its database (the RDS Data
// API, REST-JSON: https://docs.aws.amazon.com/rdsdataservice/latest/APIReference/API_ExecuteStatement.html),
// the restored file system (EFS, REST-JSON), the functions the drill creates
// (Lambda, REST-JSON; invoking the files function runs Walk on a directory
// of the test) and the alert topic (SNS, query protocol).
type world struct {
	t   *testing.T
	mu  sync.Mutex
	now time.Time

	job map[string]interface{}
	// validations are the PutRestoreValidationResult bodies.
	validations []map[string]interface{}
	previous    []map[string]interface{}

	// The copy cluster.
	clusterStatus string
	managedSecret bool
	httpEnabled   bool
	scaling       bool
	instances     map[string]string // identifier -> status
	instancePolls int               // Describe calls before a new instance is available; -1: never
	// instanceReady, when set, is when a new instance becomes available
	// instead.
	instanceReady  time.Time
	modifications  []url.Values
	createdClasses []string
	// The copy's database: tables (schema.table) and which cannot be read;
	// answers maps a user SQL to its first field (JSON of an rdsdata Field).
	tables     []string
	unreadable map[string]bool
	answers    map[string]string
	statements []string
	rollbacks  int
	slowSQL    bool

	// The copy file system.
	fsTags       []map[string]string
	mountTargets map[string]string
	accessPoints map[string]string
	functions    map[string]map[string]interface{}
	filesRoot    string
	functionFail bool

	alerts []url.Values

	rdsServer, dataServer, efsServer, lambdaServer *awstest.Server
}

func newWorld(t *testing.T) (*world, Handler, *bytes.Buffer) {
	w := &world{t: t, now: time.Date(2026, 12, 2, 6, 30, 0, 0, time.UTC), clusterStatus: "available", instances: map[string]string{},
		unreadable: map[string]bool{}, answers: map[string]string{}, mountTargets: map[string]string{}, accessPoints: map[string]string{},
		functions: map[string]map[string]interface{}{}, fsTags: []map[string]string{{"Key": contract.RestoreTestTag, "Value": "x"}}}
	w.job = map[string]interface{}{
		"RestoreJobId": jobID, "Status": "COMPLETED", "CreatedBy": map[string]interface{}{"RestoreTestingPlanArn": planArn},
		"CreationDate": float64(w.now.Add(-20 * time.Minute).Unix()), "CompletionDate": float64(w.now.Unix()),
		"SourceResourceArn": liveDB, "CreatedResourceArn": copyDBArn, "ResourceType": "Aurora", "BackupSizeInBytes": 0,
	}
	backupServer := awstest.NewServer(t, w.backup)
	w.rdsServer = awstest.NewServer(t, w.rds)
	w.dataServer = awstest.NewServer(t, w.data)
	w.efsServer = awstest.NewServer(t, w.efs)
	w.lambdaServer = awstest.NewServer(t, w.lambda)
	snsServer := awstest.NewServer(t, func(r awstest.Request) awstest.Response {
		w.mu.Lock()
		defer w.mu.Unlock()
		w.alerts = append(w.alerts, r.Form)
		return awstest.QueryXML("http://sns.amazonaws.com/doc/2010-03-31/", "Publish", "<MessageId>m-1</MessageId>")
	})
	var metrics bytes.Buffer
	h := Handler{
		Backup: backup.NewFromConfig(awstest.Config(backupServer.URL)), RDS: rds.NewFromConfig(awstest.Config(w.rdsServer.URL)),
		Data: rdsdata.NewFromConfig(awstest.Config(w.dataServer.URL)), EFS: efs.NewFromConfig(awstest.Config(w.efsServer.URL)),
		Lambda: lambda.NewFromConfig(awstest.Config(w.lambdaServer.URL)), SNS: sns.NewFromConfig(awstest.Config(snsServer.URL)),
		Metrics: &metrics, Now: func() time.Time { w.mu.Lock(); defer w.mu.Unlock(); return w.now }, Log: t.Logf,
	}
	return w, h, &metrics
}

// filesJob makes the restore job one of the file system.
func (w *world) filesJob() {
	w.job["SourceResourceArn"], w.job["CreatedResourceArn"], w.job["ResourceType"] = liveFiles, copyFsArn, "EFS"
}

func config() contract.DrillConfig {
	return contract.DrillConfig{Stack: "AppStack", ValidationWindowHours: 24, AlertTopicArn: topicArn,
		FilesRoleArn: "arn:aws:iam::123456789012:role/files", CodeBucket: "cdk-assets", CodeKey: "handler.zip", LogGroup: "AppStack-Drills",
		Resources: []contract.DrillResource{
			{Path: "AppStack/Database", Kind: "Aurora", Arn: liveDB, RTOSeconds: 7200, Database: "app", TimeoutSeconds: 20},
			{Path: "AppStack/Files", Kind: "EFS", Arn: liveFiles, RTOSeconds: 14400, SubnetID: "subnet-1", SecurityGroup: "sg-1"},
		}}
}

// run steps the drill to its end, moving the clock on by each wait.
func (w *world) run(h Handler, cfg contract.DrillConfig) State {
	return w.runFrom(h, StepInput{Action: ActionStep, RestoreJobID: jobID, Config: cfg})
}

// runFrom goes on stepping from in, as the state machine does.
func (w *world) runFrom(h Handler, in StepInput) State {
	in.Action = ActionStep
	for i := 0; i < 500; i++ {
		s, err := h.Step(context.Background(), in)
		require.NoError(w.t, err, "step %d in phase %q", i, in.State.Phase)
		// The state machine passes the state on as JSON.
		raw, err := json.Marshal(s)
		require.NoError(w.t, err)
		in.State = State{}
		require.NoError(w.t, json.Unmarshal(raw, &in.State))
		if s.Status == "done" {
			return in.State
		}
		w.mu.Lock()
		w.now = w.now.Add(time.Duration(s.WaitSeconds) * time.Second)
		w.mu.Unlock()
	}
	w.t.Fatalf("the drill did not end")
	return State{}
}

func (w *world) backup(r awstest.Request) awstest.Response {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case r.Operation == "GET /restore-jobs/"+jobID:
		return awstest.JSON(w.job)
	case r.Operation == "PUT /restore-jobs/"+jobID+"/validations":
		var body map[string]interface{}
		require.NoError(w.t, r.JSON(&body))
		if len(w.validations) > 0 {
			return awstest.JSONError(400, "InvalidRequestException", "Validation status cannot be changed once set")
		}
		w.validations = append(w.validations, body)
		return awstest.Response{Status: 204}
	case strings.HasPrefix(r.Operation, "GET /resources/") && strings.Contains(r.Operation, "/restore-jobs"):
		return awstest.JSON(map[string]interface{}{"RestoreJobs": w.previous})
	}
	return awstest.JSONError(400, "InvalidRequestException", "unexpected "+r.Operation)
}

func (w *world) rds(r awstest.Request) awstest.Response {
	w.mu.Lock()
	defer w.mu.Unlock()
	f := r.Form
	ns := awstest.RDSNS
	switch r.Operation {
	case "DescribeDBClusters":
		if f.Get("DBClusterIdentifier") != copyDB {
			return awstest.QueryError(404, "DBClusterNotFoundFault", "DBCluster "+f.Get("DBClusterIdentifier")+" not found")
		}
		var extra strings.Builder
		if w.managedSecret {
			extra.WriteString("<MasterUserSecret><SecretArn>" + copySecret + "</SecretArn><SecretStatus>active</SecretStatus></MasterUserSecret>")
		}
		if w.scaling {
			extra.WriteString("<ServerlessV2ScalingConfiguration><MinCapacity>0.5</MinCapacity><MaxCapacity>4</MaxCapacity></ServerlessV2ScalingConfiguration>")
		}
		members := ""
		for id := range w.instances {
			members += "<DBClusterMember><DBInstanceIdentifier>" + id + "</DBInstanceIdentifier><IsClusterWriter>true</IsClusterWriter></DBClusterMember>"
		}
		return awstest.QueryXML(ns, r.Operation, fmt.Sprintf(`<DBClusters><DBCluster><DBClusterIdentifier>%s</DBClusterIdentifier><DBClusterArn>%s</DBClusterArn><Engine>aurora-postgresql</Engine><EngineVersion>16.4</EngineVersion><Status>%s</Status><HttpEndpointEnabled>%t</HttpEndpointEnabled><DBClusterMembers>%s</DBClusterMembers>%s</DBCluster></DBClusters>`,
			copyDB, copyDBArn, w.clusterStatus, w.httpEnabled, members, extra.String()))
	case "ModifyDBCluster":
		require.Equal(w.t, copyDB, f.Get("DBClusterIdentifier"), "only the copy is modified")
		w.modifications = append(w.modifications, f)
		if f.Get("ManageMasterUserPassword") == "true" {
			w.managedSecret = true
		}
		if f.Get("ServerlessV2ScalingConfiguration.MinCapacity") != "" {
			w.scaling = true
		}
		return awstest.QueryXML(ns, r.Operation, "<DBCluster><DBClusterIdentifier>"+copyDB+"</DBClusterIdentifier></DBCluster>")
	case "EnableHttpEndpoint":
		require.Equal(w.t, copyDBArn, f.Get("ResourceArn"))
		w.httpEnabled = true
		return awstest.QueryXML(ns, r.Operation, "<ResourceArn>"+copyDBArn+"</ResourceArn><HttpEndpointEnabled>true</HttpEndpointEnabled>")
	case "CreateDBInstance":
		require.Equal(w.t, copyDB, f.Get("DBClusterIdentifier"))
		require.Equal(w.t, "false", f.Get("PubliclyAccessible"), "the drill's writer is never public")
		if !w.scaling && f.Get("DBInstanceClass") == "db.serverless" {
			return awstest.QueryError(400, "InvalidParameterCombination", "Set the Serverless v2 scaling configuration on the parent DB cluster before creating a Serverless v2 DB instance.")
		}
		w.instances[f.Get("DBInstanceIdentifier")] = "creating"
		w.createdClasses = append(w.createdClasses, f.Get("DBInstanceClass"))
		return awstest.QueryXML(ns, r.Operation, "<DBInstance><DBInstanceIdentifier>"+f.Get("DBInstanceIdentifier")+"</DBInstanceIdentifier><DBInstanceStatus>creating</DBInstanceStatus></DBInstance>")
	case "DescribeDBInstances":
		id := f.Get("DBInstanceIdentifier")
		status, ok := w.instances[id]
		if !ok {
			return awstest.QueryError(404, "DBInstanceNotFound", "DBInstance "+id+" not found")
		}
		if status == "creating" && !w.instanceReady.IsZero() {
			if !w.now.Before(w.instanceReady) {
				status = "available"
				w.instances[id] = status
			}
		} else if status == "creating" && w.instancePolls >= 0 {
			if w.instancePolls == 0 {
				status = "available"
				w.instances[id] = status
			} else {
				w.instancePolls--
			}
		}
		return awstest.QueryXML(ns, r.Operation, "<DBInstances><DBInstance><DBInstanceIdentifier>"+id+"</DBInstanceIdentifier><DBInstanceStatus>"+status+"</DBInstanceStatus></DBInstance></DBInstances>")
	case "DeleteDBInstance":
		id := f.Get("DBInstanceIdentifier")
		if _, ok := w.instances[id]; !ok {
			return awstest.QueryError(404, "DBInstanceNotFound", "DBInstance "+id+" not found")
		}
		require.True(w.t, strings.HasPrefix(id, contract.RestoreTestPrefix), "only the drill's instance is deleted")
		delete(w.instances, id)
		return awstest.QueryXML(ns, r.Operation, "<DBInstance><DBInstanceIdentifier>"+id+"</DBInstanceIdentifier><DBInstanceStatus>deleting</DBInstanceStatus></DBInstance>")
	}
	return awstest.QueryError(400, "InvalidAction", r.Operation)
}

func (w *world) data(r awstest.Request) awstest.Response {
	w.mu.Lock()
	defer w.mu.Unlock()
	var in map[string]interface{}
	require.NoError(w.t, r.JSON(&in))
	require.Equal(w.t, copyDBArn, in["resourceArn"], "the Data API is called on the copy only")
	require.Equal(w.t, copySecret, in["secretArn"], "with the copy's own secret")
	switch r.Operation {
	case "POST /BeginTransaction":
		return awstest.JSON(map[string]string{"transactionId": "tx-1"})
	case "POST /RollbackTransaction":
		w.rollbacks++
		return awstest.JSON(map[string]string{"transactionStatus": "Rollback Complete"})
	case "POST /Execute":
	default:
		return awstest.JSONError(400, "BadRequestException", r.Operation)
	}
	sql := in["sql"].(string)
	w.statements = append(w.statements, sql)
	require.Equal(w.t, "tx-1", in["transactionId"], "every statement in the rolled-back transaction")
	records := [][]interface{}{}
	switch {
	case strings.HasPrefix(sql, "SET "):
	case strings.Contains(sql, "information_schema.tables"):
		for _, t := range w.tables {
			parts := strings.SplitN(t, ".", 2)
			records = append(records, []interface{}{map[string]string{"stringValue": parts[0]}, map[string]string{"stringValue": parts[1]}})
			break
		}
	case strings.HasPrefix(sql, "SELECT 1 FROM "):
		name := strings.ReplaceAll(strings.TrimSuffix(strings.TrimPrefix(sql, "SELECT 1 FROM "), " LIMIT 1"), `"`, "")
		if w.unreadable[name] {
			return awstest.JSONError(400, "DatabaseErrorException", "ERROR: could not read block 0 in file \"base/16384/16385\"")
		}
		records = append(records, []interface{}{map[string]int{"longValue": 1}})
	default:
		if w.slowSQL {
			return awstest.JSONError(400, "DatabaseErrorException", "ERROR: canceling statement due to statement timeout")
		}
		answer, ok := w.answers[sql]
		if !ok {
			return awstest.JSONError(400, "DatabaseErrorException", "ERROR: relation does not exist")
		}
		var field interface{}
		require.NoError(w.t, json.Unmarshal([]byte(answer), &field))
		records = append(records, []interface{}{field})
	}
	return awstest.JSON(map[string]interface{}{"records": records, "numberOfRecordsUpdated": 0})
}

func (w *world) efs(r awstest.Request) awstest.Response {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case r.Operation == "GET /2015-02-01/file-systems":
		if r.Query.Get("FileSystemId") != copyFiles {
			return awstest.JSONError(404, "FileSystemNotFound", "File system not found")
		}
		return awstest.JSON(map[string]interface{}{"FileSystems": []interface{}{map[string]interface{}{
			"FileSystemId": copyFiles, "LifeCycleState": "available", "OwnerId": awstest.Account, "CreationToken": "t", "CreationTime": float64(w.now.Unix()),
			"NumberOfMountTargets": len(w.mountTargets), "PerformanceMode": "generalPurpose", "SizeInBytes": map[string]interface{}{"Value": 6144}, "Tags": w.fsTags,
		}}})
	case r.Operation == "POST /2015-02-01/mount-targets":
		var in map[string]interface{}
		require.NoError(w.t, r.JSON(&in))
		require.Equal(w.t, copyFiles, in["FileSystemId"], "a mount target on the copy only")
		id := fmt.Sprintf("fsmt-%d", len(w.mountTargets)+1)
		w.mountTargets[id] = "creating"
		return awstest.JSON(map[string]interface{}{"MountTargetId": id, "FileSystemId": copyFiles, "SubnetId": in["SubnetId"], "LifeCycleState": "creating", "OwnerId": awstest.Account})
	case r.Operation == "GET /2015-02-01/mount-targets":
		id := r.Query.Get("MountTargetId")
		st, ok := w.mountTargets[id]
		if !ok {
			return awstest.JSONError(404, "MountTargetNotFound", id)
		}
		w.mountTargets[id] = "available"
		return awstest.JSON(map[string]interface{}{"MountTargets": []interface{}{map[string]interface{}{"MountTargetId": id, "FileSystemId": copyFiles, "SubnetId": "subnet-1", "LifeCycleState": st, "OwnerId": awstest.Account}}})
	case strings.HasPrefix(r.Operation, "DELETE /2015-02-01/mount-targets/"):
		id := strings.TrimPrefix(r.Operation, "DELETE /2015-02-01/mount-targets/")
		if _, ok := w.mountTargets[id]; !ok {
			return awstest.JSONError(404, "MountTargetNotFound", id)
		}
		delete(w.mountTargets, id)
		return awstest.Response{Status: 204}
	case r.Operation == "POST /2015-02-01/access-points":
		var in map[string]interface{}
		require.NoError(w.t, r.JSON(&in))
		require.Equal(w.t, copyFiles, in["FileSystemId"])
		id := fmt.Sprintf("fsap-%017d", len(w.accessPoints)+1)
		w.accessPoints[id] = "creating"
		return awstest.JSON(map[string]interface{}{"AccessPointId": id, "AccessPointArn": "arn:aws:elasticfilesystem:ap-northeast-1:123456789012:access-point/" + id, "FileSystemId": copyFiles, "LifeCycleState": "creating"})
	case r.Operation == "GET /2015-02-01/access-points":
		id := r.Query.Get("AccessPointId")
		st, ok := w.accessPoints[id]
		if !ok {
			return awstest.JSONError(404, "AccessPointNotFound", id)
		}
		w.accessPoints[id] = "available"
		return awstest.JSON(map[string]interface{}{"AccessPoints": []interface{}{map[string]interface{}{"AccessPointId": id, "FileSystemId": copyFiles, "LifeCycleState": st}}})
	case strings.HasPrefix(r.Operation, "DELETE /2015-02-01/access-points/"):
		id := strings.TrimPrefix(r.Operation, "DELETE /2015-02-01/access-points/")
		if _, ok := w.accessPoints[id]; !ok {
			return awstest.JSONError(404, "AccessPointNotFound", id)
		}
		delete(w.accessPoints, id)
		return awstest.Response{Status: 204}
	}
	return awstest.JSONError(400, "BadRequest", r.Operation)
}

func (w *world) lambda(r awstest.Request) awstest.Response {
	w.mu.Lock()
	switch {
	case r.Operation == "POST /2015-03-31/functions":
		defer w.mu.Unlock()
		var in map[string]interface{}
		require.NoError(w.t, r.JSON(&in))
		name := in["FunctionName"].(string)
		w.functions[name] = in
		return awstest.Response{Status: 201, Headers: map[string]string{"Content-Type": "application/json"}, Body: fmt.Sprintf(`{"FunctionName":%q,"State":"Pending"}`, name)}
	case strings.HasSuffix(r.Operation, "/configuration"):
		defer w.mu.Unlock()
		name := strings.TrimSuffix(strings.TrimPrefix(r.Operation, "GET /2015-03-31/functions/"), "/configuration")
		if _, ok := w.functions[name]; !ok {
			return awstest.JSONError(404, "ResourceNotFoundException", "Function not found: "+name)
		}
		state := "Active"
		if w.functionFail {
			state = "Failed"
		}
		return awstest.JSON(map[string]interface{}{"FunctionName": name, "State": state, "StateReasonCode": "EniLimitExceeded"})
	case strings.HasSuffix(r.Operation, "/invocations"):
		name := strings.TrimSuffix(strings.TrimPrefix(r.Operation, "POST /2015-03-31/functions/"), "/invocations")
		_, ok := w.functions[name]
		root := w.filesRoot
		w.mu.Unlock()
		if !ok {
			return awstest.JSONError(404, "ResourceNotFoundException", "Function not found: "+name)
		}
		var in FilesInput
		require.NoError(w.t, json.Unmarshal(r.Body, &in))
		out, err := Walk(root, func() time.Time { w.mu.Lock(); defer w.mu.Unlock(); return w.now })(context.Background(), in)
		require.NoError(w.t, err)
		return awstest.JSON(out)
	case strings.HasPrefix(r.Operation, "DELETE /2015-03-31/functions/"):
		defer w.mu.Unlock()
		name := strings.TrimPrefix(r.Operation, "DELETE /2015-03-31/functions/")
		if _, ok := w.functions[name]; !ok {
			return awstest.JSONError(404, "ResourceNotFoundException", "Function not found: "+name)
		}
		delete(w.functions, name)
		return awstest.Response{Status: 204}
	}
	w.mu.Unlock()
	return awstest.JSONError(400, "InvalidRequestContentException", r.Operation)
}

// metricLines reads the drill's metric lines.
func metricLines(t *testing.T, b *bytes.Buffer) []emf.Record {
	var out []emf.Record
	sc := bufio.NewScanner(bytes.NewReader(b.Bytes()))
	for sc.Scan() {
		rec, err := emf.Parse(sc.Bytes())
		require.NoError(t, err, sc.Text())
		out = append(out, rec)
	}
	return out
}
