// Command dr is the CDK app of the disaster recovery example:
//
//	cdk synth --app 'go run ./examples/dr/cmd/dr'
//
// The regions come from the context keys primaryRegion and recoveryRegion
// (default ap-northeast-1 and ap-northeast-3), the strategy from the key
// strategy (backup-and-restore, pilot-light or warm-standby; default
// backup-and-restore), the recovery stack's file system for the files'
// replication from replicaFileSystemId, the account from the deploying
// credentials.
package main

import (
	"os"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/restorable-cdk/restorable/examples/dr"
	"github.com/restorable-cdk/restorable/restorable"
)

func main() {
	restorable.Run(func(app awscdk.App) error {
		props := &dr.Props{PrimaryRegion: contextString(app, "primaryRegion"), RecoveryRegion: contextString(app, "recoveryRegion"),
			Strategy: dr.Strategy(contextString(app, "strategy")), ReplicaFileSystemId: contextString(app, "replicaFileSystemId")}
		if account := os.Getenv("CDK_DEFAULT_ACCOUNT"); account != "" {
			props.Account = jsii.String(account)
		}
		if _, err := dr.New(app, props); err != nil {
			return err
		}
		awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
		return nil
	})
}

func contextString(app awscdk.App, key string) string {
	if v, ok := app.Node().TryGetContext(jsii.String(key)).(string); ok {
		return v
	}
	return ""
}
