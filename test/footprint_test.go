package test

import (
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restorable-cdk/restorable/examples/footprint"
)

// footprintTemplate synthesizes the footprint app (a VPC, n Aurora clusters
// with a writer and a reader, n file systems, a daily and monthly backup plan)
// in this process.
func footprintTemplate(t *testing.T, variant footprint.Variant, n int) map[string]interface{} {
	t.Helper()
	ctx := appContext(nil)
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(t.TempDir()), Context: &ctx})
	return templateJSON(t, footprint.New(app, variant, n))
}

func TestAnIdleStackCarriesOnlyTheGuard(t *testing.T) {
	for _, variant := range []footprint.Variant{footprint.Restorable, footprint.RestorableDrills} {
		t.Run(string(variant), func(t *testing.T) {
			// GIVEN the footprint app with one and with two clusters and file
			// systems, every default on (and drills), and no restore requested
			one := footprintTemplate(t, variant, 1)
			two := footprintTemplate(t, variant, 2)
			functions := func(tmpl map[string]interface{}) []string {
				ids, fns := resourcesOfType(t, tmpl, "AWS::Lambda::Function")
				for i, fn := range fns {
					assert.NotContains(t, props(fn), "VpcConfig", "%s is in a VPC", ids[i])
				}
				return ids
			}
			// THEN restorable adds one Lambda function, the guard, in no VPC:
			// the drill's functions exist only while a drill runs
			assert.Len(t, functions(one), 1)
			guard, _ := functionWithHandler(t, one, "guard")
			assert.Equal(t, []string{guard}, functions(one))
			// AND each further cluster and file system adds at most 20
			// resources (the plain L2s add 11) and no function
			r1, r2 := len(one["Resources"].(map[string]interface{})), len(two["Resources"].(map[string]interface{}))
			t.Logf("%s: %d resources with one pair, %d with two", variant, r1, r2)
			assert.LessOrEqual(t, r2-r1, 20)
			assert.Len(t, functions(two), 1)
			// AND nothing of the EFS restore is there
			assert.Empty(t, underPath(two, "FootprintStack/RestorableEfsRestore", ""))
		})
	}
}

// rounded is the samples to 10 ms, for the log.
func rounded(d []time.Duration) []time.Duration {
	out := make([]time.Duration, len(d))
	for i, v := range d {
		out[i] = v.Round(10 * time.Millisecond)
	}
	return out
}

// BenchmarkWholeProcessSynth synthesizes the footprint app (one cluster, one
// file system) as `cdk synth` does, one process per synth, alternating the
// plain-L2 and restorable versions, and reports each median and their ratio.
// `make bench` runs it.
//
// Most of either process is aws-cdk-lib's CloudFormation validation, whose
// engine start-up alone varies by some 0.5 s between identical runs on a
// 2-core machine, so the pairs are many and the spread is logged. The same
// pairs without that validation (CDK_VALIDATION=false) give what
// restorable's constructs and their synth cost, which varies far less:
// reported as the difference of the medians, novalidation-extra-ms.
func BenchmarkWholeProcessSynth(b *testing.B) {
	bin := filepath.Join(b.TempDir(), "footprint")
	root, err := filepath.Abs(repoRoot)
	require.NoError(b, err)
	build := exec.Command("go", "build", "-o", bin, "./examples/footprint/cmd/footprint")
	build.Dir = root
	out, err := build.CombinedOutput()
	require.NoError(b, err, string(out))
	run := func(variant string, validate bool) time.Duration {
		outdir := b.TempDir()
		cmd := exec.Command(bin, variant, "1")
		cmd.Dir = root
		// The caller's CDK_VALIDATION is not inherited: each run validates
		// or not as its series says.
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, "CDK_VALIDATION=") {
				cmd.Env = append(cmd.Env, kv)
			}
		}
		cmd.Env = append(cmd.Env, "CDK_OUTDIR="+outdir)
		if !validate {
			cmd.Env = append(cmd.Env, "CDK_VALIDATION=false")
		}
		start := time.Now()
		out, err := cmd.CombinedOutput()
		require.NoError(b, err, string(out))
		return time.Since(start)
	}
	// Warm the handler cache, the go command's, and both variants.
	for _, v := range []string{"restorable", "plain"} {
		run(v, true)
		run(v, false)
	}
	b.ResetTimer()
	median := func(d []time.Duration) time.Duration {
		s := append([]time.Duration(nil), d...)
		sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
		return s[len(s)/2]
	}
	const pairs = 11
	for i := 0; i < b.N; i++ {
		var plain, rest, plainNV, restNV []time.Duration
		for p := 0; p < pairs; p++ {
			plain = append(plain, run("plain", true))
			rest = append(rest, run("restorable", true))
			plainNV = append(plainNV, run("plain", false))
			restNV = append(restNV, run("restorable", false))
		}
		mp, mr := median(plain), median(rest)
		b.ReportMetric(float64(mp.Milliseconds()), "plain-ms")
		b.ReportMetric(float64(mr.Milliseconds()), "restorable-ms")
		b.ReportMetric(float64(mr)/float64(mp), "ratio")
		extra := median(restNV) - median(plainNV)
		b.ReportMetric(float64(extra.Milliseconds()), "novalidation-extra-ms")
		b.Logf("median of %d whole-process synths: plain %v, restorable %v, ratio %.3f", pairs, mp.Round(time.Millisecond), mr.Round(time.Millisecond),
			float64(mr)/float64(mp))
		// The spread, for a reader who compares two runs on a shared machine,
		// and each pair's own ratio (its two runs are adjacent in time).
		b.Logf("plain %v; restorable %v", rounded(plain), rounded(rest))
		var own []float64
		for p := range plain {
			own = append(own, float64(rest[p])/float64(plain[p]))
		}
		sort.Float64s(own)
		b.Logf("median of the pairs' own ratios %.3f (from %.3f to %.3f)", own[len(own)/2], own[0], own[len(own)-1])
		b.Logf("without CloudFormation validation: plain %v, restorable %v (restorable's extra, the difference of the medians: %v)",
			median(plainNV).Round(time.Millisecond), median(restNV).Round(time.Millisecond), extra.Round(time.Millisecond))
		b.Logf("without validation: plain %v; restorable %v", rounded(plainNV), rounded(restNV))
	}
}
