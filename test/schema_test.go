package test

import (
	"compress/gzip"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restorable-cdk/restorable/internal/contract"
)

// The create-only properties of each resource type come from the CloudFormation
// registry schemas, as the AWS CDK packages them in @aws-cdk/aws-service-spec
// (pinned in package.json): a property whose "causesReplacement" is "yes"
// (createOnlyProperties) or "maybe" (conditionalCreateOnlyProperties)
// replaces the resource when it changes.

var schemaCache map[string]map[string]bool

// createOnly returns the create-only properties of a resource type.
func createOnly(t *testing.T, typ string) map[string]bool {
	t.Helper()
	if schemaCache == nil {
		f, err := os.Open(filepath.Join(repoRoot, "node_modules", "@aws-cdk", "aws-service-spec", "db.json.gz"))
		require.NoError(t, err, "the pinned @aws-cdk/aws-service-spec is installed by `make test` (npm ci)")
		defer f.Close()
		gz, err := gzip.NewReader(f)
		require.NoError(t, err)
		var db struct {
			Schema struct {
				Resource struct {
					Entities []struct {
						Type       string `json:"cloudFormationType"`
						Properties map[string]struct {
							CausesReplacement string `json:"causesReplacement"`
						} `json:"properties"`
					} `json:"entities"`
				} `json:"resource"`
			} `json:"schema"`
		}
		require.NoError(t, json.NewDecoder(gz).Decode(&db))
		schemaCache = map[string]map[string]bool{}
		for _, e := range db.Schema.Resource.Entities {
			props := map[string]bool{}
			for name, p := range e.Properties {
				if p.CausesReplacement == "yes" || p.CausesReplacement == "maybe" {
					props[name] = true
				}
			}
			schemaCache[e.Type] = props
		}
	}
	props, ok := schemaCache[typ]
	require.True(t, ok, "no schema for %s", typ)
	return props
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestTheGuardWatchesEveryCreateOnlyPropertyOfTheSchemas(t *testing.T) {
	// GIVEN a cluster and a file system that set every create-only property
	// the guard can read (as L1 escape hatches would)
	stack, db := newCluster(t, nil)
	cfn := db.CfnCluster()
	cfn.SetAvailabilityZones(&[]*string{ptr("ap-northeast-1a")})
	cfn.SetClusterScalabilityType(ptr("standard"))
	cfn.SetDbSystemId(ptr("sys"))
	cfn.SetDatabaseName(ptr("app"))
	cfn.SetEngineMode(ptr("provisioned"))
	cfn.SetGlobalClusterIdentifier(ptr("global"))
	cfn.SetPubliclyAccessible(false)
	cfn.SetSourceRegion(ptr("us-east-1"))
	tmpl := templateJSON(t, stack)
	entries := guardProps(t, tmpl).Resources
	clusterID := clusterIDOf(t, tmpl)
	// THEN the guard's create-only and source properties of the cluster are the
	// schema's create-only properties, but the identifier restorable never sets
	watched := map[string]bool{}
	for k := range entries[clusterID].CreateOnly {
		watched[k] = true
	}
	for _, k := range []string{"SnapshotIdentifier", "RestoreType", "SourceDBClusterIdentifier", "SourceDbClusterResourceId", "RestoreToTime", "UseLatestRestorableTime"} {
		watched[k] = true
	}
	schema := createOnly(t, contract.TypeDBCluster)
	delete(schema, "DBClusterIdentifier")
	assert.Equal(t, keys(schema), keys(watched))
	// AND for the file system and the vault, the same holds for the
	// properties they set
	assert.Subset(t, keys(createOnly(t, contract.TypeFileSystem)), []string{"Encrypted", "KmsKeyId", "PerformanceMode", "AvailabilityZoneName"})
	assert.Len(t, createOnly(t, contract.TypeFileSystem), 4)
	assert.Equal(t, []string{"BackupVaultName", "EncryptionKeyArn"}, keys(createOnly(t, contract.TypeBackupVault)))
	// AND the global database's create-only properties are the four its
	// reader records (guard_readers.go, globalClusterCreateOnly)
	assert.Equal(t, []string{"Engine", "GlobalClusterIdentifier", "SourceDBClusterIdentifier", "StorageEncrypted"}, keys(createOnly(t, contract.TypeGlobalCluster)))
}
