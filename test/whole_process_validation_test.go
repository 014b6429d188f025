package test

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// This file sorts last: every test before it has queued its apps' templates
// for the checker (checker_test.go) by the time this one runs.

func TestEveryValidatedAppPassesCloudFormationValidation(t *testing.T) {
	// GIVEN every app the tests synthesized with validation: the example in
	// each mode, the DR example, and the apps whose tests expect it
	// (expectValid)
	if queuedCount() == 0 {
		t.Skip("no test that ran synthesized an app with validation")
	}
	// WHEN the checker has validated each one's templates, with each stack's
	// account and region
	failures := validationFailures()
	// THEN CloudFormation validation finds nothing in any of them
	assert.Empty(t, failures)
	t.Logf("%d synths validated", queuedCount())
}
