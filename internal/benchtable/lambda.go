package main

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// What the Lambda rows expect from ./examples/lambda: BenchmarkColdStart
// starting a fresh emulator per iteration for the counter and for a
// hello-world function built the same way, reporting these metrics (medians
// over its iterations).
const (
	coldStartBench = "BenchmarkColdStart"
	firstRatio     = "first-ratio"        // counter / hello time to the first answer
	counterFirst   = "counter-first-ms"   // process start + init + first invocation (with its DynamoDB call)
	helloFirst     = "hello-first-ms"     // the same for hello world
	counterInit    = "counter-init-ms"    // the counter's init duration (emulator's INIT REPORT)
	helloInit      = "hello-init-ms"      // the hello world's init duration
	counterPkgInit = "counter-pkginit-ms" // package init functions, GODEBUG=inittrace=1
	helloPkgInit   = "hello-pkginit-ms"
	counterSDKInit = "counter-sdkinit-ms" // of which the AWS SDK's packages
	seedFirst      = "seed-first-ms"      // the seed's Python function (testdata/seed-python), time to the first answer
	seedInit       = "seed-init-ms"       // its init duration
	seedRatio      = "seed-ratio"         // counter / seed time to the first answer
	maxZip         = 5 << 20              // bytes; the example's promise
)

// lambda measures examples/lambda's cold start against a hello-world
// function and the size of its arm64 deployment package.
func (r *runner) lambda() []row {
	// No target: the counter's extra init is the AWS SDK's package
	// initialisers and building its client, which no library choice here
	// removes; the row shows where the time goes.
	first := row{
		what:   "Lambda cold start in the emulator, time to the first answer (process start, init, first invocation with its DynamoDB call): examples/lambda vs a hello-world function; init breakdown from `GODEBUG=inittrace=1`",
		target: "none (shown)",
	}
	size := row{
		what:   "Lambda deployment package: linux/arm64 `bootstrap` (`-tags lambda.norpc -ldflags \"-s -w\"`), zipped",
		target: "zip ≤ 5 MB",
	}
	if _, err := os.Stat(filepath.Join(r.root, "examples", "lambda", "main.go")); err != nil {
		for _, rw := range []*row{&first, &size} {
			rw.result = "not measured: examples/lambda missing"
		}
		r.notes = append(r.notes, fmt.Sprintf("The Lambda rows expect ./examples/lambda with %s reporting %s, %s, %s, %s, %s, %s, %s and %s, and a hello-world function in examples/lambda/testdata/hello.",
			coldStartBench, firstRatio, counterFirst, helloFirst, counterInit, helloInit, counterPkgInit, helloPkgInit, counterSDKInit))
		return []row{first, size}
	}
	seed := row{
		what:   "Lambda cold start in the emulator with visitors on (a browser's first visit: the day's salt fetched, the visit counted), examples/lambda vs the seed's Python function (boto3, one `UpdateItem`, Debian's python3 and python3-boto3 under a minimal runtime loop)",
		target: "none (shown)",
	}
	rows := []row{first, size, seed}

	res, err := r.goBench("./examples/lambda", "^"+coldStartBench+"$", "10x")
	var b *benchResult
	if err == nil {
		b, err = need(res, coldStartBench, firstRatio, counterFirst, helloFirst, counterInit, helloInit, counterPkgInit, helloPkgInit, counterSDKInit)
	}
	if err == nil {
		if sb, serr := need(res, coldStartBench, seedFirst, seedInit, seedRatio); serr != nil {
			rows[2] = r.notMeasured(serr, rows[2])[0]
		} else {
			k := sb.medianRun(seedRatio)
			rows[2].lib = fmt.Sprintf("%.1f ms (init %.1f ms)", sb.at(counterFirst, k), sb.at(counterInit, k))
			rows[2].anchor = fmt.Sprintf("%.1f ms (init %.1f ms)", sb.at(seedFirst, k), sb.at(seedInit, k))
			rows[2].ratio = ratioCell(sb.metrics[seedRatio], k, 2, "×")
			rows[2].result = "info"
		}
	} else {
		rows[2] = r.notMeasured(err, rows[2])[0]
	}
	if err != nil {
		r.notMeasured(err, rows[:1]...)
	} else {
		j := b.medianRun(firstRatio)
		rows[0].lib = fmt.Sprintf("%.1f ms (init %.1f ms, of which package inits %.1f ms, AWS SDK's %.1f ms)",
			b.at(counterFirst, j), b.at(counterInit, j), b.at(counterPkgInit, j), b.at(counterSDKInit, j))
		rows[0].anchor = fmt.Sprintf("%.1f ms (init %.1f ms, of which package inits %.1f ms)",
			b.at(helloFirst, j), b.at(helloInit, j), b.at(helloPkgInit, j))
		rows[0].ratio = ratioCell(b.metrics[firstRatio], j, 2, "×")
		rows[0].result = "info"
	}

	r.commands = append(r.commands, command{
		line: `GOOS=linux GOARCH=arm64 CGO_ENABLED=0 go build -tags lambda.norpc -ldflags "-s -w" -o bootstrap ./examples/lambda`,
		why:  "zipped as `zip function.zip bootstrap` does (deflate, with Go's archive/zip); the same for ./examples/lambda/testdata/hello",
	})
	bin, zipped, err := r.lambdaPackage("./examples/lambda", "counter")
	if err != nil {
		r.notMeasured(err, rows[1:]...)
		return rows
	}
	rows[1].lib = fmt.Sprintf("%s binary, %s zip", megabytes(bin), megabytes(zipped))
	rows[1].anchor = "—"
	rows[1].ratio = "—"
	if _, err := os.Stat(filepath.Join(r.root, "examples", "lambda", "testdata", "hello")); err == nil {
		if hbin, hzip, err := r.lambdaPackage("./examples/lambda/testdata/hello", "hello"); err == nil {
			rows[1].anchor = fmt.Sprintf("hello world: %s binary, %s zip", megabytes(hbin), megabytes(hzip))
			rows[1].ratio = fmt.Sprintf("%.1f× hello's zip", float64(zipped)/float64(hzip))
		}
	}
	rows[1].result = passIf(zipped <= maxZip)
	return rows
}

// lambdaPackage builds pkg as the Lambda README does and returns the size of
// the binary and of a zip holding it as "bootstrap".
func (r *runner) lambdaPackage(pkg, name string) (bin, zipped int64, err error) {
	out := filepath.Join(r.tmp, "lambda-"+name, "bootstrap")
	if _, err := r.run(r.root, []string{"GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0"},
		"go", "build", "-tags", "lambda.norpc", "-ldflags", "-s -w", "-o", out, pkg); err != nil {
		return 0, 0, err
	}
	f, err := os.Open(out) //nolint:gosec // the binary just built
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, 0, err
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	hdr, err := zip.FileInfoHeader(st)
	if err != nil {
		return 0, 0, err
	}
	hdr.Name, hdr.Method = "bootstrap", zip.Deflate
	w, err := zw.CreateHeader(hdr)
	if err != nil {
		return 0, 0, err
	}
	if _, err := io.Copy(w, f); err != nil {
		return 0, 0, err
	}
	if err := zw.Close(); err != nil {
		return 0, 0, err
	}
	return st.Size(), int64(buf.Len()), nil
}
