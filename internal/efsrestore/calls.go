package efsrestore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/backup"
	"github.com/aws/aws-sdk-go-v2/service/backup/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"

	"github.com/restorable-cdk/restorable/internal/mover"
)

var (
	// errMoverTimedOut marks a mover call that ran out of time or crashed.
	errMoverTimedOut = errors.New("the mover function timed out")
	// errMoverNotReady marks a mover that did not become active in time.
	errMoverNotReady = errors.New("the mover function is not active yet")
)

// callMover invokes the mover synchronously and decodes its answer. The mover
// is a function in the VPC that nothing calls between restores, so Lambda may
// have made it inactive: then the invoke fails with ResourceNotReadyException
// (502) and the function goes to Pending until its network interface is back
// (https://docs.aws.amazon.com/lambda/latest/dg/functions-states.html). The
// SDK retries that 502 itself; if the function is still not ready, the call
// waits for it with the SDK's FunctionActiveV2 waiter and invokes once more.
func (h Handler) callMover(ctx context.Context, p Props, req mover.Request, out interface{}) error {
	payload, err := json.Marshal(req)
	if err != nil {
		return err
	}
	invoke := func() (*lambda.InvokeOutput, error) {
		return h.Lambda.Invoke(ctx, &lambda.InvokeInput{
			FunctionName:   aws.String(p.MoverFunction),
			InvocationType: lambdatypes.InvocationTypeRequestResponse,
			Payload:        payload,
		})
	}
	resp, err := invoke()
	var notReady *lambdatypes.ResourceNotReadyException
	if errors.As(err, &notReady) {
		h.Log("%s: the mover %s is not active (%v); waiting for it", p.Resource, p.MoverFunction, err)
		limit := h.MoverActiveWait
		if limit == 0 {
			limit = 10 * time.Minute
		}
		waiter := lambda.NewFunctionActiveV2Waiter(h.Lambda, func(o *lambda.FunctionActiveV2WaiterOptions) {
			o.MinDelay, o.MaxDelay = time.Second, 10*time.Second
			if limit < time.Minute {
				o.MinDelay, o.MaxDelay = time.Millisecond, 5*time.Millisecond
			}
		})
		if werr := waiter.Wait(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(p.MoverFunction)}, limit); werr != nil {
			return fmt.Errorf("%w: %v", errMoverNotReady, werr)
		}
		resp, err = invoke()
	}
	if err != nil {
		return err
	}
	if resp.FunctionError != nil {
		var fe struct {
			ErrorMessage string `json:"errorMessage"`
			ErrorType    string `json:"errorType"`
		}
		_ = json.Unmarshal(resp.Payload, &fe)
		if fe.ErrorMessage == "" {
			fe.ErrorMessage = string(resp.Payload)
		}
		err := fmt.Errorf("%s: %s", aws.ToString(resp.FunctionError), fe.ErrorMessage)
		// A function that hit its time limit reports Sandbox.Timedout, one
		// that crashed Runtime.ExitError and the like
		// (https://docs.aws.amazon.com/lambda/latest/dg/API_Invoke.html): the
		// mover keeps its record on the file system, so the next step resumes
		// once the crashed step's lease has ended. An error the mover returns
		// itself says what is wrong, and waiting does not fix it.
		if strings.HasPrefix(fe.ErrorType, "Sandbox.") || strings.HasPrefix(fe.ErrorType, "Runtime.") ||
			strings.Contains(fe.ErrorMessage, "Task timed out") || strings.HasPrefix(fe.ErrorMessage, "Runtime.") {
			return fmt.Errorf("%w: %v", errMoverTimedOut, err)
		}
		return permanent(err)
	}
	return json.Unmarshal(resp.Payload, out)
}

// signal tells the wait condition the restore's result: a PUT of
// {"Status", "Reason", "UniqueId", "Data"} to its handle's presigned URL, with
// no Content-Type
// (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-waitcondition.html).
func (h Handler) signal(ctx context.Context, p Props, success bool, reason string) error {
	status := "SUCCESS"
	if !success {
		status = "FAILURE"
	}
	if len(reason) > 3000 {
		reason = reason[:3000] + "..."
	}
	body, _ := json.Marshal(map[string]string{"Status": status, "Reason": reason, "UniqueId": "restore", "Data": reason})
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, p.WaitHandle, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Del("Content-Type")
	client := h.HTTP
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("signal the wait condition: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return fmt.Errorf("signal the wait condition: HTTP %d: %s", resp.StatusCode, raw)
	}
	return nil
}

// recoveryPoint is where a recovery point is and what it backs up.
type recoveryPoint struct {
	vault     string
	sourceArn string
	metadata  map[string]string
}

// locate finds the vault that holds a recovery point in this account and
// region, the file system it is a backup of, and its restore metadata.
// DescribeRecoveryPoint needs the vault's name, which the ARN does not carry.
// A vault that answers with anything but the recovery point (not found,
// access denied by its access policy) is skipped, and named if none holds it.
func (h Handler) locate(ctx context.Context, recoveryPointArn string) (recoveryPoint, error) {
	type vaultRef struct{ name, account string }
	var vaults []vaultRef
	seen := map[string]bool{}
	// The account's standard vaults, its logically air-gapped ones, and the
	// air-gapped vaults other accounts share with it through AWS RAM
	// (https://docs.aws.amazon.com/aws-backup/latest/devguide/API_ListBackupVaults.html:
	// ByVaultType, ByShared).
	for _, in := range []*backup.ListBackupVaultsInput{{}, {ByVaultType: types.VaultTypeLogicallyAirGappedBackupVault}, {ByShared: true}} {
		p := backup.NewListBackupVaultsPaginator(h.Backup, in)
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return recoveryPoint{}, fmt.Errorf("could not list the backup vaults to find %s: %w", recoveryPointArn, err)
			}
			for _, v := range page.BackupVaultList {
				key := aws.ToString(v.BackupVaultArn) + "|" + aws.ToString(v.BackupVaultName)
				if seen[key] {
					continue
				}
				seen[key] = true
				ref := vaultRef{name: aws.ToString(v.BackupVaultName)}
				if a, err := arn.Parse(aws.ToString(v.BackupVaultArn)); err == nil && in.ByShared {
					ref.account = a.AccountID
				}
				vaults = append(vaults, ref)
			}
		}
	}
	var skipped []string
	for _, ref := range vaults {
		vault := ref.name
		var owner *string
		if ref.account != "" {
			owner = aws.String(ref.account)
		}
		rp, err := h.Backup.DescribeRecoveryPoint(ctx, &backup.DescribeRecoveryPointInput{BackupVaultName: aws.String(vault), RecoveryPointArn: aws.String(recoveryPointArn), BackupVaultAccountId: owner})
		if err != nil {
			var nf *types.ResourceNotFoundException
			var ae smithy.APIError
			switch {
			case errors.As(err, &nf):
			case errors.As(err, &ae) && (ae.ErrorCode() == "AccessDeniedException" || ae.ErrorCode() == "InvalidParameterValueException"):
				skipped = append(skipped, vault+" ("+ae.ErrorCode()+")")
			case isTransient(err):
				return recoveryPoint{}, err
			default:
				skipped = append(skipped, vault+" ("+err.Error()+")")
			}
			continue
		}
		if t := aws.ToString(rp.ResourceType); t != "EFS" {
			return recoveryPoint{}, permanent(fmt.Errorf("recovery point %s (vault %s) is a backup of a %s resource, %s, not of an EFS file system. Fix: give a recovery point of an EFS file system; aws backup list-recovery-points-by-resource lists them",
				recoveryPointArn, vault, t, aws.ToString(rp.ResourceArn)))
		}
		if rp.Status != types.RecoveryPointStatusCompleted {
			return recoveryPoint{}, permanent(fmt.Errorf("recovery point %s (vault %s) is %s, and only a COMPLETED recovery point can be restored. Fix: wait for it, or pick another one",
				recoveryPointArn, vault, rp.Status))
		}
		meta, err := h.Backup.GetRecoveryPointRestoreMetadata(ctx, &backup.GetRecoveryPointRestoreMetadataInput{BackupVaultName: aws.String(vault), RecoveryPointArn: aws.String(recoveryPointArn), BackupVaultAccountId: owner})
		if err != nil {
			return recoveryPoint{}, fmt.Errorf("could not read the restore metadata of %s in vault %s: %w", recoveryPointArn, vault, err)
		}
		return recoveryPoint{vault: vault, sourceArn: aws.ToString(rp.ResourceArn), metadata: meta.RestoreMetadata}, nil
	}
	names := make([]string, len(vaults))
	for i, v := range vaults {
		names[i] = v.name
	}
	msg := fmt.Sprintf("recovery point %s is in none of the %d backup vaults of this account and region, or shared with it (%s)", recoveryPointArn, len(vaults), strings.Join(names, ", "))
	if len(skipped) > 0 {
		msg += "; these did not answer: " + strings.Join(skipped, ", ")
	}
	return recoveryPoint{}, permanent(fmt.Errorf("%s. Fix: check the ARN; a copy in another account's vault must first be copied into a vault of this one (in that account: aws backup start-copy-job), and a logically air-gapped vault of another account must be shared with this one through AWS RAM", msg))
}
