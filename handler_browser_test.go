package counter_test

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/resumecounter/counter"
	"github.com/resumecounter/counter/internal/testenv"
)

// TestHandlersInBrowser loads, in Chromium, a page from one origin that
// embeds a badge from the handlers' origin and fetches their JSON. The page
// is served as http://127.0.0.1:P (listed in AllowedOrigins) and as
// http://localhost:P (not listed): the badge shows on both, the JSON is
// readable only from the listed origin, and a preflighted POST counts once.
func TestHandlersInBrowser(t *testing.T) {
	testenv.Browser(t)
	pages := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		api := html.EscapeString(r.URL.Query().Get("api"))
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><meta charset="utf-8"><title>page</title>
<body data-api="%s"><p>Visitors: <img id="badge" alt="visitors" src="%s/badge/visitors"></p></body>`, api, api)
	}))
	defer pages.Close()
	allowed := pages.URL
	foreign := strings.Replace(pages.URL, "127.0.0.1", "localhost", 1)

	store := counter.NewMemory()
	logger, logs := newLogBuffer()
	opts := counter.HandlerOptions{AllowedOrigins: []string{allowed}, Logger: logger}
	mux := http.NewServeMux()
	mux.Handle("/api/{key}", counter.JSONHandler(store, opts))
	mux.Handle("/badge/{key}", counter.BadgeHandler(store, opts))
	var preflights, requests atomic.Int64
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		if r.Method == http.MethodOptions {
			preflights.Add(1)
		}
		mux.ServeHTTP(w, r)
	}))
	defer api.Close()

	out := testenv.RunNode(t, 90*time.Second, "testdata/handlers_browser.cjs",
		allowed+"/?api="+api.URL, foreign+"/?api="+api.URL)
	api.Close()
	var results []struct {
		Origin        string
		ImgComplete   bool
		ImgWidth      int
		ImgHeight     int
		ConsoleErrors []string
		Fetches       []struct {
			Name   string
			OK     bool
			Status int
			Count  int64
			Type   string
			Error  string
		}
	}
	if err := json.Unmarshal(out, &results); err != nil {
		t.Fatalf("script output %q: %v", out, err)
	}
	if len(results) != 2 {
		t.Fatalf("%d results, want 2: %s", len(results), out)
	}
	for i, r := range results {
		wantOrigin := []string{allowed, foreign}[i]
		if r.Origin != wantOrigin {
			t.Errorf("page origin %q, want %q", r.Origin, wantOrigin)
		}
		if !r.ImgComplete || r.ImgWidth <= 0 || r.ImgHeight <= 0 {
			t.Errorf("%s: badge not shown: complete %v, natural size %dx%d", r.Origin, r.ImgComplete, r.ImgWidth, r.ImgHeight)
		}
		if len(r.Fetches) != 3 {
			t.Fatalf("%s: %d fetches, want 3", r.Origin, len(r.Fetches))
		}
		first, post, read := r.Fetches[0], r.Fetches[1], r.Fetches[2]
		if i == 0 {
			for _, f := range r.Fetches {
				if !f.OK || f.Status != 200 || f.Type != "number" || f.Count < 1 {
					t.Errorf("%s: fetch %s from the allowed origin: %+v", r.Origin, f.Name, f)
				}
			}
			if post.Count != first.Count+1 {
				t.Errorf("preflighted POST counted %d after GET's %d: the preflight counted, or the POST did not", post.Count, first.Count)
			}
			if read.Count != post.Count {
				t.Errorf("hit=false read %d after POST's %d", read.Count, post.Count)
			}
		} else {
			for _, f := range r.Fetches {
				if f.OK || !strings.Contains(f.Error, "Failed to fetch") {
					t.Errorf("%s: fetch %s from a foreign origin was not blocked: %+v", r.Origin, f.Name, f)
				}
			}
			if len(r.ConsoleErrors) == 0 || !strings.Contains(strings.Join(r.ConsoleErrors, "\n"), "CORS") {
				t.Errorf("%s: no CORS error in the console: %q", r.Origin, r.ConsoleErrors)
			}
		}
	}
	if preflights.Load() < 1 {
		t.Errorf("no preflight request reached the server; the POST test did not test one")
	}
	// Counted: on the listed origin the badge, the GET and the POST; on the
	// foreign one the badge and the GET, which the browser sends (a simple
	// request) but whose answer it hides, while the POST's preflight
	// fails, so the POST is never sent. Reads and preflights never count.
	const want = 3 + 2
	n, err := store.Count(context.Background(), "visitors")
	if err != nil || n != want {
		t.Errorf("count after both pages = %d, %v; want %d (%d requests, %d preflights)", n, err, want, requests.Load(), preflights.Load())
	}
	if strings.Contains(logs.String(), `"level":"ERROR"`) {
		t.Errorf("errors logged:\n%s", logs)
	}
}
