package guard

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Properties as CloudFormation passes them: scalars as strings.
var (
	noSource    = map[string]interface{}{}
	snapshotA   = map[string]interface{}{"SnapshotIdentifier": "arn:aws:rds:ap-northeast-1:123456789012:cluster-snapshot:a"}
	snapshotB   = map[string]interface{}{"SnapshotIdentifier": "arn:aws:rds:ap-northeast-1:123456789012:cluster-snapshot:b"}
	pointInTime = map[string]interface{}{"RestoreType": "full-copy", "SourceDBClusterIdentifier": "db-1", "RestoreToTime": "2026-11-20T10:15:22Z"}
	clone       = map[string]interface{}{"RestoreType": "copy-on-write", "SourceDBClusterIdentifier": "prod", "UseLatestRestorableTime": "true"}
	createOnly  = map[string]interface{}{"KmsKeyId": "arn:aws:kms:ap-northeast-1:123456789012:key/1", "DBSubnetGroupName": "sg-1", "Engine": "aurora-postgresql"}
)

func props(source, co map[string]interface{}) Props {
	return Props{Resource: "AppStack/Database", ResourceType: "AWS::RDS::DBCluster", LogicalID: "DatabaseB269D8BB",
		Source: source, CreateOnly: co, ConsentKey: "AppStack/Database.allowReplace"}
}

func with(m map[string]interface{}, k string, v interface{}) map[string]interface{} {
	out := map[string]interface{}{}
	for key, val := range m {
		out[key] = val
	}
	if v == nil {
		delete(out, k)
	} else {
		out[k] = v
	}
	return out
}

func TestDecideEveryTransitionInBothDirections(t *testing.T) {
	otherKey := with(createOnly, "KmsKeyId", "arn:aws:kms:ap-northeast-1:123456789012:key/2")
	noDBName := createOnly
	withDBName := with(createOnly, "DatabaseName", "app")
	tests := []struct {
		name        string
		old, new    Props
		want        Verdict
		wantMessage string
	}{
		{"plain redeploy", props(noSource, createOnly), props(noSource, createOnly), Allow, "neither the restore source nor a create-only property changed"},
		{"same snapshot again", props(snapshotA, createOnly), props(snapshotA, createOnly), Allow, "neither"},
		{"new to snapshot", props(noSource, createOnly), props(snapshotA, createOnly), Allow, "a restore was asked for: source none -> SnapshotIdentifier="},
		{"snapshot to none", props(snapshotA, createOnly), props(noSource, createOnly), NeedsConsent, "the restore source was removed (it was SnapshotIdentifier=arn:aws:rds:ap-northeast-1:123456789012:cluster-snapshot:a). CloudFormation would create a new, EMPTY AWS::RDS::DBCluster"},
		{"snapshot to another snapshot", props(snapshotA, createOnly), props(snapshotB, createOnly), Allow, "cluster-snapshot:a -> SnapshotIdentifier=arn:aws:rds:ap-northeast-1:123456789012:cluster-snapshot:b"},
		{"another snapshot back to the first", props(snapshotB, createOnly), props(snapshotA, createOnly), Allow, "a restore was asked for"},
		{"new to point in time", props(noSource, createOnly), props(pointInTime, createOnly), Allow, "RestoreToTime=2026-11-20T10:15:22Z"},
		{"point in time to none", props(pointInTime, createOnly), props(noSource, createOnly), NeedsConsent, "the restore source was removed"},
		{"point in time to snapshot", props(pointInTime, createOnly), props(snapshotA, createOnly), Allow, "a restore was asked for"},
		{"snapshot to point in time", props(snapshotA, createOnly), props(pointInTime, createOnly), Allow, "a restore was asked for"},
		{"new to clone", props(noSource, createOnly), props(clone, createOnly), Allow, "RestoreType=copy-on-write"},
		{"clone to none", props(clone, createOnly), props(noSource, createOnly), NeedsConsent, "the restore source was removed"},
		{"key changed", props(noSource, createOnly), props(noSource, otherKey), NeedsConsent, "create-only properties changed (KmsKeyId: arn:aws:kms:ap-northeast-1:123456789012:key/1 -> arn:aws:kms:ap-northeast-1:123456789012:key/2)"},
		{"key changed back", props(noSource, otherKey), props(noSource, createOnly), NeedsConsent, "KmsKeyId: arn:aws:kms:ap-northeast-1:123456789012:key/2 -> arn:aws:kms:ap-northeast-1:123456789012:key/1"},
		{"create-only added", props(noSource, noDBName), props(noSource, withDBName), NeedsConsent, "DatabaseName: (not set) -> app"},
		{"create-only removed", props(noSource, withDBName), props(noSource, noDBName), NeedsConsent, "DatabaseName: app -> (not set)"},
		{"key changed while restored", props(snapshotA, createOnly), props(snapshotA, otherKey), NeedsConsent, "create-only properties changed"},
		{"key changed with a new restore", props(noSource, createOnly), props(snapshotA, otherKey), Allow, "the restored resource also takes the changed create-only properties (KmsKeyId:"},
		{"source dropped and key changed", props(snapshotA, createOnly), props(noSource, otherKey), NeedsConsent, "the restore source was removed"},
		{"only the consent changed", props(noSource, createOnly), func() Props { p := props(noSource, createOnly); p.AllowReplace = "db-1"; return p }(), Allow, "neither"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Decide(tt.old, tt.new)
			assert.Equal(t, tt.want, d.Verdict)
			if tt.want == Allow {
				assert.Contains(t, d.Reason, tt.wantMessage)
			} else {
				assert.Contains(t, d.Danger, tt.wantMessage)
			}
		})
	}
}

type fakeStacks struct {
	status     string
	statusErr  error
	physical   string
	physErr    error
	calls      []string
	logicalIDs []string
}

func (f *fakeStacks) StackStatus(_ context.Context, stackID string) (string, error) {
	f.calls = append(f.calls, "StackStatus "+stackID)
	return f.status, f.statusErr
}

func (f *fakeStacks) PhysicalID(_ context.Context, stackID, logicalID string) (string, error) {
	f.calls = append(f.calls, "PhysicalID "+stackID+" "+logicalID)
	return f.physical, f.physErr
}

// raw renders Props as the event's property map.
func raw(p Props) map[string]interface{} {
	m := map[string]interface{}{
		PropResource: p.Resource, PropResourceType: p.ResourceType, PropLogicalID: p.LogicalID,
		PropSource: p.Source, PropCreateOnly: p.CreateOnly, PropConsentKey: p.ConsentKey,
	}
	if p.AllowReplace != "" {
		m[PropAllowReplace] = p.AllowReplace
	}
	return m
}

const stackID = "arn:aws:cloudformation:ap-northeast-1:123456789012:stack/AppStack/1"

func update(old, new Props) Event {
	return Event{RequestType: "Update", StackID: stackID, PhysicalResourceID: "restorable-guard-DatabaseB269D8BB",
		ResourceProperties: raw(new), OldResourceProperties: raw(old)}
}

func discard(string, ...interface{}) {}

func TestHandleAllowsARestoreWithoutAskingCloudFormation(t *testing.T) {
	stacks := &fakeStacks{}
	resp, err := Handle(context.Background(), stacks, update(props(noSource, createOnly), props(snapshotA, createOnly)), discard)
	require.NoError(t, err)
	assert.Equal(t, "restorable-guard-DatabaseB269D8BB", resp.PhysicalResourceID)
	assert.Equal(t, Fingerprint(snapshotA, createOnly), resp.Data["Fingerprint"])
	assert.Empty(t, stacks.calls)
}

func TestHandleRefusesADroppedSourceWithTheConsentCommand(t *testing.T) {
	stacks := &fakeStacks{status: "UPDATE_IN_PROGRESS", physical: "appstack-databaseb269d8bb-0abc"}
	_, err := Handle(context.Background(), stacks, update(props(snapshotA, createOnly), props(noSource, createOnly)), discard)
	require.Error(t, err)
	assert.Equal(t, "restorable refused to replace AppStack/Database (AWS::RDS::DBCluster appstack-databaseb269d8bb-0abc): "+
		"the restore source was removed (it was SnapshotIdentifier=arn:aws:rds:ap-northeast-1:123456789012:cluster-snapshot:a). "+
		"CloudFormation would create a new, EMPTY AWS::RDS::DBCluster and delete the current one, whose data came from that source. "+
		"If this deploy should not replace it, restore the previous settings (for a restore source, keep it in cdk.json). "+
		"To replace it and lose its data (a final snapshot is kept where the removal policy is Snapshot), deploy again with: "+
		"cdk deploy -c 'AppStack/Database.allowReplace=appstack-databaseb269d8bb-0abc'. "+
		"The consent names this resource, so it does not apply to any later one.", err.Error())
	assert.Equal(t, []string{"StackStatus " + stackID, "PhysicalID " + stackID + " DatabaseB269D8BB"}, stacks.calls)
}

func TestHandleAllowsConsentForTheCurrentResourceOnly(t *testing.T) {
	dangerous := func(consent string) Event {
		p := props(noSource, with(createOnly, "KmsKeyId", "arn:aws:kms:ap-northeast-1:123456789012:key/2"))
		p.AllowReplace = consent
		return update(props(noSource, createOnly), p)
	}
	stacks := &fakeStacks{status: "UPDATE_IN_PROGRESS", physical: "appstack-db-current"}
	_, err := Handle(context.Background(), stacks, dangerous("appstack-db-current"), discard)
	require.NoError(t, err, "consent naming the current cluster")

	_, err = Handle(context.Background(), stacks, dangerous("appstack-db-replaced-last-month"), discard)
	require.Error(t, err, "a stale consent left in cdk.json")
	assert.Contains(t, err.Error(), "The consent given (AppStack/Database.allowReplace=appstack-db-replaced-last-month) names another resource, not the current appstack-db-current")
	assert.Contains(t, err.Error(), "KmsKeyId: arn:aws:kms:ap-northeast-1:123456789012:key/1 -> arn:aws:kms:ap-northeast-1:123456789012:key/2")
}

func TestHandleNeverRefusesARollback(t *testing.T) {
	// CloudFormation rolls the guard back too: a forward "none -> snapshot"
	// restore that fails later comes back as "snapshot -> none".
	for _, status := range []string{"UPDATE_ROLLBACK_IN_PROGRESS", "ROLLBACK_IN_PROGRESS", "IMPORT_ROLLBACK_IN_PROGRESS"} {
		t.Run(status, func(t *testing.T) {
			stacks := &fakeStacks{status: status, physical: "db-new"}
			_, err := Handle(context.Background(), stacks, update(props(snapshotA, createOnly), props(noSource, createOnly)), discard)
			require.NoError(t, err)
			assert.Equal(t, []string{"StackStatus " + stackID}, stacks.calls)
		})
	}
}

func TestHandleFailsClosedWhenCloudFormationCannotBeRead(t *testing.T) {
	event := update(props(snapshotA, createOnly), props(noSource, createOnly))
	_, err := Handle(context.Background(), &fakeStacks{statusErr: errors.New("Throttling: Rate exceeded")}, event, discard)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "could not read the stack's status to tell a rollback from an update, so the update is refused: Throttling: Rate exceeded")

	_, err = Handle(context.Background(), &fakeStacks{status: "UPDATE_IN_PROGRESS", physErr: errors.New("AccessDenied")}, event, discard)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "could not read the current AWS::RDS::DBCluster to check consent, so the update is refused: AccessDenied")
}

func TestHandleCreateAndDelete(t *testing.T) {
	stacks := &fakeStacks{}
	resp, err := Handle(context.Background(), stacks, Event{RequestType: "Create", StackID: stackID, ResourceProperties: raw(props(snapshotA, createOnly))}, discard)
	require.NoError(t, err)
	assert.Equal(t, "restorable-guard-DatabaseB269D8BB", resp.PhysicalResourceID)

	// Deleting the guard (stack deletion, or the rollback of its creation)
	// always succeeds, even with properties it cannot read.
	resp, err = Handle(context.Background(), stacks, Event{RequestType: "Delete", PhysicalResourceID: "restorable-guard-X", ResourceProperties: map[string]interface{}{"CreateOnly": "garbage"}}, discard)
	require.NoError(t, err)
	assert.Equal(t, "restorable-guard-X", resp.PhysicalResourceID)
	assert.Empty(t, stacks.calls)

	_, err = Handle(context.Background(), stacks, Event{RequestType: "Create", ResourceProperties: map[string]interface{}{}}, discard)
	assert.EqualError(t, err, "guard: property LogicalId is missing")
}

func TestHandleUnreadableOldPropertiesNeedConsent(t *testing.T) {
	event := update(props(noSource, createOnly), props(noSource, createOnly))
	event.OldResourceProperties = map[string]interface{}{PropLogicalID: "DatabaseB269D8BB", PropCreateOnly: "not an object"}
	_, err := Handle(context.Background(), &fakeStacks{status: "UPDATE_IN_PROGRESS", physical: "db-1"}, event, discard)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "cannot read its previous properties")
}

func TestFingerprintIsStableAndSensitive(t *testing.T) {
	a := Fingerprint(snapshotA, createOnly)
	assert.Len(t, a, 12)
	assert.Equal(t, a, Fingerprint(map[string]interface{}{"SnapshotIdentifier": snapshotA["SnapshotIdentifier"]}, createOnly))
	assert.NotEqual(t, a, Fingerprint(snapshotB, createOnly))
	assert.NotEqual(t, a, Fingerprint(snapshotA, with(createOnly, "Engine", "aurora-mysql")))
}
