package main

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/resumecounter/counter/boltstore"
	"github.com/resumecounter/counter/internal/testenv"
)

// TestWebPage loads examples/web in Chromium from one origin, with the
// server on another, as on a real site: the page shows the hits with
// thousands separators and the visitors, each beside its own name, and
// the badge it loads draws the same hits under the label "hits"; a reload
// in the same session reads without counting, a new browser context
// counts, and a dead or broken API shows the placeholder without an
// uncaught error.
func TestWebPage(t *testing.T) {
	testenv.Browser(t)
	dir := t.TempDir()

	// A count past a thousand, so the page must group digits.
	data := filepath.Join(dir, "counter.db")
	seed, err := boltstore.Open(data, boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := seed.Add(context.Background(), "visitors", 1233); err != nil {
		t.Fatal(err)
	}
	seed.Close()

	index, err := os.ReadFile(filepath.Join(testenv.Root(t), "examples", "web", "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	js, err := os.ReadFile(filepath.Join(testenv.Root(t), "examples", "web", "counter.js"))
	if err != nil {
		t.Fatal(err)
	}
	var api, deadAPI string
	pageFor := func(base string) []byte {
		const attr = `data-api=""`
		if strings.Count(string(index), attr) != 1 {
			t.Fatalf("index.html has no single %s to point at the server", attr)
		}
		return []byte(strings.Replace(string(index), attr, `data-api="`+base+`"`, 1))
	}
	site := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/counter.js"):
			w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
			w.Write(js)
		case strings.HasPrefix(r.URL.Path, "/nonsense-api/"): // 200, but no count
			w.Header().Set("Access-Control-Allow-Origin", "*")
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"count":"lots"}`))
		default:
			base := map[string]string{"/": api, "/down/": deadAPI, "/broken/": r.Host + "/nonsense-api"}[r.URL.Path]
			if base == "" {
				http.NotFound(w, r)
				return
			}
			if r.URL.Path == "/broken/" {
				base = "http://" + base
			}
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Write(pageFor(base))
		}
	}))
	// The page is on localhost, the server on 127.0.0.1: another origin.
	pageOrigin := "http://" + strings.Replace(site.Listener.Addr().String(), "127.0.0.1", "localhost", 1)

	s := start(t, "COUNTER_DATA="+data, "COUNTER_ALLOWED_ORIGINS="+pageOrigin)
	api = s.URL
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAPI = "http://" + ln.Addr().String()
	ln.Close()   // nothing listens there now
	site.Start() // after api and deadAPI are set
	defer site.Close()

	shot := filepath.Join(dir, "page.png")
	if p := os.Getenv("COUNTER_SCREENSHOT"); p != "" {
		shot = p
	}
	out := testenv.RunNode(t, 60*time.Second, "cmd/counter/testdata/web.cjs",
		pageOrigin+"/", pageOrigin+"/down/", pageOrigin+"/broken/", shot)
	type shown struct{ Text, State, Label string }
	var got struct {
		First, Reload, NewContext, Down, Broken    map[string]shown
		Img, Md, BadgeSrc, BadgeLabel, Placeholder string
		Errors, Warnings                           []string
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v in %s", err, out)
	}
	t.Logf("browser: %s", out)

	hits := func(text, state string) shown { return shown{text, state, "hits"} }
	visitors := func(text, state string) shown { return shown{text, state, "visitors"} }
	for _, c := range []struct {
		name string
		got  map[string]shown
		want map[string]shown
	}{
		// The seeded 1,233 were hits without visitors; the browser is one
		// visitor in both contexts (one address, one User-Agent).
		{"first view", got.First, map[string]shown{"count": hits("1,234", "ok"), "visitors": visitors("1", "ok")}},
		{"reload in the same session", got.Reload, map[string]shown{"count": hits("1,234", "ok"), "visitors": visitors("1", "ok")}},
		{"new browser context", got.NewContext, map[string]shown{"count": hits("1,235", "ok"), "visitors": visitors("1", "ok")}},
		{"API down", got.Down, map[string]shown{"count": hits(got.Placeholder, "error"), "visitors": visitors(got.Placeholder, "error")}},
		{"API answers no count", got.Broken, map[string]shown{"count": hits(got.Placeholder, "error"), "visitors": visitors(got.Placeholder, "error")}},
	} {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s: page shows %+v, want %+v", c.name, c.got, c.want)
		}
	}
	// The badge draws the number the page shows beside "hits", under the
	// same name.
	if want := "hits: " + got.First["count"].Text; got.BadgeLabel != want {
		t.Errorf("the page's badge says %q, want %q", got.BadgeLabel, want)
	}
	if want := `<img src="` + api + `/badge/visitors" alt="hits of visitors">`; got.Img != want {
		t.Errorf("HTML snippet %q, want %q", got.Img, want)
	}
	if want := `![hits of visitors](` + api + `/badge/visitors)`; got.Md != want {
		t.Errorf("Markdown snippet %q, want %q", got.Md, want)
	}
	if want := api + "/badge/visitors?hit=false"; got.BadgeSrc != want {
		t.Errorf("badge preview %q, want %q", got.BadgeSrc, want)
	}
	if len(got.Errors) > 0 {
		t.Errorf("uncaught errors in the page: %q", got.Errors)
	}
	if len(got.Warnings) != 2 {
		t.Errorf("console warnings %q, want one for each failed page", got.Warnings)
	}
	// Two counted views: the first page view and the new context.
	if a := getJSON(t, api+"/api/visitors?hit=false"); a.Count != 1235 {
		t.Errorf("server count %d after the browser, want 1235", a.Count)
	}
}

// TestPagesUnderPolicy (issue 15, defect 10): the pages counter serve
// serves itself come with a Content-Security-Policy and nosniff, and work
// under them in Chromium: the count, the badge, the stats and the chart
// show (the hits under their own name: the page shows visitors too), the
// inline styles apply, and no violation is reported.
func TestPagesUnderPolicy(t *testing.T) {
	testenv.Browser(t)
	s := start(t, "COUNTER_STORE=memory")
	for range 1233 {
		getJSON(t, s.URL+"/api/visitors")
	}
	out := testenv.RunNode(t, 60*time.Second, "cmd/counter/testdata/csp.cjs", s.URL)
	t.Logf("browser: %s", out)
	type page struct {
		Policy, Nosniff, Text, State, FontSize, Count string
		Rows                                          int
		ErrorHidden                                   bool
	}
	var got struct {
		Index, Stats       page
		Violations, Errors []string
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v in %s", err, out)
	}
	for name, p := range map[string]page{"/": got.Index, "/stats.html": got.Stats} {
		if p.Policy != pagePolicy() || !strings.Contains(p.Policy, "default-src 'none'") || p.Nosniff != "nosniff" {
			t.Errorf("%s: Content-Security-Policy %q, X-Content-Type-Options %q; want %q and nosniff", name, p.Policy, p.Nosniff, pagePolicy())
		}
	}
	if got.Index.State != "ok" || got.Index.Text != "1,234" || got.Index.FontSize != "40px" {
		t.Errorf("/ shows %q (state %q, font size %s); want 1,234, ok, 40px", got.Index.Text, got.Index.State, got.Index.FontSize)
	}
	if got.Stats.State != "ok" || got.Stats.Count != "1,234" || got.Stats.Rows != 30 || !got.Stats.ErrorHidden {
		t.Errorf("/stats.html: %+v; want state ok, 1,234 hits, 30 days, the error hidden", got.Stats)
	}
	if len(got.Violations) > 0 || len(got.Errors) > 0 {
		t.Errorf("policy violations %q, console errors %q; want none", got.Violations, got.Errors)
	}
}
