package boltstore

import (
	"context"
	"sync"
	"testing"
	"time"
)

// BenchmarkIncrementParallel measures increments of one key from 64
// goroutines, as a busy server makes them: the store's way ("store": db.Batch
// while others are under way) and one db.Update per increment ("update"),
// each reporting inc/s. "store" also reports x-update, its speed over an
// update run made right after it in the same benchmark, as disk speed here
// drifts with other work.
//
//	go test -run '^$' -bench IncrementParallel -benchtime 2000x ./boltstore
func BenchmarkIncrementParallel(b *testing.B) {
	const callers = 64
	b.Run("update", func(b *testing.B) {
		s := tempStore(b, Options{})
		s.write = s.db.Update
		b.ReportAllocs()
		b.ReportMetric(runParallel(b, s, callers, b.N), "inc/s")
	})
	b.Run("store", func(b *testing.B) {
		s := tempStore(b, Options{})
		b.ReportAllocs()
		got := runParallel(b, s, callers, b.N)
		base := tempStore(b, Options{})
		base.write = base.db.Update
		b.ReportMetric(got, "inc/s")
		b.ReportMetric(got/rate(base, callers, max(b.N/4, 200)), "x-update")
	})
}

// BenchmarkIncrementSequential measures one caller's increments, each
// waiting for its own commit: the store's way, which then uses db.Update,
// against db.Batch, which would first wait BatchDelay.
//
//	go test -run '^$' -bench IncrementSequential -benchtime 500x ./boltstore
func BenchmarkIncrementSequential(b *testing.B) {
	for _, name := range []string{"store", "batch"} {
		b.Run(name, func(b *testing.B) {
			s := tempStore(b, Options{})
			if name == "batch" {
				s.write = s.db.Batch
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
