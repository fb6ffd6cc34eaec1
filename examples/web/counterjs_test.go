package web

import (
	"encoding/json"
	"fmt"
	"html"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/resumecounter/counter/internal/testenv"
)

// apiRequest is one request the fake counter server received.
type apiRequest struct {
	Key, Query, Visit, Hit, Optout string
	Preflight                      bool
}

// fakeAPI is a counter server that keeps the visit-id contract (a visit id
// seen before for the key counts nothing) and fails on purpose for some
// keys: flaky drops its first request's connection after receiving it,
// down drops every one of its first two, err500 answers 500 once, slow and
// slowview hold their first request until another for the key arrives.
type fakeAPI struct {
	mu     sync.Mutex
	reqs   []apiRequest
	counts map[string]int64
	seen   map[string]bool
	drops  map[string]int
	errors map[string]int
	holds  map[string]chan struct{}
	held   []heldReq
}

func newFakeAPI() *fakeAPI {
	return &fakeAPI{
		counts: map[string]int64{},
		seen:   map[string]bool{},
		drops:  map[string]int{"flaky": 1, "down": 2},
		errors: map[string]int{"err500": 1},
		holds:  map[string]chan struct{}{"slow": make(chan struct{}), "slowview": make(chan struct{})},
	}
}

func (a *fakeAPI) requests(key string) []apiRequest {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []apiRequest
	for _, r := range a.reqs {
		if r.Key == key {
			out = append(out, r)
		}
	}
	return out
}

func (a *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	key, ok := strings.CutPrefix(r.URL.Path, "/api/")
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Access-Control-Allow-Origin", "*")
	q := r.URL.Query()
	req := apiRequest{Key: key, Query: r.URL.RawQuery, Visit: q.Get("visit"), Hit: q.Get("hit"), Optout: q.Get("optout"), Preflight: r.Method == http.MethodOptions}
	a.mu.Lock()
	a.reqs = append(a.reqs, req)
	counting := req.Hit != "false" && !req.Preflight
	if counting && (req.Visit == "" || !a.seen[key+"/"+req.Visit]) {
		a.counts[key]++
		if req.Visit != "" {
			a.seen[key+"/"+req.Visit] = true
		}
	}
	n := a.counts[key]
	drop := a.drops[key] > 0
	if drop {
		a.drops[key]--
	}
	fail := a.errors[key] > 0
	if fail {
		a.errors[key]--
	}
	hold := a.holds[key]
	if hold != nil {
		delete(a.holds, key)
		a.held = append(a.held, heldReq{key, hold})
	} else if c, ok := a.heldRelease(key); ok {
		close(c)
	}
	a.mu.Unlock()

	switch {
	case drop: // received, then the connection is gone: a network error
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
		return
	case fail:
		http.Error(w, `{"error":"unavailable"}`, http.StatusInternalServerError)
		return
	case hold != nil:
		select {
		case <-hold:
		case <-time.After(10 * time.Second):
		case <-r.Context().Done():
		}
	}
	w.Header().Set("Content-Type", "application/json")
	if key == "fields" { // a store that keeps visitors
		fmt.Fprintf(w, `{"key":%q,"count":%d,"visitors":4321,"today":{"date":"2026-12-01","count":56,"visitors":7}}`, key, n+1233)
		return
	}
	fmt.Fprintf(w, `{"key":%q,"count":%d}`, key, n)
}

// held lists requests waiting for the next request of their key.
type heldReq struct {
	key     string
	release chan struct{}
}

func (a *fakeAPI) heldRelease(key string) (chan struct{}, bool) {
	for i, h := range a.held {
		if h.key == key {
			a.held = append(a.held[:i], a.held[i+1:]...)
			return h.release, true
		}
	}
	return nil, false
}

// sitePages serves counter.js from Files and two test pages: /page (one
// counter, ?key= and ?mode=) and /double (counter.js included twice).
func sitePages(t *testing.T, api string) http.Handler {
	js, err := fs.ReadFile(Files, "counter.js")
	if err != nil {
		t.Fatal(err)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		key, mode := html.EscapeString(q.Get("key")), html.EscapeString(q.Get("mode"))
		tag := fmt.Sprintf(`<script src="/counter.js" data-api="%s" data-key="%s" data-count="%s" defer></script>`, api, key, mode)
		switch r.URL.Path {
		case "/counter.js":
			w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
			w.Write(js)
			return
		case "/favicon.ico":
			w.WriteHeader(http.StatusNoContent)
			return
		case "/page":
		case "/double":
			tag += strings.Replace(tag, "/counter.js", "/counter.js?again", 1)
		case "/fields":
			tag = `<p><span data-counter="count">–</span> <span data-counter="visitors">–</span> <span data-counter="today">–</span> ` +
				`<span data-counter="today-visitors">–</span> <span data-counter="bogus">–</span></p>` + tag
		default:
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		fmt.Fprintf(w, `<!doctype html><meta charset="utf-8"><title>t</title><p>Visitors: <span data-counter>–</span></p>%s`, tag)
		if r.URL.Path == "/double" {
			fmt.Fprint(w, `<p>Again: <span data-counter>–</span></p>`)
		}
	})
}

var visitIDRe = regexp.MustCompile(`^[A-Za-z0-9_-]{16,64}$`)

// TestCounterJS loads counter.js in Chromium from one origin against a
// counter server on another: each page view carries one visit id, reused
// by a second copy of the script, by its retry after a dropped connection
// and by a back/forward restore, so each view counts once; in session mode
// a reload while the first request is in flight only reads, and the tab is
// unmarked only when no request reached the server; #counter-optout makes
// the browser read-only until #counter-optin. No request leaves the two
// test origins, and no console error shows but the failed loads the
// server caused on purpose.
func TestCounterJS(t *testing.T) {
	testenv.Browser(t)
	fake := newFakeAPI()
	apiSrv := httptest.NewServer(fake)
	defer apiSrv.Close()
	site := httptest.NewUnstartedServer(nil)
	site.Config.Handler = sitePages(t, apiSrv.URL)
	site.Start()
	defer site.Close()
	// The pages on localhost, the API on 127.0.0.1: another origin.
	siteOrigin := strings.Replace(site.URL, "127.0.0.1", "localhost", 1)

	out := testenv.RunNode(t, 120*time.Second, "examples/web/testdata/counterjs.cjs", siteOrigin, apiSrv.URL)
	var got struct {
		Scenarios map[string]struct {
			First, Restored, Reload, Later, Optin, PlainFields string
			Flag, Notice, Hash, OptinNotice                    string
			ConsoleErrors                                      []string
		}
		Requests   []string
		PageErrors []string
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v in %s", err, out)
	}
	t.Logf("browser: %s", out)
	sc := got.Scenarios

	check := func(what, got, want string) {
		t.Helper()
		if got != want {
			t.Errorf("%s: %q, want %q", what, got, want)
		}
	}
	// Every counting request carries a well-formed visit id.
	fake.mu.Lock()
	all := append([]apiRequest(nil), fake.reqs...)
	fake.mu.Unlock()
	for _, r := range all {
		if r.Preflight {
			t.Errorf("a preflight request for %s: counter.js must send a simple request", r.Key)
		}
		if r.Hit != "false" && !visitIDRe.MatchString(r.Visit) {
			t.Errorf("counting request %s?%s without a valid visit id", r.Key, r.Query)
		}
		if r.Hit == "false" && r.Visit != "" {
			t.Errorf("read-only request %s?%s carries a visit id", r.Key, r.Query)
		}
	}
	ids := func(key string) []string {
		var out []string
		for _, r := range fake.requests(key) {
			out = append(out, r.Visit)
		}
		return out
	}
	sameID := func(key string, n int) {
		t.Helper()
		v := ids(key)
		if len(v) != n {
			t.Errorf("%s: %d requests %q, want %d", key, len(v), v, n)
			return
		}
		for _, id := range v[1:] {
			if id != v[0] || id == "" {
				t.Errorf("%s: visit ids %q, want one id %d times", key, v, n)
				return
			}
		}
	}

	// One view, its back/forward restore: one id, one count.
	check("view", sc["view"].First, "1/ok")
	check("view restored from the back/forward cache", sc["view"].Restored, "1/ok")
	sameID("view", 2)
	// Each [data-counter] shows the number its value names, as ?show= names
	// them; one the answer lacks (visitors off) or an unknown name shows
	// the placeholder, in state "none".
	check("fields", sc["fields"].First, "1,234/ok 1,234/ok 4,321/ok 56/ok 7/ok –/none")
	check("fields, a store without visitors", sc["fields"].PlainFields, "1/ok 1/ok –/none –/none –/none –/none")
	// Two copies of the script in one page: one id, one count.
	check("double", sc["double"].First, "1/ok 1/ok")
	sameID("double", 2)
	// The dropped first request and its retry: one id, one count.
	check("retry", sc["retry"].First, "1/ok")
	sameID("flaky", 2)

	// A reload while the first request is in flight.
	check("session mode, reload in flight", sc["session-reload"].Reload, "1/ok")
	if r := fake.requests("slow"); len(r) != 2 || r[0].Hit == "false" || r[1].Hit != "false" {
		t.Errorf("session mode, reload in flight: requests %+v, want a counting one then a read", r)
	}
	check("view mode, reload in flight (two page views)", sc["view-reload"].Reload, "2/ok")
	if v := ids("slowview"); len(v) != 2 || v[0] == v[1] {
		t.Errorf("view mode, two page views: visit ids %q, want two different", v)
	}

	// Session mode after failures.
	check("session mode, network down", sc["session-down"].First, "–/error")
	check("session mode, network down: sessionStorage", sc["session-down"].Flag, "")
	// The fake counted the dropped requests (they reached it): one view,
	// then the reload's new one.
	check("session mode, after the network came back", sc["session-down"].Reload, "2/ok")
	if r := fake.requests("down"); len(r) != 3 || r[2].Hit == "false" || r[0].Visit != r[1].Visit || r[2].Visit == r[0].Visit {
		t.Errorf("session mode, network down: requests %+v, want two attempts with one id, then a new counting view", r)
	}
	check("session mode, HTTP 500", sc["session-500"].First, "–/error")
	check("session mode, HTTP 500: sessionStorage", sc["session-500"].Flag, "counter:counted:"+apiSrv.URL+"/err500")
	check("session mode, reload after HTTP 500", sc["session-500"].Reload, "1/ok")
	if r := fake.requests("err500"); len(r) != 2 || r[1].Hit != "false" {
		t.Errorf("session mode, HTTP 500: requests %+v, want one counting request (no retry of a 500), then a read", r)
	}

	// Opt-out.
	opt := sc["optout"]
	check("opted out", opt.First, "0/ok")
	if !strings.HasPrefix(opt.Notice, "status: ") || !strings.Contains(opt.Notice, "no longer counted") {
		t.Errorf("opt-out confirmation %q", opt.Notice)
	}
	check("fragment after opting out", opt.Hash, "")
	check("opted out, later", opt.Later, "0/ok")
	check("opted in again", opt.Optin, "1/ok")
	if !strings.Contains(opt.OptinNotice, "counted again") {
		t.Errorf("opt-in confirmation %q", opt.OptinNotice)
	}
	check("another browser", sc["other-browser"].First, "2/ok")
	if r := fake.requests("opt"); len(r) != 4 || r[0].Query != "hit=false&optout=1" || r[1].Query != "hit=false&optout=1" || r[2].Hit == "false" || r[3].Hit == "false" {
		t.Errorf("opt-out requests %+v", r)
	}

	// No other origin, no uncaught error, no console error but the
	// deliberate failed loads.
	for _, u := range got.Requests {
		if !strings.HasPrefix(u, siteOrigin+"/") && !strings.HasPrefix(u, apiSrv.URL+"/") {
			t.Errorf("request to another origin: %s", u)
		}
	}
	if len(got.PageErrors) > 0 {
		t.Errorf("uncaught errors: %q", got.PageErrors)
	}
	for name, s := range sc {
		for _, e := range s.ConsoleErrors {
			failing := name == "retry" || name == "session-down" || name == "session-500"
			if !failing || !strings.Contains(e, "Failed to load resource") {
				t.Errorf("%s: console error %q", name, e)
			}
		}
	}
}
