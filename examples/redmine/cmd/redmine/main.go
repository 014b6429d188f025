// Command redmine is the CDK app of the example: `cdk synth` and `cdk deploy` run
// it through cdk.json.
package main

import (
	"os"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/restorable-cdk/restorable/examples/redmine"
	"github.com/restorable-cdk/restorable/restorable"
)

func main() {
	// Run synthesizes the app, prints what each restorable resource would do,
	// and ends with exit status 1 and the message alone on a wrong input.
	restorable.Run(func(app awscdk.App) error {
		if _, err := redmine.NewStack(app, "RedmineStack", &redmine.StackProps{StackProps: awscdk.StackProps{Env: env()}}); err != nil {
			return err
		}
		// Security review on every synth: cdk-nag's AwsSolutions pack fails the
		// synth on any error that is not suppressed with a reason, and writes
		// its report to cdk.out/AwsSolutions--RedmineStack-NagReport.csv.
		awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
		return nil
	})
}

// env deploys to the account and region of the caller's AWS credentials, which
// the CDK CLI passes in CDK_DEFAULT_ACCOUNT and CDK_DEFAULT_REGION. Without
// credentials the stack is environment-agnostic, so `cdk synth` needs no account.
func env() *awscdk.Environment {
	account, region := os.Getenv("CDK_DEFAULT_ACCOUNT"), os.Getenv("CDK_DEFAULT_REGION")
	if account == "" || region == "" {
		return nil
	}
	return &awscdk.Environment{Account: jsii.String(account), Region: jsii.String(region)}
}
