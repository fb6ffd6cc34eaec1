package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/resumecounter/counter"
	"github.com/resumecounter/counter/internal/testenv"
)

// binary is the server, built once by TestMain.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "counter-server")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "server")
	// go test puts its own go command first on PATH.
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
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
// machine, a free port on loopback.
func baseEnv(t *testing.T) []string {
	t.Helper()
	dir := t.TempDir()
	return []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + dir,
		"COUNTER_HOST=127.0.0.1",
		"PORT=0",
		"AWS_CONFIG_FILE=" + filepath.Join(dir, "aws-config"),
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(dir, "aws-credentials"),
		"AWS_EC2_METADATA_DISABLED=true",
	}
}

// launch starts the server with env added to baseEnv, without waiting.
func launch(t *testing.T, env ...string) *server {
	t.Helper()
	s := &server{stderr: new(syncBuffer), exited: make(chan struct{})}
	s.cmd = exec.Command(binary)
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
	res, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s %s", u, res.Status, body)
	}
	var a answer
	if err := json.Unmarshal(body, &a); err != nil {
		t.Fatalf("GET %s: %v in %s", u, err, body)
	}
	return a
}

func get(t *testing.T, u string) (*http.Response, string) {
	t.Helper()
	res, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, string(body)
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
			if res.StatusCode != 200 || res.Header.Get("Content-Type") != "image/svg+xml" || !strings.Contains(body, "<svg") {
				t.Fatalf("badge: %s, %s: %.100s", res.Status, res.Header.Get("Content-Type"), body)
			}
			if a := getJSON(t, s.URL+"/api/visitors"); a.Count != 5 {
				t.Fatalf("after the badge: count %d, want 5 (the badge counts too)", a.Count)
			}
			res, body = get(t, s.URL+"/")
			if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") || !strings.Contains(body, `src="counter.js"`) {
				t.Fatalf("page: %s, %s: %.200s", res.Status, res.Header.Get("Content-Type"), body)
			}
			res, body = get(t, s.URL+"/counter.js")
			if res.StatusCode != 200 || !strings.Contains(res.Header.Get("Content-Type"), "javascript") || !strings.Contains(body, "data-counter") {
				t.Fatalf("counter.js: %s, %s", res.Status, res.Header.Get("Content-Type"))
			}
			if tc.name == "bolt-default-path" {
				if _, err := os.Stat(filepath.Join(s.cmd.Dir, "counter.db")); err != nil {
					t.Fatalf("no counter.db in the working directory: %v", err)
				}
			}
			s.stop(t, 5*time.Second)
			if log := s.stderr.String(); strings.Contains(log, "level=ERROR") || strings.Contains(log, "level=WARN") {
				t.Fatalf("server logged problems:\n%s", log)
			}
		})
	}
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
		req, _ := http.NewRequest("GET", s.URL+"/api/visitors", nil)
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
	env = append(env, "AWS_ENDPOINT_URL_DYNAMODB="+slow.URL) // the last one wins
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
			if res.StatusCode != 200 {
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
	if _, err := http.Get(s.URL + "/api/visitors"); err == nil {
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

// TestBoltShutdownUnderLoad stops a bolt server while clients keep
// counting: after a restart the count equals the number of 200 answers, so
// nothing answered was lost and nothing unanswered was counted.
func TestBoltShutdownUnderLoad(t *testing.T) {
	data := "COUNTER_DATA=" + filepath.Join(t.TempDir(), "counter.db")
	s := start(t, data)
	var ok atomic.Int64
	var wg sync.WaitGroup
	stopAt := time.Now().Add(10 * time.Second) // bounded even if the server never stops
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Transport: &http.Transport{}}
			defer client.CloseIdleConnections()
			for time.Now().Before(stopAt) {
				res, err := client.Get(s.URL + "/api/visitors")
				if err != nil {
					return // the server has stopped
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode == 200 {
					ok.Add(1)
				}
			}
		}()
	}
	for ok.Load() < 300 {
		time.Sleep(time.Millisecond)
	}
	s.stop(t, 5*time.Second)
	wg.Wait()

	s = start(t, data)
	if a := getJSON(t, s.URL+"/api/visitors?hit=false"); a.Count != ok.Load() {
		t.Fatalf("count after restart %d, but %d requests were answered 200", a.Count, ok.Load())
	}
	t.Logf("%d counts answered before SIGTERM, all kept", ok.Load())
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
		{"wrong key schema", func(t *testing.T) []string {
			endpoint := testenv.DynaliteEndpoint(t)
			return awsEnv(endpoint, testenv.CreateTable(t, testenv.DynamoClient(endpoint), "pk"))
		}, []string{"has partition key pk, want id"}},
		{"unknown store", func(*testing.T) []string { return []string{"COUNTER_STORE=redis"} }, []string{"COUNTER_STORE=redis"}},
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
