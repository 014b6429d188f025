package restorable

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
)

// Run is the one line of a CDK app's main that uses restorable:
//
//	func main() {
//		restorable.Run(func(app awscdk.App) error {
//			_, err := mystack.New(app, "AppStack")
//			return err
//		})
//	}
//
// It creates the app, lets build add the stacks, synthesizes the app and
// prints the report of its restorable resources. A wrong input ends the
// process with exit status 1 and the message alone, without a goroutine dump:
// an error build returns, an *InputError a construct panics with, and a
// validation error of the app (an unknown context key, a bare key with
// several resources).
func Run(build func(app awscdk.App) error) {
	defer exitOnInputError()
	app := awscdk.NewApp(nil)
	if err := build(app); err != nil {
		fail(err.Error())
	}
	Synth(app)
}

// Synth synthesizes app and prints the report of its restorable resources to
// stderr. Call it instead of app.Synth; Run calls it. It keeps the guard of
// every stack the guard record (GuardRecordFile) lists, and records the
// stacks it guards there.
func Synth(app awscdk.App) {
	path, err := guardRecordPath(app)
	if err != nil {
		panic(err)
	}
	rec, err := readGuardRecord(path)
	if err != nil {
		panic(err)
	}
	keepRecordedGuards(app, rec)
	app.Synth(nil)
	if err := recordGuards(app, path, rec); err != nil {
		fmt.Fprintf(os.Stderr, "restorable: WARNING: could not write the guard record %s (%v): commit it with every stack restorable guards, or removing a stack's last restorable construct is not refused\n", path, err)
	}
	printReportOnce(registryOf(app))
}

// exitOnInputError turns a panic with an input error into exit status 1 and
// its message; other panics (a bug) keep their stack trace.
func exitOnInputError() {
	r := recover()
	if r == nil {
		return
	}
	if _, ok := r.(runtime.Error); ok {
		panic(r)
	}
	var ie *InputError
	if err, ok := r.(error); ok && errors.As(err, &ie) {
		fail(ie.Error())
	}
	msg := fmt.Sprint(r)
	if err, ok := r.(error); ok {
		msg = err.Error()
	}
	// jsii reports a CDK error, such as a failed validation, as an error whose
	// message starts with the JavaScript error's name.
	if strings.Contains(msg, "restorable: ") || strings.Contains(msg, "Validation failed") || strings.HasPrefix(msg, "ValidationError") {
		fail(strings.TrimPrefix(strings.TrimPrefix(msg, "Error: "), "ValidationError: "))
	}
	panic(r)
}

func fail(msg string) {
	fmt.Fprintln(os.Stderr, strings.TrimSpace(msg))
	os.Exit(1)
}
