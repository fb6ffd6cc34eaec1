package counter

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// The tests below take ServeHTTP's three steps one at a time: parse, decide
// and answer. The handler tests in handler_test.go cover them together.

const stepsUA = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"

// stepsClock is a fixed time for the Visitors of these tests.
func stepsClock() time.Time { return time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC) }

func stepsHandler(t *testing.T, inc Incrementer, opts HandlerOptions, badge bool) *handler {
	t.Helper()
	h, ok := newHandler(inc, opts, badge).(*handler)
	if !ok {
		t.Fatal("newHandler did not return a *handler (AllowedOrigins set?)")
	}
	return h
}

// incOnly is an Incrementer that cannot read without counting.
type incOnly struct{ m *Memory }

func (s incOnly) Increment(ctx context.Context, key string) (int64, error) {
	return s.m.Increment(ctx, key)
}

// failingStore fails every call with err.
type failingStore struct{ err error }

func (s failingStore) Increment(context.Context, string) (int64, error) { return 0, s.err }
func (s failingStore) Count(context.Context, string) (int64, error)     { return 0, s.err }

// noDays is a DayReader over a store without daily history.
type noDays struct{}

func (noDays) LastDays(context.Context, string, int) ([]Day, error) {
	return nil, errors.ErrUnsupported
}

func TestHandlerParse(t *testing.T) {
	visitors := NewVisitors(NewMemory(), VisitorOptions{Now: stepsClock})
	long := "label=" + strings.Repeat("a", maxQueryLen)
	for _, tc := range []struct {
		name      string
		inc       Incrementer
		opts      HandlerOptions
		badge     bool
		method    string
		target    string
		pathKey   string
		want      request // badge: compared only for its Label and Color
		wantLabel string
		wantColor string
		wantErr   problem
	}{
		{name: "GET counts the default key", method: "GET", target: "/",
			want: request{key: "visitors", count: true}, wantLabel: "hits", wantColor: "blue"},
		{name: "POST counts", method: "POST", target: "/",
			want: request{key: "visitors", count: true}, wantLabel: "hits", wantColor: "blue"},
		{name: "HEAD never counts", method: "HEAD", target: "/?hit=1",
			want: request{key: "visitors"}, wantLabel: "hits", wantColor: "blue"},
		{name: "hit=0 reads", method: "GET", target: "/?hit=0",
			want: request{key: "visitors"}, wantLabel: "hits", wantColor: "blue"},
		{name: "key from the path", method: "GET", target: "/c/home", pathKey: "home",
			want: request{key: "home", count: true}, wantLabel: "hits", wantColor: "blue"},
		{name: "shields reads unless asked", method: "GET", target: "/?format=shields",
			want: request{key: "visitors", shields: true}, wantLabel: "hits", wantColor: "blue"},
		{name: "shields counts with hit=true", method: "GET", target: "/?format=shields&hit=true&color=red",
			want: request{key: "visitors", shields: true, count: true}, wantLabel: "hits", wantColor: "red"},
		{name: "JSON ignores badge parameters", method: "GET", target: "/?color=red&label=x",
			want: request{key: "visitors", count: true}, wantLabel: "hits", wantColor: "blue"},
		{name: "badge parameters", badge: true, method: "GET", target: "/?label=views&color=red",
			want: request{key: "visitors", count: true}, wantLabel: "views", wantColor: "red"},
		{name: "show names the label", badge: true, inc: visitors, method: "GET", target: "/?show=visitors",
			want: request{key: "visitors", count: true, visit: visitParams{show: show{showVisitors}}}, wantLabel: "visitors", wantColor: "blue"},
		{name: "days over Visitors", inc: visitors, method: "GET", target: "/?days=7",
			want: request{key: "visitors", count: true, visit: visitParams{days: 7}}, wantLabel: "hits", wantColor: "blue"},
		{name: "optout", inc: visitors, method: "GET", target: "/?optout=1",
			want: request{key: "visitors", count: true, visit: visitParams{optout: true}}, wantLabel: "hits", wantColor: "blue"},

		{name: "query too long", method: "GET", target: "/?" + long, wantErr: errQueryLong, wantLabel: "hits", wantColor: "blue"},
		{name: "malformed query", method: "GET", target: "/?hit=%zz", wantErr: errBadQuery, wantLabel: "hits", wantColor: "blue"},
		{name: "unknown format", method: "GET", target: "/?format=xml", wantErr: errBadFormat, wantLabel: "hits", wantColor: "blue"},
		{name: "invalid hit", method: "GET", target: "/?hit=maybe", wantErr: errBadHit, wantLabel: "hits", wantColor: "blue"},
		{name: "invalid badge keeps the defaults", badge: true, method: "GET", target: "/?label=x&color=" + strings.Repeat("f", maxColorLen+1),
			wantErr: errBadBadge, wantLabel: "hits", wantColor: "blue"},
		{name: "invalid key keeps the query's badge", badge: true, method: "GET", target: "/c/-x?color=red", pathKey: "-x",
			wantErr: errBadKey, wantLabel: "hits", wantColor: "red"},
		{name: "key not allowed", opts: HandlerOptions{Keys: []string{"home"}}, method: "GET", target: "/c/blog", pathKey: "blog",
			wantErr: errUnknownKey, wantLabel: "hits", wantColor: "blue"},
		{name: "days without history", method: "GET", target: "/?days=7", wantErr: errNoDays, wantLabel: "hits", wantColor: "blue"},
		{name: "invalid days", inc: visitors, method: "GET", target: "/?days=0", wantErr: errBadDays, wantLabel: "hits", wantColor: "blue"},
		{name: "invalid visit id", inc: visitors, method: "GET", target: "/?visit=a%20b", wantErr: errBadVisitID, wantLabel: "hits", wantColor: "blue"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inc := tc.inc
			if inc == nil {
				inc = NewMemory()
			}
			h := stepsHandler(t, inc, tc.opts, tc.badge)
			r := httptest.NewRequest(tc.method, tc.target, nil)
			if tc.pathKey != "" {
				r.SetPathValue("key", tc.pathKey)
			}
			got := request{badge: h.defaults}
			p := h.parse(r, &got)
			if p != tc.wantErr {
				t.Fatalf("problem %+v, want %+v", p, tc.wantErr)
			}
			if got.badge.Label != tc.wantLabel || got.badge.Color != tc.wantColor {
				t.Errorf("badge label %q color %q, want %q %q", got.badge.Label, got.badge.Color, tc.wantLabel, tc.wantColor)
			}
			if p.status != 0 {
				return
			}
			got.badge = Badge{}
			if got != tc.want {
				t.Errorf("request %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestHandlerDecide(t *testing.T) {
	storeDown := errors.New("store down")
	for _, tc := range []struct {
		name      string
		visitors  bool // the store is Visitors over Memory
		inc       func(*Memory) Incrementer
		days      DayReader // replaces the handler's, if set
		req       request
		wantCount bool
		wantSkip  Skip
		wantStats Stats
		wantDays  int
		wantErr   problem
		wantStore error // the store's error, returned as is
	}{
		{name: "counts", req: request{key: "k", count: true},
			wantCount: true, wantSkip: Counted, wantStats: Stats{Count: 6}},
		{name: "reads", req: request{key: "k"},
			wantSkip: SkipReadOnly, wantStats: Stats{Count: 5}},
		{name: "optout reads", req: request{key: "k", count: true, visit: visitParams{optout: true}},
			wantSkip: SkipOptOut, wantStats: Stats{Count: 5}},
		{name: "no reader", inc: func(m *Memory) Incrementer { return incOnly{m} }, req: request{key: "k"},
			wantSkip: SkipReadOnly, wantErr: errNoReader},
		{name: "store fails", inc: func(*Memory) Incrementer { return failingStore{storeDown} }, req: request{key: "k", count: true},
			wantCount: true, wantSkip: Counted, wantStore: storeDown},
		{name: "visitors count", visitors: true, req: request{key: "k", count: true},
			wantCount: true, wantSkip: Counted, wantStats: Stats{Key: "k", Count: 6, Visitors: 1, Today: Day{Date: "2026-11-30", Count: 1, Visitors: 1}}},
		{name: "visitors read", visitors: true, req: request{key: "k"},
			wantSkip: SkipReadOnly, wantStats: Stats{Key: "k", Count: 5, Today: Day{Date: "2026-11-30"}}},
		{name: "days read", visitors: true, req: request{key: "k", count: true, visit: visitParams{days: 3}},
			wantSkip: SkipReadOnly, wantStats: Stats{Key: "k", Count: 5, Today: Day{Date: "2026-11-30"}}, wantDays: 3},
		{name: "days unsupported", visitors: true, days: noDays{}, req: request{key: "k", visit: visitParams{days: 3}},
			wantSkip: SkipReadOnly, wantStats: Stats{Key: "k", Count: 5, Today: Day{Date: "2026-11-30"}}, wantErr: errNoDays},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := NewMemoryWith(MemoryOptions{Now: stepsClock})
			if _, err := m.SetCount(context.Background(), "k", 5); err != nil {
				t.Fatal(err)
			}
			var inc Incrementer = m
			switch {
			case tc.inc != nil:
				inc = tc.inc(m)
			case tc.visitors:
				inc = NewVisitors(m, VisitorOptions{Now: stepsClock})
			}
			h := stepsHandler(t, inc, HandlerOptions{Logger: slog.New(slog.DiscardHandler)}, false)
			if tc.days != nil {
				h.days = tc.days
			}
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.Header.Set("User-Agent", stepsUA)
			var d decision
			p, err := h.decide(context.Background(), r, &tc.req, &d)
			if p != tc.wantErr || !errors.Is(err, tc.wantStore) {
				t.Fatalf("problem %+v, error %v; want %+v, %v", p, err, tc.wantErr, tc.wantStore)
			}
			if d.count != tc.wantCount || d.skip != tc.wantSkip {
				t.Errorf("count %v skip %q, want %v %q", d.count, d.skip, tc.wantCount, tc.wantSkip)
			}
			if p.status == 0 && err == nil && (d.stats != tc.wantStats || len(d.days) != tc.wantDays) {
				t.Errorf("stats %+v and %d days, want %+v and %d", d.stats, len(d.days), tc.wantStats, tc.wantDays)
			}
		})
	}
}

func TestHandlerAnswer(t *testing.T) {
	st := Stats{Key: "k", Count: 42}
	counted := decision{count: true, skip: Counted, stats: st}
	read := decision{skip: SkipReadOnly, stats: st}
	json := `{"key":"k","count":42}`
	etag := etagOf([]byte(json))
	for _, tc := range []struct {
		name        string
		badge       bool
		req         request
		d           decision
		method      string
		ifNoneMatch string
		wantStatus  int
		wantHeader  map[string]string // "" means absent
		wantBody    string            // a prefix; "" means empty
	}{
		{name: "counted JSON is not cached", req: request{key: "k"}, d: counted, method: "GET", wantStatus: 200,
			wantHeader: map[string]string{"Content-Type": "application/json; charset=utf-8", "Cache-Control": "no-cache, no-store, must-revalidate, max-age=0", "Etag": "", "Counter-Not-Counted": ""},
			wantBody:   json},
		{name: "read JSON has an ETag", req: request{key: "k"}, d: read, method: "GET", wantStatus: 200,
			wantHeader: map[string]string{"Cache-Control": "no-cache", "Etag": etag, "Counter-Not-Counted": "read-only"},
			wantBody:   json},
		{name: "matching ETag is 304", req: request{key: "k"}, d: read, method: "GET", ifNoneMatch: etag, wantStatus: 304,
			wantHeader: map[string]string{"Content-Type": "", "Etag": etag}},
		{name: "HEAD has a length and no body", req: request{key: "k"}, d: read, method: "HEAD", wantStatus: 200,
			wantHeader: map[string]string{"Content-Length": "22", "Content-Type": "application/json; charset=utf-8"}},
		{name: "opt-out says so", req: request{key: "k"}, d: decision{skip: SkipOptOut, stats: st}, method: "GET", wantStatus: 200,
			wantHeader: map[string]string{"Counter-Not-Counted": "opt-out"}, wantBody: json},
		{name: "badge", badge: true, req: request{key: "k", badge: Badge{Label: "hits", Color: "blue", LabelColor: "#555", Style: StyleFlat}}, d: counted, method: "GET", wantStatus: 200,
			wantHeader: map[string]string{"Content-Type": "image/svg+xml", "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"},
			wantBody:   "<svg"},
		{name: "shields", req: request{key: "k", shields: true, badge: Badge{Label: "hits", Color: "red"}}, d: read, method: "GET", wantStatus: 200,
			wantHeader: map[string]string{"Content-Type": "application/json; charset=utf-8"},
			wantBody:   `{"schemaVersion":1,"label":"hits","message":"42","color":"red"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := stepsHandler(t, NewMemory(), HandlerOptions{}, tc.badge)
			r := httptest.NewRequest(tc.method, "/", nil)
			if tc.ifNoneMatch != "" {
				r.Header.Set("If-None-Match", tc.ifNoneMatch)
			}
			w := httptest.NewRecorder()
			h.answer(w, r, &tc.req, &tc.d)
			if w.Code != tc.wantStatus {
				t.Errorf("status %d, want %d", w.Code, tc.wantStatus)
			}
			for k, want := range tc.wantHeader {
				if got := w.Header().Get(k); got != want {
					t.Errorf("%s: %q, want %q", k, got, want)
				}
			}
			if body := w.Body.String(); tc.wantBody == "" && body != "" || !strings.HasPrefix(body, tc.wantBody) {
				t.Errorf("body %q, want it to start with %q", body, tc.wantBody)
			}
		})
	}
}
