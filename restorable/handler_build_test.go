package restorable

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHandlerBuildIsReproducible(t *testing.T) {
	// GIVEN the handler compiled twice, as two synths on two machines would
	dir, err := moduleDir()
	require.NoError(t, err)
	first, err := compileHandler(dir)
	require.NoError(t, err)
	second, err := compileHandler(dir)
	require.NoError(t, err)
	// THEN both builds are byte for byte the same, so the asset hash is too
	assert.Equal(t, first.hash, second.hash)
	assert.Equal(t, first.dir, second.dir)
	assert.Equal(t, first.hash, filepath.Base(first.dir), "the cache directory is content-addressed")
	// AND the asset is one executable named bootstrap, for Linux on arm64
	entries, err := os.ReadDir(first.dir)
	require.NoError(t, err)
	require.Len(t, entries, 1)
	assert.Equal(t, "bootstrap", entries[0].Name())
	info, err := entries[0].Info()
	require.NoError(t, err)
	assert.NotZero(t, info.Mode()&0o111, "executable")
	bin, err := elf.Open(filepath.Join(first.dir, "bootstrap"))
	require.NoError(t, err)
	defer bin.Close()
	assert.Equal(t, elf.EM_AARCH64, bin.Machine)
	assert.Equal(t, elf.ELFOSABI_NONE, bin.OSABI)
	// AND it carries no build ID, VCS stamp or symbol table that would differ
	assert.Nil(t, bin.Section(".symtab"))
	assert.Nil(t, bin.Section(".note.go.buildid"))
}

func TestHandlerBuildEnvPinsEverythingThatChangesTheBinary(t *testing.T) {
	t.Setenv("GOFLAGS", "-race")
	t.Setenv("GOARCH", "amd64")
	t.Setenv("GOEXPERIMENT", "boringcrypto")
	env := handlerBuildEnv()
	for _, want := range []string{"GOOS=linux", "GOARCH=arm64", "GOARM64=v8.0", "CGO_ENABLED=0", "GOFLAGS=-mod=readonly", "GOWORK=off", "GOTOOLCHAIN=" + HandlerGoToolchain} {
		assert.Contains(t, env, want)
	}
	for _, unwanted := range []string{"GOFLAGS=-race", "GOARCH=amd64", "GOEXPERIMENT=boringcrypto"} {
		assert.NotContains(t, env, unwanted)
	}
	t.Setenv(ToolchainEnv, "local")
	assert.Contains(t, handlerBuildEnv(), "GOTOOLCHAIN=local")
}

func TestHandlerCacheIsPrivate(t *testing.T) {
	src := filepath.Join(t.TempDir(), "bootstrap")
	require.NoError(t, os.WriteFile(src, []byte("binary"), 0o755))
	hash, err := fileSHA256(src)
	require.NoError(t, err)
	t.Run("in the user's cache directory", func(t *testing.T) {
		t.Setenv("XDG_CACHE_HOME", t.TempDir())
		a, err := storeHandler(src, hash)
		require.NoError(t, err)
		info, err := os.Stat(a.dir)
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o700), info.Mode().Perm())
	})
	t.Run("without a user cache directory", func(t *testing.T) {
		// GIVEN no cache directory (os.UserCacheDir fails without both)
		t.Setenv("XDG_CACHE_HOME", "")
		t.Setenv("HOME", "")
		t.Setenv("TMPDIR", t.TempDir())
		// WHEN the binary is stored twice, as two processes would
		a, err := storeHandler(src, hash)
		require.NoError(t, err)
		b, err := storeHandler(src, hash)
		require.NoError(t, err)
		// THEN each goes to its own new directory that only this user can
		// write, never to a path another user could prepare
		assert.NotEqual(t, a.dir, b.dir)
		for _, d := range []string{a.dir, b.dir} {
			info, err := os.Stat(d)
			require.NoError(t, err)
			assert.Equal(t, os.FileMode(0o700), info.Mode().Perm())
			got, err := fileSHA256(filepath.Join(d, "bootstrap"))
			require.NoError(t, err)
			assert.Equal(t, hash, got)
		}
	})
}

func TestAnUnchangedHandlerIsNotBuiltAgain(t *testing.T) {
	// GIVEN an empty cache (the go command's own build cache stays where it
	// is, which XDG_CACHE_HOME would otherwise move)
	gocache, err := exec.Command("go", "env", "GOCACHE").Output()
	require.NoError(t, err)
	t.Setenv("GOCACHE", strings.TrimSpace(string(gocache)))
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	// WHEN the handler is needed twice, as two synths would
	first, cached, err := cachedBuild()
	require.NoError(t, err)
	assert.False(t, cached, "the first synth builds")
	second, cached, err := cachedBuild()
	require.NoError(t, err)
	// THEN the second takes the first's binary from the cache
	assert.True(t, cached, "the second synth does not build")
	assert.Equal(t, first, second)
	// AND the lookup that starts with a process the CDK CLI runs finds the
	// same binary, which the handler build then takes without looking again
	t.Cleanup(func() { earlyLookup.done, earlyLookup.asset, earlyLookup.found = nil, handlerAsset{}, false })
	startEarlyLookup()
	<-earlyLookup.done
	assert.True(t, earlyLookup.found)
	assert.Equal(t, first, earlyLookup.asset)
	early, err := buildHandler()
	require.NoError(t, err)
	assert.Equal(t, first, early)
	// AND a binary changed in the cache is not taken, by either
	require.NoError(t, os.WriteFile(filepath.Join(first.dir, "bootstrap"), []byte("planted"), 0o755))
	_, cached, err = cachedBuild()
	require.NoError(t, err)
	assert.False(t, cached)
	require.NoError(t, os.WriteFile(filepath.Join(first.dir, "bootstrap"), []byte("planted"), 0o755))
	startEarlyLookup()
	<-earlyLookup.done
	assert.False(t, earlyLookup.found, "a changed binary is not taken early either")
}

func TestTheSourceKeyFollowsEverySourceOfTheBinary(t *testing.T) {
	dir := t.TempDir()
	write := func(rel, content string) {
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(dir, rel)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, rel), []byte(content), 0o644))
	}
	write("go.mod", "module example.com/m\n")
	write("go.sum", "")
	write("internal/lambda/main.go", "package main\n")
	write("internal/guard/guard.go", "package guard\n")
	key := func(toolchain string) string {
		k, err := sourceKey(dir, toolchain)
		require.NoError(t, err)
		return k
	}
	base := key("go1.26.8")
	write("internal/guard/guard_test.go", "package guard // tests are not in the binary\n")
	assert.Equal(t, base, key("go1.26.8"))
	for name, change := range map[string]func(){
		"a handler source": func() { write("internal/guard/guard.go", "package guard\n\nvar x = 1\n") },
		"a dependency":     func() { write("go.sum", "example.com/dep v1.0.0 h1:abc=\n") },
		"a new file":       func() { write("internal/guard/more.go", "package guard\n") },
	} {
		change()
		next := key("go1.26.8")
		assert.NotEqual(t, base, next, name)
		base = next
	}
	assert.NotEqual(t, base, key("local"), "the toolchain")
}
