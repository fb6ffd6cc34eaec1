package main

import (
	"bufio"
	"cmp"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// benchResult is what one benchmark printed over its -count runs.
type benchResult struct {
	metrics map[string][]float64 // values by unit, one per run in order
	skipped string               // why it skipped, if it did
	failed  string               // why it failed, if it did
}

// medianRun returns the index of the run whose value of unit is the
// median (the upper middle for an even count), so that a row can show the
// figures of that one run, which agree with its ratio.
func (r *benchResult) medianRun(unit string) int { return medianIndex(r.metrics[unit]) }

// at returns the value of unit in run i.
func (r *benchResult) at(unit string, i int) float64 { return r.metrics[unit][i] }

// max returns the largest value of unit and whether there are any.
func (r *benchResult) max(unit string) (float64, bool) {
	if r == nil || len(r.metrics[unit]) == 0 {
		return 0, false
	}
	return slices.Max(r.metrics[unit]), true
}

// parseBench reads the output of `go test -bench -v` and returns each
// benchmark by its full name, without the -GOMAXPROCS suffix that go test
// appends when procs > 1.
func parseBench(r io.Reader, procs int) (map[string]*benchResult, error) {
	out := map[string]*benchResult{}
	get := func(name string) *benchResult {
		if out[name] == nil {
			out[name] = &benchResult{metrics: map[string][]float64{}}
		}
		return out[name]
	}
	suffix := ""
	if procs > 1 {
		suffix = "-" + strconv.Itoa(procs)
	}
	var messages []string // the indented log lines since the last name line
	s := bufio.NewScanner(r)
	s.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for s.Scan() {
		line := s.Text()
		switch {
		case strings.HasPrefix(line, "    "):
			messages = append(messages, strings.TrimSpace(line))
		case strings.HasPrefix(line, "--- SKIP: "), strings.HasPrefix(line, "--- FAIL: "):
			name := strings.TrimSpace(line[len("--- SKIP: "):])
			why := logMessage(messages)
			if why == "" {
				why = "no message"
			}
			if strings.HasPrefix(line, "--- SKIP: ") {
				get(name).skipped = why
			} else {
				get(name).failed = why
			}
			messages = nil
		case strings.HasPrefix(line, "Benchmark"):
			fields := strings.Fields(line)
			if len(fields) == 1 { // -v prints the name as the benchmark starts
				messages = nil
				continue
			}
			name, err := parseResult(fields, suffix)
			if err != nil {
				return nil, fmt.Errorf("%w in %q", err, line)
			}
			res := get(name)
			for i := 2; i+1 < len(fields); i += 2 {
				v, _ := strconv.ParseFloat(fields[i], 64) // checked by parseResult
				res.metrics[fields[i+1]] = append(res.metrics[fields[i+1]], v)
			}
		}
	}
	return out, s.Err()
}

// parseResult checks a result line, "BenchmarkX-2 N v unit [v unit]...",
// and returns its name without suffix.
func parseResult(fields []string, suffix string) (string, error) {
	if len(fields)%2 != 0 || len(fields) < 4 {
		return "", fmt.Errorf("not a benchmark result")
	}
	if _, err := strconv.Atoi(fields[1]); err != nil {
		return "", fmt.Errorf("bad iteration count")
	}
	for i := 2; i < len(fields); i += 2 {
		if _, err := strconv.ParseFloat(fields[i], 64); err != nil {
			return "", fmt.Errorf("bad value %q", fields[i])
		}
	}
	return strings.TrimSuffix(fields[0], suffix), nil
}

// sourcePrefix is the "file_test.go:123: " go test puts before a log line.
var sourcePrefix = regexp.MustCompile(`^[\w.-]+\.go:\d+: `)

// logMessage joins a benchmark's log lines without their source positions.
func logMessage(lines []string) string {
	var b strings.Builder
	for _, l := range lines {
		if b.Len() > 0 {
			b.WriteString("; ")
		}
		b.WriteString(sourcePrefix.ReplaceAllString(l, ""))
	}
	return b.String()
}

// wrkResult is what one wrk run reports.
type wrkResult struct {
	requestsPerSec float64
	requests       int64 // answered
	non2xx         int64
	socketErrors   string // as wrk prints them, empty when none
}

var (
	wrkTotal   = regexp.MustCompile(`(?m)^\s*(\d+) requests in `)
	wrkRate    = regexp.MustCompile(`(?m)^Requests/sec:\s+([0-9.]+)\s*$`)
	wrkNon2xx  = regexp.MustCompile(`(?m)^\s*Non-2xx or 3xx responses:\s+(\d+)\s*$`)
	wrkSockets = regexp.MustCompile(`(?m)^\s*Socket errors:\s+(.*?)\s*$`)
)

// parseWrk reads wrk's report.
func parseWrk(out string) (wrkResult, error) {
	m := wrkRate.FindStringSubmatch(out)
	if m == nil {
		return wrkResult{}, fmt.Errorf("no Requests/sec in wrk's output")
	}
	var res wrkResult
	res.requestsPerSec, _ = strconv.ParseFloat(m[1], 64)
	if m := wrkTotal.FindStringSubmatch(out); m != nil {
		res.requests, _ = strconv.ParseInt(m[1], 10, 64)
	} else {
		return wrkResult{}, fmt.Errorf("no request total in wrk's output")
	}
	if m := wrkNon2xx.FindStringSubmatch(out); m != nil {
		res.non2xx, _ = strconv.ParseInt(m[1], 10, 64)
	}
	if m := wrkSockets.FindStringSubmatch(out); m != nil {
		res.socketErrors = m[1]
	}
	return res, nil
}

// medianIndex returns the index of the median of xs, the upper middle for
// an even count. xs must not be empty.
func medianIndex(xs []float64) int {
	idx := make([]int, len(xs))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(xs[a], xs[b]) })
	return idx[len(idx)/2]
}

// ratioCell formats xs[i] with prec decimals and suffix, followed by the
// range of xs when there is more than one run: "9.1× faster (8.7–9.5)".
func ratioCell(xs []float64, i, prec int, suffix string) string {
	s := strconv.FormatFloat(xs[i], 'f', prec, 64) + suffix
	if len(xs) > 1 {
		s += " (" + strconv.FormatFloat(slices.Min(xs), 'f', prec, 64) + "–" + strconv.FormatFloat(slices.Max(xs), 'f', prec, 64) + ")"
	}
	return s
}
