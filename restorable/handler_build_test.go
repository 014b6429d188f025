package restorable

import (
	"debug/elf"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHandlerBuildIsReproducible(t *testing.T) {
	// GIVEN the handler built twice, as two synths on two machines would
	first, err := buildHandler()
	require.NoError(t, err)
	second, err := buildHandler()
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
