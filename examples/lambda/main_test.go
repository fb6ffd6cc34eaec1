package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/resumecounter/counter/internal/testenv"
)

// The fixtures are payload-2.0 events as a Function URL and an API Gateway
// HTTP API send them for a browser's fetch("/api/visitors").
var fixtures = []string{"function-url.json", "http-api.json"}

// req describes how a test changes a fixture.
type req struct {
	method, path, query string
	headers             map[string]string // added or replaced; "" deletes
	cookies             []string
	body                string
	base64              bool
}

// event returns fixture name changed as r says, as JSON. It edits the
// fixture's JSON tree, so fields the adapter ignores stay as AWS sends them.
func event(t *testing.T, name string, r req) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var ev map[string]any
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Fatal(err)
	}
	httpCtx := ev["requestContext"].(map[string]any)["http"].(map[string]any)
	if r.method != "" {
		httpCtx["method"] = r.method
	}
	if r.path != "" {
		ev["rawPath"] = r.path
		httpCtx["path"] = r.path
	}
	ev["rawQueryString"] = r.query
	headers := ev["headers"].(map[string]any)
	for k, v := range r.headers {
		if v == "" {
			delete(headers, k)
		} else {
			headers[k] = v
		}
	}
	if r.cookies != nil {
		ev["cookies"] = r.cookies
	}
	if r.body != "" {
		ev["body"] = r.body
		ev["isBase64Encoded"] = r.base64
	}
	out, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

var build struct {
	once sync.Once
	dir  string
	err  error
	out  []byte
}

// bootstrap builds this command for the host, as the README builds it for
// Lambda, once per test binary, and returns the binary's path.
func bootstrap(t testing.TB) string {
	t.Helper()
	build.once.Do(func() {
		if build.dir, build.err = os.MkdirTemp("", "counter-lambda-"); build.err != nil {
			return
		}
		build.out, build.err = goBuild(build.dir, ".")
	})
	if build.err != nil {
		t.Fatalf("go build: %v\n%s", build.err, build.out)
	}
	return filepath.Join(build.dir, "bootstrap")
}

// goBuild builds pkg into dir/bootstrap with the README's flags.
func goBuild(dir, pkg string) ([]byte, error) {
	cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-ldflags", "-s -w", "-o", filepath.Join(dir, "bootstrap"), pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	return cmd.CombinedOutput()
}

func TestMain(m *testing.M) {
	code := m.Run()
	if build.dir != "" {
		os.RemoveAll(build.dir)
	}
	os.Exit(code)
}

// setup starts dynalite with a fresh table and the counter under the
// emulator, configured by env on top of the AWS settings.
func setup(t *testing.T, env ...string) (*testenv.Lambda, *dynamodb.Client, string) {
	t.Helper()
	testenv.RIE(t) // skip early when the emulator is missing
	client := testenv.Dynalite(t)
	table := testenv.CreateTable(t, client, "id")
	bin := bootstrap(t)
	home := t.TempDir()
	base := []string{
		"AWS_ENDPOINT_URL_DYNAMODB=" + testenv.DynaliteEndpoint(t),
		"AWS_ACCESS_KEY_ID=test",
		"AWS_SECRET_ACCESS_KEY=test",
		"AWS_REGION=us-east-1",
		"HOME=" + home, // no developer's ~/.aws
		"AWS_CONFIG_FILE=" + filepath.Join(home, "config"),
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "credentials"),
		"COUNTER_TABLE=" + table,
	}
	return testenv.StartLambda(t, bin, append(base, env...)...), client, table
}

// invoke sends ev and decodes the function's answer.
func invoke(t *testing.T, fn *testenv.Lambda, ev []byte) events.APIGatewayV2HTTPResponse {
	t.Helper()
	out := fn.Invoke(t, ev)
	var resp events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatalf("answer %s: %v", out, err)
	}
	return resp
}

// jsonCount checks a JSON answer for key and returns its count.
func jsonCount(t *testing.T, resp events.APIGatewayV2HTTPResponse, key string) int64 {
	t.Helper()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d, body %q", resp.StatusCode, resp.Body)
	}
	if ct := resp.Headers["Content-Type"]; !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	if resp.IsBase64Encoded {
		t.Errorf("JSON answer is base64-encoded")
	}
	var got struct {
		Key   string `json:"key"`
		Count *int64 `json:"count"`
	}
	if err := json.Unmarshal([]byte(resp.Body), &got); err != nil || got.Count == nil {
		t.Fatalf("body %q: want {\"key\":...,\"count\":N} (%v)", resp.Body, err)
	}
	if got.Key != key {
		t.Errorf("key %q, want %q", got.Key, key)
	}
	return *got.Count
}

// stored reads key's count straight from the table.
func stored(t *testing.T, client *dynamodb.Client, table, key string) int64 {
	t.Helper()
	return storedIn(t, client, table, key, "count")
}

// storedIn reads key's count from attribute attr.
func storedIn(t *testing.T, client *dynamodb.Client, table, key, attr string) int64 {
	t.Helper()
	out, err := client.GetItem(context.Background(), &dynamodb.GetItemInput{
		TableName:      aws.String(table),
		Key:            map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: key}},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		t.Fatal(err)
	}
	n, ok := out.Item[attr].(*types.AttributeValueMemberN)
	if !ok {
		return 0
	}
	v, err := strconv.ParseInt(n.Value, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// itemIDs lists the id of every item in table.
func itemIDs(t *testing.T, client *dynamodb.Client, table string) []string {
	t.Helper()
	out, err := client.Scan(context.Background(), &dynamodb.ScanInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, item := range out.Items {
		if s, ok := item["id"].(*types.AttributeValueMemberS); ok {
			ids = append(ids, s.Value)
		}
	}
	return ids
}

func TestCountsExactlyAcrossInvocations(t *testing.T) {
	fn, client, table := setup(t)
	want := int64(0)
	for i := range 6 { // alternate Function URL and HTTP API events
		want++
		got := jsonCount(t, invoke(t, fn, event(t, fixtures[i%2], req{path: "/api/page:home"})), "page:home")
		if got != want {
			t.Fatalf("invocation %d (%s): count %d, want %d", i+1, fixtures[i%2], got, want)
		}
	}
	if n := stored(t, client, table, "page:home"); n != want {
		t.Errorf("table holds %d, want %d", n, want)
	}

	// "/" counts the default key, as the original Function URL did.
	for _, name := range fixtures {
		t.Run("root/"+name, func(t *testing.T) {
			before := stored(t, client, table, "visitors")
			if got := jsonCount(t, invoke(t, fn, event(t, name, req{path: "/"})), "visitors"); got != before+1 {
				t.Errorf("count %d, want %d", got, before+1)
			}
		})
	}
}

// An existing table with its own key and attribute names keeps counting.
func TestExistingSchemaFromEnv(t *testing.T) {
	fn, client, table := setup(t, "COUNTER_DEFAULT_KEY=visitor_count", "COUNTER_COUNT_ATTRIBUTE=views")
	_, err := client.PutItem(context.Background(), &dynamodb.PutItemInput{
		TableName: aws.String(table),
		Item: map[string]types.AttributeValue{
			"id":    &types.AttributeValueMemberS{Value: "visitor_count"},
			"views": &types.AttributeValueMemberN{Value: "41"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := jsonCount(t, invoke(t, fn, event(t, fixtures[0], req{path: "/api/visitor_count"})), "visitor_count"); got != 42 {
		t.Errorf("/api/visitor_count: count %d, want 42", got)
	}
	if got := jsonCount(t, invoke(t, fn, event(t, fixtures[1], req{path: "/"})), "visitor_count"); got != 43 {
		t.Errorf("/: count %d, want 43", got)
	}
	if n := storedIn(t, client, table, "visitor_count", "views"); n != 43 {
		t.Errorf("table holds %d, want 43", n)
	}
}

// COUNTER_KEYS limits which keys may be counted: others answer 404 and no
// item is written for them.
func TestKeysAllowlist(t *testing.T) {
	fn, client, table := setup(t, "COUNTER_KEYS=visitors,page:home")
	if got := jsonCount(t, invoke(t, fn, event(t, fixtures[0], req{path: "/api/page:home"})), "page:home"); got != 1 {
		t.Errorf("allowed key: count %d, want 1", got)
	}
	for _, path := range []string{"/api/made-up", "/badge/made-up"} {
		if resp := invoke(t, fn, event(t, fixtures[1], req{path: path})); resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s: status %d, want 404", path, resp.StatusCode)
		}
	}
	// The allowed key's visit writes its item, its visitor marker and the
	// day's salt; nothing may name the unknown key.
	ids := itemIDs(t, client, table)
	for _, id := range ids {
		if strings.HasPrefix(id, "made-up") {
			t.Errorf("item %q written for an unknown key (items: %q)", id, ids)
		}
	}
	if !slices.Contains(ids, "page:home") {
		t.Errorf("no item for the allowed key page:home (items: %q)", ids)
	}
}

func TestBadge(t *testing.T) {
	fn, client, table := setup(t)
	for i, name := range fixtures {
		t.Run(name, func(t *testing.T) {
			resp := invoke(t, fn, event(t, name, req{path: "/badge/readme", headers: map[string]string{"accept": "image/avif,image/webp,image/svg+xml,*/*;q=0.8", "sec-fetch-dest": "image"}}))
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d, body %q", resp.StatusCode, resp.Body)
			}
			if ct := resp.Headers["Content-Type"]; !strings.HasPrefix(ct, "image/svg+xml") {
				t.Errorf("Content-Type %q, want image/svg+xml", ct)
			}
			if resp.IsBase64Encoded {
				t.Error("SVG answer is base64-encoded; it is text")
			}
			// The badge's title (or text) reads "label: count".
			if !strings.HasPrefix(resp.Body, "<svg") || !strings.Contains(resp.Body, ": "+strconv.Itoa(i+1)+"<") {
				t.Errorf("body is not a badge showing %d: %q", i+1, resp.Body)
			}
		})
	}
	if n := stored(t, client, table, "readme"); n != 2 {
		t.Errorf("table holds %d, want 2", n)
	}
}

func TestHitFalseDoesNotCount(t *testing.T) {
	fn, client, table := setup(t)
	for range 3 {
		invoke(t, fn, event(t, fixtures[0], req{path: "/api/blog"}))
	}
	for _, name := range fixtures {
		if got := jsonCount(t, invoke(t, fn, event(t, name, req{path: "/api/blog", query: "hit=false"})), "blog"); got != 3 {
			t.Errorf("%s: hit=false count %d, want 3", name, got)
		}
	}
	if n := stored(t, client, table, "blog"); n != 3 {
		t.Errorf("table holds %d after hit=false reads, want 3", n)
	}
}

func TestCORS(t *testing.T) {
	const site = "https://resume.example.com"
	tests := []struct {
		name, env, origin, wantAllow string
	}{
		{"off: no CORS headers even for a page's origin", "", site, ""},
		{"on: the allowed origin", site + ", https://other.example", site, site},
		{"on: the second allowed origin", site + ", https://other.example", "https://other.example", "https://other.example"},
		{"on: an origin not listed", site, "https://evil.example", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fn, _, _ := setup(t, "COUNTER_ALLOWED_ORIGINS="+tt.env)
			for _, name := range fixtures {
				for _, path := range []string{"/api/cors", "/badge/cors"} {
					resp := invoke(t, fn, event(t, name, req{path: path, headers: map[string]string{"origin": tt.origin}}))
					if resp.StatusCode != http.StatusOK {
						t.Fatalf("%s %s: status %d", name, path, resp.StatusCode)
					}
					if got := resp.Headers["Access-Control-Allow-Origin"]; got != tt.wantAllow {
						t.Errorf("%s %s: Access-Control-Allow-Origin %q, want %q", name, path, got, tt.wantAllow)
					}
					if tt.wantAllow == "" {
						for k := range resp.Headers {
							if strings.HasPrefix(k, "Access-Control-") {
								t.Errorf("%s %s: unexpected %s header", name, path, k)
							}
						}
					}
				}
			}
		})
	}
}

// A CORS preflight is answered from the function when it does CORS itself,
// and never counts.
func TestCORSPreflight(t *testing.T) {
	const site = "https://resume.example.com"
	fn, client, table := setup(t, "COUNTER_ALLOWED_ORIGINS="+site)
	for _, name := range fixtures {
		resp := invoke(t, fn, event(t, name, req{method: "OPTIONS", path: "/api/preflight", headers: map[string]string{
			"origin": site, "access-control-request-method": "GET",
		}}))
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			t.Errorf("%s: status %d", name, resp.StatusCode)
		}
		if got := resp.Headers["Access-Control-Allow-Origin"]; got != site {
			t.Errorf("%s: Access-Control-Allow-Origin %q, want %q", name, got, site)
		}
		if !strings.Contains(resp.Headers["Access-Control-Allow-Methods"], "GET") {
			t.Errorf("%s: Access-Control-Allow-Methods %q", name, resp.Headers["Access-Control-Allow-Methods"])
		}
	}
	if n := len(itemIDs(t, client, table)); n != 0 {
		t.Errorf("preflights wrote %d items", n)
	}
}

func TestCookiesAndBodies(t *testing.T) {
	fn, client, table := setup(t)
	tests := []struct {
		name string
		r    req
		want int // status
	}{
		{"cookies", req{cookies: []string{"_ga=GA1.1.123.456", "theme=dark"}}, 200},
		{"base64 body", req{body: base64.StdEncoding.EncodeToString([]byte("\x00\xff ignored")), base64: true}, 200},
		{"text body", req{body: "ignored"}, 200},
		{"invalid base64 body", req{body: "%%% not base64", base64: true}, 400},
	}
	counted := int64(0)
	for _, name := range fixtures {
		for _, tt := range tests {
			t.Run(name+"/"+tt.name, func(t *testing.T) {
				r := tt.r
				r.path = "/api/cookies"
				resp := invoke(t, fn, event(t, name, r))
				if resp.StatusCode != tt.want {
					t.Fatalf("status %d, want %d; body %q", resp.StatusCode, tt.want, resp.Body)
				}
				if tt.want == 200 {
					counted++
					if got := jsonCount(t, resp, "cookies"); got != counted {
						t.Errorf("count %d, want %d", got, counted)
					}
				}
				if len(resp.Cookies) != 0 || resp.Headers["Set-Cookie"] != "" {
					t.Errorf("the counter set cookies: %q %q", resp.Cookies, resp.Headers["Set-Cookie"])
				}
			})
		}
	}
	if n := stored(t, client, table, "cookies"); n != counted {
		t.Errorf("table holds %d, want %d", n, counted)
	}
}

func TestBadRequests(t *testing.T) {
	fn, client, table := setup(t)
	tests := []struct {
		name, path string
		want       int
	}{
		{"key with a space", "/api/bad%20key", 400},
		{"key with a slash", "/badge/a%2Fb", 400},
		{"key too long", "/api/" + strings.Repeat("k", 129), 400},
		{"key starting with a dot", "/badge/.hidden", 400},
		{"unknown path", "/admin", 404},
		{"nothing after /api/", "/api/", 404},
	}
	for _, name := range fixtures {
		for _, tt := range tests {
			t.Run(name+"/"+tt.name, func(t *testing.T) {
				resp := invoke(t, fn, event(t, name, req{path: tt.path}))
				if resp.StatusCode != tt.want {
					t.Errorf("status %d, want %d; body %q", resp.StatusCode, tt.want, resp.Body)
				}
			})
		}
	}
	if n := len(itemIDs(t, client, table)); n != 0 {
		t.Errorf("bad requests wrote %d items", n)
	}
}

// An origin that can never match stops the function at init, with an error
// naming it, instead of turning CORS off without a word.
func TestOriginThatNeverMatchesStopsInit(t *testing.T) {
	env := map[string]string{"COUNTER_ALLOWED_ORIGINS": "https://resume.example.com, https://Other.example"}
	_, err := newHandler(context.Background(), func(k string) string { return env[k] })
	if err == nil || !strings.Contains(err.Error(), "COUNTER_ALLOWED_ORIGINS") || !strings.Contains(err.Error(), `"https://Other.example"`) {
		t.Fatalf("newHandler = %v, want an error naming COUNTER_ALLOWED_ORIGINS and the entry", err)
	}
}

// TestChart: /chart/{key} draws the key's last days as an SVG, read-only.
func TestChart(t *testing.T) {
	fn, client, table := setup(t)
	for range 2 {
		invoke(t, fn, event(t, fixtures[0], req{path: "/api/chart-key"}))
	}
	resp := invoke(t, fn, event(t, fixtures[0], req{path: "/chart/chart-key", query: "days=7"}))
	if resp.StatusCode != http.StatusOK || resp.Headers["Content-Type"] != "image/svg+xml" {
		t.Fatalf("chart: status %d, Content-Type %q, body %.200q", resp.StatusCode, resp.Headers["Content-Type"], resp.Body)
	}
	if !strings.Contains(resp.Body, "<svg") || !strings.Contains(resp.Body, "<title>") {
		t.Errorf("chart body is not an SVG chart: %.300q", resp.Body)
	}
	if resp := invoke(t, fn, event(t, fixtures[0], req{path: "/chart/chart-key", query: "days=0"})); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("days=0: status %d, want 400", resp.StatusCode)
	}
	if n := stored(t, client, table, "chart-key"); n != 2 {
		t.Errorf("table holds %d after reading the chart, want 2", n)
	}
}

// TestWarnsWhenTTLOff: on a table without TTL (dynalite cannot turn it on,
// as a table made by hand has it off) the function logs one warning per
// execution environment, naming the command that turns TTL on.
func TestWarnsWhenTTLOff(t *testing.T) {
	fn, _, table := setup(t)
	for range 2 {
		jsonCount(t, invoke(t, fn, event(t, fixtures[0], req{path: "/api/visitors"})), "visitors")
	}
	const warning = "DynamoDB TTL is off"
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(fn.Log(), warning) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	log := fn.Log()
	if n := strings.Count(log, warning); n != 1 || !strings.Contains(log, "update-time-to-live --table-name "+table) {
		t.Fatalf("%d TTL warnings, want 1 with the command that turns TTL on; log:\n%s", n, log)
	}
}
