package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/resumecounter/counter"
	"github.com/resumecounter/counter/internal/testenv"
)

// statsToday is the test server's today.
const statsToday = counter.Date("2026-12-01")

// memoryDays reads a Memory's last days ending on statsToday.
type memoryDays struct{ m *counter.Memory }

func (d memoryDays) LastDays(ctx context.Context, key string, n int) ([]counter.Day, error) {
	return d.m.History(ctx, key, statsToday.AddDays(1-n), statsToday)
}

// statsServer serves the example pages, /api/{key} with ?days= as the
// JSON handler answers it ({"key","count","visitors","today","days"}), and
// /chart/{key} through counter.ChartHandler, all from m.
func statsServer(t *testing.T, m *counter.Memory) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", http.FileServerFS(Files))
	mux.Handle("/chart/{key}", counter.ChartHandler(memoryDays{m}, counter.HandlerOptions{}))
	mux.HandleFunc("/api/{key}", func(w http.ResponseWriter, r *http.Request) {
		key := r.PathValue("key")
		n, err := strconv.Atoi(r.URL.Query().Get("days"))
		if r.URL.Query().Get("hit") != "false" || err != nil || n < 1 || n > counter.MaxHistoryDays || counter.CheckKey(key) != nil {
			http.Error(w, `{"error":"invalid"}`, http.StatusBadRequest)
			return
		}
		s, err := m.Stats(r.Context(), key, statsToday)
		if err != nil {
			t.Errorf("stats: %v", err)
			http.Error(w, `{"error":"unavailable"}`, http.StatusServiceUnavailable)
			return
		}
		days, err := memoryDays{m}.LastDays(r.Context(), key, n)
		if err != nil {
			t.Errorf("history: %v", err)
			http.Error(w, `{"error":"unavailable"}`, http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		_ = json.NewEncoder(w).Encode(map[string]any{"key": key, "count": s.Count, "visitors": s.Visitors, "today": s.Today, "days": days})
	})
	return mux
}

// statsSample is a deterministic history of n days ending on statsToday.
func statsSample(n int) []counter.Day {
	days := make([]counter.Day, n)
	seed := uint32(7)
	for i := range days {
		seed = seed*1664525 + 1013904223
		hits := int64(20+i) + int64(seed>>20)%40
		if i%9 == 4 {
			hits = 0
		}
		days[i] = counter.Day{Date: statsToday.AddDays(i - n + 1), Count: hits * 37, Visitors: hits * 11}
	}
	return days
}

type chartShot struct {
	URL, Scheme   string
	Width, Height float64
	Texts         []struct {
		Text       string
		X, Y, W, H float64
	}
	TextFill, Background string
}

// TestStatsPageAndChart loads stats.html and the chart in Chromium against
// a server reading a counter.Memory: the page shows the totals, today, the
// chart and 30 days newest first, and the snippets; an invalid key shows
// the error; every chart text lies inside the chart (getBBox), in light and
// dark schemes, whose colours differ. Screenshots go to a temporary folder
// (or $COUNTER_SCREENSHOTS). No request leaves the server's origin, no
// console error shows.
func TestStatsPageAndChart(t *testing.T) {
	testenv.Browser(t)
	m := counter.NewMemory()
	ctx := context.Background()
	home := statsSample(45)
	var hits, visitors int64
	for _, d := range home {
		hits += d.Count
		visitors += d.Visitors
	}
	records := []counter.Record{
		{Key: "home", Count: hits + 1_000_000, Visitors: visitors + 1000, Days: home},
		{Key: "big", Count: 9_000_000_000_000_000_000, Visitors: 8_000_000_000_000_000_000, Days: []counter.Day{
			{Date: statsToday.AddDays(-1), Count: 9_000_000_000_000_000_000, Visitors: 1},
			{Date: statsToday, Count: 8_000_000_000_000_000_000, Visitors: 8_000_000_000_000_000_000},
		}},
	}
	for _, r := range records {
		if err := m.Import(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	srv := httptest.NewServer(statsServer(t, m))
	defer srv.Close()

	dir := t.TempDir()
	if d := os.Getenv("COUNTER_SCREENSHOTS"); d != "" {
		dir = d
	}
	charts := []string{
		"/chart/home?days=30",
		"/chart/home?days=366&width=200&height=100",
		"/chart/big?days=2&width=200&height=100",
		"/chart/big?days=366&width=2000&height=1000",
		"/chart/nobody?days=1&width=200&height=100",
	}
	out := testenv.RunNode(t, 120*time.Second, "examples/web/testdata/stats.cjs", srv.URL, dir, strings.Join(charts, " "))
	var got struct {
		Page struct {
			State, Key, Title                          string
			Count, Visitors, TodayCount, TodayVisitors string
			TodayDate                                  string
			Rows                                       [][]string
			ChartSrc, ChartAlt                         string
			ChartComplete                              bool
			ChartWidth, ChartHeight                    int
			Snippets                                   map[string]string
		}
		Invalid    struct{ State string }
		Charts     []chartShot
		Requests   []string
		Console    []string
		PageErrors []string
		Shots      []string
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v in %s", err, out)
	}
	t.Logf("browser: %s", out)
	p := got.Page
	fmtNum := func(n int64) string { return string(counter.AppendNumber(nil, n, counter.FormatGrouped)) }
	last := home[len(home)-1]
	for _, c := range []struct{ what, got, want string }{
		{"state", p.State, "ok"},
		{"key", p.Key, "home"},
		{"count", p.Count, fmtNum(hits + 1_000_000)},
		{"visitors", p.Visitors, fmtNum(visitors + 1000)},
		{"today's count", p.TodayCount, fmtNum(last.Count)},
		{"today's visitors", p.TodayVisitors, fmtNum(last.Visitors)},
		{"today's date", p.TodayDate, string(statsToday)},
		{"chart", p.ChartSrc, srv.URL + "/chart/home?days=30"},
		{"chart alt", p.ChartAlt, "Hits and visitors of home, last 30 days"},
		{"badge snippet", p.Snippets["img"], `<img src="` + srv.URL + `/badge/home" alt="hits of home">`},
		{"Markdown snippet", p.Snippets["md"], `![hits of home](` + srv.URL + `/badge/home)`},
		{"chart snippet", p.Snippets["chart"], `<img src="` + srv.URL + `/chart/home?days=30" alt="home, last 30 days" width="640" height="220">`},
		{"script snippet", p.Snippets["script"], "<span data-counter>–</span>\n<script src=\"" + srv.URL + `/counter.js" data-api="` + srv.URL + `" data-key="home" defer></script>`},
		{"invalid key", got.Invalid.State, "error"},
	} {
		if c.got != c.want {
			t.Errorf("%s: %q, want %q", c.what, c.got, c.want)
		}
	}
	if !p.ChartComplete || p.ChartWidth != 640 || p.ChartHeight != 220 {
		t.Errorf("chart image: complete %v, %dx%d", p.ChartComplete, p.ChartWidth, p.ChartHeight)
	}
	if len(p.Rows) != 30 {
		t.Fatalf("%d table rows, want 30", len(p.Rows))
	}
	for i, row := range p.Rows {
		d := home[len(home)-1-i] // newest first
		want := []string{string(d.Date), fmtNum(d.Count), fmtNum(d.Visitors)}
		if strings.Join(row, "|") != strings.Join(want, "|") {
			t.Errorf("row %d: %q, want %q", i, row, want)
		}
	}

	if len(got.Charts) != 2*len(charts) {
		t.Fatalf("%d charts measured, want %d", len(got.Charts), 2*len(charts))
	}
	fills := map[string]string{}
	for _, c := range got.Charts {
		if c.Width < counter.MinChartWidth || c.Height < counter.MinChartHeight || len(c.Texts) < 3 {
			t.Errorf("%s (%s): %vx%v with %d texts", c.URL, c.Scheme, c.Width, c.Height, len(c.Texts))
		}
		for _, tx := range c.Texts {
			if tx.W <= 0 || tx.X < 0 || tx.Y < 0 || tx.X+tx.W > c.Width || tx.Y+tx.H > c.Height {
				t.Errorf("%s (%s): text %q at %v,%v size %vx%v leaves the %vx%v chart", c.URL, c.Scheme, tx.Text, tx.X, tx.Y, tx.W, tx.H, c.Width, c.Height)
			}
		}
		for i, a := range c.Texts {
			for _, b := range c.Texts[i+1:] {
				if a.X < b.X+b.W && b.X < a.X+a.W && a.Y < b.Y+b.H && b.Y < a.Y+a.H {
					t.Errorf("%s (%s): texts %q and %q overlap", c.URL, c.Scheme, a.Text, b.Text)
				}
			}
		}
		fills[c.Scheme] = c.TextFill + " on " + c.Background
	}
	if fills["light"] == fills["dark"] || fills["light"] == "" {
		t.Errorf("light and dark schemes draw alike: %q", fills)
	}
	for _, u := range got.Requests {
		if !strings.HasPrefix(u, srv.URL+"/") && u != "data:," { // data:, is the page's empty icon

			t.Errorf("request to another origin: %s", u)
		}
	}
	// The invalid key's page asks nothing of the API, so nothing fails.
	if len(got.Console) > 0 || len(got.PageErrors) > 0 {
		t.Errorf("console errors %q, uncaught errors %q", got.Console, got.PageErrors)
	}
	for _, s := range got.Shots {
		if fi, err := os.Stat(filepath.Join(dir, s)); err != nil || fi.Size() < 1000 {
			t.Errorf("screenshot %s: %v", s, err)
		}
	}
	t.Logf("screenshots in %s: %s", dir, fmt.Sprint(got.Shots))
}
