package restorable

import (
	"regexp"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsroute53"
	"github.com/aws/jsii-runtime-go"
)

// addStableEndpoint creates CNAME records for the writer and reader endpoints.
// A restore changes only the records' values, which CloudFormation updates in
// place; their names never change.
func (c *AuroraCluster) addStableEndpoint(path string, se StableEndpointProps) {
	if se.Zone == nil {
		panic(&InputError{Construct: path, Setting: "StableEndpoint.Zone", Problem: "is not set",
			Fix: "give a hosted zone, for example awsroute53.NewPrivateHostedZone(stack, jsii.String(\"Zone\"), &awsroute53.PrivateHostedZoneProps{ZoneName: jsii.String(\"app.internal\"), Vpc: vpc})"})
	}
	name := se.RecordName
	if name == "" {
		name = "database"
	}
	if !recordLabel.MatchString(name) {
		panic(&InputError{Construct: path, Setting: "StableEndpoint.RecordName", Value: name,
			Problem: "is not a DNS name inside the zone (letters, digits and hyphens, in dot-separated labels of 1 to 60 characters)",
			Fix:     "use a name such as database, or db.orders"})
	}
	ttl := se.Ttl
	if ttl == nil {
		ttl = awscdk.Duration_Seconds(jsii.Number(60))
	}
	c.writerRecord = awsroute53.NewCnameRecord(c, jsii.String("StableEndpoint"), &awsroute53.CnameRecordProps{
		Zone: se.Zone, RecordName: jsii.String(name), DomainName: c.cluster.ClusterEndpoint().Hostname(), Ttl: ttl,
		Comment: jsii.String("restorable: the writer of " + path + ", whichever cluster a restore created"),
	})
	c.readerRecord = awsroute53.NewCnameRecord(c, jsii.String("StableReaderEndpoint"), &awsroute53.CnameRecordProps{
		Zone: se.Zone, RecordName: jsii.String(name + "-ro"), DomainName: c.cluster.ClusterReadEndpoint().Hostname(), Ttl: ttl,
		Comment: jsii.String("restorable: the readers of " + path + ", whichever cluster a restore created"),
	})
}

// recordLabel matches a relative DNS name of letters, digits and hyphens.
var recordLabel = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,58}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,58}[A-Za-z0-9])?)*$`)

// StableHostname is the writer's host name in the stable endpoint's zone, which
// no restore changes; nil without StableEndpoint. Clients that verify the
// server certificate's host name (PostgreSQL sslmode=verify-full, MySQL
// VERIFY_IDENTITY) must connect to ClusterEndpoint() instead: the certificate
// names the cluster's own endpoints
// (https://www.postgresql.org/docs/current/libpq-ssl.html).
func (c *AuroraCluster) StableHostname() *string {
	if c.writerRecord == nil {
		return nil
	}
	return c.writerRecord.DomainName()
}

// StableReaderHostname is the readers' host name in the stable endpoint's
// zone; nil without StableEndpoint.
func (c *AuroraCluster) StableReaderHostname() *string {
	if c.readerRecord == nil {
		return nil
	}
	return c.readerRecord.DomainName()
}
