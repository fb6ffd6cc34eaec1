package pgstore

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/resumecounter/counter"
	"github.com/resumecounter/counter/internal/testenv"
)

// day0 is an earlier day than day1, all of whose markers have expired at
// sweepAt: its visit ids 24 hours after the visit, its visitor markers
// 48 hours after the day starts. day1's markers have not.
const day0 = counter.Date("2026-11-28")

var (
	at0     = day0.Time().Add(time.Hour)
	sweepAt = at1.Add(time.Hour)
)

// poolWith returns a pool on the shared test server whose sessions break
// a deadlock after deadlockTimeout.
func poolWith(t *testing.T, deadlockTimeout string) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(testenv.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.RuntimeParams["deadlock_timeout"] = deadlockTimeout
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// secondStore returns another store, as another process would open it,
// on pool with first's tables and clock.
func secondStore(t *testing.T, first *Store, pool *pgxpool.Pool, opts Options) *Store {
	t.Helper()
	opts.Prefix, opts.Now = first.opts.Prefix, first.opts.Now
	s, err := New(pool, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// waitFor polls until cond holds, failing the test after 10s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after 10s", what)
		}
	}
}

// lockWaits reports whether a session whose query contains part waits for
// a lock.
func lockWaits(t *testing.T, pool *pgxpool.Pool, part string) bool {
	t.Helper()
	var n int
	err := pool.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity
WHERE wait_event_type = 'Lock' AND strpos(query, $1) > 0 AND pid <> pg_backend_pid()`, part).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n > 0
}

// TestSweepBatchNoDeadlock builds, step by step, the deadlock that a sweep
// deleting expired markers in ctid order, waiting for the rows it meets
// locked, forms with a batch that reuses those markers in another order
// (a visit whose id marker has expired updates it in place, ON CONFLICT
// DO UPDATE; the advisory locks of the batch's keys do not order the
// sweep, which takes none): two visit id markers of day0, i:a then i:b in
// the table, both expired; a batch of day1 visits with id b, then a.
//
//  1. Session U locks i:a (as another process's batch would).
//  2. The sweep's DELETE, in ctid order, waits for U at i:a.
//  3. The batch's visit b takes i:b (ON CONFLICT DO UPDATE of the expired
//     marker); its visit a waits at i:a, behind the sweep.
//  4. U commits. The sweep deletes i:a and goes on to i:b, which the
//     batch holds; the batch waits for the sweep's i:a: a cycle, which
//     PostgreSQL breaks after deadlock_timeout by aborting one of them,
//     the batch (sent again) or the sweep (an error).
//
// The sweep locks its rows with FOR UPDATE SKIP LOCKED before it deletes
// them, so it never waits for a row lock: in step 2 it skips i:a, deletes
// i:b and commits, and nothing waits for it in step 3. Each subtest gives
// one side the short deadlock_timeout, so that a deadlock aborts that
// side (as it did, every time, before the sweep skipped locked rows);
// the test wants no batch sent again, the sweep returned while U held
// i:a, and both visits counted once as visits of day1.
func TestSweepBatchNoDeadlock(t *testing.T) {
	for _, tc := range []struct{ name, batchTimeout, sweepTimeout string }{
		{"batch detects", "100ms", "1min"},
		{"sweep detects", "1min", "100ms"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			s := newStoreWith(t, poolWith(t, tc.batchTimeout), Options{SweepInterval: -1})
			sweeper := secondStore(t, s, poolWith(t, tc.sweepTimeout), Options{SweepInterval: -1})
			p := s.opts.Prefix
			var retries []error
			s.onRetry = func(err error) { retries = append(retries, err) }
			for _, id := range []string{"a", "b"} { // i:a, then i:b in the table
				if _, ok, err := s.RecordVisit(ctx, counter.Visit{Key: "k", Date: day0, Time: at0, ID: id}); err != nil || !ok {
					t.Fatal(ok, err)
				}
			}
			other := testPool(t)
			u, err := other.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer u.Rollback(ctx) //nolint:errcheck // ends U if the test fails early
			if _, err := u.Exec(ctx, `SELECT 1 FROM `+p+`marks WHERE key = 'k' AND mark = 'i:a' FOR UPDATE`); err != nil {
				t.Fatal(err)
			}

			type sweepResult struct {
				n   int64
				err error
			}
			swept := make(chan sweepResult, 1)
			go func() {
				n, err := sweeper.Sweep(ctx, sweepAt)
				swept <- sweepResult{n, err}
			}()
			var early *sweepResult
			waitFor(t, "the sweep neither returned nor waits for U", func() bool {
				select {
				case r := <-swept:
					early = &r
					return true
				default:
					return lockWaits(t, other, "DELETE FROM "+p+"marks")
				}
			})

			// The batch: a visit of another key, held until b and then a
			// are queued behind it, so that they form the next batch in
			// that order (b is queued while the first batch is held, so
			// before a).
			holdFirstBatch(t, s, 2, nil)
			first := startFirst(t, s, counter.Visit{Key: "x", Date: day1, Time: at1})
			answers := make(chan answer, 2)
			for _, id := range []string{"b", "a"} {
				v := counter.Visit{Key: "k", Date: day1, Time: at1, ID: id}
				go func() {
					st, ok, err := s.RecordVisit(ctx, v)
					answers <- answer{v, st, ok, err}
				}()
				if id == "b" {
					waitFor(t, "visit b queued", func() bool {
						s.mu.Lock()
						defer s.mu.Unlock()
						return len(s.pending) == 1
					})
				}
			}
			if a := <-first; a.err != nil || !a.ok {
				t.Fatalf("first visit: %v, %v", a.ok, a.err)
			}
			waitFor(t, "the batch does not wait for i:a", func() bool { return lockWaits(t, other, "idm AS") })
			if err := u.Commit(ctx); err != nil {
				t.Fatal(err)
			}

			for range 2 {
				if a := <-answers; a.err != nil || !a.ok {
					t.Errorf("visit %s of day1: counted %v, error %v; want counted (its marker of day0 expired)", a.v.ID, a.ok, a.err)
				}
			}
			if early == nil {
				r := <-swept
				t.Errorf("the sweep waited for U's lock on i:a (then returned %d, %v)", r.n, r.err)
			} else if early.err != nil || early.n != 1 {
				t.Errorf("Sweep = %d, %v; want i:b deleted and i:a, which U held, skipped", early.n, early.err)
			}
			if len(retries) != 0 {
				t.Errorf("the batch was sent again after %v", retries)
			}
			if st := mustStats(t, s, "k"); st.Count != 4 || st.Today.Count != 2 {
				t.Errorf("Stats = %+v, want 4 hits, 2 of them on day1", st)
			}
			// Both markers are day1's now: a sweep leaves them, and the
			// same visits are refused.
			if n, err := sweeper.Sweep(ctx, sweepAt); err != nil || n != 0 {
				t.Errorf("second Sweep = %d, %v; want nothing left to delete", n, err)
			}
			for _, id := range []string{"a", "b"} {
				if _, ok, err := s.RecordVisit(ctx, counter.Visit{Key: "k", Date: day1, Time: at1, ID: id}); err != nil || ok {
					t.Errorf("visit %s again on day1: counted %v, %v; want refused", id, ok, err)
				}
			}
		})
	}
}

// TestSweepDuringBatches runs two stores on one database, as two
// processes would, each recording the same day1 visits of four keys in
// its own order through batches, while both sweep, 10 rows a round, the
// thousands of markers that visits of two earlier days left and that
// have expired. Many day1 visits reuse the visit ids of expired day0
// markers, so that batches and sweeps meet on the same rows. Every caller
// is answered without error and exactly (its ordinal after the earlier
// days' numbers, new or returning visitor), no batch is sent again after
// a deadlock, no sweep fails, every expired marker is gone at the end and
// every day1 marker is kept: the same visits are refused, and day1's
// visitors coming back with new visit ids count as returning visitors.
// (With a sweep that waited for the rows it met locked, about one run in
// five here saw a batch aborted by a deadlock with a sweep and sent
// again; TestSweepBatchNoDeadlock builds that deadlock every time.)
func TestSweepDuringBatches(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const sweepLimit = 10
	first := newStoreWith(t, testPool(t), Options{SweepInterval: -1, SweepLimit: sweepLimit})
	stores := []*Store{first, secondStore(t, first, testPool(t), Options{SweepInterval: -1, SweepLimit: sweepLimit})}
	p := first.opts.Prefix
	key := func(i int) string { return fmt.Sprint("k", i%4) }

	// The earlier days: 1,800 visit id and 300 visitor markers, expired
	// at sweepAt.
	var earlier []counter.Visit
	for i := range 1200 {
		earlier = append(earlier, counter.Visit{Key: key(i), Date: day0, Time: at0, Visitor: visitorN(1 + i%200), ID: fmt.Sprint("id-", i)})
	}
	for i := range 600 {
		d := day0.AddDays(-1)
		earlier = append(earlier, counter.Visit{Key: key(i), Date: d, Time: d.Time().Add(time.Hour), Visitor: visitorN(1 + i%100), ID: fmt.Sprint("old-", i)})
	}
	for _, a := range visitAll(ctx, first, earlier) {
		if a.err != nil || !a.ok {
			t.Fatalf("visit %+v: %v, %v", a.v, a.ok, a.err)
		}
	}
	expiredMarks := func() int {
		var n int
		if err := first.pool.QueryRow(ctx, `SELECT count(*) FROM `+p+`marks WHERE expires <= $1`, sweepAt).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := expiredMarks(); n != 2100 {
		t.Fatalf("%d expired markers, want 1,800 visit ids and 300 visitors", n)
	}
	base := map[string]counter.Stats{}
	for k := range 4 {
		base[key(k)] = mustStats(t, first, key(k))
	}

	// Day1: 800 visits, ids id-0 to id-799 (of the expired markers of
	// day0, same keys), 53 visitors; each store sends all of them.
	var today []counter.Visit
	for i := range 800 {
		today = append(today, counter.Visit{Key: key(i), Date: day1, Time: at1, Visitor: visitorN(1 + i%53), ID: fmt.Sprint("id-", i)})
	}

	var retries atomic.Int64
	var inFlight atomic.Int64      // batches being sent
	sent := make(chan struct{}, 1) // a batch is being sent
	for _, s := range stores {
		s.onRetry = func(error) { retries.Add(1) }
		s.beforeSend = func(int) {
			inFlight.Add(1)
			select {
			case sent <- struct{}{}:
			default:
			}
		}
		s.onBatch = func(int) { inFlight.Add(-1) }
	}
	// Each store sweeps in rounds: the first before any visit, then one
	// each time a batch is sent, so that they run together, then, once
	// every visit has been answered, until a round deletes nothing.
	visiting := make(chan struct{})
	visited := make(chan struct{})
	var sweeps sync.WaitGroup
	var rounds, roundsDuring, deleted atomic.Int64
	sweepErrs := make(chan error, 2)
	for _, s := range stores {
		sweeps.Go(func() {
			for i := 0; ; i++ {
				n, err := s.Sweep(ctx, sweepAt)
				if i == 0 {
					visiting <- struct{}{}
				}
				if err != nil {
					sweepErrs <- err
					return
				}
				rounds.Add(1)
				deleted.Add(n)
				if n > 0 && inFlight.Load() > 0 {
					roundsDuring.Add(1)
				}
				select {
				case <-sent:
				case <-visited:
					if n == 0 {
						return
					}
				}
			}
		})
	}
	for range stores {
		<-visiting
	}
	answers := make(chan answer, len(stores)*len(today))
	var wg sync.WaitGroup
	for si, s := range stores {
		order := slices.Clone(today)
		if si == 1 {
			slices.Reverse(order)
		}
		sendAll(ctx, &wg, s, order, 16, answers)
	}
	wg.Wait()
	close(visited)
	sweeps.Wait()
	close(sweepErrs)
	close(answers)
	for err := range sweepErrs {
		t.Errorf("Sweep: %v", err)
	}
	if n := retries.Load(); n != 0 {
		t.Errorf("%d batches were aborted (deadlock or serialization failure) and sent again", n)
	}
	// The expired markers not deleted are those a batch reused (they
	// became day1's) before a sweep reached them.
	t.Logf("%d sweep rounds, %d of which deleted rows while a batch was being sent; %d of the 2,100 expired markers deleted",
		rounds.Load(), roundsDuring.Load(), deleted.Load())

	byKey := map[string][]answer{}
	for a := range answers {
		byKey[a.v.Key] = append(byKey[a.v.Key], a)
	}
	todayVisitors := map[string]map[counter.VisitorID]bool{}
	for _, v := range today {
		if todayVisitors[v.Key] == nil {
			todayVisitors[v.Key] = map[counter.VisitorID]bool{}
		}
		todayVisitors[v.Key][v.Visitor] = true
	}
	todayMarks := len(today)
	for k := range 4 {
		k := key(k)
		b, nv := base[k], int64(len(todayVisitors[k]))
		todayMarks += int(nv)
		if n := checkExactFrom(t, b, byKey[k]); n != 200 {
			t.Errorf("%s: %d visits of day1 counted, want one per visit id (200)", k, n)
		}
		st := mustStats(t, first, k)
		if st.Count != b.Count+200 || st.Visitors != b.Visitors+nv || st.Today.Count != 200 || st.Today.Visitors != nv {
			t.Errorf("%s: %+v, want %d hits and %d visitors (200 and %d on day1)", k, st, b.Count+200, b.Visitors+nv, nv)
		}
	}
	if n := expiredMarks(); n != 0 {
		t.Errorf("%d expired markers left after the sweeps", n)
	}
	if n := marks(t, first); n != todayMarks {
		t.Errorf("%d markers, want day1's %d (800 visit ids and the visitors of each key)", n, todayMarks)
	}
	// Day1's markers stayed: the same visits are refused, and day1's
	// visitors coming back with new visit ids are returning visitors.
	for _, a := range visitAll(ctx, stores[1], today[:100]) {
		if a.err != nil || a.ok {
			t.Fatalf("visit %s again: counted %v, %v; want refused", a.v.ID, a.ok, a.err)
		}
	}
	var again []counter.Visit
	for k, vs := range todayVisitors {
		for v := range vs {
			again = append(again, counter.Visit{Key: k, Date: day1, Time: at1, Visitor: v, ID: fmt.Sprintf("again-%x", v[:2])})
		}
	}
	for _, a := range visitAll(ctx, stores[1], again) {
		if a.err != nil || !a.ok {
			t.Fatalf("visit %s: counted %v, %v", a.v.ID, a.ok, a.err)
		}
	}
	for k := range 4 {
		k := key(k)
		b, nv := base[k], int64(len(todayVisitors[k]))
		if st := mustStats(t, first, k); st.Count != b.Count+200+nv || st.Visitors != b.Visitors+nv || st.Today.Visitors != nv {
			t.Errorf("%s after day1's visitors came back: %+v, want %d hits and still %d visitors (%d on day1)", k, st, b.Count+200+nv, b.Visitors+nv, nv)
		}
	}
}
