package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"

	"github.com/resumecounter/counter"
	"github.com/resumecounter/counter/boltstore"
)

// TestHealth checks /healthz and /readyz on a running server: 200, never
// counted, never rate-limited.
func TestHealth(t *testing.T) {
	s := start(t, "COUNTER_STORE=bolt", "COUNTER_DATA=health.db", "COUNTER_RATE_LIMIT=1/m", "COUNTER_RATE_BURST=1")
	for range 5 {
		for _, path := range []string{"/healthz", "/readyz"} {
			res, body := get(t, s.URL+path)
			if res.StatusCode != http.StatusOK || body != "ok\n" || res.Header.Get("Cache-Control") != "no-store" {
				t.Fatalf("GET %s: %s %q, Cache-Control %q; want 200 ok, no-store", path, res.Status, body, res.Header.Get("Cache-Control"))
			}
		}
	}
	if got := getJSON(t, s.URL+"/api/home?hit=false"); got.Count != 0 {
		t.Fatalf("health checks counted: home at %d", got.Count)
	}
	if res, _ := get(t, s.URL+"/api/home"); res.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("second counting request past a burst of 1: %s; want 429 (the health checks must not use the budget, but this one must)", res.Status)
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		if res, _ := get(t, s.URL+path); res.StatusCode != http.StatusOK {
			t.Fatalf("GET %s once the client is limited: %s; want 200", path, res.Status)
		}
	}
}

// slowReader fails or stalls Count as told.
type slowReader struct {
	calls atomic.Int64
	err   error
	stall bool
}

func (r *slowReader) Count(ctx context.Context, _ string) (int64, error) {
	r.calls.Add(1)
	if r.stall {
		<-ctx.Done()
		return 0, ctx.Err()
	}
	return 0, r.err
}

// TestReadyzStoreDown: a store that fails or stalls makes /readyz answer
// 503 within the deadline, with the reason logged and kept out of the body.
func TestReadyzStoreDown(t *testing.T) {
	for _, tc := range []struct {
		name  string
		store *slowReader
	}{
		{"fails", &slowReader{err: errors.New("dial tcp 10.1.2.3:5432: connection refused")}},
		{"stalls", &slowReader{stall: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logged syncBuffer
			h := &readiness{store: tc.store, log: slog.New(slog.NewTextHandler(&logged, nil))}
			begin := time.Now()
			var wg sync.WaitGroup
			for range 10 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					rec := httptest.NewRecorder()
					h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
					if rec.Code != http.StatusServiceUnavailable || rec.Body.String() != "not ready\n" {
						t.Errorf("readyz: %d %q; want 503 not ready", rec.Code, rec.Body.String())
					}
				}()
			}
			wg.Wait()
			if took := time.Since(begin); took > readyTimeout+2*time.Second {
				t.Errorf("readyz took %v; want about %v at most", took, readyTimeout)
			}
			// Probes that overlap share one read: all ten overlap the
			// stalled one.
			if n := tc.store.calls.Load(); tc.store.stall && n != 1 {
				t.Errorf("10 probes during a stalled read made %d store reads; want 1, shared", n)
			}
			log := logged.String()
			if !strings.Contains(log, "not ready") || tc.store.err != nil && !strings.Contains(log, "connection refused") ||
				tc.store.stall && !strings.Contains(log, "deadline exceeded") {
				t.Errorf("log does not give the reason:\n%s", log)
			}
			if strings.Count(log, "not ready") != 1 {
				t.Errorf("want one line for the failure, not one per probe:\n%s", log)
			}
			tc.store.err, tc.store.stall = nil, false
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
			if rec.Code != http.StatusOK || !strings.Contains(logged.String(), "ready: the store answers again") {
				t.Errorf("after recovery: %d; log:\n%s", rec.Code, logged.String())
			}
		})
	}
}

var metricsListening = regexp.MustCompile(`msg="metrics listening" addr=(\S+)`)

// scrape reads the metrics of s once its metrics listener is up.
func scrape(t *testing.T, s *server) string {
	t.Helper()
	m := metricsListening.FindStringSubmatch(s.stderr.String())
	if m == nil {
		t.Fatalf("no metrics listener in the log:\n%s", s.stderr.String())
	}
	res, body := get(t, "http://"+m[1]+"/metrics")
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET /metrics: %s %s", res.Status, res.Header.Get("Content-Type"))
	}
	return body
}

// TestMetrics scrapes a running server after counted and uncounted visits,
// lints the exposition and checks the labels hold no key, address or
// User-Agent.
func TestMetrics(t *testing.T) {
	const key = "metrics-secret-key"
	const agent = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0 MetricsProbe/7"
	s := start(t, "COUNTER_STORE=bolt", "COUNTER_DATA=metrics.db", "COUNTER_METRICS_ADDR=127.0.0.1:0", "COUNTER_TRUST_PROXY=1")
	browser := http.Header{"User-Agent": {agent}, "X-Forwarded-For": {"203.0.113.77"}}
	getJSONWith(t, s.URL+"/api/"+key, browser)                                                           // counted
	getJSONWith(t, s.URL+"/api/"+key+"?visit=v1", browser)                                               // counted
	getJSONWith(t, s.URL+"/api/"+key+"?visit=v1", browser)                                               // repeat
	getJSONWith(t, s.URL+"/api/"+key, http.Header{"User-Agent": {"curl/8.5.0"}})                         // bot
	getJSONWith(t, s.URL+"/api/"+key+"?hit=false", browser)                                              // read-only
	if res, _ := getWith(t, s.URL+"/badge/"+key+"?optout=1", browser); res.StatusCode != http.StatusOK { // opt-out
		t.Fatalf("badge: %s", res.Status)
	}
	if res, _ := get(t, s.URL+"/api/bad%20key"); res.StatusCode != http.StatusBadRequest {
		t.Fatalf("a bad key: %s; want 400", res.Status)
	}
	if res, _ := get(t, s.URL+"/metrics"); res.StatusCode != http.StatusNotFound {
		t.Errorf("GET /metrics on the public listener: %s; want 404", res.Status)
	}

	body := scrape(t, s)
	problems, err := promlint.New(strings.NewReader(body)).Lint()
	if err != nil {
		t.Fatalf("lint: %v", err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
	for _, want := range []string{
		`counter_visits_total{result="counted"} 2`,
		`counter_visits_total{result="repeat"} 1`,
		`counter_visits_total{result="bot"} 1`,
		`counter_visits_total{result="read-only"} 1`,
		`counter_visits_total{result="opt-out"} 1`,
		`counter_http_requests_total{code="200",route="/api/{key}"} 5`,
		`counter_http_requests_total{code="200",route="/badge/{key}"} 1`,
		`counter_http_requests_total{code="400",route="/api/{key}"} 1`,
		`counter_http_requests_total{code="404",route="/"} 1`,
		`counter_store_duration_seconds_count{op="record_visit"} 3`,
		`counter_store_duration_seconds_count{op="day_salt"}`,
		`counter_store_duration_seconds_count{op="stats"}`,
		`counter_marker_cap_reached_total 0`,
		`go_goroutines `,
		`process_resident_memory_bytes `,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("no %s in the metrics", want)
		}
	}
	for _, secret := range []string{key, "203.0.113.77", "MetricsProbe", "curl", "v1\"", "127.0.0.1"} {
		if strings.Contains(body, secret) {
			t.Errorf("the metrics hold %q", secret)
		}
	}
}

// TestMetricsOffByDefault: without COUNTER_METRICS_ADDR no listener starts
// and the public one serves no metrics.
func TestMetricsOffByDefault(t *testing.T) {
	s := start(t, "COUNTER_STORE=memory")
	if res, _ := get(t, s.URL+"/metrics"); res.StatusCode != http.StatusNotFound {
		t.Errorf("GET /metrics: %s; want 404", res.Status)
	}
	if strings.Contains(s.stderr.String(), "metrics listening") {
		t.Errorf("a metrics listener started:\n%s", s.stderr.String())
	}
}

// TestMetricsMarkerCap counts the visits a bolt store with a cap of one
// marker refuses to mark, and their store errors by kind.
func TestMetricsMarkerCap(t *testing.T) {
	b, err := boltstore.Open(filepath.Join(t.TempDir(), "cap.db"), boltstore.Options{MaxMarkers: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	m := newMetrics()
	v := counter.NewVisitors(m.meter(b).(counter.VisitStore), counter.VisitorOptions{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	h := m.handler(counterMux(v))
	for _, ua := range []string{"Firefox/1", "Firefox/2", "Firefox/3"} {
		req := httptest.NewRequest(http.MethodGet, "/api/home", nil)
		req.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 "+ua)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Fatalf("visit: %d %s", rec.Code, rec.Body)
		}
	}
	if got := testutil.ToFloat64(m.markersFull); got != 2 {
		t.Errorf("counter_marker_cap_reached_total = %v; want 2 (two new visitors past a cap of 1)", got)
	}
	if got := testutil.ToFloat64(m.storeErrors.WithLabelValues("record_visit", "markers_full")); got != 2 {
		t.Errorf(`counter_store_errors_total{op="record_visit",kind="markers_full"} = %v; want 2`, got)
	}
	if got := testutil.ToFloat64(m.visits.WithLabelValues("counted")); got != 3 {
		t.Errorf(`counter_visits_total{result="counted"} = %v; want 3 (past the cap visits count as hits)`, got)
	}
}

// counterMux serves /api/{key} from v, as counter serve does.
func counterMux(v *counter.Visitors) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/api/{key}", counter.JSONHandler(v, counter.HandlerOptions{}))
	return mux
}

// TestLogSettings checks COUNTER_LOG_FORMAT and COUNTER_LOG_LEVEL, and that
// bad values stop the server at start.
func TestLogSettings(t *testing.T) {
	t.Run("json", func(t *testing.T) {
		s := launch(t, "COUNTER_STORE=memory", "COUNTER_LOG_FORMAT=json")
		waitFor(t, s, `"msg":"listening"`)
		for _, line := range strings.Split(strings.TrimSpace(s.stderr.String()), "\n") {
			var rec map[string]any
			if err := json.Unmarshal([]byte(line), &rec); err != nil || rec["level"] == nil || rec["msg"] == nil {
				t.Errorf("not a JSON log record with level and msg: %s (%v)", line, err)
			}
		}
	})
	t.Run("warn", func(t *testing.T) {
		s := launch(t, "COUNTER_STORE=memory", "COUNTER_LOG_LEVEL=warn", "COUNTER_ACCESS_LOG=on", "PORT=", "COUNTER_HOST=256.0.0.1")
		<-s.exited
		log := s.stderr.String()
		if strings.Contains(log, "level=INFO") || !strings.Contains(log, "level=ERROR") {
			t.Errorf("at level warn, want errors only:\n%s", log)
		}
	})
	for _, bad := range []string{"COUNTER_LOG_FORMAT=xml", "COUNTER_LOG_LEVEL=loud", "COUNTER_ACCESS_LOG=yes", "COUNTER_METRICS_ADDR=9090"} {
		t.Run(bad, func(t *testing.T) {
			s := launch(t, "COUNTER_STORE=memory", bad)
			select {
			case <-s.exited:
			case <-time.After(20 * time.Second):
				t.Fatal("server still running 20s after a bad start")
			}
			if s.err == nil || !strings.Contains(s.stderr.String(), bad) {
				t.Fatalf("exit %v, log:\n%s", s.err, s.stderr.String())
			}
		})
	}
}

// waitFor waits until the server's log holds want.
func waitFor(t *testing.T, s *server, want string) {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for !strings.Contains(s.stderr.String(), want) {
		select {
		case <-s.exited:
			t.Fatalf("server exited: %v\n%s", s.err, s.stderr.String())
		case <-deadline:
			t.Fatalf("no %s in the log within 20s:\n%s", want, s.stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// TestAccessLogPrivacy: the access log has a line per request, and no log
// line of the server ever holds the client's address, its forwarded
// address, its User-Agent or its visit id.
func TestAccessLogPrivacy(t *testing.T) {
	const agent = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0 PrivacyProbe/3"
	for _, format := range []string{"text", "json"} {
		t.Run(format, func(t *testing.T) {
			s := launch(t, "COUNTER_STORE=bolt", "COUNTER_DATA=access.db", "COUNTER_ACCESS_LOG=on", "COUNTER_LOG_LEVEL=debug",
				"COUNTER_LOG_FORMAT="+format, "COUNTER_TRUST_PROXY=1", "COUNTER_RATE_LIMIT=1/m", "COUNTER_RATE_BURST=2")
			if format == "json" {
				waitFor(t, s, `"msg":"listening"`)
				m := regexp.MustCompile(`"msg":"listening","addr":"([^"]+)"`).FindStringSubmatch(s.stderr.String())
				s.URL = "http://" + m[1]
			} else {
				waitFor(t, s, "msg=listening")
				s.URL = "http://" + listening.FindStringSubmatch(s.stderr.String())[1]
			}
			started := len(s.stderr.String())
			browser := http.Header{"User-Agent": {agent}, "X-Forwarded-For": {"198.51.100.23"}, "Referer": {"https://referrer.example/private"}}
			getWith(t, s.URL+"/api/home?visit=secret-visit-id", browser)
			getWith(t, s.URL+"/badge/home?visit=secret-visit-id", browser)
			getWith(t, s.URL+"/api/home", browser) // rate-limited: 429, the address is in the limiter only
			getWith(t, s.URL+"/readyz", browser)
			getWith(t, s.URL+"/no/such/page", browser)
			waitFor(t, s, "/no/such/page")
			log := s.stderr.String()
			requests := log[started:]
			for _, want := range []string{"/api/{key}", "/badge/{key}", "429", "/readyz", "404"} {
				if !strings.Contains(requests, want) {
					t.Errorf("no %s in the access log:\n%s", want, requests)
				}
			}
			for _, secret := range []string{"PrivacyProbe", "Firefox", "198.51.100", "secret-visit-id", "referrer.example"} {
				if strings.Contains(log, secret) {
					t.Errorf("the log holds %q:\n%s", secret, log)
				}
			}
			// The server's own address appears once, in the listening line;
			// the client's (127.0.0.1 with another port) never.
			if n := strings.Count(requests, "127.0.0.1"); n != 0 {
				t.Errorf("the access log holds a loopback address %d times:\n%s", n, requests)
			}
		})
	}
}
