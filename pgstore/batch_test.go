package pgstore

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/resumecounter/counter"
	"github.com/resumecounter/counter/internal/testenv"
)

// day1 is the date the batch tests count on, after the test stores'
// clock (2026-12-01 noon), so that no marker of theirs has expired.
const day1 = counter.Date("2026-12-02")

var at1 = day1.Time().Add(time.Hour)

type answer struct {
	v   counter.Visit
	st  counter.Stats
	ok  bool
	err error
}

// sendAll starts callers goroutines in wg that record the visits of order
// in s, each taking the next one left, and send every answer to answers.
func sendAll(ctx context.Context, wg *sync.WaitGroup, s *Store, order []counter.Visit, callers int, answers chan<- answer) {
	var next atomic.Int64
	for range callers {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < int64(len(order)); i = next.Add(1) - 1 {
				st, ok, err := s.RecordVisit(ctx, order[i])
				answers <- answer{order[i], st, ok, err}
			}
		})
	}
}

func visitorN(i int) counter.VisitorID { return counter.VisitorID{byte(i), byte(i >> 8), 1} }

func mustStats(t *testing.T, s *Store, key string) counter.Stats {
	t.Helper()
	st, err := s.Stats(context.Background(), key, day1)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// marks returns how many markers the store holds.
func marks(t *testing.T, s *Store) int {
	t.Helper()
	var n int
	if err := s.pool.QueryRow(context.Background(), "SELECT count(*) FROM "+s.opts.Prefix+"marks").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// checkExact checks answers, all of one key, against the order the store
// counted in: the counted visits' counts are exactly 1..n, each visit id
// counts once, and a visit reports one more visitor exactly when its
// visitor had not been counted before it. It returns n.
func checkExact(t *testing.T, answers []answer) int {
	t.Helper()
	return checkExactFrom(t, counter.Stats{}, answers)
}

// checkExactFrom is checkExact for answers of one day, all of one key,
// whose numbers before that day's first visit were base's Count and
// Visitors.
func checkExactFrom(t *testing.T, base counter.Stats, answers []answer) int {
	t.Helper()
	var counted []answer
	for _, a := range answers {
		if a.err != nil {
			t.Fatalf("visit %+v: %v", a.v, a.err)
		}
		if a.ok {
			counted = append(counted, a)
		}
	}
	slices.SortFunc(counted, func(a, b answer) int { return int(a.st.Count - b.st.Count) })
	ids := map[string]bool{}
	seen := map[counter.VisitorID]bool{}
	var visitors int64
	for i, a := range counted {
		if a.st.Count != base.Count+int64(i+1) || a.st.Today.Count != int64(i+1) {
			t.Fatalf("%s: counted visit %d answered count %d (today %d), want %d (today %d)", a.v.Key, i+1, a.st.Count, a.st.Today.Count, base.Count+int64(i+1), i+1)
		}
		if ids[a.v.ID] {
			t.Fatalf("%s: visit id %q counted twice", a.v.Key, a.v.ID)
		}
		ids[a.v.ID] = true
		if !seen[a.v.Visitor] {
			seen[a.v.Visitor] = true
			visitors++
		}
		if a.st.Visitors != base.Visitors+visitors || a.st.Today.Visitors != visitors {
			t.Fatalf("%s: counted visit %d answered %d visitors (today %d), want %d (today %d)", a.v.Key, i+1, a.st.Visitors, a.st.Today.Visitors, base.Visitors+visitors, visitors)
		}
	}
	return len(counted)
}

// TestRecordVisitBatchedExact sends many concurrent visits with repeated
// visitors and repeated visit ids, so that batches hold both, and checks
// each caller's answer against the order the store counted in.
func TestRecordVisitBatchedExact(t *testing.T) {
	s := newStore(t, testPool(t))
	var mu sync.Mutex
	biggest := 0
	s.onBatch = func(n int) {
		mu.Lock()
		biggest = max(biggest, n)
		mu.Unlock()
	}
	const workers, each = 64, 20
	answers := make(chan answer, workers*each)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				j := w*each + i
				v := counter.Visit{Key: "k", Date: day1, Time: at1, Visitor: visitorN(1 + j%37), ID: fmt.Sprintf("id-%d", j%500)}
				st, ok, err := s.RecordVisit(context.Background(), v)
				answers <- answer{v, st, ok, err}
			}
		})
	}
	wg.Wait()
	close(answers)
	var all []answer
	for a := range answers {
		all = append(all, a)
	}
	if n := checkExact(t, all); n != 500 {
		t.Fatalf("%d visits counted, want one per visit id (500)", n)
	}
	if st := mustStats(t, s, "k"); st.Count != 500 || st.Visitors != 37 {
		t.Fatalf("Stats = %+v, want 500 hits, 37 visitors", st)
	}
	if n := marks(t, s); n != 537 {
		t.Fatalf("%d markers, want 500 visit ids and 37 visitors", n)
	}
	if biggest < 2 {
		t.Fatalf("the largest transaction held %d visits: %d concurrent callers never shared one", biggest, workers)
	}
	t.Logf("largest batch: %d visits", biggest)
}

// holdFirstBatch makes the store's first batch wait before it is sent
// until want more visits are queued behind it, so that they form one
// batch; release, when not nil, holds it until closed instead.
func holdFirstBatch(t *testing.T, s *Store, want int, release <-chan struct{}) {
	t.Helper()
	var once sync.Once
	s.beforeSend = func(int) {
		once.Do(func() {
			if release != nil {
				<-release
				return
			}
			for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
				s.mu.Lock()
				queued := len(s.pending)
				s.mu.Unlock()
				if queued >= want {
					return
				}
			}
			t.Errorf("only some of %d visits were queued after 10s", want)
		})
	}
}

// startFirst sends v and returns once its batch is being sent, so that
// visits sent next queue behind it.
func startFirst(t *testing.T, s *Store, v counter.Visit) <-chan answer {
	t.Helper()
	out := make(chan answer, 1)
	go func() {
		st, ok, err := s.RecordVisit(context.Background(), v)
		out <- answer{v, st, ok, err}
	}()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Microsecond) {
		s.mu.Lock()
		running := s.running && len(s.pending) == 0
		s.mu.Unlock()
		if running {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatal("the first visit's batch did not start within 10s")
		}
	}
}

// visitAll sends vs concurrently and returns the answers in vs's order.
func visitAll(ctx context.Context, s *Store, vs []counter.Visit) []answer {
	out := make([]answer, len(vs))
	var wg sync.WaitGroup
	for i, v := range vs {
		wg.Go(func() {
			st, ok, err := s.RecordVisit(ctx, v)
			out[i] = answer{v, st, ok, err}
		})
	}
	wg.Wait()
	return out
}

// A visit that fails inside a batch (its count would overflow) fails
// alone: the batch's transaction aborts, writing nothing, and the others
// are sent again without it, so each is counted once (were the statements
// before the failing one committed, their second sending would find their
// visit ids and count nothing) and no marker of the failing ones remains.
func TestBatchVisitFailsAlone(t *testing.T) {
	s := newStore(t, testPool(t))
	ctx := context.Background()
	if _, err := s.SetCount(ctx, "big", math.MaxInt64); err != nil {
		t.Fatal(err)
	}
	var sizes []int
	s.onBatch = func(n int) { sizes = append(sizes, n) }
	holdFirstBatch(t, s, 40, nil)
	first := startFirst(t, s, counter.Visit{Key: "good", Date: day1, Time: at1, Visitor: visitorN(100), ID: "first"})
	var vs []counter.Visit
	for i := range 40 {
		key := "good"
		if i%2 == 1 {
			key = "big"
		}
		vs = append(vs, counter.Visit{Key: key, Date: day1, Time: at1, Visitor: visitorN(i), ID: fmt.Sprint("id-", i)})
	}
	for _, a := range append(visitAll(ctx, s, vs), <-first) {
		switch {
		case a.v.Key == "good" && (a.err != nil || !a.ok):
			t.Errorf("good visit %s: %v, %v", a.v.ID, a.ok, a.err)
		case a.v.Key == "big" && (!errors.Is(a.err, counter.ErrOverflow) || a.ok):
			t.Errorf("overflowing visit %s: counted %v, error %v", a.v.ID, a.ok, a.err)
		}
	}
	if st := mustStats(t, s, "good"); st.Count != 21 || st.Visitors != 21 {
		t.Errorf("good: %+v, want 21 hits and visitors", st)
	}
	if st := mustStats(t, s, "big"); st.Count != math.MaxInt64 || st.Visitors != 0 || st.Today.Count != 0 {
		t.Errorf("big: %+v, want its count untouched and nothing else", st)
	}
	if n := marks(t, s); n != 42 {
		t.Errorf("%d markers, want the 21 good visits' 42", n)
	}
	if !slices.Equal(sizes, []int{1, 20}) {
		t.Errorf("committed batch sizes %v, want [1 20]: the first visit, then the 20 good visits of the 40 queued behind it", sizes)
	}
}

// failCommits adds to s's tables a deferred constraint trigger that fails
// the commit of any transaction that wrote the count of key "doomed": its
// statements succeed and the error comes at COMMIT.
func failCommits(t *testing.T, s *Store) {
	t.Helper()
	p := s.opts.Prefix
	_, err := s.pool.Exec(context.Background(), `CREATE FUNCTION `+p+`doom() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.key = 'doomed' THEN
		RAISE EXCEPTION 'injected commit failure';
	END IF;
	RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER `+p+`doom AFTER INSERT OR UPDATE ON `+p+`counts
DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION `+p+`doom()`)
	if err != nil {
		t.Fatal(err)
	}
}

// A batch whose commit fails fails every visit in it and counts none; the
// store goes on counting, and the same visits sent again count as never
// seen.
func TestBatchCommitFails(t *testing.T) {
	s := newStore(t, testPool(t))
	ctx := context.Background()
	failCommits(t, s)
	holdFirstBatch(t, s, 30, nil)
	first := startFirst(t, s, counter.Visit{Key: "k", Date: day1, Time: at1, Visitor: visitorN(100)})
	var vs []counter.Visit
	for i := range 29 {
		vs = append(vs, counter.Visit{Key: "k", Date: day1, Time: at1, Visitor: visitorN(i), ID: fmt.Sprint("id-", i)})
	}
	doomed := counter.Visit{Key: "doomed", Date: day1, Time: at1, Visitor: visitorN(200), ID: "doomed"}
	for _, a := range visitAll(ctx, s, append(vs, doomed)) {
		if a.ok || a.err == nil || !strings.Contains(a.err.Error(), "injected commit failure") || strings.Contains(a.err.Error(), "outcome unknown") {
			t.Errorf("visit %s in the failed batch: counted %v, error %v", a.v.ID, a.ok, a.err)
		}
	}
	if a := <-first; a.err != nil || !a.ok {
		t.Fatalf("first visit: %v, %v", a.ok, a.err)
	}
	if st := mustStats(t, s, "k"); st.Count != 1 || st.Visitors != 1 {
		t.Fatalf("after the failed batch: %+v, want only the first visit", st)
	}
	if n := marks(t, s); n != 1 {
		t.Fatalf("%d markers after the failed batch, want the first visit's 1", n)
	}
	for _, a := range visitAll(ctx, s, vs) { // counted now, as never seen
		if a.err != nil || !a.ok {
			t.Fatalf("visit %s sent again: %v, %v", a.v.ID, a.ok, a.err)
		}
	}
	if st := mustStats(t, s, "k"); st.Count != 30 || st.Visitors != 30 {
		t.Fatalf("after sending them again: %+v, want 30 hits and visitors", st)
	}
}

// A caller whose context ends while its visit waits for a batch gets the
// context's error, and the visit is never written.
func TestBatchCallerLeavesBeforeItsTurn(t *testing.T) {
	s := newStore(t, testPool(t))
	release := make(chan struct{})
	holdFirstBatch(t, s, 0, release)
	first := startFirst(t, s, counter.Visit{Key: "k", Date: day1, Time: at1})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, ok, err := s.RecordVisit(ctx, counter.Visit{Key: "k", Date: day1, Time: at1, Visitor: visitorN(1), ID: "left"})
	if !errors.Is(err, context.DeadlineExceeded) || ok || strings.Contains(err.Error(), "outcome unknown") {
		t.Fatalf("visit whose context ended in the queue: counted %v, error %v", ok, err)
	}
	close(release)
	if a := <-first; a.err != nil {
		t.Fatal(a.err)
	}
	if err := s.Close(); err != nil { // waits for every queued visit
		t.Fatal(err)
	}
	if st := mustStats(t, s, "k"); st.Count != 1 || st.Visitors != 0 {
		t.Fatalf("%+v, want the first visit's count only: the abandoned visit was written", st)
	}
	if n := marks(t, s); n != 0 {
		t.Fatalf("%d markers: the abandoned visit's were written", n)
	}
	if _, _, err := s.RecordVisit(context.Background(), counter.Visit{Key: "k", Date: day1, Time: at1}); !errors.Is(err, errClosed) {
		t.Fatalf("visit after Close: %v, want errClosed", err)
	}
}

// TestBatchDeadlockRetried makes a batch the victim of a real deadlock
// and checks that it is sent again and counted once, its caller seeing no
// error. The deadlock: session T holds the key's count row and then waits
// for the key's advisory lock, which the batch holds while it waits for
// that row. Session U holds the batch back (an uncommitted marker of the
// same visit id) until T waits, so that the batch is the last to wait and
// its own deadlock check (after deadlock_timeout) finds the cycle; T's
// deadlock_timeout is a minute, so T never does.
func TestBatchDeadlockRetried(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg, err := pgxpool.ParseConfig(testenv.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.RuntimeParams["deadlock_timeout"] = "100ms"
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	s := newStoreWith(t, pool, Options{SweepInterval: -1})
	p := s.opts.Prefix
	var retries []error
	s.onRetry = func(err error) { retries = append(retries, err) }
	if _, ok, err := s.RecordVisit(ctx, counter.Visit{Key: "k", Date: day1, Time: at1}); err != nil || !ok {
		t.Fatal(ok, err)
	}
	other := testPool(t)
	tx, err := other.Begin(ctx) // T
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // ends T if the test fails early
	if _, err := tx.Exec(ctx, `SET LOCAL deadlock_timeout = '60s'`); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `SELECT count FROM `+p+`counts WHERE key = 'k' FOR UPDATE`); err != nil {
		t.Fatal(err)
	}
	hold, err := other.Begin(ctx) // U
	if err != nil {
		t.Fatal(err)
	}
	defer hold.Rollback(ctx) //nolint:errcheck
	if _, err := hold.Exec(ctx, `INSERT INTO `+p+`marks VALUES ('k', 'i:dl', now() + interval '1 day')`); err != nil {
		t.Fatal(err)
	}
	waiting := func(n int, like string) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
			var got int
			if err := other.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE $1`, like).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got >= n {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("no session waiting on a lock in %q after 10s", like)
			}
		}
	}
	visit := make(chan answer, 1)
	go func() {
		v := counter.Visit{Key: "k", Date: day1, Time: at1, Visitor: visitorN(1), ID: "dl"}
		st, ok, err := s.RecordVisit(ctx, v)
		visit <- answer{v, st, ok, err}
	}()
	waiting(1, "%"+p+"marks%") // the batch holds the advisory lock and waits for U
	locked := make(chan error, 1)
	go func() {
		_, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1) /* T */`, lockID(p, "k"))
		locked <- err
	}()
	waiting(1, "%/* T */%")
	if err := hold.Rollback(ctx); err != nil { // the batch goes on, to the row T holds
		t.Fatal(err)
	}
	if err := <-locked; err != nil {
		t.Fatalf("T's advisory lock: %v (T, not the batch, was the deadlock's victim)", err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	a := <-visit
	if a.err != nil || !a.ok || a.st.Count != 2 || a.st.Visitors != 1 {
		t.Fatalf("the deadlocked visit: %+v, %v, %v; want counted second, 1 visitor", a.st, a.ok, a.err)
	}
	if len(retries) != 1 || !strings.Contains(retries[0].Error(), "40P01") {
		t.Fatalf("retries %v, want one after a deadlock (40P01)", retries)
	}
	if st := mustStats(t, s, "k"); st.Count != 2 || st.Visitors != 1 {
		t.Fatalf("Stats = %+v, want 2 hits, 1 visitor", st)
	}
}

// TestBatchStoresNoDeadlock runs three stores on one database, as three
// processes would, each with many callers recording the same visits
// (overlapping keys, visitors and visit ids) in a different order. Every
// visit id counts once, every answer is exact, no caller sees an error,
// and no batch had to be sent again after a deadlock: the keys' advisory
// locks order the stores' batches.
func TestBatchStoresNoDeadlock(t *testing.T) {
	ctx := context.Background()
	first := newStoreWith(t, testPool(t), Options{SweepInterval: -1})
	stores := []*Store{first}
	for range 2 {
		s, err := New(testPool(t), Options{Prefix: first.opts.Prefix, SweepInterval: -1, Now: first.opts.Now})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		stores = append(stores, s)
	}
	var retries atomic.Int64
	var mu sync.Mutex
	biggest := 0
	for _, s := range stores {
		s.onRetry = func(error) { retries.Add(1) }
		s.onBatch = func(n int) {
			mu.Lock()
			biggest = max(biggest, n)
			mu.Unlock()
		}
	}
	const keys, visits = 4, 800
	var all []counter.Visit
	for i := range visits {
		all = append(all, counter.Visit{Key: fmt.Sprint("k", i%keys), Date: day1, Time: at1, Visitor: visitorN(i % 53), ID: fmt.Sprint("id-", i)})
	}
	const callers = 24
	answers := make(chan answer, len(stores)*visits)
	var wg sync.WaitGroup
	for si, s := range stores {
		order := slices.Clone(all)
		switch si {
		case 1:
			slices.Reverse(order)
		case 2:
			rand.New(rand.NewPCG(1, 2)).Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		}
		sendAll(ctx, &wg, s, order, callers, answers)
	}
	wg.Wait()
	close(answers)
	byKey := map[string][]answer{}
	for a := range answers {
		byKey[a.v.Key] = append(byKey[a.v.Key], a)
	}
	for k := range keys {
		key := fmt.Sprint("k", k)
		if n := checkExact(t, byKey[key]); n != visits/keys {
			t.Errorf("%s: %d visits counted, want %d", key, n, visits/keys)
		}
		if st := mustStats(t, first, key); st.Count != visits/keys || st.Visitors != 53 {
			t.Errorf("%s: %+v, want %d hits and 53 visitors", key, st, visits/keys)
		}
	}
	if n := retries.Load(); n != 0 {
		t.Errorf("%d batches were aborted by deadlocks and sent again", n)
	}
	if biggest < 2 {
		t.Errorf("the largest batch held %d visits", biggest)
	}
	t.Logf("largest batch: %d visits", biggest)
}

// A caller whose context ends after its visit was sent gets an error that
// says the outcome is unknown (the batch may still commit), and once every
// caller of a batch has left, the store cancels the batch rather than wait
// for it: a batch stuck behind another session's lock does not hold the
// visits queued after it.
func TestBatchCallerLeavesAfterSending(t *testing.T) {
	s := newStore(t, testPool(t))
	p := s.opts.Prefix
	bg := context.Background()
	hold, err := testPool(t).Begin(bg) // an uncommitted marker of the same visit id: the batch waits for it
	if err != nil {
		t.Fatal(err)
	}
	defer hold.Rollback(bg) //nolint:errcheck
	if _, err := hold.Exec(bg, `INSERT INTO `+p+`marks VALUES ('k', 'i:stuck', now() + interval '1 day')`); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(bg, 300*time.Millisecond)
	defer cancel()
	_, ok, err := s.RecordVisit(ctx, counter.Visit{Key: "k", Date: day1, Time: at1, ID: "stuck"})
	if ok || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "outcome unknown") {
		t.Fatalf("visit whose context ended after sending: counted %v, error %v; want an unknown outcome", ok, err)
	}
	ctx, cancel = context.WithTimeout(bg, 5*time.Second)
	defer cancel()
	if _, ok, err := s.RecordVisit(ctx, counter.Visit{Key: "other", Date: day1, Time: at1, ID: "next"}); err != nil || !ok {
		t.Fatalf("next visit while the abandoned batch's lock wait goes on: %v, %v; want counted (the batch cancelled)", ok, err)
	}
}

// Visits repeated within one batch are answered as if sent one by one:
// of ten visits with two visit ids, all of one visitor, in one batch, the
// first of each id counts (the first of them as a new visitor) and the
// rest are refused.
func TestBatchRepeatsWithinOneBatch(t *testing.T) {
	s := newStore(t, testPool(t))
	var sizes []int
	s.onBatch = func(n int) { sizes = append(sizes, n) }
	holdFirstBatch(t, s, 10, nil)
	first := startFirst(t, s, counter.Visit{Key: "k", Date: day1, Time: at1, Visitor: visitorN(1)})
	var vs []counter.Visit
	for i := range 10 {
		vs = append(vs, counter.Visit{Key: "k", Date: day1, Time: at1, Visitor: visitorN(2), ID: fmt.Sprint("id-", i%2)})
	}
	answers := append(visitAll(context.Background(), s, vs), <-first)
	if n := checkExact(t, answers); n != 3 {
		t.Fatalf("%d visits counted, want the first and one per visit id", n)
	}
	if !slices.Equal(sizes, []int{1, 10}) {
		t.Fatalf("committed batch sizes %v, want [1 10]", sizes)
	}
	if st := mustStats(t, s, "k"); st.Count != 3 || st.Visitors != 2 {
		t.Fatalf("Stats = %+v, want 3 hits, 2 visitors", st)
	}
}
