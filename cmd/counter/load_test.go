package main

import (
	"bufio"
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/resumecounter/counter/internal/testenv"
)

// Load test settings: wrk with 2 threads (the test machines have 2 cores)
// and 16 connections counts for loadCountFor (to the second, by the Lua
// script's clock), then only reads until loadDuration ends.
const (
	loadThreads     = 2
	loadConnections = 16
	loadCountFor    = 3 * time.Second
	loadDuration    = 4 * time.Second
)

// wrkResult is what testdata/load.lua prints when wrk is done.
type wrkResult map[string]int64

// runWrk runs wrk with testdata/load.lua against url and returns its
// figures. The test fails if wrk fails or runs much longer than asked.
func runWrk(t *testing.T, url, key string) wrkResult {
	t.Helper()
	wrk, err := exec.LookPath("wrk")
	if err != nil {
		testenv.Missing(t, "wrk not installed (Debian package wrk; scripts/test.sh installs it)")
	}
	script, err := filepath.Abs(filepath.Join("testdata", "load.lua"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), loadDuration+30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, wrk,
		"-t", strconv.Itoa(loadThreads), "-c", strconv.Itoa(loadConnections),
		"-d", strconv.Itoa(int(loadDuration.Seconds()))+"s", "--timeout", "10s",
		"-s", script, url, "--", key, strconv.Itoa(int(loadCountFor.Seconds())))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("wrk: %v\n%s\n%s", err, stdout.Bytes(), stderr.Bytes())
	}
	r := wrkResult{}
	for sc := bufio.NewScanner(&stdout); sc.Scan(); {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if n, err := strconv.ParseInt(value, 10, 64); ok && err == nil && !strings.ContainsAny(name, " :") {
			r[name] = n
		}
	}
	for _, name := range []string{"counted", "reads", "requests", "errors_connect", "duration_us", "latency_p99_us"} {
		if _, ok := r[name]; !ok {
			t.Fatalf("wrk printed no %s:\n%s\n%s", name, stdout.Bytes(), stderr.Bytes())
		}
	}
	return r
}

// TestLoad drives the server binary with wrk against each store, counting
// through the JSON and the badge endpoints at once: no answer but 200, no
// socket error, and the stored count equals the counted answers.
func TestLoad(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  func(t *testing.T) []string
	}{
		{"memory", func(*testing.T) []string { return []string{"COUNTER_STORE=memory"} }},
		{"bolt", func(t *testing.T) []string { return []string{"COUNTER_DATA=" + filepath.Join(t.TempDir(), "c.db")} }},
		{"dynamodb", func(t *testing.T) []string { env, _, _ := dynamoEnv(t); return env }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := start(t, tc.env(t)...)
			r := runWrk(t, s.URL, "load")
			for name, n := range r {
				bad := strings.HasPrefix(name, "errors_") && n != 0 ||
					strings.HasPrefix(name, "status_") && name != "status_200"
				if bad {
					t.Errorf("%s: %d", name, n)
				}
			}
			if r["status_200"] != r["requests"] || r["counted"]+r["reads"] != r["requests"] {
				t.Errorf("%d requests, %d answered 200 (%d counted, %d reads)", r["requests"], r["status_200"], r["counted"], r["reads"])
			}
			if r["counted"] == 0 || r["reads"] == 0 {
				t.Fatalf("a phase without answers: %d counted, %d reads; the machine is too slow or the script broke", r["counted"], r["reads"])
			}
			stored := getJSON(t, s.URL+"/api/load?hit=false").Count
			if stored != r["counted"] {
				t.Errorf("stored count %d, but %d increments were answered 200", stored, r["counted"])
			}
			s.stop(t, 5*time.Second)
			if log := withoutTTLWarning(t, tc.name, s.stderr.String()); strings.Contains(log, "level=ERROR") || strings.Contains(log, "level=WARN") {
				t.Errorf("server logged problems under load:\n%s", log)
			}
			secs := float64(r["duration_us"]) / 1e6
			t.Logf("%s: %d requests in %.1fs (%.0f/s), %d counted + %d reads, all 200, 0 socket errors; stored count %d; p99 latency %v",
				tc.name, r["requests"], secs, float64(r["requests"])/secs, r["counted"], r["reads"], stored,
				time.Duration(r["latency_p99_us"])*time.Microsecond)
		})
	}
}
