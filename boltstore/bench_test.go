package boltstore

import (
	"context"
	"sync"
	"testing"
	"time"
)

// BenchmarkIncrementParallel measures increments of one key from many
// goroutines, as a busy server makes them: through DB.Batch (the store's
// way) and through one DB.Update per increment, the baseline, measured in
// the same run. Each reports inc/s; batch also reports its speed-up over
// update as x-update.
//
//	go test -run '^$' -bench IncrementParallel -benchtime 2000x ./boltstore
func BenchmarkIncrementParallel(b *testing.B) {
	const callers = 64
	b.Run("update", func(b *testing.B) {
		s := tempStore(b, Options{})
		s.update = s.db.Update
		b.ReportAllocs()
		b.ReportMetric(runParallel(b, s, callers, b.N), "inc/s")
	})
	b.Run("batch", func(b *testing.B) {
		base := tempStore(b, Options{})
		base.update = base.db.Update
		baseline := rate(base, callers, 500)
		s := tempStore(b, Options{})
		b.ReportAllocs()
		got := runParallel(b, s, callers, b.N)
		b.ReportMetric(got, "inc/s")
		b.ReportMetric(got/baseline, "x-update")
	})
}

// BenchmarkIncrementSequential measures one caller's increments: each waits
// for its own commit (and, through Batch, for BatchDelay first).
//
//	go test -run '^$' -bench IncrementSequential -benchtime 200x ./boltstore
func BenchmarkIncrementSequential(b *testing.B) {
	for _, bc := range []struct {
		name  string
		batch bool
	}{{"update", false}, {"batch", true}} {
		b.Run(bc.name, func(b *testing.B) {
			s := tempStore(b, Options{})
			if !bc.batch {
				s.update = s.db.Update
			}
			b.ReportAllocs()
			b.ReportMetric(runParallel(b, s, 1, b.N), "inc/s")
		})
	}
}

// runParallel makes n increments of one key from callers goroutines under
// the benchmark timer and returns increments per second.
func runParallel(b *testing.B, s *Store, callers, n int) float64 {
	b.Helper()
	if _, err := s.Increment(context.Background(), "hot"); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	start := time.Now()
	run(b, s, callers, n)
	d := time.Since(start)
	b.StopTimer()
	return float64(n) / d.Seconds()
}

// rate measures increments per second outside the benchmark timer.
func rate(s *Store, callers, n int) float64 {
	start := time.Now()
	run(nil, s, callers, n)
	return float64(n) / time.Since(start).Seconds()
}

func run(b *testing.B, s *Store, callers, n int) {
	var wg sync.WaitGroup
	per, extra := n/callers, n%callers
	for i := range callers {
		k := per
		if i < extra {
			k++
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range k {
				if _, err := s.Increment(context.Background(), "hot"); err != nil && b != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}
