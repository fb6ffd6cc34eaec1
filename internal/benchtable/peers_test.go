package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestCheckNewVisitors(t *testing.T) {
	for _, c := range []struct {
		name                                string
		count, visitors, answered, inFlight int64
		socketErrors                        bool
		want                                string // start of the error, "" for none
	}{
		{"exact", 1000, 1000, 1000, 64, false, ""},
		{"answered after wrk stopped reading", 1064, 1064, 1000, 64, false, ""},
		{"visits lost", 999, 999, 1000, 64, false, "count 999 is below the 1000 requests"},
		{"too many", 1065, 1065, 1000, 64, false, "count 1065 is above the 1000 requests"},
		{"too many, but wrk lost sockets", 1065, 1065, 1000, 64, true, ""},
		{"returning visitors", 1000, 990, 1000, 64, false, "990 visitors for 1000 visits"},
		{"past the marker cap", 100_100, 100_000, 100_100, 64, false, "100000 visitors for 100100 visits: past the stores' 100000 visitor markers"},
	} {
		err := checkNewVisitors(c.count, c.visitors, c.answered, c.inFlight, c.socketErrors)
		if got := errString(err); !strings.HasPrefix(got, c.want) || (c.want == "") != (err == nil) {
			t.Errorf("%s: error %q, want one starting %q", c.name, got, c.want)
		}
	}
}

func TestRoundRatios(t *testing.T) {
	got := roundRatios([]float64{10, 30, 50}, []float64{5, 10})
	if want := []float64{2, 3}; !reflect.DeepEqual(got, want) {
		t.Errorf("roundRatios = %v, want %v (rounds both have, lib over anchor)", got, want)
	}
}

func TestWrkArgs(t *testing.T) {
	got := wrkArgs("http://h/x", 3*time.Second, 64, []string{"-H", "Host: a", "-s", "s.lua", "--", "7", "2"})
	want := []string{"-t2", "-c64", "-d3s", "--timeout", "2s", "-H", "User-Agent: " + browserUA,
		"-H", "Host: a", "-s", "s.lua", "http://h/x", "--", "7", "2"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("wrkArgs =\n%q\nwant\n%q", got, want)
	}
	if got := wrkArgs("http://h/", time.Second, 32, nil); got[len(got)-1] != "http://h/" {
		t.Errorf("without extra arguments the URL comes last: %q", got)
	}
}

// TestNewAddrScript runs wrk with newaddr.lua, two threads, for two runs
// against a server that notes every X-Forwarded-For: each request has an
// address, a valid IPv4 one, and no address comes twice, across threads
// and runs.
func TestNewAddrScript(t *testing.T) {
	if _, err := exec.LookPath("wrk"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("wrk not installed (Debian package wrk)")
		}
		t.Skip("wrk not installed (Debian package wrk; scripts/bench.sh installs it)")
	}
	script := filepath.Join(t.TempDir(), "newaddr.lua")
	if err := os.WriteFile(script, newAddrScript, 0o600); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	seen := map[string]int{}
	requests := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		requests++
		seen[r.Header.Get("X-Forwarded-For")]++
		mu.Unlock()
	}))
	defer srv.Close()
	for run := range 2 {
		out, err := exec.Command("wrk", wrkArgs(srv.URL+"/", time.Second, 4,
			[]string{"-s", script, "--", strconv.Itoa(run), strconv.Itoa(wrkThreads)})...).CombinedOutput()
		if err != nil {
			t.Fatalf("wrk: %v\n%s", err, out)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if requests < 100 {
		t.Fatalf("only %d requests", requests)
	}
	for a, n := range seen {
		if ip := net.ParseIP(a); ip == nil || ip.To4() == nil {
			t.Errorf("X-Forwarded-For %q (%d requests): not an IPv4 address", a, n)
		}
		if n > 1 {
			t.Errorf("address %s sent %d times", a, n)
		}
	}
	if len(seen) != requests {
		t.Errorf("%d addresses for %d requests", len(seen), requests)
	}
}

// TestGroupCommitSwitch: the variable groupCommitOff sets at link time is
// a package-level string in sqlitestore (a -X of a missing name is silently
// ignored, and the row would compare the server with itself).
func TestGroupCommitSwitch(t *testing.T) {
	path, value, ok := strings.Cut(strings.TrimPrefix(groupCommitOff, "-X "), "=")
	pkg, name, _ := strings.Cut(path, "/sqlitestore.")
	if !ok || pkg != "github.com/resumecounter/counter" || value != "off" {
		t.Fatalf("groupCommitOff = %q, want -X github.com/resumecounter/counter/sqlitestore.NAME=off", groupCommitOff)
	}
	fset := token.NewFileSet()
	dir := filepath.Join("..", "..", "sqlitestore")
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range file.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != token.VAR {
				continue
			}
			for _, s := range g.Specs {
				v := s.(*ast.ValueSpec)
				for _, n := range v.Names {
					if typ, ok := v.Type.(*ast.Ident); n.Name == name && ok && typ.Name == "string" && len(v.Values) == 0 {
						return
					}
				}
			}
		}
	}
	t.Errorf("no package-level `var %s string` without a value in %s", name, dir)
}

// TestRedisCommands starts a Redis as the peer rows do and sends commands
// on one connection: replies in order, an error reply is an error.
func TestRedisCommands(t *testing.T) {
	r := &runner{}
	s, err := r.startRedis(t.TempDir())
	if err != nil {
		if os.Getenv("CI") == "true" || !strings.Contains(err.Error(), "not installed") {
			t.Fatal(err)
		}
		t.Skip("redis-server:", err)
	}
	defer s.stop()
	got, err := redisCommands(s.addr, "SELECT 1", "SET k v", "FLUSHDB", "EXISTS k")
	if want := []string{"+OK", "+OK", "+OK", ":0"}; err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("redisCommands = %q, %v; want %q", got, err, want)
	}
	if _, err := redisCommands(s.addr, "PING", "NOSUCHCOMMAND"); err == nil || !strings.HasPrefix(err.Error(), "redis: -ERR") {
		t.Errorf("unknown command: error %v, want the server's -ERR", err)
	}
}
