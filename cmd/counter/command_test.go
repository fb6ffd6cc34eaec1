package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/resumecounter/counter"
	"github.com/resumecounter/counter/internal/testenv"
)

// testNow is the clock of the in-process commands: 2026-12-01 in UTC.
var testNow = time.Date(2026, 12, 1, 15, 4, 5, 0, time.UTC)

// inProcess is a counter command run in the test's process over store.
type inProcess struct {
	t              *testing.T
	store          any
	stdin          string
	stdout, stderr bytes.Buffer
}

// run runs the command line args and returns its exit status; stdout and
// stderr hold what it wrote (they are reset first).
func (p *inProcess) run(args ...string) int {
	p.t.Helper()
	p.stdout.Reset()
	p.stderr.Reset()
	c := &cli{
		getenv: func(string) string { return "" },
		stdin:  strings.NewReader(p.stdin),
		stdout: &p.stdout,
		stderr: &p.stderr,
		open: func(context.Context, storeConfig) (*openStore, error) {
			return &openStore{store: p.store, desc: "the test's store"}, nil
		},
		now: func() time.Time { return testNow },
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return c.run(ctx, args)
}

// must runs args and fails the test unless it exits 0.
func (p *inProcess) must(args ...string) string {
	p.t.Helper()
	if code := p.run(args...); code != 0 {
		p.t.Fatalf("counter %s: exit %d\n%s%s", strings.Join(args, " "), code, p.stdout.String(), p.stderr.String())
	}
	return p.stdout.String()
}

// ownerStore is what the owner's commands use of a store.
type ownerStore interface {
	counter.VisitStore
	counter.Editor
	counter.KeyLister
}

// newMemory returns an empty Memory.
func newMemory(*testing.T) ownerStore { return counter.NewMemory() }

// visit records a visit of visitor to key on date.
func visit(t *testing.T, s counter.VisitStore, key string, date counter.Date, visitor byte) {
	t.Helper()
	v := counter.Visit{Key: key, Date: date, Visitor: counter.VisitorID{visitor}, Time: date.Time().Add(12 * time.Hour)}
	if _, _, err := s.RecordVisit(context.Background(), v); err != nil {
		t.Fatal(err)
	}
}

// seedHistory gives key 6 hits and 4 visitors over three days, the last
// being today (testNow): 2025-12-31 3 hits 2 visitors, 2026-11-30 1 and 1,
// 2026-12-01 2 and 1.
func seedHistory(t *testing.T, s counter.VisitStore, key string) []counter.Day {
	t.Helper()
	for _, v := range []struct {
		date    counter.Date
		visitor byte
	}{{"2025-12-31", 1}, {"2025-12-31", 1}, {"2025-12-31", 2}, {"2026-11-30", 1}, {"2026-12-01", 3}, {"2026-12-01", 3}} {
		visit(t, s, key, v.date, v.visitor)
	}
	return []counter.Day{{Date: "2025-12-31", Count: 3, Visitors: 2}, {Date: "2026-11-30", Count: 1, Visitors: 1}, {Date: "2026-12-01", Count: 2, Visitors: 1}}
}

// parseExport parses JSON Lines of records.
func parseExport(t *testing.T, text string) []counter.Record {
	t.Helper()
	var out []counter.Record
	for _, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		if line == "" {
			continue
		}
		var r counter.Record
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("export line %q: %v", line, err)
		}
		out = append(out, r)
	}
	return out
}

// TestGetSet: get prints count, visitors and today's numbers; set replaces
// the count, prints the old and new, and keeps visitors and days.
func TestGetSet(t *testing.T) {
	store := newMemory(t)
	days := seedHistory(t, store, "visitors")
	p := &inProcess{t: t, store: store}

	want := "KEY       COUNT  VISITORS  HITS TODAY  VISITORS TODAY\n" +
		"visitors  6      4         2           1\n" +
		"page      0      0         0           0\n"
	if got := p.must("get", "visitors", "page"); got != want {
		t.Errorf("get:\n%s\nwant\n%s", got, want)
	}
	if got, want := p.must("get", "-json", "visitors"), `{"key":"visitors","count":6,"visitors":4,"today":{"date":"2026-12-01","count":2,"visitors":1}}`+"\n"; got != want {
		t.Errorf("get -json: %s, want %s", got, want)
	}

	if got, want := p.must("set", "visitors", "1234"), "visitors: count was 6, now 1234\n"; got != want {
		t.Errorf("set: %q, want %q", got, want)
	}
	if got, want := p.must("set", "visitors", "0"), "visitors: count was 1234, now 0\n"; got != want {
		t.Errorf("reset: %q, want %q", got, want)
	}
	if got, want := p.must("set", "new-key", "50"), "new-key: count was 0, now 50\n"; got != want {
		t.Errorf("set a new key: %q, want %q", got, want)
	}
	rec, err := store.Export(context.Background(), "visitors")
	if err != nil {
		t.Fatal(err)
	}
	if want := (counter.Record{Key: "visitors", Count: 0, Visitors: 4, Days: days}); !reflect.DeepEqual(rec, want) {
		t.Errorf("after set: %+v, want %+v (visitors and days kept)", rec, want)
	}
	// The next visit counts from the count set.
	s, counted, err := store.RecordVisit(context.Background(), counter.Visit{Key: "new-key", Date: "2026-12-01", Time: testNow})
	if err != nil || !counted || s.Count != 51 {
		t.Errorf("a visit after set 50: %+v, %v, %v; want count 51", s, counted, err)
	}

	for _, args := range [][]string{{"set", "visitors", "-1"}, {"set", "visitors", "1.5"}, {"set", "visitors", "9223372036854775808"},
		{"set", "visitors"}, {"set", "a/b", "1"}, {"get"}, {"get", "ok", "bad key"}} {
		if code := p.run(args...); code != exitUsage {
			t.Errorf("counter %q: exit %d, want 2\n%s", args, code, p.stderr.String())
		}
	}
	if rec, _ := store.Export(context.Background(), "visitors"); rec.Count != 0 {
		t.Errorf("a refused set wrote: count %d", rec.Count)
	}
}

// TestExportImport: export writes every key's record; importing it into an
// empty store gives the same export, twice over; a bad file writes nothing.
func TestExportImport(t *testing.T) {
	from := newMemory(t)
	days := seedHistory(t, from, "visitors")
	visit(t, from, "page:about", "2026-11-02", 9)
	p := &inProcess{t: t, store: from}
	if got := p.must("set", "visitors", "1000"); got != "visitors: count was 6, now 1000\n" {
		t.Fatal(got)
	}

	export := p.must("export")
	want := []counter.Record{
		{Key: "page:about", Count: 1, Visitors: 1, Days: []counter.Day{{Date: "2026-11-02", Count: 1, Visitors: 1}}},
		{Key: "visitors", Count: 1000, Visitors: 4, Days: days},
	}
	if got := parseExport(t, export); !reflect.DeepEqual(got, want) {
		t.Fatalf("export:\n%s\nwant %+v", export, want)
	}
	if one := p.must("export", "visitors"); one != strings.SplitAfter(export, "\n")[1] {
		t.Errorf("export visitors: %q, want the line of export's", one)
	}
	if never := p.must("export", "never"); never != `{"key":"never","count":0,"visitors":0,"days":[]}`+"\n" {
		t.Errorf("export of a key never counted: %q", never)
	}
	file := filepath.Join(t.TempDir(), "export.jsonl")
	if out := p.must("export", "-o", file); out != "" {
		t.Errorf("export -o wrote to standard output: %q", out)
	}
	if b, err := os.ReadFile(file); err != nil || string(b) != export {
		t.Errorf("export -o: %q, %v; want %q", b, err, export)
	}

	to := newMemory(t)
	q := &inProcess{t: t, store: to}
	for round := 1; round <= 2; round++ {
		if got, want := q.must("import", file), "imported 2 keys from "+file+" into the test's store\n"; got != want {
			t.Errorf("import round %d: %q, want %q", round, got, want)
		}
		if again := q.must("export"); again != export {
			t.Fatalf("after import %d:\n%s\nwant\n%s", round, again, export)
		}
	}
	for _, key := range []string{"visitors", "page:about"} {
		a, _ := from.Stats(context.Background(), key, "2026-12-01")
		b, _ := to.Stats(context.Background(), key, "2026-12-01")
		if a != b {
			t.Errorf("stats of %s: %+v imported, %+v exported", key, b, a)
		}
	}

	// Standard input, and days not listed stay.
	q.stdin = `{"key":"visitors","count":7,"visitors":1,"days":[{"date":"2026-11-30","count":5,"visitors":4}]}` + "\n"
	if got := q.must("import", "-allow-lower", "-"); got != "imported 1 key from standard input into the test's store\n" {
		t.Errorf("import -: %q", got)
	}
	rec, err := to.Export(context.Background(), "visitors")
	if err != nil {
		t.Fatal(err)
	}
	wantRec := counter.Record{Key: "visitors", Count: 7, Visitors: 1, Days: []counter.Day{days[0], {Date: "2026-11-30", Count: 5, Visitors: 4}, days[2]}}
	if !reflect.DeepEqual(rec, wantRec) {
		t.Errorf("after importing one day: %+v, want %+v", rec, wantRec)
	}
}

// TestImportBadFileWritesNothing: one bad line anywhere and nothing is
// written; the error names the line; -check writes nothing either.
func TestImportBadFileWritesNothing(t *testing.T) {
	to := newMemory(t)
	p := &inProcess{t: t, store: to}
	p.stdin = `{"key":"a","count":5}` + "\n" + `{"key":"b","count":5}` + "\n" + `{"key":"c","count":-5}` + "\n"
	if code := p.run("import", "-"); code != exitFailure {
		t.Fatalf("exit %d, want 1", code)
	}
	if want := "counter import: standard input: 1 bad line; nothing was imported:\n\tline 3: key c: count is -5: want a whole number from 0 to 9223372036854775807\n"; p.stderr.String() != want {
		t.Errorf("stderr %q, want %q", p.stderr.String(), want)
	}
	p.stdin = `{"key":"a","count":5}` + "\n"
	if got := p.must("import", "-check", "-"); got != "standard input: 1 key, every line valid\n"+
		"KEY  COUNT NOW  COUNT AFTER  VISITORS NOW  VISITORS AFTER\n"+
		"a    0          5            0             0\n" {
		t.Errorf("import -check: %q", got)
	}
	if keys, err := to.Keys(context.Background()); err != nil || len(keys) != 0 {
		t.Fatalf("keys after a refused import and a check: %v, %v; want none", keys, err)
	}
	if code := p.run("import", filepath.Join(t.TempDir(), "missing.jsonl")); code != exitFailure || !strings.Contains(p.stderr.String(), "no such file") {
		t.Errorf("missing file: exit %d, %s", code, p.stderr.String())
	}
	if code := p.run("import", "a", "b"); code != exitUsage {
		t.Errorf("two files: exit %d, want 2", code)
	}
}

// failingEditor is a store whose Import fails from the n-th call on.
type failingEditor struct {
	ownerStore
	calls, failFrom int
}

func (f *failingEditor) Import(ctx context.Context, r counter.Record) error {
	f.calls++
	if f.calls >= f.failFrom {
		return errors.New("store unreachable")
	}
	return f.ownerStore.Import(ctx, r)
}

// TestImportStoreFails: a store failing part way is reported with what was
// imported and that repeating is safe; repeating finishes the job.
func TestImportStoreFails(t *testing.T) {
	mem := newMemory(t)
	store := &failingEditor{ownerStore: mem, failFrom: 2}
	p := &inProcess{t: t, store: store}
	p.stdin = `{"key":"a","count":1}` + "\n" + `{"key":"b","count":2}` + "\n"
	if code := p.run("import", "-"); code != exitFailure {
		t.Fatalf("exit %d, want 1", code)
	}
	if want := "counter import: import key b: store unreachable\n1 of 2 keys were imported before it; import the same file again to finish (importing twice is safe)\n"; p.stderr.String() != want {
		t.Errorf("stderr %q, want %q", p.stderr.String(), want)
	}
	store.failFrom = 100
	p.must("import", "-")
	if got := (&inProcess{t: t, store: mem}).must("export"); got != `{"key":"a","count":1,"visitors":0,"days":[]}`+"\n"+`{"key":"b","count":2,"visitors":0,"days":[]}`+"\n" {
		t.Errorf("after the repeat: %s", got)
	}
}

// failingExport is a store whose Export fails for one key.
type failingExport struct {
	ownerStore
	key string
}

func (f failingExport) Export(ctx context.Context, key string) (counter.Record, error) {
	if key == f.key {
		return counter.Record{}, errors.New("store unreachable")
	}
	return f.ownerStore.Export(ctx, key)
}

// TestExportFails: an export that fails part way exits 1, names the key,
// and with -o leaves the file as it was (and no temporary file).
func TestExportFails(t *testing.T) {
	mem := newMemory(t)
	p := &inProcess{t: t, store: failingExport{mem, "b"}}
	p.must("set", "a", "1")
	p.must("set", "b", "2")
	dir := t.TempDir()
	file := filepath.Join(dir, "export.jsonl")
	if err := os.WriteFile(file, []byte("the last good export\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code := p.run("export", "-o", file); code != exitFailure || p.stderr.String() != "counter export: export key b: store unreachable\n" {
		t.Errorf("exit %d, %q", code, p.stderr.String())
	}
	if b, err := os.ReadFile(file); err != nil || string(b) != "the last good export\n" {
		t.Errorf("the file after a failed export: %q, %v", b, err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("files left beside it: %v", entries)
	}
	if code := p.run("export", "-o", filepath.Join(dir, "missing", "x.jsonl")); code != exitFailure || !strings.Contains(p.stderr.String(), "-o "+dir) {
		t.Errorf("-o in a missing directory: exit %d, %q", code, p.stderr.String())
	}
}

// TestStoreWithoutEditor: a store that cannot edit says so, exit 1.
func TestStoreWithoutEditor(t *testing.T) {
	p := &inProcess{t: t, store: struct{ counter.Incrementer }{counter.NewMemory()}}
	for _, args := range [][]string{{"set", "a", "1"}, {"export", "a"}} {
		if code := p.run(args...); code != exitFailure || !strings.Contains(p.stderr.String(), "the test's store cannot set, export or import counts yet (it does not implement counter.Editor)") {
			t.Errorf("%q: exit %d, %s", args, code, p.stderr.String())
		}
	}
}

// runBinary runs the built binary with env added to baseEnv and stdin, in a
// temporary directory, and returns its output and exit status.
func runBinary(t *testing.T, env []string, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = append(baseEnv(t), env...)
	cmd.Dir = t.TempDir()
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		code = exit.ExitCode()
	default:
		t.Fatalf("counter %q: %v", args, err)
	}
	return out.String(), errOut.String(), code
}

// TestCommandLine: usage, -h on every command and the exit statuses of the
// binary, with errors that name what to fix.
func TestCommandLine(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "none.db")
	data := "COUNTER_DATA=" + missing
	for _, tc := range []struct {
		args       []string
		env        []string
		stdin      string
		code       int
		out, err   string // substrings of stdout and stderr
		noStdout   bool
		errIsEmpty bool
	}{
		{args: nil, code: 2, err: "Usage:\n\tcounter <command> [arguments]", noStdout: true},
		{args: []string{"-h"}, code: 0, out: "Commands:\n\tserve", errIsEmpty: true},
		{args: []string{"help"}, code: 0, out: "Exit status: 0 done, 1 failed, 2 wrong command line."},
		{args: []string{"help", "set"}, code: 0, out: "usage: counter set KEY N"},
		{args: []string{"help", "nope"}, code: 2, err: `counter help: unknown command "nope"`},
		{args: []string{"frobnicate"}, code: 2, err: "counter: unknown command \"frobnicate\"\nRun 'counter -h' for the commands."},
		{args: []string{"serve", "-h"}, code: 0, out: "COUNTER_ADMIN_TOKEN", errIsEmpty: true},
		{args: []string{"get", "-h"}, code: 0, out: "usage: counter get KEY...\n", errIsEmpty: true},
		{args: []string{"set", "-h"}, code: 0, out: "usage: counter set KEY N\n", errIsEmpty: true},
		{args: []string{"export", "-h"}, code: 0, out: "-o FILE", errIsEmpty: true},
		{args: []string{"import", "-h"}, code: 0, out: "-check", errIsEmpty: true},
		{args: []string{"import", "--help"}, code: 0, out: "COUNTER_STORE: bolt, memory, dynamodb, postgres, redis, sqlite (default bolt)"},
		{args: []string{"serve", "extra"}, code: 2, err: "counter serve: serve takes no arguments"},
		{args: []string{"get", "-x"}, code: 2, err: "flag provided but not defined: -x\nusage: counter get KEY...\nRun 'counter get -h' for help."},
		{args: []string{"set", "visitors", "many"}, code: 2, err: "counter set: N=many: want a whole number from 0 to 9223372036854775807"},
		{args: []string{"export", "a b"}, code: 2, err: `counter export: invalid key "a b"`},
		{args: []string{"get", "visitors"}, env: []string{data}, code: 1, err: "counter get: no bbolt file " + missing + ": set COUNTER_DATA to the file counter serve uses"},
		{args: []string{"export"}, env: []string{data}, code: 1, err: "no bbolt file"},
		{args: []string{"get", "visitors"}, env: []string{"COUNTER_STORE=memory"}, code: 1,
			err: "counter get: COUNTER_STORE=memory: the counts live inside the counter serve process; see or change them there through its admin routes (set COUNTER_ADMIN_TOKEN)"},
		{args: []string{"get", "visitors"}, env: []string{"COUNTER_STORE=mongo"}, code: 1, err: "counter get: COUNTER_STORE=mongo: want bolt (the default), memory, dynamodb"},
		{args: []string{"set", "a", "1"}, env: []string{"COUNTER_MAX_KEYS=x"}, code: 1, err: "counter set: COUNTER_MAX_KEYS=x: want a number of keys"},
		{args: []string{"import", "-"}, stdin: `{"key":"a","count":1}` + "\n" + `{"key":"a","count":2}`, code: 1,
			err: "counter import: standard input: 1 bad line; nothing was imported:\n\tline 2: key a is on line 1 too; keep one of them"},
		{args: []string{"import", "-check", "-"}, stdin: `{"key":"a","count":1}`, code: 0, out: "standard input: 1 key, every line valid"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			stdout, stderr, code := runBinary(t, tc.env, tc.stdin, tc.args...)
			if code != tc.code || !strings.Contains(stdout, tc.out) || !strings.Contains(stderr, tc.err) ||
				tc.noStdout && stdout != "" || tc.errIsEmpty && stderr != "" {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s\nwant stdout with %q, stderr with %q", code, tc.code, stdout, stderr, tc.out, tc.err)
			}
		})
	}
}

// TestBoltLockedByServer: while counter serve holds the bolt file, the
// owner's commands say so and what to do; once it stops, they read it.
func TestBoltLockedByServer(t *testing.T) {
	data := "COUNTER_DATA=" + filepath.Join(t.TempDir(), "counter.db")
	s := start(t, data)
	getJSON(t, s.URL+"/api/visitors")
	_, stderr, code := runBinary(t, []string{data}, "", "get", "visitors")
	if code != 1 || !strings.Contains(stderr, "file is locked by another process") ||
		!strings.Contains(stderr, "(a running counter serve holds the file: stop it, or use its admin routes, see COUNTER_ADMIN_TOKEN)") {
		t.Errorf("get while the server runs: exit %d\n%s", code, stderr)
	}
	s.stop(t, 5*time.Second)
	stdout, stderr, code := runBinary(t, []string{data}, "", "get", "visitors")
	if code != 0 || !strings.HasPrefix(strings.Split(stdout, "\n")[1], "visitors  1  ") {
		t.Errorf("get after the server stopped: exit %d\n%s%s", code, stdout, stderr)
	}
}

// TestBoltCommands runs the commands on a bbolt file through the binary:
// set, get, export, import, and the message while a server holds the file.
func TestBoltCommands(t *testing.T) {
	path := filepath.Join(t.TempDir(), "counter.db")
	data := []string{"COUNTER_DATA=" + path}
	run := func(stdin string, args ...string) string {
		t.Helper()
		stdout, stderr, code := runBinary(t, data, stdin, args...)
		if code != 0 {
			t.Fatalf("counter %q: exit %d\n%s%s", args, code, stdout, stderr)
		}
		return stdout
	}
	if got := run("", "set", "visitors", "1234"); got != "visitors: count was 0, now 1234\n" {
		t.Errorf("set on a new file: %q", got)
	}
	if got := run("", "get", "-json", "visitors"); !strings.HasPrefix(got, `{"key":"visitors","count":1234,"visitors":0,"today":{"date":"`) {
		t.Errorf("get: %q", got)
	}
	line := `{"key":"page","count":9,"visitors":3,"days":[{"date":"2026-11-02","count":9,"visitors":3}]}` + "\n"
	run(line, "import", "-")
	run(line, "import", "-")
	if got, want := run("", "export"), line+`{"key":"visitors","count":1234,"visitors":0,"days":[]}`+"\n"; got != want {
		t.Errorf("export:\n%s\nwant\n%s", got, want)
	}

	s := start(t, data...)
	_, stderr, code := runBinary(t, data, "", "set", "visitors", "1")
	if code != 1 || !strings.Contains(stderr, "locked by another process") || !strings.Contains(stderr, "stop it, or use its admin routes") {
		t.Errorf("set while the server runs: exit %d, %s", code, stderr)
	}
	if a := getJSON(t, s.URL+"/api/visitors"); a.Count != 1235 {
		t.Errorf("the server counts on from the count set: %d, want 1235", a.Count)
	}
}

// TestOwnerCommands runs set, get, import (twice) and export through the
// binary on every store the owner's commands open.
func TestOwnerCommands(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  func(t *testing.T) []string
	}{
		{"sqlite", func(t *testing.T) []string {
			return []string{"COUNTER_STORE=sqlite", "COUNTER_DATA=" + filepath.Join(t.TempDir(), "c.sqlite")}
		}},
		{"postgres", postgresEnv},
		{"redis", redisEnv},
		{"redis-cluster", redisClusterEnv},
		{"dynamodb", func(t *testing.T) []string { env, _, _ := dynamoEnv(t); return env }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := tc.env(t)
			run := func(stdin string, args ...string) string {
				t.Helper()
				stdout, stderr, code := runBinary(t, env, stdin, args...)
				if code != 0 {
					t.Fatalf("counter %q: exit %d\n%s%s", args, code, stdout, stderr)
				}
				return stdout
			}
			key := "owner-" + strings.ReplaceAll(tc.name, "-", "")
			if got, want := run("", "set", key, "1234"), key+": count was 0, now 1234\n"; got != want {
				t.Errorf("set on a new key: %q, want %q", got, want)
			}
			if got := run("", "get", "-json", key); !strings.HasPrefix(got, `{"key":"`+key+`","count":1234,"visitors":0,"today":{"date":"`) {
				t.Errorf("get: %q", got)
			}
			line := `{"key":"` + key + `-page","count":9,"visitors":3,"days":[{"date":"2026-11-02","count":9,"visitors":3}]}` + "\n"
			run(line, "import", "-")
			run(line, "import", "-")
			if got := run("", "export", key+"-page"); got != line {
				t.Errorf("export after importing twice:\n%s\nwant\n%s", got, line)
			}
			if got, want := run("", "set", key, "7"), key+": count was 1234, now 7\n"; got != want {
				t.Errorf("set again: %q, want %q", got, want)
			}
		})
	}
}

// TestDynamoOwnerRepairs (issue 16): on a DynamoDB table (dynalite), the
// owner's commands read and write the attribute COUNTER_COUNT_ATTRIBUTE
// names, as the Lambda function does, and "counter set visitors 1234"
// replaces a count typed as a string, as docs/moving.md promises.
func TestDynamoOwnerRepairs(t *testing.T) {
	env, endpoint, table := dynamoEnv(t)
	client := testenv.DynamoClient(endpoint)
	ctx := context.Background()
	put := func(key, attr string, value types.AttributeValue) {
		t.Helper()
		if _, err := client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: map[string]types.AttributeValue{
			"id": &types.AttributeValueMemberS{Value: key}, attr: value,
		}}); err != nil {
			t.Fatal(err)
		}
	}
	item := func(key string) map[string]types.AttributeValue {
		t.Helper()
		out, err := client.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: map[string]types.AttributeValue{
			"id": &types.AttributeValueMemberS{Value: key},
		}})
		if err != nil {
			t.Fatal(err)
		}
		return out.Item
	}
	run := func(env []string, args ...string) string {
		t.Helper()
		stdout, stderr, code := runBinary(t, env, "", args...)
		if code != 0 {
			t.Fatalf("counter %q: exit %d\n%s%s", args, code, stdout, stderr)
		}
		return stdout
	}

	put("visitors", "count", &types.AttributeValueMemberS{Value: "1234"})
	if got, want := run(env, "set", "visitors", "1234"), "visitors: count was 1234, now 1234\n"; got != want {
		t.Errorf("set over a string count: %q, want %q", got, want)
	}
	if n, _ := item("visitors")["count"].(*types.AttributeValueMemberN); n == nil || n.Value != "1234" {
		t.Errorf("the count after set: %#v, want the number 1234", item("visitors")["count"])
	}

	views := append(env[:len(env):len(env)], "COUNTER_COUNT_ATTRIBUTE=views")
	put("home", "views", &types.AttributeValueMemberN{Value: "41"})
	if got := run(views, "get", "-json", "home"); !strings.HasPrefix(got, `{"key":"home","count":41,`) {
		t.Errorf("get with COUNTER_COUNT_ATTRIBUTE=views: %q, want count 41", got)
	}
	if got, want := run(views, "set", "home", "100"), "home: count was 41, now 100\n"; got != want {
		t.Errorf("set with COUNTER_COUNT_ATTRIBUTE=views: %q, want %q", got, want)
	}
	got := item("home")
	if n, _ := got["views"].(*types.AttributeValueMemberN); n == nil || n.Value != "100" {
		t.Errorf("views after set: %#v, want 100", got["views"])
	}
	if _, ok := got["count"]; ok {
		t.Errorf("set wrote a second attribute count: %v", got)
	}
	if _, stderr, code := runBinary(t, append(env[:len(env):len(env)], "COUNTER_COUNT_ATTRIBUTE=id"), "", "get", "home"); code != exitFailure || !strings.Contains(stderr, "COUNTER_COUNT_ATTRIBUTE=id: want") {
		t.Errorf("COUNTER_COUNT_ATTRIBUTE=id: exit %d, %s", code, stderr)
	}
}

// TestImportLowers (issue 16): an import that would lower a key's count or
// visitors writes nothing and names the keys, unless -allow-lower; -check
// shows each key's numbers now and after, and marks the lowering ones. A
// line with the same field twice is refused with its line number, by
// -check too (issue 15, defect 6).
func TestImportLowers(t *testing.T) {
	to := counter.NewMemory()
	ctx := context.Background()
	if _, err := to.SetCount(ctx, "visitors", 5000); err != nil {
		t.Fatal(err)
	}
	p := &inProcess{t: t, store: to}
	file := `{"key":"visitors","count":3,"visitors":2}` + "\n" + `{"key":"new","count":9}` + "\n"
	p.stdin = file
	want := "standard input: 2 keys, every line valid\n" +
		"KEY       COUNT NOW  COUNT AFTER  VISITORS NOW  VISITORS AFTER\n" +
		"visitors  5000       3            0             2  lower: needs -allow-lower\n" +
		"new       0          9            0             0\n"
	if got := p.must("import", "-check", "-"); got != want {
		t.Errorf("import -check:\n%s\nwant\n%s", got, want)
	}
	p.stdin = file
	if code := p.run("import", "-"); code != exitFailure {
		t.Fatalf("an import lowering a count: exit %d, want 1", code)
	}
	if want := "counter import: the import would lower the numbers of 1 key; nothing was imported:\n" +
		"\tvisitors: count 3, now 5000; visitors 2, now 0\n" +
		"(see every change with import -check; import with -allow-lower to lower them)\n"; p.stderr.String() != want {
		t.Errorf("stderr:\n%s\nwant\n%s", p.stderr.String(), want)
	}
	if keys, _ := to.Keys(ctx); len(keys) != 1 {
		t.Fatalf("keys after a refused import: %v, want only visitors", keys)
	}
	if n, _ := to.Count(ctx, "visitors"); n != 5000 {
		t.Fatalf("count after a refused import: %d, want 5000", n)
	}
	p.stdin = file
	if got := p.must("import", "-allow-lower", "-"); got != "imported 2 keys from standard input into the test's store\n" {
		t.Errorf("import -allow-lower: %q", got)
	}
	if n, _ := to.Count(ctx, "visitors"); n != 3 {
		t.Fatalf("count after import -allow-lower: %d, want 3", n)
	}

	for _, args := range [][]string{{"import", "-check", "-"}, {"import", "-allow-lower", "-"}} {
		p.stdin = `{"key":"a","count":5}` + "\n" + `{"key":"b","count":5,"Count":1000000}` + "\n"
		if code := p.run(args...); code != exitFailure || !strings.Contains(p.stderr.String(), `line 2: unknown field "Count"`) {
			t.Errorf("counter %q with a field in two cases: exit %d, %s", args, code, p.stderr.String())
		}
	}
	if n, _ := to.Count(ctx, "b"); n != 0 {
		t.Fatalf("a refused line was imported: count %d", n)
	}
}
