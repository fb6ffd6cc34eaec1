package pgstore

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/resumecounter/counter"
	"github.com/resumecounter/counter/internal/storefault"
	"github.com/resumecounter/counter/internal/testenv"
)

// TestFaultKillRestart kills PostgreSQL (SIGKILL to the postmaster and its
// backends) while 8 goroutines count, then restarts it: with PostgreSQL's
// default synchronous_commit=on, no acknowledged count is lost; increments
// fail with errors and the JSON handler answers 503 while it is down; the
// pool reconnects by itself.
func TestFaultKillRestart(t *testing.T) {
	srv := testenv.NewPostgres(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg, err := pgxpool.ParseConfig(testenv.PostgresURLOf(srv) + "&connect_timeout=2")
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = 8
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	s, err := New(pool, Options{SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	storefault.Run(t, storefault.Config{
		Store:   s,
		Kill:    srv.Kill,
		Restart: func() { srv.Restart(t) },
	})
}

// TestFaultKillRestartVisits kills PostgreSQL (SIGKILL to the postmaster
// and its backends) while 32 goroutines record visits, each of a new
// visitor with a new visit id, so that batches of many visits are in
// flight, then restarts it. Every acknowledged visit survives: the
// acknowledged counts are distinct and at most the final count, the final
// count exceeds them by no more than the failed visits (a failure after
// sending may have committed), and recording each acknowledged visit again
// counts nothing, since its visit id marker is there.
func TestFaultKillRestartVisits(t *testing.T) {
	srv := testenv.NewPostgres(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg, err := pgxpool.ParseConfig(testenv.PostgresURLOf(srv) + "&connect_timeout=2")
	if err != nil {
		t.Fatal(err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	s, err := New(pool, Options{SweepInterval: -1, Now: func() time.Time { return at1 }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	var (
		mu     sync.Mutex
		acked  []answer
		failed atomic.Int64
		seq    atomic.Int64
		stop   = make(chan struct{})
		wg     sync.WaitGroup
	)
	ackCount := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(acked)
	}
	for range 32 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				i := int(seq.Add(1))
				v := counter.Visit{Key: "fault", Date: day1, Time: at1, Visitor: visitorN(i), ID: fmt.Sprint("v-", i)}
				vctx, cancel := context.WithTimeout(ctx, 5*time.Second)
				st, ok, err := s.RecordVisit(vctx, v)
				cancel()
				switch {
				case err != nil:
					failed.Add(1)
					time.Sleep(5 * time.Millisecond)
				case !ok:
					t.Errorf("new visit %s not counted", v.ID)
				default:
					mu.Lock()
					acked = append(acked, answer{v, st, ok, err})
					mu.Unlock()
				}
			}
		})
	}
	stopWorkers := sync.OnceFunc(func() { close(stop); wg.Wait() })
	defer stopWorkers()
	waitUntil := func(limit time.Duration, what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(limit); !cond(); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("no %s within %v", what, limit)
			}
		}
	}
	waitUntil(60*time.Second, "300 acknowledged visits before the kill", func() bool { return ackCount() >= 300 })
	srv.Kill()
	before := ackCount()
	waitUntil(30*time.Second, "failed visits while the server is down", func() bool { return failed.Load() >= 64 })
	srv.Restart(t)
	up := ackCount()
	waitUntil(60*time.Second, "300 acknowledged visits after the restart", func() bool { return ackCount() >= up+300 })
	stopWorkers()

	st, err := s.Stats(ctx, "fault", day1)
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	seen := map[int64]bool{}
	for _, a := range acked {
		if seen[a.st.Count] || a.st.Count > st.Count {
			t.Fatalf("count %d acknowledged twice or above the final %d: an acknowledged visit was lost", a.st.Count, st.Count)
		}
		seen[a.st.Count] = true
	}
	if extra := st.Count - int64(len(acked)); extra < 0 || extra > failed.Load() || st.Visitors != st.Count {
		t.Fatalf("final %+v with %d acknowledged and %d failed visits", st, len(acked), failed.Load())
	}
	vs := make([]counter.Visit, len(acked))
	for i, a := range acked {
		vs[i] = a.v
	}
	for _, a := range visitAll(ctx, s, vs) {
		if a.err != nil || a.ok {
			t.Fatalf("acknowledged visit %s sent again: counted %v, %v; want refused, its visit id stored", a.v.ID, a.ok, a.err)
		}
	}
	if again, err := s.Stats(ctx, "fault", day1); err != nil || again != st {
		t.Fatalf("Stats after sending the acknowledged visits again = %+v, %v; want %+v", again, err, st)
	}
	t.Logf("%d visits acknowledged (%d before the kill), %d failed, final count %d: %d failed visits were committed, no acknowledged one lost",
		len(acked), before, failed.Load(), st.Count, st.Count-int64(len(acked)))
}
