package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	bolt "go.etcd.io/bbolt"

	"github.com/resumecounter/counter"
	"github.com/resumecounter/counter/internal/testenv"
)

// binary is the counter command, built once by TestMain.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "counter-command")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "counter")
	// go test puts its own go command first on PATH.
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		os.Exit(1)
	}
	// The server counts visitors and leaves bots out, and Go's HTTP client
	// is a bot by its User-Agent: the tests speak as a browser unless a
	// test sets a User-Agent itself.
	http.DefaultTransport = browserUA{http.DefaultTransport}
	code := m.Run()
	testenv.StopServers()
	os.RemoveAll(dir)
	os.Exit(code)
}

// browserUA sends a browser's User-Agent on requests that have none.
type browserUA struct{ rt http.RoundTripper }

const testBrowserUA = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"

func (b browserUA) RoundTrip(r *http.Request) (*http.Response, error) {
	if _, ok := r.Header["User-Agent"]; !ok {
		r = r.Clone(r.Context())
		r.Header.Set("User-Agent", testBrowserUA)
	}
	return b.rt.RoundTrip(r)
}

func (b browserUA) CloseIdleConnections() {
	if c, ok := b.rt.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// server is a running server binary.
type server struct {
	URL    string // http://127.0.0.1:port
	cmd    *exec.Cmd
	stderr *syncBuffer
	exited chan struct{} // closed when the process has exited
	err    error         // the exit error, set before exited closes
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// baseEnv is a clean environment: no AWS profile or credentials of the
// machine, a free port on loopback. The time zone and the moved clock of
// scripts/clock.sh pass through, so that the server runs where the test
// does.
func baseEnv(t *testing.T) []string {
	t.Helper()
	dir := t.TempDir()
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + dir,
		"COUNTER_HOST=127.0.0.1",
		"PORT=0",
		"AWS_CONFIG_FILE=" + filepath.Join(dir, "aws-config"),
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(dir, "aws-credentials"),
		"AWS_EC2_METADATA_DISABLED=true",
	}
	for _, k := range []string{"TZ", "FAKECLOCK_OFFSET", "FAKECLOCK_START"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// launch starts counter serve with env added to baseEnv, without waiting.
func launch(t *testing.T, env ...string) *server {
	t.Helper()
	s := &server{stderr: new(syncBuffer), exited: make(chan struct{})}
	s.cmd = exec.Command(binary, "serve")
	s.cmd.Env = append(baseEnv(t), env...)
	s.cmd.Dir = t.TempDir()
	s.cmd.Stderr = s.stderr
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		s.err = s.cmd.Wait()
		close(s.exited)
	}()
	t.Cleanup(func() {
		_ = s.cmd.Process.Kill()
		<-s.exited
		if t.Failed() {
			t.Logf("server log:\n%s", s.stderr.String())
		}
	})
	return s
}

var listening = regexp.MustCompile(`msg=listening addr=(\S+)`)

// start starts the server and waits until it listens.
func start(t *testing.T, env ...string) *server {
	t.Helper()
	s := launch(t, env...)
	deadline := time.After(20 * time.Second)
	for {
		if m := listening.FindStringSubmatch(s.stderr.String()); m != nil {
			s.URL = "http://" + m[1]
			return s
		}
		select {
		case <-s.exited:
			t.Fatalf("server exited before listening: %v\n%s", s.err, s.stderr.String())
		case <-deadline:
			t.Fatalf("server did not listen within 20s:\n%s", s.stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// stop sends SIGTERM and waits for a clean exit, failing after limit.
func (s *server) stop(t *testing.T, limit time.Duration) time.Duration {
	t.Helper()
	begin := time.Now()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.exited:
	case <-time.After(limit):
		t.Fatalf("server still running %v after SIGTERM", limit)
	}
	if s.err != nil {
		t.Fatalf("server exited with %v after SIGTERM:\n%s", s.err, s.stderr.String())
	}
	return time.Since(begin)
}

type answer struct {
	Key   string `json:"key"`
	Count int64  `json:"count"`
}

func getJSON(t *testing.T, u string) answer {
	t.Helper()
	return getJSONWith(t, u, nil)
}

// getJSONWith is getJSON with header added to the request.
func getJSONWith(t *testing.T, u string, header http.Header) answer {
	t.Helper()
	res, body := getWith(t, u, header)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s %s", u, res.Status, body)
	}
	var a answer
	if err := json.Unmarshal([]byte(body), &a); err != nil {
		t.Fatalf("GET %s: %v in %s", u, err, body)
	}
	return a
}

// reply is what get keeps of a response whose body it has read and closed.
type reply struct {
	Status     string
	StatusCode int
	Header     http.Header
}

func get(t *testing.T, u string) (reply, string) {
	t.Helper()
	return getWith(t, u, nil)
}

// getWith sends a GET with header added.
func getWith(t *testing.T, u string, header http.Header) (reply, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return reply{res.Status, res.StatusCode, res.Header}, string(body)
}

// dynamoEnv creates a table in dynalite and returns the server's settings
// for it and the endpoint.
func dynamoEnv(t *testing.T) ([]string, string, string) {
	t.Helper()
	endpoint := testenv.DynaliteEndpoint(t)
	table := testenv.CreateTable(t, testenv.DynamoClient(endpoint), counter.DefaultPartitionKey)
	return awsEnv(endpoint, table), endpoint, table
}

func awsEnv(endpoint, table string) []string {
	return []string{
		"COUNTER_STORE=dynamodb",
		"COUNTER_TABLE=" + table,
		"AWS_REGION=us-east-1",
		"AWS_ACCESS_KEY_ID=test",
		"AWS_SECRET_ACCESS_KEY=test",
		"AWS_ENDPOINT_URL_DYNAMODB=" + endpoint,
	}
}

// TestStores serves every endpoint from each store.
func TestStores(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  func(t *testing.T) []string
	}{
		{"memory", func(*testing.T) []string { return []string{"COUNTER_STORE=memory"} }},
		{"bolt", func(t *testing.T) []string { return []string{"COUNTER_DATA=" + filepath.Join(t.TempDir(), "c.db")} }},
		{"bolt-default-path", func(*testing.T) []string { return nil }},
		{"dynamodb", func(t *testing.T) []string { env, _, _ := dynamoEnv(t); return env }},
		{"postgres", postgresEnv},
		{"redis", redisEnv},
		{"redis-cluster", redisClusterEnv},
		{"sqlite", func(t *testing.T) []string {
			return []string{"COUNTER_STORE=sqlite", "COUNTER_DATA=" + filepath.Join(t.TempDir(), "c.sqlite")}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := start(t, tc.env(t)...)
			for want := int64(1); want <= 3; want++ {
				if a := getJSON(t, s.URL+"/api/visitors"); a.Count != want || a.Key != "visitors" {
					t.Fatalf("visit %d: got %+v", want, a)
				}
			}
			if a := getJSON(t, s.URL+"/api/page:about"); a.Count != 1 {
				t.Fatalf("another key: got %+v, want count 1", a)
			}
			res, body := get(t, s.URL+"/badge/visitors")
			if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "image/svg+xml" || !strings.Contains(body, "<svg") {
				t.Fatalf("badge: %s, %s: %.100s", res.Status, res.Header.Get("Content-Type"), body)
			}
			if a := getJSON(t, s.URL+"/api/visitors"); a.Count != 5 {
				t.Fatalf("after the badge: count %d, want 5 (the badge counts too)", a.Count)
			}
			res, body = get(t, s.URL+"/")
			if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") || !strings.Contains(body, `src="counter.js"`) {
				t.Fatalf("page: %s, %s: %.200s", res.Status, res.Header.Get("Content-Type"), body)
			}
			res, body = get(t, s.URL+"/counter.js")
			if res.StatusCode != http.StatusOK || !strings.Contains(res.Header.Get("Content-Type"), "javascript") || !strings.Contains(body, "data-counter") {
				t.Fatalf("counter.js: %s, %s", res.Status, res.Header.Get("Content-Type"))
			}
			res, body = get(t, s.URL+"/chart/visitors?days=7")
			if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "image/svg+xml" || !strings.Contains(body, "<title>") {
				t.Fatalf("chart: %s, %s: %.200s", res.Status, res.Header.Get("Content-Type"), body)
			}
			if res, _ = get(t, s.URL+"/stats.html"); res.StatusCode != http.StatusOK {
				t.Fatalf("stats page: %s", res.Status)
			}
			if a := getJSON(t, s.URL+"/api/visitors?hit=false"); a.Count != 5 {
				t.Fatalf("after the chart and the stats page: count %d, want 5 (neither counts)", a.Count)
			}
			if tc.name == "bolt-default-path" {
				if _, err := os.Stat(filepath.Join(s.cmd.Dir, "counter.db")); err != nil {
					t.Fatalf("no counter.db in the working directory: %v", err)
				}
			}
			s.stop(t, 5*time.Second)
			if log := withoutTTLWarning(t, tc.name, s.stderr.String()); strings.Contains(log, "level=ERROR") || strings.Contains(log, "level=WARN") {
				t.Fatalf("server logged problems:\n%s", log)
			}
		})
	}
}

// ttlWarning starts the warning of a DynamoDB table whose TTL is off.
const ttlWarning = `level=WARN msg="DynamoDB TTL is off:`

// withoutTTLWarning returns log without the TTL warning, which a server on
// dynalite logs once (dynalite cannot turn TTL on), after checking that it
// is there exactly once for store dynamodb and absent for the others.
func withoutTTLWarning(t *testing.T, store, log string) string {
	t.Helper()
	want := 0
	if store == "dynamodb" {
		want = 1
	}
	if n := strings.Count(log, ttlWarning); n != want {
		t.Fatalf("store %s: %d TTL warnings, want %d:\n%s", store, n, want, log)
	}
	var kept []string
	for _, line := range strings.SplitAfter(log, "\n") {
		if !strings.Contains(line, ttlWarning) {
			kept = append(kept, line)
		}
	}
	return strings.Join(kept, "")
}

func TestBoltCountsSurviveRestart(t *testing.T) {
	data := "COUNTER_DATA=" + filepath.Join(t.TempDir(), "counter.db")
	s := start(t, data)
	for range 3 {
		getJSON(t, s.URL+"/api/visitors")
	}
	s.stop(t, 5*time.Second)

	s = start(t, data)
	if a := getJSON(t, s.URL+"/api/visitors"); a.Count != 4 {
		t.Fatalf("first visit after a restart: count %d, want 4", a.Count)
	}
	s.stop(t, 5*time.Second)
}

func TestAllowedOrigins(t *testing.T) {
	s := start(t, "COUNTER_STORE=memory", "COUNTER_ALLOWED_ORIGINS=http://a.test, http://b.test")
	for origin, want := range map[string]string{"http://b.test": "http://b.test", "http://evil.test": ""} {
		req, _ := http.NewRequest(http.MethodGet, s.URL+"/api/visitors", nil)
		req.Header.Set("Origin", origin)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if got := res.Header.Get("Access-Control-Allow-Origin"); got != want {
			t.Errorf("Origin %s: Access-Control-Allow-Origin %q, want %q", origin, got, want)
		}
	}
}

// TestShutdownFinishesInFlight stops the server while requests wait on a
// slow DynamoDB (dynalite behind a proxy that holds each request): every
// request in flight must get its count, the process must exit soon after
// them with status 0, and the table must hold exactly the counts answered.
func TestShutdownFinishesInFlight(t *testing.T) {
	const inFlight, hold = 8, 700 * time.Millisecond
	env, endpoint, table := dynamoEnv(t)
	target, _ := url.Parse(endpoint)
	proxy := httputil.NewSingleHostReverseProxy(target)
	var updates atomic.Int64
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.Header.Get("X-Amz-Target"), ".UpdateItem") {
			updates.Add(1)
			time.Sleep(hold)
		}
		proxy.ServeHTTP(w, r)
	}))
	defer slow.Close()
	// The last endpoint wins. Hits only: the proxy holds each UpdateItem,
	// and a visit with visitors makes more than one.
	env = append(env, "AWS_ENDPOINT_URL_DYNAMODB="+slow.URL, "COUNTER_VISITORS=off")
	s := start(t, env...)

	type result struct {
		a   answer
		err error
	}
	results := make(chan result, inFlight)
	for range inFlight {
		go func() {
			res, err := http.Get(s.URL + "/api/visitors")
			if err != nil {
				results <- result{err: err}
				return
			}
			defer res.Body.Close()
			var a answer
			if res.StatusCode != http.StatusOK {
				err = fmt.Errorf("status %s", res.Status)
			} else {
				err = json.NewDecoder(res.Body).Decode(&a)
			}
			results <- result{a, err}
		}()
	}
	for updates.Load() < inFlight { // every request is now waiting on the store
		time.Sleep(5 * time.Millisecond)
	}
	took := s.stop(t, 5*time.Second)
	var got []int64
	for range inFlight {
		r := <-results
		if r.err != nil {
			t.Fatalf("request in flight at SIGTERM failed: %v", r.err)
		}
		got = append(got, r.a.Count)
	}
	slices.Sort(got)
	for i, n := range got {
		if n != int64(i+1) {
			t.Fatalf("counts answered %v, want 1..%d", got, inFlight)
		}
	}
	if took > hold+2*time.Second {
		t.Errorf("exit took %v after SIGTERM, want about %v (the requests in flight)", took, hold)
	}
	if res, err := http.Get(s.URL + "/api/visitors"); err == nil {
		res.Body.Close()
		t.Fatal("a request after the exit succeeded")
	}
	store := counter.NewDynamo(testenv.DynamoClient(endpoint), counter.DynamoOptions{Table: table})
	if n, err := store.Count(context.Background(), "visitors"); err != nil || n != inFlight {
		t.Fatalf("stored count %d, %v; want %d", n, err, inFlight)
	}
	log := s.stderr.String()
	if !strings.Contains(log, "msg=stopped") {
		t.Fatalf("no clean stop in the log:\n%s", log)
	}
	t.Logf("exit %v after SIGTERM with %d requests in flight for %v", took.Round(time.Millisecond), inFlight, hold)
}

// load is a set of clients counting one key on a server as fast as they
// can, each until its first failed request (the server has gone) or a time
// limit.
type load struct {
	ok       atomic.Int64 // 200 answers: acknowledged increments
	maxCount atomic.Int64 // the highest count answered
	other    atomic.Int64 // answers other than 200
	failed   atomic.Int64 // requests without an answer, at most one per client
	wg       sync.WaitGroup
}

func startLoad(url string, clients int, limit time.Duration) *load {
	l := &load{}
	stopAt := time.Now().Add(limit) // bounded even if the server never stops
	for range clients {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			client := &http.Client{Transport: browserUA{&http.Transport{}}}
			defer client.CloseIdleConnections()
			for time.Now().Before(stopAt) {
				res, err := client.Get(url)
				if err != nil {
					l.failed.Add(1)
					return // the server has stopped
				}
				// The status line is the acknowledgement; the count in the
				// body, if it arrives whole, says how far the store got.
				var a answer
				err = json.NewDecoder(res.Body).Decode(&a)
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != http.StatusOK {
					l.other.Add(1)
					continue
				}
				l.ok.Add(1)
				for m := l.maxCount.Load(); err == nil && a.Count > m && !l.maxCount.CompareAndSwap(m, a.Count); m = l.maxCount.Load() {
				}
			}
		}()
	}
	return l
}

// waitOK waits until n increments were acknowledged.
func (l *load) waitOK(t *testing.T, n int64) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for l.ok.Load() < n {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d increments acknowledged after 20s", l.ok.Load(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestShutdownUnderLoad stops the server with SIGTERM while 16 clients keep
// counting: it exits within seconds, and the stored count equals the number
// of 200 answers, so nothing answered was lost and nothing unanswered was
// counted.
func TestShutdownUnderLoad(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  func(t *testing.T) (env []string, stored func(t *testing.T) int64)
		warm int64 // acknowledged increments before SIGTERM
	}{
		{"bolt", func(t *testing.T) ([]string, func(*testing.T) int64) {
			data := "COUNTER_DATA=" + filepath.Join(t.TempDir(), "counter.db")
			return []string{data}, func(t *testing.T) int64 { // after a restart
				s := start(t, data)
				defer s.stop(t, 5*time.Second)
				return getJSON(t, s.URL+"/api/visitors?hit=false").Count
			}
		}, 2000},
		{"dynamodb", func(t *testing.T) ([]string, func(*testing.T) int64) {
			env, endpoint, table := dynamoEnv(t)
			return env, func(t *testing.T) int64 { // straight from dynalite
				store := counter.NewDynamo(testenv.DynamoClient(endpoint), counter.DynamoOptions{Table: table, ConsistentRead: true})
				n, err := store.Count(context.Background(), "visitors")
				if err != nil {
					t.Fatal(err)
				}
				return n
			}
		}, 300},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env, stored := tc.env(t)
			s := start(t, env...)
			l := startLoad(s.URL+"/api/visitors", 16, 20*time.Second)
			l.waitOK(t, tc.warm)
			took := s.stop(t, 5*time.Second)
			l.wg.Wait()
			if n := l.other.Load(); n != 0 {
				t.Errorf("%d answers other than 200", n)
			}
			if got := stored(t); got != l.ok.Load() {
				t.Fatalf("stored count %d, but %d requests were answered 200", got, l.ok.Load())
			}
			t.Logf("exit %v after SIGTERM under 16 clients; %d counts answered, all stored; %d requests unanswered (refused once the server closed)",
				took.Round(time.Millisecond), l.ok.Load(), l.failed.Load())
		})
	}
}

// TestKillNineUnderLoad kills the bolt server with SIGKILL while 16 clients
// count, four times over one file. Each time the file passes bbolt's
// consistency check and the restarted server holds every acknowledged
// increment: the count is at least the acknowledged ones (and the highest
// count answered), and at most those plus the requests left unanswered.
func TestKillNineUnderLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "counter.db")
	data := "COUNTER_DATA=" + path
	var base, acked, unanswered, maxAnswered int64
	for round := 0; ; round++ {
		s := start(t, data)
		n := getJSON(t, s.URL+"/api/visitors?hit=false").Count
		if round > 0 {
			if n < base+acked || n < maxAnswered || n > base+acked+unanswered {
				t.Fatalf("round %d: count %d after kill -9; want %d before it plus %d acknowledged (highest answered %d), plus at most %d unanswered",
					round, n, base, acked, maxAnswered, unanswered)
			}
			t.Logf("round %d: %d acknowledged, %d unanswered at the kill; count %d → %d (%d unanswered were committed)",
				round, acked, unanswered, base, n, n-base-acked)
		}
		if round == 4 {
			s.stop(t, 5*time.Second)
			break
		}
		base = n
		l := startLoad(s.URL+"/api/visitors", 16, 20*time.Second)
		l.waitOK(t, int64(200+rand.IntN(800)))
		if err := s.cmd.Process.Kill(); err != nil { // SIGKILL
			t.Fatal(err)
		}
		<-s.exited
		l.wg.Wait()
		if l.other.Load() != 0 {
			t.Fatalf("round %d: %d answers other than 200", round, l.other.Load())
		}
		acked, unanswered, maxAnswered = l.ok.Load(), l.failed.Load(), l.maxCount.Load()

		db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: 5 * time.Second})
		if err != nil {
			t.Fatalf("round %d: reopen after kill -9: %v", round, err)
		}
		err = db.View(func(tx *bolt.Tx) error {
			for err := range tx.Check() {
				return err
			}
			return nil
		})
		if cerr := db.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			t.Fatalf("round %d: file fails bbolt's check after kill -9: %v", round, err)
		}
	}
}

// TestStartupErrors checks that a bad setting stops the server at once with
// one clear log line and a non-zero exit.
func TestStartupErrors(t *testing.T) {
	locked := filepath.Join(t.TempDir(), "counter.db")
	for _, tc := range []struct {
		name string
		env  func(t *testing.T) []string
		want []string // in the one line
	}{
		{"missing table", func(t *testing.T) []string {
			return awsEnv(testenv.DynaliteEndpoint(t), "no-such-table")
		}, []string{"DynamoDB table no-such-table not found in region us-east-1", "COUNTER_TABLE"}},
		{"partition key named otherwise", func(t *testing.T) []string {
			return awsEnv(wrongTable(t, "pk", types.ScalarAttributeTypeS, ""))
		}, []string{"has partition key pk;", "string (S) partition key id and no sort key", "COUNTER_TABLE"}},
		{"number partition key", func(t *testing.T) []string {
			return awsEnv(wrongTable(t, "id", types.ScalarAttributeTypeN, ""))
		}, []string{"has partition key id of type N;", "string (S) partition key id and no sort key"}},
		{"binary partition key", func(t *testing.T) []string {
			return awsEnv(wrongTable(t, "id", types.ScalarAttributeTypeB, ""))
		}, []string{"has partition key id of type B;"}},
		{"sort key", func(t *testing.T) []string {
			return awsEnv(wrongTable(t, "id", types.ScalarAttributeTypeS, "sk"))
		}, []string{"has sort key sk;", "string (S) partition key id and no sort key"}},
		{"unknown store", func(*testing.T) []string { return []string{"COUNTER_STORE=nosuch"} }, []string{"COUNTER_STORE=nosuch: want bolt (the default), memory, dynamodb"}},
		{"invalid allowed key", func(*testing.T) []string { return []string{"COUNTER_KEYS=home, a/b"} }, []string{"COUNTER_KEYS", "a/b"}},
		{"origin that never matches", func(*testing.T) []string {
			return []string{"COUNTER_STORE=memory", "COUNTER_ALLOWED_ORIGINS=https://a.example, https://b.example/"}
		}, []string{"COUNTER_ALLOWED_ORIGINS", `\"https://b.example/\"`, `\"https://b.example\"`}},
		{"bad key cap", func(*testing.T) []string { return []string{"COUNTER_MAX_KEYS=lots"} }, []string{"COUNTER_MAX_KEYS=lots"}},
		{"bad rate limit", func(*testing.T) []string { return []string{"COUNTER_RATE_LIMIT=10/d"} }, []string{"COUNTER_RATE_LIMIT=10/d", "10/s"}},
		{"bad proxy count", func(*testing.T) []string { return []string{"COUNTER_RATE_LIMIT=10/s", "COUNTER_TRUST_PROXY=yes"} },
			[]string{"COUNTER_TRUST_PROXY=yes"}},
		{"locked bolt file", func(t *testing.T) []string {
			start(t, "COUNTER_DATA="+locked) // holds the lock
			return []string{"COUNTER_DATA=" + locked}
		}, []string{"locked by another process"}},
		{"port in use", func(t *testing.T) []string {
			busy := start(t, "COUNTER_STORE=memory")
			u, _ := url.Parse(busy.URL)
			return []string{"COUNTER_STORE=memory", "PORT=" + u.Port()}
		}, []string{"address already in use"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := launch(t, tc.env(t)...)
			select {
			case <-s.exited:
			case <-time.After(20 * time.Second):
				t.Fatal("server still running 20s after a bad start")
			}
			if s.err == nil {
				t.Fatal("exit status 0, want non-zero")
			}
			log := s.stderr.String()
			var lines []string
			for sc := bufio.NewScanner(strings.NewReader(log)); sc.Scan(); {
				lines = append(lines, sc.Text())
			}
			if len(lines) < 1 {
				t.Fatal("no log line")
			}
			last := lines[len(lines)-1]
			for _, l := range lines[:len(lines)-1] {
				if !strings.Contains(l, "level=INFO") {
					t.Errorf("more than one problem line:\n%s", log)
				}
			}
			if !strings.Contains(last, "level=ERROR") || strings.Contains(log, "goroutine ") || strings.Contains(log, "panic") {
				t.Errorf("want one ERROR line and no stack, got:\n%s", log)
			}
			for _, w := range tc.want {
				if !strings.Contains(last, w) {
					t.Errorf("error line lacks %q:\n%s", w, last)
				}
			}
			t.Log(last)
		})
	}
}

// wrongTable creates a table in dynalite keyed otherwise than the counter
// needs: partition key pk of type kind and, if sk is not empty, a string
// sort key sk. It returns the endpoint and the table.
func wrongTable(t *testing.T, pk string, kind types.ScalarAttributeType, sk string) (string, string) {
	t.Helper()
	endpoint := testenv.DynaliteEndpoint(t)
	client := testenv.DynamoClient(endpoint)
	name := fmt.Sprintf("wrong-%d-%d", os.Getpid(), wrongTables.Add(1))
	in := &dynamodb.CreateTableInput{
		TableName:            aws.String(name),
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String(pk), AttributeType: kind}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String(pk), KeyType: types.KeyTypeHash}},
		BillingMode:          types.BillingModePayPerRequest,
	}
	if sk != "" {
		in.AttributeDefinitions = append(in.AttributeDefinitions, types.AttributeDefinition{AttributeName: aws.String(sk), AttributeType: types.ScalarAttributeTypeS})
		in.KeySchema = append(in.KeySchema, types.KeySchemaElement{AttributeName: aws.String(sk), KeyType: types.KeyTypeRange})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := client.CreateTable(ctx, in); err != nil {
		t.Fatalf("create table %s: %v", name, err)
	}
	t.Cleanup(func() {
		_, _ = client.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(name)})
	})
	return endpoint, name
}

var wrongTables atomic.Int64

// TestRateLimit: COUNTER_RATE_LIMIT gives each client a burst, then 429
// with Retry-After and nothing counted. X-Forwarded-For decides the client
// only with COUNTER_TRUST_PROXY, and then only the entry the proxy added.
func TestRateLimit(t *testing.T) {
	xff := func(v string) http.Header { return http.Header{"X-Forwarded-For": {v}} }
	refused := func(t *testing.T, s *server, path string, header http.Header) {
		t.Helper()
		res, body := getWith(t, s.URL+path, header)
		retry, err := strconv.Atoi(res.Header.Get("Retry-After"))
		if res.StatusCode != http.StatusTooManyRequests || err != nil || retry < 1 || retry > 20 {
			t.Fatalf("GET %s over the limit: %s, Retry-After %q; want 429 and about 20s at most", path, res.Status, res.Header.Get("Retry-After"))
		}
		if res.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("429 Cache-Control %q, want no-store", res.Header.Get("Cache-Control"))
		}
		switch {
		case strings.HasPrefix(path, "/badge/"):
			if res.Header.Get("Content-Type") != "image/svg+xml" || !strings.Contains(body, "too many requests") {
				t.Errorf("badge over the limit: %s %.200s", res.Header.Get("Content-Type"), body)
			}
		case body != `{"error":"too many requests"}`:
			t.Errorf("JSON over the limit: %s", body)
		}
	}

	t.Run("peer address", func(t *testing.T) {
		s := start(t, "COUNTER_STORE=memory", "COUNTER_RATE_LIMIT=3/m")
		for i := range 3 { // a different forged X-Forwarded-For each time
			if a := getJSONWith(t, s.URL+"/api/visitors", xff(fmt.Sprintf("198.51.100.%d", i))); a.Count != int64(i+1) {
				t.Fatalf("request %d within the burst: count %d", i+1, a.Count)
			}
		}
		refused(t, s, "/api/visitors", xff("203.0.113.1"))
		refused(t, s, "/badge/visitors", nil)
		refused(t, s, "/api/visitors?hit=false", nil)
		if res, _ := get(t, s.URL+"/counter.js"); res.StatusCode != http.StatusOK {
			t.Errorf("the page's files are limited too: %s", res.Status)
		}
		if log := s.stderr.String(); !strings.Contains(log, "msg=\"rate limit per client\" per_second=0.05 burst=3 trusted_proxies=0") {
			t.Errorf("the limit is not logged at start:\n%s", log)
		}
	})

	// A page's fetch must be able to read the 429, and a preflight is never
	// refused: it counts nothing and would hide the real answer.
	t.Run("cross-origin", func(t *testing.T) {
		const page = "https://me.example"
		s := start(t, "COUNTER_STORE=memory", "COUNTER_RATE_LIMIT=3/m", "COUNTER_RATE_BURST=1", "COUNTER_ALLOWED_ORIGINS="+page)
		origin := http.Header{"Origin": {page}}
		getJSONWith(t, s.URL+"/api/visitors", origin)
		refused(t, s, "/api/visitors", origin)
		res, _ := getWith(t, s.URL+"/api/visitors", origin)
		if got := res.Header.Get("Access-Control-Allow-Origin"); got != page {
			t.Errorf("429 to an allowed origin: Access-Control-Allow-Origin %q, want %q", got, page)
		}
		res, _ = getWith(t, s.URL+"/api/visitors", http.Header{"Origin": {"https://evil.example"}})
		if got := res.Header.Get("Access-Control-Allow-Origin"); res.StatusCode != http.StatusTooManyRequests || got != "" {
			t.Errorf("429 to a foreign origin: %s, Access-Control-Allow-Origin %q; want 429 and none", res.Status, got)
		}
		req, err := http.NewRequest(http.MethodOptions, s.URL+"/api/visitors", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Origin", page)
		req.Header.Set("Access-Control-Request-Method", http.MethodPost)
		pre, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		pre.Body.Close()
		if pre.StatusCode >= 300 || pre.Header.Get("Access-Control-Allow-Origin") != page {
			t.Errorf("preflight over the limit: %s, Access-Control-Allow-Origin %q; want it answered", pre.Status, pre.Header.Get("Access-Control-Allow-Origin"))
		}
	})

	t.Run("behind one proxy", func(t *testing.T) {
		s := start(t, "COUNTER_STORE=memory", "COUNTER_RATE_LIMIT=3/m", "COUNTER_TRUST_PROXY=1")
		for range 3 {
			getJSONWith(t, s.URL+"/api/visitors", xff("203.0.113.1"))
		}
		refused(t, s, "/api/visitors", xff("203.0.113.1"))
		refused(t, s, "/api/visitors", xff("192.0.2.99, 203.0.113.1")) // a forged first entry changes nothing
		if a := getJSONWith(t, s.URL+"/api/visitors", xff("203.0.113.2")); a.Count != 4 {
			t.Fatalf("another client: count %d, want 4", a.Count)
		}
		if a := getJSONWith(t, s.URL+"/api/visitors?hit=false", xff("2001:db8::1")); a.Count != 4 {
			t.Fatalf("count %d after 4 allowed visits, want 4: a refused request counted", a.Count)
		}
	})
}

// TestKeyLimits: COUNTER_KEYS allows only the keys listed, COUNTER_MAX_KEYS
// caps new keys; both answer other keys 404 and write nothing. Oversized
// requests are refused before any handler.
func TestKeyLimits(t *testing.T) {
	t.Run("allowlist", func(t *testing.T) {
		s := start(t, "COUNTER_STORE=memory", "COUNTER_KEYS=visitors, home")
		getJSON(t, s.URL+"/api/visitors")
		getJSON(t, s.URL+"/api/home")
		for _, path := range []string{"/api/other", "/api/other?hit=false", "/badge/other"} {
			res, body := get(t, s.URL+path)
			if res.StatusCode != http.StatusNotFound || !strings.Contains(body, "unknown key") {
				t.Errorf("GET %s: %s %.100s, want 404 unknown key", path, res.Status, body)
			}
		}
	})
	for _, store := range []string{"COUNTER_STORE=memory", "COUNTER_STORE=bolt"} {
		t.Run("cap/"+store, func(t *testing.T) {
			s := start(t, store, "COUNTER_DATA="+filepath.Join(t.TempDir(), "c.db"), "COUNTER_MAX_KEYS=2")
			getJSON(t, s.URL+"/api/a")
			getJSON(t, s.URL+"/api/b")
			for _, path := range []string{"/api/c", "/badge/c"} {
				res, body := get(t, s.URL+path)
				if res.StatusCode != http.StatusNotFound || !strings.Contains(body, "unknown key") {
					t.Errorf("GET %s beyond the cap: %s %.100s, want 404 unknown key", path, res.Status, body)
				}
			}
			if a := getJSON(t, s.URL+"/api/a"); a.Count != 2 {
				t.Errorf("an existing key at the cap: count %d, want 2", a.Count)
			}
			if a := getJSON(t, s.URL+"/api/c?hit=false"); a.Count != 0 {
				t.Errorf("the refused key: count %d, want 0", a.Count)
			}
			if log := s.stderr.String(); !strings.Contains(log, "level=WARN") || !strings.Contains(log, "store refused a new key") {
				t.Errorf("no warning of the full store:\n%s", log)
			}
		})
	}
	t.Run("request size", func(t *testing.T) {
		s := start(t, "COUNTER_STORE=memory")
		res, _ := getWith(t, s.URL+"/api/visitors", http.Header{"X-Big": {strings.Repeat("x", 64<<10)}})
		if res.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Errorf("64 KiB of headers: %s, want 431", res.Status)
		}
		res, _ = get(t, s.URL+"/api/visitors?v="+strings.Repeat("x", 2000))
		if res.StatusCode != http.StatusRequestURITooLong {
			t.Errorf("a 2 KB query: %s, want 414", res.Status)
		}
		if a := getJSON(t, s.URL+"/api/visitors?hit=false"); a.Count != 0 {
			t.Errorf("refused requests counted %d", a.Count)
		}
	})
}

// TestVisitors: the server counts visitors by default; a bot is answered
// without counting, and says so; COUNTER_VISITORS=off counts hits only.
func TestVisitors(t *testing.T) {
	type visits struct {
		Count    int64  `json:"count"`
		Visitors *int64 `json:"visitors"`
		Today    *struct {
			Date            string
			Count, Visitors int64
		} `json:"today"`
	}
	getVisits := func(t *testing.T, u string, header http.Header) (reply, visits) {
		t.Helper()
		res, body := getWith(t, u, header)
		var v visits
		if err := json.Unmarshal([]byte(body), &v); err != nil {
			t.Fatalf("GET %s: %v in %s", u, err, body)
		}
		return res, v
	}
	t.Run("on", func(t *testing.T) {
		s := start(t, "COUNTER_STORE=memory")
		// The server tells the time by the machine's clock: if its day
		// changes between the visits (a returning visitor counts again on
		// a new day), the visits are made again on another key.
		key := "home"
		for attempt := 0; ; attempt++ {
			_, first := getVisits(t, s.URL+"/api/"+key, nil)
			getVisits(t, s.URL+"/api/"+key, nil)
			_, v := getVisits(t, s.URL+"/api/"+key, http.Header{"User-Agent": {"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"}})
			if attempt == 0 && first.Today != nil && v.Today != nil && first.Today.Date != v.Today.Date {
				key = "home2"
				continue
			}
			if v.Count != 3 || v.Visitors == nil || *v.Visitors != 2 || v.Today == nil || v.Today.Visitors != 2 {
				t.Fatalf("after two browsers: count %d, visitors %v, today %v; want count 3 and 2 visitors", v.Count, v.Visitors, v.Today)
			}
			break
		}
		res, v := getVisits(t, s.URL+"/api/"+key, http.Header{"User-Agent": {"Go-http-client/1.1"}})
		if v.Count != 3 || res.Header.Get("Counter-Not-Counted") != "bot" {
			t.Fatalf("a bot: count %d, Counter-Not-Counted %q; want 3 and bot", v.Count, res.Header.Get("Counter-Not-Counted"))
		}
		if !strings.Contains(s.stderr.String(), `msg="visitors: on"`) {
			t.Errorf("no startup line about visitors:\n%s", s.stderr.String())
		}
	})
	t.Run("off", func(t *testing.T) {
		s := start(t, "COUNTER_STORE=memory", "COUNTER_VISITORS=off")
		res, v := getVisits(t, s.URL+"/api/home", http.Header{"User-Agent": {"Go-http-client/1.1"}})
		if v.Count != 1 || v.Visitors != nil || res.Header.Get("Counter-Not-Counted") != "" {
			t.Fatalf("visitors off: %+v, Counter-Not-Counted %q; want a plain count of 1", v, res.Header.Get("Counter-Not-Counted"))
		}
	})
	t.Run("bad value", func(t *testing.T) {
		s := launch(t, "COUNTER_STORE=memory", "COUNTER_VISITORS=maybe")
		select {
		case <-s.exited:
		case <-time.After(20 * time.Second):
			t.Fatal("server still running 20s after a bad start")
		}
		if s.err == nil || !strings.Contains(s.stderr.String(), "COUNTER_VISITORS=maybe") {
			t.Fatalf("exit %v, log:\n%s", s.err, s.stderr.String())
		}
	})
}

// postgresEnv, redisEnv and redisClusterEnv configure counter for a server
// of their own (the cluster is shared by the test binary).
func postgresEnv(t *testing.T) []string {
	return []string{"COUNTER_STORE=postgres", "COUNTER_DATABASE_URL=" + testenv.PostgresURLOf(testenv.NewPostgres(t))}
}

func redisEnv(t *testing.T) []string {
	return []string{"COUNTER_STORE=redis", "COUNTER_REDIS_URL=redis://" + testenv.NewRedis(t).Addr() + "/0"}
}

func redisClusterEnv(t *testing.T) []string {
	addrs := testenv.RedisClusterAddrs(t)
	url := "redis://" + addrs[0] + "?addr=" + strings.Join(addrs[1:], "&addr=")
	return []string{"COUNTER_STORE=redis", "COUNTER_REDIS_URL=" + url}
}
