package restorable

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
)

// The Lambda handlers (the replacement guard, the EFS restore) are Go, built at
// synth by the local Go toolchain for provided.al2023 on arm64: no Docker.
//
// The build is reproducible, so the same source gives the same binary and the
// same asset hash on every synth and every machine, and an unchanged app shows
// no diff: the toolchain is pinned (GOTOOLCHAIN, which the go command downloads
// from the module proxy when the local Go differs), paths are trimmed, and the
// build ID, VCS stamp and symbol table are left out. It builds inside the
// restorable module itself (the repository, a replace directory, or the
// read-only module cache of an app that depends on restorable), with that
// module's go.mod and go.sum, so the app's own dependency versions do not
// change the handler.
const (
	modulePath     = "github.com/restorable-cdk/restorable"
	handlerPackage = "./internal/lambda"
	// HandlerGoToolchain is the Go toolchain that builds the Lambda handlers.
	HandlerGoToolchain = "go1.26.8"
	// ToolchainEnv overrides HandlerGoToolchain: "local" builds with the Go on
	// PATH (for machines without access to the module proxy), at the cost of an
	// asset hash that depends on that Go version.
	ToolchainEnv = "RESTORABLE_GO_TOOLCHAIN"
)

// handlerAsset is the built handler: a directory holding one executable named
// bootstrap, and the SHA-256 of that executable.
type handlerAsset struct {
	dir, hash string
}

var handlerBuild struct {
	once  sync.Once
	done  chan struct{}
	asset handlerAsset
	err   error
}

// startHandlerBuild looks up (or builds) the handler in the background, once
// per process: the first restorable construct of an app calls it, so that the
// lookup (a `go list`, and a SHA-256 of the sources and of the cached binary:
// about 30 ms) runs on the second core while the jsii kernel creates the
// constructs (issue 24). builtHandler waits for it.
func startHandlerBuild() {
	handlerBuild.once.Do(func() {
		handlerBuild.done = make(chan struct{})
		go func() {
			defer close(handlerBuild.done)
			handlerBuild.asset, handlerBuild.err = buildHandler()
		}()
	})
}

// When the CDK CLI runs the app, the cache lookup starts with the process,
// while awscdk.NewApp starts the jsii kernel (about 0.3 s), rather than at the
// first restorable construct, whose guard needs the handler a few milliseconds
// later: that took the lookup's 25 ms off the synth's critical path (issue
// 24). It only looks: a build, on a miss, waits for the first restorable
// construct, so an app that ends before one starts no `go build`. The CLI
// names the assembly's directory in CDK_OUTDIR for every app it runs
// (aws-cdk-lib's cx-api OUTDIR_ENV, packages/aws-cdk-lib/cx-api/lib/cxapi.ts);
// a program that merely imports restorable, such as a user's `go test`, does
// not set it and starts nothing.
func init() {
	if os.Getenv(outdirEnv) != "" {
		startEarlyLookup()
	}
}

func startEarlyLookup() {
	earlyLookup.done = make(chan struct{})
	go func() {
		defer close(earlyLookup.done)
		earlyLookup.asset, earlyLookup.found = findCachedHandler()
	}()
}

// earlyLookup is init's lookup; done is nil when init started none.
var earlyLookup struct {
	done  chan struct{}
	asset handlerAsset
	found bool
}

// outdirEnv is the variable through which the CDK CLI gives the app its
// output directory.
const outdirEnv = "CDK_OUTDIR"

// builtHandler is the handler, once startHandlerBuild's lookup or build ends.
func builtHandler() (handlerAsset, error) {
	startHandlerBuild()
	<-handlerBuild.done
	return handlerBuild.asset, handlerBuild.err
}

func buildHandler() (handlerAsset, error) {
	if earlyLookup.done != nil {
		<-earlyLookup.done
		if earlyLookup.found {
			return earlyLookup.asset, nil
		}
	}
	a, _, err := cachedBuild()
	return a, err
}

// findCachedHandler is cachedBuild's lookup alone: the handler that an earlier
// build made from the same sources, if the cache holds it.
func findCachedHandler() (handlerAsset, bool) {
	dir, err := moduleDir()
	if err != nil {
		return handlerAsset{}, false
	}
	key, err := sourceKey(dir, handlerToolchain())
	if err != nil {
		return handlerAsset{}, false
	}
	return lookupHandler(key)
}

// cachedBuild returns the handler from the user's cache when its sources,
// dependencies and toolchain are those of an earlier build (see sourceKey),
// and builds it otherwise. The go command's own build cache makes a rebuild
// fast, but still about half a second per synth, a sixth of a small app's
// whole synth.
func cachedBuild() (a handlerAsset, cached bool, err error) {
	dir, err := moduleDir()
	if err != nil {
		return handlerAsset{}, false, err
	}
	key, keyErr := sourceKey(dir, handlerToolchain())
	if keyErr == nil {
		if a, ok := lookupHandler(key); ok {
			return a, true, nil
		}
	}
	a, err = compileHandler(dir)
	if err == nil && keyErr == nil {
		rememberHandler(key, a.hash)
	}
	return a, false, err
}

// compileHandler builds the handler from the module in dir.
func compileHandler(dir string) (handlerAsset, error) {
	tmp, err := os.MkdirTemp("", "restorable-handler-")
	if err != nil {
		return handlerAsset{}, err
	}
	defer os.RemoveAll(tmp)
	out := filepath.Join(tmp, "bootstrap")
	cmd := exec.Command("go", "build", "-trimpath", "-buildvcs=false", "-tags", "lambda.norpc",
		"-ldflags", "-s -w -buildid=", "-o", out, handlerPackage)
	cmd.Dir = dir
	cmd.Env = handlerBuildEnv()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return handlerAsset{}, &InputError{Setting: "Lambda handler build",
			Problem: fmt.Sprintf("`go build %s` in %s failed: %v: %s", handlerPackage, dir, err, strings.TrimSpace(stderr.String())),
			Fix:     "synthesize with the Go toolchain on PATH and the Go module proxy reachable (the handler is built with " + HandlerGoToolchain + "; set " + ToolchainEnv + "=local to use the local Go instead)"}
	}
	hash, err := fileSHA256(out)
	if err != nil {
		return handlerAsset{}, err
	}
	return storeHandler(out, hash)
}

// sourceKey digests everything the handler binary is built from: the
// toolchain, the module's go.mod and go.sum (which pin every dependency), and
// every Go source file under internal/ (the handler and the packages it
// imports from this module), test files left out.
func sourceKey(dir, toolchain string) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "toolchain %s\nflags -trimpath -buildvcs=false -tags lambda.norpc -ldflags -s -w -buildid= linux/arm64\n", toolchain)
	files := []string{filepath.Join(dir, "go.mod"), filepath.Join(dir, "go.sum")}
	err := filepath.WalkDir(filepath.Join(dir, "internal"), func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, "_test.go") {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			return "", err
		}
		rel, _ := filepath.Rel(dir, f)
		fmt.Fprintf(h, "%s %d\n", filepath.ToSlash(rel), len(raw))
		h.Write(raw)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// lookupHandler finds the binary an earlier build made from the same
// sources, and checks it against its hash.
func lookupHandler(key string) (handlerAsset, bool) {
	root, err := os.UserCacheDir()
	if err != nil {
		return handlerAsset{}, false
	}
	raw, err := os.ReadFile(filepath.Join(root, "restorable", "lambda", "sources", key))
	hash := strings.TrimSpace(string(raw))
	if err != nil || len(hash) != 64 {
		return handlerAsset{}, false
	}
	dir := filepath.Join(root, "restorable", "lambda", hash)
	if got, err := fileSHA256(filepath.Join(dir, "bootstrap")); err != nil || got != hash {
		return handlerAsset{}, false
	}
	return handlerAsset{dir: dir, hash: hash}, true
}

// rememberHandler records which binary the sources with this key built.
func rememberHandler(key, hash string) {
	root, err := os.UserCacheDir()
	if err != nil {
		return
	}
	dir := filepath.Join(root, "restorable", "lambda", "sources")
	if os.MkdirAll(dir, 0o700) != nil {
		return
	}
	tmp := filepath.Join(dir, key+".tmp")
	if os.WriteFile(tmp, []byte(hash+"\n"), 0o600) == nil {
		_ = os.Rename(tmp, filepath.Join(dir, key))
	}
}

// handlerToolchain is the toolchain that builds the handler.
func handlerToolchain() string {
	if v := os.Getenv(ToolchainEnv); v != "" {
		return v
	}
	return HandlerGoToolchain
}

// handlerBuildEnv pins everything that changes the binary.
func handlerBuildEnv() []string {
	toolchain := handlerToolchain()
	var env []string
	for _, kv := range os.Environ() {
		switch strings.SplitN(kv, "=", 2)[0] {
		case "GOOS", "GOARCH", "GOARM64", "CGO_ENABLED", "GOFLAGS", "GOWORK", "GOTOOLCHAIN", "GOEXPERIMENT", "GO111MODULE":
			continue
		}
		env = append(env, kv)
	}
	return append(env, "GOOS=linux", "GOARCH=arm64", "GOARM64=v8.0", "CGO_ENABLED=0",
		"GOFLAGS=-mod=readonly", "GOWORK=off", "GO111MODULE=on", "GOTOOLCHAIN="+toolchain)
}

// storeHandler moves the binary into a content-addressed cache directory, so
// that the asset directory never changes under a given hash. The cache is the
// user's own (os.UserCacheDir, created 0700); without one, the binary goes to a
// new private temporary directory of this process, never to a shared,
// world-writable path where another user could plant a binary under the hash.
func storeHandler(binary, hash string) (handlerAsset, error) {
	var dir string
	if root, err := os.UserCacheDir(); err == nil {
		dir = filepath.Join(root, "restorable", "lambda", hash)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return handlerAsset{}, err
		}
		// A directory an older version created with wider permissions.
		if err := os.Chmod(dir, 0o700); err != nil {
			return handlerAsset{}, err
		}
	} else if dir, err = os.MkdirTemp("", "restorable-lambda-"); err != nil {
		return handlerAsset{}, err
	}
	target := filepath.Join(dir, "bootstrap")
	if got, err := fileSHA256(target); err == nil && got == hash {
		return handlerAsset{dir: dir, hash: hash}, nil
	}
	if err := copyFile(binary, target+".tmp", 0o755); err != nil {
		return handlerAsset{}, err
	}
	if err := os.Rename(target+".tmp", target); err != nil {
		return handlerAsset{}, err
	}
	return handlerAsset{dir: dir, hash: hash}, nil
}

// moduleDir finds the restorable module's source directory: through the go
// command in the app's module (the usual case, `go run` from cdk.json), or else
// through the version this binary was built with.
func moduleDir() (string, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", modulePath).Output()
	if dir := strings.TrimSpace(string(out)); err == nil && dir != "" {
		return dir, nil
	}
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range info.Deps {
			if dep.Path == modulePath && dep.Version != "" && dep.Version != "(devel)" {
				raw, dlErr := exec.Command("go", "mod", "download", "-json", modulePath+"@"+dep.Version).Output()
				var mod struct{ Dir string }
				if dlErr == nil && json.Unmarshal(raw, &mod) == nil && mod.Dir != "" {
					return mod.Dir, nil
				}
			}
		}
	}
	return "", &InputError{Setting: "Lambda handler build",
		Problem: fmt.Sprintf("cannot find the source of %s (go list -m: %v)", modulePath, err),
		Fix:     "synthesize from inside the Go module of your CDK app (cdk.json: \"app\": \"go run .\"), with the Go toolchain on PATH"}
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func copyFile(from, to string, mode os.FileMode) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
