package pgstore

import (
	"context"
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
