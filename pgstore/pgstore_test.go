package pgstore

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/resumecounter/counter"
	"github.com/resumecounter/counter/countertest"
	"github.com/resumecounter/counter/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

var seq atomic.Int64

// testPool returns a pool on the shared test server, closed when the test ends.
func testPool(tb testing.TB) *pgxpool.Pool {
	tb.Helper()
	url := testenv.PostgresURL(tb)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(pool.Close)
	return pool
}

// newStore returns a store with tables of its own (a fresh prefix) on the
// shared server.
func newStore(tb testing.TB, pool *pgxpool.Pool) *Store {
	tb.Helper()
	return newStoreWith(tb, pool, Options{})
}

// newStoreWith is newStore with opts; the prefix is its own. Unless opts
// sets a clock, the store's stands at noon UTC on 2026-12-01, before every
// date the tests count on, so that its sweep never deletes their markers
// however far the machine's date has moved on.
func newStoreWith(tb testing.TB, pool *pgxpool.Pool, opts Options) *Store {
	tb.Helper()
	opts.Prefix = fmt.Sprintf("t%d_%d_", os.Getpid(), seq.Add(1))
	if opts.Now == nil {
		opts.Now = func() time.Time { return time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC) }
	}
	s, err := New(pool, opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = s.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Migrate(ctx); err != nil {
		tb.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	pool := testPool(t)
	countertest.Run(t, func(t *testing.T) countertest.Store { return newStore(t, pool) })
}

func TestVisits(t *testing.T) {
	pool := testPool(t)
	countertest.RunVisits(t, func(t *testing.T, cfg countertest.Config) countertest.VisitStore {
		return newStoreWith(t, pool, Options{Now: cfg.Now})
	})
}

func TestEditor(t *testing.T) {
	pool := testPool(t)
	countertest.RunEditor(t, func(t *testing.T, cfg countertest.Config) countertest.EditStore {
		return newStoreWith(t, pool, Options{Now: cfg.Now})
	})
}

func TestOverflow(t *testing.T) {
	pool := testPool(t)
	s := newStore(t, pool)
	ctx := context.Background()
	if _, err := s.SetCount(ctx, "big", math.MaxInt64-1); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Increment(ctx, "big"); err != nil || got != math.MaxInt64 {
		t.Fatalf("Increment to MaxInt64 = %d, %v", got, err)
	}
	if _, err := s.Increment(ctx, "big"); !errors.Is(err, counter.ErrOverflow) {
		t.Fatalf("Increment past MaxInt64: %v, want ErrOverflow", err)
	}
	if _, err := s.Add(ctx, "big", 5); !errors.Is(err, counter.ErrOverflow) {
		t.Fatalf("Add past MaxInt64: %v, want ErrOverflow", err)
	}
	d := counter.Date("2026-12-30")
	v := counter.Visit{Key: "big", Date: d, Visitor: counter.VisitorID{1}, ID: "once", Time: d.Time().Add(time.Hour)}
	if _, ok, err := s.RecordVisit(ctx, v); !errors.Is(err, counter.ErrOverflow) || ok {
		t.Fatalf("RecordVisit past MaxInt64: counted %v, %v; want ErrOverflow", ok, err)
	}
	// Nothing was written: no marker, no day.
	if st, err := s.Stats(ctx, "big", d); err != nil || st != (counter.Stats{Key: "big", Count: math.MaxInt64, Today: counter.Day{Date: d}}) {
		t.Fatalf("Stats after refused visit = %+v, %v", st, err)
	}
	var marks int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM "+s.opts.Prefix+"marks").Scan(&marks); err != nil || marks != 0 {
		t.Fatalf("markers after a refused visit: %d, %v; want 0", marks, err)
	}
	if _, err := s.SetCount(ctx, "big", 7); err != nil {
		t.Fatal(err)
	}
	st, ok, err := s.RecordVisit(ctx, v)
	if err != nil || !ok || st.Count != 8 || st.Visitors != 1 {
		t.Fatalf("the same visit after the count was lowered = %+v, %v, %v; want counted, count 8, 1 visitor", st, ok, err)
	}
}

func TestSweep(t *testing.T) {
	pool := testPool(t)
	s := newStore(t, pool)
	ctx := context.Background()
	day := counter.Date("2026-01-10")
	for i := range 5 {
		v := counter.Visit{Key: "home", Date: day, Visitor: counter.VisitorID{byte(i + 1)}, ID: fmt.Sprintf("id-%d", i), Time: day.Time().Add(time.Hour)}
		if _, ok, err := s.RecordVisit(ctx, v); err != nil || !ok {
			t.Fatal(ok, err)
		}
	}
	if _, err := s.DaySalt(ctx, day, make([]byte, counter.SaltLen)); err != nil {
		t.Fatal(err)
	}
	count := func(table string) int {
		var n int
		if err := pool.QueryRow(ctx, "SELECT count(*) FROM "+s.opts.Prefix+table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if m, sa := count("marks"), count("salts"); m != 10 || sa != 1 {
		t.Fatalf("%d markers and %d salts, want 10 and 1", m, sa)
	}
	// At day+1h+24h the visit ids have expired, the visitor markers not.
	if n, err := s.Sweep(ctx, day.Time().Add(25*time.Hour+time.Second)); err != nil || n != 5 {
		t.Fatalf("Sweep after a day = %d, %v; want the 5 visit ids", n, err)
	}
	s.opts.SweepLimit = 3 // a sweep deletes at most SweepLimit rows of each table
	if n, err := s.Sweep(ctx, day.Time().Add(48*time.Hour)); err != nil || n != 4 {
		t.Fatalf("bounded Sweep at 48h = %d, %v; want 3 markers and the salt", n, err)
	}
	if n, err := s.Sweep(ctx, day.Time().Add(48*time.Hour)); err != nil || n != 2 {
		t.Fatalf("next Sweep = %d, %v; want the last 2 markers", n, err)
	}
	if m, sa := count("marks"), count("salts"); m != 0 || sa != 0 {
		t.Fatalf("%d markers and %d salts left, want none", m, sa)
	}
	// Counts and days are untouched.
	if st, err := s.Stats(ctx, "home", day); err != nil || st.Count != 5 || st.Visitors != 5 || st.Today.Visitors != 5 {
		t.Fatalf("Stats after sweeps = %+v, %v", st, err)
	}
}

func TestPrefixValidated(t *testing.T) {
	for _, p := range []string{"Counter_", "a-b", "x;drop table y", "1abc", `a"b`, strings.Repeat("a", 41)} {
		if _, err := New(nil, Options{Prefix: p}); err == nil {
			t.Errorf("New with prefix %q succeeded, want an error", p)
		}
	}
}

// TestOpen checks the URL constructor the counter command uses.
func TestOpen(t *testing.T) {
	url := testenv.PostgresURL(t)
	ctx := context.Background()
	prefix := fmt.Sprintf("open%d_", os.Getpid())
	s, err := Open(ctx, url, Options{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := s.Increment(ctx, "k"); err != nil || n != 1 {
		t.Fatalf("Increment = %d, %v", n, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(ctx, url, Options{Prefix: prefix}) // migrating twice is harmless
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if n, err := s.Increment(ctx, "k"); err != nil || n != 2 {
		t.Fatalf("Increment after reopening = %d, %v", n, err)
	}
	if _, err := Open(ctx, "postgres://postgres@127.0.0.1:1/x?sslmode=disable&connect_timeout=2", Options{}); err == nil {
		t.Fatal("Open of a closed port succeeded")
	}
}

// TestSchemaDocumented checks that docs/stores-servers.md shows the SQL
// that Migrate runs, for owners who manage schemas themselves.
func TestSchemaDocumented(t *testing.T) {
	doc, err := os.ReadFile("../docs/stores-servers.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), "```sql\n"+schema(DefaultPrefix)+"```") {
		t.Fatalf("docs/stores-servers.md does not show the schema Migrate runs:\n%s", schema(DefaultPrefix))
	}
}

// The background sweep deletes markers by the store's clock (Options.Now),
// not the machine's: a fixed-date test's markers stay while its clock says
// they are live, however far the machine's date has moved on.
func TestSweepByStoreClock(t *testing.T) {
	ctx := context.Background()
	pool := testPool(t)
	day := counter.Date("2026-12-01")
	var now atomic.Int64
	now.Store(day.Time().Add(12 * time.Hour).UnixNano())
	s := newStoreWith(t, pool, Options{SweepInterval: time.Millisecond, Now: func() time.Time { return time.Unix(0, now.Load()).UTC() }})
	if _, ok, err := s.RecordVisit(ctx, counter.Visit{Key: "k", Date: day, Visitor: counter.VisitorID{1}, ID: "view-1"}); err != nil || !ok {
		t.Fatalf("RecordVisit: %v, %v", ok, err)
	}
	marks := func() int {
		var n int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM `+s.opts.Prefix+`marks`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	time.Sleep(100 * time.Millisecond) // many sweeps
	if n := marks(); n != 2 {
		t.Fatalf("%d markers after sweeps by a clock at which they are live, want 2", n)
	}
	now.Store(day.Time().Add(72 * time.Hour).UnixNano())
	for deadline := time.Now().Add(10 * time.Second); marks() != 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("markers expired by the store's clock still there after 10 s")
		}
	}
}

// TestMigrateConcurrent opens one new database from many connections at
// once, as processes starting together would: each must create or find the
// tables, none may fail on PostgreSQL's catalog race (two CREATE TABLE IF NOT
// EXISTS of one name at once raise a unique violation in pg_type).
func TestMigrateConcurrent(t *testing.T) {
	url := testenv.PostgresURL(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	admin, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	for round := range 3 {
		db := fmt.Sprintf("migrate_%d_%d", os.Getpid(), round)
		if _, err := admin.Exec(ctx, "CREATE DATABASE "+db); err != nil {
			t.Fatal(err)
		}
		dbURL := strings.Replace(url, "/postgres?", "/"+db+"?", 1)
		const openers = 24
		start := make(chan struct{})
		errs := make(chan error, openers)
		for range openers {
			go func() {
				<-start
				s, err := Open(ctx, dbURL+"&pool_max_conns=1", Options{SweepInterval: -1})
				if err == nil {
					_, err = s.Increment(ctx, "k")
					_ = s.Close()
				}
				errs <- err
			}()
		}
		close(start)
		failed := 0
		for range openers {
			if err := <-errs; err != nil {
				failed++
				t.Errorf("round %d: %v", round, err)
			}
		}
		if failed == 0 {
			s, err := Open(ctx, dbURL, Options{SweepInterval: -1})
			if err != nil {
				t.Fatal(err)
			}
			if n, err := s.Count(ctx, "k"); err != nil || n != openers {
				t.Errorf("round %d: count %d, %v; want %d", round, n, err, openers)
			}
			_ = s.Close()
		}
		if _, err := admin.Exec(ctx, "DROP DATABASE "+db+" WITH (FORCE)"); err != nil {
			t.Fatal(err)
		}
	}
}

// TestSaltGoneFromTableFiles: once the sweep has deleted an expired salt,
// no table file of the database holds its bytes (a plain DELETE leaves the
// dead row in the heap until a vacuum). The write-ahead log still holds
// it until PostgreSQL removes or overwrites the segment: docs/visitors.md
// says so and what the operator does about it.
func TestSaltGoneFromTableFiles(t *testing.T) {
	srv := testenv.NewPostgres(t)
	ctx := context.Background()
	s, err := Open(ctx, testenv.PostgresURLOf(srv), Options{SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	day := counter.Date("2026-01-10")
	salt := []byte("PG-SALT-that-must-not-outlive-2d")
	if _, err := s.DaySalt(ctx, day, salt); err != nil {
		t.Fatal(err)
	}
	live := []byte("PG-SALT-of-a-later-day-kept-live")
	if _, err := s.DaySalt(ctx, day.AddDays(2), live); err != nil {
		t.Fatal(err)
	}
	checkpoint := func() {
		if _, err := s.pool.Exec(ctx, "CHECKPOINT"); err != nil {
			t.Fatal(err)
		}
	}
	checkpoint()
	data := filepath.Join(srv.Dir, "data")
	if len(testenv.FilesHolding(t, filepath.Join(data, "base"), salt)) == 0 {
		t.Fatal("the salt is in no table file before the sweep: the test reads the wrong files")
	}
	if n, err := s.Sweep(ctx, day.Time().Add(48*time.Hour)); err != nil || n != 1 {
		t.Fatalf("Sweep = %d, %v; want the one expired salt", n, err)
	}
	checkpoint()
	if found := testenv.FilesHolding(t, filepath.Join(data, "base"), salt); len(found) > 0 {
		t.Fatalf("the deleted salt is still in %v", found)
	}
	if len(testenv.FilesHolding(t, filepath.Join(data, "base"), live)) == 0 {
		t.Fatal("the live salt is gone from the table files too")
	}
	t.Logf("write-ahead log files holding the deleted salt: %v", testenv.FilesHolding(t, filepath.Join(data, "pg_wal"), salt))
}
