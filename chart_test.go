package counter_test

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/resumecounter/counter"
)

// sampleDays is a deterministic history of n days ending on end: a weekly
// rhythm on a slow rise, with noise from a fixed linear congruential
// generator, and a quiet day now and then.
func sampleDays(n int, end counter.Date) []counter.Day {
	days := make([]counter.Day, n)
	seed := uint32(12345)
	rnd := func(k int) int64 {
		seed = seed*1664525 + 1013904223
		return int64(seed>>8) % int64(k)
	}
	for i := range days {
		d := end.AddDays(i - n + 1)
		weekday := int64(d.Time().Weekday())
		base := 40 + int64(i)*60/int64(max(n, 1))
		if weekday == 0 || weekday == 6 {
			base /= 2
		}
		hits := base + rnd(30)
		if rnd(17) == 0 {
			hits = 0
		}
		visitors := hits * (45 + rnd(20)) / 100
		days[i] = counter.Day{Date: d, Count: hits, Visitors: visitors}
	}
	return days
}

const sampleEnd = counter.Date("2026-12-01")

// fakeDays is a DayReader over a fixed series ending on sampleEnd. It
// records the calls and can fail or hang. It also has an Increment method,
// so a handler that counted through it would be seen.
type fakeDays struct {
	mu         sync.Mutex
	series     []counter.Day
	calls      []string // key/n
	increments int
	err        error
	hang       bool
}

func newFakeDays() *fakeDays {
	return &fakeDays{series: sampleDays(counter.MaxHistoryDays, sampleEnd)}
}

func (f *fakeDays) LastDays(ctx context.Context, key string, n int) ([]counter.Day, error) {
	f.mu.Lock()
	f.calls = append(f.calls, fmt.Sprintf("%s/%d", key, n))
	err, hang := f.err, f.hang
	f.mu.Unlock()
	if hang {
		<-ctx.Done()
		return nil, fmt.Errorf("fake: last days: %w", ctx.Err())
	}
	if err != nil {
		return nil, err
	}
	return f.series[len(f.series)-n:], nil
}

func (f *fakeDays) Increment(context.Context, string) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.increments++
	return 1, nil
}

func (f *fakeDays) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

var chartGoldens = []struct {
	name  string
	chart counter.Chart
}{
	{"30-days", counter.Chart{Key: "visitors", Days: sampleDays(30, sampleEnd)}},
	{"366-days-small", counter.Chart{Key: "home", Days: sampleDays(366, sampleEnd), Width: 200, Height: 100}},
	{"one-day", counter.Chart{Key: "page:about", Days: sampleDays(1, sampleEnd), Width: 300, Height: 120}},
	{"empty-history", counter.Chart{Key: "new", Days: make([]counter.Day, 0)}},
	{"all-zero", counter.Chart{Key: "quiet", Days: func() []counter.Day {
		d := sampleDays(7, sampleEnd)
		for i := range d {
			d[i].Count, d[i].Visitors = 0, 0
		}
		return d
	}()}},
	{"longest-key", counter.Chart{Key: strings.Repeat("page:", 25) + "end", Days: sampleDays(7, sampleEnd), Width: 300, Height: 120}},
	{"huge", counter.Chart{Key: "big", Days: []counter.Day{
		{Date: "2026-11-30", Count: 9_000_000_000_000_000_000, Visitors: 1},
		{Date: "2026-12-01", Count: 1, Visitors: 8_000_000_000_000_000_000},
	}, Width: 200, Height: 100}},
}

// TestChartGolden compares Chart.AppendSVG with testdata/chart and keeps
// docs/chart.svg, the README's picture, the library's own output.
func TestChartGolden(t *testing.T) {
	for _, c := range chartGoldens {
		got := c.chart.AppendSVG(nil)
		path := filepath.Join("testdata", "chart", c.name+".svg")
		checkGolden(t, path, got)
	}
	checkGolden(t, filepath.Join("docs", "chart.svg"), docsChart().AppendSVG(nil))
}

// docsChart is the chart shown in the README: 30 days of the sample.
func docsChart() counter.Chart {
	return counter.Chart{Key: "visitors", Days: sampleDays(30, sampleEnd), Width: 640, Height: 220}
}

var (
	barRe   = regexp.MustCompile(`M([0-9.]+) ([0-9.]+)v-([0-9.]+)h([0-9.]+)v([0-9.]+)z`)
	pointRe = regexp.MustCompile(`[ML]([0-9.]+) ([0-9.]+)`)
	pathRe  = regexp.MustCompile(`<path class="([hv])"[^>]* d="([^"]*)"`)
	textRe  = regexp.MustCompile(`<text [^>]*>([^<]*)</text>`)
)

// TestChartDraws checks what the chart shows against its input: one bar
// per day with hits, the tallest as tall as the plot, bar heights and line
// points proportional to the numbers, the axis texts, the title and
// description, both colour schemes, and a well-formed document.
func TestChartDraws(t *testing.T) {
	for _, c := range chartGoldens {
		t.Run(c.name, func(t *testing.T) {
			svg := c.chart.AppendSVG(nil)
			if err := xml.Unmarshal(svg, new(struct{})); err != nil {
				t.Fatalf("not well-formed XML: %v\n%s", err, svg)
			}
			s := string(svg)
			for _, want := range []string{`role="img"`, "<title>" + c.chart.Key + ": hits and visitors, last ", "<desc>", "@media (prefers-color-scheme:dark)", `xmlns="http://www.w3.org/2000/svg"`} {
				if !strings.Contains(s, want) {
					t.Errorf("no %q in\n%s", want, s)
				}
			}
			if strings.Contains(s, "<script") || strings.Contains(s, " on") {
				t.Errorf("script in the chart")
			}
			days := c.chart.Days
			var top, hits int64
			busy := 0
			for _, d := range days {
				top = max(top, d.Count, d.Visitors)
				hits += d.Count
				if d.Count > 0 {
					busy++
				}
			}
			h := c.chart.Height
			if h == 0 {
				h = counter.DefaultChartHeight
			}
			plotTop, plotBottom := 24.0, float64(h-18)
			paths := map[string]string{}
			for _, m := range pathRe.FindAllStringSubmatch(s, -1) {
				if _, dup := paths[m[1]]; !dup { // the first of each class; legend swatches come after
					paths[m[1]] = m[2]
				}
			}
			bars := barRe.FindAllStringSubmatch(paths["h"], -1)
			if len(days) > 0 && len(bars) != busy {
				t.Errorf("%d bars, want one for each of the %d days with hits", len(bars), busy)
			}
			bi := 0
			for _, d := range days {
				if d.Count == 0 {
					continue
				}
				if bi >= len(bars) {
					break
				}
				b := bars[bi]
				bi++
				y, _ := strconv.ParseFloat(b[2], 64)
				bh, _ := strconv.ParseFloat(b[3], 64)
				if y != plotBottom {
					t.Errorf("%s: bar starts at y %v, want the baseline %v", d.Date, y, plotBottom)
				}
				want := max(float64(d.Count)/float64(top)*(plotBottom-plotTop), 1) // at least 1 px
				if diff := bh - want; diff > 0.01 || diff < -0.01 {
					t.Errorf("%s: bar of %v px for %d hits (max %d), want %.2f", d.Date, bh, d.Count, top, want)
				}
			}
			if len(days) > 0 {
				points := pointRe.FindAllStringSubmatch(paths["v"], -1)
				if len(points) != len(days) {
					t.Fatalf("visitors line has %d points, want %d", len(points), len(days))
				}
				for i, d := range days {
					y, _ := strconv.ParseFloat(points[i][2], 64)
					want := plotBottom
					if top > 0 {
						want -= float64(d.Visitors) / float64(top) * (plotBottom - plotTop)
					}
					if diff := y - want; diff > 0.01 || diff < -0.01 {
						t.Errorf("%s: visitors point at y %v for %d visitors, want %.2f", d.Date, y, d.Visitors, want)
					}
				}
			}
			var texts []string
			for _, m := range textRe.FindAllStringSubmatch(s, -1) {
				texts = append(texts, m[1])
			}
			wantTexts := []string{string(counter.AppendNumber(nil, top, counter.FormatGrouped)), "hits", "visitors"}
			if top >= 1e15 {
				wantTexts[0] = string(counter.AppendNumber(nil, top, counter.FormatMetric))
			}
			if len(days) > 0 {
				wantTexts = append(wantTexts, string(days[0].Date))
			}
			if len(days) > 1 {
				wantTexts = append(wantTexts, string(days[len(days)-1].Date))
			}
			if strings.Join(texts, "|") != strings.Join(wantTexts, "|") {
				t.Errorf("texts %q, want %q", texts, wantTexts)
			}
			if len(days) > 0 && !strings.Contains(s, string(counter.AppendNumber(nil, hits, counter.FormatGrouped))+" hits") {
				t.Errorf("description lacks the total of %d hits", hits)
			}
		})
	}
}

func TestChartClampsSize(t *testing.T) {
	for _, c := range []struct{ w, h, wantW, wantH int }{
		{0, 0, 640, 220}, {1, 1, 200, 100}, {5000, 5000, 2000, 1000}, {333, 444, 333, 444},
	} {
		svg := string(counter.Chart{Key: "k", Days: sampleDays(3, sampleEnd), Width: c.w, Height: c.h}.AppendSVG(nil))
		want := fmt.Sprintf(`width="%d" height="%d" viewBox="0 0 %d %d"`, c.wantW, c.wantH, c.wantW, c.wantH)
		if !strings.Contains(svg, want) {
			t.Errorf("size %dx%d: want %s in %.200s", c.w, c.h, want, svg)
		}
	}
}

func TestChartEscapes(t *testing.T) {
	svg := counter.Chart{Key: `a<b>&"c"`, Days: []counter.Day{{Date: "<x>", Count: 1}}}.AppendSVG(nil)
	if err := xml.Unmarshal(svg, new(struct{})); err != nil {
		t.Fatalf("not well-formed: %v\n%s", err, svg)
	}
	if bytes.Contains(svg, []byte("a<b>")) || bytes.Contains(svg, []byte("<x>")) {
		t.Errorf("text not escaped:\n%s", svg)
	}
}

// TestChartNamesWholeKey checks that the title and aria-label name the
// whole key, however long: keys that share their first 64 (or 127)
// characters keep distinct accessible names.
func TestChartNamesWholeKey(t *testing.T) {
	var doc struct {
		Label string `xml:"aria-label,attr"`
		Title string `xml:"title"`
	}
	long := strings.Repeat("k", counter.MaxKeyLen-1)
	seen := map[string]string{}
	for _, key := range []string{long + "a", long + "b", strings.Repeat("x", 64) + "1", strings.Repeat("x", 64) + "2",
		strings.Repeat("é", 70) + "1", strings.Repeat("é", 70) + "2"} {
		svg := counter.Chart{Key: key, Days: sampleDays(7, sampleEnd)}.AppendSVG(nil)
		if err := xml.Unmarshal(svg, &doc); err != nil {
			t.Fatalf("not well-formed: %v\n%s", err, svg)
		}
		want := key + ": hits and visitors, last 7 days"
		if doc.Title != want || doc.Label != want {
			t.Errorf("key of %d characters: title %q, aria-label %q, want both %q", len([]rune(key)), doc.Title, doc.Label, want)
		}
		if other, ok := seen[doc.Label]; ok {
			t.Errorf("keys %q and %q share the accessible name %q", other, key, doc.Label)
		}
		seen[doc.Label] = key
	}
}

func TestChartDoesNotAllocate(t *testing.T) {
	for _, n := range []int{30, 366} {
		c := counter.Chart{Key: "visitors", Days: sampleDays(n, sampleEnd)}
		buf := make([]byte, 0, 64<<10)
		if a := testing.AllocsPerRun(100, func() { buf = c.AppendSVG(buf[:0]) }); a != 0 {
			t.Errorf("%d days: %v allocations per chart, want 0", n, a)
		}
	}
}

func TestChartHandler(t *testing.T) {
	type want struct {
		status int
		calls  string // the reader's calls, joined
		title  string // text expected in the body
	}
	cases := []struct {
		name, method, target string
		opts                 counter.HandlerOptions
		setup                func(*fakeDays)
		want                 want
	}{
		{"default", "GET", "/chart/home", counter.HandlerOptions{}, nil, want{200, "home/30", "home: hits and visitors, last 30 days"}},
		{"days 1", "GET", "/chart/home?days=1", counter.HandlerOptions{}, nil, want{200, "home/1", "last 1 day<"}},
		{"days 366", "GET", "/chart/home?days=366&width=2000&height=1000", counter.HandlerOptions{}, nil, want{200, "home/366", `width="2000" height="1000"`}},
		{"small", "GET", "/chart/home?width=200&height=100&v=2", counter.HandlerOptions{}, nil, want{200, "home/30", `width="200" height="100"`}},
		{"first wins", "GET", "/chart/home?days=7&days=400", counter.HandlerOptions{}, nil, want{200, "home/7", "last 7 days"}},
		{"HEAD", "HEAD", "/chart/home", counter.HandlerOptions{}, nil, want{200, "home/30", ""}},
		{"days 0", "GET", "/chart/home?days=0", counter.HandlerOptions{}, nil, want{400, "", "invalid days"}},
		{"days 367", "GET", "/chart/home?days=367", counter.HandlerOptions{}, nil, want{400, "", "invalid days"}},
		{"days text", "GET", "/chart/home?days=ten", counter.HandlerOptions{}, nil, want{400, "", "invalid days"}},
		{"days negative", "GET", "/chart/home?days=-1", counter.HandlerOptions{}, nil, want{400, "", "invalid days"}},
		{"days empty", "GET", "/chart/home?days=", counter.HandlerOptions{}, nil, want{400, "", "invalid days"}},
		{"days long", "GET", "/chart/home?days=00030", counter.HandlerOptions{}, nil, want{400, "", "invalid days"}},
		{"width small", "GET", "/chart/home?width=199", counter.HandlerOptions{}, nil, want{400, "", "invalid size"}},
		{"width big", "GET", "/chart/home?width=2001", counter.HandlerOptions{}, nil, want{400, "", "invalid size"}},
		{"height small", "GET", "/chart/home?height=99", counter.HandlerOptions{}, nil, want{400, "", "invalid size"}},
		{"height big", "GET", "/chart/home?height=1001", counter.HandlerOptions{}, nil, want{400, "", "invalid size"}},
		{"query too long", "GET", "/chart/home?x=" + strings.Repeat("a", 1100), counter.HandlerOptions{}, nil, want{414, "", "query too long"}},
		{"invalid key", "GET", "/chart/-bad", counter.HandlerOptions{}, nil, want{400, "", "invalid key"}},
		{"key not listed", "GET", "/chart/other", counter.HandlerOptions{Keys: []string{"home"}}, nil, want{404, "", "unknown key"}},
		{"key refused", "GET", "/chart/other", counter.HandlerOptions{AllowKey: func(string) bool { return false }}, nil, want{404, "", "unknown key"}},
		{"POST", "POST", "/chart/home", counter.HandlerOptions{}, nil, want{405, "", "method not allowed"}},
		{"OPTIONS", "OPTIONS", "/chart/home", counter.HandlerOptions{}, nil, want{204, "", ""}},
		{"store fails", "GET", "/chart/home", counter.HandlerOptions{}, func(f *fakeDays) { f.err = errors.New(storeSecret) }, want{503, "home/30", "unavailable"}},
		{"store hangs", "GET", "/chart/home", counter.HandlerOptions{Timeout: 20e6}, func(f *fakeDays) { f.hang = true }, want{504, "home/30", "timeout"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFakeDays()
			if c.setup != nil {
				c.setup(f)
			}
			logger, logs := newLogBuffer()
			c.opts.Logger = logger
			mux := http.NewServeMux()
			mux.Handle("/chart/{key}", counter.ChartHandler(f, c.opts))
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, httptest.NewRequest(c.method, c.target, nil))
			res := rec.Result()
			body := rec.Body.String()
			if res.StatusCode != c.want.status {
				t.Fatalf("status %d, want %d; body %s", res.StatusCode, c.want.status, body)
			}
			if got := strings.Join(f.Calls(), ","); got != c.want.calls {
				t.Errorf("reader calls %q, want %q", got, c.want.calls)
			}
			if f.increments != 0 {
				t.Errorf("the chart counted %d visits", f.increments)
			}
			if c.want.title != "" && !strings.Contains(body, c.want.title) {
				t.Errorf("body lacks %q:\n%.600s", c.want.title, body)
			}
			if strings.Contains(body, storeSecret) {
				t.Errorf("internal error text in the body")
			}
			if res.Header.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("no nosniff")
			}
			switch c.want.status {
			case 204:
				if res.Header.Get("Allow") != "GET, HEAD, OPTIONS" {
					t.Errorf("Allow %q", res.Header.Get("Allow"))
				}
				return
			case 200:
				if res.Header.Get("Cache-Control") != "no-cache" || res.Header.Get("Etag") == "" {
					t.Errorf("caching headers %q, ETag %q", res.Header.Get("Cache-Control"), res.Header.Get("Etag"))
				}
			default:
				if !strings.Contains(res.Header.Get("Cache-Control"), "no-store") {
					t.Errorf("error cached: %q", res.Header.Get("Cache-Control"))
				}
			}
			if res.Header.Get("Content-Type") != "image/svg+xml" || !strings.Contains(res.Header.Get("Content-Security-Policy"), "default-src 'none'") {
				t.Errorf("headers %v", res.Header)
			}
			if c.method == "HEAD" {
				if body != "" || res.Header.Get("Content-Length") == "" {
					t.Errorf("HEAD: body %d bytes, Content-Length %q", len(body), res.Header.Get("Content-Length"))
				}
				return
			}
			if err := xml.Unmarshal(rec.Body.Bytes(), new(struct{})); err != nil {
				t.Errorf("body is not an SVG: %v", err)
			}
			if c.want.status >= 500 && !strings.Contains(logs.String(), storeSecret) && !strings.Contains(logs.String(), "deadline") {
				t.Errorf("the cause was not logged: %s", logs)
			}
		})
	}
}

func TestChartHandlerETag(t *testing.T) {
	f := newFakeDays()
	h := counter.ChartHandler(f, counter.HandlerOptions{})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/?days=30", nil))
	etag := rec.Header().Get("Etag")
	req := httptest.NewRequest(http.MethodGet, "/?days=30", nil)
	req.Header.Set("If-None-Match", etag)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusNotModified || rec.Body.Len() != 0 || rec.Header().Get("Content-Type") != "" {
		t.Errorf("matching If-None-Match: %d, %d bytes, type %q", rec.Code, rec.Body.Len(), rec.Header().Get("Content-Type"))
	}
	// A new day of numbers is a new chart.
	f.mu.Lock()
	f.series[len(f.series)-1].Count++
	f.mu.Unlock()
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || rec.Header().Get("Etag") == etag {
		t.Errorf("after a change: %d, ETag %q (was %q)", rec.Code, rec.Header().Get("Etag"), etag)
	}
	if got := strings.Join(f.Calls(), ","); got != "visitors/30,visitors/30,visitors/30" {
		t.Errorf("calls %q: the default key is visitors", got)
	}
}

func TestChartHandlerCORS(t *testing.T) {
	h := counter.ChartHandler(newFakeDays(), counter.HandlerOptions{AllowedOrigins: []string{"https://me.example"}})
	for _, c := range []struct{ origin, want string }{
		{"https://me.example", "https://me.example"},
		{"https://me.example.evil", ""},
	} {
		req := httptest.NewRequest(http.MethodGet, "/chart", nil)
		req.Header.Set("Origin", c.origin)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if got := rec.Header().Get("Access-Control-Allow-Origin"); got != c.want || rec.Code != 200 {
			t.Errorf("origin %s: status %d, allow-origin %q, want %q", c.origin, rec.Code, got, c.want)
		}
	}
}

func TestChartHandlerPanics(t *testing.T) {
	for name, f := range map[string]func(){
		"nil reader": func() { counter.ChartHandler(nil, counter.HandlerOptions{}) },
		"bad key":    func() { counter.ChartHandler(newFakeDays(), counter.HandlerOptions{DefaultKey: "-"}) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}

// BenchmarkChart draws 30 and 366 days, alone and through the handler, with
// the badge handler over Memory as the same run's baseline.
func BenchmarkChart(b *testing.B) {
	for _, n := range []int{30, 366} {
		c := counter.Chart{Key: "visitors", Days: sampleDays(n, sampleEnd)}
		b.Run(fmt.Sprintf("AppendSVG/days=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			buf := make([]byte, 0, 64<<10)
			for b.Loop() {
				buf = c.AppendSVG(buf[:0])
			}
			b.SetBytes(int64(len(buf)))
		})
		b.Run(fmt.Sprintf("handler/days=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			h := counter.ChartHandler(newFakeDays(), counter.HandlerOptions{})
			req := httptest.NewRequest(http.MethodGet, "/chart/visitors?days="+strconv.Itoa(n), nil)
			w := &discardWriter{h: http.Header{}}
			for b.Loop() {
				clear(w.h)
				h.ServeHTTP(w, req)
			}
		})
	}
	b.Run("baseline/badge-handler", func(b *testing.B) {
		b.ReportAllocs()
		h := counter.BadgeHandler(counter.NewMemory(), counter.HandlerOptions{})
		req := httptest.NewRequest(http.MethodGet, "/badge?hit=false", nil)
		w := &discardWriter{h: http.Header{}}
		for b.Loop() {
			clear(w.h)
			h.ServeHTTP(w, req)
		}
	})
}

// discardWriter is a ResponseWriter that keeps nothing but headers.
type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(int)             {}
