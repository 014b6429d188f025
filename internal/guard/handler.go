package guard

import (
	"context"
	"errors"
	"fmt"
)

// Stacks answers the two questions the guard asks CloudFormation.
type Stacks interface {
	// StackStatus returns the status of the stack, such as UPDATE_IN_PROGRESS.
	StackStatus(ctx context.Context, stackID string) (string, error)
	// PhysicalID returns the physical ID of a resource of the stack.
	PhysicalID(ctx context.Context, stackID, logicalID string) (string, error)
}

// Event is the part of a CloudFormation custom resource event the guard reads.
type Event struct {
	RequestType           string
	StackID               string
	PhysicalResourceID    string
	ResourceProperties    map[string]interface{}
	OldResourceProperties map[string]interface{}
}

// Response is what the guard returns to the custom resource provider framework.
type Response struct {
	PhysicalResourceID string                 `json:"PhysicalResourceId"`
	Data               map[string]interface{} `json:"Data,omitempty"`
}

// Logger records the guard's decisions in its log group.
type Logger func(format string, args ...interface{})

// Handle answers one custom resource event. An error fails the event, and with
// it the stack update, before CloudFormation touches the guarded resource.
func Handle(ctx context.Context, stacks Stacks, e Event, log Logger) (Response, error) {
	switch e.RequestType {
	case "Delete":
		// Removing the guard never touches data.
		log("delete %s: allowed", e.PhysicalResourceID)
		return Response{PhysicalResourceID: e.PhysicalResourceID}, nil
	case "Create":
		p, err := ParseProps(e.ResourceProperties)
		if err != nil {
			return Response{}, err
		}
		log("create guard for %s (%s): source %s, fingerprint %s", p.Resource, p.LogicalID, Describe(p.Source), Fingerprint(p.Source, p.CreateOnly))
		return respond(physicalID(p), p), nil
	case "Update":
		return handleUpdate(ctx, stacks, e, log)
	default:
		return Response{}, fmt.Errorf("guard: unknown request type %q", e.RequestType)
	}
}

func handleUpdate(ctx context.Context, stacks Stacks, e Event, log Logger) (Response, error) {
	p, err := ParseProps(e.ResourceProperties)
	if err != nil {
		return Response{}, err
	}
	id := e.PhysicalResourceID
	if id == "" {
		id = physicalID(p)
	}
	old, err := ParseProps(e.OldResourceProperties)
	var d Decision
	if err != nil {
		// The previous state cannot be read, so the update cannot be judged
		// safe: ask for consent, as for a dangerous change.
		d = Decision{Verdict: NeedsConsent, Danger: "the guard cannot read its previous properties (" + err.Error() + "), so it cannot tell whether the update replaces the resource"}
	} else {
		d = Decide(old, p)
	}
	if d.Verdict == Allow {
		log("update %s: allowed: %s", p.Resource, d.Reason)
		return respond(id, p), nil
	}
	status, err := stacks.StackStatus(ctx, e.StackID)
	if err != nil {
		return Response{}, fmt.Errorf("restorable: %s: could not read the stack's status to tell a rollback from an update, so the update is refused: %w", p.Resource, err)
	}
	if IsRollback(status) {
		log("update %s during %s: allowed: CloudFormation is restoring the previous state (%s)", p.Resource, status, d.Danger)
		return respond(id, p), nil
	}
	current, err := stacks.PhysicalID(ctx, e.StackID, p.LogicalID)
	if err != nil {
		return Response{}, fmt.Errorf("restorable: %s: could not read the current %s to check consent, so the update is refused: %w", p.Resource, p.ResourceType, err)
	}
	if p.AllowReplace != "" && p.AllowReplace == current {
		log("update %s: allowed by consent %s=%s: %s", p.Resource, p.ConsentKey, p.AllowReplace, d.Danger)
		return respond(id, p), nil
	}
	msg := Refusal(d, p, current)
	log("update %s: REFUSED: %s", p.Resource, msg)
	return Response{}, errors.New(msg)
}

// physicalID is the guard's own physical ID: stable, so the guard is never
// replaced.
func physicalID(p Props) string {
	return "restorable-guard-" + p.LogicalID
}

func respond(id string, p Props) Response {
	return Response{PhysicalResourceID: id, Data: map[string]interface{}{"Fingerprint": Fingerprint(p.Source, p.CreateOnly)}}
}
