package counter

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"testing"
	"time"
)

// TestRefusedKeysLogSparingly: once the key cap is reached, a flood of
// requests for new keys writes the first refusal at once and then at most
// one line per minute, with the number refused since the line before.
func TestRefusedKeysLogSparingly(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	store := NewMemoryLimit(1)
	if _, err := store.Increment(context.Background(), "taken"); err != nil {
		t.Fatal(err)
	}
	h := newHandler(store, HandlerOptions{Logger: logger}, false).(*handler)
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	h.refusals.now = func() time.Time { return now }

	refuse := func(n int, key string) {
		t.Helper()
		for range n {
			w := httptest.NewRecorder()
			r := httptest.NewRequest(http.MethodGet, "/api/"+key, nil)
			r.SetPathValue("key", key)
			h.ServeHTTP(w, r)
			if w.Code != http.StatusNotFound {
				t.Fatalf("new key beyond the cap: %d, want 404", w.Code)
			}
		}
	}
	line := regexp.MustCompile(`level=WARN msg="counter: store refused a new key" key=(\S+) op=increment refused=(\d+) log_every=1m0s err=`)
	lines := func() [][]string {
		return line.FindAllStringSubmatch(logs.String(), -1)
	}
	want := func(step string, refused ...int) {
		t.Helper()
		got := lines()
		if len(got) != len(refused) || bytes.Count(logs.Bytes(), []byte("\n")) != len(refused) {
			t.Fatalf("%s: %d warning lines, want %d:\n%s", step, len(got), len(refused), logs.String())
		}
		for i, n := range refused {
			if got[i][2] != strconv.Itoa(n) {
				t.Fatalf("%s: line %d says refused=%s, want %d:\n%s", step, i+1, got[i][2], n, logs.String())
			}
		}
	}

	refuse(1, "first")
	want("first refusal", 1)
	refuse(500, "flood")
	want("500 more within the same minute", 1)
	now = now.Add(59 * time.Second)
	refuse(1, "flood")
	want("59s after the first line", 1)
	now = now.Add(time.Second)
	refuse(1, "late")
	want("a minute after the first line", 1, 502)
	if got := lines()[1][1]; got != "late" {
		t.Errorf("summary line names key %s, want the latest, late", got)
	}
	refuse(3, "more")
	now = now.Add(10 * time.Minute)
	refuse(1, "much-later")
	want("ten minutes on", 1, 502, 4)

	// Existing keys still count, and a counted visit logs nothing.
	w := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodGet, "/api/taken", nil)
	r.SetPathValue("key", "taken")
	h.ServeHTTP(w, r)
	if w.Code != http.StatusOK {
		t.Fatalf("existing key at the cap: %d", w.Code)
	}
	want("after a counted visit", 1, 502, 4)
}

// fullMarkers is a VisitStore whose markers are full: it refuses every
// visit that needs a visitor marker, and counts the others.
type fullMarkers struct{ *Memory }

func (s fullMarkers) RecordVisit(ctx context.Context, v Visit) (Stats, bool, error) {
	if !v.Visitor.IsZero() || v.ID != "" {
		return Stats{}, false, fmt.Errorf("counter: visit of %q: %w", v.Key, ErrMarkersFull)
	}
	return s.Memory.RecordVisit(ctx, v)
}

// TestMarkersFullLogsSparingly: Visitors over a store whose markers are
// full counts hits and logs so through the same limiter as the handler's
// refused keys: the first at once, then at most one line a minute.
func TestMarkersFullLogsSparingly(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	clock := stepsClock()
	now := func() time.Time { return clock }
	v := NewVisitors(fullMarkers{NewMemoryWith(MemoryOptions{Now: now})}, VisitorOptions{Logger: logger, Now: now})
	v.markersFull.now = now
	visit := func(n int) {
		t.Helper()
		for i := range n {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = fmt.Sprintf("192.0.2.%d:1", i%250+1)
			r.Header.Set("User-Agent", stepsUA)
			if _, skip, err := v.Visit(context.Background(), r, "home"); err != nil || skip != Counted {
				t.Fatalf("visit with markers full: %q %v, want it counted as a hit", skip, err)
			}
		}
	}
	line := regexp.MustCompile(`level=WARN msg="counter: visit markers full: new visitors count as hits only \(logged at most once a minute\)" key=home err=`)
	want := func(step string, n int) {
		t.Helper()
		if got := len(line.FindAllString(logs.String(), -1)); got != n || bytes.Count(logs.Bytes(), []byte("\n")) != n {
			t.Fatalf("%s: %d warning lines, want %d:\n%s", step, got, n, logs.String())
		}
	}
	visit(1)
	want("first refusal", 1)
	visit(300)
	want("300 more within the same minute", 1)
	clock = clock.Add(59 * time.Second)
	visit(1)
	want("59s after the first line", 1)
	clock = clock.Add(time.Second)
	visit(1)
	want("a minute after the first line", 2)
	if s, err := v.Stats(context.Background(), "home"); err != nil || s.Count != 303 || s.Visitors != 0 {
		t.Errorf("stats %+v %v, want 303 hits and no visitors", s, err)
	}
}
