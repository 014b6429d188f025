// Command footprint synthesizes the footprint app:
//
//	footprint <plain|restorable> <n>
//
// into CDK_OUTDIR (as `cdk synth` sets it) or cdk.out.
package main

import (
	"fmt"
	"os"
	"strconv"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/restorable-cdk/restorable/examples/footprint"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: footprint <plain|restorable> <n>")
		os.Exit(2)
	}
	n, err := strconv.Atoi(os.Args[2])
	if err != nil || n < 1 {
		fmt.Fprintln(os.Stderr, "footprint: n must be a whole number of at least 1")
		os.Exit(2)
	}
	defer jsii.Close()
	app := awscdk.NewApp(nil)
	footprint.New(app, footprint.Variant(os.Args[1]), n)
	app.Synth(nil)
}
