// Package storefault checks what a store does when its database server is
// killed (SIGKILL) and restarted in the middle of a load: no acknowledged
// count is lost, calls fail with errors while the server is down (and the
// JSON handler answers 503), and counting resumes by itself afterwards.
package storefault

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/resumecounter/counter"
)

// Store is what the check loads.
type Store interface {
	counter.Incrementer
	counter.Reader
}

// Config describes one run.
type Config struct {
	Store   Store
	Kill    func() // kills the server and returns once it is dead
	Restart func() // starts it again and returns once it is ready
	// Workers goroutines increment one key; Before increments are
	// acknowledged before the kill and After after the restart. Defaults:
	// 8, 300, 300.
	Workers, Before, After int
}

// Result is what a run measured.
type Result struct {
	Acked          int   // acknowledged increments
	Errors         int   // failed increments
	Count          int64 // the key's count at the end
	Unacknowledged int64 // Count - Acked: failed increments that were nevertheless committed
}

// Run runs the check; it fails t if an acknowledged count was lost, the
// handler did not answer 503 during the outage, or counting did not resume.
func Run(t *testing.T, cfg Config) Result {
	t.Helper()
	if cfg.Workers <= 0 {
		cfg.Workers = 8
	}
	if cfg.Before <= 0 {
		cfg.Before = 300
	}
	if cfg.After <= 0 {
		cfg.After = 300
	}
	const key = "fault"
	var (
		mu     sync.Mutex
		acked  []int64
		nerr   atomic.Int64
		stop   = make(chan struct{})
		wg     sync.WaitGroup
		panics atomic.Value
	)
	ackCount := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(acked)
	}
	for range cfg.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				if r := recover(); r != nil {
					panics.Store(r)
				}
			}()
			for {
				select {
				case <-stop:
					return
				default:
				}
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				n, err := cfg.Store.Increment(ctx, key)
				cancel()
				if err != nil {
					nerr.Add(1)
					time.Sleep(5 * time.Millisecond)
					continue
				}
				mu.Lock()
				acked = append(acked, n)
				mu.Unlock()
			}
		}()
	}
	stopWorkers := func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		wg.Wait()
	}
	defer stopWorkers()

	waitFor(t, 60*time.Second, "acknowledged increments before the kill", func() bool { return ackCount() >= cfg.Before })
	cfg.Kill()
	down := ackCount()
	errsAtKill := nerr.Load()
	waitFor(t, 30*time.Second, "errors while the server is down", func() bool { return nerr.Load() >= errsAtKill+int64(2*cfg.Workers) })
	if got := ackCount(); got > down+cfg.Workers {
		t.Fatalf("%d increments acknowledged after the kill, want at most the %d in flight", got-down, cfg.Workers)
	}
	checkHandler(t, cfg.Store, key)

	cfg.Restart()
	up := ackCount()
	waitFor(t, 60*time.Second, "acknowledged increments after the restart", func() bool { return ackCount() >= up+cfg.After })
	stopWorkers()
	if p := panics.Load(); p != nil {
		t.Fatalf("an increment panicked: %v", p)
	}

	var count int64
	waitFor(t, 30*time.Second, "a count read", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		var err error
		count, err = cfg.Store.Count(ctx, key)
		return err == nil
	})
	mu.Lock()
	defer mu.Unlock()
	slices.Sort(acked)
	for i := 1; i < len(acked); i++ {
		if acked[i] == acked[i-1] {
			t.Fatalf("count %d acknowledged twice: an acknowledged increment was lost in the crash", acked[i])
		}
	}
	r := Result{Acked: len(acked), Errors: int(nerr.Load()), Count: count, Unacknowledged: count - int64(len(acked))}
	if last := acked[len(acked)-1]; last > count {
		t.Fatalf("count %d after the restart, below the acknowledged %d", count, last)
	}
	if r.Unacknowledged < 0 || r.Unacknowledged > int64(r.Errors) {
		t.Fatalf("count %d with %d acknowledged and %d failed increments", count, r.Acked, r.Errors)
	}
	t.Logf("%d increments acknowledged (%d before the kill), %d failed, final count %d: %d failed increments were committed, no acknowledged one lost",
		r.Acked, down, r.Errors, r.Count, r.Unacknowledged)
	return r
}

// checkHandler requests the JSON handler over the store, whose server is
// down: it must answer 503 with the generic body, the cause going to the
// log only.
func checkHandler(t *testing.T, s Store, key string) {
	t.Helper()
	var log bytes.Buffer
	mux := http.NewServeMux()
	mux.Handle("/api/{key}", counter.JSONHandler(s, counter.HandlerOptions{
		Timeout: 5 * time.Second,
		Logger:  slog.New(slog.NewTextHandler(&log, nil)),
	}))
	for _, path := range []string{"/api/" + key, "/api/" + key + "?hit=false"} {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		body := strings.TrimSpace(rec.Body.String())
		if rec.Code != http.StatusServiceUnavailable || body != `{"error":"unavailable"}` {
			t.Fatalf("GET %s with the server down: %d %s, want 503 {\"error\":\"unavailable\"}", path, rec.Code, body)
		}
	}
	if !strings.Contains(log.String(), "store failed") {
		t.Fatalf("the handler logged no store failure:\n%s", log.String())
	}
}

func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %v", what, limit)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
