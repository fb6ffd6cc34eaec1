// Package countertest holds the conformance suite every counter store passes:
// exact counts under concurrency, one creation on first use, independent
// keys, invalid keys, canceled contexts and reading without counting.
//
// A store package runs it from a test:
//
//	func TestConformance(t *testing.T) {
//		countertest.Run(t, func(t *testing.T) countertest.Store { return mystore.New() })
//	}
package countertest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/resumecounter/counter"
)

// Store is what the suite tests: a store that counts and reads. If it also
// implements [counter.Adder], Add is tested too.
type Store interface {
	counter.Incrementer
	counter.Reader
}

// Options scales the suite. The zero value runs the full suite.
type Options struct {
	// Workers and PerWorker set the concurrency test's load: Workers
	// goroutines each make PerWorker increments of one key. Defaults: 32, 50.
	Workers, PerWorker int
	// FirstUseRounds and FirstUseWorkers set the first-use race: each
	// round releases FirstUseWorkers goroutines at once, each incrementing
	// one new key once. Defaults: 20 rounds of 64 (a store over the
	// network pays for every round; an in-process store can make the race
	// certain with a hook, as Memory's own test does).
	FirstUseRounds, FirstUseWorkers int
}

// Run runs the suite. newStore returns a store in which no key has been
// counted yet; it is called once per subtest.
func Run(t *testing.T, newStore func(t *testing.T) Store) {
	RunOptions(t, Options{}, newStore)
}

// RunOptions is [Run] with options.
func RunOptions(t *testing.T, opts Options, newStore func(t *testing.T) Store) {
	if opts.Workers <= 0 {
		opts.Workers = 32
	}
	if opts.PerWorker <= 0 {
		opts.PerWorker = 50
	}
	if opts.FirstUseRounds <= 0 {
		opts.FirstUseRounds = 20
	}
	if opts.FirstUseWorkers <= 0 {
		opts.FirstUseWorkers = 64
	}
	ctx := context.Background()

	t.Run("FirstIncrementCreates", func(t *testing.T) {
		s := newStore(t)
		for want := int64(1); want <= 3; want++ {
			if got := mustIncrement(t, s, "visitors"); got != want {
				t.Fatalf("Increment #%d = %d, want %d", want, got, want)
			}
		}
		if got := mustCount(t, s, "visitors"); got != 3 {
			t.Fatalf("Count after 3 increments = %d, want 3", got)
		}
	})

	t.Run("NeverCountedReadsZero", func(t *testing.T) {
		s := newStore(t)
		for range 2 {
			if got := mustCount(t, s, "never-counted"); got != 0 {
				t.Fatalf("Count of a new key = %d, want 0", got)
			}
		}
		if got := mustIncrement(t, s, "never-counted"); got != 1 {
			t.Fatalf("Increment after reads = %d, want 1: reading must not count", got)
		}
	})

	t.Run("IndependentKeys", func(t *testing.T) {
		s := newStore(t)
		keys := []string{"a", "b", "page:home", "page:about", "A", "blog.post-1_x"}
		for i, k := range keys {
			for range i + 1 {
				mustIncrement(t, s, k)
			}
		}
		for i, k := range keys {
			if got := mustCount(t, s, k); got != int64(i+1) {
				t.Errorf("Count(%q) = %d, want %d", k, got, i+1)
			}
		}
	})

	t.Run("ConcurrentExact", func(t *testing.T) {
		s := newStore(t)
		mustIncrement(t, s, "warm") // the key under test is created by the race below
		got := hammer(t, s, "hot", opts.Workers, opts.PerWorker)
		checkExact(t, got, opts.Workers*opts.PerWorker)
		if c := mustCount(t, s, "hot"); c != int64(opts.Workers*opts.PerWorker) {
			t.Fatalf("Count = %d, want %d", c, opts.Workers*opts.PerWorker)
		}
	})

	t.Run("FirstUseRace", func(t *testing.T) {
		// Rounds that each release every worker at once on a new key: a
		// store that creates a key twice loses the first creation's counts.
		s := newStore(t)
		for round := range opts.FirstUseRounds {
			key := fmt.Sprintf("fresh-%d", round)
			got := hammer(t, s, key, opts.FirstUseWorkers, 1)
			checkExact(t, got, opts.FirstUseWorkers)
			if c := mustCount(t, s, key); c != int64(opts.FirstUseWorkers) {
				t.Fatalf("%s: Count = %d, want %d", key, c, opts.FirstUseWorkers)
			}
		}
	})

	t.Run("InvalidKeys", func(t *testing.T) {
		s := newStore(t)
		bad := []string{"", strings.Repeat("k", counter.MaxKeyLen+1), "a b", "a/b", "-lead", ".hidden",
			"ключ", "x\x00y", "a#1", "<script>", "a%2Fb", "tab\t"}
		for _, k := range bad {
			if _, err := s.Increment(ctx, k); !errors.Is(err, counter.ErrInvalidKey) {
				t.Errorf("Increment(%q) error = %v, want ErrInvalidKey", k, err)
			}
			if _, err := s.Count(ctx, k); !errors.Is(err, counter.ErrInvalidKey) {
				t.Errorf("Count(%q) error = %v, want ErrInvalidKey", k, err)
			}
			if a, ok := s.(counter.Adder); ok {
				if _, err := a.Add(ctx, k, 2); !errors.Is(err, counter.ErrInvalidKey) {
					t.Errorf("Add(%q) error = %v, want ErrInvalidKey", k, err)
				}
			}
		}
		longest := strings.Repeat("k", counter.MaxKeyLen)
		if got := mustIncrement(t, s, longest); got != 1 {
			t.Errorf("Increment(%d-byte key) = %d, want 1", len(longest), got)
		}
	})

	t.Run("CanceledContext", func(t *testing.T) {
		s := newStore(t)
		mustIncrement(t, s, "visitors")
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := s.Increment(cctx, "visitors"); !errors.Is(err, context.Canceled) {
			t.Errorf("Increment with a canceled context: error = %v, want context.Canceled", err)
		}
		if _, err := s.Count(cctx, "visitors"); !errors.Is(err, context.Canceled) {
			t.Errorf("Count with a canceled context: error = %v, want context.Canceled", err)
		}
		if got := mustCount(t, s, "visitors"); got != 1 {
			t.Errorf("Count after a canceled increment = %d, want 1", got)
		}
	})

	t.Run("Add", func(t *testing.T) {
		s := newStore(t)
		a, ok := s.(counter.Adder)
		if !ok {
			t.Skip("store does not implement counter.Adder")
		}
		if got, err := a.Add(ctx, "visitors", 5); err != nil || got != 5 {
			t.Fatalf("Add(5) on a new key = %d, %v; want 5", got, err)
		}
		if got := mustIncrement(t, s, "visitors"); got != 6 {
			t.Fatalf("Increment after Add(5) = %d, want 6", got)
		}
		for _, n := range []int64{0, -1} {
			if _, err := a.Add(ctx, "visitors", n); err == nil {
				t.Errorf("Add(%d) succeeded, want an error", n)
			}
		}
		if got := mustCount(t, s, "visitors"); got != 6 {
			t.Fatalf("Count after rejected Adds = %d, want 6", got)
		}
	})
}

// hammer starts workers goroutines together, each incrementing key perWorker
// times, and returns every value returned.
func hammer(t *testing.T, s Store, key string, workers, perWorker int) []int64 {
	t.Helper()
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		mu    sync.Mutex
		all   = make([]int64, 0, workers*perWorker)
		errs  []error
		ready sync.WaitGroup // every worker started, so close(start) releases all at once
	)
	ready.Add(workers)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got := make([]int64, 0, perWorker)
			ready.Done()
			<-start
			for range perWorker {
				n, err := s.Increment(context.Background(), key)
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					return
				}
				got = append(got, n)
			}
			mu.Lock()
			all = append(all, got...)
			mu.Unlock()
		}()
	}
	ready.Wait()
	close(start)
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d increments failed, first: %v", len(errs), errs[0])
	}
	return all
}

// checkExact fails unless got holds each of 1..n exactly once.
func checkExact(t *testing.T, got []int64, n int) {
	t.Helper()
	if len(got) != n {
		t.Fatalf("got %d values, want %d", len(got), n)
	}
	slices.Sort(got)
	for i, v := range got {
		if v != int64(i+1) {
			t.Fatalf("returned values are not exactly 1..%d: sorted position %d holds %d", n, i, v)
		}
	}
}

func mustIncrement(t *testing.T, s Store, key string) int64 {
	t.Helper()
	n, err := s.Increment(context.Background(), key)
	if err != nil {
		t.Fatalf("Increment(%q): %v", key, err)
	}
	return n
}

func mustCount(t *testing.T, s Store, key string) int64 {
	t.Helper()
	n, err := s.Count(context.Background(), key)
	if err != nil {
		t.Fatalf("Count(%q): %v", key, err)
	}
	return n
}
