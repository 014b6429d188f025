package restorable

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// The handler binary reaches the cloud assembly the way an asset does, without
// the Asset construct: restorable copies the directory into the assembly as
// asset.<hash> and registers it with the stack's synthesizer
// (https://docs.aws.amazon.com/cdk/api/v2/docs/aws-cdk-lib.IStackSynthesizer.html#addwbrfilewbrassetasset:
// the file name is relative to the root of the cloud assembly), which puts it in
// the asset manifest that `cdk deploy` publishes, as a zip of the directory, to
// the bootstrap bucket. An awss3assets.Asset does the same, and also imports
// the bootstrap bucket as an IBucket, which loads aws-cdk-lib's region-info
// database: 120 ms of a 5 s synth (issue 24), for a bucket the handlers never
// use as a construct.

// stagedHandler is where one stack's copy of the handler is published.
type stagedHandler struct {
	bucket, key *string
}

var staged struct {
	sync.Mutex
	byStack map[awscdk.Stack]stagedHandler
}

// handlerLocation stages the handler for stack, once per stack, and returns the
// bucket and key its template names.
func handlerLocation(stack awscdk.Stack) stagedHandler {
	handlerBuild.once.Do(func() {
		handlerBuild.asset, handlerBuild.err = buildHandler()
	})
	if handlerBuild.err != nil {
		panic(handlerBuild.err)
	}
	staged.Lock()
	defer staged.Unlock()
	if s, ok := staged.byStack[stack]; ok {
		return s
	}
	a := handlerBuild.asset
	stage := awscdk.Stage_Of(stack)
	dir, err := stageHandlerDir(a, *stage.AssetOutdir())
	if err != nil {
		panic(&InputError{Construct: *stack.Node().Path(), Setting: "Lambda handler asset", Value: a.dir,
			Problem: fmt.Sprintf("cannot copy the handler into the cloud assembly: %v", err),
			Fix:     "check that the synth's output directory (cdk.out, or CDK_OUTDIR) is writable and has room"})
	}
	rel, err := filepath.Rel(*stage.Outdir(), dir)
	if err != nil {
		rel = dir
	}
	loc := stack.Synthesizer().AddFileAsset(&awscdk.FileAssetSource{
		SourceHash: jsii.String(a.hash),
		FileName:   jsii.String(rel),
		Packaging:  awscdk.FileAssetPackaging_ZIP_DIRECTORY,
	})
	s := stagedHandler{bucket: loc.BucketName, key: loc.ObjectKey}
	if staged.byStack == nil {
		staged.byStack = map[awscdk.Stack]stagedHandler{}
	}
	staged.byStack[stack] = s
	return s
}

// stageHandlerDir copies the handler's directory into the assembly as
// asset.<hash>, unless an earlier synth into the same directory did: the
// directory appears whole or not at all (a copy under a temporary name, then
// a rename), so a cancelled synth leaves no half-copied asset behind.
func stageHandlerDir(a handlerAsset, assetOutdir string) (string, error) {
	dir := filepath.Join(assetOutdir, "asset."+a.hash)
	if got, err := fileSHA256(filepath.Join(dir, "bootstrap")); err == nil && got == a.hash {
		return dir, nil
	}
	if err := os.MkdirAll(assetOutdir, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(assetOutdir, ".asset."+a.hash+".")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	if err := copyFile(filepath.Join(a.dir, "bootstrap"), filepath.Join(tmp, "bootstrap"), 0o755); err != nil {
		return "", err
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return "", err
	}
	if err := os.RemoveAll(dir); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, dir); err != nil {
		return "", err
	}
	return dir, nil
}

// handlerCode is the Lambda code of the restorable handlers for a function in
// stack: the staged asset, by bucket and key.
func handlerCode(stack awscdk.Stack) awslambda.Code {
	c := &stagedCode{at: handlerLocation(stack)}
	awslambda.NewCode_Override(c)
	return c
}

// stagedCode is an awslambda.Code that names the staged handler's bucket and
// key (an S3 location, as awslambda.Code_FromBucket gives, without importing
// the bucket).
type stagedCode struct {
	awslambda.Code
	at stagedHandler
}

// Bind implements awslambda.Code.
func (c *stagedCode) Bind(constructs.Construct) *awslambda.CodeConfig {
	return &awslambda.CodeConfig{S3Location: &awss3.Location{BucketName: c.at.bucket, ObjectKey: c.at.key}}
}

// objectArn is the staged handler's object ARN, for s3:GetObject.
func (s stagedHandler) objectArn(stack awscdk.Stack) *string {
	return stack.FormatArn(&awscdk.ArnComponents{Service: jsii.String("s3"), Region: jsii.String(""), Account: jsii.String(""),
		Resource: s.bucket, ResourceName: s.key, ArnFormat: awscdk.ArnFormat_SLASH_RESOURCE_NAME})
}
