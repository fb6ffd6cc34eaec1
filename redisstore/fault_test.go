package redisstore

import (
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/resumecounter/counter/internal/storefault"
	"github.com/resumecounter/counter/internal/testenv"
)

// TestFaultKillRestart kills redis-server (SIGKILL) while 8 goroutines
// count, then restarts it on the same append-only file: with appendonly yes
// and appendfsync always, no acknowledged count is lost; increments fail
// with errors and the JSON handler answers 503 while it is down; the client
// reconnects by itself. The client never retries (MaxRetries -1), so a lost
// answer cannot count twice.
func TestFaultKillRestart(t *testing.T) {
	srv := testenv.NewRedis(t, "--appendonly", "yes", "--appendfsync", "always")
	c := redis.NewClient(&redis.Options{Addr: srv.Addr(), MaxRetries: -1, PoolSize: 8})
	defer c.Close()
	s, err := New(c, Options{})
	if err != nil {
		t.Fatal(err)
	}
	storefault.Run(t, storefault.Config{
		Store:   s,
		Kill:    srv.Kill,
		Restart: func() { srv.Restart(t) },
	})
}
