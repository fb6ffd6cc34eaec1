package pgstore

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/resumecounter/counter/internal/storefault"
	"github.com/resumecounter/counter/internal/testenv"
)

// TestFaultKillRestart kills PostgreSQL (SIGKILL to the postmaster and its
// backends) while 8 goroutines count, then restarts it: with PostgreSQL's
// default synchronous_commit=on, no acknowledged count is lost; increments
// fail with errors and the JSON handler answers 503 while it is down; the
// pool reconnects by itself.
func TestFaultKillRestart(t *testing.T) {
	srv := testenv.NewPostgres(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg, err := pgxpool.ParseConfig(testenv.PostgresURLOf(srv) + "&connect_timeout=2")
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = 8
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	s, err := New(pool, Options{SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	storefault.Run(t, storefault.Config{
		Store:   s,
		Kill:    srv.Kill,
		Restart: func() { srv.Restart(t) },
	})
}
