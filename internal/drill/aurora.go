package drill

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"
	"github.com/aws/aws-sdk-go-v2/service/rdsdata"
	datatypes "github.com/aws/aws-sdk-go-v2/service/rdsdata/types"

	"github.com/restorable-cdk/restorable/internal/contract"
)

// The drill checks a restored Aurora cluster through the RDS Data API, so no
// function needs to be in the VPC (docs/design.md). AWS Backup restores the
// cluster without a DB instance and without the Data API, so the drill adds
// both to the copy:
//   - the copy's master password is set to one that RDS manages
//     (ManageMasterUserPassword), because the stack's secret rotates and a
//     copy from an older backup has the password of its day; the drill reads
//     the copy's own secret, never the stack's;
//   - a writer DB instance (the Data API runs on writers only and not on T
//     classes: https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/data-api.limitations.html),
//     by default Serverless v2, for which the copy gets a capacity range;
//   - the Data API's HTTP endpoint (EnableHttpEndpoint, for Serverless v2
//     and provisioned clusters:
//     https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_EnableHttpEndpoint.html).
//
// After the check the drill deletes its DB instance, so that AWS Backup can
// delete the copy at the end of the validation window.

// defaultInstanceClass is the class of the drill's DB instance.
const defaultInstanceClass = "db.serverless"

// drillCapacity is the Serverless v2 capacity range the copy gets when it has
// none, in Aurora capacity units.
var drillCapacity = &rdstypes.ServerlessV2ScalingConfiguration{MinCapacity: aws.Float64(0.5), MaxCapacity: aws.Float64(4)}

func (s State) instanceClass() string {
	if c := s.Resource.InstanceClass; c != "" {
		return c
	}
	return defaultInstanceClass
}

// auroraPrepare makes one change to the copy per step, until it has an
// RDS-managed password, a writer and the Data API.
func (h Handler) auroraPrepare(ctx context.Context, s State) (State, error) {
	cl, err := h.copyCluster(ctx, s)
	if err != nil {
		return s, err
	}
	if cl == nil {
		s.verdict(Failed, "the restored cluster "+s.CopyID+" is gone")
		return s.next(phaseCleanup), nil
	}
	s.Engine = aws.ToString(cl.Engine)
	if aws.ToString(cl.Status) != "available" {
		return s.wait(30), nil
	}
	serverless := s.instanceClass() == defaultInstanceClass
	if cl.MasterUserSecret == nil || (serverless && cl.ServerlessV2ScalingConfiguration == nil) {
		in := &rds.ModifyDBClusterInput{DBClusterIdentifier: aws.String(s.CopyID), ApplyImmediately: aws.Bool(true)}
		if cl.MasterUserSecret == nil {
			in.ManageMasterUserPassword = aws.Bool(true)
		}
		if serverless && cl.ServerlessV2ScalingConfiguration == nil {
			in.ServerlessV2ScalingConfiguration = drillCapacity
		}
		if _, err := h.RDS.ModifyDBCluster(ctx, in); err != nil {
			return h.auroraRefused(s, "set the copy's password and capacity", err)
		}
		return s.wait(30), nil
	}
	s.Secret = aws.ToString(cl.MasterUserSecret.SecretArn)
	if !aws.ToBool(cl.HttpEndpointEnabled) {
		if _, err := h.RDS.EnableHttpEndpoint(ctx, &rds.EnableHttpEndpointInput{ResourceArn: aws.String(s.CopyArn)}); err != nil {
			return h.auroraRefused(s, "enable the Data API on the copy", err)
		}
		return s.wait(15), nil
	}
	if s.Instance == "" {
		s.Instance = instanceID(s.CopyID)
		_, err := h.RDS.CreateDBInstance(ctx, &rds.CreateDBInstanceInput{
			DBInstanceIdentifier: aws.String(s.Instance), DBClusterIdentifier: aws.String(s.CopyID),
			Engine: cl.Engine, DBInstanceClass: aws.String(s.instanceClass()),
			// Never reachable from the internet, whatever VPC AWS Backup
			// restored the copy into ("If the VPC has an internet gateway
			// attached to it, the DB instance is public" by default:
			// https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBInstance.html).
			PubliclyAccessible: aws.Bool(false),
			Tags:               []rdstypes.Tag{{Key: aws.String(contract.RestoreTestTag), Value: aws.String("drill")}, {Key: aws.String(contract.TagDrill), Value: aws.String(s.CopyID)}},
		})
		if err != nil && !notFound(err, "DBInstanceAlreadyExists", "DBInstanceAlreadyExistsFault") {
			s.Instance = ""
			return h.auroraRefused(s, "add a DB instance to the copy", err)
		}
	}
	return s.next(phaseAuroraWait), nil
}

// instanceID names the drill's instance after the copy: at most 63
// characters, not ending in a hyphen (DB instance identifier rules:
// https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBInstance.html).
func instanceID(copyID string) string {
	id := copyID + contract.DrillInstanceSuffix
	if len(id) > 63 {
		id = strings.TrimRight(id[:63], "-")
	}
	return id
}

// auroraRefused turns a refused change to the copy into the drill's verdict:
// the copy cannot be checked.
func (h Handler) auroraRefused(s State, what string, err error) (State, error) {
	var coded interface{ ErrorCode() string }
	if errors.As(err, &coded) && strings.HasPrefix(coded.ErrorCode(), "Throttling") {
		return s.wait(30), nil
	}
	s.verdict(Failed, fmt.Sprintf("could not %s: %v", what, err))
	return s.next(phaseCleanup), nil
}

func (h Handler) copyCluster(ctx context.Context, s State) (*rdstypes.DBCluster, error) {
	out, err := h.RDS.DescribeDBClusters(ctx, &rds.DescribeDBClustersInput{DBClusterIdentifier: aws.String(s.CopyID)})
	if notFound(err, "DBClusterNotFoundFault") {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("drill: describe the copy %s: %w", s.CopyID, err)
	}
	if len(out.DBClusters) != 1 {
		return nil, nil
	}
	return &out.DBClusters[0], nil
}

// auroraWait waits for the drill's instance and the copy to be available.
func (h Handler) auroraWait(ctx context.Context, s State) (State, error) {
	out, err := h.RDS.DescribeDBInstances(ctx, &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String(s.Instance)})
	if notFound(err, "DBInstanceNotFound", "DBInstanceNotFoundFault") {
		s.verdict(Failed, "the drill's DB instance "+s.Instance+" is gone")
		return s.next(phaseCleanup), nil
	}
	if err != nil {
		return s, fmt.Errorf("drill: describe the drill's instance: %w", err)
	}
	if len(out.DBInstances) != 1 {
		return s.wait(60), nil
	}
	switch status := aws.ToString(out.DBInstances[0].DBInstanceStatus); status {
	case "available":
		return s.next(phaseAuroraCheck), nil
	case "failed", "incompatible-parameters", "incompatible-restore", "storage-full", "inaccessible-encryption-credentials":
		s.verdict(Failed, "the drill's DB instance on the copy is "+status)
		return s.next(phaseCleanup), nil
	}
	return s.wait(60), nil
}

// auroraCheck connects with the copy's master user and runs the check: the
// user's SQL, or at least one user table that can be read.
func (h Handler) auroraCheck(ctx context.Context, s State) (State, error) {
	timeout := time.Duration(s.Resource.TimeoutSeconds * float64(time.Second))
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	verdict, message := h.runCheck(ctx, s, timeout)
	s.verdict(verdict, message)
	return s.next(phaseCleanup), nil
}

func (h Handler) runCheck(ctx context.Context, s State, timeout time.Duration) (string, string) {
	postgres := strings.Contains(s.Engine, "postgres")
	// The Data API cancels a call after 45 seconds
	// (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/data-api-timeouts.html);
	// the database's own timeout stops the statement first.
	callCtx, cancel := context.WithTimeout(ctx, timeout+time.Minute)
	defer cancel()
	base := func(sql, tx string) *rdsdata.ExecuteStatementInput {
		in := &rdsdata.ExecuteStatementInput{ResourceArn: aws.String(s.CopyArn), SecretArn: aws.String(s.Secret), Sql: aws.String(sql)}
		if s.Resource.Database != "" {
			in.Database = aws.String(s.Resource.Database)
		}
		if tx != "" {
			in.TransactionId = aws.String(tx)
		}
		return in
	}
	begin := &rdsdata.BeginTransactionInput{ResourceArn: aws.String(s.CopyArn), SecretArn: aws.String(s.Secret)}
	if s.Resource.Database != "" {
		begin.Database = aws.String(s.Resource.Database)
	}
	tx, err := h.Data.BeginTransaction(callCtx, begin)
	if err != nil {
		return connectVerdict(err)
	}
	txID := aws.ToString(tx.TransactionId)
	// Whatever the check does, nothing of it stays, even on the copy.
	defer func() {
		if _, err := h.Data.RollbackTransaction(ctx, &rdsdata.RollbackTransactionInput{ResourceArn: aws.String(s.CopyArn), SecretArn: aws.String(s.Secret), TransactionId: aws.String(txID)}); err != nil {
			h.logf("drill: rollback: %v", err)
		}
	}()
	ms := timeout.Milliseconds()
	setup := []string{fmt.Sprintf("SET SESSION max_execution_time = %d", ms)}
	if postgres {
		setup = []string{"SET TRANSACTION READ ONLY", fmt.Sprintf("SET LOCAL statement_timeout = %d", ms)}
	}
	for _, sql := range setup {
		if _, err := h.Data.ExecuteStatement(callCtx, base(sql, txID)); err != nil {
			return Failed, fmt.Sprintf("the copy refused %q: %v", sql, err)
		}
	}
	if sql := s.Resource.SQL; sql != "" {
		out, err := h.Data.ExecuteStatement(callCtx, base(sql, txID))
		if err != nil {
			return statementVerdict("the check "+quoteSQL(sql), err)
		}
		if len(out.Records) == 0 || len(out.Records[0]) == 0 {
			return Failed, "the check " + quoteSQL(sql) + " returned no rows"
		}
		if !truthy(out.Records[0][0]) {
			return Failed, fmt.Sprintf("the check %s returned %s", quoteSQL(sql), fieldString(out.Records[0][0]))
		}
		return Successful, "the check " + quoteSQL(sql) + " passed on the copy, connected as the stack's master user"
	}
	// The default check: a user table exists, and a row of it can be read.
	list := "SELECT table_schema, table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('mysql', 'information_schema', 'performance_schema', 'sys') ORDER BY table_schema, table_name LIMIT 1"
	if postgres {
		list = "SELECT table_schema, table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY table_schema, table_name LIMIT 1"
	}
	out, err := h.Data.ExecuteStatement(callCtx, base(list, txID))
	if err != nil {
		return statementVerdict("listing the user tables", err)
	}
	db := s.Resource.Database
	if db == "" {
		db = "the default database"
	}
	if len(out.Records) == 0 || len(out.Records[0]) < 2 {
		return Failed, "the copy has no user table in " + db + ": an empty database"
	}
	schema, table := fieldString(out.Records[0][0]), fieldString(out.Records[0][1])
	read := fmt.Sprintf("SELECT 1 FROM %s.%s LIMIT 1", quoteIdent(schema, postgres), quoteIdent(table, postgres))
	if _, err := h.Data.ExecuteStatement(callCtx, base(read, txID)); err != nil {
		return statementVerdict("reading "+schema+"."+table, err)
	}
	return Successful, fmt.Sprintf("the copy has user tables in %s and %s.%s is readable, connected as the stack's master user", db, schema, table)
}

// connectVerdict: a copy that cannot be connected to failed its drill.
func connectVerdict(err error) (string, string) {
	return Failed, fmt.Sprintf("could not connect to the copy through the Data API: %v", err)
}

// statementVerdict: a statement that ran out of time is TIMED_OUT, any other
// error FAILED.
func statementVerdict(what string, err error) (string, string) {
	msg := err.Error()
	var timeout *datatypes.StatementTimeoutException
	if errors.As(err, &timeout) || errors.Is(err, context.DeadlineExceeded) ||
		strings.Contains(msg, "statement timeout") || strings.Contains(msg, "maximum statement execution time exceeded") {
		return TimedOut, what + " ran out of time: " + msg
	}
	return Failed, what + " failed: " + msg
}

// truthy: true, a non-zero number, or a non-empty string other than "0",
// "f" and "false".
func truthy(f datatypes.Field) bool {
	switch v := f.(type) {
	case *datatypes.FieldMemberBooleanValue:
		return v.Value
	case *datatypes.FieldMemberLongValue:
		return v.Value != 0
	case *datatypes.FieldMemberDoubleValue:
		return v.Value != 0
	case *datatypes.FieldMemberStringValue:
		s := strings.ToLower(strings.TrimSpace(v.Value))
		return s != "" && s != "0" && s != "f" && s != "false"
	}
	return false
}

func fieldString(f datatypes.Field) string {
	switch v := f.(type) {
	case *datatypes.FieldMemberBooleanValue:
		return fmt.Sprint(v.Value)
	case *datatypes.FieldMemberLongValue:
		return fmt.Sprint(v.Value)
	case *datatypes.FieldMemberDoubleValue:
		return fmt.Sprint(v.Value)
	case *datatypes.FieldMemberStringValue:
		return v.Value
	case *datatypes.FieldMemberIsNull:
		return "NULL"
	}
	return fmt.Sprintf("%T", f)
}

// quoteIdent quotes an identifier for PostgreSQL ("...") or MySQL (`...`).
func quoteIdent(name string, postgres bool) string {
	if postgres {
		return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
	}
	return "`" + strings.ReplaceAll(name, "`", "``") + "`"
}

func quoteSQL(sql string) string { return fmt.Sprintf("%q", truncate(sql, 120)) }

// auroraCleanup deletes the drill's DB instance.
func (h Handler) auroraCleanup(ctx context.Context, s State) (State, error) {
	if s.Instance != "" {
		_, err := h.RDS.DeleteDBInstance(ctx, &rds.DeleteDBInstanceInput{DBInstanceIdentifier: aws.String(s.Instance),
			SkipFinalSnapshot: aws.Bool(true), DeleteAutomatedBackups: aws.Bool(true)})
		if err != nil && !notFound(err, "DBInstanceNotFound", "DBInstanceNotFoundFault") {
			var coded interface{ ErrorCode() string }
			if errors.As(err, &coded) && coded.ErrorCode() == "InvalidDBInstanceState" {
				return s.wait(60), nil
			}
			return s, fmt.Errorf("drill: delete the drill's instance %s: %w", s.Instance, err)
		}
		s.Instance = ""
	}
	return s.next(phaseReport), nil
}
