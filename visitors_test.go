package counter_test

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dchest/siphash"

	"github.com/resumecounter/counter"
)

// fakeVisits is a Memory store with knobs for faults: it records every
// Visit and salt it was handed, counts DaySalt calls, can fail or hold
// them, and can refuse markers past a cap with ErrMarkersFull (as a store
// may; Memory itself counts the visitor as a hit and logs).
type fakeVisits struct {
	*counter.Memory
	mu        sync.Mutex
	visits    []counter.Visit
	salts     map[counter.Date][]byte
	marks     map[string]bool // visitor and visit id markers, for maxMarks
	maxMarks  int             // 0: no cap
	saltCalls atomic.Int64
	saltErr   error
	saltGate  chan struct{} // if set, DaySalt waits for it
}

func newFakeVisits() *fakeVisits {
	return &fakeVisits{Memory: counter.NewMemory(), salts: make(map[counter.Date][]byte), marks: make(map[string]bool)}
}

var (
	_ counter.VisitStore    = (*fakeVisits)(nil)
	_ counter.HistoryReader = (*fakeVisits)(nil)
)

func (f *fakeVisits) RecordVisit(ctx context.Context, v counter.Visit) (counter.Stats, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.visits = append(f.visits, v)
	if f.maxMarks > 0 {
		var fresh []string
		for _, m := range []string{"v" + v.Key + string(v.Date) + string(v.Visitor[:]), "i" + v.Key + "\x00" + v.ID} {
			if !f.marks[m] && (m[0] == 'v' && !v.Visitor.IsZero() || m[0] == 'i' && v.ID != "") {
				fresh = append(fresh, m)
			}
		}
		if len(fresh) > 0 && len(f.marks)+len(fresh) > f.maxMarks {
			return counter.Stats{}, false, fmt.Errorf("fake: %d markers: %w", len(f.marks), counter.ErrMarkersFull)
		}
		for _, m := range fresh {
			f.marks[m] = true
		}
	}
	return f.Memory.RecordVisit(ctx, v)
}

func (f *fakeVisits) DaySalt(ctx context.Context, day counter.Date, fresh []byte) ([]byte, error) {
	f.saltCalls.Add(1)
	if f.saltGate != nil {
		select {
		case <-f.saltGate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.saltErr != nil {
		return nil, f.saltErr
	}
	if len(fresh) != counter.SaltLen {
		return nil, fmt.Errorf("fake: fresh salt of %d bytes", len(fresh))
	}
	salt, err := f.Memory.DaySalt(ctx, day, fresh)
	f.salts[day] = salt
	return salt, err
}

// noHistory hides the HistoryReader of the store it wraps.
type noHistory struct{ counter.VisitStore }

// Browsers' User-Agents and test addresses.
const (
	chromeUA  = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
	firefoxUA = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
	botUA     = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
	camoUA    = "github-camo (876de43e)"
)

// fixedClock is a settable clock for VisitorOptions.Now.
type fixedClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fixedClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fixedClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// visitReq is a request from a client: its address, User-Agent and extra
// headers.
func visitReq(method, target, addr, ua string, header ...string) *http.Request {
	r := httptest.NewRequest(method, target, nil)
	r.RemoteAddr = addr
	if ua != "" {
		r.Header.Set("User-Agent", ua)
	}
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Add(header[i], header[i+1])
	}
	return r
}

// visitorsAPI returns a JSON handler over NewVisitors(store) on
// /api/{key}, with the clock at noon UTC on 2026-12-01.
func visitorsAPI(t *testing.T, store counter.VisitStore, opts counter.VisitorOptions) (http.Handler, *counter.Visitors, *fixedClock) {
	t.Helper()
	clock := &fixedClock{t: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)}
	if opts.Now == nil {
		opts.Now = clock.Now
	}
	v := counter.NewVisitors(store, opts)
	mux := http.NewServeMux()
	mux.Handle("/api/{key}", counter.JSONHandler(v, counter.HandlerOptions{Logger: opts.Logger}))
	mux.Handle("/badge/{key}", counter.BadgeHandler(v, counter.HandlerOptions{Logger: opts.Logger}))
	return mux, v, clock
}

// jsonAnswer is the JSON handler's answer with visitors.
type jsonAnswer struct {
	Key      string        `json:"key"`
	Count    int64         `json:"count"`
	Visitors int64         `json:"visitors"`
	Today    counter.Day   `json:"today"`
	Days     []counter.Day `json:"days"`
}

// send serves r through h and decodes a 200 JSON answer.
func send(t *testing.T, h http.Handler, r *http.Request) (*httptest.ResponseRecorder, jsonAnswer) {
	t.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	var a jsonAnswer
	if w.Code == 200 && r.Method != http.MethodHead {
		if err := json.Unmarshal(w.Body.Bytes(), &a); err != nil {
			t.Fatalf("%s %s: %v: %s", r.Method, r.URL, err, w.Body)
		}
	}
	return w, a
}

// want checks an answer's status, numbers and Counter-Not-Counted header.
func want(t *testing.T, w *httptest.ResponseRecorder, a jsonAnswer, count, visitors int64, skip counter.Skip) {
	t.Helper()
	if w.Code != 200 {
		t.Fatalf("status %d, want 200: %s", w.Code, w.Body)
	}
	if a.Count != count || a.Visitors != visitors {
		t.Errorf("count %d visitors %d, want %d and %d: %s", a.Count, a.Visitors, count, visitors, w.Body)
	}
	if got := w.Header().Get("Counter-Not-Counted"); got != string(skip) {
		t.Errorf("Counter-Not-Counted %q, want %q", got, skip)
	}
	if _, ok := w.Header()["Counter-Not-Counted"]; ok == (skip == counter.Counted) {
		t.Errorf("Counter-Not-Counted present=%v for skip %q", ok, skip)
	}
}

func TestVisitorsJSONExact(t *testing.T) {
	h, _, _ := visitorsAPI(t, newFakeVisits(), counter.VisitorOptions{})
	var w *httptest.ResponseRecorder
	for range 2 {
		w = httptest.NewRecorder()
		h.ServeHTTP(w, visitReq("GET", "/api/home", "192.0.2.1:1234", chromeUA))
	}
	const body = `{"key":"home","count":2,"visitors":1,"today":{"date":"2026-12-01","count":2,"visitors":1}}`
	if w.Body.String() != body {
		t.Errorf("body\n%s\nwant\n%s", w.Body, body)
	}
	if got := w.Header().Get("Cache-Control"); got != "no-cache, no-store, must-revalidate, max-age=0" {
		t.Errorf("Cache-Control %q", got)
	}
}

func TestVisitorsCounting(t *testing.T) {
	h, _, _ := visitorsAPI(t, newFakeVisits(), counter.VisitorOptions{})
	get := func(addr, ua string, header ...string) (*httptest.ResponseRecorder, jsonAnswer) {
		t.Helper()
		return send(t, h, visitReq("GET", "/api/home", addr, ua, header...))
	}
	w, a := get("192.0.2.1:1000", chromeUA)
	want(t, w, a, 1, 1, counter.Counted)
	w, a = get("192.0.2.1:2000", chromeUA) // same visitor, another connection
	want(t, w, a, 2, 1, counter.Counted)
	w, a = get("192.0.2.1:1000", firefoxUA) // another browser: another visitor
	want(t, w, a, 3, 2, counter.Counted)
	w, a = get("192.0.2.2:1000", chromeUA) // another address
	want(t, w, a, 4, 3, counter.Counted)
	w, a = get("[2001:db8:1:2::1]:443", chromeUA)
	want(t, w, a, 5, 4, counter.Counted)
	w, a = get("[2001:db8:1:2:ffff:eeee:dddd:cccc]:443", chromeUA) // same /64
	want(t, w, a, 6, 4, counter.Counted)
	w, a = get("[2001:db8:1:3::1]:443", chromeUA) // another /64
	want(t, w, a, 7, 5, counter.Counted)
	w, a = get("[::ffff:192.0.2.1]:1000", chromeUA) // IPv4-mapped: the first visitor
	want(t, w, a, 8, 5, counter.Counted)

	// Bots and requests without a User-Agent: answered, not counted.
	w, a = get("192.0.2.9:1000", botUA)
	want(t, w, a, 8, 5, counter.SkipBot)
	w, a = get("192.0.2.9:1000", "")
	want(t, w, a, 8, 5, counter.SkipBot)
	w, a = get("192.0.2.9:1000", "curl/8.11.0")
	want(t, w, a, 8, 5, counter.SkipBot)
	if a.Today.Count != 8 || a.Today.Visitors != 5 || a.Today.Date != "2026-12-01" {
		t.Errorf("today %+v", a.Today)
	}

	// GitHub's image proxy: a hit, never a visitor.
	w, a = get("140.82.115.1:1000", camoUA)
	want(t, w, a, 9, 5, counter.Counted)
	w, a = get("140.82.115.2:1000", camoUA)
	want(t, w, a, 10, 5, counter.Counted)

	// Read-only and opt-out.
	for _, target := range []string{"/api/home?hit=false", "/api/home?hit=0", "/api/home?format=shields"} {
		w, a = send(t, h, visitReq("GET", target, "192.0.2.50:1", chromeUA))
		if !strings.Contains(target, "shields") {
			want(t, w, a, 10, 5, counter.SkipReadOnly)
		} else if got := w.Header().Get("Counter-Not-Counted"); got != "read-only" {
			t.Errorf("%s: Counter-Not-Counted %q", target, got)
		}
	}
	w, _ = send(t, h, visitReq("HEAD", "/api/home", "192.0.2.50:1", chromeUA))
	if w.Code != 200 || w.Header().Get("Counter-Not-Counted") != "read-only" {
		t.Errorf("HEAD: %d, Counter-Not-Counted %q", w.Code, w.Header().Get("Counter-Not-Counted"))
	}
	for _, target := range []string{"/api/home?optout=1", "/api/home?optout=true", "/api/home?optout=1&hit=true"} {
		w, a = send(t, h, visitReq("GET", target, "192.0.2.51:1", chromeUA))
		want(t, w, a, 10, 5, counter.SkipOptOut)
	}
	w, a = send(t, h, visitReq("GET", "/api/home?optout=0", "192.0.2.51:1", chromeUA))
	want(t, w, a, 11, 6, counter.Counted)
	w, _ = send(t, h, visitReq("GET", "/api/home?optout=yes", "192.0.2.51:1", chromeUA))
	if w.Code != 400 {
		t.Errorf("optout=yes: status %d, want 400", w.Code)
	}
}

func TestVisitorsCountBots(t *testing.T) {
	h, _, _ := visitorsAPI(t, newFakeVisits(), counter.VisitorOptions{CountBots: true})
	w, a := send(t, h, visitReq("GET", "/api/home", "192.0.2.9:1", botUA))
	want(t, w, a, 1, 1, counter.Counted)
	w, a = send(t, h, visitReq("GET", "/api/home", "192.0.2.9:1", ""))
	want(t, w, a, 2, 2, counter.Counted)
}

func TestVisitorsVisitID(t *testing.T) {
	store := newFakeVisits()
	h, v, _ := visitorsAPI(t, store, counter.VisitorOptions{})
	w, a := send(t, h, visitReq("GET", "/api/home", "192.0.2.1:1", chromeUA, "Idempotency-Key", "page-view_1"))
	want(t, w, a, 1, 1, counter.Counted)
	// The same id again, by header or parameter, from anyone: counts nothing.
	w, a = send(t, h, visitReq("GET", "/api/home", "192.0.2.1:1", chromeUA, "Idempotency-Key", "page-view_1"))
	want(t, w, a, 1, 1, counter.SkipRepeat)
	w, a = send(t, h, visitReq("POST", "/api/home?visit=page-view_1", "192.0.2.2:1", firefoxUA))
	want(t, w, a, 1, 1, counter.SkipRepeat)
	// The same id for another key counts.
	w, a = send(t, h, visitReq("GET", "/api/other?visit=page-view_1", "192.0.2.1:1", chromeUA))
	want(t, w, a, 1, 1, counter.Counted)
	// The header wins over the parameter.
	w, a = send(t, h, visitReq("GET", "/api/home?visit=page-view_1", "192.0.2.1:1", chromeUA, "Idempotency-Key", "page-view_2"))
	want(t, w, a, 2, 1, counter.Counted)
	if got := store.visits[len(store.visits)-1].ID; got != "page-view_2" {
		t.Errorf("store got visit id %q", got)
	}

	before := len(store.visits)
	long := strings.Repeat("a", counter.MaxVisitIDLen+1)
	for _, tc := range []struct{ target, header string }{
		{"/api/home?visit=", ""},
		{"/api/home?visit=" + long, ""},
		{"/api/home?visit=a.b", ""},
		{"/api/home?visit=a%2Db", ""}, // escaped: not as written
		{"/api/home?visit=%C3%A9", ""},
		{"/api/home", "a b"},
		{"/api/home", ""},
		{"/api/home", long},
		{"/api/home?hit=false", "bad!"},
	} {
		r := visitReq("GET", tc.target, "192.0.2.3:1", chromeUA)
		if tc.header != "" || !strings.Contains(tc.target, "visit=") {
			r.Header["Idempotency-Key"] = []string{tc.header}
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != 400 || !strings.Contains(w.Body.String(), "invalid visit id") {
			t.Errorf("%s Idempotency-Key %q: %d %s, want 400", tc.target, tc.header, w.Code, w.Body)
		}
		if _, _, err := v.Visit(context.Background(), r, "home"); !errors.Is(err, counter.ErrInvalidVisitID) {
			t.Errorf("Visit: %v, want ErrInvalidVisitID", err)
		}
	}
	if len(store.visits) != before {
		t.Errorf("invalid visit ids reached the store %d times", len(store.visits)-before)
	}
	// The longest valid id and every allowed character.
	ok := strings.Repeat("aZ0-_", 12) + "abcd"
	w, a = send(t, h, visitReq("GET", "/api/home?visit="+ok, "192.0.2.1:1", chromeUA))
	want(t, w, a, 3, 1, counter.Counted)
}

// The day follows the Location: a visit at 23:30 in UTC-5 counts on that
// day; at 00:30 today restarts, totals keep, and the visitor counts again.
func TestVisitorsDayRollover(t *testing.T) {
	store := newFakeVisits()
	zone := time.FixedZone("UTC-5", -5*3600)
	clock := &fixedClock{t: time.Date(2026, 12, 1, 23, 30, 0, 0, zone)} // 04:30 UTC on Dec 2
	h, v, _ := visitorsAPI(t, store, counter.VisitorOptions{Location: zone, Now: clock.Now})
	if v.Today() != "2026-12-01" {
		t.Fatalf("Today %s, want 2026-12-01 (the zone's day, not UTC's)", v.Today())
	}
	w, a := send(t, h, visitReq("GET", "/api/home", "192.0.2.1:1", chromeUA))
	want(t, w, a, 1, 1, counter.Counted)
	w, a = send(t, h, visitReq("GET", "/api/home", "192.0.2.1:1", chromeUA))
	want(t, w, a, 2, 1, counter.Counted)
	if a.Today != (counter.Day{Date: "2026-12-01", Count: 2, Visitors: 1}) {
		t.Errorf("today %+v", a.Today)
	}
	clock.Set(time.Date(2026, 12, 2, 0, 30, 0, 0, zone))
	w, a = send(t, h, visitReq("GET", "/api/home?hit=false", "192.0.2.1:1", chromeUA))
	want(t, w, a, 2, 1, counter.SkipReadOnly)
	if a.Today != (counter.Day{Date: "2026-12-02"}) {
		t.Errorf("today after midnight %+v, want zeros", a.Today)
	}
	w, a = send(t, h, visitReq("GET", "/api/home", "192.0.2.1:1", chromeUA))
	want(t, w, a, 3, 2, counter.Counted)
	if a.Today != (counter.Day{Date: "2026-12-02", Count: 1, Visitors: 1}) {
		t.Errorf("today %+v", a.Today)
	}
	if n := store.saltCalls.Load(); n != 2 {
		t.Errorf("DaySalt called %d times over two days, want 2", n)
	}
	if len(store.salts) != 2 || string(store.salts["2026-12-01"]) == string(store.salts["2026-12-02"]) {
		t.Errorf("want two different salts, got %d", len(store.salts))
	}
	// The same client has unrelated ids on the two days.
	vs := store.visits
	if vs[0].Visitor != vs[1].Visitor || vs[0].Visitor == vs[2].Visitor || vs[2].Date != "2026-12-02" {
		t.Errorf("visitor ids across days: %x %x %x", vs[0].Visitor, vs[1].Visitor, vs[2].Visitor)
	}
	// ?days= ends on the zone's today.
	_, a = send(t, h, visitReq("GET", "/api/home?days=3", "192.0.2.1:1", chromeUA))
	wantDays := []counter.Day{{Date: "2026-11-30"}, {Date: "2026-12-01", Count: 2, Visitors: 1}, {Date: "2026-12-02", Count: 1, Visitors: 1}}
	if fmt.Sprint(a.Days) != fmt.Sprint(wantDays) {
		t.Errorf("days %+v, want %+v", a.Days, wantDays)
	}
}

// The visitor id is what docs/visitors.md says it is: the test reads the
// construction from the page (the hash, the key derivation with its label
// and length, how much of an IPv6 address counts) and computes the ids of
// two visits with it. The store sees nothing else of the client.
func TestVisitorID(t *testing.T) {
	page, err := os.ReadFile(filepath.Join("docs", "visitors.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := strings.Join(strings.Fields(string(page)), " ")
	claim := func(re string) []string {
		t.Helper()
		m := regexp.MustCompile(re).FindStringSubmatch(doc)
		if m == nil {
			t.Fatalf("docs/visitors.md does not say %s", re)
		}
		return m
	}
	claim(`A visitor id is SipHash-2-4 with a 128-bit output, keyed with \*\*the day's key\*\*, of the client address \(the 4 bytes of an IPv4 address, or the first 8 bytes, the /64, of an IPv6 one\), a zero byte, the User-Agent, a zero byte and the key\.`)
	derive := claim(`The day's key is the first (\d+) bytes of SHA-256\("([^"]+)" ‖ the day's salt\)\.`)
	if strings.Contains(doc, "HMAC") {
		t.Error("docs/visitors.md names HMAC; the code uses none")
	}
	keyLen, _ := strconv.Atoi(derive[1])

	store := newFakeVisits()
	h, _, _ := visitorsAPI(t, store, counter.VisitorOptions{})
	send(t, h, visitReq("GET", "/api/home", "192.0.2.1:1", chromeUA))
	send(t, h, visitReq("GET", "/api/home", "[2001:db8:1:2::1]:1", chromeUA))
	sum := sha256.Sum256(append([]byte(derive[2]), store.salts["2026-12-01"]...))
	if keyLen != 16 {
		t.Fatalf("docs/visitors.md derives a %d-byte key; SipHash takes 16", keyLen)
	}
	k0, k1 := binary.LittleEndian.Uint64(sum[:8]), binary.LittleEndian.Uint64(sum[8:16])
	for i, client := range [][]byte{{192, 0, 2, 1}, {0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 2}} {
		lo, hi := siphash.Hash128(k0, k1, append(client, "\x00"+chromeUA+"\x00home"...))
		var wantID counter.VisitorID
		binary.LittleEndian.PutUint64(wantID[:8], lo)
		binary.LittleEndian.PutUint64(wantID[8:], hi)
		if got := store.visits[i].Visitor; got != wantID {
			t.Errorf("visit %d: id %x, want %x as docs/visitors.md describes it", i, got, wantID)
		}
	}
}

func TestVisitorsDays(t *testing.T) {
	store := newFakeVisits()
	h, _, _ := visitorsAPI(t, store, counter.VisitorOptions{})
	send(t, h, visitReq("GET", "/api/home", "192.0.2.1:1", chromeUA))
	for _, n := range []int{1, 30, 366} {
		w, a := send(t, h, visitReq("GET", fmt.Sprintf("/api/home?days=%d", n), "192.0.2.2:1", chromeUA))
		want(t, w, a, 1, 1, counter.SkipReadOnly)
		if len(a.Days) != n || a.Days[n-1] != (counter.Day{Date: "2026-12-01", Count: 1, Visitors: 1}) ||
			a.Days[0].Date != counter.Date("2026-12-01").AddDays(1-n) {
			t.Errorf("days=%d: %d days, first %+v, last %+v", n, len(a.Days), a.Days[0], a.Days[len(a.Days)-1])
		}
	}
	before := len(store.visits)
	for _, bad := range []string{"0", "367", "abc", "", "-1", "+5", "1.5", "99999999999999999999"} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, visitReq("GET", "/api/home?days="+bad, "192.0.2.3:1", chromeUA))
		if w.Code != 400 || !strings.Contains(w.Body.String(), "invalid days") {
			t.Errorf("days=%s: %d %s, want 400", bad, w.Code, w.Body)
		}
	}
	if len(store.visits) != before {
		t.Errorf("bad days counted %d visits", len(store.visits)-before)
	}
	// A store without history: 501 from the handler, ErrUnsupported from LastDays.
	h2, v2, _ := visitorsAPI(t, noHistory{store}, counter.VisitorOptions{})
	w := httptest.NewRecorder()
	h2.ServeHTTP(w, visitReq("GET", "/api/home?days=3", "192.0.2.3:1", chromeUA))
	if w.Code != 501 {
		t.Errorf("days over a store without history: %d, want 501", w.Code)
	}
	if _, err := v2.LastDays(context.Background(), "home", 3); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("LastDays: %v, want ErrUnsupported", err)
	}
	for _, n := range []int{0, -1, 367} {
		if _, err := (counter.NewVisitors(store, counter.VisitorOptions{})).LastDays(context.Background(), "home", n); err == nil {
			t.Errorf("LastDays(%d) succeeded", n)
		}
	}
	// A plain store: days answers 501, counts nothing.
	m := counter.NewMemory()
	w = httptest.NewRecorder()
	mountAPI(counter.JSONHandler(m, counter.HandlerOptions{})).ServeHTTP(w, visitReq("GET", "/api/home?days=3", "192.0.2.3:1", chromeUA))
	if w.Code != 501 || memCount(t, m, "home") != 0 {
		t.Errorf("days over a plain store: %d, count %d; want 501 and 0", w.Code, memCount(t, m, "home"))
	}
}

// TestBadgeLabelNamesItsNumber checks that no default label names a number
// other than the one drawn: the badge's aria-label and the shields
// endpoint's label and message agree with the JSON answer for every ?show=,
// and a label given as an option or a parameter is kept as is.
func TestBadgeLabelNamesItsNumber(t *testing.T) {
	store := newFakeVisits()
	h, _, _ := visitorsAPI(t, store, counter.VisitorOptions{})
	ctx := context.Background()
	earlier := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	for i := range 22 { // 22 hits and 2 visitors on an earlier day
		visit := counter.Visit{Key: "home", Date: "2026-11-30", Time: earlier}
		if i < 2 {
			visit.Visitor = counter.VisitorID{byte(i + 1)}
		}
		if _, _, err := store.RecordVisit(ctx, visit); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 7 { // today: 7 hits from 3 visitors
		send(t, h, visitReq("GET", "/api/home", fmt.Sprintf("192.0.2.%d:1", i%3+1), chromeUA))
	}
	_, a := send(t, h, visitReq("GET", "/api/home?hit=false", "192.0.2.1:1", chromeUA))
	if a.Count != 29 || a.Visitors != 5 || a.Today.Count != 7 || a.Today.Visitors != 3 {
		t.Fatalf("JSON answer %+v, want 29 hits, 5 visitors, today 7 and 3", a)
	}
	number := map[string]int64{"count": a.Count, "visitors": a.Visitors, "today": a.Today.Count, "today-visitors": a.Today.Visitors}
	name := map[string]string{"count": "hits", "visitors": "visitors", "today": "hits today", "today-visitors": "visitors today"}
	label := regexp.MustCompile(`aria-label="([^"]*)"`)
	badge := func(h http.Handler, query string) string {
		t.Helper()
		w := httptest.NewRecorder()
		h.ServeHTTP(w, visitReq("GET", "/badge/home?hit=false"+query, "192.0.2.1:1", chromeUA))
		m := label.FindStringSubmatch(w.Body.String())
		if w.Code != 200 || m == nil {
			t.Fatalf("badge %s: %d %s", query, w.Code, w.Body)
		}
		return m[1]
	}
	shields := func(h http.Handler, query string) string {
		t.Helper()
		w := httptest.NewRecorder()
		h.ServeHTTP(w, visitReq("GET", "/api/home?format=shields"+query, "192.0.2.1:1", chromeUA))
		var s struct{ Label, Message string }
		if err := json.Unmarshal(w.Body.Bytes(), &s); err != nil || w.Code != 200 {
			t.Fatalf("shields %s: %d %s", query, w.Code, w.Body)
		}
		return s.Label + ": " + s.Message
	}
	named := counter.NewVisitors(store, counter.VisitorOptions{Now: func() time.Time { return time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC) }})
	namedMux := http.NewServeMux()
	namedMux.Handle("/api/{key}", counter.JSONHandler(named, counter.HandlerOptions{Label: "page views"}))
	namedMux.Handle("/badge/{key}", counter.BadgeHandler(named, counter.HandlerOptions{Label: "page views"}))
	for _, show := range []string{"", "count", "visitors", "today", "today-visitors", "today/count", "visitors/count", "count/today-visitors", "today-visitors/visitors"} {
		first, second, two := strings.Cut(cmp.Or(show, "count"), "/")
		wantLabel := name[first]
		msg := groupedCount(number[first])
		if two {
			wantLabel += " / " + name[second]
			msg += " / " + groupedCount(number[second])
		}
		query := ""
		if show != "" {
			query = "&show=" + show
		}
		want := wantLabel + ": " + msg
		if got := badge(h, query); got != want {
			t.Errorf("badge show=%q: aria-label %q, want %q", show, got, want)
		}
		if got := shields(h, query); got != want {
			t.Errorf("shields endpoint show=%q: %q, want %q", show, got, want)
		}
		if got := badge(h, query+"&label=views"); got != "views: "+msg {
			t.Errorf("badge show=%q&label=views: aria-label %q, want %q", show, got, "views: "+msg)
		}
		if got := badge(namedMux, query); got != "page views: "+msg {
			t.Errorf("badge show=%q with HandlerOptions.Label: aria-label %q, want %q", show, got, "page views: "+msg)
		}
		if got := shields(namedMux, query); got != "page views: "+msg {
			t.Errorf("shields endpoint show=%q with HandlerOptions.Label: %q, want %q", show, got, "page views: "+msg)
		}
	}
}

func TestVisitorsShow(t *testing.T) {
	store := newFakeVisits()
	h, _, _ := visitorsAPI(t, store, counter.VisitorOptions{})
	for range 1234 { // hits on an earlier day
		if _, _, err := store.RecordVisit(context.Background(), counter.Visit{Key: "home", Date: "2026-11-30", Time: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 12 {
		send(t, h, visitReq("GET", "/api/home", fmt.Sprintf("192.0.2.%d:1", i+1), chromeUA))
	}
	// count 1246, visitors 12, today 12 hits and 12 visitors.
	shields := func(show string) (int, string) {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, visitReq("GET", "/api/home?format=shields&show="+show, "192.0.2.1:1", chromeUA))
		var s struct{ Message string }
		if err := json.Unmarshal(w.Body.Bytes(), &s); err != nil && w.Code == http.StatusOK {
			t.Fatalf("show=%s: %v", show, err)
		}
		return w.Code, s.Message
	}
	for _, tc := range []struct{ show, msg string }{
		{"count", "1,246"}, {"visitors", "12"}, {"today", "12"}, {"today-visitors", "12"},
		{"today/count", "12 / 1,246"}, {"visitors/count", "12 / 1,246"}, {"count/today", "1,246 / 12"},
	} {
		code, msg := shields(tc.show)
		if code != 200 || msg != tc.msg {
			t.Errorf("show=%s: %d %q, want %q", tc.show, code, msg, tc.msg)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, visitReq("GET", "/badge/home?hit=false&show="+tc.show, "192.0.2.1:1", chromeUA))
		if w.Code != 200 || !strings.Contains(w.Body.String(), ">"+tc.msg+"<") {
			t.Errorf("badge show=%s: %d, no %q in %s", tc.show, w.Code, tc.msg, w.Body)
		}
	}
	for _, bad := range []string{"", "counts", "count/", "/count", "today/count/visitors", "Count", "today%2Fcount%2F"} {
		code, _ := shields(bad)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, visitReq("GET", "/badge/home?show="+bad, "192.0.2.99:1", chromeUA))
		if code != 400 || w.Code != 400 {
			t.Errorf("show=%q: shields %d, badge %d; want 400", bad, code, w.Code)
		}
	}
	if n := len(store.visits); n != 1234+12 {
		t.Errorf("%d visits recorded, want %d (bad show counts nothing)", n, 1234+12)
	}
	// A plain store draws the count; other numbers are not kept: 501.
	m := counter.NewMemory()
	badge := counter.BadgeHandler(m, counter.HandlerOptions{})
	for show, code := range map[string]int{"count": 200, "count/count": 200, "visitors": 501, "today/count": 501, "bad": 400} {
		w := httptest.NewRecorder()
		badge.ServeHTTP(w, visitReq("GET", "/badge?show="+show, "192.0.2.1:1", chromeUA))
		if w.Code != code {
			t.Errorf("plain store, show=%s: %d, want %d", show, w.Code, code)
		}
	}
}

func TestClientAddr(t *testing.T) {
	for _, tc := range []struct {
		remote string
		xff    []string
		trust  int
		want   string
	}{
		{"192.0.2.1:1234", nil, 0, "192.0.2.1"},
		{"192.0.2.1", nil, 0, "192.0.2.1"},
		{"[2001:db8::1]:443", nil, 0, "2001:db8::1"},
		{"2001:db8::1", nil, 0, "2001:db8::1"},
		{"[fe80::1%eth0]:443", nil, 0, "fe80::1"},
		{"[::ffff:192.0.2.1]:1", nil, 0, "192.0.2.1"},
		{"192.0.2.1:1", []string{"203.0.113.7"}, 0, "192.0.2.1"}, // not trusted
		{"192.0.2.1:1", []string{"203.0.113.7"}, 1, "203.0.113.7"},
		{"192.0.2.1:1", []string{"6.6.6.6, 203.0.113.7"}, 1, "203.0.113.7"}, // forged entry left of it
		{"192.0.2.1:1", []string{"6.6.6.6, 203.0.113.7, 10.0.0.2"}, 2, "203.0.113.7"},
		{"192.0.2.1:1", []string{"6.6.6.6", "203.0.113.7, 10.0.0.2"}, 2, "203.0.113.7"}, // lines joined
		{"192.0.2.1:1", []string{"6.6.6.6", "203.0.113.7", "10.0.0.2"}, 3, "6.6.6.6"},
		{"192.0.2.1:1", []string{"10.0.0.2"}, 2, "192.0.2.1"},             // too few entries
		{"192.0.2.1:1", []string{"not-an-ip"}, 1, "192.0.2.1"},            // garbage
		{"192.0.2.1:1", []string{"203.0.113.7:5555"}, 1, "203.0.113.7"},   // with a port
		{"192.0.2.1:1", []string{"[2001:db8::7]:5555"}, 1, "2001:db8::7"}, // IPv6 with a port
		{"192.0.2.1:1", []string{" 2001:db8::7 "}, 1, "2001:db8::7"},
		{"192.0.2.1:1", []string{"a, ,"}, 1, "192.0.2.1"}, // empty entry
		{"bad", nil, 0, "invalid IP"},
	} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = tc.remote
		r.Header["X-Forwarded-For"] = tc.xff
		if got := counter.ClientAddr(r, tc.trust).String(); got != tc.want {
			t.Errorf("ClientAddr(%s, %q, %d) = %s, want %s", tc.remote, tc.xff, tc.trust, got, tc.want)
		}
	}
}

// With a trusted proxy, the entry it added names the visitor.
func TestVisitorsTrustProxy(t *testing.T) {
	for _, trust := range []int{0, 1} {
		h, _, _ := visitorsAPI(t, newFakeVisits(), counter.VisitorOptions{TrustProxy: trust})
		var a jsonAnswer
		for _, xff := range []string{"203.0.113.1", "203.0.113.2"} {
			_, a = send(t, h, visitReq("GET", "/api/home", "10.0.0.1:1", chromeUA, "X-Forwarded-For", xff))
		}
		if want := int64(1 + trust); a.Visitors != want {
			t.Errorf("TrustProxy %d: %d visitors from one proxy with two clients behind, want %d", trust, a.Visitors, want)
		}
	}
}

// Concurrent first visits of a day ask the store for the salt once; a
// failure is an error for the requests waiting on it and is retried.
func TestVisitorsSalt(t *testing.T) {
	store := newFakeVisits()
	store.saltGate = make(chan struct{})
	logger, logs := newLogBuffer()
	h, v, _ := visitorsAPI(t, store, counter.VisitorOptions{Logger: logger})
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w, _ := send(t, h, visitReq("GET", "/api/home", fmt.Sprintf("192.0.2.%d:1", i+1), chromeUA))
			if w.Code != 200 {
				t.Errorf("status %d", w.Code)
			}
		}()
	}
	for deadline := time.Now().Add(10 * time.Second); store.saltCalls.Load() == 0; {
		if time.Now().After(deadline) {
			t.Fatal("no DaySalt call within 10s")
		}
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond) // let the others queue behind it
	close(store.saltGate)
	wg.Wait()
	if n := store.saltCalls.Load(); n != 1 {
		t.Errorf("DaySalt called %d times, want 1", n)
	}
	if s, _ := v.Stats(context.Background(), "home"); s.Visitors != 20 || s.Count != 20 {
		t.Errorf("stats %+v, want 20 visitors", s)
	}

	store2 := newFakeVisits()
	store2.saltErr = errors.New(storeSecret)
	h2, v2, _ := visitorsAPI(t, store2, counter.VisitorOptions{Logger: logger})
	for range 2 {
		w := httptest.NewRecorder()
		h2.ServeHTTP(w, visitReq("GET", "/api/home", "192.0.2.1:1", chromeUA))
		if w.Code != 503 || strings.Contains(w.Body.String(), "AccessDenied") {
			t.Errorf("salt failure: %d %s, want 503", w.Code, w.Body)
		}
	}
	if n := store2.saltCalls.Load(); n != 2 || len(store2.visits) != 0 {
		t.Errorf("after two failed requests: %d DaySalt calls, %d visits; want 2 and 0", n, len(store2.visits))
	}
	if !strings.Contains(logs.String(), storeSecret) {
		t.Errorf("the salt failure's cause is not logged:\n%s", logs)
	}
	store2.mu.Lock()
	store2.saltErr = nil
	store2.mu.Unlock()
	if _, skip, err := v2.Visit(context.Background(), visitReq("GET", "/", "192.0.2.1:1", chromeUA), "home"); err != nil || skip != counter.Counted {
		t.Errorf("after the store recovered: %v %q", err, skip)
	}
}

// A store whose markers are full counts new visitors as hits, and the log
// says so once, not once a request.
func TestVisitorsMarkersFull(t *testing.T) {
	store := newFakeVisits()
	store.maxMarks = 3
	logger, logs := newLogBuffer()
	h, _, _ := visitorsAPI(t, store, counter.VisitorOptions{Logger: logger})
	var a jsonAnswer
	var w *httptest.ResponseRecorder
	for i := range 50 {
		w, a = send(t, h, visitReq("GET", "/api/home", fmt.Sprintf("192.0.2.%d:1", i+1), chromeUA))
	}
	want(t, w, a, 50, 3, counter.Counted)
	w, a = send(t, h, visitReq("GET", "/api/home?visit=abc", "192.0.2.1:1", chromeUA)) // a known visitor; the id cannot be kept
	want(t, w, a, 51, 3, counter.Counted)
	if n := strings.Count(logs.String(), `"msg":"counter: visit markers full`); n != 1 {
		t.Errorf("markers full logged %d times, want 1:\n%s", n, logs)
	}
}

func TestVisitorsIncrementer(t *testing.T) {
	store := newFakeVisits()
	clock := &fixedClock{t: time.Date(2026, 12, 1, 23, 59, 59, 0, time.UTC)} // a second before midnight: only a fixed clock stays on the day
	v := counter.NewVisitors(store, counter.VisitorOptions{Now: clock.Now})
	ctx := context.Background()
	for i := range 3 {
		n, err := v.Increment(ctx, "home")
		if err != nil || n != int64(i+1) {
			t.Fatalf("Increment: %d %v", n, err)
		}
	}
	if n, err := v.Count(ctx, "home"); n != 3 || err != nil {
		t.Errorf("Count: %d %v", n, err)
	}
	s, _ := v.Stats(ctx, "home")
	if s.Visitors != 0 || s.Today.Count != 3 || s.Today.Date != v.Today() {
		t.Errorf("Stats after Increment: %+v", s)
	}
	for _, f := range []func() error{
		func() error { _, err := v.Increment(ctx, "bad key"); return err },
		func() error { _, err := v.Count(ctx, "bad key"); return err },
		func() error { _, err := v.LastDays(ctx, "bad key", 1); return err },
		func() error {
			_, _, err := v.Visit(ctx, visitReq("GET", "/", "192.0.2.1:1", chromeUA), "bad key")
			return err
		},
	} {
		if err := f(); !errors.Is(err, counter.ErrInvalidKey) {
			t.Errorf("bad key: %v", err)
		}
	}
}

// No log line, on any path, holds a client's address or User-Agent.
func TestVisitorsPrivacyLogs(t *testing.T) {
	const (
		addr = "198.51.100.77"
		ua   = "Mozilla/5.0 (X11; Linux x86_64) PrivacyProbe/9.9 Firefox/133.0"
	)
	logger, logs := newLogBuffer()
	stores := map[string]counter.VisitStore{"fake": newFakeVisits()}
	failing := newFakeVisits()
	failing.saltErr = errors.New(storeSecret)
	stores["salt failure"] = failing
	full := newFakeVisits()
	full.maxMarks = 1
	stores["markers full"] = full
	stores["no history"] = noHistory{newFakeVisits()}
	for name, store := range stores {
		h, _, _ := visitorsAPI(t, store, counter.VisitorOptions{Logger: logger, TrustProxy: 1})
		for _, target := range []string{"/api/home", "/api/home", "/api/home?visit=x1", "/api/home?visit=x1", "/api/home?days=3",
			"/api/home?hit=false", "/api/home?visit=bad!", "/api/bad%20key", "/badge/home?show=visitors", "/api/home?optout=1"} {
			for _, agent := range []string{ua, botUA, camoUA, ""} {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, visitReq("GET", target, "10.0.0.1:1", agent, "X-Forwarded-For", addr))
				if w.Code == 200 && strings.Contains(w.Body.String(), addr) {
					t.Errorf("%s: %s answered the address", name, target)
				}
			}
		}
	}
	if logs.String() == "" {
		t.Fatal("nothing was logged: the test checks nothing")
	}
	for _, secret := range []string{addr, ua, "PrivacyProbe", "10.0.0.1"} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("the log holds %q:\n%s", secret, logs)
		}
	}
	for _, msg := range []string{"markers full", storeSecret, "daily history"} {
		if !strings.Contains(logs.String(), msg) {
			t.Errorf("the log lacks %q: a path went untested", msg)
		}
	}
}

// Scripts on allowed origins can read why a visit did not count.
func TestVisitorsCORSExposesReason(t *testing.T) {
	v := counter.NewVisitors(counter.NewMemory(), counter.VisitorOptions{})
	h := counter.JSONHandler(v, counter.HandlerOptions{AllowedOrigins: []string{"https://me.example"}})
	w := httptest.NewRecorder()
	h.ServeHTTP(w, visitReq("GET", "/?optout=1", "192.0.2.1:1", chromeUA, "Origin", "https://me.example"))
	if got := w.Header().Get("Access-Control-Expose-Headers"); !strings.Contains(got, "Counter-Not-Counted") {
		t.Errorf("Access-Control-Expose-Headers %q lacks Counter-Not-Counted", got)
	}
	if got := w.Header().Get("Counter-Not-Counted"); got != "opt-out" {
		t.Errorf("Counter-Not-Counted %q, want opt-out", got)
	}
}
