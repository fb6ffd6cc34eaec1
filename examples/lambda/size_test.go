package main

import (
	"archive/zip"
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/resumecounter/counter/internal/testenv"
)

// maxZip is the deployment package size this example promises.
const maxZip = 5 << 20

// TestDeploymentSize builds the function exactly as the README does
// (linux/arm64, lambda.norpc, stripped), zips it and checks the zip against
// maxZip.
func TestDeploymentSize(t *testing.T) {
	if testing.Short() {
		t.Skip("cross-compiles for arm64; skipped with -short")
	}
	dir := t.TempDir()
	for _, prog := range []struct{ name, pkg string }{{"counter", "."}, {"hello", "./testdata/hello"}} {
		out := filepath.Join(dir, prog.name)
		cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-ldflags", "-s -w", "-o", filepath.Join(out, "bootstrap"), prog.pkg)
		cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0")
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("build %s: %v\n%s", prog.name, err, b)
		}
		bin, zipped := sizes(t, filepath.Join(out, "bootstrap"))
		t.Logf("%s linux/arm64: bootstrap %d bytes (%.1f MiB), zip %d bytes (%.1f MiB)", prog.name, bin, float64(bin)/(1<<20), zipped, float64(zipped)/(1<<20))
		if zipped > maxZip {
			t.Errorf("%s: zip is %d bytes, over %d", prog.name, zipped, maxZip)
		}
	}
}

// sizes returns the size of the binary and of a zip holding it as
// "bootstrap", as `zip function.zip bootstrap` makes it.
func sizes(t *testing.T, bootstrap string) (bin, zipped int64) {
	t.Helper()
	f, err := os.Open(bootstrap)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	hdr, err := zip.FileInfoHeader(st)
	if err != nil {
		t.Fatal(err)
	}
	hdr.Name, hdr.Method = "bootstrap", zip.Deflate
	w, err := zw.CreateHeader(hdr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(w, f); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return st.Size(), int64(buf.Len())
}

var (
	initReport = regexp.MustCompile(`INIT REPORT\(durationMs: ([0-9.]+)\)`)
	// A line of GODEBUG=inittrace=1: one package's init functions.
	initTrace = regexp.MustCompile(`(?m)^init (\S+) @[0-9.]+ ms, ([0-9.]+) ms clock, [0-9]+ bytes, [0-9]+ allocs`)
)

// pkgInit sums the package init times in a GODEBUG=inittrace=1 log: all
// packages, and those of the AWS SDK (aws-sdk-go-v2 and smithy-go). The
// emulator, started with the same environment, traces its own inits first:
// only lines after its INIT START are the function's.
func pkgInit(log string) (all, sdk float64, n int) {
	_, log, ok := strings.Cut(log, "INIT START")
	if !ok {
		return 0, 0, 0
	}
	for _, m := range initTrace.FindAllStringSubmatch(log, -1) {
		ms, _ := strconv.ParseFloat(m[2], 64)
		all += ms
		if strings.HasPrefix(m[1], "github.com/aws/aws-sdk-go-v2") || strings.HasPrefix(m[1], "github.com/aws/smithy-go") {
			sdk += ms
		}
		n++
	}
	return all, sdk, n
}

// BenchmarkColdStart starts a fresh emulator and binary per iteration and
// invokes it once, for the counter and for a hello-world function built the
// same way. It reports the time to the first answer (process start, init
// and one invocation, which for the counter includes its first DynamoDB
// call) with the counter/hello ratio, and the init breakdown: the
// emulator's init duration (process start to the runtime asking for its
// first event, what Lambda bills as Init Duration) and, from
// GODEBUG=inittrace=1, the time spent in package init functions, all and
// the AWS SDK's. Figures are medians over the iterations.
//
// The counter counts unique visitors (COUNTER_VISITORS on, the default) and
// the event comes from a browser, so its first answer includes fetching the
// day's salt. Beside it runs the seed's Python function
// (testdata/seed-python: boto3, one UpdateItem, under a minimal runtime
// loop), reported as seed-first-ms and seed-init-ms with the counter/seed
// ratio seed-ratio, when python3 with boto3 is installed (Debian
// python3-boto3; scripts/bench.sh installs it).
func BenchmarkColdStart(b *testing.B) {
	testenv.RIE(b)
	client := testenv.Dynalite(b)
	table := testenv.CreateTable(b, client, "id")
	counterBin := bootstrap(b)
	helloDir := b.TempDir()
	if out, err := goBuild(helloDir, "./testdata/hello"); err != nil {
		b.Fatalf("build hello: %v\n%s", err, out)
	}
	helloBin := filepath.Join(helloDir, "bootstrap")
	home := b.TempDir()
	env := []string{
		"AWS_ENDPOINT_URL_DYNAMODB=" + testenv.DynaliteEndpoint(b),
		"AWS_ACCESS_KEY_ID=test",
		"AWS_SECRET_ACCESS_KEY=test",
		"AWS_REGION=us-east-1",
		"HOME=" + home,
		"AWS_CONFIG_FILE=" + filepath.Join(home, "config"),
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "credentials"),
		"COUNTER_TABLE=" + table,
		"GODEBUG=inittrace=1", // the runtime traces package inits to stderr
	}
	ev, err := os.ReadFile(filepath.Join("testdata", "function-url.json"))
	if err != nil {
		b.Fatal(err)
	}

	// coldStart runs one fresh emulator with bin and returns the init
	// duration it reports, the first invocation's latency and the time in
	// package init functions (all, the SDK's), in ms.
	coldStart := func(bin string) (initMs, firstMs, pkgMs, sdkMs float64) {
		fn := testenv.StartLambda(b, bin, env...)
		start := time.Now()
		out := fn.Invoke(b, ev)
		firstMs = float64(time.Since(start).Microseconds()) / 1000
		if !bytes.Contains(out, []byte(`"statusCode":200`)) {
			b.Fatalf("%s answered %s", bin, out)
		}
		// The emulator writes the report as the runtime asks for its
		// first event, before the answer; give its log a moment anyway.
		for deadline := time.Now().Add(time.Second); ; time.Sleep(time.Millisecond) {
			if m := initReport.FindStringSubmatch(fn.Log()); m != nil {
				initMs, _ = strconv.ParseFloat(m[1], 64)
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("no INIT REPORT in the emulator log:\n%s", fn.Log())
			}
		}
		pkgMs, sdkMs, n := pkgInit(fn.Log())
		if n == 0 {
			b.Fatalf("no GODEBUG=inittrace=1 lines in the emulator log:\n%s", fn.Log())
		}
		return initMs, firstMs, pkgMs, sdkMs
	}

	// seedStart does the same for the seed's Python function: the init
	// duration and the first answer's latency, in ms.
	seedBin, err := filepath.Abs(filepath.Join("testdata", "seed-python", "bootstrap"))
	if err != nil {
		b.Fatal(err)
	}
	withSeed := exec.Command("python3", "-c", "import boto3").Run() == nil
	if !withSeed {
		b.Log("python3 with boto3 not found: the seed's Python function is not measured (apt-get install python3-boto3)")
	}
	seedStart := func() (initMs, firstMs float64) {
		// Lambda sets AWS_DEFAULT_REGION beside AWS_REGION; boto3 reads it.
		// No __pycache__ written into testdata.
		fn := testenv.StartLambda(b, seedBin, append(env, "AWS_DEFAULT_REGION=us-east-1", "PYTHONDONTWRITEBYTECODE=1")...)
		start := time.Now()
		out := fn.Invoke(b, ev)
		firstMs = float64(time.Since(start).Microseconds()) / 1000
		if !bytes.Contains(out, []byte(`"statusCode": 200`)) && !bytes.Contains(out, []byte(`"statusCode":200`)) {
			b.Fatalf("the seed's function answered %s\n%s", out, fn.Log())
		}
		for deadline := time.Now().Add(time.Second); ; time.Sleep(time.Millisecond) {
			if m := initReport.FindStringSubmatch(fn.Log()); m != nil {
				initMs, _ = strconv.ParseFloat(m[1], 64)
				return initMs, firstMs
			}
			if time.Now().After(deadline) {
				b.Fatalf("no INIT REPORT in the emulator log:\n%s", fn.Log())
			}
		}
	}

	// Medians: other processes on a shared machine make the means jumpy.
	var counterInit, helloInit, counterFirst, helloFirst, counterPkg, helloPkg, counterSDK, seedInit, seedFirst []float64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ci, cf, cp, cs := coldStart(counterBin) // interleaved, so drift hits all alike
		hi, hf, hp, _ := coldStart(helloBin)
		counterInit, counterFirst = append(counterInit, ci), append(counterFirst, cf)
		helloInit, helloFirst = append(helloInit, hi), append(helloFirst, hf)
		counterPkg, helloPkg, counterSDK = append(counterPkg, cp), append(helloPkg, hp), append(counterSDK, cs)
		if withSeed {
			si, sf := seedStart()
			seedInit, seedFirst = append(seedInit, si), append(seedFirst, sf)
		}
	}
	if withSeed {
		b.ReportMetric(median(seedFirst), "seed-first-ms")
		b.ReportMetric(median(seedInit), "seed-init-ms")
		b.ReportMetric(median(counterFirst)/median(seedFirst), "seed-ratio")
	}
	cf, hf := median(counterFirst), median(helloFirst)
	b.ReportMetric(cf, "counter-first-ms")
	b.ReportMetric(hf, "hello-first-ms")
	b.ReportMetric(cf/hf, "first-ratio")
	b.ReportMetric(median(counterInit), "counter-init-ms")
	b.ReportMetric(median(helloInit), "hello-init-ms")
	b.ReportMetric(median(counterPkg), "counter-pkginit-ms")
	b.ReportMetric(median(helloPkg), "hello-pkginit-ms")
	b.ReportMetric(median(counterSDK), "counter-sdkinit-ms")
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// The cold-start breakdown counts the function's package inits only, not
// the emulator's, which trace first with the same GODEBUG.
func TestPkgInit(t *testing.T) {
	log := `init github.com/aws/aws-lambda-runtime-interface-emulator/internal/telemetry @489 ms, 46 ms clock, 222960 bytes, 3301 allocs
01 Dec 2026 22:22:54,412 [INFO] (rapid) exec './bootstrap' (cwd=/tmp, handler=)
01 Dec 2026 22:22:56,400 [INFO] (rapid) INIT START(type: on-demand, phase: init)
init runtime @0.010 ms, 0.25 ms clock, 0 bytes, 0 allocs
init github.com/aws/aws-sdk-go-v2/aws @1.2 ms, 1.5 ms clock, 4096 bytes, 40 allocs
init github.com/aws/smithy-go/document @3.0 ms, 0.5 ms clock, 64 bytes, 1 allocs
init net/http @4.0 ms, 0.75 ms clock, 1920 bytes, 22 allocs
01 Dec 2026 22:22:56,517 [INFO] (rapid) INIT REPORT(durationMs: 116.927000)
`
	all, sdk, n := pkgInit(log)
	if all != 3 || sdk != 2 || n != 4 {
		t.Errorf("pkgInit = %v ms, SDK %v ms, %d packages; want 3, 2, 4", all, sdk, n)
	}
	if _, _, n := pkgInit("init runtime @0.010 ms, 0.25 ms clock, 0 bytes, 0 allocs\n"); n != 0 {
		t.Errorf("counted %d inits before INIT START", n)
	}
}
