package counter

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"
)

// dateParts agrees with time.Parse(time.DateOnly) on every day of four
// centuries and on malformed dates.
func TestDatePartsAgreesWithTimeParse(t *testing.T) {
	check := func(s string) {
		t.Helper()
		want, err := time.Parse(time.DateOnly, s)
		got, ok := dateParts(s)
		if ok != (err == nil) || ok && !got.Equal(want) {
			t.Errorf("dateParts(%q) = %v %v; time.Parse: %v %v", s, got, ok, want, err)
		}
	}
	for d := time.Date(1899, 1, 1, 0, 0, 0, 0, time.UTC); d.Year() < 2300; d = d.AddDate(0, 0, 1) {
		check(d.Format(time.DateOnly))
	}
	for _, s := range []string{"", "2026-02-29", "2024-02-29", "2026-02-30", "2026-13-01", "2026-00-10", "2026-12-00",
		"2026-12-32", "2026/12/01", "2026-1-01", "+026-12-01", "2026-12-0a", "20261201xx", "0000-01-01", "9999-12-31",
		"2026-12-01 ", " 2026-12-0", "2026--12-1", "-026-12-01"} {
		check(s)
	}
}

// BenchmarkVisitParts measures the pieces of a counted visit over the
// memory store: the whole Visit, the store's RecordVisit, the visitor id
// (SipHash-2-4-128), finding the day and the client address; "increment" is
// the plain store's count, the cost with visitors off.
//
//	go test -run '^$' -bench 'VisitParts' .
func BenchmarkVisitParts(b *testing.B) {
	ctx := context.Background()
	m := NewMemory()
	v := NewVisitors(m, VisitorOptions{})
	r := httptest.NewRequest(http.MethodGet, "/count", nil)
	r.RemoteAddr = "192.0.2.1:1234"
	r.Header.Set("User-Agent", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36")
	if _, skip, err := v.Visit(ctx, r, "count"); err != nil || skip != Counted {
		b.Fatal(err, skip)
	}
	salt, err := v.daySalt(ctx, v.Today())
	if err != nil {
		b.Fatal(err)
	}
	day, addr, ua := v.Today(), netip.MustParseAddr("192.0.2.1"), r.Header.Get("User-Agent")
	id := salt.visitorID(addr, ua, "count")
	b.Run("increment", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := m.Increment(ctx, "count"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("visit", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := v.Visit(ctx, r, "count"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("record-visit", func(b *testing.B) {
		b.ReportAllocs()
		now := time.Now()
		for b.Loop() {
			if _, _, err := m.RecordVisit(ctx, Visit{Key: "count", Date: day, Visitor: id, Time: now}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("visitor-id", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			salt.visitorID(addr, ua, "count")
		}
	})
	b.Run("today", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			v.Today()
		}
	})
	b.Run("client-addr", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			ClientAddr(r, 0)
		}
	})
}

// A counted visit of a known visitor over the memory store does not
// allocate: the day, the salt, the visitor id and the bot check are cached
// or pooled.
func TestVisitDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop items")
	}
	ctx := context.Background()
	noon := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC) // a fixed clock: a new day would fetch a new salt
	v := NewVisitors(NewMemory(), VisitorOptions{Now: func() time.Time { return noon }})
	r := httptest.NewRequest(http.MethodGet, "/count", nil)
	r.RemoteAddr = "192.0.2.1:1234"
	r.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0")
	if _, skip, err := v.Visit(ctx, r, "count"); err != nil || skip != Counted {
		t.Fatal(err, skip)
	}
	if n := testing.AllocsPerRun(200, func() { _, _, _ = v.Visit(ctx, r, "count") }); n != 0 {
		t.Errorf("Visit allocates %v times", n)
	}
}
