package main

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// row is one line of the table: the library beside its anchor.
type row struct {
	what, lib, anchor, ratio, target string
	result                           string // pass, FAIL, info or "not measured: why"
}

func passIf(ok bool) string {
	if ok {
		return "pass"
	}
	return "FAIL"
}

// markdownTable renders rows as a Markdown table.
func markdownTable(rows []row) string {
	var b strings.Builder
	b.WriteString("| benchmark | library | anchor, same run | ratio | target | result |\n")
	b.WriteString("|---|---|---|---|---|---|\n")
	cell := func(s string) string {
		if s == "" {
			s = "—"
		}
		return strings.ReplaceAll(strings.ReplaceAll(s, "|", `\|`), "\n", " ")
	}
	for _, r := range rows {
		result := r.result
		if result == "pass" || result == "FAIL" || strings.HasPrefix(result, "FAIL:") {
			result = "**" + result + "**"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n",
			cell(r.what), cell(r.lib), cell(r.anchor), cell(r.ratio), cell(r.target), cell(result))
	}
	return b.String()
}

// nanos formats a duration in nanoseconds with three significant digits.
func nanos(ns float64) string {
	switch {
	case ns < 1e3:
		return fmt.Sprintf("%.3g ns", ns)
	case ns < 1e6:
		return fmt.Sprintf("%.3g µs", ns/1e3)
	default:
		return fmt.Sprintf("%.3g ms", ns/1e6)
	}
}

// num formats a count such as allocs/op.
func num(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// perSecond formats a rate as a whole number with thousands separators.
func perSecond(v float64, unit string) string {
	return grouped(int64(math.Round(v))) + " " + unit
}

func grouped(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// megabytes formats a size in MB of 2^20 bytes.
func megabytes(n int64) string { return fmt.Sprintf("%.2f MB", float64(n)/(1<<20)) }

// loadAverage returns the 1, 5 and 15 minute load averages, or why not.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown (" + err.Error() + ")"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], ", ")
}

// cpuModel returns the first "model name" of /proc/cpuinfo.
func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if k, v, ok := strings.Cut(s.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

// document is the Markdown file: the table, the machine, the commands
// behind the rows and the notes.
func (r *runner) document(table, command string, start time.Time, loadBefore, loadAfter string) string {
	var b strings.Builder
	b.WriteString("# Benchmarks\n\n")
	fmt.Fprintf(&b, "Made by `%s` on %s, in %s. Each row measures the library beside its anchor in the same run, "+
		"alternating between them, and judges their ratio. Each row shows the run (of %d; wrk: the round of %d) whose ratio "+
		"is the median, with the range of the ratio over all runs in brackets; allocs/op is the largest of any run. "+
		"Absolute figures move with the machine's load; the ratios much less.\n\n",
		command, start.UTC().Format("2006-01-02 15:04 UTC"), time.Since(start).Round(time.Second), r.count, r.wrkRounds)
	b.WriteString(table)
	b.WriteString("\n## Machine\n\n")
	fmt.Fprintf(&b, "- CPUs (`nproc`): %d, %s\n", runtime.NumCPU(), cpuModel())
	fmt.Fprintf(&b, "- Go: %s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	fmt.Fprintf(&b, "- Load average (1, 5, 15 min): %s at the start, %s at the end; "+
		"a load above the number of CPUs means other processes were competing with the benchmarks for them\n", loadBefore, loadAfter)
	b.WriteString("\n## Commands behind the rows\n\n")
	for _, c := range r.commands {
		fmt.Fprintf(&b, "- `%s`", c.line)
		if c.why != "" {
			b.WriteString(": " + c.why)
		}
		b.WriteString("\n")
	}
	if len(r.notes) > 0 {
		b.WriteString("\n## Notes\n\n")
		for _, n := range r.notes {
			fmt.Fprintf(&b, "- %s\n", n)
		}
	}
	return b.String()
}
