package redisstore

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/resumecounter/counter"
	"github.com/resumecounter/counter/countertest"
	"github.com/resumecounter/counter/internal/testenv"
)

func TestMain(m *testing.M) {
	redis.SetLogger(quiet{}) // the fault test's refused dials are expected
	testenv.Main(m)
}

type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

var seq atomic.Int64

// servers are the two kinds of server every test runs against.
var servers = []struct {
	name   string
	client func(tb testing.TB) redis.UniversalClient
}{
	{"standalone", standalone},
	{"cluster", cluster},
}

func standalone(tb testing.TB) redis.UniversalClient {
	tb.Helper()
	c := redis.NewClient(&redis.Options{Addr: testenv.RedisAddr(tb), MaxRetries: -1})
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

func cluster(tb testing.TB) redis.UniversalClient {
	tb.Helper()
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: testenv.RedisClusterAddrs(tb), MaxRetries: -1})
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// newStore returns a store with a prefix of its own.
func newStore(tb testing.TB, c redis.UniversalClient) *Store {
	tb.Helper()
	return newStoreWith(tb, c, Options{})
}

// newStoreWith is newStore with opts; the prefix is its own.
func newStoreWith(tb testing.TB, c redis.UniversalClient, opts Options) *Store {
	tb.Helper()
	opts.Prefix = fmt.Sprintf("t%d-%d", os.Getpid(), seq.Add(1))
	s, err := New(c, opts)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	for _, srv := range servers {
		t.Run(srv.name, func(t *testing.T) {
			c := srv.client(t)
			countertest.Run(t, func(t *testing.T) countertest.Store { return newStore(t, c) })
		})
	}
}

func TestVisits(t *testing.T) {
	for _, srv := range servers {
		t.Run(srv.name, func(t *testing.T) {
			c := srv.client(t)
			countertest.RunVisits(t, func(t *testing.T, cfg countertest.Config) countertest.VisitStore {
				return newStoreWith(t, c, Options{Now: cfg.Now})
			})
		})
	}
}

func TestEditor(t *testing.T) {
	for _, srv := range servers {
		t.Run(srv.name, func(t *testing.T) {
			c := srv.client(t)
			countertest.RunEditor(t, func(t *testing.T, cfg countertest.Config) countertest.EditStore {
				return newStoreWith(t, c, Options{Now: cfg.Now})
			})
		})
	}
}

func TestOverflow(t *testing.T) {
	for _, srv := range servers {
		t.Run(srv.name, func(t *testing.T) {
			c := srv.client(t)
			s := newStore(t, c)
			ctx := context.Background()
			if _, err := s.SetCount(ctx, "big", math.MaxInt64-1); err != nil {
				t.Fatal(err)
			}
			if got, err := s.Increment(ctx, "big"); err != nil || got != math.MaxInt64 {
				t.Fatalf("Increment to MaxInt64 = %d, %v", got, err)
			}
			if _, err := s.Increment(ctx, "big"); !errors.Is(err, counter.ErrOverflow) {
				t.Fatalf("Increment past MaxInt64: %v, want ErrOverflow", err)
			}
			if _, err := s.Add(ctx, "big", 5); !errors.Is(err, counter.ErrOverflow) {
				t.Fatalf("Add past MaxInt64: %v, want ErrOverflow", err)
			}
			d := counter.Date("2026-12-30")
			v := counter.Visit{Key: "big", Date: d, Visitor: counter.VisitorID{1}, ID: "once", Time: d.Time().Add(time.Hour)}
			if _, ok, err := s.RecordVisit(ctx, v); !errors.Is(err, counter.ErrOverflow) || ok {
				t.Fatalf("RecordVisit past MaxInt64: counted %v, %v; want ErrOverflow", ok, err)
			}
			if st, err := s.Stats(ctx, "big", d); err != nil || st != (counter.Stats{Key: "big", Count: math.MaxInt64, Today: counter.Day{Date: d}}) {
				t.Fatalf("Stats after refused visit = %+v, %v", st, err)
			}
			// Nothing was written: no marker.
			if n, err := c.Exists(ctx, s.prefix+":{big}:i:once").Result(); err != nil || n != 0 {
				t.Fatalf("visit id marker after a refused visit: %d, %v", n, err)
			}
			// A day at the maximum refuses too, with nothing written.
			if err := s.Import(ctx, counter.Record{Key: "day", Count: 1, Days: []counter.Day{{Date: d, Count: math.MaxInt64}}}); err != nil {
				t.Fatal(err)
			}
			if _, _, err := s.RecordVisit(ctx, counter.Visit{Key: "day", Date: d, Time: d.Time()}); !errors.Is(err, counter.ErrOverflow) {
				t.Fatalf("RecordVisit on a full day: %v, want ErrOverflow", err)
			}
			if n, err := s.Count(ctx, "day"); err != nil || n != 1 {
				t.Fatalf("count after a refused visit = %d, %v; want 1", n, err)
			}
			if _, err := s.SetCount(ctx, "big", 7); err != nil {
				t.Fatal(err)
			}
			st, ok, err := s.RecordVisit(ctx, v)
			if err != nil || !ok || st.Count != 8 || st.Visitors != 1 {
				t.Fatalf("the same visit after the count was lowered = %+v, %v, %v; want counted, count 8, 1 visitor", st, ok, err)
			}
		})
	}
}

// TestKeyLayout checks that one counter's keys share a cluster slot and
// that markers carry Redis expiries, relative to the visit's time (noon:
// a visit id marker lives 24 h, a visitor marker 36 h), whatever Redis's
// clock says.
func TestKeyLayout(t *testing.T) {
	c := cluster(t)
	s := newStore(t, c)
	ctx := context.Background()
	d := counter.Date("2026-12-30")
	v := counter.Visit{Key: "home", Date: d, Visitor: counter.VisitorID{9}, ID: "pv1", Time: d.Time().Add(12 * time.Hour)}
	if _, _, err := s.RecordVisit(ctx, v); err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		names []string
	)
	err := c.(*redis.ClusterClient).ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
		ks, err := m.Keys(ctx, s.prefix+":*").Result()
		mu.Lock()
		names = append(names, ks...)
		mu.Unlock()
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != 5 {
		t.Fatalf("keys %q, want count, visitors, days and two markers", names)
	}
	slot := redisSlot(t, c, names[0])
	for _, k := range names {
		if got := redisSlot(t, c, k); got != slot {
			t.Fatalf("key %s in slot %d, %s in slot %d", names[0], slot, k, got)
		}
		life, err := c.PTTL(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]time.Duration{
			s.prefix + ":{home}:i:pv1": counter.VisitIDTTL,
			s.prefix + ":{home}:v:" + string(d) + ":09000000000000000000000000000000": counter.VisitorMarkerTTL - 12*time.Hour,
		}[k]
		if want == 0 && life > 0 || want > 0 && (life > want || life < want-time.Minute) {
			t.Errorf("key %s has time to live %v, want %v", k, life, want)
		}
	}
}

func redisSlot(t *testing.T, c redis.UniversalClient, key string) int64 {
	t.Helper()
	n, err := c.ClusterKeySlot(context.Background(), key).Result()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func maxRetries(c redis.UniversalClient) int {
	switch c := c.(type) {
	case *redis.Client:
		return c.Options().MaxRetries
	case *redis.ClusterClient:
		return c.Options().MaxRetries
	}
	return 0
}

func TestPrefixValidated(t *testing.T) {
	for _, p := range []string{"a{b}", "a*", "a b", "x?", "[x]", `a\b`} {
		if _, err := New(nil, Options{Prefix: p}); err == nil {
			t.Errorf("New with prefix %q succeeded, want an error", p)
		}
	}
}

// TestOpen checks the URL constructor the counter command uses, for a
// server and for a cluster.
func TestOpen(t *testing.T) {
	ctx := context.Background()
	addrs := testenv.RedisClusterAddrs(t)
	for name, url := range map[string]string{
		"standalone": "redis://" + testenv.RedisAddr(t) + "/0",
		"cluster":    "redis://" + addrs[0] + "?addr=" + addrs[1] + "&addr=" + addrs[2],
	} {
		t.Run(name, func(t *testing.T) {
			prefix := fmt.Sprintf("open%d-%d", os.Getpid(), seq.Add(1))
			s, err := Open(ctx, url, Options{Prefix: prefix})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			_, isCluster := s.client.(*redis.ClusterClient)
			if isCluster != (name == "cluster") {
				t.Fatalf("Open(%s) made a %T", url, s.client)
			}
			if got := maxRetries(s.client); got > 0 { // go-redis normalizes -1 (none) to 0 in *Client
				t.Fatalf("Open(%s): MaxRetries %d, want none (never count twice)", url, got)
			}
			sep := "?"
			if isCluster {
				sep = "&"
			}
			r, err := Open(ctx, url+sep+"max_retries=2", Options{Prefix: prefix})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if got := maxRetries(r.client); got != 2 {
				t.Fatalf("Open with max_retries=2: MaxRetries %d", got)
			}
			for i := range 20 { // keys spread over the slots
				if _, err := s.Increment(ctx, fmt.Sprintf("k%d", i)); err != nil {
					t.Fatal(err)
				}
			}
			keys, err := s.Keys(ctx)
			if err != nil || len(keys) != 20 {
				t.Fatalf("Keys = %q, %v; want 20", keys, err)
			}
		})
	}
	if _, err := Open(ctx, "redis://127.0.0.1:1/0?dial_timeout=1s", Options{}); err == nil {
		t.Fatal("Open of a closed port succeeded")
	}
}

// TestSaltGoneFromAOFAfterRewrite checks what docs/visitors.md tells the
// operator of Redis with appendonly yes: an expired salt stays in the
// append-only file, and an AOF rewrite (BGREWRITEAOF, which the docs say to
// schedule daily) removes it from every file of the server.
func TestSaltGoneFromAOFAfterRewrite(t *testing.T) {
	srv := testenv.NewRedis(t, "--appendonly", "yes", "--appendfsync", "always")
	c := redis.NewClient(&redis.Options{Addr: srv.Addr(), MaxRetries: -1})
	defer c.Close()
	s, err := New(c, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	day := counter.DateOf(time.Now().UTC())
	salt := []byte("REDIS-SALT-that-must-not-outlive")
	if _, err := s.DaySalt(ctx, day, salt); err != nil {
		t.Fatal(err)
	}
	if len(testenv.FilesHolding(t, srv.Dir, salt)) == 0 {
		t.Fatal("the salt is in no file of the server: the test reads the wrong files")
	}
	// As if its 48 hours had passed.
	if err := c.PExpire(ctx, s.saltKey(day), time.Millisecond).Err(); err != nil {
		t.Fatal(err)
	}
	for c.Exists(ctx, s.saltKey(day)).Val() != 0 {
		time.Sleep(5 * time.Millisecond)
	}
	if len(testenv.FilesHolding(t, srv.Dir, salt)) == 0 {
		t.Fatal("the expired salt left the append-only file without a rewrite: update docs/visitors.md")
	}
	if err := c.BgRewriteAOF(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		info := c.Info(ctx, "persistence").Val()
		if strings.Contains(info, "aof_rewrite_in_progress:0") && strings.Contains(info, "aof_rewrite_scheduled:0") &&
			len(testenv.FilesHolding(t, srv.Dir, salt)) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("30 s after BGREWRITEAOF the expired salt is still in %v", testenv.FilesHolding(t, srv.Dir, salt))
		}
		time.Sleep(20 * time.Millisecond)
	}
}
