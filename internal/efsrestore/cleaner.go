package efsrestore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// The copy's resources are created and tagged by the orchestrator, and
// deleted by the cleaner, a function with a role of its own: the
// orchestrator's role may tag (the restore's tag, aws:RequestTag) but delete
// nothing; the cleaner's may delete only what carries the tag
// (aws:ResourceTag) and tag nothing. No one principal can tag a file system
// it did not create and then delete it. The cleaner's code also finds the
// temporary file system by its creation token, restorable-<request>, which
// EFS sets at creation and never changes, so a file system made by anyone
// else is never in its reach, whatever its tags.

// CleanupRequest asks the cleaner to delete what a copy created.
type CleanupRequest struct {
	Request Props `json:"request"`
}

// CleanupResult says whether everything is gone.
type CleanupResult struct {
	Done    bool   `json:"done"`
	Message string `json:"message,omitempty"`
}

// Clean answers the cleaner's invocations.
func (h Handler) Clean(ctx context.Context, in CleanupRequest) (CleanupResult, error) {
	p := in.Request
	if err := p.check(); err != nil {
		return CleanupResult{}, err
	}
	if p.RequestID == "" {
		return CleanupResult{}, errors.New("efsrestore: the cleanup names no request")
	}
	done, msg, err := h.cleanupStep(ctx, p)
	return CleanupResult{Done: done, Message: msg}, err
}

// callCleaner invokes the cleaner synchronously.
func (h Handler) callCleaner(ctx context.Context, p Props) (bool, string, error) {
	if p.CleanerFunction == "" {
		return false, "", permanent(fmt.Errorf("restorable: %s: the restore has no cleaner function (%s), so the copy's temporary resources cannot be deleted; deploy with a restorable that creates it", p.Resource, "CleanerFunction"))
	}
	payload, _ := json.Marshal(CleanupRequest{Request: p})
	out, err := h.Lambda.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(p.CleanerFunction), InvocationType: lambdatypes.InvocationTypeRequestResponse, Payload: payload})
	if err != nil {
		return false, "", fmt.Errorf("could not invoke the cleaner %s: %w", p.CleanerFunction, err)
	}
	if out.FunctionError != nil {
		var fe struct {
			ErrorMessage string `json:"errorMessage"`
		}
		_ = json.Unmarshal(out.Payload, &fe)
		return false, "", permanent(fmt.Errorf("the cleaner failed: %s: %s", aws.ToString(out.FunctionError), fe.ErrorMessage))
	}
	var res CleanupResult
	if err := json.Unmarshal(out.Payload, &res); err != nil {
		return false, "", err
	}
	return res.Done, res.Message, nil
}
