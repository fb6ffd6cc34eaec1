package main

import (
	"context"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/resumecounter/counter"
	"github.com/resumecounter/counter/boltstore"
	"github.com/resumecounter/counter/internal/testenv"
)

// dynamoEditor skips the test while counter.Dynamo does not implement
// what moving counts needs.
func dynamoEditor(t *testing.T) {
	t.Helper()
	if _, ok := any((*counter.Dynamo)(nil)).(interface {
		counter.VisitStore
		counter.Editor
		counter.HistoryReader
	}); !ok {
		t.Skip("counter.Dynamo does not implement counter.VisitStore, counter.Editor and counter.HistoryReader yet; this test runs once it does")
	}
}

// TestMoveBoltToDynamo is the proof that counts move between stores:
// a bbolt file with visitors and more than a year of daily history,
// exported by the binary and imported by it into an empty DynamoDB table,
// gives the same numbers and the same history, and exports the same file.
func TestMoveBoltToDynamo(t *testing.T) {
	dynamoEditor(t)
	ctx := context.Background()

	// The bolt file: visits over 400 days on one key, a few on others, and
	// a count carried over from another counter.
	path := filepath.Join(t.TempDir(), "counter.db")
	b, err := boltstore.Open(path, boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	from := any(b).(ownerStore)
	days := seedHistory(t, from, "visitors")
	first := counter.Date("2025-10-01")
	for i := range 400 {
		date := first.AddDays(i)
		for v := range i%3 + 1 {
			visit(t, from, "page:long", date, byte(v+1))
		}
	}
	visit(t, from, "blog.post-1", "2026-11-02", 7)
	if _, err := from.SetCount(ctx, "carried", 41_500); err != nil {
		t.Fatal(err)
	}
	if _, err := from.SetCount(ctx, "visitors", 1_000_006); err != nil {
		t.Fatal(err)
	}
	keys := []string{"blog.post-1", "carried", "page:long", "visitors"}
	wantStats := map[string]counter.Stats{}
	for _, k := range keys {
		if wantStats[k], err = from.Stats(ctx, k, "2026-12-01"); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}

	boltEnv := []string{"COUNTER_DATA=" + path}
	export := mustRun(t, boltEnv, "", "export")
	if n := strings.Count(export, "\n"); n != len(keys) {
		t.Fatalf("export has %d lines, want %d:\n%.500s", n, len(keys), export)
	}
	recs := parseExport(t, export)
	if got := recs[3]; got.Key != "visitors" || got.Count != 1_000_006 || got.Visitors != 4 || !reflect.DeepEqual(got.Days, days) {
		t.Fatalf("exported visitors: %+v", got)
	}
	if got := recs[2]; got.Key != "page:long" || len(got.Days) != 400 || got.Days[0].Date != first || got.Days[399].Count != 399%3+1 {
		t.Fatalf("exported page:long: %d days, from %s", len(got.Days), got.Days[0].Date)
	}

	env, endpoint, table := dynamoEnv(t)
	for range 2 { // importing twice leaves the same state
		if got, want := mustRun(t, env, export, "import", "-"), fmt.Sprintf("imported %d keys from standard input into DynamoDB table %s\n", len(keys), table); got != want {
			t.Fatalf("import: %q, want %q", got, want)
		}
	}
	to := counter.NewDynamo(testenv.DynamoClient(endpoint), counter.DynamoOptions{Table: table, ConsistentRead: true})
	toStore := any(to).(interface {
		counter.VisitStore
		counter.HistoryReader
	})
	for _, k := range keys {
		got, err := toStore.Stats(ctx, k, "2026-12-01")
		if err != nil {
			t.Fatal(err)
		}
		if got != wantStats[k] {
			t.Errorf("%s in DynamoDB: %+v, in bolt %+v", k, got, wantStats[k])
		}
	}
	// History, read by the store in windows of at most MaxHistoryDays.
	var history []counter.Day
	for d := first; d <= first.AddDays(399); d = d.AddDays(counter.MaxHistoryDays) {
		last := min(d.AddDays(counter.MaxHistoryDays-1), first.AddDays(399))
		part, err := toStore.History(ctx, "page:long", d, last)
		if err != nil {
			t.Fatal(err)
		}
		history = append(history, part...)
	}
	if !reflect.DeepEqual(history, recs[2].Days) {
		t.Errorf("page:long's history in DynamoDB differs from bolt's export")
	}
	// The table exports what the file did.
	if again := mustRun(t, env, "", append([]string{"export"}, keys...)...); again != export {
		t.Errorf("DynamoDB's export differs from bolt's:\n%.600s\nwant\n%.600s", again, export)
	}
}

// TestSetOnLiveDynamoServer: counter set on the table a running server
// counts in is seen by the server's next visit.
func TestSetOnLiveDynamoServer(t *testing.T) {
	dynamoEditor(t)
	env, _, _ := dynamoEnv(t)
	s := start(t, env...)
	for range 3 {
		getJSON(t, s.URL+"/api/visitors")
	}
	if got := mustRun(t, env, "", "set", "visitors", "1000"); got != "visitors: count was 3, now 1000\n" {
		t.Fatalf("set: %q", got)
	}
	if a := getJSON(t, s.URL+"/api/visitors"); a.Count != 1001 {
		t.Fatalf("the next visit: count %d, want 1001", a.Count)
	}
	if got := mustRun(t, env, "", "get", "visitors"); !strings.Contains(got, "visitors  1001 ") {
		t.Errorf("get: %q", got)
	}
}

// mustRun runs the binary and fails the test unless it exits 0.
func mustRun(t *testing.T, env []string, stdin string, args ...string) string {
	t.Helper()
	stdout, stderr, code := runBinary(t, env, stdin, args...)
	if code != 0 {
		t.Fatalf("counter %q: exit %d\n%s%s", args, code, stdout, stderr)
	}
	return stdout
}
