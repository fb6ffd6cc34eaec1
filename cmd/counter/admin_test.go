package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/resumecounter/counter"
)

const testToken = "0123456789abcdef0123456789abcdef-test"

// adminUnderTest is the admin routes over a Memory, called in process.
type adminUnderTest struct {
	t     *testing.T
	a     *admin
	store ownerStore
	logs  *bytes.Buffer
	now   time.Time
}

func newAdminUnderTest(t *testing.T) *adminUnderTest {
	t.Helper()
	at := &adminUnderTest{t: t, store: newMemory(t), logs: new(bytes.Buffer), now: testNow}
	log := slog.New(slog.NewTextHandler(at.logs, nil))
	a, err := newAdmin(&openStore{store: at.store, desc: "memory"}, testToken, 1, log, func() time.Time { return at.now })
	if err != nil {
		t.Fatal(err)
	}
	a.failures.now = func() time.Time { return at.now }
	at.a = a
	return at
}

// do sends a request from client (an IP address) with the Authorization
// header auth ("" for none).
func (at *adminUnderTest) do(client, auth, method, target, body string) *httptest.ResponseRecorder {
	at.t.Helper()
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	r.RemoteAddr = "10.0.0.1:5000" // the proxy
	r.Header.Set("X-Forwarded-For", client)
	if auth != "" {
		r.Header.Set("Authorization", auth)
	}
	w := httptest.NewRecorder()
	at.a.ServeHTTP(w, r)
	if got := w.Header().Get("Cache-Control"); got != "no-store" {
		at.t.Errorf("%s %s: Cache-Control %q, want no-store", method, target, got)
	}
	return w
}

const bearerOK = "Bearer " + testToken

// TestAdminAuth: only the bearer token opens the routes; wrong ones answer
// 401 with WWW-Authenticate and are logged without the token or the
// address; a client with too many failures gets 429 even with the right
// token, until its budget refills, while other clients go on.
func TestAdminAuth(t *testing.T) {
	at := newAdminUnderTest(t)
	const client, other = "192.0.2.7", "198.51.100.9"
	for _, tc := range []struct {
		auth, challenge string
	}{
		{"", `Bearer realm="counter admin"`},
		{"Bearer ", `Bearer realm="counter admin"`},
		{"Basic " + testToken, `Bearer realm="counter admin"`},
		{"Bearer wrong-token-of-some-length", `Bearer realm="counter admin", error="invalid_token"`},
		{"Bearer " + testToken[:len(testToken)-1], `Bearer realm="counter admin", error="invalid_token"`},
		{"Bearer " + testToken + "x", `Bearer realm="counter admin", error="invalid_token"`},
		{"Bearer " + strings.ToUpper(testToken), `Bearer realm="counter admin", error="invalid_token"`},
	} {
		w := at.do(other, tc.auth, http.MethodPut, "/admin/visitors", `{"count":5}`)
		if w.Code != http.StatusUnauthorized || w.Header().Get("WWW-Authenticate") != tc.challenge {
			t.Errorf("Authorization %q: %d, WWW-Authenticate %q; want 401, %q", tc.auth, w.Code, w.Header().Get("WWW-Authenticate"), tc.challenge)
		}
	}
	if rec, _ := at.store.Export(context.Background(), "visitors"); rec.Count != 0 {
		t.Fatalf("a refused request wrote: count %d", rec.Count)
	}
	logs := at.logs.String()
	if n := strings.Count(logs, `level=WARN msg="admin: request refused"`); n != 7 {
		t.Errorf("%d refusals logged, want 7:\n%s", n, logs)
	}
	for _, secret := range []string{"wrong-token", testToken[:20], strings.ToUpper(testToken)[:20], other, "10.0.0.1"} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log holds %q:\n%s", secret, logs)
		}
	}
	if !strings.Contains(logs, `reason="wrong bearer token" method=PUT path=/admin/visitors`) {
		t.Errorf("the log does not say what was refused:\n%s", logs)
	}
	if w := at.do(other, "bearer "+testToken, http.MethodPut, "/admin/visitors", `{"count":5}`); w.Code != http.StatusOK {
		t.Fatalf("the right token (scheme in lower case): %d %s", w.Code, w.Body)
	}

	// client fails failBurst times, then is refused even with the token.
	for i := range failBurst {
		if w := at.do(client, "Bearer guess-"+strconv.Itoa(i), http.MethodGet, "/admin/export", ""); w.Code != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d, want 401", i+1, w.Code)
		}
	}
	logged := strings.Count(at.logs.String(), "\n")
	w := at.do(client, bearerOK, http.MethodGet, "/admin/export", "")
	retry, err := strconv.Atoi(w.Header().Get("Retry-After"))
	if w.Code != http.StatusTooManyRequests || err != nil || retry < 1 || retry > int(failEvery/time.Second) {
		t.Fatalf("after %d failures, the right token: %d, Retry-After %q; want 429 and at most %v", failBurst, w.Code, w.Header().Get("Retry-After"), failEvery)
	}
	if w := at.do(client, "Bearer guess", http.MethodGet, "/admin/export", ""); w.Code != http.StatusTooManyRequests {
		t.Fatalf("a guess over the limit: %d, want 429", w.Code)
	}
	if strings.Count(at.logs.String(), "\n") != logged {
		t.Errorf("429s are logged one by one:\n%s", at.logs.String())
	}
	if w := at.do(other, bearerOK, http.MethodGet, "/admin/export", ""); w.Code != http.StatusOK {
		t.Fatalf("another client: %d, want 200", w.Code)
	}
	at.now = at.now.Add(failEvery)
	if w := at.do(client, bearerOK, http.MethodGet, "/admin/export", ""); w.Code != http.StatusOK {
		t.Fatalf("%v later, the right token: %d, want 200", failEvery, w.Code)
	}
	if w := at.do(client, "Bearer guess", http.MethodGet, "/admin/export", ""); w.Code != http.StatusUnauthorized {
		t.Fatalf("one more guess after the refill: %d, want 401", w.Code)
	}
	if w := at.do(client, bearerOK, http.MethodGet, "/admin/export", ""); w.Code != http.StatusTooManyRequests {
		t.Fatalf("after the refilled attempt was spent: %d, want 429", w.Code)
	}
}

// TestAdminRoutes: set, export and import over HTTP, and bad requests that
// write nothing.
func TestAdminRoutes(t *testing.T) {
	at := newAdminUnderTest(t)
	days := seedHistory(t, at.store, "visitors")
	const client = "192.0.2.1"
	put := func(target, body string) *httptest.ResponseRecorder {
		return at.do(client, bearerOK, http.MethodPut, target, body)
	}
	w := put("/admin/visitors", `{"count":1234}`)
	if w.Code != http.StatusOK || w.Body.String() != `{"key":"visitors","old":6,"count":1234}`+"\n" || w.Header().Get("Content-Type") != "application/json; charset=utf-8" {
		t.Fatalf("PUT: %d %q %s", w.Code, w.Body, w.Header().Get("Content-Type"))
	}
	if !strings.Contains(at.logs.String(), `msg="admin: count set" key=visitors old=6 count=1234`) {
		t.Errorf("the change is not logged:\n%s", at.logs.String())
	}
	for _, tc := range []struct {
		target, body string
		code         int
	}{
		{"/admin/visitors", `{}`, 400},
		{"/admin/visitors", `{"count":-1}`, 400},
		{"/admin/visitors", `{"count":1.5}`, 400},
		{"/admin/visitors", `{"count":"7"}`, 400},
		{"/admin/visitors", `{"count":9223372036854775808}`, 400},
		{"/admin/visitors", `{"count":7,"visitors":1}`, 400},
		{"/admin/visitors", `{"count":7}{"count":8}`, 400},
		{"/admin/visitors", `count=7`, 400},
		{"/admin/visitors", `{"count":7` + strings.Repeat(" ", maxSetBody) + `}`, 413},
		{"/admin/a%2Fb", `{"count":7}`, 400},
		{"/admin/" + strings.Repeat("k", counter.MaxKeyLen+1), `{"count":7}`, 400},
	} {
		w := put(tc.target, tc.body)
		if w.Code != tc.code || !strings.HasPrefix(w.Body.String(), `{"error":"`) {
			t.Errorf("PUT %s %.40q: %d %s, want %d", tc.target, tc.body, w.Code, w.Body, tc.code)
		}
	}
	if w := at.do(client, bearerOK, http.MethodGet, "/admin/visitors", ""); w.Code != http.StatusMethodNotAllowed {
		t.Errorf("GET /admin/visitors: %d, want 405", w.Code)
	}

	w = at.do(client, bearerOK, http.MethodGet, "/admin/export", "")
	want := fmt.Sprintf(`{"key":"visitors","count":1234,"visitors":4,"days":[{"date":"%s","count":3,"visitors":2},{"date":"%s","count":1,"visitors":1},{"date":"%s","count":2,"visitors":1}]}`+"\n",
		days[0].Date, days[1].Date, days[2].Date)
	if w.Code != http.StatusOK || w.Body.String() != want || w.Header().Get("Content-Type") != "application/jsonl; charset=utf-8" {
		t.Fatalf("export: %d %s %q, want %q", w.Code, w.Header().Get("Content-Type"), w.Body, want)
	}
	if w := at.do(client, bearerOK, http.MethodGet, "/admin/export?key=other&key=visitors", ""); w.Body.String() != `{"key":"other","count":0,"visitors":0,"days":[]}`+"\n"+want {
		t.Errorf("export ?key=: %q", w.Body)
	}
	if w := at.do(client, bearerOK, http.MethodGet, "/admin/export?key=a/b", ""); w.Code != http.StatusBadRequest {
		t.Errorf("export ?key=a/b: %d, want 400", w.Code)
	}

	// Import into another server's store: the same export, twice over.
	to := newAdminUnderTest(t)
	for range 2 {
		w := to.do(client, bearerOK, http.MethodPost, "/admin/import", want)
		if w.Code != http.StatusOK || w.Body.String() != `{"imported":1}`+"\n" {
			t.Fatalf("import: %d %s", w.Code, w.Body)
		}
		if w := to.do(client, bearerOK, http.MethodGet, "/admin/export", ""); w.Body.String() != want {
			t.Fatalf("export after import: %q, want %q", w.Body, want)
		}
	}
	w = to.do(client, bearerOK, http.MethodPost, "/admin/import", `{"key":"new","count":1}`+"\n"+`{"key":"bad","count":-1}`)
	if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), `line 2: key bad: count is -1`) || !strings.Contains(w.Body.String(), "nothing was imported") {
		t.Errorf("import with a bad line: %d %s", w.Code, w.Body)
	}
	if keys, _ := to.store.Keys(context.Background()); len(keys) != 1 {
		t.Errorf("keys after a refused import: %v, want [visitors]", keys)
	}
	big := strings.Repeat("\n", maxImportBody+1)
	if w := to.do(client, bearerOK, http.MethodPost, "/admin/import", big); w.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("import over %d bytes: %d, want 413", maxImportBody, w.Code)
	}
}

// TestAdminImportLower: as the import command does without -allow-lower,
// POST /admin/import refuses with 409 an import that would lower a key's
// count or visitors, names each such key, and writes nothing;
// ?allow-lower=1 imports it. A bad ?allow-lower answers 400 and a store
// failing while the keys are read 503, both writing nothing.
func TestAdminImportLower(t *testing.T) {
	at := newAdminUnderTest(t)
	const client = "192.0.2.1"
	post := func(target, body string) *httptest.ResponseRecorder {
		t.Helper()
		return at.do(client, bearerOK, http.MethodPost, target, body)
	}
	export := func() string {
		t.Helper()
		return at.do(client, bearerOK, http.MethodGet, "/admin/export", "").Body.String()
	}
	const before = `{"key":"a","count":5100,"visitors":40,"days":[]}` + "\n" + `{"key":"b","count":9,"visitors":3,"days":[]}` + "\n"
	if w := post("/admin/import", before); w.Code != http.StatusOK {
		t.Fatalf("import: %d %s", w.Code, w.Body)
	}
	// a's count goes down, b's visitors do, c is new.
	const lower = `{"key":"a","count":3,"visitors":2}` + "\n" + `{"key":"b","count":10,"visitors":1}` + "\n" + `{"key":"c","count":1}` + "\n"
	const refusal = "the import would lower the numbers of 2 keys; nothing was imported:\n" +
		"\ta: count 3, now 5100; visitors 2, now 40\n" +
		"\tb: count 10, now 9; visitors 1, now 3\n" +
		"(send the same body to /admin/import?allow-lower=1 to lower them)"
	for _, target := range []string{"/admin/import", "/admin/import?allow-lower=0", "/admin/import?allow-lower=false", "/admin/import?v=2"} {
		w := post(target, lower)
		var got struct{ Error string }
		if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil || w.Code != http.StatusConflict || got.Error != refusal {
			t.Errorf("POST %s lowering two keys: %d %s, want 409 with\n%s", target, w.Code, w.Body, refusal)
		}
		if got := export(); got != before {
			t.Fatalf("after a refused import:\n%s\nwant\n%s", got, before)
		}
	}
	if !strings.Contains(at.logs.String(), `level=WARN msg="admin: import refused: it would lower numbers" keys="[a b]"`) {
		t.Errorf("the refusal is not logged with its keys:\n%s", at.logs.String())
	}

	for _, target := range []string{"/admin/import?allow-lower=maybe", "/admin/import?allow-lower=1&allow-lower=1", "/admin/import?allow-lower=%zz"} {
		w := post(target, lower)
		if w.Code != http.StatusBadRequest || !strings.HasPrefix(w.Body.String(), `{"error":"`) {
			t.Errorf("POST %s: %d %s, want 400", target, w.Code, w.Body)
		}
		if got := export(); got != before {
			t.Fatalf("after POST %s:\n%s\nwant\n%s", target, got, before)
		}
	}

	// Raising numbers, or leaving them, needs nothing.
	if w := post("/admin/import", `{"key":"b","count":9,"visitors":3}`+"\n"+`{"key":"d","count":1}`); w.Code != http.StatusOK {
		t.Errorf("an import that lowers nothing: %d %s", w.Code, w.Body)
	}

	w := post("/admin/import?allow-lower=1", lower)
	if w.Code != http.StatusOK || w.Body.String() != `{"imported":3}`+"\n" {
		t.Fatalf("?allow-lower=1: %d %s", w.Code, w.Body)
	}
	after := `{"key":"a","count":3,"visitors":2,"days":[]}` + "\n" + `{"key":"b","count":10,"visitors":1,"days":[]}` + "\n" +
		`{"key":"c","count":1,"visitors":0,"days":[]}` + "\n" + `{"key":"d","count":1,"visitors":0,"days":[]}` + "\n"
	if got := export(); got != after {
		t.Errorf("after ?allow-lower=1:\n%s\nwant\n%s", got, after)
	}
	// A bare ?allow-lower is true, as the bare flag is.
	if w := post("/admin/import?allow-lower", `{"key":"a","count":1}`); w.Code != http.StatusOK {
		t.Errorf("?allow-lower: %d %s", w.Code, w.Body)
	}

	// The refusal docs/command.md shows, word for word.
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "command.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, shown, _ := strings.Cut(string(doc), "\n  {\"error\":\"the import would lower")
	shown, _, _ = strings.Cut(`{"error":"the import would lower`+shown, "\n")
	if w := post("/admin/import?allow-lower=1", `{"key":"visitors","count":5100,"visitors":40}`); w.Code != http.StatusOK {
		t.Fatalf("import: %d %s", w.Code, w.Body)
	}
	if w := post("/admin/import", `{"key":"visitors","count":3,"visitors":2}`); w.Code != http.StatusConflict || w.Body.String() != shown+"\n" {
		t.Errorf("the refusal docs/command.md shows:\n%s\nthe route's:\n%s", shown, w.Body)
	}

	// A store failing while the keys are read: 503, nothing written.
	at.a.editor = failingExport{at.store, "b"}
	if w := post("/admin/import", `{"key":"e","count":1}`+"\n"+`{"key":"b","count":11}`); w.Code != http.StatusServiceUnavailable || strings.Contains(w.Body.String(), "unreachable") {
		t.Errorf("a store failing on read: %d %s, want 503 without the cause", w.Code, w.Body)
	}
	if rec, _ := at.store.Export(context.Background(), "e"); rec.Count != 0 {
		t.Errorf("a failed import wrote key e: %+v", rec)
	}
}

// TestAdminServer: without COUNTER_ADMIN_TOKEN the routes do not exist;
// with it, a count set on the live server is seen by the next visit.
func TestAdminServer(t *testing.T) {
	s := start(t, "COUNTER_STORE=memory")
	for _, r := range []struct{ method, path string }{{http.MethodPut, "/admin/visitors"}, {http.MethodGet, "/admin/export"}, {http.MethodPost, "/admin/import"}} {
		res := send(t, r.method, s.URL+r.path, bearerOK, `{"count":5}`)
		if res.StatusCode != http.StatusNotFound {
			t.Errorf("%s %s without COUNTER_ADMIN_TOKEN: %s, want 404", r.method, r.path, res.Status)
		}
	}

	s = start(t, "COUNTER_STORE=memory", "COUNTER_ADMIN_TOKEN="+testToken)
	for range 3 {
		getJSON(t, s.URL+"/api/visitors")
	}
	res := send(t, http.MethodPut, s.URL+"/admin/visitors", bearerOK, `{"count":5000}`)
	if res.StatusCode != http.StatusOK || res.body != `{"key":"visitors","old":3,"count":5000}`+"\n" {
		t.Fatalf("PUT: %s %s", res.Status, res.body)
	}
	if a := getJSON(t, s.URL+"/api/visitors"); a.Count != 5001 {
		t.Fatalf("the visit after set 5000: count %d, want 5001", a.Count)
	}
	res = send(t, http.MethodPost, s.URL+"/admin/import", bearerOK, `{"key":"visitors","count":3}`)
	if res.StatusCode != http.StatusConflict || !strings.Contains(res.body, `visitors: count 3, now 5001`) {
		t.Errorf("an import lowering the count: %s %s, want 409 naming the key", res.Status, res.body)
	}
	res = send(t, http.MethodPost, s.URL+"/admin/import?allow-lower=1", bearerOK, `{"key":"visitors","count":3}`)
	if res.StatusCode != http.StatusOK {
		t.Errorf("the same with ?allow-lower=1: %s %s", res.Status, res.body)
	}
	if a := getJSON(t, s.URL+"/api/visitors"); a.Count != 4 {
		t.Errorf("the visit after importing 3: count %d, want 4", a.Count)
	}
	res = send(t, http.MethodGet, s.URL+"/admin/export", "Bearer nope", "")
	if res.StatusCode != http.StatusUnauthorized || res.Header.Get("WWW-Authenticate") == "" {
		t.Errorf("a wrong token: %s %v", res.Status, res.Header)
	}
	log := s.waitLog(t, "request refused")
	if !strings.Contains(log, "admin routes enabled") || strings.Contains(log, testToken) || !strings.Contains(log, "request refused") {
		t.Errorf("log:\n%s", log)
	}
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, "request refused") && (strings.Contains(line, "127.0.0.1") || strings.Contains(line, "nope")) {
			t.Errorf("a refusal logged with the address or the token: %s", line)
		}
	}

	for token, want := range map[string]string{"short": "COUNTER_ADMIN_TOKEN is 5 characters: use at least 32", " " + testToken: "COUNTER_ADMIN_TOKEN has spaces in it"} {
		l := launch(t, "COUNTER_STORE=memory", "COUNTER_ADMIN_TOKEN="+token)
		select {
		case <-l.exited:
		case <-time.After(20 * time.Second):
			t.Fatal("still running with a bad token")
		}
		if l.err == nil || !strings.Contains(l.stderr.String(), want) || strings.Contains(l.stderr.String(), token) {
			t.Errorf("token %q: %v\n%s", token, l.err, l.stderr.String())
		}
	}
}

// waitLog waits until the server's log holds want, and returns the log.
func (s *server) waitLog(t *testing.T, want string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		log := s.stderr.String()
		if strings.Contains(log, want) {
			return log
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %q in the server's log within 10s:\n%s", want, log)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// sent is a response whose body was read.
type sent struct {
	*http.Response
	body string
}

func send(t *testing.T, method, url, auth, body string) sent {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return sent{res, string(b)}
}

// TestAdminFailureFlood (issue 15, defect 5): one wrong attempt from each
// of 20,000 /64s of one IPv6 /48, more addresses than the failure limiter
// tracks, neither locks the owner out nor frees the address that spent its
// attempts: only a client's own failures spend its budget.
func TestAdminFailureFlood(t *testing.T) {
	at := newAdminUnderTest(t)
	const owner, guesser, newcomer = "2001:db8:ffff::1", "192.0.2.66", "198.51.100.7"
	if w := at.do(owner, "Bearer typo", http.MethodGet, "/admin/export", ""); w.Code != http.StatusUnauthorized {
		t.Fatalf("the owner's typo: %d, want 401", w.Code)
	}
	for i := range failBurst {
		at.do(guesser, "Bearer guess-"+strconv.Itoa(i), http.MethodGet, "/admin/export", "")
	}
	if w := at.do(guesser, bearerOK, http.MethodGet, "/admin/export", ""); w.Code != http.StatusTooManyRequests {
		t.Fatalf("after %d failures: %d, want 429", failBurst, w.Code)
	}
	const flood = 2 * maxClients
	for i := range flood {
		if w := at.do(fmt.Sprintf("2001:db8:1:%x::1", i), "Bearer flood", http.MethodGet, "/admin/export", ""); w.Code != http.StatusUnauthorized {
			t.Fatalf("wrong attempt %d, from a new /64: %d, want 401", i+1, w.Code)
		}
	}
	at.a.failures.mu.Lock()
	tracked := len(at.a.failures.clients)
	at.a.failures.mu.Unlock()
	if tracked > maxClients {
		t.Errorf("%d clients tracked, over the cap of %d", tracked, maxClients)
	}
	for _, client := range []string{owner, newcomer, "2001:db8:1:1::1"} {
		if w := at.do(client, bearerOK, http.MethodGet, "/admin/export", ""); w.Code != http.StatusOK {
			t.Errorf("the right token from %s after %d others' failures: %d %s, want 200", client, flood, w.Code, w.Body)
		}
	}
	if w := at.do(guesser, "Bearer guess", http.MethodGet, "/admin/export", ""); w.Code != http.StatusTooManyRequests {
		t.Errorf("the guesser after the flood: %d, want 429 (the flood must not free it)", w.Code)
	}
}

// TestAdminTokenLength: the token has at least minTokenLen characters.
func TestAdminTokenLength(t *testing.T) {
	if minTokenLen != 32 {
		t.Fatalf("minTokenLen = %d; the docs and -h say 32", minTokenLen)
	}
	for n, ok := range map[int]bool{1: false, 31: false, 32: true, 64: true} {
		token := strings.Repeat("a", n)
		got, err := adminTokenFromEnv(func(string) string { return token })
		if ok && (err != nil || got != token) || !ok && (err == nil || got != "") {
			t.Errorf("a %d-character token: %q, %v; accepted: %v, want %v", n, got, err, err == nil, ok)
		}
		if err != nil && !strings.Contains(err.Error(), fmt.Sprintf("is %d characters: use at least 32", n)) {
			t.Errorf("a %d-character token: %v", n, err)
		}
	}
}

// TestAdminTokenWholeHash: a wrong token whose SHA-256 starts with the same
// two bytes as the right one's is refused: the whole hash is compared.
func TestAdminTokenWholeHash(t *testing.T) {
	at := newAdminUnderTest(t)
	right := sha256.Sum256([]byte(testToken))
	var near string
	for i := 0; near == ""; i++ {
		guess := fmt.Sprintf("%s-%d", testToken, i)
		if h := sha256.Sum256([]byte(guess)); h[0] == right[0] && h[1] == right[1] {
			near = guess
		}
	}
	if w := at.do("192.0.2.1", "Bearer "+near, http.MethodGet, "/admin/export", ""); w.Code != http.StatusUnauthorized {
		t.Fatalf("a token whose hash shares its first two bytes with the right one's: %d, want 401", w.Code)
	}
}

// TestAdminTokenConstantTime: the token's hash is compared in one place,
// whole, with crypto/subtle.ConstantTimeCompare; never with == or != (the
// same answers, at a speed that tells how many leading bytes matched) or
// byte by byte. A timing test would be flaky, so this reads the source.
func TestAdminTokenConstantTime(t *testing.T) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "admin.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	isToken := func(e ast.Expr) bool { // a.token
		sel, ok := e.(*ast.SelectorExpr)
		return ok && sel.Sel.Name == "token"
	}
	whole := func(e ast.Expr) bool { // x[:]
		s, ok := e.(*ast.SliceExpr)
		return ok && s.Low == nil && s.High == nil
	}
	var compares int
	allowed := map[ast.Node]bool{}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.CallExpr:
			if sel, ok := n.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "ConstantTimeCompare" && len(n.Args) == 2 {
				for _, a := range n.Args {
					if whole(a) && isToken(a.(*ast.SliceExpr).X) {
						compares++
						allowed[a.(*ast.SliceExpr).X] = true
					}
				}
				if compares > 0 && (!whole(n.Args[0]) || !whole(n.Args[1])) {
					t.Errorf("%s: ConstantTimeCompare of part of a hash", fset.Position(n.Pos()))
				}
			}
		case *ast.KeyValueExpr: // the field set in newAdmin
			if id, ok := n.Key.(*ast.Ident); ok && id.Name == "token" {
				return false
			}
		case *ast.SelectorExpr:
			if isToken(n) && !allowed[n] {
				t.Errorf("%s: the token's hash used other than in ConstantTimeCompare(h[:], a.token[:])", fset.Position(n.Pos()))
			}
		}
		return true
	})
	if compares != 1 {
		t.Errorf("%d whole-hash ConstantTimeCompare calls with the token, want 1", compares)
	}
}
