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
// and count exactly when shouldCount says they must: one visit for a
// request that counts (answered 200), none for any other.
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
		{"visitors", "optout=1&show=today/count&days=3", "", "", 0, true},
		{"visitors", "days=7&optout=0", "", "", 1, false},
		{"visitors", "format=shields&hit=1&show=visitors", "", "", 0, false},
	}
	for _, s := range seeds {
		f.Add(s.key, s.query, s.inm, s.origin, s.method, s.badge)
	}
	methods := []string{"GET", "POST", "HEAD", "OPTIONS", "PUT", "DELETE", "PATCH", "TRACE", "CONNECT", "BREW"}
	f.Fuzz(func(t *testing.T, key, query, inm, origin string, method uint8, badge bool) {
		m := counter.NewMemory()
		if _, err := m.Add(context.Background(), "visitors", 41); err != nil {
			t.Fatal(err)
		}
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

		// A plain store answers 501 to what needs visitors or history: ?days=
		// or a show= other than count (HEAD answers carry no body to say so).
		q, _ := url.ParseQuery(query)
		asksVisits := q.Has("days") || q.Has("show") && q.Get("show") != "count"
		notTracked := w.Code == http.StatusNotImplemented && (asksVisits || strings.Contains(w.Body.String(), "visitors are not tracked") ||
			strings.Contains(w.Body.String(), "daily history is not kept"))
		if w.Code >= 500 && !notTracked {
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
		want := int64(0)
		if shouldCount(meth, query, badge) {
			want = 1
			if w.Code != 200 {
				t.Errorf("%s key %q query %q: status %d, want 200", meth, key, query, w.Code)
			}
		}
		if after-before != want {
			t.Errorf("%s key %q query %q (badge %v): count went from %d to %d with status %d, want +%d",
				meth, key, query, badge, before, after, w.Code, want)
		}
	})
}

// shouldCount says, from the handlers' documentation rather than their
// code, whether a request for a valid key counts: a GET or POST whose
// query is at most 1024 bytes, well escaped in the parameters read (the
// first of each name), with a valid hit (counting unless false or 0, or
// unless the JSON handler answers format=shields, which counts only on
// hit=true), and valid badge parameters where they apply.
func shouldCount(method, rawQuery string, badge bool) bool {
	if method != http.MethodGet && method != http.MethodPost || len(rawQuery) > 1024 {
		return false
	}
	params := map[string]string{}
	for _, part := range strings.Split(rawQuery, "&") {
		name, value, _ := strings.Cut(part, "=")
		name, err := url.QueryUnescape(name)
		if err != nil {
			continue
		}
		switch name {
		case "hit", "format", "label", "color", "labelColor", "style", "show", "days", "optout":
		default:
			continue
		}
		if _, seen := params[name]; seen {
			continue
		}
		if params[name], err = url.QueryUnescape(value); err != nil {
			return false // 400 malformed query
		}
	}
	count := true
	format, hasFormat := params["format"]
	if hasFormat && !badge {
		if format != "shields" {
			return false
		}
		count = false
	}
	if hit, ok := params["hit"]; ok {
		switch hit {
		case "false", "0":
			count = false
		case "true", "1":
			count = true
		default:
			return false
		}
	}
	if badge || hasFormat {
		b := counter.Badge{Label: "visitors", Color: "blue", LabelColor: "#555", Style: counter.StyleFlat}
		changed := false
		for name, dst := range map[string]*string{"label": &b.Label, "color": &b.Color, "labelColor": &b.LabelColor} {
			if v, ok := params[name]; ok {
				*dst, changed = v, true
			}
		}
		if v, ok := params["style"]; ok {
			b.Style, changed = counter.Style(v), true
		}
		if changed && (len(b.Color) > 32 || len(b.LabelColor) > 32 || b.Validate() != nil) {
			return false
		}
	}
	// Visitor parameters over a plain store: opted out reads, a number
	// other than the count or any days answer 501 (or 400 if invalid).
	if v, ok := params["optout"]; ok {
		switch v {
		case "1", "true":
			count = false
		case "0", "false":
		default:
			return false
		}
	}
	if v, ok := params["show"]; ok && (badge || hasFormat) && v != "count" && v != "count/count" {
		return false
	}
	if _, ok := params["days"]; ok && !badge && !hasFormat {
		return false
	}
	return count
}
