package faultproxy_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/resumecounter/counter/internal/faultproxy"
)

// upstream is a server that counts the requests it applies and answers
// with their number.
func upstream(t *testing.T) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		n := hits.Add(1)
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, r.Method+" "+r.URL.Path+" "+string(b)+" #"+itoa(n))
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

type result struct {
	status int
	body   string
	header http.Header
	err    error
}

func post(ctx context.Context, c *http.Client, url string) result {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url+"/x", strings.NewReader("body"))
	resp, err := c.Do(req)
	if err != nil {
		return result{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return result{status: resp.StatusCode, body: string(b), header: resp.Header, err: err}
}

func TestModes(t *testing.T) {
	for _, tc := range []struct {
		mode      faultproxy.Mode
		status    int
		errType   string
		forwarded int64
		errIs     error // for transport failures
		anyErr    bool
	}{
		{mode: faultproxy.Pass, status: 200, forwarded: 1},
		{mode: faultproxy.Status500, status: 500, errType: "com.amazonaws.dynamodb.v20120810#InternalServerError"},
		{mode: faultproxy.Throttle, status: 400, errType: "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException"},
		{mode: faultproxy.Throttling, status: 400, errType: "com.amazon.coral.availability#ThrottlingException"},
		{mode: faultproxy.ForwardThen500, status: 500, errType: "com.amazonaws.dynamodb.v20120810#InternalServerError", forwarded: 1},
		{mode: faultproxy.Reset, errIs: syscall.ECONNRESET},
		{mode: faultproxy.ForwardThenReset, errIs: syscall.ECONNRESET, forwarded: 1},
		{mode: faultproxy.Refuse, errIs: syscall.ECONNREFUSED},
	} {
		t.Run(tc.mode.String(), func(t *testing.T) {
			srv, hits := upstream(t)
			p := faultproxy.New(t, srv.URL)
			tr := &http.Transport{}
			defer tr.CloseIdleConnections()
			c := &http.Client{Transport: tr}
			if r := post(context.Background(), c, p.URL()); r.err != nil || r.status != 200 {
				t.Fatalf("warm-up in Pass: %d %v", r.status, r.err)
			}
			p.Set(tc.mode) // also cuts the warm connection held in tr's pool
			r := post(context.Background(), c, p.URL())
			switch {
			case tc.errIs != nil:
				if !errors.Is(r.err, tc.errIs) {
					t.Fatalf("error = %v, want %v", r.err, tc.errIs)
				}
			case r.err != nil:
				t.Fatal(r.err)
			case r.status != tc.status:
				t.Fatalf("status = %d, want %d", r.status, tc.status)
			case tc.errType != "":
				var e struct {
					Type string `json:"__type"`
				}
				if err := json.Unmarshal([]byte(r.body), &e); err != nil || e.Type != tc.errType {
					t.Fatalf("body %q: __type %q, want %q (%v)", r.body, e.Type, tc.errType, err)
				}
				if ct := r.header.Get("Content-Type"); ct != "application/x-amz-json-1.0" {
					t.Fatalf("Content-Type = %q", ct)
				}
				if r.header.Get("X-Amz-Crc32") == "" {
					t.Fatal("no X-Amz-Crc32 header")
				}
			case r.body != "POST /x body #2":
				t.Fatalf("forwarded answer = %q", r.body)
			}
			if got := p.Forwarded() - 1; got != tc.forwarded {
				t.Errorf("Forwarded after the fault = %d, want %d", got, tc.forwarded)
			}
			if got := hits.Load() - 1; got != tc.forwarded {
				t.Errorf("upstream applied %d requests, want %d", got, tc.forwarded)
			}
			wantReq := int64(2)
			if tc.mode == faultproxy.Refuse {
				wantReq = 1
			}
			if got := p.Requests(); got != wantReq {
				t.Errorf("Requests = %d, want %d", got, wantReq)
			}
			p.Set(faultproxy.Pass)
			if r := post(context.Background(), c, p.URL()); r.err != nil || r.status != 200 {
				t.Fatalf("after switching back to Pass: %d %v", r.status, r.err)
			}
		})
	}
}

func TestHangUntilModeChanges(t *testing.T) {
	srv, hits := upstream(t)
	p := faultproxy.New(t, srv.URL)
	c := &http.Client{Transport: &http.Transport{}}
	p.Set(faultproxy.Hang)

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if r := post(ctx, c, p.URL()); !errors.Is(r.err, context.DeadlineExceeded) {
		t.Fatalf("hung request: error = %v, want DeadlineExceeded", r.err)
	}

	done := make(chan result, 1)
	go func() { done <- post(context.Background(), c, p.URL()) }()
	select {
	case r := <-done:
		t.Fatalf("request answered while hanging: %+v", r)
	case <-time.After(100 * time.Millisecond):
	}
	p.Set(faultproxy.Pass) // releases the hung request: its connection is closed
	select {
	case r := <-done:
		if r.err == nil {
			t.Fatalf("released request got an answer %q, want a closed connection", r.body)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("hung request not released by the mode switch")
	}
	if hits.Load() != 0 || p.Forwarded() != 0 {
		t.Fatalf("hung requests reached the server: %d", hits.Load())
	}
}

func TestSetForAndDelay(t *testing.T) {
	srv, hits := upstream(t)
	p := faultproxy.New(t, srv.URL)
	c := &http.Client{Transport: &http.Transport{}}
	p.SetFor(faultproxy.Throttle, 2)
	var statuses []int
	for range 3 {
		r := post(context.Background(), c, p.URL())
		if r.err != nil {
			t.Fatal(r.err)
		}
		statuses = append(statuses, r.status)
	}
	if statuses[0] != 400 || statuses[1] != 400 || statuses[2] != 200 || p.Mode() != faultproxy.Pass {
		t.Fatalf("SetFor(Throttle, 2): statuses %v, mode after %v", statuses, p.Mode())
	}

	p.SetDelay(150 * time.Millisecond)
	start := time.Now()
	if r := post(context.Background(), c, p.URL()); r.err != nil || r.status != 200 {
		t.Fatalf("Delay: %d %v", r.status, r.err)
	}
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Fatalf("Delay answered after %v, want at least 150ms", d)
	}
	// A client that gives up before the delay ends: the request still
	// reaches the server, as over a slow network.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if r := post(ctx, c, p.URL()); !errors.Is(r.err, context.DeadlineExceeded) {
		t.Fatalf("error = %v, want DeadlineExceeded", r.err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for p.Forwarded() != 3 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if hits.Load() != 3 || p.Forwarded() != 3 {
		t.Fatalf("server applied %d, Forwarded %d; want 3", hits.Load(), p.Forwarded())
	}
}
