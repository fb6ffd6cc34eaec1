package countertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/resumecounter/counter"
)

// VisitStore is what [RunVisits] tests: a store that keeps visitors and
// daily history. Plain counting ([counter.Incrementer]) is tested too, as
// visits and increments of one key share its count.
type VisitStore interface {
	counter.Incrementer
	counter.Reader
	counter.VisitStore
	counter.HistoryReader
}

// EditStore is what [RunEditor] tests.
type EditStore interface {
	VisitStore
	counter.Editor
}

// Day0 is the first day the suites count on; a visit's Time is noon UTC of
// its Date unless a test says otherwise.
const Day0 counter.Date = "2026-12-30"

// Config is what [RunVisits] and [RunEditor] ask of the store they make.
type Config struct {
	// Now is the store's clock: the time of a visit whose Time is zero, and
	// the time its sweeps and salts expire by. The suites set it to fixed
	// times (noon UTC on Day0 unless a test moves it), so that no result
	// depends on the day the suites run. Every store must use it.
	Now func() time.Time
	// MaxKeys, when above 0, caps the keys that counting may create, for a
	// store with a key cap (RunEditor checks the owner's edits pass it); a
	// store without a cap ignores it.
	MaxKeys int
}

// clock is a settable clock for Config.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func noon(d counter.Date) time.Time { return d.Time().Add(12 * time.Hour) }

// visitor returns a distinct, non-zero visitor id for i.
func visitor(i int) counter.VisitorID {
	var id counter.VisitorID
	copy(id[:], fmt.Sprintf("v%015d", i))
	return id
}

func visitOn(key string, d counter.Date, who int) counter.Visit {
	return counter.Visit{Key: key, Date: d, Visitor: visitor(who), Time: noon(d)}
}

// RunVisits runs the visitors and history suite. newStore returns a store in
// which no key has been counted yet, using cfg.Now as its clock; it is
// called once per subtest.
func RunVisits(t *testing.T, newStoreWith func(t *testing.T, cfg Config) VisitStore) {
	ctx := context.Background()
	newStore := func(t *testing.T) VisitStore {
		t.Helper()
		c := &clock{t: noon(Day0)}
		return newStoreWith(t, Config{Now: c.Now})
	}

	t.Run("ZeroTimeIsStoreNow", func(t *testing.T) {
		// A visit whose Time is zero happens now by the store's clock: its
		// visit id and visitor markers expire by that clock.
		c := &clock{t: noon(Day0)}
		s := newStoreWith(t, Config{Now: c.Now})
		v := counter.Visit{Key: "zero", Date: Day0, Visitor: visitor(1), ID: "z-1"}
		mustVisit(t, s, v)
		if _, ok, err := s.RecordVisit(ctx, v); err != nil || ok {
			t.Fatalf("zero-Time visit id repeated at once: counted %v, error %v; want not counted", ok, err)
		}
		c.Set(noon(Day0).Add(counter.VisitIDTTL + time.Minute))
		st := mustVisit(t, s, v) // the visit id expired; visitor 1 is still marked on Day0
		if want := (counter.Stats{Key: "zero", Count: 2, Visitors: 1, Today: counter.Day{Date: Day0, Count: 2, Visitors: 1}}); st != want {
			t.Fatalf("zero-Time visit %v after the first, by the store's clock, returned %+v, want %+v", counter.VisitIDTTL+time.Minute, st, want)
		}
		c.Set(Day0.Time().Add(counter.VisitorMarkerTTL + time.Minute))
		v.ID = ""
		st = mustVisit(t, s, v) // the visitor marker expired by the store's clock
		if want := (counter.Stats{Key: "zero", Count: 3, Visitors: 2, Today: counter.Day{Date: Day0, Count: 3, Visitors: 2}}); st != want {
			t.Fatalf("zero-Time visit after the visitor marker expired, by the store's clock, returned %+v, want %+v", st, want)
		}
	})

	t.Run("SameVisitorConcurrent", func(t *testing.T) {
		s := newStore(t)
		const n = 32
		counts := together(t, n, func(int) (counter.Stats, bool, error) {
			return s.RecordVisit(ctx, visitOn("home", Day0, 1))
		})
		checkExact(t, counts, n)
		want := counter.Stats{Key: "home", Count: n, Visitors: 1, Today: counter.Day{Date: Day0, Count: n, Visitors: 1}}
		checkStats(t, s, "home", Day0, want)
	})

	t.Run("DistinctVisitors", func(t *testing.T) {
		s := newStore(t)
		const n = 100
		counts := together(t, n, func(i int) (counter.Stats, bool, error) {
			return s.RecordVisit(ctx, visitOn("home", Day0, i))
		})
		checkExact(t, counts, n)
		want := counter.Stats{Key: "home", Count: n, Visitors: n, Today: counter.Day{Date: Day0, Count: n, Visitors: n}}
		checkStats(t, s, "home", Day0, want)
	})

	t.Run("ReturnedStats", func(t *testing.T) {
		s := newStore(t)
		got := mustVisit(t, s, visitOn("home", Day0, 1))
		want := counter.Stats{Key: "home", Count: 1, Visitors: 1, Today: counter.Day{Date: Day0, Count: 1, Visitors: 1}}
		if got != want {
			t.Fatalf("first visit returned %+v, want %+v", got, want)
		}
		got = mustVisit(t, s, visitOn("home", Day0, 1))
		want = counter.Stats{Key: "home", Count: 2, Visitors: 1, Today: counter.Day{Date: Day0, Count: 2, Visitors: 1}}
		if got != want {
			t.Fatalf("returning visitor's visit returned %+v, want %+v", got, want)
		}
		got = mustVisit(t, s, visitOn("home", Day0, 2))
		want = counter.Stats{Key: "home", Count: 3, Visitors: 2, Today: counter.Day{Date: Day0, Count: 3, Visitors: 2}}
		if got != want {
			t.Fatalf("new visitor's visit returned %+v, want %+v", got, want)
		}
	})

	t.Run("HitOnly", func(t *testing.T) {
		s := newStore(t)
		for range 3 {
			mustVisit(t, s, counter.Visit{Key: "readme", Date: Day0, Time: noon(Day0)}) // zero VisitorID: camo
		}
		checkStats(t, s, "readme", Day0, counter.Stats{Key: "readme", Count: 3, Today: counter.Day{Date: Day0, Count: 3}})
	})

	t.Run("KeysAreIndependent", func(t *testing.T) {
		s := newStore(t)
		mustVisit(t, s, visitOn("a", Day0, 1))
		mustVisit(t, s, visitOn("b", Day0, 1)) // the same visitor id on another key is new there
		mustVisit(t, s, visitOn("b", Day0, 1))
		checkStats(t, s, "a", Day0, counter.Stats{Key: "a", Count: 1, Visitors: 1, Today: counter.Day{Date: Day0, Count: 1, Visitors: 1}})
		checkStats(t, s, "b", Day0, counter.Stats{Key: "b", Count: 2, Visitors: 1, Today: counter.Day{Date: Day0, Count: 2, Visitors: 1}})
	})

	t.Run("VisitIDConcurrent", func(t *testing.T) {
		s := newStore(t)
		const n = 16
		var mu sync.Mutex
		counted := 0
		together(t, n, func(i int) (counter.Stats, bool, error) {
			v := visitOn("home", Day0, i) // different addresses, one page view (a retry over another network)
			v.ID = "view-1"
			st, ok, err := s.RecordVisit(ctx, v)
			if ok {
				mu.Lock()
				counted++
				mu.Unlock()
			}
			return st, ok, err
		})
		if counted != 1 {
			t.Fatalf("%d of %d visits with one visit id counted, want 1", counted, n)
		}
		checkStats(t, s, "home", Day0, counter.Stats{Key: "home", Count: 1, Visitors: 1, Today: counter.Day{Date: Day0, Count: 1, Visitors: 1}})

		// A repeat answers the current numbers and writes nothing.
		v := visitOn("home", Day0, 99)
		v.ID = "view-1"
		st, ok, err := s.RecordVisit(ctx, v)
		if err != nil || ok {
			t.Fatalf("repeated visit id: counted %v, error %v; want not counted, no error", ok, err)
		}
		if want := (counter.Stats{Key: "home", Count: 1, Visitors: 1, Today: counter.Day{Date: Day0, Count: 1, Visitors: 1}}); st != want {
			t.Fatalf("repeated visit id returned %+v, want the current %+v", st, want)
		}
		// Other ids, and the same id on another key, count.
		v.ID = "view-2"
		mustVisit(t, s, v)
		w := visitOn("other", Day0, 1)
		w.ID = "view-1"
		mustVisit(t, s, w)
		checkStats(t, s, "home", Day0, counter.Stats{Key: "home", Count: 2, Visitors: 2, Today: counter.Day{Date: Day0, Count: 2, Visitors: 2}})
		checkStats(t, s, "other", Day0, counter.Stats{Key: "other", Count: 1, Visitors: 1, Today: counter.Day{Date: Day0, Count: 1, Visitors: 1}})
	})

	t.Run("DayRollover", func(t *testing.T) {
		s := newStore(t)
		day1, day2, day3 := Day0, Day0.AddDays(1), Day0.AddDays(2)
		mustVisit(t, s, visitOn("home", day1, 1))
		mustVisit(t, s, visitOn("home", day1, 2))
		mustVisit(t, s, visitOn("home", day1, 1))
		// Visitor 1 comes back the next day: a visitor of that day too.
		got := mustVisit(t, s, visitOn("home", day2, 1))
		want := counter.Stats{Key: "home", Count: 4, Visitors: 3, Today: counter.Day{Date: day2, Count: 1, Visitors: 1}}
		if got != want {
			t.Fatalf("first visit of day 2 returned %+v, want %+v", got, want)
		}
		checkStats(t, s, "home", day3, counter.Stats{Key: "home", Count: 4, Visitors: 3, Today: counter.Day{Date: day3}})
		checkHistory(t, s, "home", day1, day3, []counter.Day{
			{Date: day1, Count: 3, Visitors: 2}, {Date: day2, Count: 1, Visitors: 1}, {Date: day3}})
	})

	t.Run("DateNotTime", func(t *testing.T) {
		// A visit's day is its Date (the zone's calendar day), whatever its
		// Time is in UTC: 01:30 in UTC+2 on day 2 is 23:30 UTC on day 1.
		s := newStore(t)
		day2 := Day0.AddDays(1)
		v := counter.Visit{Key: "home", Date: day2, Visitor: visitor(1), Time: day2.Time().Add(-30 * time.Minute)}
		mustVisit(t, s, v)
		checkHistory(t, s, "home", Day0, day2, []counter.Day{{Date: Day0}, {Date: day2, Count: 1, Visitors: 1}})
	})

	t.Run("MarkersExpire", func(t *testing.T) {
		s := newStore(t)
		v := visitOn("home", Day0, 1)
		v.Time = Day0.Time().Add(time.Hour)
		mustVisit(t, s, v)
		v.Time = Day0.Time().Add(counter.VisitorMarkerTTL - time.Minute)
		mustVisit(t, s, v) // still marked
		v.Time = Day0.Time().Add(counter.VisitorMarkerTTL + time.Minute)
		mustVisit(t, s, v) // the marker has expired: counts as a visitor again
		checkStats(t, s, "home", Day0, counter.Stats{Key: "home", Count: 3, Visitors: 2, Today: counter.Day{Date: Day0, Count: 3, Visitors: 2}})

		w := counter.Visit{Key: "ids", Date: Day0, ID: "page-view-7", Time: noon(Day0)}
		mustVisit(t, s, w)
		w.Time = noon(Day0).Add(counter.VisitIDTTL - time.Minute)
		if _, ok, err := s.RecordVisit(ctx, w); err != nil || ok {
			t.Fatalf("visit id repeated within %v: counted %v, error %v; want not counted", counter.VisitIDTTL, ok, err)
		}
		w.Time = noon(Day0).Add(counter.VisitIDTTL + time.Minute)
		mustVisit(t, s, w) // expired: counts again
		checkStats(t, s, "ids", Day0, counter.Stats{Key: "ids", Count: 2, Today: counter.Day{Date: Day0, Count: 2}})
	})

	t.Run("IncrementsShareTheCount", func(t *testing.T) {
		s := newStore(t)
		mustIncrement(t, s, "home")
		mustIncrement(t, s, "home")
		got := mustVisit(t, s, visitOn("home", Day0, 1))
		if got.Count != 3 {
			t.Fatalf("visit after 2 increments returned count %d, want 3", got.Count)
		}
		if got := mustIncrement(t, s, "home"); got != 4 {
			t.Fatalf("increment after a visit = %d, want 4", got)
		}
	})

	t.Run("History", func(t *testing.T) {
		s := newStore(t)
		// Across a month and a year boundary (Day0 is 30 December).
		var want []counter.Day
		first := Day0.AddDays(-1)
		for i := range 6 {
			d := first.AddDays(i)
			dw := counter.Day{Date: d}
			if i%2 == 1 {
				for j := range i {
					mustVisit(t, s, visitOn("home", d, j%2))
				}
				dw.Count, dw.Visitors = int64(i), int64(min(i, 2))
			}
			want = append(want, dw)
		}
		checkHistory(t, s, "home", first, first.AddDays(5), want)
		checkHistory(t, s, "home", Day0.AddDays(1), Day0.AddDays(1), want[2:3])
		checkHistory(t, s, "never", first, first.AddDays(2), []counter.Day{{Date: first}, {Date: first.AddDays(1)}, {Date: first.AddDays(2)}})

		long, err := s.History(ctx, "home", Day0.AddDays(-counter.MaxHistoryDays+3), Day0.AddDays(2))
		if err != nil {
			t.Fatalf("History of %d days: %v", counter.MaxHistoryDays, err)
		}
		if len(long) != counter.MaxHistoryDays || long[len(long)-1].Date != Day0.AddDays(2) || long[len(long)-3] != want[1] {
			t.Fatalf("History of %d days: %d entries ending %v", counter.MaxHistoryDays, len(long), long[len(long)-1])
		}
		for name, r := range map[string][2]counter.Date{
			"too long":   {Day0.AddDays(-counter.MaxHistoryDays), Day0},
			"backwards":  {Day0, Day0.AddDays(-1)},
			"bad first":  {"2026-13-01", Day0},
			"bad last":   {Day0, "yesterday"},
			"empty date": {"", Day0},
		} {
			if _, err := s.History(ctx, "home", r[0], r[1]); err == nil {
				t.Errorf("History %s (%q to %q) succeeded, want an error", name, r[0], r[1])
			}
		}
	})

	t.Run("DaySalt", func(t *testing.T) {
		s := newStore(t)
		fresh := func(b int) []byte { return bytes.Repeat([]byte{byte(b & 0xff)}, counter.SaltLen) }
		const n = 16
		salts := make([][]byte, n)
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				salts[i], errs[i] = s.DaySalt(ctx, Day0, fresh(i+1))
			}()
		}
		wait(t, &wg)
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("DaySalt: %v", errs[i])
			}
			if !bytes.Equal(salts[i], salts[0]) || len(salts[i]) != counter.SaltLen {
				t.Fatalf("racing DaySalt calls got different salts: %x and %x", salts[0], salts[i])
			}
		}
		if salts[0][0] == 0 || !bytes.Equal(salts[0], fresh(int(salts[0][0]))) {
			t.Fatalf("DaySalt returned %x, not one of the fresh salts offered", salts[0])
		}
		again, err := s.DaySalt(ctx, Day0, fresh(0xee))
		if err != nil || !bytes.Equal(again, salts[0]) {
			t.Fatalf("DaySalt again = %x, %v; want the stored %x", again, err, salts[0])
		}
		other, err := s.DaySalt(ctx, Day0.AddDays(1), fresh(0xdd))
		if err != nil || !bytes.Equal(other, fresh(0xdd)) {
			t.Fatalf("DaySalt of the next day = %x, %v; want its own fresh salt", other, err)
		}
		if _, err := s.DaySalt(ctx, "not-a-date", fresh(1)); err == nil {
			t.Error("DaySalt of an invalid date succeeded")
		}
	})

	t.Run("InvalidInput", func(t *testing.T) {
		s := newStore(t)
		for _, v := range []counter.Visit{
			{Key: "", Date: Day0},
			{Key: "a#1", Date: Day0},
			{Key: "home", Date: ""},
			{Key: "home", Date: "2026-02-30"},
			{Key: "home", Date: Day0, ID: strings.Repeat("x", counter.MaxVisitIDLen+1)},
			{Key: "home", Date: Day0, ID: "a b"},
			{Key: "home", Date: Day0, ID: "é"},
		} {
			v.Time = noon(Day0)
			if _, ok, err := s.RecordVisit(ctx, v); err == nil || ok {
				t.Errorf("RecordVisit(%+v) = counted %v, error %v; want an error", v, ok, err)
			}
		}
		if _, err := s.Stats(ctx, "a/b", Day0); !errors.Is(err, counter.ErrInvalidKey) {
			t.Errorf("Stats of an invalid key: error %v, want ErrInvalidKey", err)
		}
		if _, err := s.History(ctx, "a/b", Day0, Day0); !errors.Is(err, counter.ErrInvalidKey) {
			t.Errorf("History of an invalid key: error %v, want ErrInvalidKey", err)
		}
		checkStats(t, s, "home", Day0, counter.Stats{Key: "home", Today: counter.Day{Date: Day0}})
	})

	t.Run("CanceledContext", func(t *testing.T) {
		s := newStore(t)
		mustVisit(t, s, visitOn("home", Day0, 1))
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, ok, err := s.RecordVisit(cctx, visitOn("home", Day0, 2)); !errors.Is(err, context.Canceled) || ok {
			t.Errorf("RecordVisit with a canceled context: counted %v, error %v; want context.Canceled", ok, err)
		}
		if _, err := s.Stats(cctx, "home", Day0); !errors.Is(err, context.Canceled) {
			t.Errorf("Stats with a canceled context: error %v, want context.Canceled", err)
		}
		if _, err := s.History(cctx, "home", Day0, Day0); !errors.Is(err, context.Canceled) {
			t.Errorf("History with a canceled context: error %v, want context.Canceled", err)
		}
		checkStats(t, s, "home", Day0, counter.Stats{Key: "home", Count: 1, Visitors: 1, Today: counter.Day{Date: Day0, Count: 1, Visitors: 1}})
		// Visitor 2 was not marked by the canceled visit.
		if st := mustVisit(t, s, visitOn("home", Day0, 2)); st.Visitors != 2 {
			t.Errorf("visitor of a canceled visit then counted %d visitors, want 2", st.Visitors)
		}
	})
}

// RunEditor runs the suite of the owner's edits: SetCount, Export, Import
// and, if the store implements [counter.KeyLister], Keys. newStore returns
// a store in which no key has been counted yet, configured by cfg.
func RunEditor(t *testing.T, newStoreWith func(t *testing.T, cfg Config) EditStore) {
	ctx := context.Background()
	day1, day2 := Day0, Day0.AddDays(3)
	newStore := func(t *testing.T) EditStore {
		t.Helper()
		c := &clock{t: noon(Day0)}
		return newStoreWith(t, Config{Now: c.Now})
	}

	fill := func(t *testing.T, s EditStore) counter.Record {
		t.Helper()
		mustVisit(t, s, visitOn("home", day1, 1))
		mustVisit(t, s, visitOn("home", day1, 2))
		mustVisit(t, s, visitOn("home", day1, 1))
		mustVisit(t, s, visitOn("home", day2, 1))
		return counter.Record{Key: "home", Count: 4, Visitors: 3, Days: []counter.Day{
			{Date: day1, Count: 3, Visitors: 2}, {Date: day2, Count: 1, Visitors: 1}}}
	}

	t.Run("SetCount", func(t *testing.T) {
		s := newStore(t)
		fill(t, s)
		old, err := s.SetCount(ctx, "home", 1000)
		if err != nil || old != 4 {
			t.Fatalf("SetCount = %d, %v; want old 4", old, err)
		}
		if st := mustVisit(t, s, visitOn("home", day2, 1)); st.Count != 1001 || st.Visitors != 3 || st.Today.Count != 2 {
			t.Fatalf("visit after SetCount(1000) returned %+v, want count 1001, visitors and days kept", st)
		}
		if old, err := s.SetCount(ctx, "new-key", 41); err != nil || old != 0 {
			t.Fatalf("SetCount of a new key = %d, %v; want old 0", old, err)
		}
		if got := mustIncrement(t, s, "new-key"); got != 42 {
			t.Fatalf("increment after SetCount(41) = %d, want 42", got)
		}
		for _, bad := range []struct {
			key string
			n   int64
		}{{"home", -1}, {"a/b", 5}} {
			if _, err := s.SetCount(ctx, bad.key, bad.n); err == nil {
				t.Errorf("SetCount(%q, %d) succeeded, want an error", bad.key, bad.n)
			}
		}
		if st := mustStats(t, s, "home", day2); st.Count != 1001 {
			t.Fatalf("count after refused SetCounts = %d, want 1001", st.Count)
		}
	})

	t.Run("ExportImport", func(t *testing.T) {
		src := newStore(t)
		want := fill(t, src)
		got, err := src.Export(ctx, "home")
		if err != nil {
			t.Fatalf("Export: %v", err)
		}
		checkRecord(t, got, want)
		none, err := src.Export(ctx, "never-counted")
		if err != nil || none.Count != 0 || none.Visitors != 0 || len(none.Days) != 0 {
			t.Fatalf("Export of a key never counted = %+v, %v; want zeros and no days", none, err)
		}

		dst := newStore(t)
		for range 2 { // importing twice leaves the same state
			if err := dst.Import(ctx, got); err != nil {
				t.Fatalf("Import: %v", err)
			}
			again, err := dst.Export(ctx, "home")
			if err != nil {
				t.Fatalf("Export after Import: %v", err)
			}
			checkRecord(t, again, want)
		}
		checkHistory(t, dst, "home", day1, day2, []counter.Day{want.Days[0], {Date: day1.AddDays(1)}, {Date: day1.AddDays(2)}, want.Days[1]})
		// Counting continues from imported numbers, today's included.
		st := mustVisit(t, dst, visitOn("home", day2, 5))
		if wantSt := (counter.Stats{Key: "home", Count: 5, Visitors: 4, Today: counter.Day{Date: day2, Count: 2, Visitors: 2}}); st != wantSt {
			t.Fatalf("visit after Import returned %+v, want %+v", st, wantSt)
		}

		// Days not listed stay; listed days are replaced.
		if err := dst.Import(ctx, counter.Record{Key: "home", Count: 10, Visitors: 7, Days: []counter.Day{{Date: day1, Count: 6, Visitors: 4}}}); err != nil {
			t.Fatalf("Import of one day: %v", err)
		}
		after, err := dst.Export(ctx, "home")
		if err != nil {
			t.Fatalf("Export: %v", err)
		}
		checkRecord(t, after, counter.Record{Key: "home", Count: 10, Visitors: 7, Days: []counter.Day{
			{Date: day1, Count: 6, Visitors: 4}, {Date: day2, Count: 2, Visitors: 2}}})
	})

	t.Run("ZeroDaysNotExported", func(t *testing.T) {
		// A day imported with zero numbers reads as a day without visits:
		// History shows zeros and Export leaves it out, in every store.
		s := newStore(t)
		fill(t, s)
		zero := counter.Record{Key: "home", Count: 4, Visitors: 3, Days: []counter.Day{
			{Date: day1.AddDays(1)}, {Date: day2, Count: 0, Visitors: 0}}}
		if err := s.Import(ctx, zero); err != nil {
			t.Fatalf("Import of zero days: %v", err)
		}
		got, err := s.Export(ctx, "home")
		if err != nil {
			t.Fatalf("Export: %v", err)
		}
		checkRecord(t, got, counter.Record{Key: "home", Count: 4, Visitors: 3, Days: []counter.Day{{Date: day1, Count: 3, Visitors: 2}}})
		checkHistory(t, s, "home", day1, day1.AddDays(1), []counter.Day{{Date: day1, Count: 3, Visitors: 2}, {Date: day1.AddDays(1)}})
	})

	t.Run("OwnerEditsPassTheKeyCap", func(t *testing.T) {
		// A key cap keeps made-up keys from visitors out; it never refuses
		// the owner's SetCount or Import (restoring an export brings every
		// key back).
		c := &clock{t: noon(Day0)}
		s := newStoreWith(t, Config{Now: c.Now, MaxKeys: 2})
		mustVisit(t, s, visitOn("a", day1, 1))
		mustIncrement(t, s, "b")
		capped := false
		if _, _, err := s.RecordVisit(ctx, visitOn("c", day1, 1)); errors.Is(err, counter.ErrTooManyKeys) {
			capped = true
		} else if err != nil {
			t.Fatalf("visit of a third key: %v", err)
		}
		if old, err := s.SetCount(ctx, "set-by-owner", 7); err != nil || old != 0 {
			t.Fatalf("SetCount of a new key past the key cap = %d, %v; want old 0, no error", old, err)
		}
		r := counter.Record{Key: "imported", Count: 9, Visitors: 4, Days: []counter.Day{{Date: day1, Count: 9, Visitors: 4}}}
		if err := s.Import(ctx, r); err != nil {
			t.Fatalf("Import of a new key past the key cap: %v", err)
		}
		got, err := s.Export(ctx, "imported")
		if err != nil {
			t.Fatalf("Export: %v", err)
		}
		checkRecord(t, got, r)
		if st := mustStats(t, s, "set-by-owner", day1); st.Count != 7 {
			t.Fatalf("count set by the owner past the key cap = %d, want 7", st.Count)
		}
		if capped {
			// The owner's keys count as keys: visitors still cannot add one.
			if _, _, err := s.RecordVisit(ctx, visitOn("d", day1, 1)); !errors.Is(err, counter.ErrTooManyKeys) {
				t.Fatalf("visit of a new key past the cap after the owner's edits: error %v, want ErrTooManyKeys", err)
			}
		}
	})

	t.Run("ImportRefusesBadRecords", func(t *testing.T) {
		s := newStore(t)
		want := fill(t, s)
		for name, r := range map[string]counter.Record{
			"bad key":                          {Key: "a b", Count: 1},
			"negative count":                   {Key: "home", Count: -1},
			"negative day":                     {Key: "home", Count: 1, Days: []counter.Day{{Date: day1, Count: -1}}},
			"day with more visitors than hits": {Key: "home", Count: 9, Visitors: 9, Days: []counter.Day{{Date: day1, Count: 2, Visitors: 3}}},
			"bad date":                         {Key: "home", Count: 1, Days: []counter.Day{{Date: "2026-12-32", Count: 1}}},
			"unordered days":                   {Key: "home", Count: 1, Days: []counter.Day{{Date: day2, Count: 1}, {Date: day1, Count: 1}}},
			"repeated day":                     {Key: "home", Count: 1, Days: []counter.Day{{Date: day1, Count: 1}, {Date: day1, Count: 2}}},
		} {
			if err := s.Import(ctx, r); err == nil {
				t.Errorf("Import(%s) succeeded, want an error", name)
			}
		}
		got, err := s.Export(ctx, "home")
		if err != nil {
			t.Fatalf("Export: %v", err)
		}
		checkRecord(t, got, want)
	})

	t.Run("Keys", func(t *testing.T) {
		s := newStore(t)
		l, ok := any(s).(counter.KeyLister)
		if !ok {
			t.Skip("store does not implement counter.KeyLister")
		}
		fill(t, s)
		mustIncrement(t, s, "b.plain")
		mustVisit(t, s, counter.Visit{Key: "a:hit-only", Date: day1, ID: "x1", Time: noon(day1)})
		if _, err := s.DaySalt(ctx, day1, bytes.Repeat([]byte{7}, counter.SaltLen)); err != nil {
			t.Fatalf("DaySalt: %v", err)
		}
		keys, err := l.Keys(ctx)
		if err != nil {
			t.Fatalf("Keys: %v", err)
		}
		if want := []string{"a:hit-only", "b.plain", "home"}; !slices.Equal(keys, want) {
			t.Fatalf("Keys = %q, want %q (markers and salts are not keys)", keys, want)
		}
	})
}

// together runs f(0..n-1) on n goroutines released at once and returns the
// counts of the visits that counted.
func together(t *testing.T, n int, f func(i int) (counter.Stats, bool, error)) []int64 {
	t.Helper()
	var (
		wg     sync.WaitGroup
		start  = make(chan struct{})
		mu     sync.Mutex
		counts []int64
		errs   []error
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			st, ok, err := f(i)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				errs = append(errs, err)
			case ok:
				counts = append(counts, st.Count)
			}
		}()
	}
	close(start)
	wait(t, &wg)
	if len(errs) > 0 {
		t.Fatalf("%d of %d visits failed, first: %v", len(errs), n, errs[0])
	}
	return counts
}

// wait waits for wg, failing the test after a minute instead of hanging.
func wait(t *testing.T, wg *sync.WaitGroup) {
	t.Helper()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatal("goroutines still running after a minute")
	}
}

func mustVisit(t *testing.T, s counter.VisitStore, v counter.Visit) counter.Stats {
	t.Helper()
	st, ok, err := s.RecordVisit(context.Background(), v)
	if err != nil || !ok {
		t.Fatalf("RecordVisit(%+v): counted %v, error %v", v, ok, err)
	}
	return st
}

func mustStats(t *testing.T, s counter.VisitStore, key string, today counter.Date) counter.Stats {
	t.Helper()
	st, err := s.Stats(context.Background(), key, today)
	if err != nil {
		t.Fatalf("Stats(%q): %v", key, err)
	}
	return st
}

func checkStats(t *testing.T, s counter.VisitStore, key string, today counter.Date, want counter.Stats) {
	t.Helper()
	if got := mustStats(t, s, key, today); got != want {
		t.Fatalf("Stats(%q, %s) = %+v, want %+v", key, today, got, want)
	}
}

func checkHistory(t *testing.T, s counter.HistoryReader, key string, first, last counter.Date, want []counter.Day) {
	t.Helper()
	got, err := s.History(context.Background(), key, first, last)
	if err != nil {
		t.Fatalf("History(%q, %s, %s): %v", key, first, last, err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("History(%q, %s, %s) =\n%+v\nwant\n%+v", key, first, last, got, want)
	}
}

func checkRecord(t *testing.T, got, want counter.Record) {
	t.Helper()
	if got.Key != want.Key || got.Count != want.Count || got.Visitors != want.Visitors || !slices.Equal(got.Days, want.Days) {
		t.Fatalf("record =\n%+v\nwant\n%+v", got, want)
	}
}
