package counter_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/resumecounter/counter"
)

// FuzzHandlerQuery sends arbitrary keys, queries, methods and headers to
// both handlers over a healthy store: they never panic, never answer 5xx,
// always answer a body of their content type (valid JSON, well-formed SVG),
// and count at most one visit, only for a GET or POST answered 200.
func FuzzHandlerQuery(f *testing.F) {
	seeds := []struct {
		key, query, inm, origin string
		method                  uint8
		badge                   bool
	}{
		{"visitors", "", "", "", 0, false},
		{"visitors", "hit=false", `"x"`, "https://me.example", 0, true},
		{"", "format=shields&label=a%22b&color=red", "*", "", 1, false},
		{"page:about", "label=%E2%9C%93&style=for-the-badge&labelColor=%23abc", "", "https://evil.example", 0, true},
		{"-x", "hit=maybe", "", "", 2, false},
		{"a/b", "hit=%zz", "", "", 3, true},
		{"visitors", "label=" + strings.Repeat("%41", 70), "", "", 0, true},
		{"visitors", "style=plastic;color=blue&&=&label", "W/\"1\", \"2\"", "null", 4, false},
		{strings.Repeat("k", 129), "", "", "", 5, true},
		{"visitors", "format=shields&hit=true&style=flat-square", "", "", 1, false},
	}
	for _, s := range seeds {
		f.Add(s.key, s.query, s.inm, s.origin, s.method, s.badge)
	}
	methods := []string{"GET", "POST", "HEAD", "OPTIONS", "PUT", "DELETE", "PATCH", "TRACE", "CONNECT", "BREW"}
	f.Fuzz(func(t *testing.T, key, query, inm, origin string, method uint8, badge bool) {
		m := counter.NewMemory()
		m.Add(context.Background(), "visitors", 41)
		logger, _ := newLogBuffer()
		opts := counter.HandlerOptions{AllowedOrigins: []string{"https://me.example"}, Logger: logger}
		h := counter.JSONHandler(m, opts)
		if badge {
			h = counter.BadgeHandler(m, opts)
		}
		meth := methods[int(method)%len(methods)]
		r := (&http.Request{
			Method: meth,
			URL:    &url.URL{Path: "/api/x", RawQuery: query},
			Header: http.Header{},
			Host:   "counter.example",
		}).WithContext(context.Background())
		r.SetPathValue("key", key)
		if inm != "" {
			r.Header.Set("If-None-Match", inm)
		}
		if origin != "" {
			r.Header.Set("Origin", origin)
		}
		lookup := key
		if lookup == "" {
			lookup = "visitors"
		}
		before, _ := m.Count(context.Background(), lookup)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)

		if w.Code >= 500 {
			t.Fatalf("%s key %q query %q: status %d over a healthy store: %s", meth, key, query, w.Code, w.Body)
		}
		if w.Header().Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("no nosniff: %v", w.Header())
		}
		if w.Code == http.StatusNoContent || w.Code == http.StatusNotModified || meth == http.MethodHead {
			if w.Body.Len() != 0 {
				t.Errorf("%d to %s with a body", w.Code, meth)
			}
		} else if badge {
			if ct := w.Header().Get("Content-Type"); ct != "image/svg+xml" {
				t.Errorf("Content-Type %q", ct)
			}
			if err := svgWellFormedErr(w.Body.Bytes()); err != nil {
				t.Errorf("query %q: broken SVG: %v\n%s", query, err, w.Body)
			}
		} else {
			if ct := w.Header().Get("Content-Type"); ct != "application/json; charset=utf-8" {
				t.Errorf("Content-Type %q", ct)
			}
			if !json.Valid(w.Body.Bytes()) {
				t.Errorf("query %q: invalid JSON %q", query, w.Body)
			}
		}
		if counter.CheckKey(lookup) != nil {
			return
		}
		after, _ := m.Count(context.Background(), lookup)
		switch d := after - before; {
		case d == 0:
		case d == 1 && w.Code == 200 && (meth == "GET" || meth == "POST"):
		default:
			t.Errorf("%s %q: count went from %d to %d with status %d", meth, query, before, after, w.Code)
		}
	})
}
