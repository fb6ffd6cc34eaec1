package boltstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/resumecounter/counter"
)

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

func TestRecordVisit(t *testing.T) {
	s := tempStore(t, Options{})
	v := counter.Visit{Key: "home", Date: day1, Visitor: visitor(1), Time: at(day1, 10)}
	st, ok := mustVisit(t, s, v)
	want := counter.Stats{Key: "home", Count: 1, Visitors: 1, Today: counter.Day{Date: day1, Count: 1, Visitors: 1}}
	if !ok || st != want {
		t.Fatalf("first visit = %+v, %v; want %+v, true", st, ok, want)
	}
	st, _ = mustVisit(t, s, v) // the same visitor again: a hit
	want = counter.Stats{Key: "home", Count: 2, Visitors: 1, Today: counter.Day{Date: day1, Count: 2, Visitors: 1}}
	if st != want {
		t.Fatalf("second visit = %+v, want %+v", st, want)
	}
	v.Visitor = counter.VisitorID{} // camo: a hit, never a visitor
	mustVisit(t, s, v)
	day2 := day1.AddDays(1)
	mustVisit(t, s, counter.Visit{Key: "home", Date: day2, Visitor: visitor(1), Time: at(day2, 1)}) // a new day: a visitor again
	want = counter.Stats{Key: "home", Count: 4, Visitors: 2, Today: counter.Day{Date: day2, Count: 1, Visitors: 1}}
	if st := mustStats(t, s, "home", day2); st != want {
		t.Fatalf("Stats = %+v, want %+v", st, want)
	}
	if n, _ := s.Count(context.Background(), "home"); n != 4 {
		t.Fatalf("Count = %d, want 4: visits and increments share the count", n)
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
				v.Visitor = visitor(0) // the same visitor n times
			case 1:
				v.Visitor = visitor(i) // n distinct visitors
			case 2:
				v.Key, v.ID = "ids", "same-id" // one visit id n times
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
}

func TestVisitIDExpires(t *testing.T) {
	s := tempStore(t, Options{})
	v := counter.Visit{Key: "k", Date: day1, ID: "abc", Time: at(day1, 1)}
	if _, ok := mustVisit(t, s, v); !ok {
		t.Fatal("first visit not counted")
	}
	v.Time = at(day1, 24) // 23h later: a repeat
	if st, ok := mustVisit(t, s, v); ok || st.Count != 1 || st.Today.Count != 1 {
		t.Fatalf("repeat within 24h = %+v, %v; want count 1, not counted", st, ok)
	}
	v.Time = at(day1, 25)
	if st, ok := mustVisit(t, s, v); !ok || st.Count != 2 {
		t.Fatalf("repeat after 24h = %+v, %v; want counted", st, ok)
	}
	v.Time = at(day1, 48) // the id was renewed by the last visit
	if _, ok := mustVisit(t, s, v); ok {
		t.Fatal("repeat within 24h of the renewed id was counted")
	}
	if _, ok := mustVisit(t, s, counter.Visit{Key: "other", Date: day1, ID: "abc", Time: at(day1, 48)}); !ok {
		t.Fatal("the same id on another key was not counted")
	}
}

// A failure inside the transaction writes nothing of the visit.
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
	if k, _ := s.NumKeys(); k != 0 {
		t.Fatalf("NumKeys = %d after a failed visit, want 0", k)
	}
	// Neither marker was kept: the same visit counts, as a new visitor.
	if st, ok := mustVisit(t, s, v); !ok || st.Visitors != 1 || st.Count != 1 {
		t.Fatalf("visit after the failure = %+v, %v; want counted with 1 visitor", st, ok)
	}
	checkMarkers(t, s, 1, 1)
}

func checkMarkers(t *testing.T, s *Store, visitors, ids int) {
	t.Helper()
	err := s.db.View(func(tx *bolt.Tx) error {
		vm, id, ie := tx.Bucket(bucketVisitorMarks), tx.Bucket(bucketIDs), tx.Bucket(bucketIDExpiry)
		if n := vm.Stats().KeyN; n != visitors || vm.Sequence() != uint64(visitors) {
			t.Errorf("visitor markers: %d stored, sequence %d; want %d", n, vm.Sequence(), visitors)
		}
		if n, m := id.Stats().KeyN, ie.Stats().KeyN; n != ids || m != ids || id.Sequence() != uint64(ids) {
			t.Errorf("visit id markers: %d stored, %d by expiry, sequence %d; want %d", n, m, id.Sequence(), ids)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
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
	if _, err := s.Increment(ctx, "k"); !errors.Is(err, counter.ErrOverflow) || !strings.HasPrefix(err.Error(), "boltstore: ") {
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
	checkMarkers(t, s, 0, 0)
	// A day's count at MaxInt64 (imported) refuses too.
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

// The default cap is DefaultMaxKeys: exactly that many keys are accepted.
func TestDefaultMaxKeys(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 10,000 keys")
	}
	s := tempStore(t, Options{})
	fillKeys(t, s, DefaultMaxKeys)
	if _, err := s.Increment(context.Background(), "one-more"); !errors.Is(err, ErrTooManyKeys) {
		t.Fatalf("key %d with default options: error %v, want ErrTooManyKeys", DefaultMaxKeys+1, err)
	}
	if _, _, err := s.RecordVisit(context.Background(), counter.Visit{Key: "one-more", Date: day1}); !errors.Is(err, ErrTooManyKeys) {
		t.Fatalf("visit to key %d: error %v, want ErrTooManyKeys", DefaultMaxKeys+1, err)
	}
	if n, err := s.Increment(context.Background(), "k0"); err != nil || n != 2 {
		t.Fatalf("existing key at the cap = %d, %v; want 2", n, err)
	}
	if k, _ := s.NumKeys(); k != DefaultMaxKeys {
		t.Fatalf("NumKeys = %d, want %d", k, DefaultMaxKeys)
	}
}

// fillKeys counts n new keys k0…, from many goroutines so that they share
// transactions.
func fillKeys(t *testing.T, s *Store, n int) {
	t.Helper()
	const workers = 64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += workers {
				if _, err := s.Increment(context.Background(), fmt.Sprintf("k%d", i)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// logBuffer collects log records.
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
	checkMarkers(t, s, 3, 3)

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
	if _, err := s.sweep(at(day1, 48)); err != nil {
		t.Fatal(err)
	}
	checkMarkers(t, s, 0, 0)
	day3 := day1.AddDays(2)
	for i := range 3 {
		mustVisit(t, s, counter.Visit{Key: "k", Date: day3, Visitor: visitor(100 + i), Time: at(day3, 1)})
	}
	if st := mustStats(t, s, "k", day3); st.Today.Visitors != 3 {
		t.Fatalf("after the sweep, %d new visitors counted, want 3", st.Today.Visitors)
	}
}

func TestSweep(t *testing.T) {
	s := tempStore(t, Options{})
	for _, d := range []counter.Date{day1, day1.AddDays(1)} {
		mustVisit(t, s, counter.Visit{Key: "k", Date: d, Visitor: visitor(1), ID: "v" + string(d), Time: at(d, 12)})
	}
	steps := []struct {
		now     time.Time
		vm, ids int
	}{
		{at(day1, 36).Add(-1), 2, 2},
		{at(day1, 36), 2, 1}, // day1's visit id expired at day1+36h
		{at(day1, 48).Add(-1), 2, 1},
		{at(day1, 48), 1, 1}, // day1's marker expires 48h after day1 starts
		{at(day1, 60), 1, 0}, // the second visit id
		{at(day1, 72), 0, 0}, // everything
		{at(day1, 24*365), 0, 0},
	}
	for _, step := range steps {
		if _, err := s.sweep(step.now); err != nil {
			t.Fatal(err)
		}
		checkMarkers(t, s, step.vm, step.ids)
	}
	if st := mustStats(t, s, "k", day1); st.Count != 2 || st.Visitors != 2 {
		t.Fatalf("the sweep changed the numbers: %+v", st)
	}
}

// A sweep deletes at most sweepBatch of a kind per transaction.
func TestSweepBounded(t *testing.T) {
	s := tempStore(t, Options{MaxMarkers: -1})
	if err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketVisitorMarks)
		for i := range sweepBatch + 10 {
			k := append(append([]byte(day1), "k\x00"...), fmt.Sprintf("%016d", i)...)
			if err := b.Put(k, nil); err != nil {
				return err
			}
		}
		return b.SetSequence(sweepBatch + 10)
	}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []int{sweepBatch, 10, 0} {
		n, err := s.sweep(at(day1, 49))
		if err != nil || n != want {
			t.Fatalf("sweep deleted %d, %v; want %d", n, err, want)
		}
	}
	checkMarkers(t, s, 0, 0)
}

// Racing DaySalt calls get one salt, also for a day whose salt has expired
// by the store's clock (the day a fixed-date test asks for, once the date
// has moved on: the defect of issue 15).
func TestDaySalt(t *testing.T) {
	ctx := context.Background()
	a, b := bytes.Repeat([]byte{1}, counter.SaltLen), bytes.Repeat([]byte{2}, counter.SaltLen)
	var s *Store
	for _, now := range []time.Time{at(day1, 12), at(day1.AddDays(3), 0)} {
		s = tempStore(t, Options{Now: func() time.Time { return now }})
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
			if !bytes.Equal(g, got[0]) {
				t.Fatalf("racing DaySalt calls at %v got different salts", now)
			}
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

func TestBadVisits(t *testing.T) {
	ctx := context.Background()
	s := tempStore(t, Options{})
	for _, v := range []counter.Visit{
		{Key: "a b", Date: day1},
		{Key: "k", Date: "2026-02-30"},
		{Key: "k", Date: ""},
		{Key: "k", Date: day1, ID: strings.Repeat("x", counter.MaxVisitIDLen+1)},
		{Key: "k", Date: day1, ID: "a b"},
		{Key: "k", Date: day1, ID: "é"},
	} {
		if _, _, err := s.RecordVisit(ctx, v); err == nil {
			t.Errorf("RecordVisit(%+v) succeeded", v)
		}
	}
	if _, ok := mustVisit(t, s, counter.Visit{Key: "k", Date: day1, ID: strings.Repeat("x", counter.MaxVisitIDLen)}); !ok {
		t.Error("a 64-byte visit id was refused")
	}
	if k, _ := s.NumKeys(); k != 1 {
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
		if err := s.Import(ctx, r); err != nil { // the owner is not held to MaxKeys
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

// Defect 5: a caller whose context ends while its write waits returns the
// context's error at once; the write goes on and counts, as documented.
func TestContextEndsDuringCommit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "counter.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { close(release) }); _ = s.Close() })
	s.write = func(fn func(*bolt.Tx) error) error {
		<-release // a slow disk
		return s.db.Update(fn)
	}
	for _, call := range []func(ctx context.Context) error{
		func(ctx context.Context) error { _, err := s.Increment(ctx, "k"); return err },
		func(ctx context.Context) error {
			_, _, err := s.RecordVisit(ctx, counter.Visit{Key: "k", Date: day1, Visitor: visitor(1)})
			return err
		},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		errc := make(chan error, 1)
		go func() { errc <- call(ctx) }()
		select {
		case err := <-errc:
			if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "may still count") {
				t.Errorf("error = %v, want DeadlineExceeded saying the write may still count", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the caller still waits for the commit 10s after its context ended")
		}
		cancel()
	}
	once.Do(func() { close(release) })
	if err := s.Close(); err != nil { // waits for the abandoned writes
		t.Fatal(err)
	}
	s = open(t, path, Options{})
	if st := mustStats(t, s, "k", day1); st.Count != 2 || st.Visitors != 1 {
		t.Fatalf("after the abandoned writes committed: %+v; want count 2, 1 visitor", st)
	}
}

// Defect 9: creating the file fsyncs its directory, once.
func TestOpenSyncsNewFileDirectory(t *testing.T) {
	var synced []string
	orig := syncDir
	t.Cleanup(func() { syncDir = orig })
	syncDir = func(dir string) error {
		synced = append(synced, dir)
		return orig(dir)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "counter.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
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
	path2 := filepath.Join(dir, "other.db")
	if _, err := Open(path2, Options{}); err == nil || !strings.Contains(err.Error(), "injected sync failure") {
		t.Fatalf("Open with a failing directory sync: error %v", err)
	}
	if _, err := os.Stat(path2); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a file whose directory entry could not be made durable was left: %v", err)
	}
}

// A file written by the first versions (one bucket of counts) opens with
// its counts, and visits add to them.
func TestOpenOldFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "counter.db")
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket([]byte("counts"))
		if err != nil {
			return err
		}
		if err := b.Put([]byte("visitors"), []byte{0, 0, 0, 0, 0, 0, 0x30, 0x39}); err != nil { // 12345
			return err
		}
		return b.SetSequence(1)
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	s := open(t, path, Options{})
	if st, _ := mustVisit(t, s, counter.Visit{Key: "visitors", Date: day1, Visitor: visitor(1)}); st.Count != 12346 || st.Visitors != 1 {
		t.Fatalf("visit on an old file = %+v, want count 12346", st)
	}
	if k, _ := s.NumKeys(); k != 1 {
		t.Fatalf("NumKeys = %d, want 1", k)
	}
}

// No address or User-Agent, nor an unsalted hash of them, reaches the file.
func TestPrivacyFileBytes(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "counter.db")
	s := open(t, path, Options{})
	clients := [][2]string{
		{"203.0.113.77", "Mozilla/5.0 (X11; Linux x86_64) PrivacyProbe/1.0"},
		{"2001:db8:abcd:12::1", "Mozilla/5.0 (Macintosh) AppleWebKit/605.1.15 Safari/605.1.15 PrivacyProbe2"},
		{"198.51.100.23", "Mozilla/5.0 (iPhone) SecretAgentString/42"},
	}
	// Through counter.Visitors, as the handlers count: it computes the
	// visitor ids from the address and the User-Agent. Its clock is the
	// store's, so that every visit falls on one day.
	vis := counter.NewVisitors(s, counter.VisitorOptions{TrustProxy: 1, Now: s.now})
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
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	file, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range clients {
		for _, secret := range []string{c[0], c[1], "PrivacyProbe", "SecretAgentString"} {
			sum := sha256.Sum256([]byte(secret))
			for _, form := range [][]byte{[]byte(secret), sum[:], []byte(hex.EncodeToString(sum[:]))} {
				if bytes.Contains(file, form) {
					t.Errorf("the file holds %q (or its unsalted hash)", secret)
				}
			}
		}
		both := sha256.Sum256([]byte(c[0] + c[1]))
		if bytes.Contains(file, both[:16]) {
			t.Errorf("the file holds an unsalted hash of %q", c)
		}
	}
	if !bytes.Contains(file, []byte("view-1")) {
		t.Fatal("the visit id is not in the file: the test reads the wrong bytes")
	}
}

// Day salts never reach the file (bbolt does not zero freed pages, so a
// deleted salt could linger there); a restart starts a new one, and salts
// of days past VisitorMarkerTTL are not kept.
func TestSaltNeverInFile(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "counter.db")
	now := at(day1, 12)
	s, err := Open(path, Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	salt := []byte("SALT-that-must-not-outlive-48-h!")
	today := day1
	if got, err := s.DaySalt(ctx, today, salt); err != nil || !bytes.Equal(got, salt) {
		t.Fatalf("DaySalt = %q, %v", got, err)
	}
	for i := range 5 {
		mustVisit(t, s, counter.Visit{Key: "k", Date: today, Visitor: visitor(i)})
	}
	if got, _ := s.DaySalt(ctx, today, bytes.Repeat([]byte{1}, counter.SaltLen)); !bytes.Equal(got, salt) {
		t.Fatal("the day's salt changed within the process")
	}
	// A day past VisitorMarkerTTL keeps its salt while asked for (racing
	// callers agree), and loses it once another day is asked for.
	old := day1.AddDays(-3)
	for range 2 {
		if got, _ := s.DaySalt(ctx, old, bytes.Repeat([]byte{1}, counter.SaltLen)); got[0] != 1 {
			t.Fatal("the salt of a day past VisitorMarkerTTL changed between two calls")
		}
	}
	if _, err := s.DaySalt(ctx, today, salt); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.DaySalt(ctx, old, bytes.Repeat([]byte{2}, counter.SaltLen)); got[0] != 2 {
		t.Fatal("the salt of a day past VisitorMarkerTTL was kept")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b, salt) {
		t.Fatal("the salt is in the file")
	}
	s = open(t, path, Options{})
	if got, _ := s.DaySalt(ctx, today, bytes.Repeat([]byte{3}, counter.SaltLen)); bytes.Equal(got, salt) {
		t.Fatal("a salt survived the restart, so it was stored somewhere")
	}
}

// Defect 5 as reported: a handler's Timeout bounds a request even when the
// bolt commit is slow (it answered 200 after 508 ms with Timeout 50 ms).
func TestHandlerTimeoutWithSlowCommit(t *testing.T) {
	s := tempStore(t, Options{})
	release := make(chan struct{})
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { close(release) }) }) // before Close, which waits for the write
	s.write = func(fn func(*bolt.Tx) error) error {
		<-release
		return s.db.Update(fn)
	}
	mux := http.NewServeMux()
	mux.Handle("/api/{key}", counter.JSONHandler(s, counter.HandlerOptions{Timeout: 50 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)}))
	done := make(chan int, 1)
	go func() {
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/api/visitors", nil))
		done <- w.Code
	}()
	select {
	case code := <-done:
		if code != http.StatusGatewayTimeout {
			t.Errorf("status %d, want 504", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the request still waits for the commit 10s after its 50ms Timeout")
	}
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
	checkMarkers(t, s, 1, 1)
	if _, counted := mustVisit(t, s, counter.Visit{Key: "k", Date: day1, Visitor: visitor(1)}); !counted {
		t.Fatal("a visit was not counted")
	}
	now.Store(at(day1.AddDays(3), 0).UnixNano())
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		var vm, ids int
		_ = s.db.View(func(tx *bolt.Tx) error {
			vm, ids = tx.Bucket(bucketVisitorMarks).Stats().KeyN, tx.Bucket(bucketIDs).Stats().KeyN
			return nil
		})
		if vm == 0 && ids == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("markers expired by the store's clock still there after 10 s: %d visitor, %d visit id", vm, ids)
		}
	}
}
