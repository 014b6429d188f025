package restorable

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeHandler is a handler directory with a small bootstrap, and its hash.
func fakeHandler(t *testing.T, content string) handlerAsset {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "bootstrap")
	require.NoError(t, os.WriteFile(path, []byte(content), 0o755))
	hash, err := fileSHA256(path)
	require.NoError(t, err)
	return handlerAsset{dir: dir, hash: hash}
}

func TestTheHandlerIsStagedWholeAndExecutable(t *testing.T) {
	a := fakeHandler(t, "#!/bin/sh\necho handler\n")
	out := t.TempDir()
	// A hardened runner's umask would take the execute bits from a copy.
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)

	t.Run("a copy named by the asset hash, whose bootstrap Lambda can run", func(t *testing.T) {
		dir, err := stageHandlerDir(a, out)
		require.NoError(t, err)
		assert.Equal(t, filepath.Join(out, "asset."+assetHash(a)), dir)
		info, err := os.Stat(filepath.Join(dir, "bootstrap"))
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o755), info.Mode().Perm())
		got, err := fileSHA256(filepath.Join(dir, "bootstrap"))
		require.NoError(t, err)
		assert.Equal(t, a.hash, got)
		// On one file system, a hard link to the cached binary: no copy.
		cached, err := os.Stat(filepath.Join(a.dir, "bootstrap"))
		require.NoError(t, err)
		assert.True(t, os.SameFile(cached, info), "the staged bootstrap is the cached file, linked")
	})
	t.Run("across file systems, where no hard link can be made, a copy", func(t *testing.T) {
		linkFile = func(string, string) error { return &os.LinkError{Op: "link", Err: syscall.EXDEV} }
		defer func() { linkFile = os.Link }()
		other := t.TempDir()
		dir, err := stageHandlerDir(a, other)
		require.NoError(t, err)
		info, err := os.Stat(filepath.Join(dir, "bootstrap"))
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o755), info.Mode().Perm(), "executable despite the umask")
		cached, err := os.Stat(filepath.Join(a.dir, "bootstrap"))
		require.NoError(t, err)
		assert.False(t, os.SameFile(cached, info), "a copy")
		got, err := fileSHA256(filepath.Join(dir, "bootstrap"))
		require.NoError(t, err)
		assert.Equal(t, a.hash, got)
	})
	t.Run("a second synth into the same assembly keeps the copy", func(t *testing.T) {
		dir := filepath.Join(out, "asset."+assetHash(a))
		marker := filepath.Join(dir, "kept")
		require.NoError(t, os.WriteFile(marker, nil, 0o644))
		_, err := stageHandlerDir(a, out)
		require.NoError(t, err)
		assert.FileExists(t, marker)
	})
	t.Run("a partial copy is replaced, and old temporary copies are removed", func(t *testing.T) {
		b := fakeHandler(t, "#!/bin/sh\necho other\n")
		dir := filepath.Join(out, "asset."+assetHash(b))
		require.NoError(t, os.MkdirAll(dir, 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "bootstrap"), []byte("#!/bin/sh\necho"), 0o755))
		stale := filepath.Join(out, ".asset."+assetHash(b)+".123")
		fresh := filepath.Join(out, ".asset."+assetHash(b)+".456")
		require.NoError(t, os.MkdirAll(stale, 0o755))
		require.NoError(t, os.MkdirAll(fresh, 0o755))
		long := time.Now().Add(-2 * time.Hour)
		require.NoError(t, os.Chtimes(stale, long, long))
		_, err := stageHandlerDir(b, out)
		require.NoError(t, err)
		got, err := fileSHA256(filepath.Join(dir, "bootstrap"))
		require.NoError(t, err)
		assert.Equal(t, b.hash, got)
		assert.NoDirExists(t, stale)
		assert.DirExists(t, fresh, "a synth running now may own it")
	})
	t.Run("an older copy with the right bytes but not executable by Lambda is staged again", func(t *testing.T) {
		c := fakeHandler(t, "#!/bin/sh\necho third\n")
		dir := filepath.Join(out, "asset."+assetHash(c))
		require.NoError(t, os.MkdirAll(dir, 0o700))
		raw, err := os.ReadFile(filepath.Join(c.dir, "bootstrap"))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, "bootstrap"), raw, 0o700))
		_, err = stageHandlerDir(c, out)
		require.NoError(t, err)
		info, err := os.Stat(filepath.Join(dir, "bootstrap"))
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o755), info.Mode().Perm())
		left, _ := filepath.Glob(filepath.Join(out, ".asset."+assetHash(c)+".*"))
		assert.Empty(t, left, "no temporary or set-aside copy stays")
	})
	t.Run("the hash is the one an Asset with the same custom hash had, so an upgrade changes no code", func(t *testing.T) {
		// sha256("abc"), as AssetStaging.calculateHash computes a CUSTOM hash.
		assert.Equal(t, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", assetHash(handlerAsset{hash: "abc"}))
	})
}

// synthAssets synthesizes a stack that holds the guard, with ctx, and returns
// the guard function's metadata, the handler's source path in the asset
// manifest, and the assembly's directory.
func synthAssets(t *testing.T, ctx map[string]interface{}) (meta map[string]interface{}, source, outdir string) {
	t.Helper()
	outdir = t.TempDir()
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(outdir), Context: &ctx})
	stack := awscdk.NewStack(app, jsii.String("Assets"), &awscdk.StackProps{
		Env: &awscdk.Environment{Account: jsii.String("123456789012"), Region: jsii.String("ap-northeast-1")}})
	StackProtection(stack)
	app.Synth(nil)
	raw, err := os.ReadFile(filepath.Join(outdir, "Assets.template.json"))
	require.NoError(t, err)
	var tmpl struct {
		Resources map[string]struct {
			Type       string
			Metadata   map[string]interface{}
			Properties struct{ Code struct{ S3Key string } }
		}
	}
	require.NoError(t, json.Unmarshal(raw, &tmpl))
	var key string
	for _, r := range tmpl.Resources {
		if r.Type == "AWS::Lambda::Function" {
			require.Empty(t, key, "one function, the guard")
			key, meta = r.Properties.Code.S3Key, r.Metadata
		}
	}
	raw, err = os.ReadFile(filepath.Join(outdir, "Assets.assets.json"))
	require.NoError(t, err)
	var assets struct {
		Files map[string]struct {
			Source struct{ Path, Packaging string }
		}
	}
	require.NoError(t, json.Unmarshal(raw, &assets))
	a, ok := assets.Files[strings.TrimSuffix(key, ".zip")]
	require.True(t, ok, "the manifest lists the function's code %s", key)
	assert.Equal(t, "zip", a.Source.Packaging)
	return meta, a.Source.Path, outdir
}

func TestTheHandlerAssetFollowsTheCLIsStagingAndMetadataSettings(t *testing.T) {
	t.Run("staged by default, relative to the assembly, without metadata unless the CLI asks", func(t *testing.T) {
		meta, source, outdir := synthAssets(t, map[string]interface{}{})
		assert.False(t, filepath.IsAbs(source), source)
		assert.FileExists(t, filepath.Join(outdir, source, "bootstrap"))
		assert.NotContains(t, meta, assetMetadataPath)
	})
	t.Run("with --no-staging and --asset-metadata, named where it is, as SAM reads it", func(t *testing.T) {
		meta, source, outdir := synthAssets(t, map[string]interface{}{disableStagingContext: true, assetMetadataContext: true})
		assert.Equal(t, handlerBuild.asset.dir, source)
		staged, _ := filepath.Glob(filepath.Join(outdir, "asset.*"))
		assert.Empty(t, staged, "nothing copied into the assembly")
		assert.Equal(t, source, meta[assetMetadataPath])
		assert.Equal(t, false, meta[assetMetadataIsBundled])
		assert.Equal(t, "Code", meta[assetMetadataProperty])
	})
}
