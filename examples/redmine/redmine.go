// Package redmine is the example app: Redmine, a ticketing app, on ECS Fargate
// behind an Application Load Balancer, with its database on a restorable Aurora
// PostgreSQL cluster and its uploaded files on a restorable EFS file system, both
// backed up by one AWS Backup plan into one vault. A restore is a context value
// plus `cdk deploy`:
//
//	cdk deploy -c snapshotArn=arn:aws:rds:<region>:<account>:cluster-snapshot:<name>
//	cdk deploy -c efsRecoveryPointArn=arn:aws:backup:<region>:<account>:recovery-point:<id>
//
// The service reads the database host and the master secret from the construct,
// so it follows the restored cluster on the same deploy.
package redmine

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscertificatemanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecspatterns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsefs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awselasticloadbalancingv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsrds"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsroute53"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/restorable-cdk/restorable/restorable"
)

// StackProps configures the example stack.
type StackProps struct {
	awscdk.StackProps
	// RedmineImage is the container image to run.
	// Default: the official redmine image, tag 6.0.
	RedmineImage string
	// CertificateArn is an ACM certificate for the load balancer. With it, the
	// load balancer listens on HTTPS (443) and redirects HTTP to it.
	// Default: HTTP only, for a first try without a domain; synth warns that
	// traffic is then in clear text.
	CertificateArn string
	// Protection configures the stack's AWS Backup protection, for example
	// copies to a DR region (see examples/dr).
	// Default: restorable's default protection (daily and monthly backups, an
	// air-gapped copy, alerts), no copies to another region, and monthly
	// validated drills of the database and the files.
	Protection *restorable.ProtectionProps
	// NoDrills leaves the drills out of the default protection: for a stack
	// deployed only in a disaster.
	// Default: false.
	NoDrills bool
	// CopyBackupsTo copies every recovery point to a recovery vault in another
	// region (restorable.NewRecoveryVault), for disaster recovery.
	// Default: no copies.
	CopyBackupsTo *RecoveryVault
	// AlsoCopyTo copies every recovery point to a second vault too, for
	// example a BackupDestination in another account.
	// Default: no second copy.
	AlsoCopyTo *RecoveryVault
	// Global makes the database a member of an Aurora global database (see
	// examples/dr). On a secondary that is not the writer, Redmine runs no
	// tasks: the database is read-only there.
	// Default: a regional database.
	Global *restorable.GlobalDatabase
	// FilesReplicateTo replicates the files into a replica in another
	// region; FilesReplicaOf makes them that replica (see examples/dr).
	// Default: no replication.
	FilesReplicateTo *restorable.FileSystemReplication
	FilesReplicaOf   *restorable.FileSystemReplica
}

// RecoveryVault names a vault in another region, and, with Account, in
// another account (a restorable.BackupDestination).
type RecoveryVault struct {
	Region, Name string
	// Account is the other account the vault is in.
	// Default: this stack's account.
	Account string
}

// arn is the vault's ARN, computed from its name, region and account.
func (v *RecoveryVault) arn(stack awscdk.Stack) string {
	if v.Account != "" {
		return restorable.BackupDestinationArn(stack, v.Account, v.Region, v.Name)
	}
	return restorable.RecoveryVaultArn(stack, v.Region, v.Name)
}

// ZoneName is the private hosted zone in which the database has a host name that
// no restore changes.
const ZoneName = "redmine.internal"

// Stack is the example stack and the constructs tests look at.
type Stack struct {
	Stack    awscdk.Stack
	Vpc      awsec2.Vpc
	Zone     awsroute53.PrivateHostedZone
	Database *restorable.AuroraCluster
	Files    *restorable.FileSystem
	Service  awsecspatterns.ApplicationLoadBalancedFargateService
}

// FilesPath is where Redmine keeps uploaded files, on the EFS file system.
const FilesPath = "/usr/src/redmine/files"

// redmineUID is the user the official redmine image runs as.
const redmineUID = "999"

// DatabaseName is the database Redmine uses in the cluster.
const DatabaseName = "redmine"

// databaseName is Redmine's database on a new cluster; a global
// secondary's databases are the primary's.
func databaseName(g *restorable.GlobalDatabase) *string {
	if g != nil && g.Secondary {
		return nil
	}
	return jsii.String(DatabaseName)
}

// NewStack builds the example stack. It reads the restore source of the database
// from the CDK context (restorable.AuroraClusterFromContext, FileSystemFromContext), and returns an
// error for a malformed or conflicting context value.
func NewStack(scope constructs.Construct, id string, props *StackProps) (*Stack, error) {
	var p StackProps
	if props != nil {
		p = *props
	}
	if p.RedmineImage == "" {
		p.RedmineImage = "redmine:6.0"
	}
	stack := awscdk.NewStack(scope, jsii.String(id), &p.StackProps)
	s := &Stack{Stack: stack}

	s.Vpc = awsec2.NewVpc(stack, jsii.String("Vpc"), &awsec2.VpcProps{
		MaxAzs:      jsii.Number(2),
		NatGateways: jsii.Number(1),
	})
	// aws-cdk-lib removes the rules of the VPC's default security group with a
	// provider of its own, whose role has the AWS-managed
	// AWSLambdaBasicExecutionRole; the provider is created at synth, after an
	// in-app check would look, so the exception is recorded on it by path.
	cdknag.NagSuppressions_AddResourceSuppressionsByPath(stack, jsii.Strings("/"+id+"/Custom::VpcRestrictDefaultSGCustomResourceProvider/Role"),
		&[]*cdknag.NagPackSuppression{{
			Id: jsii.String("AwsSolutions-IAM4"),
			Reason: jsii.String("aws-cdk-lib's own provider that removes every rule of the VPC's default security group; aws-cdk-lib gives its role " +
				"AWSLambdaBasicExecutionRole (writing its own logs) and the ec2 calls on that one group."),
			AppliesTo: &[]interface{}{"Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"},
		}}, jsii.Bool(false))
	// Flow logs record who talked to the database and the file system.
	s.Vpc.AddFlowLog(jsii.String("FlowLog"), &awsec2.FlowLogOptions{
		Destination: awsec2.FlowLogDestination_ToCloudWatchLogs(awslogs.NewLogGroup(stack, jsii.String("FlowLogs"), &awslogs.LogGroupProps{
			Retention:     awslogs.RetentionDays_ONE_YEAR,
			RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
		}), nil),
	})

	var drilled bool
	{
		var pp restorable.ProtectionProps
		if p.Protection != nil {
			pp = *p.Protection
		} else if !p.NoDrills {
			// A month's rehearsal of "we lost the data": AWS Backup restores
			// a copy, restorable checks it (below, DrillCheck) and measures
			// the RTO.
			pp.RestoreTesting = &restorable.RestoreTestingProps{}
		}
		if v := p.CopyBackupsTo; v != nil {
			pp.CopyToVaultArn = v.arn(stack)
		}
		if v := p.AlsoCopyTo; v != nil {
			pp.AlsoCopyToVaultArns = append(append([]string{}, pp.AlsoCopyToVaultArns...), v.arn(stack))
		}
		restorable.ConfigureStackProtection(stack, &pp)
		drilled = pp.RestoreTesting != nil
	}
	// The database's stable host name lives here, for the service and for
	// anything else in the VPC.
	s.Zone = awsroute53.NewPrivateHostedZone(stack, jsii.String("Zone"), &awsroute53.PrivateHostedZoneProps{
		ZoneName: jsii.String(ZoneName),
		Vpc:      s.Vpc,
		Comment:  jsii.String("Redmine: names that restores do not change"),
	})

	dbProps, err := restorable.AuroraClusterFromContext(stack, "Database", restorable.AuroraClusterProps{
		DatabaseClusterProps: awsrds.DatabaseClusterProps{
			Engine: awsrds.DatabaseClusterEngine_AuroraPostgres(&awsrds.AuroraPostgresClusterEngineProps{
				Version: awsrds.AuroraPostgresEngineVersion_VER_16_4(),
			}),
			Vpc:                     s.Vpc,
			VpcSubnets:              &awsec2.SubnetSelection{SubnetType: awsec2.SubnetType_PRIVATE_WITH_EGRESS},
			Writer:                  awsrds.ClusterInstance_ServerlessV2(jsii.String("writer"), nil),
			ServerlessV2MinCapacity: jsii.Number(0.5),
			ServerlessV2MaxCapacity: jsii.Number(4),
			DefaultDatabaseName:     databaseName(p.Global),
		},
		// A member of a global database, with p.Global.
		Global: p.Global,
		// Backed up with the files, in one plan and one vault.
		Protection: restorable.StackProtection(stack),
		// database.redmine.internal follows every restore.
		StableEndpoint: &restorable.StableEndpointProps{Zone: s.Zone},
		// Redmine migrates its database when a new image starts: a deploy
		// that changes the image takes a snapshot first (stack output
		// DatabaseRollbackCommand), and the service waits for it (below).
		SnapshotBeforeChange: &restorable.SnapshotBeforeChangeProps{Release: p.RedmineImage},
	})
	if err != nil {
		return nil, err
	}
	if drilled {
		// A drill's copy is Redmine's if it has users: Redmine always has
		// its admin.
		dbProps.DrillCheck = &restorable.AuroraDrillCheck{SQL: "SELECT count(*) > 0 FROM users"}
	}
	s.Database = restorable.NewAuroraCluster(stack, jsii.String("Database"), dbProps)

	filesProps, err := restorable.FileSystemFromContext(stack, "Files", restorable.FileSystemProps{
		FileSystemProps: awsefs.FileSystemProps{
			Vpc:        s.Vpc,
			VpcSubnets: &awsec2.SubnetSelection{SubnetType: awsec2.SubnetType_PRIVATE_WITH_EGRESS},
		},
		AccessPoint: &awsefs.AccessPointOptions{
			Path:      jsii.String("/redmine-files"),
			CreateAcl: &awsefs.Acl{OwnerUid: jsii.String(redmineUID), OwnerGid: jsii.String(redmineUID), Permissions: jsii.String("755")},
			PosixUser: &awsefs.PosixUser{Uid: jsii.String(redmineUID), Gid: jsii.String(redmineUID)},
		},
		ReplicateTo: p.FilesReplicateTo,
		ReplicaOf:   p.FilesReplicaOf,
	})
	if err != nil {
		return nil, err
	}
	if drilled {
		// A drill's copy holds the attachments' directory.
		filesProps.DrillCheck = &restorable.FileSystemDrillCheck{Paths: []string{"redmine-files"}}
	}
	s.Files = restorable.NewFileSystem(stack, jsii.String("Files"), filesProps)

	// Rails signs sessions with this key; it is not a database credential.
	secretKeyBase := awssecretsmanager.NewSecret(stack, jsii.String("SecretKeyBase"), &awssecretsmanager.SecretProps{
		Description: jsii.String("Redmine SECRET_KEY_BASE"),
		GenerateSecretString: &awssecretsmanager.SecretStringGenerator{
			PasswordLength:     jsii.Number(64),
			ExcludePunctuation: jsii.Bool(true),
		},
	})
	cdknag.NagSuppressions_AddResourceSuppressions(secretKeyBase, &[]*cdknag.NagPackSuppression{{
		Id: jsii.String("AwsSolutions-SMG4"),
		Reason: jsii.String("SECRET_KEY_BASE signs Redmine's session cookies; it is not a credential of another system, and rotating it signs every user out, so it is rotated by hand at a release, " +
			"not on a schedule."),
	}}, jsii.Bool(true))

	var certificate awscertificatemanager.ICertificate
	var sslPolicy awselasticloadbalancingv2.SslPolicy
	if p.CertificateArn != "" {
		certificate = awscertificatemanager.Certificate_FromCertificateArn(stack, jsii.String("Certificate"), jsii.String(p.CertificateArn))
		sslPolicy = awselasticloadbalancingv2.SslPolicy_RECOMMENDED_TLS
	} else {
		awscdk.Annotations_Of(stack).AddWarningV2(jsii.String("redmine:cleartextHTTP"), jsii.String(
			"the load balancer listens on HTTP only, port 80, open to the internet: passwords and session cookies cross the internet in clear text. "+
				"Give StackProps.CertificateArn (an ACM certificate for your domain) to listen on HTTPS and redirect HTTP to it."))
	}

	cluster := awsecs.NewCluster(stack, jsii.String("Cluster"), &awsecs.ClusterProps{
		Vpc:                            s.Vpc,
		ContainerInsightsV2:            awsecs.ContainerInsights_ENABLED,
		EnableFargateCapacityProviders: jsii.Bool(true),
	})
	dbSecret := s.Database.Secret()
	s.Service = awsecspatterns.NewApplicationLoadBalancedFargateService(stack, jsii.String("Redmine"), &awsecspatterns.ApplicationLoadBalancedFargateServiceProps{
		Cluster:        cluster,
		Cpu:            jsii.Number(512),
		MemoryLimitMiB: jsii.Number(1024),
		DesiredCount:   jsii.Number(1),
		// Start the new task before stopping the old one.
		MinHealthyPercent: jsii.Number(100),
		MaxHealthyPercent: jsii.Number(200),
		TaskSubnets:       &awsec2.SubnetSelection{SubnetType: awsec2.SubnetType_PRIVATE_WITH_EGRESS},
		CircuitBreaker:    &awsecs.DeploymentCircuitBreaker{Rollback: jsii.Bool(true)},
		// The first start runs Redmine's database migrations.
		HealthCheckGracePeriod: awscdk.Duration_Minutes(jsii.Number(5)),
		Certificate:            certificate,
		RedirectHTTP:           jsii.Bool(certificate != nil),
		SslPolicy:              sslPolicy,
		TaskImageOptions: &awsecspatterns.ApplicationLoadBalancedTaskImageOptions{
			Image:         awsecs.ContainerImage_FromRegistry(jsii.String(p.RedmineImage), nil),
			ContainerPort: jsii.Number(3000),
			Environment: &map[string]*string{
				// The stable host name: a restore changes where it points, not
				// the name.
				"REDMINE_DB_POSTGRES": s.Database.StableHostname(),
				"REDMINE_DB_PORT":     awscdk.Token_AsString(s.Database.ClusterEndpoint().Port(), nil),
				"REDMINE_DB_DATABASE": jsii.String(DatabaseName),
				// The cluster requires TLS (rds.force_ssl); libpq reads this.
				// require, not verify-full: the server certificate names the
				// cluster's own endpoint, not the stable host name.
				"PGSSLMODE": jsii.String("require"),
			},
			Secrets: &map[string]awsecs.Secret{
				"REDMINE_DB_USERNAME":     awsecs.Secret_FromSecretsManager(dbSecret, jsii.String("username")),
				"REDMINE_DB_PASSWORD":     awsecs.Secret_FromSecretsManager(dbSecret, jsii.String("password")),
				"REDMINE_SECRET_KEY_BASE": awsecs.Secret_FromSecretsManager(secretKeyBase, nil),
			},
		},
	})
	s.Service.TargetGroup().ConfigureHealthCheck(&awselasticloadbalancingv2.HealthCheck{
		Path:             jsii.String("/login"),
		HealthyHttpCodes: jsii.String("200"),
	})
	if s.Database.IsStandby() || s.Files.IsStandby() {
		// No task on a read-only secondary or replica: Redmine writes when
		// it starts.
		// The pattern refuses a desired count of 0, so it is set on the L1.
		s.Service.Service().Node().DefaultChild().(awsecs.CfnService).SetDesiredCount(jsii.Number(0))
	}
	s.Database.Connections().AllowDefaultPortFrom(s.Service.Service(), jsii.String("Redmine tasks"))
	// New tasks run the migrations: CloudFormation updates the service only
	// after the guard's snapshot of the database.
	s.Database.SnapshotBefore(s.Service.Service())
	// In a deploy that fails over or switches over, the tasks start once the
	// database and the files are writeable here.
	s.Database.AfterSwitch(s.Service.Service())
	s.Files.AfterSwitch(s.Service.Service())

	logRequests(stack, s.Service.LoadBalancer())
	cdknag.NagSuppressions_AddResourceSuppressions(s.Service.LoadBalancer(), &[]*cdknag.NagPackSuppression{{
		Id: jsii.String("AwsSolutions-EC23"),
		Reason: jsii.String("Redmine is a public web application and the load balancer is its entry point from the internet, on 80 (and 443 with a certificate) only; " +
			"the tasks accept traffic from the load balancer's security group only."),
	}}, jsii.Bool(true))
	cdknag.NagSuppressions_AddResourceSuppressions(s.Service.TaskDefinition(), &[]*cdknag.NagPackSuppression{{
		Id: jsii.String("AwsSolutions-ECS2"),
		Reason: jsii.String("The environment holds settings, not secrets: the database host, port and name, and libpq's TLS mode. " +
			"The database credentials and SECRET_KEY_BASE come from Secrets Manager (the container's secrets)."),
	}}, jsii.Bool(true))

	// Uploaded files live on EFS, mounted over TLS with IAM authorization
	// through the access point.
	taskDef := s.Service.TaskDefinition()
	taskDef.AddVolume(&awsecs.Volume{
		Name: jsii.String("files"),
		EfsVolumeConfiguration: &awsecs.EfsVolumeConfiguration{
			FileSystemId:      s.Files.FileSystemId(),
			TransitEncryption: jsii.String("ENABLED"),
			AuthorizationConfig: &awsecs.AuthorizationConfig{
				AccessPointId: s.Files.AccessPoint().AccessPointId(),
				Iam:           jsii.String("ENABLED"),
			},
		},
	})
	taskDef.DefaultContainer().AddMountPoints(&awsecs.MountPoint{
		ContainerPath: jsii.String(FilesPath),
		SourceVolume:  jsii.String("files"),
		ReadOnly:      jsii.Bool(false),
	})
	s.Files.GrantReadWrite(taskDef.TaskRole())
	s.Files.Connections().AllowDefaultPortFrom(s.Service.Service(), jsii.String("Redmine tasks"))

	awscdk.NewCfnOutput(stack, jsii.String("DatabaseEndpoint"), &awscdk.CfnOutputProps{
		Value:       s.Database.ClusterEndpoint().Hostname(),
		Description: jsii.String("Writer endpoint of the Redmine database; it changes after a restore (use DatabaseStableHostname)"),
	})
	return s, nil
}

// logRequests has the load balancer log every request to a bucket that keeps
// the logs a year. The bucket policy depends on the region (the load balancing
// account of older regions, a service principal in newer ones), so an
// environment-agnostic synth, without AWS credentials, leaves it out; `cdk
// deploy` runs with the account and region of the credentials.
func logRequests(stack awscdk.Stack, lb awselasticloadbalancingv2.ApplicationLoadBalancer) {
	if *awscdk.Token_IsUnresolved(stack.Region()) {
		cdknag.NagSuppressions_AddResourceSuppressions(lb, &[]*cdknag.NagPackSuppression{{
			Id: jsii.String("AwsSolutions-ELB2"),
			Reason: jsii.String("Environment-agnostic synth (no AWS credentials): the access log bucket policy needs the region. " +
				"With credentials, as for cdk deploy, the load balancer logs to the AccessLogs bucket."),
		}}, jsii.Bool(false))
		return
	}
	bucket := awss3.NewBucket(stack, jsii.String("AccessLogs"), &awss3.BucketProps{
		// Load balancer access logs support SSE-S3 only:
		// https://docs.aws.amazon.com/elasticloadbalancing/latest/application/enable-access-logging.html
		Encryption:        awss3.BucketEncryption_S3_MANAGED,
		EnforceSSL:        jsii.Bool(true),
		BlockPublicAccess: awss3.BlockPublicAccess_BLOCK_ALL(),
		Versioned:         jsii.Bool(true),
		LifecycleRules: &[]*awss3.LifecycleRule{{
			Expiration:                  awscdk.Duration_Days(jsii.Number(365)),
			NoncurrentVersionExpiration: awscdk.Duration_Days(jsii.Number(30)),
		}},
		RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
	})
	cdknag.NagSuppressions_AddResourceSuppressions(bucket, &[]*cdknag.NagPackSuppression{{
		Id:     jsii.String("AwsSolutions-S1"),
		Reason: jsii.String("This bucket holds the load balancer's access logs; logging the access to it in another bucket would need a log bucket for that one too."),
	}}, jsii.Bool(true))
	lb.LogAccessLogs(bucket, jsii.String("redmine"))
}
