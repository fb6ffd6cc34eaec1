package counter_test

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
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

// bareHandler writes body with the headers a minimal hand-written counter
// endpoint sets (with cors, the allowed origin's too): the baseline the
// handlers are measured against.
func bareHandler(contentType string, body []byte, cors bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		if cors {
			h.Set("Vary", "Origin")
			if origin := r.Header.Get("Origin"); origin == "https://me.example" {
				h.Set("Access-Control-Allow-Origin", origin)
			}
		}
		h.Set("Content-Type", contentType)
		h.Set("Cache-Control", "no-cache, no-store, must-revalidate, max-age=0")
		h.Set("X-Content-Type-Options", "nosniff")
		w.Write(body)
	})
}

// benchAgainst measures h over b.N requests (ns/op and allocs/op are h's)
// and base over as many, interleaved in chunks so that load from other
// processes falls on both alike, and reports h's time as a multiple of
// base's ("x-bare") and base's own ns/op.
func benchAgainst(b *testing.B, h, base http.Handler, r *http.Request) {
	b.Helper()
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

// captureResponse returns the body and Content-Type h answers to r.
func captureResponse(b *testing.B, h http.Handler, r *http.Request) ([]byte, string) {
	b.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != 200 {
		b.Fatalf("status %d: %s", w.Code, w.Body)
	}
	return w.Body.Bytes(), w.Header().Get("Content-Type")
}

// BenchmarkJSONHandler counts a visit over the memory store through
// JSONHandler, against a bare handler writing the same bytes.
//
//	go test -run '^$' -bench 'Handler$' -benchtime 1s .
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
			h := counter.JSONHandler(counter.NewMemory(), bc.opts)
			r := httptest.NewRequest(http.MethodGet, "/count", nil)
			r.Header.Set("Origin", "https://me.example")
			body, ct := captureResponse(b, h, r)
			benchAgainst(b, h, bareHandler(ct, body, len(bc.opts.AllowedOrigins) > 0), r)
		})
	}
}

// BenchmarkBadgeHandler counts a visit through BadgeHandler, against a bare
// handler writing the badge's bytes ("bytes": the cost of drawing plus the
// handler's) and against one that draws the same badge with Badge.AppendSVG
// into a reused buffer on every request ("render": the handler's own cost).
//
//	go test -run '^$' -bench 'Handler$' -benchtime 1s .
func BenchmarkBadgeHandler(b *testing.B) {
	h := counter.BadgeHandler(counter.NewMemory(), counter.HandlerOptions{})
	r := httptest.NewRequest(http.MethodGet, "/count", nil)
	body, ct := captureResponse(b, h, r)
	b.Run("bytes", func(b *testing.B) {
		benchAgainst(b, h, bareHandler(ct, body, false), r)
	})
	b.Run("render", func(b *testing.B) {
		var n int64 = 1e6
		var buf []byte // one buffer reused: the cheapest a single-threaded renderer can be
		bare := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n++
			msg := string(counter.AppendNumber(buf[:0], n, counter.FormatGrouped))
			buf = counter.Badge{Label: "visitors", Message: msg, Color: "blue", LabelColor: "#555", Style: counter.StyleFlat}.AppendSVG(buf[:0])
			svg := buf
			h := w.Header()
			h.Set("Content-Type", ct)
			h.Set("Cache-Control", "no-cache, no-store, must-revalidate, max-age=0")
			h.Set("X-Content-Type-Options", "nosniff")
			w.Write(svg)
		})
		benchAgainst(b, h, bare, r)
	})
}

// BenchmarkJSONHandlerVisitors counts a visit over the memory store through
// JSONHandler with visitors off (the store itself) and on (NewVisitors over
// it: bot check, salted visitor id, markers), each against the same bare
// handler in the same run. The figure to read is on's x-bare over off's;
// in the "on" runs the baseline is visitors off, so x-bare is that ratio.
//
//	go test -run '^$' -bench 'JSONHandlerVisitors' -benchtime 1s .
func BenchmarkJSONHandlerVisitors(b *testing.B) {
	newReq := func() *http.Request {
		r := httptest.NewRequest(http.MethodGet, "/count", nil)
		r.RemoteAddr = "192.0.2.1:1234"
		r.Header.Set("User-Agent", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36")
		return r
	}
	off := counter.JSONHandler(counter.NewMemory(), counter.HandlerOptions{})
	on := counter.JSONHandler(counter.NewVisitors(counter.NewMemory(), counter.VisitorOptions{}), counter.HandlerOptions{})
	r := newReq()
	b.Run("off", func(b *testing.B) {
		body, ct := captureResponse(b, off, r)
		benchAgainst(b, off, bareHandler(ct, body, false), r)
	})
	b.Run("on", func(b *testing.B) {
		// The baseline here is the handler with visitors off, so that
		// x-bare is the ratio on/off directly.
		benchAgainst(b, on, off, r)
	})
	b.Run("on-new-visitors", func(b *testing.B) {
		// Every request from another address: a new visitor marker each.
		var i uint32
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			i++
			r.RemoteAddr = netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}).String() + ":1"
			on.ServeHTTP(w, r)
		})
		benchAgainst(b, h, off, newReq())
	})
}
