package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
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

// Many clients: the map stays bounded, new clients beyond it share one
// bucket, and idle clients are dropped once their bucket is full again.
func TestLimiterBounded(t *testing.T) {
	clock := &fakeClock{time.Unix(1e9, 0)}
	l := newLimiter(1, 2, 0) // 1/s, burst 2: a bucket refills in 2s
	l.now = clock.now
	l.sweeping = true // no timer: the test sweeps by hand
	l.max = 100
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
	if allowed != 100+2 {
		t.Fatalf("%d requests from 10,000 clients allowed, want 102: one for each tracked client and a burst of 2 shared by the rest", allowed)
	}
	if ok, _ := l.allow(request("10.0.0.99:1")); !ok {
		t.Fatal("a tracked client's second request refused: its own bucket holds another token")
	}
	if ok, _ := l.allow(request("10.0.0.99:1")); ok {
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
	if ok, _ := l.allow(request("10.200.0.1:1")); !ok {
		t.Fatal("a new client refused once there was room")
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
