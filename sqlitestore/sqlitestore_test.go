package sqlitestore

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/resumecounter/counter"
	"github.com/resumecounter/counter/countertest"
)

// open opens the store at path for a test. Its clock, unless opts sets
// one, stands at noon UTC on day1, the day the tests count on, so that no
// test depends on the day it runs.
func open(t testing.TB, path string, opts Options) *Store {
	t.Helper()
	if opts.Now == nil {
		opts.Now = func() time.Time { return at(day1, 12) }
	}
	s, err := Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func tempStore(t testing.TB, opts Options) *Store {
	t.Helper()
	return open(t, filepath.Join(t.TempDir(), "counter.sqlite"), opts)
}

func TestConformance(t *testing.T) {
	countertest.Run(t, func(t *testing.T) countertest.Store { return tempStore(t, Options{}) })
}

func TestVisitsConformance(t *testing.T) {
	countertest.RunVisits(t, func(t *testing.T, cfg countertest.Config) countertest.VisitStore {
		return tempStore(t, Options{Now: cfg.Now, MaxKeys: cfg.MaxKeys})
	})
}

func TestEditorConformance(t *testing.T) {
	countertest.RunEditor(t, func(t *testing.T, cfg countertest.Config) countertest.EditStore {
		return tempStore(t, Options{Now: cfg.Now, MaxKeys: cfg.MaxKeys})
	})
}

var day1 = counter.Date("2026-12-01")

func visitor(i int) counter.VisitorID {
	var id counter.VisitorID
	copy(id[:], fmt.Sprintf("visitor-%08d", i))
	return id
}

func at(d counter.Date, h int) time.Time { return d.Time().Add(time.Duration(h) * time.Hour) }

func mustVisit(t testing.TB, s *Store, v counter.Visit) (counter.Stats, bool) {
	t.Helper()
	st, ok, err := s.RecordVisit(context.Background(), v)
	if err != nil {
		t.Fatalf("RecordVisit(%+v): %v", v, err)
	}
	return st, ok
}

func mustStats(t testing.TB, s *Store, key string, today counter.Date) counter.Stats {
	t.Helper()
	st, err := s.Stats(context.Background(), key, today)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestReopenKeepsEverything(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "counter.sqlite")
	s := open(t, path, Options{})
	mustVisit(t, s, counter.Visit{Key: "home", Date: day1, Visitor: visitor(1), ID: "a", Time: at(day1, 1)})
	if _, err := s.Add(ctx, "home", 10); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Increment(ctx, "home"); err == nil {
		t.Fatal("Increment after Close succeeded")
	}
	s = open(t, path, Options{})
	if st := mustStats(t, s, "home", day1); st.Count != 11 || st.Visitors != 1 || st.Today.Count != 1 {
		t.Fatalf("after reopening: %+v", st)
	}
	if _, ok := mustVisit(t, s, counter.Visit{Key: "home", Date: day1, ID: "a", Time: at(day1, 2)}); ok {
		t.Fatal("a visit id was forgotten across reopening")
	}
	var v int
	if err := s.r.QueryRow(`SELECT version FROM schema_version`).Scan(&v); err != nil || v != len(migrations) {
		t.Fatalf("schema_version = %d, %v; want %d", v, err, len(migrations))
	}
	var mode string
	if err := s.w.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal_mode = %q, %v; want wal", mode, err)
	}
	var sync int
	if err := s.w.QueryRow(`PRAGMA synchronous`).Scan(&sync); err != nil || sync != 2 {
		t.Fatalf("synchronous = %d, %v; want 2 (FULL)", sync, err)
	}
}

// A file of schema version 1, whose triggers kept the marker tallies, keeps
// exact tallies after migration 2 hands them to the batches and the sweep.
func TestMigrationKeepsTallies(t *testing.T) {
	path := filepath.Join(t.TempDir(), "counter.sqlite")
	// Two visits as version 1 stored them, its triggers counting the markers.
	oldFile(t, path, 1,
		`INSERT INTO counts VALUES ('k', 2, 2)`,
		`INSERT INTO days VALUES ('k', '2026-12-01', 2, 2)`,
		`INSERT INTO visitor_marks VALUES ('2026-12-01', 'k', CAST('visitor-00000001' AS BLOB)), ('2026-12-01', 'k', CAST('visitor-00000002' AS BLOB))`,
		fmt.Sprintf(`INSERT INTO visit_ids VALUES ('k', 'a', %d), ('k', 'b', %d)`, at(day1, 25).UnixNano(), at(day1, 26).UnixNano()),
	)
	s := open(t, path, Options{})
	var triggers int
	if err := s.r.QueryRow(`SELECT count(*) FROM sqlite_schema WHERE type = 'trigger' AND tbl_name IN ('visitor_marks', 'visit_ids')`).Scan(&triggers); err != nil || triggers != 0 {
		t.Fatalf("%d marker triggers left, %v; want none", triggers, err)
	}
	checkTallies(t, s, 2, 2)
	mustVisit(t, s, counter.Visit{Key: "k", Date: day1, Visitor: visitor(3), ID: "c", Time: at(day1, 3)})
	if st, ok := mustVisit(t, s, counter.Visit{Key: "k", Date: day1, Visitor: visitor(1), ID: "d", Time: at(day1, 4)}); !ok || st.Visitors != 3 || st.Count != 4 {
		t.Fatalf("returning visitor after the migration: %+v, %v; want counted, 4 hits, 3 visitors", st, ok)
	}
	checkTallies(t, s, 3, 4)
	if _, err := s.sweep(context.Background(), at(day1, 27)); err != nil { // the ids a, b, c expired
		t.Fatal(err)
	}
	checkTallies(t, s, 3, 1)
}

// oldFile makes a file of schema version at path, as an older program
// would have, with stmts run in one transaction after the migrations.
func oldFile(t *testing.T, path string, version int, stmts ...string) {
	t.Helper()
	ctx := context.Background()
	defer func(all []string) { migrations = all }(migrations)
	migrations = migrations[:version]
	db, err := sql.Open("sqlite", dsn(path, time.Second, true))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := migrate(ctx, db, time.Second); err != nil {
		t.Fatal(err)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range stmts {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

// Version 3 makes the visitor markers a log read into memory: a version-2
// file keeps every marker (a returning visitor stays returning, the tally
// holds), and once they expire the sweep leaves none of their bytes in the
// file or its WAL, the old table's pages included.
func TestMigrationMarkerLog(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "counter.sqlite")
	stmts := []string{`INSERT INTO counts VALUES ('k', 300, 300)`, `INSERT INTO days VALUES ('k', '2026-12-01', 300, 300)`,
		`UPDATE tallies SET value = 300 WHERE name = 'visitor_marks'`}
	for i := range 300 { // several pages of markers
		stmts = append(stmts, fmt.Sprintf(`INSERT INTO visitor_marks VALUES ('2026-12-01', 'k', CAST('visitor-%08d' AS BLOB))`, i))
	}
	oldFile(t, path, 2, stmts...)
	s := open(t, path, Options{})
	var rows, lastSeq int
	if err := s.r.QueryRow(`SELECT count(*), max(seq) FROM visitor_marks`).Scan(&rows, &lastSeq); err != nil || rows != 300 || lastSeq != 300 {
		t.Fatalf("%d markers, the last numbered %d, after the migration (%v); want 300, 300", rows, lastSeq, err)
	}
	checkTallies(t, s, 300, 0)
	if st, ok := mustVisit(t, s, counter.Visit{Key: "k", Date: day1, Visitor: visitor(7), Time: at(day1, 2)}); !ok || st.Visitors != 300 || st.Count != 301 {
		t.Fatalf("returning visitor after the migration: %+v, %v; want counted, 301 hits, 300 visitors", st, ok)
	}
	if st, ok := mustVisit(t, s, counter.Visit{Key: "k", Date: day1, Visitor: visitor(300), Time: at(day1, 2)}); !ok || st.Visitors != 301 {
		t.Fatalf("new visitor after the migration: %+v, %v; want 301 visitors", st, ok)
	}
	checkTallies(t, s, 301, 0)
	marker := func(i int) []byte { v := visitor(i); return v[:] }
	if !bytes.Contains(dirBytes(t, dir), marker(150)) {
		t.Fatal("a marker is not in the files before the sweep: the test reads the wrong bytes")
	}
	if n, err := s.sweep(ctx, at(day1, 48)); err != nil || n != 301 {
		t.Fatalf("sweep: %d deleted, %v; want 301", n, err)
	}
	checkTallies(t, s, 0, 0)
	if n := len(s.marks.days); n != 0 {
		t.Errorf("%d days of markers in memory after the sweep deleted them all", n)
	}
	all := dirBytes(t, dir)
	for i := range 301 {
		if bytes.Contains(all, marker(i)) {
			t.Fatalf("marker %d is still in the database or its WAL after the sweep", i)
		}
	}
}

// Two stores on one file see each other's visitor markers, also after a
// sweep emptied the table: the markers a store keeps in memory catch up
// with the rows another appended (numbered by AUTOINCREMENT, so that the
// numbers go on rising when the table is emptied).
func TestMarkersAcrossStores(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "counter.sqlite")
	a, b := open(t, path, Options{}), open(t, path, Options{})
	day3 := day1.AddDays(2)
	for i, step := range []struct {
		s          *Store
		date       counter.Date
		visitor    int
		newVisitor bool
	}{
		{a, day1, 1, true}, {b, day1, 1, false}, {b, day1, 2, true}, {a, day1, 2, false}, {a, day1, 3, true},
		{b, day3, 1, true}, // after a's sweep below emptied the table
		{a, day3, 1, false}, {a, day3, 4, true}, {b, day3, 4, false},
	} {
		if i == 5 {
			if n, err := a.sweep(ctx, at(day3, 1)); err != nil || n != 3 {
				t.Fatalf("sweep: %d deleted, %v; want day 1's 3 markers", n, err)
			}
		}
		before := mustStats(t, step.s, "k", step.date)
		st, ok := mustVisit(t, step.s, counter.Visit{Key: "k", Date: step.date, Visitor: visitor(step.visitor), Time: at(step.date, 1)})
		if got := st.Today.Visitors - before.Today.Visitors; !ok || got != map[bool]int64{true: 1, false: 0}[step.newVisitor] {
			t.Fatalf("step %d: visitor %d on %s: %+v, counted %v; want a new visitor: %v", i, step.visitor, step.date, st, ok, step.newVisitor)
		}
	}
}

// A file whose schema is newer than the program's is refused, untouched.
func TestNewerSchemaRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "counter.sqlite")
	s := open(t, path, Options{})
	if _, err := s.w.Exec(`UPDATE schema_version SET version = ?`, len(migrations)+1); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := Open(path, Options{}); err == nil || !strings.Contains(err.Error(), "upgrade the program") {
		t.Fatalf("Open of a newer schema: error %v", err)
	}
}

func TestRecordVisit(t *testing.T) {
	s := tempStore(t, Options{})
	v := counter.Visit{Key: "home", Date: day1, Visitor: visitor(1), Time: at(day1, 10)}
	st, ok := mustVisit(t, s, v)
	want := counter.Stats{Key: "home", Count: 1, Visitors: 1, Today: counter.Day{Date: day1, Count: 1, Visitors: 1}}
	if !ok || st != want {
		t.Fatalf("first visit = %+v, %v; want %+v, true", st, ok, want)
	}
	st, _ = mustVisit(t, s, v)
	want = counter.Stats{Key: "home", Count: 2, Visitors: 1, Today: counter.Day{Date: day1, Count: 2, Visitors: 1}}
	if st != want {
		t.Fatalf("second visit = %+v, want %+v", st, want)
	}
	v.Visitor = counter.VisitorID{}
	mustVisit(t, s, v)
	day2 := day1.AddDays(1)
	mustVisit(t, s, counter.Visit{Key: "home", Date: day2, Visitor: visitor(1), Time: at(day2, 1)})
	want = counter.Stats{Key: "home", Count: 4, Visitors: 2, Today: counter.Day{Date: day2, Count: 1, Visitors: 1}}
	if st := mustStats(t, s, "home", day2); st != want {
		t.Fatalf("Stats = %+v, want %+v", st, want)
	}
	h, err := s.History(context.Background(), "home", day1.AddDays(-1), day2.AddDays(1))
	if err != nil {
		t.Fatal(err)
	}
	wantH := []counter.Day{{Date: day1.AddDays(-1)}, {Date: day1, Count: 3, Visitors: 1}, {Date: day2, Count: 1, Visitors: 1}, {Date: day2.AddDays(1)}}
	if fmt.Sprint(h) != fmt.Sprint(wantH) {
		t.Fatalf("History = %v, want %v", h, wantH)
	}
}

func TestRecordVisitConcurrent(t *testing.T) {
	s := tempStore(t, Options{})
	const n = 32
	var wg sync.WaitGroup
	var mu sync.Mutex
	counted := 0
	for i := range 3 * n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v := counter.Visit{Key: "k", Date: day1, Time: at(day1, 1)}
			switch i % 3 {
			case 0:
				v.Visitor = visitor(0)
			case 1:
				v.Visitor = visitor(i)
			case 2:
				v.Key, v.ID = "ids", "same-id"
			}
			_, ok, err := s.RecordVisit(context.Background(), v)
			if err != nil {
				t.Error(err)
			}
			if ok && v.Key == "ids" {
				mu.Lock()
				counted++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if st := mustStats(t, s, "k", day1); st.Count != 2*n || st.Visitors != n+1 || st.Today.Visitors != n+1 {
		t.Errorf("Stats = %+v, want count %d, visitors %d", st, 2*n, n+1)
	}
	if st := mustStats(t, s, "ids", day1); st.Count != 1 || counted != 1 {
		t.Errorf("one visit id sent %d times: count %d, counted %d times; want 1 and 1", n, st.Count, counted)
	}
	checkTallies(t, s, n+1, 1)
}

// checkTallies checks the marker tallies the triggers keep against the rows.
func checkTallies(t *testing.T, s *Store, visitors, ids int) {
	t.Helper()
	for _, c := range []struct {
		table string
		want  int
	}{{"visitor_marks", visitors}, {"visit_ids", ids}, {"counts", -1}} {
		var rows, tally int
		if err := s.r.QueryRow(`SELECT count(*) FROM ` + c.table).Scan(&rows); err != nil {
			t.Fatal(err)
		}
		name := c.table
		if name == "counts" {
			name = "keys"
		}
		if err := s.r.QueryRow(`SELECT value FROM tallies WHERE name = ?`, name).Scan(&tally); err != nil {
			t.Fatal(err)
		}
		if rows != tally || c.want >= 0 && rows != c.want {
			t.Errorf("%s: %d rows, tally %d; want %d", c.table, rows, tally, c.want)
		}
	}
}

func TestVisitIDExpires(t *testing.T) {
	s := tempStore(t, Options{})
	v := counter.Visit{Key: "k", Date: day1, ID: "abc", Time: at(day1, 1)}
	if _, ok := mustVisit(t, s, v); !ok {
		t.Fatal("first visit not counted")
	}
	v.Time = at(day1, 24)
	if st, ok := mustVisit(t, s, v); ok || st.Count != 1 || st.Today.Count != 1 {
		t.Fatalf("repeat within 24h = %+v, %v; want count 1, not counted", st, ok)
	}
	v.Time = at(day1, 25)
	if st, ok := mustVisit(t, s, v); !ok || st.Count != 2 {
		t.Fatalf("repeat after 24h = %+v, %v; want counted", st, ok)
	}
	v.Time = at(day1, 48)
	if _, ok := mustVisit(t, s, v); ok {
		t.Fatal("repeat within 24h of the renewed id was counted")
	}
	if _, ok := mustVisit(t, s, counter.Visit{Key: "other", Date: day1, ID: "abc", Time: at(day1, 48)}); !ok {
		t.Fatal("the same id on another key was not counted")
	}
	checkTallies(t, s, 0, 2)
}

func TestRecordVisitAtomic(t *testing.T) {
	s := tempStore(t, Options{})
	v := counter.Visit{Key: "k", Date: day1, Visitor: visitor(1), ID: "id1", Time: at(day1, 1)}
	s.afterWrite = func(string) error { return errors.New("injected failure") }
	if _, _, err := s.RecordVisit(context.Background(), v); err == nil || !strings.Contains(err.Error(), "injected failure") {
		t.Fatalf("RecordVisit with a failing transaction: error %v", err)
	}
	s.afterWrite = nil
	if st := mustStats(t, s, "k", day1); st != (counter.Stats{Key: "k", Today: counter.Day{Date: day1}}) {
		t.Fatalf("after a failed visit, Stats = %+v, want zeros", st)
	}
	checkTallies(t, s, 0, 0)
	if st, ok := mustVisit(t, s, v); !ok || st.Visitors != 1 || st.Count != 1 {
		t.Fatalf("visit after the failure = %+v, %v; want counted with 1 visitor", st, ok)
	}
	checkTallies(t, s, 1, 1)
}

func TestOverflowRefused(t *testing.T) {
	ctx := context.Background()
	s := tempStore(t, Options{})
	if _, err := s.Add(ctx, "k", math.MaxInt64-1); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Increment(ctx, "k"); err != nil || n != math.MaxInt64 {
		t.Fatalf("Increment to MaxInt64 = %d, %v", n, err)
	}
	if _, err := s.Increment(ctx, "k"); !errors.Is(err, counter.ErrOverflow) || !strings.HasPrefix(err.Error(), "sqlitestore: ") {
		t.Fatalf("Increment past MaxInt64: error %v, want ErrOverflow", err)
	}
	if _, err := s.Add(ctx, "k", 2); !errors.Is(err, counter.ErrOverflow) {
		t.Fatalf("Add past MaxInt64: error %v, want ErrOverflow", err)
	}
	if _, _, err := s.RecordVisit(ctx, counter.Visit{Key: "k", Date: day1, Visitor: visitor(1), ID: "x"}); !errors.Is(err, counter.ErrOverflow) {
		t.Fatalf("RecordVisit past MaxInt64: error %v, want ErrOverflow", err)
	}
	if n, err := s.Count(ctx, "k"); err != nil || n != math.MaxInt64 {
		t.Fatalf("Count after refused overflows = %d, %v; want MaxInt64", n, err)
	}
	if st := mustStats(t, s, "k", day1); st.Visitors != 0 || st.Today.Count != 0 {
		t.Fatalf("a refused visit wrote: %+v", st)
	}
	checkTallies(t, s, 0, 0)
	if err := s.Import(ctx, counter.Record{Key: "d", Days: []counter.Day{{Date: day1, Count: math.MaxInt64}}}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.RecordVisit(ctx, counter.Visit{Key: "d", Date: day1}); !errors.Is(err, counter.ErrOverflow) {
		t.Fatalf("RecordVisit past a day's MaxInt64: error %v, want ErrOverflow", err)
	}
	if n, _ := s.Count(ctx, "d"); n != 0 {
		t.Fatalf("refused visit counted: %d", n)
	}
}

// fillKeys stores n keys k0… in one transaction, as n first visits would.
func fillKeys(t *testing.T, s *Store, n int) {
	t.Helper()
	tx, err := s.w.Begin()
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if _, err := tx.Exec(`INSERT INTO counts (key, count) VALUES (?, 1)`, fmt.Sprintf("k%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

func TestDefaultMaxKeys(t *testing.T) {
	ctx := context.Background()
	s := tempStore(t, Options{})
	fillKeys(t, s, DefaultMaxKeys-1)
	if _, err := s.Increment(ctx, "last"); err != nil {
		t.Fatalf("key %d: %v", DefaultMaxKeys, err)
	}
	for _, err := range []error{
		func() error { _, err := s.Increment(ctx, "one-more"); return err }(),
		func() error { _, err := s.Add(ctx, "one-more", 3); return err }(),
		func() error {
			_, _, err := s.RecordVisit(ctx, counter.Visit{Key: "one-more", Date: day1})
			return err
		}(),
	} {
		if !errors.Is(err, ErrTooManyKeys) || !errors.Is(err, counter.ErrTooManyKeys) {
			t.Errorf("key %d with default options: error %v, want ErrTooManyKeys", DefaultMaxKeys+1, err)
		}
	}
	if n, err := s.Increment(ctx, "k0"); err != nil || n != 2 {
		t.Fatalf("existing key at the cap = %d, %v; want 2", n, err)
	}
	if _, _, err := s.RecordVisit(ctx, counter.Visit{Key: "k1", Date: day1}); err != nil {
		t.Fatalf("visit to an existing key at the cap: %v", err)
	}
	if k, _ := s.NumKeys(ctx); k != DefaultMaxKeys {
		t.Fatalf("NumKeys = %d, want %d", k, DefaultMaxKeys)
	}
	s2 := tempStore(t, Options{MaxKeys: -1})
	fillKeys(t, s2, DefaultMaxKeys)
	if _, err := s2.Increment(ctx, "one-more"); err != nil {
		t.Fatalf("MaxKeys -1: key %d refused: %v", DefaultMaxKeys+1, err)
	}
}

type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestMaxMarkers(t *testing.T) {
	ctx := context.Background()
	s := tempStore(t, Options{MaxMarkers: 3})
	for i := range 3 {
		mustVisit(t, s, counter.Visit{Key: "k", Date: day1, Visitor: visitor(i), ID: fmt.Sprintf("id%d", i), Time: at(day1, 1)})
	}
	// Each visit that needs a new marker past the cap is refused whole.
	for _, v := range []counter.Visit{
		{Visitor: visitor(3)},               // a new visitor
		{Visitor: visitor(0), ID: "id-new"}, // a new visit id
		{ID: "id-new"},                      // a new visit id, hit only
		{Visitor: visitor(3), ID: "id0"},    // a repeated id is checked first: not refused, not counted
	} {
		v.Key, v.Date, v.Time = "k", day1, at(day1, 2)
		_, counted, err := s.RecordVisit(ctx, v)
		if v.ID == "id0" {
			if err != nil || counted {
				t.Errorf("RecordVisit(%+v) = counted %v, %v; want a repeat", v, counted, err)
			}
			continue
		}
		if !errors.Is(err, counter.ErrMarkersFull) || counted {
			t.Errorf("RecordVisit(%+v) past the cap = counted %v, %v; want ErrMarkersFull", v, counted, err)
		}
	}
	// Visits that need no new marker count.
	mustVisit(t, s, counter.Visit{Key: "k", Date: day1, Visitor: visitor(0), Time: at(day1, 2)})
	mustVisit(t, s, counter.Visit{Key: "k", Date: day1, Time: at(day1, 2)})
	if st := mustStats(t, s, "k", day1); st.Count != 5 || st.Visitors != 3 {
		t.Fatalf("after refused visits: %+v; want 5 hits, 3 visitors", st)
	}
	checkTallies(t, s, 3, 3)

	// counter.Visitors in front counts a refused new visitor as a hit and
	// logs that once.
	logs := &logBuffer{}
	vis := counter.NewVisitors(s, counter.VisitorOptions{
		Now:    func() time.Time { return at(day1, 3) },
		Logger: slog.New(slog.NewTextHandler(logs, nil)),
	})
	for i := range 3 {
		r := httptest.NewRequest(http.MethodGet, "/api/k", nil)
		r.RemoteAddr = fmt.Sprintf("192.0.2.%d:4321", i+1)
		r.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0")
		r.Header.Set("Idempotency-Key", fmt.Sprintf("view-%d", i))
		st, skip, err := vis.Visit(ctx, r, "k")
		if err != nil || skip != counter.Counted || st.Count != int64(6+i) || st.Visitors != 3 {
			t.Fatalf("Visit through counter.Visitors past the cap = %+v, %q, %v; want counted as a hit", st, skip, err)
		}
	}
	if n := strings.Count(logs.String(), "level=WARN"); n != 1 {
		t.Errorf("%d log lines about full markers, want 1:\n%s", n, logs)
	}

	// Markers expire and free their places.
	if _, err := s.sweep(ctx, at(day1, 48)); err != nil {
		t.Fatal(err)
	}
	checkTallies(t, s, 0, 0)
	day3 := day1.AddDays(2)
	for i := range 3 {
		mustVisit(t, s, counter.Visit{Key: "k", Date: day3, Visitor: visitor(100 + i), Time: at(day3, 1)})
	}
	if st := mustStats(t, s, "k", day3); st.Today.Visitors != 3 {
		t.Fatalf("after the sweep, %d new visitors counted, want 3", st.Today.Visitors)
	}
}

func TestSweep(t *testing.T) {
	ctx := context.Background()
	s := tempStore(t, Options{})
	salt := bytes.Repeat([]byte{7}, counter.SaltLen)
	for _, d := range []counter.Date{day1, day1.AddDays(1)} {
		if _, err := s.DaySalt(ctx, d, salt); err != nil {
			t.Fatal(err)
		}
		mustVisit(t, s, counter.Visit{Key: "k", Date: d, Visitor: visitor(1), ID: "v" + string(d), Time: at(d, 12)})
	}
	countSalts := func() int {
		var n int
		if err := s.r.QueryRow(`SELECT count(*) FROM salts`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	for _, step := range []struct {
		now          time.Time
		vm, ids, slt int
	}{
		{at(day1, 36).Add(-1), 2, 2, 2},
		{at(day1, 36), 2, 1, 2},
		{at(day1, 48).Add(-1), 2, 1, 2},
		{at(day1, 48), 1, 1, 1},
		{at(day1, 60), 1, 0, 1},
		{at(day1, 72), 0, 0, 0},
		{at(day1, 24*365), 0, 0, 0},
	} {
		if _, err := s.sweep(ctx, step.now); err != nil {
			t.Fatal(err)
		}
		checkTallies(t, s, step.vm, step.ids)
		if n := countSalts(); n != step.slt {
			t.Errorf("sweep at %v: %d salts, want %d", step.now, n, step.slt)
		}
	}
	if st := mustStats(t, s, "k", day1); st.Count != 2 || st.Visitors != 2 {
		t.Fatalf("the sweep changed the numbers: %+v", st)
	}
}

func TestSweepBounded(t *testing.T) {
	ctx := context.Background()
	s := tempStore(t, Options{MaxMarkers: -1})
	tx, err := s.w.Begin()
	if err != nil {
		t.Fatal(err)
	}
	for i := range sweepBatch + 10 {
		if _, err := tx.Exec(`INSERT INTO visitor_marks (date, key, visitor) VALUES (?, 'k', ?)`, string(day1), fmt.Sprintf("%016d", i)); err != nil {
			t.Fatal(err)
		}
	}
	// The store keeps the tally when it stores markers; so does this test.
	if _, err := tx.Exec(`UPDATE tallies SET value = value + ? WHERE name = 'visitor_marks'`, sweepBatch+10); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	for _, want := range []int{sweepBatch, 10, 0} {
		n, err := s.sweep(ctx, at(day1, 49))
		if err != nil || n != want {
			t.Fatalf("sweep deleted %d, %v; want %d", n, err, want)
		}
	}
	checkTallies(t, s, 0, 0)
}

func TestDaySalt(t *testing.T) {
	ctx := context.Background()
	s := tempStore(t, Options{})
	a, b := bytes.Repeat([]byte{1}, counter.SaltLen), bytes.Repeat([]byte{2}, counter.SaltLen)
	var wg sync.WaitGroup
	got := make([][]byte, 16)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fresh := a
			if i%2 == 1 {
				fresh = b
			}
			salt, err := s.DaySalt(ctx, day1, fresh)
			if err != nil {
				t.Error(err)
			}
			got[i] = salt
		}()
	}
	wg.Wait()
	for _, g := range got {
		if len(g) != counter.SaltLen || !bytes.Equal(g, got[0]) {
			t.Fatalf("racing DaySalt calls got different salts")
		}
	}
	if salt, _ := s.DaySalt(ctx, day1.AddDays(1), b); !bytes.Equal(salt, b) {
		t.Fatal("another day got an old salt")
	}
	if _, err := s.DaySalt(ctx, day1, a[:16]); err == nil {
		t.Fatal("a 16-byte salt was accepted")
	}
	if _, err := s.DaySalt(ctx, "2026-13-01", a); !errors.Is(err, counter.ErrInvalidDate) {
		t.Fatalf("invalid date: error %v", err)
	}
}

func TestBadInput(t *testing.T) {
	ctx := context.Background()
	s := tempStore(t, Options{})
	for _, v := range []counter.Visit{
		{Key: "a b", Date: day1},
		{Key: "k", Date: "2026-02-30"},
		{Key: "k", Date: ""},
		{Key: "k", Date: day1, ID: strings.Repeat("x", counter.MaxVisitIDLen+1)},
		{Key: "k", Date: day1, ID: "a b"},
		{Key: "k", Date: day1, ID: "'; DROP TABLE counts; --"},
	} {
		if _, _, err := s.RecordVisit(ctx, v); err == nil {
			t.Errorf("RecordVisit(%+v) succeeded", v)
		}
	}
	if _, ok := mustVisit(t, s, counter.Visit{Key: "k", Date: day1, ID: strings.Repeat("x", counter.MaxVisitIDLen)}); !ok {
		t.Error("a 64-byte visit id was refused")
	}
	if k, _ := s.NumKeys(ctx); k != 1 {
		t.Errorf("refused visits wrote keys: %d", k)
	}
	for _, r := range [][2]counter.Date{{day1, day1.AddDays(-1)}, {day1, day1.AddDays(counter.MaxHistoryDays)}, {"x", day1}} {
		if _, err := s.History(ctx, "k", r[0], r[1]); !errors.Is(err, counter.ErrInvalidDate) {
			t.Errorf("History(%s, %s): error %v, want ErrInvalidDate", r[0], r[1], err)
		}
	}
	if h, err := s.History(ctx, "k", day1, day1.AddDays(counter.MaxHistoryDays-1)); err != nil || len(h) != counter.MaxHistoryDays || h[0].Count != 1 {
		t.Errorf("History of %d days: %d days, %v", counter.MaxHistoryDays, len(h), err)
	}
	for _, r := range []counter.Record{
		{Key: "k", Count: -1},
		{Key: "bad key"},
		{Key: "k", Days: []counter.Day{{Date: "2026-1-1"}}},
		{Key: "k", Days: []counter.Day{{Date: day1}, {Date: day1}}},
		{Key: "k", Days: []counter.Day{{Date: day1, Visitors: -1}}},
	} {
		if err := s.Import(ctx, r); err == nil {
			t.Errorf("Import(%+v) succeeded", r)
		}
	}
	if _, err := s.SetCount(ctx, "k", -1); err == nil {
		t.Error("SetCount(-1) succeeded")
	}
	if st := mustStats(t, s, "k", day1); st.Count != 1 {
		t.Errorf("refused edits wrote: %+v", st)
	}
	for _, p := range []string{"", ":memory:", "a?mode=ro", "b#c"} {
		if s, err := Open(p, Options{}); err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded", p)
		}
	}
}

func TestEditor(t *testing.T) {
	ctx := context.Background()
	s := tempStore(t, Options{MaxKeys: 1})
	mustVisit(t, s, counter.Visit{Key: "b", Date: day1, Visitor: visitor(1)})
	if old, err := s.SetCount(ctx, "b", 500); err != nil || old != 1 {
		t.Fatalf("SetCount = %d, %v; want old 1", old, err)
	}
	r := counter.Record{Key: "a", Count: 41, Visitors: 7, Days: []counter.Day{{Date: day1, Count: 3, Visitors: 2}, {Date: day1.AddDays(3), Count: 1, Visitors: 1}}}
	for range 2 {
		if err := s.Import(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Export(ctx, "a")
	if err != nil || fmt.Sprint(got) != fmt.Sprint(r) {
		t.Fatalf("Export = %+v, %v; want %+v", got, err, r)
	}
	if got, _ := s.Export(ctx, "b"); got.Count != 500 || got.Visitors != 1 || len(got.Days) != 1 {
		t.Fatalf("Export(b) after SetCount = %+v", got)
	}
	if got, _ := s.Export(ctx, "never"); got.Count != 0 || len(got.Days) != 0 {
		t.Fatalf("Export of a key never counted = %+v", got)
	}
	if keys, err := s.Keys(ctx); err != nil || fmt.Sprint(keys) != "[a b]" {
		t.Fatalf("Keys = %v, %v", keys, err)
	}
}

// A write blocked by another process's lock ends with its caller's context
// and writes nothing.
func TestContextEndsWhileLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "counter.sqlite")
	s := open(t, path, Options{})
	other, err := sql.Open("sqlite", dsn(path, time.Second, true))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	conn, err := other.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(context.Background(), `BEGIN IMMEDIATE`); err != nil { // holds the write lock
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, _, err = s.RecordVisit(ctx, counter.Visit{Key: "k", Date: day1, Visitor: visitor(1)})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("RecordVisit while another connection held the write lock: error %v, want the context's", err)
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Fatalf("RecordVisit returned after %v, want about the context's 100ms", d)
	}
	t.Logf("error after %v: %v", time.Since(start), err)
	if _, err := conn.ExecContext(context.Background(), `ROLLBACK`); err != nil {
		t.Fatal(err)
	}
	if st := mustStats(t, s, "k", day1); st.Count != 0 {
		t.Fatalf("a failed visit wrote: %+v", st)
	}
	if n, err := s.Increment(context.Background(), "k"); err != nil || n != 1 {
		t.Fatalf("Increment after the lock was released = %d, %v", n, err)
	}
}

// No address or User-Agent, nor an unsalted hash of them, reaches the
// database file or its WAL.
func TestPrivacyFileBytes(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "counter.sqlite")
	s := open(t, path, Options{})
	clients := [][2]string{
		{"203.0.113.77", "Mozilla/5.0 (X11; Linux x86_64) PrivacyProbe/1.0"},
		{"2001:db8:abcd:12::1", "Mozilla/5.0 (Macintosh) AppleWebKit/605.1.15 Safari/605.1.15 PrivacyProbe2"},
		{"198.51.100.23", "Mozilla/5.0 (iPhone) SecretAgentString/42"},
	}
	// Through counter.Visitors, as the handlers count: it computes the
	// visitor ids from the address and the User-Agent.
	vis := counter.NewVisitors(s, counter.VisitorOptions{TrustProxy: 1, Now: s.now}) // one day for every visit
	for i, c := range clients {
		for _, key := range []string{"home", "about"} {
			r := httptest.NewRequest(http.MethodGet, "/api/"+key, nil)
			r.RemoteAddr = "127.0.0.1:4242"
			r.Header.Set("X-Forwarded-For", c[0])
			r.Header.Set("User-Agent", c[1])
			r.Header.Set("Idempotency-Key", fmt.Sprintf("view-%d", i))
			if st, skip, err := vis.Visit(ctx, r, key); err != nil || skip != counter.Counted || st.Today.Visitors != int64(i+1) {
				t.Fatalf("Visit from %s = %+v, %q, %v; want a new visitor", c[0], st, skip, err)
			}
		}
	}
	var all []byte
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries { // the database, its WAL and shared memory
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, b...)
	}
	for _, c := range clients {
		for _, secret := range []string{c[0], c[1], "PrivacyProbe", "SecretAgentString"} {
			sum := sha256.Sum256([]byte(secret))
			for _, form := range [][]byte{[]byte(secret), sum[:], []byte(hex.EncodeToString(sum[:]))} {
				if bytes.Contains(all, form) {
					t.Errorf("the files hold %q (or its unsalted hash)", secret)
				}
			}
		}
	}
	if !bytes.Contains(all, []byte("view-1")) {
		t.Fatal("the visit id is not in the files: the test reads the wrong bytes")
	}
}

// After the sweep deletes an expired salt, neither the database nor its WAL
// holds the salt's bytes: without the salt, visitor ids cannot be linked to
// an address.
func TestSaltGoneAfterSweep(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := open(t, filepath.Join(dir, "counter.sqlite"), Options{})
	salt := []byte("SALT-that-must-not-outlive-48-h!")
	if _, err := s.DaySalt(ctx, day1, salt); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		mustVisit(t, s, counter.Visit{Key: "k", Date: day1, Visitor: visitor(i), Time: at(day1, 1)})
	}
	files := func() []byte { return dirBytes(t, dir) }
	if !bytes.Contains(files(), salt) {
		t.Fatal("the salt is not in the files before the sweep: the test reads the wrong bytes")
	}
	if _, err := s.sweep(ctx, at(day1, 48)); err != nil {
		t.Fatal(err)
	}
	if all := files(); bytes.Contains(all, salt) || bytes.Contains(all, func() []byte { v := visitor(3); return v[:] }()) {
		t.Fatal("the expired salt or a visitor marker is still in the database or its WAL after the sweep")
	}
}

// Creating the file fsyncs its directory, once.
func TestOpenSyncsNewFileDirectory(t *testing.T) {
	var synced []string
	orig := syncDir
	t.Cleanup(func() { syncDir = orig })
	syncDir = func(dir string) error {
		synced = append(synced, dir)
		return orig(dir)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "counter.sqlite")
	s := open(t, path, Options{})
	s.Close()
	if len(synced) != 1 || synced[0] != dir {
		t.Fatalf("directories synced on create: %q, want [%q]", synced, dir)
	}
	s = open(t, path, Options{})
	s.Close()
	if len(synced) != 1 {
		t.Fatalf("reopening an existing file synced the directory again: %q", synced)
	}
	syncDir = func(string) error { return errors.New("injected sync failure") }
	path2 := filepath.Join(dir, "other.sqlite")
	if _, err := Open(path2, Options{}); err == nil || !strings.Contains(err.Error(), "injected sync failure") {
		t.Fatalf("Open with a failing directory sync: error %v", err)
	}
	if _, err := os.Stat(path2); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a file whose directory entry could not be made durable was left: %v", err)
	}
}

const childEnv = "SQLITESTORE_KILL_CHILD"

// TestKillNine: a child process (this test binary, re-executed) increments
// one key from several goroutines and prints each value Increment returned.
// After SIGKILL at a random point, the file must pass SQLite's integrity
// check and hold every acknowledged increment, and at most one more per
// goroutine (committed, never printed).
func TestKillNine(t *testing.T) { killNine(t, "increment") }

// TestKillNineVisits is TestKillNine with RecordVisit, whose concurrent
// calls share transactions: every acknowledged visit (its ordinal and its
// visit id marker) survives the kill.
func TestKillNineVisits(t *testing.T) { killNine(t, "visit") }

func killNine(t *testing.T, mode string) {
	if path := os.Getenv(childEnv); path != "" {
		killChild(path, os.Getenv("SQLITESTORE_KILL_MODE"))
		return
	}
	if testing.Short() {
		t.Skip("starts child processes")
	}
	path := filepath.Join(t.TempDir(), "counter.sqlite")
	var stored int64
	for round, workers := range []int{1, 8, 32} {
		cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$")
		cmd.Env = append(os.Environ(), childEnv+"="+path, "SQLITESTORE_KILL_MODE="+mode,
			"SQLITESTORE_KILL_WORKERS="+strconv.Itoa(workers), "SQLITESTORE_KILL_ROUND="+strconv.Itoa(round))
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		r := bufio.NewReader(out)
		var acked []int64
		var ids []string
		readLine := func() bool {
			line, err := r.ReadString('\n')
			if err != nil {
				return false
			}
			count, id, _ := strings.Cut(strings.TrimSuffix(line, "\n"), " ")
			n, err := strconv.ParseInt(count, 10, 64)
			if err != nil {
				t.Fatalf("round %d: child wrote %q", round, line)
			}
			acked = append(acked, n)
			if id != "" {
				ids = append(ids, id)
			}
			return true
		}
		killAfter := 50 + rand.IntN(200)
		for len(acked) < killAfter && readLine() {
		}
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		for readLine() {
		}
		_ = cmd.Wait()
		if len(acked) < killAfter {
			t.Fatalf("round %d: child stopped after %d values, before the kill", round, len(acked))
		}
		s := open(t, path, Options{})
		var check string
		if err := s.r.QueryRow(`PRAGMA integrity_check`).Scan(&check); err != nil || check != "ok" {
			t.Fatalf("round %d: integrity_check after kill -9 = %q, %v", round, check, err)
		}
		n, err := s.Count(context.Background(), "visitors")
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range ids {
			var found bool
			if err := s.r.QueryRow(`SELECT EXISTS (SELECT 1 FROM visit_ids WHERE key = 'visitors' AND id = ?)`, id).Scan(&found); err != nil || !found {
				t.Fatalf("round %d: acknowledged visit id %q lost (%v)", round, id, err)
			}
		}
		if mode == "visit" {
			if st := mustStats(t, s, "visitors", day1); st.Today.Count != n {
				t.Fatalf("round %d: the day holds %d visits, the key %d", round, st.Today.Count, n)
			}
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		slices.Sort(acked)
		for i := 1; i < len(acked); i++ {
			if acked[i] == acked[i-1] {
				t.Fatalf("round %d: value %d acknowledged twice", round, acked[i])
			}
		}
		if acked[0] <= stored || acked[len(acked)-1] > n {
			t.Fatalf("round %d: acknowledged values %d..%d, stored count before %d and after %d", round, acked[0], acked[len(acked)-1], stored, n)
		}
		if lost := stored + int64(len(acked)) - n; lost > 0 {
			t.Fatalf("round %d: stored count %d, but %d increments were acknowledged after %d: %d lost", round, n, len(acked), stored, lost)
		}
		if extra := n - stored - int64(len(acked)); extra > int64(workers) {
			t.Fatalf("round %d: stored count %d is %d above %d + %d acknowledged, more than %d in flight", round, n, extra, stored, len(acked), workers)
		}
		t.Logf("round %d: %d goroutines, killed after %d acknowledged %ss; count %d -> %d", round, workers, len(acked), mode, stored, n)
		stored = n
	}
}

// killChild counts on key "visitors" until killed, printing each
// acknowledged count (and, for visits, the visit id after it).
func killChild(path, mode string) {
	workers, _ := strconv.Atoi(os.Getenv("SQLITESTORE_KILL_WORKERS"))
	round := os.Getenv("SQLITESTORE_KILL_ROUND")
	s, err := Open(path, Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var mu sync.Mutex
	deadline := time.Now().Add(30 * time.Second)
	var wg sync.WaitGroup
	for w := range max(workers, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; time.Now().Before(deadline); i++ {
				var line string
				if mode == "visit" {
					id := fmt.Sprintf("r%s-w%d-%d", round, w, i)
					st, ok, err := s.RecordVisit(context.Background(), counter.Visit{Key: "visitors", Date: day1,
						Time: at(day1, 1), Visitor: visitor(rand.IntN(1000)), ID: id})
					if err == nil && !ok {
						err = fmt.Errorf("visit %s not counted", id)
					}
					if err != nil {
						fmt.Fprintln(os.Stderr, err)
						os.Exit(1)
					}
					line = strconv.FormatInt(st.Count, 10) + " " + id + "\n"
				} else {
					n, err := s.Increment(context.Background(), "visitors")
					if err != nil {
						fmt.Fprintln(os.Stderr, err)
						os.Exit(1)
					}
					line = strconv.FormatInt(n, 10) + "\n"
				}
				mu.Lock()
				_, werr := io.WriteString(os.Stdout, line)
				mu.Unlock()
				if werr != nil {
					os.Exit(1)
				}
			}
		}()
	}
	wg.Wait()
	os.Exit(0)
}

// The background sweep deletes markers by the store's clock (Options.Now),
// not the machine's: a fixed-date test's markers stay while its clock says
// they are live, however far the machine's date has moved on.
func TestSweepByStoreClock(t *testing.T) {
	var now atomic.Int64
	now.Store(at(day1, 12).UnixNano())
	s := tempStore(t, Options{SweepInterval: time.Millisecond, Now: func() time.Time { return time.Unix(0, now.Load()).UTC() }})
	mustVisit(t, s, counter.Visit{Key: "k", Date: day1, Visitor: visitor(1), ID: "view-1"})
	time.Sleep(50 * time.Millisecond) // many sweeps
	checkTallies(t, s, 1, 1)
	now.Store(at(day1.AddDays(3), 0).UnixNano())
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		var marks int
		if err := s.r.QueryRow(`SELECT (SELECT count(*) FROM visitor_marks) + (SELECT count(*) FROM visit_ids)`).Scan(&marks); err != nil {
			t.Fatal(err)
		}
		if marks == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d markers expired by the store's clock still there after 10 s", marks)
		}
	}
}

// A reader holding a snapshot while the sweep deletes a salt makes the
// sweep's checkpoint partial, so the WAL keeps the salt's old page; the
// next sweep, though it deletes nothing, must finish the checkpoint.
func TestSaltGoneAfterReaderBlockedCheckpoint(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "counter.sqlite")
	s := open(t, path, Options{})
	salt := []byte("SALT-kept-by-a-reader-snapshot!!")
	if _, err := s.DaySalt(ctx, day1, salt); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DaySalt(ctx, day1.AddDays(2), []byte("SALT-of-a-later-day-still-live!!")); err != nil {
		t.Fatal(err)
	}
	files := func() []byte { return dirBytes(t, dir) }
	reader, err := sql.Open("sqlite", dsn(path, time.Second, false))
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	tx, err := reader.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := tx.QueryRow(`SELECT count(*) FROM salts`).Scan(&n); err != nil || n != 2 { // holds its snapshot
		t.Fatal(n, err)
	}
	if _, err := s.sweep(ctx, at(day1, 48)); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(files(), salt) {
		t.Fatal("the checkpoint completed despite the reader: the test did not block it")
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if deleted, err := s.sweep(ctx, at(day1, 49)); err != nil || deleted != 0 {
		t.Fatalf("second sweep = %d, %v; want nothing left to delete", deleted, err)
	}
	if bytes.Contains(files(), salt) {
		t.Fatal("the deleted salt is still in the database or its WAL after the reader left and the sweep ran again")
	}
}

// dirBytes returns the bytes of every file in dir (the database, its -wal
// and -shm files), one after another.
func dirBytes(t *testing.T, dir string) []byte {
	t.Helper()
	var all []byte
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, b...)
	}
	return all
}
