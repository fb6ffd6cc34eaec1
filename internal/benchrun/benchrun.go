// Package benchrun measures a store call against a baseline in the same
// benchmark, alternating the two so that drift in the machine's load hits
// both alike, and reports the ratio.
package benchrun

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Rate makes n calls of fn from callers goroutines, each taking the next
// call until none is left (so all stay busy to the end), and returns calls
// per second. The first error stops the run and is returned.
func Rate(callers, n int, fn func(ctx context.Context) error) (float64, error) {
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
		next  atomic.Int64
	)
	start := time.Now()
	for range min(callers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) {
				if err := fn(context.Background()); err != nil {
					once.Do(func() { first = err })
					return
				}
			}
		}()
	}
	wg.Wait()
	return float64(n) / time.Since(start).Seconds(), first
}

// Compare runs b.N calls of subject and b.N calls of base, from callers
// goroutines each, in up to eight rounds alternating their order (base then subject, subject then
// base, …),
// and reports subject's calls per second as unit, base's as
// "base-"+unit and their ratio as ratioName. One call of each comes first,
// untimed, to connect. The benchmark's time is subject's and base's together.
func Compare(b *testing.B, callers int, unit, ratioName string, subject, base func(ctx context.Context) error) {
	b.Helper()
	for _, f := range []func(context.Context) error{base, subject} { // connect, find slots
		if err := f(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	// Up to 8 rounds, fewer when b.N is small so that each round keeps
	// every caller busy for a few calls.
	rounds := min(8, max(2, b.N/(4*callers))/2*2)
	part := max(b.N/rounds, 1)
	var subjSec, baseSec float64
	for i := range rounds {
		// ABBA order: base first in even rounds, subject first in odd ones,
		// so that neither always runs right after the other.
		for j := range 2 {
			f, sec := base, &baseSec
			if (i+j)%2 == 1 {
				f, sec = subject, &subjSec
			}
			r, err := Rate(callers, part, f)
			if err != nil {
				b.Fatal(err)
			}
			*sec += float64(part) / r
		}
	}
	subj, bs := float64(rounds*part)/subjSec, float64(rounds*part)/baseSec
	b.ReportMetric(subj, unit)
	b.ReportMetric(bs, "base-"+unit)
	b.ReportMetric(subj/bs, ratioName)
}

// Paired measures subject against base call by call: each of callers
// goroutines makes b.N/callers pairs of calls, one of each in alternating
// order, timing each call, so that both see the same moment's load on a
// busy machine. It reports each one's calls per second at that
// concurrency (callers / mean latency) as unit and "base-"+unit, and as
// ratioName the ratio of their median latencies (base / subject), which
// the occasional slow fsync of a shared disk moves far less than the
// means. One call of each comes first, untimed.
func Paired(b *testing.B, callers int, unit, ratioName string, subject, base func(ctx context.Context) error) {
	b.Helper()
	for _, f := range []func(context.Context) error{base, subject} {
		if err := f(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	var (
		wg         sync.WaitGroup
		mu         sync.Mutex
		subjLat    []time.Duration
		baseLat    []time.Duration
		first      error
		per, extra = b.N / callers, b.N % callers
	)
	for g := range callers {
		k := per
		if g < extra {
			k++
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			var sl, bl []time.Duration
			var err error
		pairs:
			for i := range k {
				for j := range 2 {
					f, lat := base, &bl
					if (g+i+j)%2 == 1 {
						f, lat = subject, &sl
					}
					t := time.Now()
					if err = f(context.Background()); err != nil {
						break pairs
					}
					*lat = append(*lat, time.Since(t))
				}
			}
			mu.Lock()
			defer mu.Unlock()
			subjLat, baseLat = append(subjLat, sl...), append(baseLat, bl...)
			if err != nil && first == nil {
				first = err
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	if first != nil {
		b.Fatal(first)
	}
	rate := func(lat []time.Duration) float64 {
		var sum time.Duration
		for _, d := range lat {
			sum += d
		}
		return float64(len(lat)) * float64(callers) / sum.Seconds()
	}
	b.ReportMetric(rate(subjLat), unit)
	b.ReportMetric(rate(baseLat), "base-"+unit)
	b.ReportMetric(float64(median(baseLat))/float64(median(subjLat)), ratioName)
}

func median(d []time.Duration) time.Duration {
	slices.Sort(d)
	return d[len(d)/2]
}
