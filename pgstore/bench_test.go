package pgstore

import (
	"context"
	"encoding/binary"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/resumecounter/counter"
	"github.com/resumecounter/counter/internal/benchrun"
	"github.com/resumecounter/counter/internal/testenv"
)

// BenchmarkIncrement measures Store.Increment from 4 goroutines (pgxpool's
// default of 4 connections here) on one key of the shared test server
// against the bare driver running the same statement (pool.QueryRow(…).Scan)
// in the same run: x-driver is their ratio. "durable" commits as the store
// does in production (each increment waits for its WAL flush); "nosync"
// runs the same statements with synchronous_commit off in the session, so
// that the disk's fsync time, which varies a lot on a shared machine, does
// not drown the difference between the two.
//
//	go test -run '^$' -bench Increment ./pgstore
func BenchmarkIncrement(b *testing.B) {
	for _, mode := range []string{"durable", "nosync"} {
		b.Run(mode, func(b *testing.B) {
			cfg, err := pgxpool.ParseConfig(testenv.PostgresURL(b))
			if err != nil {
				b.Fatal(err)
			}
			if mode == "nosync" {
				cfg.ConnConfig.RuntimeParams["synchronous_commit"] = "off"
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			pool, err := pgxpool.NewWithConfig(ctx, cfg)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(pool.Close)
			s := newStore(b, pool)
			q := s.sql.add
			benchrun.Paired(b, 4, "inc/s", "x-driver",
				func(ctx context.Context) error { _, err := s.Increment(ctx, "hot"); return err },
				func(ctx context.Context) error {
					var n int64
					return pool.QueryRow(ctx, q, "hot", int64(1)).Scan(&n)
				})
		})
	}
}

// BenchmarkGroup measures counter.NewGroup in front of the store against
// the plain store, 256 goroutines on one hot key (as the root package's
// Dynamo benchmark), durable commits: x-plain is their ratio.
//
//	go test -run '^$' -bench Group ./pgstore
func BenchmarkGroup(b *testing.B) {
	pool := testPool(b)
	s := newStore(b, pool)
	g := counter.NewGroup(s)
	benchrun.Compare(b, 256, "inc/s", "x-plain",
		func(ctx context.Context) error { _, err := g.Increment(ctx, "hot"); return err },
		func(ctx context.Context) error { _, err := s.Increment(ctx, "hot"); return err })
}

// visitMany makes n visits, each of a new visitor with a new visit id,
// through record from callers goroutines, and returns how long they took.
func visitMany(b *testing.B, callers, n int, seq *atomic.Int64, record func(counter.Visit) (bool, error)) time.Duration {
	b.Helper()
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range callers {
		wg.Go(func() {
			for next.Add(1) <= int64(n) {
				i := seq.Add(1)
				var id counter.VisitorID
				binary.LittleEndian.PutUint64(id[:], uint64(i))
				v := counter.Visit{Key: "home", Date: day1, Time: at1, Visitor: id, ID: strconv.FormatInt(i, 36)}
				if ok, err := record(v); err != nil || !ok {
					b.Error(ok, err)
					return
				}
			}
		})
	}
	wg.Wait()
	return time.Since(start)
}

// BenchmarkRecordVisitBatched: 64 callers record visits of new visitors
// (a new visitor id and visit id each) through a store with group commit,
// through one without (maxBatch 1: a transaction per visit, one at a
// time), and through the bare driver (pool.QueryRow of the same visit
// statement on tables of their own, on pgxpool's default connections: what
// RecordVisit did before batching), in rounds of the same run whose order
// alternates, with PostgreSQL's durable commits (each waits for its WAL
// flush). b.N counts the batched visits; the other two make a quarter as
// many per round. It reports the three rates, x-unbatched and x-bare.
//
//	go test -run '^$' -bench RecordVisitBatched -benchtime 4000x ./pgstore
func BenchmarkRecordVisitBatched(b *testing.B) {
	pool := testPool(b)
	batched, single, bare := newStore(b, pool), newStore(b, pool), newStore(b, pool)
	single.maxBatch = 1
	contenders := []struct {
		record  func(counter.Visit) (bool, error)
		part    int // visits per round, out of 4
		visits  int
		elapsed time.Duration
	}{
		{record: func(v counter.Visit) (bool, error) {
			_, ok, err := batched.RecordVisit(context.Background(), v)
			return ok, err
		}, part: 4},
		{record: func(v counter.Visit) (bool, error) {
			_, ok, err := single.RecordVisit(context.Background(), v)
			return ok, err
		}, part: 1},
		{record: func(v counter.Visit) (bool, error) {
			var ok bool
			var c, vis, dc, dv int64
			err := pool.QueryRow(context.Background(), bare.sql.visit, bare.visitArgs(v)...).Scan(&ok, &c, &vis, &dc, &dv)
			return ok, err
		}, part: 1},
	}
	const callers, round = 64, 512
	var seq atomic.Int64
	for _, c := range contenders {
		visitMany(b, callers, callers, &seq, c.record) // connect, prepare
	}
	b.ReportAllocs()
	b.ResetTimer()
	for r, done := 0, 0; done < b.N; r, done = r+1, done+round {
		n := min(round, b.N-done)
		b.StopTimer()
		for i := range contenders {
			c := &contenders[i]
			if r%2 == 1 {
				c = &contenders[len(contenders)-1-i]
			}
			k := n*c.part/4 + 1
			if c.part == 4 {
				k = n
				b.StartTimer()
			}
			c.elapsed += visitMany(b, callers, k, &seq, c.record)
			c.visits += k
			b.StopTimer()
		}
	}
	rate := func(i int) float64 { return float64(contenders[i].visits) / contenders[i].elapsed.Seconds() }
	b.ReportMetric(rate(0), "batched-visits/s")
	b.ReportMetric(rate(1), "unbatched-visits/s")
	b.ReportMetric(rate(2), "bare-visits/s")
	b.ReportMetric(rate(0)/rate(1), "x-unbatched")
	b.ReportMetric(rate(0)/rate(2), "x-bare")
}
