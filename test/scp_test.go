package test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The SCPs in docs/scp bind every principal of a member account, deployers
// and administrators included (an SCP's Deny is evaluated for every request
// of the account's principals:
// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html).

const (
	pipelineRole   = "arn:aws:iam::123456789012:role/Pipeline"
	breakGlassRole = "arn:aws:iam::123456789012:role/BreakGlass"
	deployRole     = "arn:aws:iam::123456789012:role/cdk-hnb659fds-deploy-role-123456789012-ap-northeast-1"
)

// scps loads every SCP of docs/scp, with the placeholders filled in as the
// README says.
func scps(t *testing.T) map[string]iamPolicy {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(repoRoot, "docs", "scp", "*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	out := map[string]iamPolicy{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		require.NoError(t, err)
		text := strings.NewReplacer("PIPELINE_ROLE_NAME", "Pipeline", "BREAK_GLASS_ROLE_NAME", "BreakGlass").Replace(string(raw))
		var doc struct {
			Statement []map[string]interface{}
		}
		require.NoError(t, json.Unmarshal([]byte(text), &doc), f)
		out[filepath.Base(f)] = iamPolicy(doc.Statement)
	}
	return out
}

func TestTheSCPsBindDeployersAndAdministrators(t *testing.T) {
	all := scps(t)
	denied := func(action, resource, principal string) bool {
		for _, p := range all {
			if p.denies(action, resource, map[string]string{"aws:PrincipalArn": principal}) {
				return true
			}
		}
		return false
	}
	vault := "arn:aws:backup:ap-northeast-1:123456789012:backup-vault:AppStackVault"
	point := "arn:aws:backup:ap-northeast-1:123456789012:recovery-point:1EB3B5E7-9EB0-435A-A80B-108B488B0D45"
	key := "arn:aws:kms:ap-northeast-1:123456789012:key/1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d"
	plan := "arn:aws:backup:ap-northeast-1:123456789012:backup-plan:8a2b"
	for _, tt := range []struct {
		action, resource string
		// denied for: an administrator, the deployer (the CloudFormation
		// execution role), the pipeline, the break-glass role
		admin, deployer, pipeline, breakGlass bool
	}{
		{"backup:DeleteRecoveryPoint", point, true, true, true, false},
		{"backup:UpdateRecoveryPointLifecycle", point, true, true, true, false},
		{"backup:DeleteBackupVault", vault, true, true, true, false},
		{"backup:DeleteBackupVaultAccessPolicy", vault, true, true, true, false},
		{"backup:PutBackupVaultAccessPolicy", vault, true, false, true, false},
		{"backup:PutBackupVaultLockConfiguration", vault, true, false, true, false},
		{"backup:DeleteBackupSelection", plan, true, false, true, false},
		{"backup:DeleteBackupVaultLockConfiguration", vault, true, true, true, false},
		{"backup:DeleteBackupPlan", plan, true, true, true, false},
		{"backup:UpdateGlobalSettings", "*", true, true, true, false},
		{"kms:ScheduleKeyDeletion", key, true, true, true, false},
		{"kms:DisableKey", key, true, true, true, false},
		{"kms:DisableKeyRotation", key, true, true, true, false},
		{"kms:RevokeGrant", key, true, true, true, false},
		// Deploys still set key policies and plans, and delete clusters
		// (the guard decides which deploy may).
		{"kms:PutKeyPolicy", key, true, false, true, false},
		{"rds:DeleteDBCluster", "arn:aws:rds:ap-northeast-1:123456789012:cluster:appstack-database", true, false, true, false},
		{"backup:UpdateBackupPlan", plan, true, false, true, false},
		// Only the pipeline passes the execution role or assumes the deploy role.
		{"iam:PassRole", cfnExecRole, true, true, false, false},
		{"sts:AssumeRole", deployRole, true, true, false, false},
		// Nobody but break-glass rewrites who may assume the deploy roles.
		{"iam:UpdateAssumeRolePolicy", cfnExecRole, true, true, true, false},
		{"iam:PutRolePolicy", deployRole, true, true, true, false},
		{"iam:UpdateAssumeRolePolicy", breakGlassRole, true, true, true, false},
	} {
		for who, want := range map[string]bool{admin: tt.admin, cfnExecRole: tt.deployer, pipelineRole: tt.pipeline, breakGlassRole: tt.breakGlass} {
			assert.Equal(t, want, denied(tt.action, tt.resource, who), "%s on %s by %s", tt.action, tt.resource, who)
		}
	}
	// A key policy that locks everyone out, the caller included, is break-glass
	// only: with it a deployer could make every recovery point the key
	// encrypts unreadable for good, root and break-glass included
	// (https://docs.aws.amazon.com/kms/latest/APIReference/API_PutKeyPolicy.html).
	bypass := func(principal string) bool {
		for _, p := range all {
			if p.denies("kms:PutKeyPolicy", key, map[string]string{"aws:PrincipalArn": principal, "kms:BypassPolicyLockoutSafetyCheck": "true"}) {
				return true
			}
		}
		return false
	}
	assert.True(t, bypass(cfnExecRole), "a deploy that bypasses the lockout check")
	assert.True(t, bypass(admin))
	assert.False(t, bypass(breakGlassRole))
	assert.False(t, denied("kms:PutKeyPolicy", key, cfnExecRole), "an ordinary key policy change by a deploy")
	// The deploy role may pass the execution role to CloudFormation, as cdk
	// deploy does.
	assert.False(t, denied("iam:PassRole", cfnExecRole, deployRole))
}

func TestTheSCPsDenyEveryActionTheResourcePoliciesDeny(t *testing.T) {
	// Every action a vault or key policy of the example denies to all but
	// break-glass, the SCPs deny too: to the deployer as well.
	_, tmpl, _ := example(t, nil)
	all := scps(t)
	var actions []string
	for _, typ := range []string{"AWS::Backup::BackupVault", "AWS::Backup::LogicallyAirGappedBackupVault", "AWS::KMS::Key"} {
		_, res := resourcesOfType(t, tmpl, typ)
		for _, r := range res {
			doc := props(r)["AccessPolicy"]
			if typ == "AWS::KMS::Key" {
				doc = props(r)["KeyPolicy"]
			}
			m, _ := doc.(map[string]interface{})
			stmts, _ := m["Statement"].([]interface{})
			for _, st := range stmts {
				m := st.(map[string]interface{})
				_ = m
				if m["Effect"] != "Deny" || !strings.Contains(fmtJSON(m["Condition"]), "aws:PrincipalArn") {
					continue
				}
				switch a := m["Action"].(type) {
				case string:
					actions = append(actions, a)
				case []interface{}:
					for _, x := range a {
						actions = append(actions, x.(string))
					}
				}
			}
		}
	}
	require.NotEmpty(t, actions)
	sort.Strings(actions)
	for _, a := range actions {
		deniedToDeployer := false
		for _, p := range all {
			deniedToDeployer = deniedToDeployer || p.denies(a, "*", map[string]string{"aws:PrincipalArn": cfnExecRole})
		}
		if a == "kms:PutKeyPolicy" || a == "backup:PutBackupVaultAccessPolicy" || a == "backup:PutBackupVaultLockConfiguration" {
			// Deploys set these; the SCP leaves them to deploys and break-glass.
			continue
		}
		assert.True(t, deniedToDeployer, "%s is denied by a resource policy but not by an SCP", a)
	}
}

// threatRow is one row of docs/security.md's threat table.
var stoppedBy = regexp.MustCompile("`([^`]+)`")

func TestEveryThreatIsStoppedByATemplateResourceOrAnEvaluatedSCP(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(repoRoot, "docs", "security.md"))
	require.NoError(t, err)
	text := string(raw)
	start := strings.Index(text, "## Who can still do what")
	require.GreaterOrEqual(t, start, 0, "docs/security.md has the threat table")
	table := text[start:]
	if end := strings.Index(table[3:], "\n## "); end >= 0 {
		table = table[:end+3]
	}
	_, tmpl, _ := example(t, nil)
	dr := drTemplates(t, nil)
	account := drWithBackupAccount(t)
	paths := map[string]bool{}
	for _, tm := range []map[string]interface{}{tmpl, dr.primary, dr.vault, account.backup} {
		for _, r := range tm["Resources"].(map[string]interface{}) {
			p := cdkPath(r.(map[string]interface{}))
			if i := strings.Index(p, "/"); i >= 0 {
				p = p[i+1:]
			}
			for _, suffix := range []string{"/Resource", "/Default"} {
				p = strings.TrimSuffix(p, suffix)
			}
			paths[p] = true
		}
	}
	scpFiles := scps(t)
	rows := 0
	for _, line := range strings.Split(table, "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 6 || strings.HasPrefix(strings.TrimSpace(cells[1]), "Threat") || strings.HasPrefix(strings.TrimSpace(cells[1]), "---") {
			continue
		}
		rows++
		cell := cells[len(cells)-2]
		names := stoppedBy.FindAllStringSubmatch(cell, -1)
		require.NotEmpty(t, names, "the stopped-by cell of %q names something", cells[1])
		for _, n := range names {
			name := n[1]
			if strings.HasPrefix(name, "docs/scp/") {
				assert.Contains(t, scpFiles, strings.TrimPrefix(name, "docs/scp/"), "%s is an SCP a test evaluates", name)
				continue
			}
			assert.True(t, paths[name], "%s (stopping %q) is a resource of the example's templates", name, strings.TrimSpace(cells[1]))
		}
	}
	assert.GreaterOrEqual(t, rows, 6)
}
