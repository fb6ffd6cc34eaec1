package counter_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/resumecounter/counter"
)

// A Group passes visits and history through to a store that keeps them,
// so Visitors works over it, and still folds plain increments.
func TestGroupPassesVisitsThrough(t *testing.T) {
	store := newFakeVisits()
	g := counter.NewGroup(store)
	h, _, _ := visitorsAPI(t, g, counter.VisitorOptions{})
	for _, ua := range []string{chromeUA, chromeUA, firefoxUA} {
		w, a := send(t, h, visitReq("GET", "/api/home", "192.0.2.1:1", ua))
		if w.Code != 200 {
			t.Fatalf("status %d: %s", w.Code, w.Body)
		}
		_ = a
	}
	_, a := send(t, h, visitReq("GET", "/api/home?days=2", "192.0.2.1:1", chromeUA))
	if a.Count != 3 || a.Visitors != 2 || len(a.Days) != 2 || a.Days[1].Count != 3 {
		t.Errorf("through a Group: %+v", a)
	}
	if len(store.visits) != 3 || store.saltCalls.Load() != 1 {
		t.Errorf("store saw %d visits and %d salt calls, want 3 and 1", len(store.visits), store.saltCalls.Load())
	}
	if n, err := g.Increment(context.Background(), "home"); n != 4 || err != nil {
		t.Errorf("Increment: %d %v, want 4", n, err)
	}

	// Owner edits pass through.
	ctx := context.Background()
	if old, err := g.SetCount(ctx, "home", 100); old != 4 || err != nil {
		t.Errorf("SetCount: %d %v", old, err)
	}
	rec, err := g.Export(ctx, "home")
	if err != nil || rec.Count != 100 || rec.Visitors != 2 || len(rec.Days) != 1 {
		t.Errorf("Export: %+v %v", rec, err)
	}
	rec.Key = "copy"
	if err := g.Import(ctx, rec); err != nil {
		t.Errorf("Import: %v", err)
	}
	if n, _ := g.Count(ctx, "copy"); n != 100 {
		t.Errorf("imported count %d, want 100", n)
	}

	// Close waits for a call passed through, then refuses new ones.
	store.saltGate = make(chan struct{})
	salted := make(chan error, 1)
	go func() {
		_, err := g.DaySalt(context.Background(), "2026-12-02", make([]byte, counter.SaltLen))
		salted <- err
	}()
	for deadline := time.Now().Add(10 * time.Second); store.saltCalls.Load() < 2; {
		if time.Now().After(deadline) {
			t.Fatal("DaySalt did not reach the store within 10s")
		}
		time.Sleep(time.Millisecond)
	}
	closed := make(chan struct{})
	go func() { g.Close(); close(closed) }()
	select {
	case <-closed:
		t.Fatal("Close returned while a DaySalt was in flight")
	case <-time.After(50 * time.Millisecond):
	}
	close(store.saltGate)
	if err := <-salted; err != nil {
		t.Errorf("DaySalt in flight at Close: %v", err)
	}
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return within 10s of the last call")
	}
	if _, _, err := g.RecordVisit(context.Background(), counter.Visit{Key: "home", Date: "2026-12-01"}); !errors.Is(err, counter.ErrClosed) {
		t.Errorf("RecordVisit after Close: %v, want ErrClosed", err)
	}
}

// Over a store without the capabilities, each pass-through method says so.
func TestGroupVisitsUnsupported(t *testing.T) {
	g := counter.NewGroup(incrementAdder{counter.NewMemory()})
	ctx := context.Background()
	for name, f := range map[string]func() error{
		"RecordVisit": func() error { _, _, err := g.RecordVisit(ctx, counter.Visit{Key: "k", Date: "2026-12-01"}); return err },
		"Stats":       func() error { _, err := g.Stats(ctx, "k", "2026-12-01"); return err },
		"DaySalt":     func() error { _, err := g.DaySalt(ctx, "2026-12-01", make([]byte, 32)); return err },
		"History":     func() error { _, err := g.History(ctx, "k", "2026-12-01", "2026-12-01"); return err },
		"SetCount":    func() error { _, err := g.SetCount(ctx, "k", 1); return err },
		"Export":      func() error { _, err := g.Export(ctx, "k"); return err },
		"Import":      func() error { return g.Import(ctx, counter.Record{Key: "k"}) },
	} {
		if err := f(); !errors.Is(err, errors.ErrUnsupported) {
			t.Errorf("%s: %v, want ErrUnsupported", name, err)
		}
	}
	// Visitors over it fails the request (503), counting nothing.
	h, _, _ := visitorsAPI(t, g, counter.VisitorOptions{Logger: discardLogger()})
	w := httptest.NewRecorder()
	h.ServeHTTP(w, visitReq("GET", "/api/home", "192.0.2.1:1", chromeUA))
	if w.Code != 503 {
		t.Errorf("Visitors over a Group without VisitStore: %d, want 503", w.Code)
	}
}

// incrementAdder exposes only Add of the store it wraps.
type incrementAdder struct{ a counter.Adder }

func (s incrementAdder) Add(ctx context.Context, key string, n int64) (int64, error) {
	return s.a.Add(ctx, key, n)
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
