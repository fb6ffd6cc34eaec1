package sqlitestore

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/resumecounter/counter"
)

type answer struct {
	v   counter.Visit
	st  counter.Stats
	ok  bool
	err error
}

// TestRecordVisitBatchedExact sends many concurrent visits with repeated
// visitors and repeated visit ids, so that batches hold both, and checks
// each caller's answer against the order the store counted in: the counted
// visits' counts are exactly 1..n, each visit id counts once, and a visit
// reports one more visitor exactly when its visitor had not been counted
// before it.
func TestRecordVisitBatchedExact(t *testing.T) {
	s := tempStore(t, Options{})
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
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				j := w*each + i
				v := counter.Visit{Key: "k", Date: day1, Time: at(day1, 1),
					Visitor: visitor(1 + j%37), ID: fmt.Sprintf("id-%d", j%500)}
				st, ok, err := s.RecordVisit(context.Background(), v)
				answers <- answer{v, st, ok, err}
			}
		}()
	}
	wg.Wait()
	close(answers)
	var counted []answer
	for a := range answers {
		if a.err != nil {
			t.Fatal(a.err)
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
		if a.st.Count != int64(i+1) || a.st.Today.Count != a.st.Count {
			t.Fatalf("counted visit %d answered count %d (today %d)", i+1, a.st.Count, a.st.Today.Count)
		}
		if ids[a.v.ID] {
			t.Fatalf("visit id %q counted twice", a.v.ID)
		}
		ids[a.v.ID] = true
		if !seen[a.v.Visitor] {
			seen[a.v.Visitor] = true
			visitors++
		}
		if a.st.Visitors != visitors || a.st.Today.Visitors != visitors {
			t.Fatalf("counted visit %d answered %d visitors (today %d), want %d", i+1, a.st.Visitors, a.st.Today.Visitors, visitors)
		}
	}
	if len(counted) != 500 {
		t.Fatalf("%d visits counted, want one per visit id (500)", len(counted))
	}
	if st := mustStats(t, s, "k", day1); st.Count != 500 || st.Visitors != 37 {
		t.Fatalf("Stats = %+v, want 500 hits, 37 visitors", st)
	}
	checkTallies(t, s, 37, 500)
	if biggest < 2 {
		t.Fatalf("the largest transaction held %d visits: %d concurrent callers never shared one", biggest, workers)
	}
	t.Logf("largest batch: %d visits", biggest)
}

// holdFirstBatch makes the store's first batch wait before its commit until
// want more visits are queued behind it, so that they form one batch.
func holdFirstBatch(t *testing.T, s *Store, want int, then func(visits int) error) {
	t.Helper()
	var once sync.Once
	s.beforeCommit = func(n int) error {
		held := false
		once.Do(func() {
			held = true
			deadline := time.Now().Add(10 * time.Second)
			for time.Now().Before(deadline) {
				s.mu.Lock()
				queued := len(s.pending)
				s.mu.Unlock()
				if queued >= want {
					return
				}
				time.Sleep(time.Millisecond)
			}
			t.Errorf("only some of %d visits were queued after 10s", want)
		})
		if held || then == nil {
			return nil
		}
		return then(n)
	}
}

// startFirst sends v and returns once its batch holds the writer, so that
// visits sent next queue behind it.
func startFirst(t *testing.T, s *Store, v counter.Visit) <-chan answer {
	t.Helper()
	out := make(chan answer, 1)
	go func() {
		st, ok, err := s.RecordVisit(context.Background(), v)
		out <- answer{v, st, ok, err}
	}()
	for {
		s.mu.Lock()
		running := s.running && len(s.pending) == 0
		s.mu.Unlock()
		if running {
			return out
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// visitAll sends vs concurrently and returns the answers in vs's order.
func visitAll(ctx context.Context, s *Store, vs []counter.Visit) []answer {
	out := make([]answer, len(vs))
	var wg sync.WaitGroup
	for i, v := range vs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, ok, err := s.RecordVisit(ctx, v)
			out[i] = answer{v, st, ok, err}
		}()
	}
	wg.Wait()
	return out
}

// A visit that fails inside a batch fails alone: its transaction is rolled
// back and the others are recorded again without it, so they are counted,
// it is not, and no marker of it remains.
func TestBatchVisitFailsAlone(t *testing.T) {
	s := tempStore(t, Options{})
	s.afterWrite = func(key string) error {
		if key == "bad" {
			return errors.New("injected failure")
		}
		return nil
	}
	var sizes []int
	s.onBatch = func(n int) { sizes = append(sizes, n) }
	holdFirstBatch(t, s, 40, nil)
	first := startFirst(t, s, counter.Visit{Key: "good", Date: day1, Time: at(day1, 1), Visitor: visitor(100), ID: "first"})
	var vs []counter.Visit
	for i := range 40 {
		key := "good"
		if i%2 == 1 {
			key = "bad"
		}
		vs = append(vs, counter.Visit{Key: key, Date: day1, Time: at(day1, 1), Visitor: visitor(i), ID: fmt.Sprint("id-", i)})
	}
	for _, a := range append(visitAll(context.Background(), s, vs), <-first) {
		switch {
		case a.v.Key == "good" && (a.err != nil || !a.ok):
			t.Errorf("good visit %s: %v, %v", a.v.ID, a.ok, a.err)
		case a.v.Key == "bad" && (a.err == nil || !strings.Contains(a.err.Error(), "injected failure") || a.ok):
			t.Errorf("failing visit %s: counted %v, error %v", a.v.ID, a.ok, a.err)
		}
	}
	if st := mustStats(t, s, "good", day1); st.Count != 21 || st.Visitors != 21 {
		t.Errorf("good: %+v, want 21 hits and visitors", st)
	}
	if st := mustStats(t, s, "bad", day1); st.Count != 0 || st.Visitors != 0 || st.Today.Count != 0 {
		t.Errorf("bad: %+v, want nothing", st)
	}
	checkTallies(t, s, 21, 21)
	if !slices.Equal(sizes, []int{1, 20}) {
		t.Errorf("committed batch sizes %v, want [1 20]: the first visit, then the 20 good visits of the 40 queued behind it", sizes)
	}
}

// A batch whose transaction fails fails every visit in it and counts none;
// the store goes on counting.
func TestBatchCommitFails(t *testing.T) {
	s := tempStore(t, Options{})
	holdFirstBatch(t, s, 30, func(n int) error {
		if n == 30 {
			return errors.New("injected commit failure")
		}
		return nil
	})
	first := startFirst(t, s, counter.Visit{Key: "k", Date: day1, Time: at(day1, 1), Visitor: visitor(100)})
	var vs []counter.Visit
	for i := range 30 {
		vs = append(vs, counter.Visit{Key: "k", Date: day1, Time: at(day1, 1), Visitor: visitor(i), ID: fmt.Sprint("id-", i)})
	}
	failed := 0
	for _, a := range visitAll(context.Background(), s, vs) {
		if a.err != nil && strings.Contains(a.err.Error(), "injected commit failure") && !a.ok {
			failed++
		} else {
			t.Errorf("visit in the failed batch: counted %v, error %v", a.ok, a.err)
		}
	}
	if a := <-first; a.err != nil || !a.ok {
		t.Errorf("first visit: %v, %v", a.ok, a.err)
	}
	if failed != 30 {
		t.Fatalf("%d visits failed, want the batch's 30", failed)
	}
	if st := mustStats(t, s, "k", day1); st.Count != 1 || st.Visitors != 1 {
		t.Fatalf("after the failed batch: %+v, want only the first visit", st)
	}
	checkTallies(t, s, 1, 0)
	s.beforeCommit = nil
	for _, a := range visitAll(context.Background(), s, vs) { // counted now, as never seen
		if a.err != nil || !a.ok {
			t.Fatalf("retry of %s: %v, %v", a.v.ID, a.ok, a.err)
		}
	}
	if st := mustStats(t, s, "k", day1); st.Count != 31 || st.Visitors != 31 {
		t.Fatalf("after the retries: %+v, want 31 hits and visitors", st)
	}
}

// A caller whose context ends while its visit waits for a batch gets the
// context's error, and the visit is never written.
func TestBatchCallerLeavesBeforeItsTurn(t *testing.T) {
	s := tempStore(t, Options{})
	release := make(chan struct{})
	var once sync.Once
	s.beforeCommit = func(int) error {
		once.Do(func() { <-release })
		return nil
	}
	first := startFirst(t, s, counter.Visit{Key: "k", Date: day1, Time: at(day1, 1)})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, ok, err := s.RecordVisit(ctx, counter.Visit{Key: "k", Date: day1, Time: at(day1, 1), ID: "left"})
	if !errors.Is(err, context.DeadlineExceeded) || ok {
		t.Fatalf("visit whose context ended in the queue: counted %v, error %v", ok, err)
	}
	close(release)
	if a := <-first; a.err != nil {
		t.Fatal(a.err)
	}
	if st := mustStats(t, s, "k", day1); st.Count != 1 {
		t.Fatalf("count %d, want 1: the abandoned visit was written", st.Count)
	}
	checkTallies(t, s, 0, 0)
}

// A batch that reaches a cap midway refuses exactly the visits past it
// (whatever order its visits come in, the counts below are the same): the
// batch keeps the tallies in Go, and a visit counted before a refusal in
// the same transaction stays counted.
func TestBatchReachesCaps(t *testing.T) {
	for _, c := range []struct {
		name  string
		opts  Options
		visit func(i int) counter.Visit
		want  error
		// after the first visit (counted alone) and the 40 of the batch:
		keys, marks, ids, counted int
	}{
		{"visitor markers", Options{MaxMarkers: 12},
			func(i int) counter.Visit {
				return counter.Visit{Key: "k", Date: day1, Time: at(day1, 1), Visitor: visitor(i)}
			}, counter.ErrMarkersFull, 1, 12, 0, 12},
		{"visit id markers", Options{MaxMarkers: 12},
			func(i int) counter.Visit {
				return counter.Visit{Key: "k", Date: day1, Time: at(day1, 1), ID: fmt.Sprint("id-", i)}
			},
			counter.ErrMarkersFull, 1, 0, 12, 12},
		{"returning visitors past the cap", Options{MaxMarkers: 12},
			func(i int) counter.Visit {
				return counter.Visit{Key: "k", Date: day1, Time: at(day1, 1), Visitor: visitor(i % 20)}
			}, counter.ErrMarkersFull, 1, 12, 0, 25}, // the 11 visitors first seen in the batch, twice each, and visitor 0 three times
		{"keys", Options{MaxKeys: 5},
			func(i int) counter.Visit {
				return counter.Visit{Key: fmt.Sprint("k", i%8), Date: day1, Time: at(day1, 1)}
			},
			ErrTooManyKeys, 5, 0, 0, 26},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := tempStore(t, c.opts)
			var sizes []int
			s.onBatch = func(n int) { sizes = append(sizes, n) }
			holdFirstBatch(t, s, 40, nil)
			first := startFirst(t, s, c.visit(0))
			var vs []counter.Visit
			for i := range 40 {
				vs = append(vs, c.visit(1+i))
			}
			answers := visitAll(context.Background(), s, vs)
			answers = append(answers, <-first)
			counted := 0
			for _, a := range answers {
				switch {
				case a.ok && a.err == nil:
					counted++
				case a.err != nil && !a.ok && errors.Is(a.err, c.want) && a.st == (counter.Stats{}):
				default:
					t.Errorf("visit %+v: %+v, %v, %v; want counted or refused with %v", a.v, a.st, a.ok, a.err, c.want)
				}
			}
			if counted != c.counted {
				t.Errorf("%d visits counted, want %d", counted, c.counted)
			}
			if !slices.Equal(sizes, []int{1, 40}) {
				t.Errorf("committed batch sizes %v, want [1 40]", sizes)
			}
			checkTallies(t, s, c.marks, c.ids)
			if n, err := s.NumKeys(context.Background()); err != nil || n != c.keys {
				t.Errorf("NumKeys = %d, %v; want %d", n, err, c.keys)
			}
			total := int64(0)
			keys, err := s.Keys(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range keys {
				total += mustStats(t, s, k, day1).Count
			}
			if total != int64(counted) {
				t.Errorf("stored counts add up to %d, want the %d visits counted", total, counted)
			}
		})
	}
}

// Two stores on one file (as two processes would be) count new and
// existing keys and record visits at the same time: every acknowledged
// count is there exactly once, the key cap holds across both, and the
// marker tallies match the rows, though each store's batches keep them
// in Go.
func TestSharedFileExact(t *testing.T) {
	path := filepath.Join(t.TempDir(), "counter.sqlite")
	opts := Options{MaxKeys: 12, MaxMarkers: 150}
	stores := []*Store{open(t, path, opts), open(t, path, opts)}
	var mu sync.Mutex
	acked := map[string]int64{}
	visits, refusedVisits := 0, 0
	var wg sync.WaitGroup
	for w := range 16 {
		s := stores[w%2]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 40 {
				key := fmt.Sprint("k", (w*7+i)%16) // 16 keys for a cap of 12
				if i%2 == 0 {
					_, err := s.Increment(context.Background(), key)
					mu.Lock()
					if err == nil {
						acked[key]++
					}
					mu.Unlock()
					if err != nil && !errors.Is(err, ErrTooManyKeys) {
						t.Error(err)
					}
					continue
				}
				v := counter.Visit{Key: key, Date: day1, Time: at(day1, 1), Visitor: visitor(w*40 + i), ID: fmt.Sprint(w, "-", i)}
				_, ok, err := s.RecordVisit(context.Background(), v)
				mu.Lock()
				switch {
				case ok:
					acked[key]++
					visits++
				case errors.Is(err, ErrTooManyKeys) || errors.Is(err, counter.ErrMarkersFull):
					refusedVisits++
				default:
					t.Errorf("visit %+v: %v, %v", v, ok, err)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	s := stores[0]
	keys, err := s.Keys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 12 || len(acked) != 12 {
		t.Errorf("%d keys stored, %d acknowledged; want the cap, 12", len(keys), len(acked))
	}
	for _, k := range keys {
		if n, err := s.Count(context.Background(), k); err != nil || n != acked[k] {
			t.Errorf("count of %q = %d, %v; want the %d acknowledged", k, n, err, acked[k])
		}
	}
	if visits != 150 {
		t.Errorf("%d visits counted (%d refused), want 150: one per visitor marker up to the cap", visits, refusedVisits)
	}
	checkTallies(t, s, 150, 150)
}
