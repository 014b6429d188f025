package test

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestNewClusterDefaults(t *testing.T) {
	// GIVEN a restorable cluster with no restore source
	stack, db := newCluster(t, nil)
	// WHEN the stack is synthesized
	tmpl := templateJSON(t, stack)
	// THEN there is one encrypted, protected cluster with a managed secret
	_, cluster := onlyResource(t, tmpl, "AWS::RDS::DBCluster")
	p := props(cluster)
	assert.Equal(t, "Snapshot", cluster["DeletionPolicy"])
	assert.Equal(t, "Snapshot", cluster["UpdateReplacePolicy"])
	assert.Equal(t, true, p["StorageEncrypted"])
	assert.NotNil(t, p["KmsKeyId"])
	assert.Equal(t, true, p["ManageMasterUserPassword"])
	assert.Equal(t, true, p["DeletionProtection"])
	assert.Equal(t, true, p["EnableIAMDatabaseAuthentication"])
	assert.Equal(t, false, p["DeleteAutomatedBackups"])
	assert.Equal(t, float64(7), p["BackupRetentionPeriod"])
	assert.Nil(t, p["SnapshotIdentifier"])
	assert.NotNil(t, db.Secret())
}
