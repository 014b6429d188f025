package restorable

import (
	"fmt"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsrds"
	"github.com/aws/jsii-runtime-go"
)

// describeSource is the one-line description used in annotations and reports.
func (c *AuroraCluster) describeSource() string { return c.source.String() }

// annotate records at synth what this configuration does, and warns about what is
// legal but dangerous.
func (c *AuroraCluster) annotate(path string, p awsrds.DatabaseClusterProps) {
	a := awscdk.Annotations_Of(c)
	if c.source.kind != KindNew {
		a.AddWarningV2(jsii.String("restorable:restore"), jsii.String(fmt.Sprintf(
			"%s: restoring from %s. On the deploy that sets or changes this source, CloudFormation creates a new cluster and instances from it, points every reference at them, then deletes the old instances and %s. Later deploys with the same source change nothing.",
			path, c.describeSource(), c.oldClusterFate())))
		a.AddWarningV2(jsii.String("restorable:keepSource"), jsii.String(fmt.Sprintf(
			"%s: keep this restore source in cdk.json (commit it) for every later deploy, until the next restore. The AWS::RDS::DBCluster docs: if you don't specify it, \"an empty DB cluster is created, and the original DB cluster is deleted\" (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-rds-dbcluster.html#cfn-rds-dbcluster-snapshotidentifier).",
			path)))
	}
	if src := c.source.sourceCluster; src != nil && awscdk.Stack_Of(src) != awscdk.Stack_Of(c) {
		if mode, _ := c.Node().TryGetContext(jsii.String(crossStackReferencesFlag)).(string); mode != "weak" {
			a.AddWarningV2(jsii.String("restorable:strongReference"), jsii.String(fmt.Sprintf(
				"%s: the source cluster %s is in another stack, so its stack exports its cluster identifier, and CloudFormation refuses to change an export that another stack imports: a restore of %s would fail while this stack exists. Set the context flag %s to \"weak\", or pass SourceClusterIdentifier instead.",
				path, displayPath(src), displayPath(src), crossStackReferencesFlag)))
		}
	}
	for _, w := range c.source.warnings(c.source.setting, clock(), c.retentionDays) {
		a.AddWarningV2(jsii.String("restorable:restoreTime"), jsii.String(path+": "+w))
	}
	if p.StorageEncrypted != nil && !*p.StorageEncrypted && p.StorageEncryptionKey == nil {
		a.AddWarningV2(jsii.String("restorable:unencrypted"), jsii.String(path+": storage encryption is off (StorageEncrypted: false); turning it on later replaces the cluster."))
	}
	if !*p.DeletionProtection {
		a.AddWarningV2(jsii.String("restorable:deletionProtection"), jsii.String(path+": deletion protection is off, so a restore or removal deletes the old cluster (after its final snapshot) instead of leaving it for you to check."))
	}
	if *p.DeleteAutomatedBackups {
		a.AddWarningV2(jsii.String("restorable:deleteAutomatedBackups"), jsii.String(path+": DeleteAutomatedBackups is true, so once the cluster is deleted its point-in-time backups are gone too, and restoreSourceClusterResourceId cannot restore it."))
	}
	if days := p.Backup.Retention.ToDays(nil); days != nil && *days < defaultBackupRetentionDays {
		a.AddWarningV2(jsii.String("restorable:shortRetention"), jsii.String(fmt.Sprintf("%s: backup retention is %g days, so a point-in-time restore can reach back only that far (the default here is %d, Aurora allows 35).", path, *days, defaultBackupRetentionDays)))
	}
	if p.BacktrackWindow != nil && c.backtrackHours > 0 {
		a.AddInfo(jsii.String(fmt.Sprintf("%s: backtracking (%g hours) can only be turned on when a cluster is created or restored; RDS changes the window only of a cluster created with it (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/AuroraMySQL.Managing.Backtrack.Configuring.html). Rewinding is an RDS operation outside CloudFormation: aws rds backtrack-db-cluster --db-cluster-identifier <current identifier> --backtrack-to <time>.", path, c.backtrackHours)))
	}
	if p.BacktrackWindow != nil && c.backtrackHours == 0 && (p.BacktrackWindow.IsUnresolved() == nil || !*p.BacktrackWindow.IsUnresolved()) {
		a.AddWarningV2(jsii.String("restorable:backtrackOff"), jsii.String(path+": BacktrackWindow is 0, which turns backtracking off for good: RDS cannot turn it on again for this cluster."))
	}
	if c.adopt {
		c.annotateAdoption(path, p)
	}
	if p.ParameterGroup != nil {
		a.AddWarningV2(jsii.String("restorable:parameterGroup"), jsii.String(path+": a ParameterGroup was passed, so restorable does not set its TLS and statement-logging parameters; set "+parameterHint(*p.Engine.EngineType(), engineMajor(p.Engine))+" in that group."))
	}
}

// oldClusterFate says what becomes of the cluster a restore replaces.
func (c *AuroraCluster) oldClusterFate() string {
	if c.deletionProtection {
		return "tries to delete the old cluster: deletion protection keeps it (CloudFormation gives up after three attempts and the update completes), for you to check and retire"
	}
	return "deletes the old cluster, because deletion protection is off; its final snapshot is kept (UpdateReplacePolicy: Snapshot)"
}

// annotateAdoption names each default of restorable that adoption does not
// apply, and how to get it later.
func (c *AuroraCluster) annotateAdoption(path string, p awsrds.DatabaseClusterProps) {
	var missing []string
	if p.StorageEncryptionKey == nil {
		missing = append(missing, "a customer-managed KMS key: KmsKeyId is create-only, so moving to one is a restore into a new, encrypted cluster; set StorageEncryptionKey to your key and deploy with -c "+ContextKey(path, ContextSnapshotArn)+"=<a fresh snapshot of this cluster>, which the guard allows because it restores")
	}
	if p.ManageMasterUserPassword == nil || !*p.ManageMasterUserPassword {
		missing = append(missing, "an RDS-managed master password: the generated secret and its user name are kept, and every restore applies the secret's password to the restored cluster")
	}
	if engine := *p.Engine.EngineType(); engine == "aurora-mysql" {
		if p.Port == nil {
			missing = append(missing, "the port 3307: set Port to change it in place (clients must follow)")
		}
		if p.BacktrackWindow == nil {
			missing = append(missing, "backtracking: RDS turns it on only when a cluster is created or restored; set BacktrackWindow together with a restore")
		}
	}
	msg := path + ": Adopt keeps the create-only properties and the credentials that awsrds.NewDatabaseCluster gave this cluster, and adds deletion protection, backup retention, log exports, the parameter group, the guard and the backup selection in place (a new cluster parameter group's static parameters apply at the instances' next reboot)."
	if len(missing) > 0 {
		msg += " Restorable's defaults that adoption does not apply: " + strings.Join(missing, "; ") + "."
	}
	awscdk.Annotations_Of(c).AddWarningV2(jsii.String("restorable:adopt"), jsii.String(msg))
}
