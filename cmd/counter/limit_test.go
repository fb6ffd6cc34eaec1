package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

func TestLimiterFromEnv(t *testing.T) {
	for _, tc := range []struct {
		env       map[string]string
		wantLimit rate.Limit // 0: no limiter
		wantBurst int
		wantProxy int
		wantErr   string
	}{
		{env: nil},
		{env: map[string]string{"COUNTER_TRUST_PROXY": "1"}}, // alone: nothing to limit
		{env: map[string]string{"COUNTER_RATE_LIMIT": "10/s"}, wantLimit: 10, wantBurst: 10},
		{env: map[string]string{"COUNTER_RATE_LIMIT": " 600 / m "}, wantLimit: 10, wantBurst: 600},
		{env: map[string]string{"COUNTER_RATE_LIMIT": "3600/h", "COUNTER_RATE_BURST": "5"}, wantLimit: 1, wantBurst: 5},
		{env: map[string]string{"COUNTER_RATE_LIMIT": "0.5/s"}, wantLimit: 0.5, wantBurst: 1},
		{env: map[string]string{"COUNTER_RATE_LIMIT": "10/s", "COUNTER_TRUST_PROXY": "2"}, wantLimit: 10, wantBurst: 10, wantProxy: 2},
		{env: map[string]string{"COUNTER_RATE_LIMIT": "10"}, wantErr: "COUNTER_RATE_LIMIT=10: want"},
		{env: map[string]string{"COUNTER_RATE_LIMIT": "10/d"}, wantErr: "COUNTER_RATE_LIMIT=10/d: want"},
		{env: map[string]string{"COUNTER_RATE_LIMIT": "0/s"}, wantErr: "COUNTER_RATE_LIMIT=0/s: want"},
		{env: map[string]string{"COUNTER_RATE_LIMIT": "-1/s"}, wantErr: "COUNTER_RATE_LIMIT=-1/s: want"},
		{env: map[string]string{"COUNTER_RATE_LIMIT": "NaN/s"}, wantErr: "COUNTER_RATE_LIMIT=NaN/s: want"},
		{env: map[string]string{"COUNTER_RATE_LIMIT": "Inf/s"}, wantErr: "COUNTER_RATE_LIMIT=Inf/s: want"},
		{env: map[string]string{"COUNTER_RATE_LIMIT": "10/s", "COUNTER_RATE_BURST": "0"}, wantErr: "COUNTER_RATE_BURST=0: want"},
		{env: map[string]string{"COUNTER_RATE_LIMIT": "10/s", "COUNTER_RATE_BURST": "x"}, wantErr: "COUNTER_RATE_BURST=x: want"},
		{env: map[string]string{"COUNTER_RATE_LIMIT": "10/s", "COUNTER_TRUST_PROXY": "yes"}, wantErr: "COUNTER_TRUST_PROXY=yes: want"},
		{env: map[string]string{"COUNTER_TRUST_PROXY": "-1"}, wantErr: "COUNTER_TRUST_PROXY=-1: want"},
	} {
		t.Run(fmt.Sprint(tc.env), func(t *testing.T) {
			l, err := limiterFromEnv(func(k string) string { return tc.env[k] })
			switch {
			case tc.wantErr != "":
				if err == nil || len(err.Error()) < len(tc.wantErr) || err.Error()[:len(tc.wantErr)] != tc.wantErr {
					t.Fatalf("error %v, want one starting %q", err, tc.wantErr)
				}
			case err != nil:
				t.Fatal(err)
			case tc.wantLimit == 0:
				if l != nil {
					t.Fatalf("a limiter without COUNTER_RATE_LIMIT: %+v", l)
				}
			case l == nil:
				t.Fatal("no limiter")
			case l.limit != tc.wantLimit || l.burst != tc.wantBurst || l.proxies != tc.wantProxy:
				t.Fatalf("limit %v burst %d proxies %d, want %v %d %d", l.limit, l.burst, l.proxies, tc.wantLimit, tc.wantBurst, tc.wantProxy)
			}
		})
	}
}

func TestLimiterClientOf(t *testing.T) {
	for _, tc := range []struct {
		name    string
		proxies int
		remote  string
		xff     []string
		want    string
	}{
		{"peer", 0, "192.0.2.7:5555", nil, "192.0.2.7/32"},
		{"forwarded header ignored unless trusted", 0, "192.0.2.7:5555", []string{"198.51.100.1"}, "192.0.2.7/32"},
		{"IPv6 peer by /64", 0, "[2001:db8:1:2:aaaa::1]:443", nil, "2001:db8:1:2::/64"},
		{"IPv4-mapped IPv6 peer", 0, "[::ffff:192.0.2.7]:443", nil, "192.0.2.7/32"},
		{"one proxy: its entry, the last", 1, "10.0.0.1:1", []string{"203.0.113.9, 198.51.100.1"}, "198.51.100.1/32"},
		{"one proxy, entries in two headers", 1, "10.0.0.1:1", []string{"203.0.113.9", "198.51.100.1"}, "198.51.100.1/32"},
		{"two proxies", 2, "10.0.0.1:1", []string{"203.0.113.9, 198.51.100.1, 10.0.0.2"}, "198.51.100.1/32"},
		{"proxy entry with a port", 1, "10.0.0.1:1", []string{"198.51.100.1:4711"}, "198.51.100.1/32"},
		{"proxy entry IPv6", 1, "10.0.0.1:1", []string{"2001:db8::5"}, "2001:db8::/64"},
		{"no header behind a proxy: the peer", 1, "10.0.0.1:1", nil, "10.0.0.1/32"},
		{"fewer entries than proxies: the peer", 2, "10.0.0.1:1", []string{"198.51.100.1"}, "10.0.0.1/32"},
		{"garbage entry: the peer", 1, "10.0.0.1:1", []string{"198.51.100.1, unknown"}, "10.0.0.1/32"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLimiter(10, 10, tc.proxies)
			r := httptest.NewRequest(http.MethodGet, "/api/visitors", nil)
			r.RemoteAddr = tc.remote
			for _, v := range tc.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := l.clientOf(r).String(); got != tc.want {
				t.Fatalf("client %s, want %s", got, tc.want)
			}
		})
	}
}

// fakeClock is a settable time for the limiter.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func request(remote string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/api/visitors", nil)
	r.RemoteAddr = remote
	return r
}

func TestLimiterBuckets(t *testing.T) {
	clock := &fakeClock{time.Unix(1e9, 0)}
	l := newLimiter(1, 3, 0) // 1/s, burst 3
	l.now = clock.now
	l.sweeping = true // no timer: the test's clock stands still
	a, b := request("192.0.2.1:1"), request("192.0.2.2:1")
	for i := range 3 {
		if ok, _ := l.allow(a); !ok {
			t.Fatalf("request %d of a burst of 3 refused", i+1)
		}
	}
	ok, wait := l.allow(a)
	if ok || wait != time.Second {
		t.Fatalf("4th request at once: allowed %v, wait %v; want refused, wait 1s", ok, wait)
	}
	if ok, _ := l.allow(b); !ok {
		t.Fatal("another client shares the first one's bucket")
	}
	clock.t = clock.t.Add(999 * time.Millisecond)
	if ok, wait := l.allow(a); ok || wait != time.Millisecond {
		t.Fatalf("after 999ms: allowed %v, wait %v; want refused, wait 1ms (a refusal takes no token)", ok, wait)
	}
	clock.t = clock.t.Add(time.Millisecond)
	if ok, _ := l.allow(a); !ok {
		t.Fatal("refused after the bucket refilled one token")
	}
	if ok, _ := l.allow(a); ok {
		t.Fatal("a second request allowed with one token refilled")
	}
}

// Many clients: the map stays bounded, each new client gets a bucket of its
// own (none is refused for others' requests), a client that spent its
// bucket stays tracked through the flood, and idle clients are dropped
// once their bucket is full again.
func TestLimiterBounded(t *testing.T) {
	clock := &fakeClock{time.Unix(1e9, 0)}
	l := newLimiter(1, 2, 0) // 1/s, burst 2: a bucket refills in 2s
	l.now = clock.now
	l.sweeping = true // no timer: the test sweeps by hand
	l.max = 100
	spent := request("192.0.2.200:1")
	for range 2 {
		if ok, _ := l.allow(spent); !ok {
			t.Fatal("a request within the burst refused")
		}
	}
	allowed := 0
	for i := range 10_000 {
		if ok, _ := l.allow(request(fmt.Sprintf("10.%d.%d.%d:1", i>>16, i>>8&0xff, i&0xff))); ok {
			allowed++
		}
	}
	l.mu.Lock()
	n := len(l.clients)
	l.mu.Unlock()
	if n != 100 {
		t.Fatalf("%d clients tracked, want the cap of 100", n)
	}
	if allowed != 10_000 {
		t.Fatalf("%d first requests from 10,000 clients allowed, want all: a new client was refused for the others' requests", allowed)
	}
	if ok, _ := l.allow(spent); ok {
		t.Fatal("the client that spent its burst before the flood was forgotten: the flood evicted the most limited client")
	}
	if ok, _ := l.allow(request("10.0.39.15:1")); !ok { // the last of the flood
		t.Fatal("a tracked client's second request refused: its own bucket holds another token")
	}
	if ok, _ := l.allow(request("10.0.39.15:1")); ok {
		t.Fatal("a tracked client's third request allowed with a burst of 2")
	}

	clock.t = clock.t.Add(1999 * time.Millisecond)
	l.allow(request("10.0.0.0:1")) // seen again
	l.mu.Lock()
	l.sweepAt(clock.t)
	n = len(l.clients)
	l.mu.Unlock()
	if n != 100 {
		t.Fatalf("%d clients left 1.999s after their last request, want all 100 (buckets not yet full)", n)
	}
	clock.t = clock.t.Add(time.Millisecond)
	l.mu.Lock()
	l.sweepAt(clock.t)
	n = len(l.clients)
	l.mu.Unlock()
	if n != 1 {
		t.Fatalf("%d clients left 2s after their last request, want 1 (the one seen since)", n)
	}
}

// TestLimiterEvictsLeastLimited: a new client beyond the cap replaces the
// sampled client with the most tokens left.
func TestLimiterEvictsLeastLimited(t *testing.T) {
	clock := &fakeClock{time.Unix(1e9, 0)}
	l := newLimiter(1, 10, 0)
	l.now = clock.now
	l.sweeping = true
	l.max = evictSample
	for i := range evictSample { // client i spends i+1 tokens
		for range i + 1 {
			l.allow(request(fmt.Sprintf("192.0.2.%d:1", i)))
		}
	}
	l.allow(request("198.51.100.1:1"))
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.clients) != evictSample {
		t.Fatalf("%d clients tracked, want %d", len(l.clients), evictSample)
	}
	if _, ok := l.clients[netip.MustParsePrefix("192.0.2.0/32")]; ok {
		t.Fatal("the client with the most tokens left is still tracked")
	}
}

// The sweep runs on its own while clients are tracked, then stops.
func TestLimiterSweeps(t *testing.T) {
	l := newLimiter(100, 1, 0) // a bucket refills in 10ms
	l.allow(request("192.0.2.1:1"))
	l.allow(request("192.0.2.2:1"))
	deadline := time.Now().Add(5 * time.Second)
	for {
		l.mu.Lock()
		n, sweeping := len(l.clients), l.sweeping
		l.mu.Unlock()
		if n == 0 && !sweeping {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("5s on: %d clients tracked, sweeping %v; want none, and no sweep scheduled", n, sweeping)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestFloodLocksNobodyOut (issue 15, defect 5), on the server binary: a
// flood from more addresses than the limiters track, to /api and to the
// admin routes with wrong tokens, turns away neither a new visitor nor the
// owner's right token, and admin failures spend nothing of /api's limit.
func TestFloodLocksNobodyOut(t *testing.T) {
	s := start(t, "COUNTER_STORE=memory", "COUNTER_VISITORS=off", "COUNTER_RATE_LIMIT=5/m", "COUNTER_TRUST_PROXY=1",
		"COUNTER_ADMIN_TOKEN="+testToken)
	const flood = maxClients + maxClients/10
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	defer client.CloseIdleConnections()
	do := func(path, from, auth string) (int, error) {
		req, err := http.NewRequest(http.MethodGet, s.URL+path, nil)
		if err != nil {
			return 0, err
		}
		req.Header.Set("X-Forwarded-For", from)
		req.Header.Set("User-Agent", testBrowserUA)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		res, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.StatusCode, nil
	}
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		problems []string
	)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < flood; i += 8 {
				from := fmt.Sprintf("2001:db8:%x:%x::1", i>>16, i&0xffff)
				api, err1 := do("/api/visitors", from, "")
				adm, err2 := do("/admin/export", from, "Bearer wrong")
				if err1 != nil || err2 != nil || api != http.StatusOK || adm != http.StatusUnauthorized {
					mu.Lock()
					problems = append(problems, fmt.Sprintf("client %d: /api %d %v, wrong admin token %d %v; want 200 and 401", i, api, err1, adm, err2))
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	if len(problems) > 0 {
		t.Fatalf("during a flood from %d addresses:\n%s", flood, strings.Join(problems, "\n"))
	}
	for _, tc := range []struct {
		path, from, auth string
		want             int
	}{
		{"/api/visitors", "203.0.113.50", "", http.StatusOK},       // a new visitor
		{"/api/visitors", "2001:db8::1", "", http.StatusOK},        // one of the flood: 4 of its 5 left
		{"/admin/export", "203.0.113.51", bearerOK, http.StatusOK}, // the owner, from a new address
		{"/admin/export", "2001:db8::1", bearerOK, http.StatusOK},  // from an address of the flood
	} {
		if code, err := do(tc.path, tc.from, tc.auth); err != nil || code != tc.want {
			t.Errorf("GET %s from %s after the flood: %d %v, want %d", tc.path, tc.from, code, err, tc.want)
		}
	}
}
