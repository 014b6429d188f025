package restorable

import (
	"fmt"
	"reflect"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsrds"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/jsii-runtime-go"

	"github.com/restorable-cdk/restorable/internal/contract"
)

// newRestoredCluster creates the awsrds.DatabaseClusterFromSnapshot that carries
// every restore kind: its props are the caller's cluster props, field by field.
func (c *AuroraCluster) newRestoredCluster(path string, p awsrds.DatabaseClusterProps, creds credentialsMode) awsrds.IDatabaseCluster {
	sp, err := snapshotProps(p)
	if err != nil {
		panic(atConstruct(path, err))
	}
	// A snapshot restore names the snapshot; the other kinds replace it with their
	// restore properties in applySource.
	sp.SnapshotIdentifier = jsii.String(c.source.snapshot)
	if c.source.kind != KindSnapshot {
		sp.SnapshotIdentifier = jsii.String("replaced-by-restore-properties")
	}
	sp.Credentials = nil
	switch {
	case creds.managed:
		sp.ManageMasterUserPassword = jsii.Bool(true)
	case creds.secret != nil:
		sp.ManageMasterUserPassword = nil
		sp.SnapshotCredentials = awsrds.SnapshotCredentials_FromSecret(creds.secret)
	default:
		sp.ManageMasterUserPassword = nil
		sp.SnapshotCredentials = awsrds.SnapshotCredentials_FromPassword(creds.password)
	}
	cluster := awsrds.NewDatabaseClusterFromSnapshot(c, jsii.String("Default"), &sp)
	if !creds.managed {
		// CloudFormation Validate (like cfn-lint) expects MasterUsername next to
		// MasterUserPassword, but a restore must not set MasterUsername (it is
		// the snapshot's), and the password is what keeps the caller's secret
		// valid: CloudFormation applies it with ModifyDBCluster right after the
		// restore (Translator.modifyDbClusterAfterCreateRequest).
		awscdk.Validations_Of(cluster.Node().DefaultChild()).Acknowledge(&awscdk.Acknowledgment{
			Id:     jsii.String(cfnValidateMasterUsernameRule),
			Reason: jsii.String("a restored cluster inherits MasterUsername from its source; MasterUserPassword re-applies the caller's password after the restore"),
		})
		// aws-cdk-lib matches an acknowledgment by rule ID alone, over the
		// whole app (collectAcknowledgedRuleIds walks the tree from the root;
		// core/lib/private/synthesis-validation.js), so the rule stops
		// reporting every other cluster too; nothing narrower exists.
		awscdk.Annotations_Of(c).AddWarningV2(jsii.String("restorable:appWideAcknowledgment"), jsii.String(fmt.Sprintf(
			"%s: restoring with your own master password, restorable acknowledges the CloudFormation validation rule %s (MasterUserPassword without MasterUsername), which a restored cluster must have; aws-cdk-lib applies an acknowledgment to the whole app, so during this restore the rule reports no other AWS::RDS::DBCluster of the app either. Check yours yourself, or restore with an RDS-managed master password (the default), which needs no acknowledgment.",
			path, cfnValidateMasterUsernameRule)))
	}
	if creds.managed {
		awscdk.Annotations_Of(cluster).AcknowledgeWarning(jsii.String("@aws-cdk/aws-rds:generatedCredsNotApplied"),
			jsii.String("restorable uses an RDS-managed master secret, which CloudFormation turns on for the restored cluster"))
		if creds.secretKey != nil {
			cfn := cluster.Node().DefaultChild().(awsrds.CfnDBCluster)
			cfn.SetMasterUserSecret(&awsrds.CfnDBCluster_MasterUserSecretProperty{KmsKeyId: creds.secretKey.KeyArn()})
		}
	}
	return cluster
}

// snapshotProps copies every field of the cluster props onto the props of a
// cluster restored from a snapshot. Both structs share their fields; a set field
// that a restored cluster lacks is an error rather than silently dropped.
func snapshotProps(p awsrds.DatabaseClusterProps) (awsrds.DatabaseClusterFromSnapshotProps, error) {
	var out awsrds.DatabaseClusterFromSnapshotProps
	src := reflect.ValueOf(p)
	dst := reflect.ValueOf(&out).Elem()
	for i := 0; i < src.NumField(); i++ {
		field, value := src.Type().Field(i), src.Field(i)
		if value.IsZero() {
			continue
		}
		target := dst.FieldByName(field.Name)
		if !target.IsValid() || target.Type() != field.Type {
			return out, inputErr(field.Name, "", "has no equivalent on a cluster restored from a backup",
				"remove "+field.Name+" from the props of a restorable cluster")
		}
		target.Set(value)
	}
	return out, nil
}

// applySource writes the point-in-time and clone restore properties on the
// AWS::RDS::DBCluster, which no L2 exposes. Encryption is inherited from the
// source on every restore, so StorageEncrypted is removed, as the
// AWS::RDS::DBCluster docs ask ("If you specify the SnapshotIdentifier or
// SourceDBClusterIdentifier property, don't specify this property"); KmsKeyId
// still re-encrypts the restored cluster with the cluster's key.
func (c *AuroraCluster) applySource() {
	s := c.source
	if s.kind == KindNew {
		return
	}
	c.cfn.SetStorageEncrypted((*bool)(nil))
	// Tags change in place; the guard reads this one from the live cluster.
	c.cfn.Tags().SetTag(jsii.String(contract.TagRestoredFrom), jsii.String(string(s.kind)), jsii.Number(100), jsii.Bool(true))
	if c.cfn.KmsKeyId() != nil {
		reason := "A restored cluster must not set StorageEncrypted: it is inherited from the snapshot or source cluster (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-rds-dbcluster.html#cfn-rds-dbcluster-storageencrypted). KmsKeyId is set, so the restored cluster is encrypted with the cluster's customer-managed key whatever the source."
		exceptions := make([]nagException, len(storageEncryptionRules))
		for i, rule := range storageEncryptionRules {
			exceptions[i] = nagException{rule: rule, reason: reason}
		}
		suppressNag(c.cfn, false, exceptions...)
	}
	if s.kind == KindSnapshot {
		return
	}
	c.cfn.SetSnapshotIdentifier(nil)
	switch {
	case s.sourceIdentifier != "":
		c.cfn.SetSourceDbClusterIdentifier(jsii.String(s.sourceIdentifier))
	case s.sourceResourceID != "":
		c.cfn.SetSourceDbClusterResourceId(jsii.String(s.sourceResourceID))
	case s.sourceCluster != nil:
		c.cfn.SetSourceDbClusterIdentifier(s.sourceCluster.ClusterIdentifier())
	}
	if s.kind == KindClone {
		c.cfn.SetRestoreType(jsii.String("copy-on-write"))
		c.cfn.SetUseLatestRestorableTime(true)
		return
	}
	c.cfn.SetRestoreType(jsii.String("full-copy"))
	if s.latest {
		c.cfn.SetUseLatestRestorableTime(true)
	} else {
		c.cfn.SetRestoreToTime(jsii.String(s.restoreTime))
	}
}

// masterSecret is the secret consumers read: the RDS-managed secret of whichever
// cluster is current, or the caller's own secret.
func (c *AuroraCluster) masterSecret(creds credentialsMode) awssecretsmanager.ISecret {
	if creds.secret != nil {
		return creds.secret
	}
	if !creds.managed {
		return nil
	}
	return awssecretsmanager.Secret_FromSecretAttributes(c, jsii.String("MasterSecret"), &awssecretsmanager.SecretAttributes{
		SecretCompleteArn: c.cfn.AttrMasterUserSecretSecretArn(),
		EncryptionKey:     creds.secretKey,
	})
}

// guardSource reads the cluster's restore properties for the replacement guard.
func (c *AuroraCluster) guardSource() map[string]interface{} { return clusterSource(c.cfn) }

// guardCreateOnly reads the cluster's other create-only properties.
func (c *AuroraCluster) guardCreateOnly() map[string]interface{} { return clusterCreateOnly(c.cfn) }

// cfnValidateMasterUsernameRule is the CloudFormation validation finding for a
// cluster with MasterUserPassword and no MasterUsername, as aws-cdk-lib's
// CloudFormationValidatePlugin names it.
const cfnValidateMasterUsernameRule = "CloudFormation-Validate::F3021"
