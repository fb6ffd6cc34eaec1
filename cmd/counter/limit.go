package main

import (
	"fmt"
	"math"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/resumecounter/counter"
)

// maxClients bounds the clients the rate limiter tracks at once (about
// 200 bytes each), so many addresses cannot grow memory without bound.
const maxClients = 10_000

// evictSample is how many tracked clients a new client beyond maxClients
// looks at to choose the one it replaces.
const evictSample = 8

// limiter is a per-client rate limit: a token bucket per client address,
// refilled at limit per second up to burst. A client is an IPv4 address or
// an IPv6 /64 (one subscriber's usual allocation). Addresses live only in
// memory, and only until their bucket would be full again: dropping it then
// changes nothing.
//
// Only a client's own requests spend its bucket: there is no bucket shared
// between clients, so no flood of other addresses can get a client refused.
// When maxClients are tracked, a new client replaces the one with the most
// tokens left among evictSample of them (the least limited: forgetting it
// refuses nobody). A flood of many addresses can at worst make the limiter
// forget some of its own addresses' spent buckets; it never spends anyone
// else's.
type limiter struct {
	limit   rate.Limit
	burst   int
	proxies int           // trusted proxies in front, appending to X-Forwarded-For
	idle    time.Duration // time for an empty bucket to refill
	max     int           // clients tracked at once
	now     func() time.Time

	mu       sync.Mutex
	clients  map[netip.Prefix]*client
	sweeping bool // a sweep is scheduled
}

type client struct {
	bucket *rate.Limiter
	seen   time.Time
}

func newLimiter(limit rate.Limit, burst, proxies int) *limiter {
	return &limiter{
		limit:   limit,
		burst:   burst,
		proxies: proxies,
		idle:    time.Duration(math.Ceil(min(float64(burst)/float64(limit), 86400) * float64(time.Second))),
		max:     maxClients,
		now:     time.Now,
		clients: make(map[netip.Prefix]*client),
	}
}

// limiterFromEnv reads COUNTER_RATE_LIMIT ("10/s", "600/m", "5000/h"),
// COUNTER_RATE_BURST (default: the number before the slash, at least 1) and
// COUNTER_TRUST_PROXY (the number of proxies in front whose
// X-Forwarded-For entries to trust; default 0). Without
// COUNTER_RATE_LIMIT it returns nil: no limit.
func limiterFromEnv(getenv func(string) string) (*limiter, error) {
	spec := strings.TrimSpace(getenv("COUNTER_RATE_LIMIT"))
	proxies, err := trustProxyFromEnv(getenv)
	if err != nil {
		return nil, err
	}
	if spec == "" {
		return nil, nil
	}
	num, unit, ok := strings.Cut(spec, "/")
	n, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	per := map[string]time.Duration{"s": time.Second, "m": time.Minute, "h": time.Hour}[strings.TrimSpace(unit)]
	if !ok || err != nil || per == 0 || !(n > 0) || math.IsInf(n, 0) {
		return nil, fmt.Errorf("COUNTER_RATE_LIMIT=%s: want requests per client per second, minute or hour, such as 10/s or 600/m", spec)
	}
	burst := max(1, int(math.Ceil(min(n, 1e6))))
	if s := strings.TrimSpace(getenv("COUNTER_RATE_BURST")); s != "" {
		if burst, err = strconv.Atoi(s); err != nil || burst < 1 {
			return nil, fmt.Errorf("COUNTER_RATE_BURST=%s: want a whole number of requests, at least 1", s)
		}
	}
	return newLimiter(rate.Limit(n/per.Seconds()), burst, proxies), nil
}

// trustProxyFromEnv reads COUNTER_TRUST_PROXY: the number of proxies in
// front whose X-Forwarded-For entries to trust (default 0), for the rate
// limit and for visitor ids.
func trustProxyFromEnv(getenv func(string) string) (int, error) {
	s := strings.TrimSpace(getenv("COUNTER_TRUST_PROXY"))
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("COUNTER_TRUST_PROXY=%s: want the number of proxies in front (0, 1, 2…)", s)
	}
	return n, nil
}

// allow takes a token from r's client's bucket. When the bucket is empty it
// takes nothing and says how long until a token is there.
func (l *limiter) allow(r *http.Request) (bool, time.Duration) {
	key := l.clientOf(r)
	now := l.now()
	l.mu.Lock()
	c := l.clients[key]
	if c == nil {
		if len(l.clients) >= l.max {
			l.evict(now)
		}
		c = &client{bucket: rate.NewLimiter(l.limit, l.burst)}
		l.clients[key] = c
		if !l.sweeping {
			l.sweeping = true
			time.AfterFunc(l.sweepEvery(), l.sweep)
		}
	}
	c.seen = now
	bucket := c.bucket
	l.mu.Unlock()
	res := bucket.ReserveN(now, 1)
	if !res.OK() { // burst < 1 cannot happen; be safe
		return false, time.Second
	}
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return false, d
	}
	return true, 0
}

// wait reports how long r's client must wait for a token, without taking
// one: 0 when a token is there.
func (l *limiter) wait(r *http.Request) time.Duration {
	key := l.clientOf(r)
	now := l.now()
	l.mu.Lock()
	c := l.clients[key]
	l.mu.Unlock()
	if c == nil {
		return 0 // a new client's bucket is full
	}
	if tokens := c.bucket.TokensAt(now); tokens < 1 {
		return time.Duration(math.Ceil((1 - tokens) / float64(l.limit) * float64(time.Second)))
	}
	return 0
}

// evict drops one tracked client to make room for a new one: among
// evictSample clients (Go's map order varies from one range to the next),
// the one with the most tokens left, and of those the one seen longest ago.
// l.mu is held.
func (l *limiter) evict(now time.Time) {
	var (
		victim netip.Prefix
		best   *client
		most   float64
		n      int
	)
	for k, c := range l.clients {
		tokens := c.bucket.TokensAt(now)
		if best == nil || tokens > most || tokens == most && c.seen.Before(best.seen) {
			victim, best, most = k, c, tokens
		}
		if n++; n == evictSample {
			break
		}
	}
	delete(l.clients, victim)
}

// sweep drops the clients whose buckets are full again and runs again
// while any are left.
func (l *limiter) sweep() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sweepAt(l.now())
	if l.sweeping = len(l.clients) > 0; l.sweeping {
		time.AfterFunc(l.sweepEvery(), l.sweep)
	}
}

// sweepEvery is the time between sweeps: the refill time, but not so often
// that sweeping a full map costs much.
func (l *limiter) sweepEvery() time.Duration {
	return max(l.idle, 100*time.Millisecond)
}

func (l *limiter) sweepAt(now time.Time) {
	for k, c := range l.clients {
		if now.Sub(c.seen) >= l.idle {
			delete(l.clients, k)
		}
	}
}

// clientOf is the client's address as a prefix (see [counter.ClientAddr]):
// an IPv4 address or an IPv6 /64.
func (l *limiter) clientOf(r *http.Request) netip.Prefix {
	addr := counter.ClientAddr(r, l.proxies)
	if !addr.IsValid() {
		addr = netip.IPv6Unspecified()
	}
	bits := 64
	if addr.Is4() {
		bits = 32
	}
	p, _ := addr.Prefix(bits)
	return p
}

// wrap answers 429 Too Many Requests, with Retry-After in whole seconds,
// to a client over its limit, without calling h: nothing is counted. The
// answer is an SVG badge for badge handlers, so that <img> shows something.
// wrap limits h. A refused request answers 429 with Retry-After and counts
// nothing; it carries the CORS headers the handlers would have sent to an
// origin in origins, so a page's fetch can read the 429. CORS preflights are
// not limited: they never count, and refusing one would hide the real answer.
func (l *limiter) wrap(h http.Handler, badge bool, origins []string) http.Handler {
	contentType := "application/json; charset=utf-8"
	body := []byte(`{"error":"too many requests"}`)
	if badge {
		contentType = "image/svg+xml"
		body = counter.Badge{Label: "visitors", Message: "too many requests", Color: "lightgrey"}.AppendSVG(nil)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			h.ServeHTTP(w, r)
			return
		}
		ok, wait := l.allow(r)
		if ok {
			h.ServeHTTP(w, r)
			return
		}
		hdr := w.Header()
		if len(origins) > 0 {
			hdr.Add("Vary", "Origin")
			if o := r.Header.Get("Origin"); o != "" {
				if slices.Contains(origins, o) {
					hdr.Set("Access-Control-Allow-Origin", o)
				} else if slices.Contains(origins, "*") {
					hdr.Set("Access-Control-Allow-Origin", "*")
				}
			}
		}
		hdr.Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
		hdr.Set("Content-Type", contentType)
		hdr.Set("Cache-Control", "no-store")
		hdr.Set("X-Content-Type-Options", "nosniff")
		if badge {
			hdr.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
		}
		w.WriteHeader(http.StatusTooManyRequests)
		if r.Method != http.MethodHead {
			_, _ = w.Write(body)
		}
	})
}
