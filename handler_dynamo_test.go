package counter_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/resumecounter/counter"
	"github.com/resumecounter/counter/internal/testenv"
)

// getURL fetches url from a real server and returns status and body.
func getURL(t *testing.T, url string) (int, string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, string(b)
}

// The handlers over DynamoDB (dynalite), through a real HTTP server: exact
// counts under concurrent requests, reads without counting.
func TestHandlersOverDynamo(t *testing.T) {
	store, _ := newDynamo(t, counter.DynamoOptions{})
	logger, logs := newLogBuffer()
	opts := counter.HandlerOptions{Logger: logger}
	srv := httptest.NewServer(mountAPI(counter.JSONHandler(store, opts)))
	defer srv.Close()
	badges := httptest.NewServer(mountAPI(counter.BadgeHandler(store, opts)))
	defer badges.Close()

	const workers, each = 8, 10
	var wg sync.WaitGroup
	for i := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				url := srv.URL + "/api/home"
				if i%2 == 1 {
					url = badges.URL + "/api/home"
				}
				res, err := http.Get(url)
				if err != nil {
					t.Error(err)
					return
				}
				_, err = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if err != nil {
					t.Errorf("GET %s: %v", url, err)
				}
				if res.StatusCode != http.StatusOK {
					t.Errorf("GET %s: %d", url, res.StatusCode)
				}
			}
		}()
	}
	wg.Wait()
	want := fmt.Sprintf(`{"key":"home","count":%d}`, workers*each)
	if code, body := getURL(t, srv.URL+"/api/home?hit=false"); code != 200 || body != want {
		t.Errorf("read: %d %s, want %s", code, body, want)
	}
	if code, body := getURL(t, srv.URL+"/api/home?format=shields"); code != 200 || !strings.Contains(body, `"message":"80"`) {
		t.Errorf("shields: %d %s", code, body)
	}
	if code, body := getURL(t, srv.URL+"/api/never?hit=false"); code != 200 || body != `{"key":"never","count":0}` {
		t.Errorf("read of a key never counted: %d %s", code, body)
	}
	if logs.String() != "" {
		t.Errorf("logged:\n%s", logs)
	}
}

// A missing table is a store failure: 503 with a generic body; the SDK's
// error reaches the log.
func TestHandlersOverMissingTable(t *testing.T) {
	store := counter.NewDynamo(testenv.Dynalite(t), counter.DynamoOptions{Table: "no-such-table"})
	logger, logs := newLogBuffer()
	srv := httptest.NewServer(mountAPI(counter.JSONHandler(store, counter.HandlerOptions{Logger: logger})))
	defer srv.Close()
	code, body := getURL(t, srv.URL+"/api/home")
	if code != 503 || body != `{"error":"unavailable"}` {
		t.Errorf("%d %s, want 503 {\"error\":\"unavailable\"}", code, body)
	}
	for _, s := range []string{"ResourceNotFoundException", "no-such-table", `"key":"home"`} {
		if !strings.Contains(logs.String(), s) {
			t.Errorf("log lacks %s:\n%s", s, logs)
		}
	}
}

// A DynamoDB endpoint that accepts connections and never answers: the
// visitor gets 504 after Timeout, not a hung request.
func TestHandlersOverHungDynamo(t *testing.T) {
	store := counter.NewDynamo(testenv.DynamoClient(testenv.HungEndpoint(t)), counter.DynamoOptions{})
	for _, badge := range []bool{false, true} {
		logger, logs := newLogBuffer()
		opts := counter.HandlerOptions{Timeout: 200 * time.Millisecond, Logger: logger}
		h := counter.JSONHandler(store, opts)
		if badge {
			h = counter.BadgeHandler(store, opts)
		}
		srv := httptest.NewServer(mountAPI(h))
		start := time.Now()
		code, body := getURL(t, srv.URL+"/api/home")
		elapsed := time.Since(start)
		srv.Close()
		if code != http.StatusGatewayTimeout {
			t.Errorf("badge=%v: status %d, want 504; body %s", badge, code, body)
		}
		if elapsed > 3*time.Second {
			t.Errorf("badge=%v: answered after %v with Timeout 200ms", badge, elapsed)
		}
		if !strings.Contains(logs.String(), "store timed out") || !strings.Contains(logs.String(), "deadline exceeded") {
			t.Errorf("badge=%v: log:\n%s", badge, logs)
		}
		if strings.Contains(body, "deadline") || strings.Contains(body, "127.0.0.1") {
			t.Errorf("badge=%v: body leaks the cause: %s", badge, body)
		}
	}
}
