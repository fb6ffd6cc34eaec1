package counter_test

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/resumecounter/counter"
)

// storeSecret is the text of store errors; it must reach the log, never a body.
const storeSecret = "dynamodb: AccessDenied for arn:aws:iam::123456789012:role/secret"

// failingStore fails every count and read with an internal error. It
// embeds the memory store a test checks, so that a handler reaching that
// store some other way than the failing calls (another capability) shows in
// the test's count.
type failingStore struct{ *counter.Memory }

func (failingStore) Increment(context.Context, string) (int64, error) {
	return 0, fmt.Errorf("counter: increment: %w", errors.New(storeSecret))
}

func (failingStore) Add(context.Context, string, int64) (int64, error) {
	return 0, fmt.Errorf("counter: add: %w", errors.New(storeSecret))
}

func (failingStore) Count(context.Context, string) (int64, error) {
	return 0, fmt.Errorf("counter: count: %w", errors.New(storeSecret))
}

// hangingStore answers only when the context ends, as a store whose
// network call hangs does. Like failingStore, it embeds the store a test
// checks.
type hangingStore struct{ *counter.Memory }

func (hangingStore) Increment(ctx context.Context, key string) (int64, error) {
	<-ctx.Done()
	return 0, fmt.Errorf("counter: increment %q: %w", key, ctx.Err())
}

func (s hangingStore) Add(ctx context.Context, key string, _ int64) (int64, error) {
	return s.Increment(ctx, key)
}

func (s hangingStore) Count(ctx context.Context, key string) (int64, error) {
	return s.Increment(ctx, key)
}

// incrementOnly hides the Reader of the store it wraps.
type incrementOnly struct{ inc counter.Incrementer }

func (s incrementOnly) Increment(ctx context.Context, key string) (int64, error) {
	return s.inc.Increment(ctx, key)
}

// memCount reads key from m without counting.
func memCount(t *testing.T, m *counter.Memory, key string) int64 {
	t.Helper()
	n, err := m.Count(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// mountAPI serves h on /api/{key} and /count (the default key), as users do.
func mountAPI(h http.Handler) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("/api/{key}", h)
	mux.Handle("/count", h)
	return mux
}

// serveHandler sends one request through h and returns the recorded response.
func serveHandler(t *testing.T, h http.Handler, method, target string, header http.Header) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, target, nil)
	for k, v := range header {
		r.Header[k] = v
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// newLogBuffer returns a logger that writes JSON lines to the returned buffer.
func newLogBuffer() (*slog.Logger, *lockedBuffer) {
	var buf lockedBuffer
	return slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})), &buf
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// checkResponseBasics checks what every response carries, whatever its status.
func checkResponseBasics(t *testing.T, w *httptest.ResponseRecorder, badge bool, method string) {
	t.Helper()
	if got := w.Header().Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("X-Content-Type-Options = %q, want nosniff", got)
	}
	if strings.Contains(w.Body.String(), "secret") || strings.Contains(w.Body.String(), "arn:aws") {
		t.Errorf("body leaks internal error text: %s", w.Body)
	}
	if w.Code == http.StatusNoContent || w.Code == http.StatusNotModified {
		if w.Body.Len() != 0 {
			t.Errorf("%d with a body: %q", w.Code, w.Body)
		}
		return
	}
	ct := w.Header().Get("Content-Type")
	if badge {
		if ct != "image/svg+xml" {
			t.Errorf("Content-Type = %q, want image/svg+xml", ct)
		}
		if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "script") {
			t.Errorf("Content-Security-Policy = %q, want one forbidding scripts", csp)
		}
		if method != http.MethodHead {
			checkSVGWellFormed(t, w.Body.Bytes())
		}
	} else {
		if ct != "application/json; charset=utf-8" {
			t.Errorf("Content-Type = %q, want application/json; charset=utf-8", ct)
		}
		if method != http.MethodHead && !json.Valid(w.Body.Bytes()) {
			t.Errorf("body is not JSON: %q", w.Body)
		}
	}
	if method == http.MethodHead && w.Body.Len() != 0 {
		t.Errorf("HEAD answered with a body: %q", w.Body)
	}
}

// checkSVGWellFormed checks that body is a well-formed XML document whose root is an
// SVG element with a width.
func checkSVGWellFormed(t *testing.T, body []byte) {
	t.Helper()
	if err := svgWellFormedErr(body); err != nil {
		t.Errorf("broken SVG: %v\n%s", err, body)
	}
}

func svgWellFormedErr(body []byte) error {
	d := xml.NewDecoder(bytes.NewReader(body))
	root := true
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			if root {
				return errors.New("no root element")
			}
			return nil
		}
		if err != nil {
			return err
		}
		if se, ok := tok.(xml.StartElement); ok && root {
			root = false
			if se.Name.Local != "svg" {
				return fmt.Errorf("root element %q, want svg", se.Name.Local)
			}
		}
	}
}

func TestJSONHandler(t *testing.T) {
	json := "application/json; charset=utf-8"
	long := "/api/visitors?v=" + strings.Repeat("x", 1100)
	tests := []struct {
		name      string
		opts      counter.HandlerOptions
		store     func(m *counter.Memory) counter.Incrementer // default: the memory store
		method    string
		target    string
		header    http.Header
		wantCode  int
		wantBody  string // exact, unless empty
		wantHdr   map[string]string
		wantCount int64 // count of key "visitors" (or wantKey) after the request; the store starts at 10
		wantKey   string
	}{
		{name: "GET counts", method: "GET", target: "/api/visitors", wantCode: 200,
			wantBody: `{"key":"visitors","count":11}`,
			wantHdr: map[string]string{"Content-Type": json, "Cache-Control": "no-cache, no-store, must-revalidate, max-age=0", "ETag": "",
				"Pragma": "no-cache", "Expires": "0"},
			wantCount: 11},
		{name: "POST counts, body ignored", method: "POST", target: "/api/visitors", wantCode: 200,
			wantBody: `{"key":"visitors","count":11}`, wantCount: 11},
		{name: "default key", method: "GET", target: "/count", wantCode: 200,
			wantBody: `{"key":"visitors","count":11}`, wantCount: 11},
		{name: "configured default key", opts: counter.HandlerOptions{DefaultKey: "home"}, method: "GET", target: "/count",
			wantCode: 200, wantBody: `{"key":"home","count":1}`, wantKey: "home", wantCount: 1},
		{name: "other key", method: "GET", target: "/api/page:about", wantCode: 200,
			wantBody: `{"key":"page:about","count":1}`, wantKey: "page:about", wantCount: 1},
		{name: "hit=false reads", method: "GET", target: "/api/visitors?hit=false", wantCode: 200,
			wantBody: `{"key":"visitors","count":10}`,
			wantHdr:  map[string]string{"Content-Type": json, "Cache-Control": "no-cache", "ETag": "*", "Pragma": "", "Expires": ""}, wantCount: 10},
		{name: "hit=0 reads", method: "POST", target: "/api/visitors?hit=0", wantCode: 200,
			wantBody: `{"key":"visitors","count":10}`, wantCount: 10},
		{name: "hit=true counts", method: "GET", target: "/api/visitors?hit=true", wantCode: 200,
			wantBody: `{"key":"visitors","count":11}`, wantCount: 11},
		{name: "unknown parameters ignored", method: "GET", target: "/api/visitors?v=3&&x&y=%zz&=&%zz=1&l%61bel=%00", wantCode: 200,
			wantBody: `{"key":"visitors","count":11}`, wantCount: 11},
		{name: "first of repeated parameters wins", method: "GET", target: "/api/visitors?hit=false&hit=true", wantCode: 200,
			wantBody: `{"key":"visitors","count":10}`, wantCount: 10},
		{name: "HEAD never counts", method: "HEAD", target: "/api/visitors?hit=true", wantCode: 200,
			wantHdr: map[string]string{"Content-Type": json, "Content-Length": "29", "ETag": "*"}, wantCount: 10},
		{name: "OPTIONS never counts", method: "OPTIONS", target: "/api/visitors", wantCode: 204,
			wantHdr: map[string]string{"Allow": "GET, HEAD, POST, OPTIONS"}, wantCount: 10},
		{name: "PUT not allowed", method: "PUT", target: "/api/visitors", wantCode: 405,
			wantBody: `{"error":"method not allowed"}`, wantHdr: map[string]string{"Allow": "GET, HEAD, POST, OPTIONS"}, wantCount: 10},
		{name: "DELETE not allowed", method: "DELETE", target: "/api/visitors", wantCode: 405, wantCount: 10},
		{name: "invalid key", method: "GET", target: "/api/-x", wantCode: 400,
			wantBody: `{"error":"invalid key"}`, wantHdr: map[string]string{"Cache-Control": "no-cache, no-store, must-revalidate, max-age=0"}, wantCount: 10},
		{name: "escaped invalid key", method: "GET", target: "/api/a%2Fb", wantCode: 400, wantBody: `{"error":"invalid key"}`, wantCount: 10},
		{name: "key too long", method: "GET", target: "/api/" + strings.Repeat("k", counter.MaxKeyLen+1), wantCode: 400, wantCount: 10},
		{name: "allowlisted key", opts: counter.HandlerOptions{Keys: []string{"visitors", "home"}}, method: "GET",
			target: "/api/visitors", wantCode: 200, wantCount: 11},
		{name: "key not in Keys", opts: counter.HandlerOptions{Keys: []string{"visitors"}}, method: "GET",
			target: "/api/other", wantCode: 404, wantBody: `{"error":"unknown key"}`, wantKey: "other", wantCount: 0},
		{name: "key refused by AllowKey", opts: counter.HandlerOptions{AllowKey: func(k string) bool { return strings.HasPrefix(k, "page:") }},
			method: "GET", target: "/api/visitors", wantCode: 404, wantCount: 10},
		{name: "key allowed by AllowKey", opts: counter.HandlerOptions{AllowKey: func(k string) bool { return strings.HasPrefix(k, "page:") }},
			method: "GET", target: "/api/page:x", wantCode: 200, wantKey: "page:x", wantCount: 1},
		{name: "default key not in Keys", opts: counter.HandlerOptions{Keys: []string{"home"}}, method: "GET",
			target: "/count", wantCode: 404, wantCount: 10},
		{name: "query too long", method: "GET", target: long, wantCode: 414, wantBody: `{"error":"query too long"}`, wantCount: 10},
		{name: "malformed escape in a known parameter", method: "GET", target: "/api/visitors?hit=%zz", wantCode: 400, wantCount: 10},
		{name: "invalid hit", method: "GET", target: "/api/visitors?hit=maybe", wantCode: 400, wantBody: `{"error":"invalid hit"}`, wantCount: 10},
		{name: "invalid format", method: "GET", target: "/api/visitors?format=xml", wantCode: 400, wantBody: `{"error":"invalid format"}`, wantCount: 10},
		{name: "shields endpoint is read-only", method: "GET", target: "/api/visitors?format=shields", wantCode: 200,
			wantBody: `{"schemaVersion":1,"label":"hits","message":"10","color":"blue"}`,
			wantHdr:  map[string]string{"Content-Type": json, "Cache-Control": "no-cache", "ETag": "*"}, wantCount: 10},
		{name: "shields endpoint counts on hit=true", method: "GET", target: "/api/visitors?format=shields&hit=true", wantCode: 200,
			wantBody: `{"schemaVersion":1,"label":"hits","message":"11","color":"blue"}`, wantCount: 11},
		{name: "shields endpoint with badge parameters", method: "GET",
			target:   `/api/visitors?format=shields&label=say+%22hi%22%5C&color=%23ff0000&labelColor=green&style=flat-square`,
			wantCode: 200, wantBody: `{"schemaVersion":1,"label":"say \"hi\"\\","message":"10","color":"#ff0000","labelColor":"green","style":"flat-square"}`,
			wantCount: 10},
		{name: "shields endpoint escapes U+2028 and U+2029", method: "GET", target: "/api/visitors?format=shields&label=a%E2%80%A8b%E2%80%A9c%E2%80%A7",
			wantCode: 200, wantBody: `{"schemaVersion":1,"label":"a\u2028b\u2029c` + "\u2027" + `","message":"10","color":"blue"}`, wantCount: 10},
		{name: "shields endpoint with options", opts: counter.HandlerOptions{Label: "views", Color: "orange"}, method: "GET",
			target: "/api/visitors?format=shields", wantCode: 200,
			wantBody: `{"schemaVersion":1,"label":"views","message":"10","color":"orange"}`, wantCount: 10},
		{name: "shields endpoint with a bad colour", method: "GET", target: "/api/visitors?format=shields&color=url(x)", wantCode: 400, wantCount: 10},
		{name: "shields endpoint with a logo", method: "GET", target: "/api/visitors?format=shields&style=social&logo=github&logoColor=%23fff", wantCode: 200,
			wantBody: `{"schemaVersion":1,"label":"hits","message":"10","color":"blue","style":"social","namedLogo":"github","logoColor":"#fff"}`, wantCount: 10},
		{name: "shields endpoint with an unknown logo", method: "GET", target: "/api/visitors?format=shields&logo=linkedin", wantCode: 400, wantCount: 10},
		{name: "badge parameters ignored without format", method: "GET", target: "/api/visitors?color=url(x)", wantCode: 200, wantCount: 11},
		{name: "hit=false needs a Reader", store: func(m *counter.Memory) counter.Incrementer { return incrementOnly{m} },
			method: "GET", target: "/api/visitors?hit=false", wantCode: 501,
			wantBody: `{"error":"reading without counting is not supported"}`, wantCount: 10},
		{name: "HEAD needs a Reader", store: func(m *counter.Memory) counter.Incrementer { return incrementOnly{m} },
			method: "HEAD", target: "/api/visitors", wantCode: 501, wantCount: 10},
		{name: "counting needs no Reader", store: func(m *counter.Memory) counter.Incrementer { return incrementOnly{m} },
			method: "GET", target: "/api/visitors", wantCode: 200, wantBody: `{"key":"visitors","count":11}`, wantCount: 11},
		{name: "failing store", store: func(m *counter.Memory) counter.Incrementer { return failingStore{m} },
			method: "GET", target: "/api/visitors", wantCode: 503, wantBody: `{"error":"unavailable"}`,
			wantHdr: map[string]string{"Cache-Control": "no-cache, no-store, must-revalidate, max-age=0", "Content-Type": json,
				"Pragma": "no-cache", "Expires": "0"}, wantCount: 10},
		{name: "failing store, read", store: func(m *counter.Memory) counter.Incrementer { return failingStore{m} },
			method: "GET", target: "/api/visitors?hit=false", wantCode: 503, wantBody: `{"error":"unavailable"}`, wantCount: 10},
		{name: "hanging store", opts: counter.HandlerOptions{Timeout: 20 * time.Millisecond},
			store:  func(m *counter.Memory) counter.Incrementer { return hangingStore{m} },
			method: "GET", target: "/api/visitors", wantCode: 504, wantBody: `{"error":"timeout"}`, wantCount: 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := counter.NewMemory()
			if _, err := m.Add(context.Background(), "visitors", 10); err != nil {
				t.Fatal(err)
			}
			var store counter.Incrementer = m
			if tt.store != nil {
				store = tt.store(m)
			}
			logger, _ := newLogBuffer()
			if tt.opts.Logger == nil {
				tt.opts.Logger = logger
			}
			h := mountAPI(counter.JSONHandler(store, tt.opts))
			w := serveHandler(t, h, tt.method, tt.target, tt.header)
			if w.Code != tt.wantCode {
				t.Errorf("status %d, want %d; body %s", w.Code, tt.wantCode, w.Body)
			}
			if tt.wantBody != "" && w.Body.String() != tt.wantBody {
				t.Errorf("body %s, want %s", w.Body, tt.wantBody)
			}
			for k, want := range tt.wantHdr {
				got, ok := w.Header()[http.CanonicalHeaderKey(k)]
				switch {
				case want == "" && ok:
					t.Errorf("header %s = %q, want none", k, got)
				case want == "*" && (!ok || got[0] == ""):
					t.Errorf("header %s missing", k)
				case want != "" && want != "*" && (len(got) != 1 || got[0] != want):
					t.Errorf("header %s = %q, want %q", k, got, want)
				}
			}
			checkResponseBasics(t, w, false, tt.method)
			key := orDefault(tt.wantKey, "visitors")
			if got := memCount(t, m, key); got != tt.wantCount {
				t.Errorf("count of %q after the request = %d, want %d", key, got, tt.wantCount)
			}
		})
	}
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// TestBadgeHandlerCSSColors sends the colours shields takes and README
// badges use (logoColor=white, color=pink, labelColor=black, rgb(), hsl()
// with an escaped %) and checks each is drawn, and that what shields
// refuses answers 400 without counting.
func TestBadgeHandlerCSSColors(t *testing.T) {
	m := counter.NewMemory()
	h := mountAPI(counter.BadgeHandler(m, counter.HandlerOptions{}))
	for _, tc := range []struct {
		query string
		fills []string
	}{
		{"logo=github&logoColor=white&color=pink&labelColor=black", []string{`<path fill="white"`, `fill="pink"/>`, `fill="black"/>`}},
		{"color=rgb(0,128,0)&labelColor=RGBA(0%2C0%2C0%2C0.5)", []string{`fill="#008000"/>`, `fill="#00000080"/>`}},
		{"color=hsl(120%2C100%25%2C25%25)&labelColor=%23abcd", []string{`fill="#008000"/>`, `fill="#abcd"/>`}},
		{"color=%20Pink%20", []string{`fill="pink"/>`}},
	} {
		w := serveHandler(t, h, http.MethodGet, "/api/visitors?hit=false&"+tc.query, nil)
		if w.Code != http.StatusOK {
			t.Errorf("%s: %d, want 200: %s", tc.query, w.Code, w.Body)
			continue
		}
		for _, f := range tc.fills {
			if !strings.Contains(w.Body.String(), f) {
				t.Errorf("%s: no %s in %s", tc.query, f, w.Body)
			}
		}
	}
	for _, q := range []string{"color=purpel", "logoColor=inherit&logo=github", "labelColor=rgb(1%202%203)", "color=hsl(1,2,3)", "color=" + strings.Repeat("a", 40)} {
		w := serveHandler(t, h, http.MethodGet, "/api/visitors?"+q, nil)
		if w.Code != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", q, w.Code)
		}
	}
	if n := memCount(t, m, "visitors"); n != 0 {
		t.Errorf("count %d after refused requests, want 0", n)
	}
}

// badge is the badge the handler should draw with default options.
func wantBadge(message string, edit ...func(*counter.Badge)) *counter.Badge {
	b := &counter.Badge{Label: "hits", Message: message, Color: "blue", LabelColor: "#555", Style: counter.StyleFlat}
	for _, e := range edit {
		e(b)
	}
	return b
}

func wantErrBadge(message string) *counter.Badge {
	return wantBadge(message, func(b *counter.Badge) { b.Color = "lightgrey" })
}

func groupedCount(n int64) string { return string(counter.AppendNumber(nil, n, counter.FormatGrouped)) }

func TestBadgeHandler(t *testing.T) {
	tests := []struct {
		name      string
		opts      counter.HandlerOptions
		store     func(m *counter.Memory) counter.Incrementer // default: m, the memory store at 1233
		method    string
		target    string
		wantCode  int
		want      *counter.Badge // the body is exactly this badge
		wantCache string
		wantCount int64
	}{
		{name: "GET counts", method: "GET", target: "/api/visitors", wantCode: 200,
			want: wantBadge(groupedCount(1234)), wantCache: "no-cache, no-store, must-revalidate, max-age=0", wantCount: 1234},
		{name: "hit=false reads", method: "GET", target: "/api/visitors?hit=false", wantCode: 200,
			want: wantBadge(groupedCount(1233)), wantCache: "no-cache", wantCount: 1233},
		{name: "HEAD", method: "HEAD", target: "/api/visitors", wantCode: 200, wantCache: "no-cache", wantCount: 1233},
		{name: "OPTIONS", method: "OPTIONS", target: "/api/visitors", wantCode: 204, wantCount: 1233},
		{name: "PATCH", method: "PATCH", target: "/api/visitors", wantCode: 405, want: wantErrBadge("method not allowed"), wantCount: 1233},
		{name: "label", method: "GET", target: "/api/visitors?label=page+views", wantCode: 200,
			want: wantBadge(groupedCount(1234), func(b *counter.Badge) { b.Label = "page views" }), wantCount: 1234},
		{name: "label with markup", method: "GET", target: "/api/visitors?label=%3Cscript%3Ea%26b%3C%2Fscript%3E", wantCode: 200,
			want: wantBadge(groupedCount(1234), func(b *counter.Badge) { b.Label = "<script>a&b</script>" }), wantCount: 1234},
		{name: "unicode label", method: "GET", target: "/api/visitors?label=Besucher%C2%B7%E2%9C%93", wantCode: 200,
			want: wantBadge(groupedCount(1234), func(b *counter.Badge) { b.Label = "Besucher·✓" }), wantCount: 1234},
		{name: "empty label", method: "GET", target: "/api/visitors?label=", wantCode: 200,
			want: wantBadge(groupedCount(1234), func(b *counter.Badge) { b.Label = "" }), wantCount: 1234},
		{name: "colours and style", method: "GET", target: "/api/visitors?color=brightgreen&labelColor=%23abc&style=for-the-badge",
			wantCode: 200, want: wantBadge(groupedCount(1234), func(b *counter.Badge) {
				b.Color, b.LabelColor, b.Style = "brightgreen", "#abc", counter.StyleForTheBadge
			}), wantCount: 1234},
		{name: "social style with a logo", method: "GET", target: "/api/visitors?style=social&logo=GitHub&logoColor=orange", wantCode: 200,
			want: wantBadge(groupedCount(1234), func(b *counter.Badge) {
				b.Style, b.Logo, b.LogoColor = counter.StyleSocial, "GitHub", "orange"
			}), wantCount: 1234},
		{name: "unknown logo", method: "GET", target: "/api/visitors?logo=linkedin", wantCode: 400, want: wantErrBadge("invalid badge parameter"), wantCount: 1233},
		{name: "unknown logo colour", method: "GET", target: "/api/visitors?logo=go&logoColor=url(x)", wantCode: 400, wantCount: 1233},
		{name: "hex colour without #", method: "GET", target: "/api/visitors?color=ff8800", wantCode: 200,
			want: wantBadge(groupedCount(1234), func(b *counter.Badge) { b.Color = "ff8800" }), wantCount: 1234},
		{name: "options", opts: counter.HandlerOptions{Label: "views", Color: "green", LabelColor: "red", Style: counter.StylePlastic, NumberFormat: counter.FormatPlain},
			method: "GET", target: "/api/visitors", wantCode: 200, want: &counter.Badge{Label: "views", Message: "1234", Color: "green", LabelColor: "red", Style: counter.StylePlastic},
			wantCount: 1234},
		{name: "metric numbers", opts: counter.HandlerOptions{NumberFormat: counter.FormatMetric}, method: "GET", target: "/api/visitors", wantCode: 200,
			want: wantBadge(string(counter.AppendNumber(nil, 1234, counter.FormatMetric))), wantCount: 1234},
		{name: "label too long", method: "GET", target: "/api/visitors?label=" + strings.Repeat("a", 65), wantCode: 400,
			want: wantErrBadge("invalid badge parameter"), wantCount: 1233},
		{name: "label with a control character", method: "GET", target: "/api/visitors?label=a%00b", wantCode: 400,
			want: wantErrBadge("invalid badge parameter"), wantCount: 1233},
		{name: "label not UTF-8", method: "GET", target: "/api/visitors?label=%FF", wantCode: 400, want: wantErrBadge("invalid badge parameter"), wantCount: 1233},
		{name: "unknown colour", method: "GET", target: "/api/visitors?color=%22%3E%3Cscript%3E", wantCode: 400, want: wantErrBadge("invalid badge parameter"), wantCount: 1233},
		{name: "unknown label colour", method: "GET", target: "/api/visitors?labelColor=url(x)", wantCode: 400, wantCount: 1233},
		{name: "unknown style", method: "GET", target: "/api/visitors?style=fancy", wantCode: 400, wantCount: 1233},
		{name: "format is not a badge parameter", method: "GET", target: "/api/visitors?format=shields", wantCode: 200, wantCount: 1234},
		{name: "invalid key", method: "GET", target: "/api/-x", wantCode: 400, want: wantErrBadge("invalid key"), wantCount: 1233},
		{name: "invalid key keeps the label", method: "GET", target: "/api/-x?label=hits", wantCode: 400,
			want: wantBadge("invalid key", func(b *counter.Badge) { b.Label, b.Color = "hits", "lightgrey" }), wantCount: 1233},
		{name: "unknown key", opts: counter.HandlerOptions{Keys: []string{"visitors"}}, method: "GET", target: "/api/x",
			wantCode: 404, want: wantErrBadge("unknown key"), wantCount: 1233},
		{name: "failing store", store: func(m *counter.Memory) counter.Incrementer { return failingStore{m} }, method: "GET", target: "/api/visitors", wantCode: 503,
			want: wantErrBadge("unavailable"), wantCache: "no-cache, no-store, must-revalidate, max-age=0", wantCount: 1233},
		{name: "failing store keeps the label", store: func(m *counter.Memory) counter.Incrementer { return failingStore{m} }, method: "GET", target: "/api/visitors?label=views", wantCode: 503,
			want: wantBadge("unavailable", func(b *counter.Badge) { b.Label, b.Color = "views", "lightgrey" }), wantCount: 1233},
		{name: "hanging store", opts: counter.HandlerOptions{Timeout: 20 * time.Millisecond}, store: func(m *counter.Memory) counter.Incrementer { return hangingStore{m} },
			method: "GET", target: "/api/visitors", wantCode: 504, want: wantErrBadge("timeout"), wantCount: 1233},
		{name: "hit=false needs a Reader", store: func(m *counter.Memory) counter.Incrementer { return incrementOnly{m} }, method: "GET", target: "/api/visitors?hit=false",
			wantCode: 501, want: wantErrBadge("reading without counting is not supported"), wantCount: 1233},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := counter.NewMemory()
			if _, err := m.Add(context.Background(), "visitors", 1233); err != nil {
				t.Fatal(err)
			}
			var store counter.Incrementer = m
			if tt.store != nil {
				store = tt.store(m)
			}
			tt.opts.Logger, _ = newLogBuffer()
			w := serveHandler(t, mountAPI(counter.BadgeHandler(store, tt.opts)), tt.method, tt.target, nil)
			if w.Code != tt.wantCode {
				t.Errorf("status %d, want %d; body %s", w.Code, tt.wantCode, w.Body)
			}
			if tt.want != nil {
				if want := tt.want.AppendSVG(nil); !bytes.Equal(w.Body.Bytes(), want) {
					t.Errorf("body\n%s\nwant the badge %+v:\n%s", w.Body, *tt.want, want)
				}
			}
			if tt.wantCache != "" {
				if got := w.Header().Get("Cache-Control"); got != tt.wantCache {
					t.Errorf("Cache-Control = %q, want %q", got, tt.wantCache)
				}
				// Never-cached answers also speak to HTTP/1.0 caches.
				wantPragma, wantExpires := "no-cache", "0"
				if tt.wantCache == "no-cache" {
					wantPragma, wantExpires = "", ""
				}
				if p, e := w.Header().Get("Pragma"), w.Header().Get("Expires"); p != wantPragma || e != wantExpires {
					t.Errorf("Pragma %q, Expires %q; want %q, %q", p, e, wantPragma, wantExpires)
				}
			}
			checkResponseBasics(t, w, true, tt.method)
			if got := memCount(t, m, "visitors"); got != tt.wantCount {
				t.Errorf("count after the request = %d, want %d", got, tt.wantCount)
			}
		})
	}
}

// Read-only answers carry an ETag; a matching If-None-Match gets 304 until
// the count changes.
func TestHandlerETag(t *testing.T) {
	for _, badge := range []bool{false, true} {
		t.Run(fmt.Sprintf("badge=%v", badge), func(t *testing.T) {
			m := counter.NewMemory()
			h := counter.JSONHandler(m, counter.HandlerOptions{})
			if badge {
				h = counter.BadgeHandler(m, counter.HandlerOptions{})
			}
			h = mountAPI(h)
			if _, err := m.Increment(context.Background(), "visitors"); err != nil {
				t.Fatal(err)
			}
			first := serveHandler(t, h, "GET", "/api/visitors?hit=false", nil)
			etag := first.Header().Get("ETag")
			if first.Code != 200 || etag == "" || !strings.HasPrefix(etag, `"`) || !strings.HasSuffix(etag, `"`) {
				t.Fatalf("first read: %d, ETag %q", first.Code, etag)
			}
			for _, inm := range []string{etag, "W/" + etag, `"other", ` + etag, "*"} {
				w := serveHandler(t, h, "GET", "/api/visitors?hit=false", http.Header{"If-None-Match": {inm}})
				if w.Code != http.StatusNotModified {
					t.Errorf("If-None-Match %s: status %d, want 304", inm, w.Code)
				}
				if w.Header().Get("ETag") != etag || w.Header().Get("Cache-Control") != "no-cache" {
					t.Errorf("304 headers: %v", w.Header())
				}
				checkResponseBasics(t, w, badge, "GET")
			}
			if w := serveHandler(t, h, "HEAD", "/api/visitors", http.Header{"If-None-Match": {etag}}); w.Code != http.StatusNotModified {
				t.Errorf("HEAD with matching If-None-Match: %d, want 304", w.Code)
			}
			if w := serveHandler(t, h, "GET", "/api/visitors?hit=false", http.Header{"If-None-Match": {`"other"`}}); w.Code != 200 {
				t.Errorf("other ETag: %d, want 200", w.Code)
			}
			// Counting answers 200 whatever If-None-Match says, and changes the ETag.
			w := serveHandler(t, h, "GET", "/api/visitors", http.Header{"If-None-Match": {etag}})
			if w.Code != 200 || w.Header().Get("ETag") != "" {
				t.Errorf("counting GET with If-None-Match: %d, ETag %q; want 200 and no ETag", w.Code, w.Header().Get("ETag"))
			}
			w = serveHandler(t, h, "GET", "/api/visitors?hit=false", http.Header{"If-None-Match": {etag}})
			if w.Code != 200 || w.Header().Get("ETag") == etag {
				t.Errorf("read after a count: %d, ETag %q (old %q); want 200 and a new ETag", w.Code, w.Header().Get("ETag"), etag)
			}
			// A different rendering of the same count is a different ETag.
			if badge {
				other := serveHandler(t, h, "GET", "/api/visitors?hit=false&label=views", nil).Header().Get("ETag")
				plain := serveHandler(t, h, "GET", "/api/visitors?hit=false", nil).Header().Get("ETag")
				if other == plain {
					t.Errorf("badges with different labels share ETag %s", plain)
				}
			}
		})
	}
}

func TestHandlerCORS(t *testing.T) {
	const ok, foreign = "https://me.example", "https://evil.example"
	failing := func(m *counter.Memory) counter.Incrementer { return failingStore{m} }
	preflight := func(origin string) http.Header {
		return http.Header{"Origin": {origin}, "Access-Control-Request-Method": {"GET"}}
	}
	tests := []struct {
		name      string
		origins   []string
		store     func(m *counter.Memory) counter.Incrementer // default: m
		method    string
		target    string
		header    http.Header
		wantCode  int
		wantACAO  string // "" means the header must be absent
		wantVary  bool
		wantCount int64
	}{
		{name: "allowed origin", origins: []string{ok}, method: "GET", target: "/api/visitors", header: http.Header{"Origin": {ok}},
			wantCode: 200, wantACAO: ok, wantVary: true, wantCount: 1},
		{name: "second allowed origin", origins: []string{foreign + "x", ok}, method: "GET", target: "/api/visitors", header: http.Header{"Origin": {ok}},
			wantCode: 200, wantACAO: ok, wantVary: true, wantCount: 1},
		{name: "foreign origin", origins: []string{ok}, method: "GET", target: "/api/visitors", header: http.Header{"Origin": {foreign}},
			wantCode: 200, wantVary: true, wantCount: 1},
		{name: "no prefix matching: longer host", origins: []string{ok}, method: "GET", target: "/api/visitors", header: http.Header{"Origin": {ok + ".evil"}},
			wantCode: 200, wantVary: true, wantCount: 1},
		{name: "no prefix matching: other port", origins: []string{ok}, method: "GET", target: "/api/visitors", header: http.Header{"Origin": {ok + ":8443"}},
			wantCode: 200, wantVary: true, wantCount: 1},
		{name: "no prefix matching: shorter host", origins: []string{ok}, method: "GET", target: "/api/visitors", header: http.Header{"Origin": {ok[:len(ok)-1]}},
			wantCode: 200, wantVary: true, wantCount: 1},
		{name: "no prefix matching: preflight", origins: []string{ok}, method: "OPTIONS", target: "/api/visitors", header: preflight(ok + ".evil"),
			wantCode: 204, wantVary: true, wantCount: 0},
		{name: "other scheme", origins: []string{ok}, method: "GET", target: "/api/visitors", header: http.Header{"Origin": {"http://me.example"}},
			wantCode: 200, wantVary: true, wantCount: 1},
		{name: "exact match is case-sensitive", origins: []string{ok}, method: "GET", target: "/api/visitors", header: http.Header{"Origin": {strings.ToUpper(ok)}},
			wantCode: 200, wantVary: true, wantCount: 1},
		{name: "no Origin header", origins: []string{ok}, method: "GET", target: "/api/visitors", wantCode: 200, wantVary: true, wantCount: 1},
		{name: "star", origins: []string{"*"}, method: "GET", target: "/api/visitors", header: http.Header{"Origin": {foreign}},
			wantCode: 200, wantACAO: "*", wantVary: true, wantCount: 1},
		{name: "POST from allowed origin", origins: []string{ok}, method: "POST", target: "/api/visitors", header: http.Header{"Origin": {ok}},
			wantCode: 200, wantACAO: ok, wantVary: true, wantCount: 1},
		{name: "read from allowed origin", origins: []string{ok}, method: "GET", target: "/api/visitors?hit=false", header: http.Header{"Origin": {ok}},
			wantCode: 200, wantACAO: ok, wantVary: true, wantCount: 0},
		{name: "preflight from allowed origin", origins: []string{ok}, method: "OPTIONS", target: "/api/visitors", header: preflight(ok),
			wantCode: 204, wantACAO: ok, wantVary: true, wantCount: 0},
		{name: "preflight from foreign origin", origins: []string{ok}, method: "OPTIONS", target: "/api/visitors", header: preflight(foreign),
			wantCode: 204, wantVary: true, wantCount: 0},
		{name: "plain OPTIONS", origins: []string{ok}, method: "OPTIONS", target: "/api/visitors", header: http.Header{"Origin": {ok}},
			wantCode: 204, wantACAO: ok, wantVary: true, wantCount: 0},
		{name: "400 from allowed origin", origins: []string{ok}, method: "GET", target: "/api/-bad", header: http.Header{"Origin": {ok}},
			wantCode: 400, wantACAO: ok, wantVary: true},
		{name: "503 from allowed origin", origins: []string{ok}, store: failing, method: "GET", target: "/api/visitors", header: http.Header{"Origin": {ok}},
			wantCode: 503, wantACAO: ok, wantVary: true},
		{name: "503 from foreign origin", origins: []string{ok}, store: failing, method: "GET", target: "/api/visitors", header: http.Header{"Origin": {foreign}},
			wantCode: 503, wantVary: true},
		{name: "empty list", method: "GET", target: "/api/visitors", header: http.Header{"Origin": {ok}}, wantCode: 200, wantCount: 1},
		{name: "empty list, preflight", method: "OPTIONS", target: "/api/visitors", header: preflight(ok), wantCode: 204},
		{name: "empty list, error", store: failing, method: "GET", target: "/api/visitors", header: http.Header{"Origin": {ok}}, wantCode: 503},
	}
	for _, tt := range tests {
		for _, badge := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/badge=%v", tt.name, badge), func(t *testing.T) {
				m := counter.NewMemory()
				var store counter.Incrementer = m
				if tt.store != nil {
					store = tt.store(m)
				}
				logger, _ := newLogBuffer()
				opts := counter.HandlerOptions{AllowedOrigins: tt.origins, Logger: logger}
				h := counter.JSONHandler(store, opts)
				if badge {
					h = counter.BadgeHandler(store, opts)
				}
				w := serveHandler(t, mountAPI(h), tt.method, tt.target, tt.header)
				if w.Code != tt.wantCode {
					t.Errorf("status %d, want %d", w.Code, tt.wantCode)
				}
				if got := w.Header().Values("Access-Control-Allow-Origin"); tt.wantACAO == "" && len(got) > 0 ||
					tt.wantACAO != "" && (len(got) != 1 || got[0] != tt.wantACAO) {
					t.Errorf("Access-Control-Allow-Origin = %q, want %q", got, tt.wantACAO)
				}
				vary := strings.Join(w.Header().Values("Vary"), ",")
				if tt.wantVary != strings.Contains(vary, "Origin") {
					t.Errorf("Vary = %q, want Origin: %v", vary, tt.wantVary)
				}
				if len(tt.origins) == 0 {
					for k := range w.Header() {
						if strings.HasPrefix(k, "Access-Control-") || k == "Vary" {
							t.Errorf("no AllowedOrigins, yet header %s: %q", k, w.Header()[k])
						}
					}
				}
				if tt.wantCode == 204 && tt.header.Get("Access-Control-Request-Method") != "" && tt.wantACAO != "" {
					if got := w.Header().Get("Access-Control-Allow-Methods"); got != "GET" {
						t.Errorf("Access-Control-Allow-Methods = %q, want GET", got)
					}
				}
				checkResponseBasics(t, w, badge, tt.method)
				if got := memCount(t, m, "visitors"); got != tt.wantCount {
					t.Errorf("count %d, want %d", got, tt.wantCount)
				}
			})
		}
	}
}

// A store at its key cap refuses a new key: the client gets the generic 404
// of an unknown key, nothing is written, the operator gets a warning, and
// existing keys keep counting.
func TestHandlerKeyCap(t *testing.T) {
	for _, badge := range []bool{false, true} {
		t.Run(fmt.Sprintf("badge=%v", badge), func(t *testing.T) {
			m := counter.NewMemoryLimit(1)
			logger, logs := newLogBuffer()
			opts := counter.HandlerOptions{Logger: logger}
			h := counter.JSONHandler(m, opts)
			want := []byte(`{"error":"unknown key"}`)
			if badge {
				h = counter.BadgeHandler(m, opts)
				want = wantErrBadge("unknown key").AppendSVG(nil)
			}
			h = mountAPI(h)
			if w := serveHandler(t, h, http.MethodGet, "/api/visitors", nil); w.Code != http.StatusOK {
				t.Fatalf("first key: status %d, want 200", w.Code)
			}
			for _, target := range []string{"/api/other", "/api/other?hit=true", "/api/other"} {
				w := serveHandler(t, h, http.MethodGet, target, nil)
				if w.Code != http.StatusNotFound || !bytes.Equal(w.Body.Bytes(), want) {
					t.Fatalf("GET %s over a full store: %d %s, want 404 %s", target, w.Code, w.Body, want)
				}
				checkResponseBasics(t, w, badge, http.MethodGet)
			}
			if got := memCount(t, m, "other"); got != 0 {
				t.Errorf("refused key counted %d, want 0", got)
			}
			if w := serveHandler(t, h, http.MethodGet, "/api/visitors", nil); w.Code != http.StatusOK {
				t.Errorf("existing key at the cap: status %d, want 200", w.Code)
			}
			if got := memCount(t, m, "visitors"); got != 2 {
				t.Errorf("existing key counted %d, want 2", got)
			}
			for _, s := range []string{`"level":"WARN"`, `"msg":"counter: store refused a new key"`, `"key":"other"`, "too many keys"} {
				if !strings.Contains(logs.String(), s) {
					t.Errorf("log lacks %s:\n%s", s, logs)
				}
			}
			if strings.Contains(logs.String(), `"level":"ERROR"`) {
				t.Errorf("a full store logged an error:\n%s", logs)
			}
		})
	}
}

// The cause of a failure reaches the configured logger with the key, and
// never the client.
func TestHandlerLogsCause(t *testing.T) {
	tests := []struct {
		name     string
		store    counter.Incrementer
		timeout  time.Duration
		target   string
		wantCode int
		wantLog  []string
	}{
		{name: "store error", store: failingStore{counter.NewMemory()}, target: "/api/home", wantCode: 503,
			wantLog: []string{`"level":"ERROR"`, `"msg":"counter: store failed"`, `"key":"home"`, `"op":"increment"`, storeSecret}},
		{name: "store error on read", store: failingStore{counter.NewMemory()}, target: "/api/home?hit=false", wantCode: 503,
			wantLog: []string{`"op":"count"`, storeSecret}},
		{name: "timeout", store: hangingStore{counter.NewMemory()}, timeout: 30 * time.Millisecond, target: "/api/home", wantCode: 504,
			wantLog: []string{`"level":"ERROR"`, `"msg":"counter: store timed out"`, `"key":"home"`, `"timeout":30000000`, "deadline exceeded"}},
	}
	for _, tt := range tests {
		for _, badge := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/badge=%v", tt.name, badge), func(t *testing.T) {
				logger, logs := newLogBuffer()
				opts := counter.HandlerOptions{Logger: logger, Timeout: tt.timeout}
				h := counter.JSONHandler(tt.store, opts)
				if badge {
					h = counter.BadgeHandler(tt.store, opts)
				}
				start := time.Now()
				w := serveHandler(t, mountAPI(h), "GET", tt.target, nil)
				if w.Code != tt.wantCode {
					t.Errorf("status %d, want %d", w.Code, tt.wantCode)
				}
				if tt.timeout > 0 && time.Since(start) > tt.timeout+2*time.Second {
					t.Errorf("answered after %v, timeout %v", time.Since(start), tt.timeout)
				}
				for _, s := range tt.wantLog {
					if !strings.Contains(logs.String(), s) {
						t.Errorf("log lacks %s:\n%s", s, logs)
					}
				}
				checkResponseBasics(t, w, badge, "GET")
			})
		}
	}
}

// A client that goes away is no store failure: nothing is logged as an error.
func TestHandlerClientGone(t *testing.T) {
	logger, logs := newLogBuffer()
	h := mountAPI(counter.JSONHandler(hangingStore{counter.NewMemory()}, counter.HandlerOptions{Logger: logger}))
	ctx, cancel := context.WithCancel(context.Background())
	r := httptest.NewRequest(http.MethodGet, "/api/visitors", nil).WithContext(ctx)
	time.AfterFunc(20*time.Millisecond, cancel)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if strings.Contains(logs.String(), `"level":"ERROR"`) {
		t.Errorf("client cancellation logged as an error:\n%s", logs)
	}
	if !strings.Contains(logs.String(), "client gone") {
		t.Errorf("client cancellation not logged at debug level:\n%s", logs)
	}
}

// A request whose own context ends first (a Lambda deadline, say) answers
// 504 and is logged as a timeout, not as a client gone.
func TestHandlerRequestDeadline(t *testing.T) {
	logger, logs := newLogBuffer()
	h := mountAPI(counter.JSONHandler(hangingStore{counter.NewMemory()}, counter.HandlerOptions{Logger: logger}))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/api/visitors", nil).WithContext(ctx))
	if w.Code != http.StatusGatewayTimeout {
		t.Errorf("status %d, want 504", w.Code)
	}
	if !strings.Contains(logs.String(), "store timed out") {
		t.Errorf("not logged as a timeout:\n%s", logs)
	}
}

// deadlineStore hands over the deadline of each call's context, then waits
// for the context to end, as a hanging store does.
type deadlineStore chan time.Time

func (s deadlineStore) Increment(ctx context.Context, key string) (int64, error) {
	d, ok := ctx.Deadline()
	if !ok {
		d = time.Time{}
	}
	s <- d
	<-ctx.Done()
	return 0, fmt.Errorf("counter: increment %q: %w", key, ctx.Err())
}

// With default options the store's context ends 3 s after the request
// arrives (the default Timeout). The test ends each request itself, at
// once, after reading the deadline.
func TestHandlerDefaultTimeout(t *testing.T) {
	for _, badge := range []bool{false, true} {
		t.Run(fmt.Sprintf("badge=%v", badge), func(t *testing.T) {
			store := make(deadlineStore, 1)
			logger, _ := newLogBuffer()
			h := counter.JSONHandler(store, counter.HandlerOptions{Logger: logger})
			if badge {
				h = counter.BadgeHandler(store, counter.HandlerOptions{Logger: logger})
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			r := httptest.NewRequest(http.MethodGet, "/api/visitors", nil).WithContext(ctx)
			start := time.Now()
			done := make(chan struct{})
			go func() {
				defer close(done)
				mountAPI(h).ServeHTTP(httptest.NewRecorder(), r)
			}()
			select {
			case d := <-store:
				got := time.Now()
				if d.IsZero() {
					t.Error("the store's context has no deadline with default options, want one 3s away")
				} else if d.Before(start.Add(3*time.Second)) || d.After(got.Add(3*time.Second)) {
					t.Errorf("the store's deadline is %v after the request, want 3s", d.Sub(start))
				}
			case <-time.After(5 * time.Second):
				t.Fatal("the store was not called")
			}
			cancel()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("the handler did not return after its request ended")
			}
		})
	}
}

// Without Logger, the handler logs through slog.Default at the time of the
// failure.
func TestHandlerDefaultLogger(t *testing.T) {
	logger, logs := newLogBuffer()
	h := mountAPI(counter.JSONHandler(failingStore{counter.NewMemory()}, counter.HandlerOptions{}))
	old := slog.Default()
	slog.SetDefault(logger)
	defer slog.SetDefault(old)
	serveHandler(t, h, "GET", "/api/visitors", nil)
	if !strings.Contains(logs.String(), storeSecret) {
		t.Errorf("slog.Default did not getURL the cause:\n%s", logs)
	}
}

// Invalid options fail at construction, not on every request.
func TestHandlerInvalidOptions(t *testing.T) {
	tests := []struct {
		name string
		opts counter.HandlerOptions
	}{
		{"DefaultKey", counter.HandlerOptions{DefaultKey: "a/b"}},
		{"Color", counter.HandlerOptions{Color: "javascript:x"}},
		{"LabelColor", counter.HandlerOptions{LabelColor: "nope"}},
		{"Style", counter.HandlerOptions{Style: "fancy"}},
		{"Label", counter.HandlerOptions{Label: "a\x00"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				r := recover()
				if r == nil {
					t.Fatal("no panic")
				}
				if !strings.HasPrefix(fmt.Sprint(r), "counter: ") {
					t.Errorf("panic %q lacks the counter: prefix", r)
				}
			}()
			counter.JSONHandler(counter.NewMemory(), tt.opts)
		})
	}
}

// Counts through the handler are exact under concurrency.
func TestHandlerConcurrent(t *testing.T) {
	m := counter.NewMemory()
	h := mountAPI(counter.JSONHandler(m, counter.HandlerOptions{}))
	b := mountAPI(counter.BadgeHandler(m, counter.HandlerOptions{}))
	const workers, each = 16, 50
	var wg sync.WaitGroup
	for i := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				target := h
				if i%2 == 0 {
					target = b
				}
				w := httptest.NewRecorder()
				target.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/api/visitors", nil))
				if w.Code != 200 {
					t.Errorf("status %d", w.Code)
					return
				}
			}
		}()
	}
	wg.Wait()
	if got := memCount(t, m, "visitors"); got != workers*each {
		t.Errorf("count %d, want %d", got, workers*each)
	}
}
