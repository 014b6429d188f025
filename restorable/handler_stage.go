package restorable

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

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

// stagedHandler is where one stack's copy of the handler is published, and
// the asset's path as the assembly names it.
type stagedHandler struct {
	bucket, key *string
	path        string
	// metadata is the CLI's aws:cdk:enable-asset-metadata: SAM reads a
	// function's code from its aws:asset:* metadata.
	metadata bool
}

var staged struct {
	sync.Mutex
	byStack map[awscdk.Stack]stagedHandler
}

// The context keys the CDK CLI sets: --asset-metadata (on by default) and
// --no-staging (which SAM uses), as aws-cdk-lib's cx-api names them.
const (
	assetMetadataContext   = "aws:cdk:enable-asset-metadata"
	disableStagingContext  = "aws:cdk:disable-asset-staging"
	assetMetadataPath      = "aws:asset:path"
	assetMetadataIsBundled = "aws:asset:is-bundled"
	assetMetadataProperty  = "aws:asset:property"
)

// handlerLocation stages the handler for stack, once per stack, and returns the
// bucket and key its template names.
func handlerLocation(stack awscdk.Stack) stagedHandler {
	a, err := builtHandler()
	if err != nil {
		panic(err)
	}
	staged.Lock()
	defer staged.Unlock()
	if s, ok := staged.byStack[stack]; ok {
		return s
	}
	stage := awscdk.Stage_Of(stack)
	dir := a.dir // --no-staging: the assembly names the handler where it is
	if !contextTrue(stack.Node().TryGetContext(jsii.String(disableStagingContext))) {
		var err error
		if dir, err = stageHandlerDir(a, *stage.AssetOutdir()); err != nil {
			panic(&InputError{Construct: *stack.Node().Path(), Setting: "Lambda handler asset", Value: a.dir,
				Problem: fmt.Sprintf("cannot copy the handler into the cloud assembly: %v", err),
				Fix:     "check that the synth's output directory (cdk.out, or CDK_OUTDIR) is writable and has room"})
		}
	}
	// A staged asset is named relative to the assembly (AssetStaging's
	// relativeStagedPath); an unstaged one by its absolute path.
	rel := dir
	if dir != a.dir {
		if r, err := filepath.Rel(*stage.Outdir(), dir); err == nil {
			rel = r
		}
	}
	loc := stack.Synthesizer().AddFileAsset(&awscdk.FileAssetSource{
		SourceHash: jsii.String(assetHash(a)),
		FileName:   jsii.String(rel),
		Packaging:  awscdk.FileAssetPackaging_ZIP_DIRECTORY,
		// What `cdk deploy` prints while it publishes.
		DisplayName: jsii.String("restorable handlers"),
	})
	s := stagedHandler{bucket: loc.BucketName, key: loc.ObjectKey, path: rel,
		metadata: contextTrue(stack.Node().TryGetContext(jsii.String(assetMetadataContext)))}
	if staged.byStack == nil {
		staged.byStack = map[awscdk.Stack]stagedHandler{}
	}
	staged.byStack[stack] = s
	return s
}

// assetHash is the handler's asset hash as an awss3assets.Asset with
// AssetHashType CUSTOM and the binary's SHA-256 computed it before (the
// SHA-256 of that hash, aws-cdk-lib's AssetStaging.calculateHash): the same
// object key, so that upgrading restorable changes no function's code.
func assetHash(a handlerAsset) string {
	sum := sha256.Sum256([]byte(a.hash))
	return hex.EncodeToString(sum[:])
}

// contextTrue reads a boolean context value as the CDK does: true, or the
// string "true" that -c passes.
func contextTrue(v interface{}) bool {
	switch b := v.(type) {
	case bool:
		return b
	case *bool:
		return b != nil && *b
	case string:
		return b == "true"
	case *string:
		return b != nil && *b == "true"
	}
	return false
}

// stageHandlerDir copies the handler's directory into the assembly as
// asset.<hash>, unless an earlier synth into the same directory did: the
// directory appears whole or not at all (a copy under a temporary name, then
// a rename), so a cancelled synth leaves no half-copied asset behind, and a
// later synth removes the temporary copies an interrupted one left.
func stageHandlerDir(a handlerAsset, assetOutdir string) (string, error) {
	dir := filepath.Join(assetOutdir, "asset."+assetHash(a))
	// Whole: the right binary, and executable by Lambda (a copy an older
	// version staged under a tight umask has the right bytes and mode 0700).
	whole := func() bool {
		bootstrap := filepath.Join(dir, "bootstrap")
		info, err := os.Stat(bootstrap)
		if err != nil || info.Mode().Perm()&0o555 != 0o555 {
			return false
		}
		got, err := fileSHA256(bootstrap)
		return err == nil && got == a.hash
	}
	if whole() {
		return dir, nil
	}
	if err := os.MkdirAll(assetOutdir, 0o755); err != nil {
		return "", err
	}
	if old, _ := filepath.Glob(filepath.Join(assetOutdir, ".asset."+assetHash(a)+".*")); len(old) > 0 {
		for _, o := range old {
			if fi, err := os.Stat(o); err == nil && time.Since(fi.ModTime()) > time.Hour {
				os.RemoveAll(o)
			}
		}
	}
	tmp, err := os.MkdirTemp(assetOutdir, ".asset."+assetHash(a)+".")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	bootstrap := filepath.Join(tmp, "bootstrap")
	// A hard link where the cache and the assembly share a file system (no
	// 15 MB copy per synth, issue 24), a copy where they do not. Nothing
	// writes to a staged binary, and the cache checks its binary's SHA-256
	// before each use (lookupHandler).
	if err := linkFile(filepath.Join(a.dir, "bootstrap"), bootstrap); err != nil {
		if err := copyFile(filepath.Join(a.dir, "bootstrap"), bootstrap, 0o755); err != nil {
			return "", err
		}
	}
	// The zip keeps each file's mode, and Lambda runs bootstrap only if it is
	// executable: no umask may take the x bits away
	// (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-provided.html).
	if err := os.Chmod(bootstrap, 0o755); err != nil {
		return "", err
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, dir); err == nil || whole() {
		// Staged, or another synth into the same directory staged it first.
		return dir, nil
	}
	// A directory that is not whole (an older version's, or an interrupted
	// copy): moved aside first, so that a synth that staged it whole in the
	// meantime is seen, never deleted.
	aside := tmp + ".old"
	if err := os.Rename(dir, aside); err != nil && !os.IsNotExist(err) {
		return "", err
	}
	defer os.RemoveAll(aside)
	if err := os.Rename(tmp, dir); err != nil && !whole() {
		return "", err
	}
	return dir, nil
}

// linkFile is os.Link; a test makes it fail, as it does across file systems.
var linkFile = os.Link

// handlerCode is the Lambda code of the restorable handlers for a function in
// stack: the staged asset, by bucket and key.
func handlerCode(stack awscdk.Stack) *stagedCode {
	c := &stagedCode{at: handlerLocation(stack)}
	awslambda.NewCode_Override(c)
	return c
}

// addAssetMetadata marks fn's code as the staged asset, as an asset's code
// does when the CLI asks (aws:cdk:enable-asset-metadata), for SAM's local
// invoke.
func (c *stagedCode) addAssetMetadata(fn awslambda.Function) {
	if !c.at.metadata {
		return
	}
	r := fn.Node().DefaultChild().(awscdk.CfnResource)
	r.AddMetadata(jsii.String(assetMetadataPath), c.at.path)
	r.AddMetadata(jsii.String(assetMetadataIsBundled), false)
	r.AddMetadata(jsii.String(assetMetadataProperty), "Code")
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
