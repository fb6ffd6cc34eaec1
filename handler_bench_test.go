package counter_test

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/resumecounter/counter"
)

// nopResponseWriter is a ResponseWriter that keeps nothing, so benchmarks measure
// the handlers rather than a recorder. Both sides of a comparison use it.
type nopResponseWriter struct {
	h      http.Header
	status int
	n      int
}

func (w *nopResponseWriter) Header() http.Header { return w.h }
func (w *nopResponseWriter) WriteHeader(s int)   { w.status = s }
func (w *nopResponseWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = 200
	}
	w.n += len(p)
	return len(p), nil
}
func (w *nopResponseWriter) reset() { clear(w.h); w.status, w.n = 0, 0 }

// Header values the bare handlers assign, as the cheapest hand-written
// handler would: slices made once, no Header.Set.
var (
	bareNosniff = []string{"nosniff"}
	bareNoStore = []string{"no-cache, no-store, must-revalidate, max-age=0"}
	barePragma  = []string{"no-cache"}
	bareExpires = []string{"0"}
	bareVary    = []string{"Origin"}
	bareOrigin  = []string{"https://me.example"}
	bareExpose  = []string{"Etag, Counter-Not-Counted"}
)

// bareHandler is the baseline the handlers are measured against: a minimal
// hand-written counter endpoint doing the same work the cheapest way. It
// counts key in the same store, assigns the same headers as ready-made
// slices (with cors, Vary and the allowed origin's Access-Control-Allow-Origin
// too) and writes the body that body appends for the count into one reused
// buffer (benchmarks serve one request at a time).
func bareHandler(m *counter.Memory, contentType string, cors bool, body func(dst []byte, n int64) []byte) http.Handler {
	ct := []string{contentType}
	var csp []string // SVG answers forbid scripts, as BadgeHandler's do
	if contentType == "image/svg+xml" {
		csp = []string{"default-src 'none'; style-src 'unsafe-inline'"}
	}
	var buf []byte
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := m.Increment(r.Context(), "visitors")
		if err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		h := w.Header()
		if cors {
			h["Vary"] = bareVary
			if origin := r.Header["Origin"]; len(origin) == 1 && origin[0] == bareOrigin[0] {
				h["Access-Control-Allow-Origin"], h["Access-Control-Expose-Headers"] = bareOrigin, bareExpose
			}
		}
		h["X-Content-Type-Options"] = bareNosniff
		h["Content-Type"] = ct
		if csp != nil {
			h["Content-Security-Policy"] = csp
		}
		h["Cache-Control"], h["Pragma"], h["Expires"] = bareNoStore, barePragma, bareExpires
		buf = body(buf[:0], n)
		w.Write(buf)
	})
}

// bareJSON appends the JSON answer for count n of "visitors".
func bareJSON(dst []byte, n int64) []byte {
	dst = append(dst, `{"key":"visitors","count":`...)
	dst = strconv.AppendInt(dst, n, 10)
	return append(dst, '}')
}

// checkSameAnswer fails unless the handler and the bare handler that pair
// makes answer r with the same headers and body, each over a new store:
// the two sides do the same work.
func checkSameAnswer(b *testing.B, pair func(m *counter.Memory) (h, base http.Handler), r *http.Request) {
	b.Helper()
	answer := func(h http.Handler) (http.Header, string) {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != 200 {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
		return w.Header(), w.Body.String()
	}
	h, _ := pair(counter.NewMemory())
	_, base := pair(counter.NewMemory())
	hh, hb := answer(h)
	bh, bb := answer(base)
	if hb != bb {
		b.Fatalf("the bare handler answers\n%s\nthe handler\n%s", bb, hb)
	}
	for k := range hh {
		if !slices.Equal(hh[k], bh[k]) {
			b.Fatalf("header %s: handler %q, bare handler %q", k, hh[k], bh[k])
		}
	}
	if len(hh) != len(bh) {
		b.Fatalf("headers: handler %v, bare handler %v", hh, bh)
	}
}

// benchAgainst measures h over b.N requests (ns/op and allocs/op are h's)
// and base over as many, interleaved in chunks so that load from other
// processes falls on both alike, and reports h's time as a multiple of
// base's ("x-bare") and base's own ns/op.
func benchAgainst(b *testing.B, pair func(m *counter.Memory) (h, base http.Handler), r *http.Request) {
	b.Helper()
	h, base := pair(counter.NewMemory()) // one store, counted in by both
	w := &nopResponseWriter{h: make(http.Header)}
	for range 100 { // warm the pools and the key
		h.ServeHTTP(w, r)
		w.reset()
		base.ServeHTTP(w, r)
		w.reset()
	}
	const chunk = 1000
	var bare time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; done += chunk {
		n := min(chunk, b.N-done)
		b.StopTimer()
		start := time.Now()
		for range n {
			base.ServeHTTP(w, r)
			w.reset()
		}
		bare += time.Since(start)
		b.StartTimer()
		for range n {
			h.ServeHTTP(w, r)
			w.reset()
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed())/float64(bare), "x-bare")
	b.ReportMetric(float64(bare.Nanoseconds())/float64(b.N), "bare-ns/op")
}

// With default options over Memory, counting through either handler
// allocates nothing: no deadline is set up for a store that never waits.
func TestHandlerDefaultOptionsAllocs(t *testing.T) {
	for _, tc := range []struct {
		name string
		h    http.Handler
	}{
		{"JSONHandler", counter.JSONHandler(counter.NewMemory(), counter.HandlerOptions{})},
		{"BadgeHandler", counter.BadgeHandler(counter.NewMemory(), counter.HandlerOptions{})},
	} {
		r := httptest.NewRequest(http.MethodGet, "/count", nil)
		w := &nopResponseWriter{h: make(http.Header)}
		tc.h.ServeHTTP(w, r)
		if w.status != 200 {
			t.Fatalf("%s: status %d", tc.name, w.status)
		}
		if got := testing.AllocsPerRun(1000, func() { w.reset(); tc.h.ServeHTTP(w, r) }); got != 0 {
			t.Errorf("%s with default options allocates %.1f times per request, want 0", tc.name, got)
		}
	}
}

// BenchmarkJSONHandler counts a visit over the memory store through
// JSONHandler, against a bare handler doing the same in the same store (see
// bareHandler).
//
//	go test -run '^$' -bench 'Handler$' -count 5 .
func BenchmarkJSONHandler(b *testing.B) {
	for _, bc := range []struct {
		name string
		opts counter.HandlerOptions
	}{
		{"default", counter.HandlerOptions{}},
		{"no-timeout", counter.HandlerOptions{Timeout: -1}},
		{"cors", counter.HandlerOptions{AllowedOrigins: []string{"https://me.example"}}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			pair := func(m *counter.Memory) (http.Handler, http.Handler) {
				return counter.JSONHandler(m, bc.opts),
					bareHandler(m, "application/json; charset=utf-8", len(bc.opts.AllowedOrigins) > 0, bareJSON)
			}
			r := httptest.NewRequest(http.MethodGet, "/count", nil)
			r.Header.Set("Origin", "https://me.example")
			checkSameAnswer(b, pair, r)
			benchAgainst(b, pair, r)
		})
	}
}

// BenchmarkBadgeHandler counts a visit through BadgeHandler with default
// options, against a bare handler that counts in the same store and draws
// the same badge with Badge.AppendSVG into a reused buffer ("render": the
// handler's own cost), and against one that counts and writes ready-made
// SVG bytes ("bytes": the cost of drawing plus the handler's).
//
//	go test -run '^$' -bench 'Handler$' -count 5 .
func BenchmarkBadgeHandler(b *testing.B) {
	r := httptest.NewRequest(http.MethodGet, "/count", nil)
	b.Run("render", func(b *testing.B) {
		pair := func(m *counter.Memory) (http.Handler, http.Handler) {
			var num []byte
			return counter.BadgeHandler(m, counter.HandlerOptions{}),
				bareHandler(m, "image/svg+xml", false, func(dst []byte, n int64) []byte {
					num = counter.AppendNumber(num[:0], n, counter.FormatGrouped)
					return counter.Badge{Label: "hits", Message: string(num), Color: "blue", LabelColor: "#555", Style: counter.StyleFlat}.AppendSVG(dst)
				})
		}
		checkSameAnswer(b, pair, r)
		benchAgainst(b, pair, r)
	})
	b.Run("bytes", func(b *testing.B) {
		svg := counter.Badge{Label: "hits", Message: "1,234", Color: "blue", LabelColor: "#555", Style: counter.StyleFlat}.AppendSVG(nil)
		pair := func(m *counter.Memory) (http.Handler, http.Handler) {
			return counter.BadgeHandler(m, counter.HandlerOptions{}),
				bareHandler(m, "image/svg+xml", false, func(dst []byte, _ int64) []byte { return append(dst, svg...) })
		}
		benchAgainst(b, pair, r)
	})
}

// BenchmarkJSONHandlerVisitors counts a visit through JSONHandler with
// visitors on (NewVisitors over the memory store: bot check, salted visitor
// id, markers, today's numbers) against the same handler with visitors off
// (the store itself) in the same run and store: x-bare is on's time as a
// multiple of off's. "returning" is one visitor again and again;
// "new-visitors" comes from another address every request (past 100,000
// requests Memory's marker cap is reached, and it logs so once a minute).
//
//	go test -run '^$' -bench 'JSONHandlerVisitors' -count 5 .
func BenchmarkJSONHandlerVisitors(b *testing.B) {
	const ua = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
	newReq := func() *http.Request {
		r := httptest.NewRequest(http.MethodGet, "/count", nil)
		r.RemoteAddr = "192.0.2.1:1234"
		r.Header.Set("User-Agent", ua)
		return r
	}
	b.Run("returning", func(b *testing.B) {
		pair := func(m *counter.Memory) (http.Handler, http.Handler) {
			return counter.JSONHandler(counter.NewVisitors(m, counter.VisitorOptions{}), counter.HandlerOptions{}),
				counter.JSONHandler(m, counter.HandlerOptions{})
		}
		benchAgainst(b, pair, newReq())
	})
	b.Run("new-visitors", func(b *testing.B) {
		pair := func(m *counter.Memory) (http.Handler, http.Handler) {
			on := counter.JSONHandler(counter.NewVisitors(m, counter.VisitorOptions{}), counter.HandlerOptions{})
			var i uint32
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				i++
				r.RemoteAddr = netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}).String() + ":1"
				on.ServeHTTP(w, r)
			}), counter.JSONHandler(m, counter.HandlerOptions{})
		}
		benchAgainst(b, pair, newReq())
	})
}
