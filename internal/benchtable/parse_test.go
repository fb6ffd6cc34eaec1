package main

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

// TestParseBench reads go test -bench -v output (testdata/gotest.txt, from a
// real run, with a skipped and a failed benchmark appended) and checks
// names, values per run, skips and failures.
func TestParseBench(t *testing.T) {
	f, err := os.Open("testdata/gotest.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := parseBench(f, 2)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, unit string
		want       []float64
	}{
		{"BenchmarkBadge", "x-faster-than-badgen", []float64{4.637, 4.692}},
		{"BenchmarkBadge", "allocs/op", []float64{0, 0}},
		{"BenchmarkBadge", "MB/s", []float64{3674.10, 3674.10}},
		{"BenchmarkJSONHandler/default", "x-bare", []float64{1.306}},
		{"BenchmarkJSONHandler/cors", "bare-ns/op", []float64{459.6}},
		{"BenchmarkBadgeHandler/render", "ns/op", []float64{1284}},
		{"BenchmarkMemoryIncrement/1000-keys", "ns/op", []float64{55.10}}, // only the -2 is cut
	} {
		b := got[c.name]
		if b == nil {
			t.Errorf("%s: missing; have %v", c.name, keys(got))
			continue
		}
		if !reflect.DeepEqual(b.metrics[c.unit], c.want) {
			t.Errorf("%s %s = %v, want %v", c.name, c.unit, b.metrics[c.unit], c.want)
		}
	}
	if b := got["BenchmarkGroupHotKey"]; b == nil || !strings.HasPrefix(b.skipped, "dynalite: node not found;") || b.failed != "" {
		t.Errorf("BenchmarkGroupHotKey = %+v, want skipped with the reason, source position dropped", b)
	}
	if b := got["BenchmarkDynamoIncrement"]; b == nil || b.failed != "library count = 1999, want 2000" || len(b.metrics) != 0 {
		t.Errorf("BenchmarkDynamoIncrement = %+v, want failed with the reason", b)
	}
	if b := got["BenchmarkShards"]; b == nil || b.failed != "no message" {
		t.Errorf("BenchmarkShards = %+v, want failed without a message", b)
	}
	if b := got["BenchmarkJSONHandler"]; b != nil {
		t.Errorf("a parent with only sub-benchmarks has no result, got %+v", b)
	}
	if b := got["BenchmarkBadge"]; b.failed != "" || b.skipped != "" {
		t.Errorf("BenchmarkBadge = %+v, want neither skipped nor failed", b)
	}
}

func keys(m map[string]*benchResult) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestParseBenchSuffix(t *testing.T) {
	for _, c := range []struct {
		line  string
		procs int
		want  string
	}{
		{"BenchmarkX-2 10 5 ns/op", 2, "BenchmarkX"},
		{"BenchmarkX/a-1000-2 10 5 ns/op", 2, "BenchmarkX/a-1000"},
		{"BenchmarkX/a-1000 10 5 ns/op", 1, "BenchmarkX/a-1000"}, // no suffix with GOMAXPROCS=1
		{"BenchmarkX-16 10 5 ns/op", 16, "BenchmarkX"},
	} {
		got, err := parseBench(strings.NewReader(c.line+"\n"), c.procs)
		if err != nil {
			t.Fatal(err)
		}
		if got[c.want] == nil {
			t.Errorf("%q with %d procs: names %v, want %s", c.line, c.procs, keys(got), c.want)
		}
	}
}

func TestParseBenchMalformed(t *testing.T) {
	for _, line := range []string{
		"BenchmarkX-2 ten 5 ns/op",
		"BenchmarkX-2 10 five ns/op",
		"BenchmarkX-2 10 5",
	} {
		if _, err := parseBench(strings.NewReader(line+"\n"), 2); err == nil {
			t.Errorf("%q: no error", line)
		}
	}
}

func TestParseWrk(t *testing.T) {
	b, err := os.ReadFile("testdata/wrk.txt") // a real run against a server answering 404
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, out string
		want      wrkResult
		wantErr   bool
	}{
		{"404s", string(b), wrkResult{requestsPerSec: 1466.37, requests: 1467, non2xx: 1467}, false},
		{"socket errors", `Running 5s test @ http://127.0.0.1:1234/
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.02ms    1.10ms  30.12ms   90.00%
    Req/Sec    15.10k     1.20k   18.00k    70.00%
  150321 requests in 5.00s, 20.10MB read
  Socket errors: connect 0, read 3, write 0, timeout 12
Requests/sec:  30064.20
Transfer/sec:      4.02MB
`, wrkResult{requestsPerSec: 30064.20, requests: 150321, socketErrors: "connect 0, read 3, write 0, timeout 12"}, false},
		{"refused", "unable to connect to 127.0.0.1:1 Connection refused\n", wrkResult{}, true},
	} {
		got, err := parseWrk(c.out)
		if (err != nil) != c.wantErr || got != c.want {
			t.Errorf("%s: parseWrk = %+v, %v; want %+v, error %v", c.name, got, err, c.want, c.wantErr)
		}
	}
}

func TestMedianIndex(t *testing.T) {
	for _, c := range []struct {
		in   []float64
		want int
	}{
		{[]float64{3}, 0},
		{[]float64{5, 1, 3}, 2},
		{[]float64{4, 1, 3, 2}, 2}, // the upper middle: 3
		{[]float64{2, 2, 1}, 0},
	} {
		if got := medianIndex(c.in); got != c.want {
			t.Errorf("medianIndex(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}

func TestRatioCell(t *testing.T) {
	for _, c := range []struct {
		xs           []float64
		i, prec      int
		suffix, want string
	}{
		{[]float64{9.12, 8.74, 9.5}, 0, 1, "× faster", "9.1× faster (8.7–9.5)"},
		{[]float64{0.971}, 0, 2, "", "0.97"},
		{[]float64{80.4, 76, 84.2}, 0, 0, "%", "80% (76–84)"},
	} {
		if got := ratioCell(c.xs, c.i, c.prec, c.suffix); got != c.want {
			t.Errorf("ratioCell(%v, %d) = %q, want %q", c.xs, c.i, got, c.want)
		}
	}
}

func TestFormat(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{nanos(328.4), "328 ns"},
		{nanos(1523), "1.52 µs"},
		{nanos(42509140), "42.5 ms"},
		{perSecond(36930.4, "req/s"), "36,930 req/s"},
		{perSecond(999.6, "inc/s"), "1,000 inc/s"},
		{perSecond(1234567, "inc/s"), "1,234,567 inc/s"},
		{num(0), "0"},
		{megabytes(5 << 20), "5.00 MB"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

// TestMarkdownTable: a pipe in a cell is escaped, so it cannot split the
// row, and verdicts stand out.
func TestMarkdownTable(t *testing.T) {
	got := markdownTable([]row{
		{what: `badge "a | b"`, lib: "1 ns", anchor: "2 ns", ratio: "2×", target: "≥ 2×", result: "pass"},
		{what: "lambda", target: "≤ 1.3×", result: "not measured: examples/lambda missing"},
	})
	want := "| benchmark | library | anchor, same run | ratio | target | result |\n" +
		"|---|---|---|---|---|---|\n" +
		`| badge "a \| b" | 1 ns | 2 ns | 2× | ≥ 2× | **pass** |` + "\n" +
		"| lambda | — | — | — | ≤ 1.3× | not measured: examples/lambda missing |\n"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestNeed(t *testing.T) {
	res := map[string]*benchResult{
		"BenchmarkA": {metrics: map[string][]float64{"x-bare": {1.2}}},
		"BenchmarkS": {metrics: map[string][]float64{}, skipped: "node not found"},
		"BenchmarkF": {metrics: map[string][]float64{}, failed: "boom"},
	}
	for _, c := range []struct {
		name, unit, wantErr string
	}{
		{"BenchmarkA", "x-bare", ""},
		{"BenchmarkA", "bare-ns/op", "BenchmarkA reported no bare-ns/op"},
		{"BenchmarkS", "x-bare", "BenchmarkS skipped: node not found"},
		{"BenchmarkF", "x-bare", "BenchmarkF failed: boom"},
		{"BenchmarkZ", "x-bare", "BenchmarkZ did not run"},
	} {
		_, err := need(res, c.name, c.unit)
		if got := errString(err); got != c.wantErr {
			t.Errorf("need(%s, %s) error %q, want %q", c.name, c.unit, got, c.wantErr)
		}
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestShellLine(t *testing.T) {
	got := shellLine("go", []string{"build", "-ldflags", "-s -w", "-bench", "^Benchmark(JSON|Badge)Handler$", "it's"})
	want := `go build -ldflags '-s -w' -bench '^Benchmark(JSON|Badge)Handler$' 'it'\''s'`
	if got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}
