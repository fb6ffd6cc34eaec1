package redisstore

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/resumecounter/counter"
	"github.com/resumecounter/counter/internal/benchrun"
	"github.com/resumecounter/counter/internal/testenv"
)

// BenchmarkIncrement measures Store.Increment from 16 goroutines against
// the bare client running the same command (INCRBY) in the same run:
// x-driver is their ratio. "standalone" and "cluster" are the shared test
// servers (appendfsync always, so each event-loop turn waits for an
// fsync); "nosync" is a server of its own without persistence, so that the
// disk's fsync time, which varies a lot on a shared machine, does not drown
// the difference between the two.
//
//	go test -run '^$' -bench Increment ./redisstore
func BenchmarkIncrement(b *testing.B) {
	nosync := func(tb testing.TB) redis.UniversalClient {
		c := redis.NewClient(&redis.Options{Addr: testenv.NewRedis(tb, "--appendonly", "no").Addr(), MaxRetries: -1})
		tb.Cleanup(func() { _ = c.Close() })
		return c
	}
	for _, srv := range append(servers, struct {
		name   string
		client func(tb testing.TB) redis.UniversalClient
	}{"nosync", nosync}) {
		b.Run(srv.name, func(b *testing.B) {
			c := srv.client(b)
			s := newStore(b, c)
			k := s.countKey("hot")
			benchrun.Paired(b, 16, "inc/s", "x-driver",
				func(ctx context.Context) error { _, err := s.Increment(ctx, "hot"); return err },
				func(ctx context.Context) error { return c.IncrBy(ctx, k, 1).Err() })
		})
	}
}

// BenchmarkGroup measures counter.NewGroup in front of the store against
// the plain store, 256 goroutines on one hot key (as the root package's
// Dynamo benchmark), go-redis's default pool (10 connections per CPU):
// x-plain is their ratio. "always" is the shared server (appendfsync
// always), "everysec" a server of its own with appendfsync everysec.
//
//	go test -run '^$' -bench Group ./redisstore
func BenchmarkGroup(b *testing.B) {
	for _, fsync := range []string{"always", "everysec"} {
		b.Run(fsync, func(b *testing.B) {
			addr := testenv.RedisAddr(b)
			if fsync != "always" {
				addr = testenv.NewRedis(b, "--appendonly", "yes", "--appendfsync", fsync).Addr()
			}
			c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
			b.Cleanup(func() { _ = c.Close() })
			s := newStore(b, c)
			g := counter.NewGroup(s)
			benchrun.Compare(b, 256, "inc/s", "x-plain",
				func(ctx context.Context) error { _, err := g.Increment(ctx, "hot"); return err },
				func(ctx context.Context) error { _, err := s.Increment(ctx, "hot"); return err })
		})
	}
}

// BenchmarkGroupPool shows what bounds BenchmarkGroup's ratio with
// appendfsync always. Redis fsyncs the commands of all its clients once per
// event-loop turn, so the plain store's calls, one per pooled connection,
// share each fsync; the Group keeps one write in flight, which carries the
// callers that came back during the previous one: about half of them, 128
// of 256 (visits/write). The plain store's rate grows with the pool, the
// Group's hardly, so x-plain falls as the pool grows: this runs pools of 5,
// 20 (go-redis's default on 2 CPUs, as BenchmarkGroup) and 80 connections.
//
//	go test -run '^$' -bench GroupPool ./redisstore
func BenchmarkGroupPool(b *testing.B) {
	for _, pool := range []int{5, 20, 80} {
		b.Run(fmt.Sprintf("pool=%d", pool), func(b *testing.B) {
			c := redis.NewClient(&redis.Options{Addr: testenv.RedisAddr(b), MaxRetries: -1, PoolSize: pool})
			b.Cleanup(func() { _ = c.Close() })
			s := newStore(b, c)
			w := &countingAdder{Store: s}
			g := counter.NewGroup(w)
			benchrun.Compare(b, 256, "inc/s", "x-plain",
				func(ctx context.Context) error { _, err := g.Increment(ctx, "hot"); return err },
				func(ctx context.Context) error { _, err := s.Increment(ctx, "hot"); return err })
			b.ReportMetric(float64(w.visits.Load())/float64(w.writes.Load()), "visits/write")
		})
	}
}

// countingAdder counts the writes made through it and the visits they carry.
type countingAdder struct {
	*Store
	writes, visits atomic.Int64
}

func (c *countingAdder) Add(ctx context.Context, key string, n int64) (int64, error) {
	c.writes.Add(1)
	c.visits.Add(n)
	return c.Store.Add(ctx, key, n)
}
