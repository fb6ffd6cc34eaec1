package testenv

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Lambda is a function binary running under the Lambda Runtime Interface
// Emulator, started by [StartLambda]. The emulator starts the binary (the
// function's init) on the first invocation.
type Lambda struct {
	url     string
	mu      sync.Mutex // the emulator crashes on concurrent invocations
	log     syncBuffer
	started time.Time
}

// StartLambda runs bootstrap under the emulator ([RIE]) with exactly the
// environment env (plus PATH) and stops it when the test ends. Both of the
// emulator's addresses are on 127.0.0.1.
func StartLambda(tb testing.TB, bootstrap string, env ...string) *Lambda {
	tb.Helper()
	rie := RIE(tb)
	ports := freePorts(tb, 2)
	l := &Lambda{url: "http://127.0.0.1:" + ports[0] + "/2015-03-31/functions/function/invocations"}
	cmd := exec.Command(rie,
		"--runtime-interface-emulator-address", "127.0.0.1:"+ports[0],
		"--runtime-api-address", "127.0.0.1:"+ports[1],
		bootstrap)
	cmd.Dir = filepath.Dir(bootstrap)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
	cmd.Stdout, cmd.Stderr = &l.log, &l.log
	l.started = time.Now()
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start %s: %v", rie, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	tb.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
		if tb.Failed() {
			tb.Logf("emulator log:\n%s", l.Log())
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+ports[0], time.Second)
		if err == nil {
			c.Close()
			return l
		}
		select {
		case <-done:
			tb.Fatalf("emulator exited:\n%s", l.Log())
		default:
		}
		if time.Now().After(deadline) {
			tb.Fatalf("emulator not listening after 10s:\n%s", l.Log())
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// Started is when the emulator process was started.
func (l *Lambda) Started() time.Time { return l.started }

// Invoke sends event to the function and returns its answer. A function
// error (the emulator answers 200 with errorMessage) fails the test.
// Invocations are serialized.
func (l *Lambda) Invoke(tb testing.TB, event []byte) []byte {
	tb.Helper()
	out, err := l.TryInvoke(event)
	if err != nil {
		tb.Fatalf("invoke: %v\nemulator log:\n%s", err, l.Log())
	}
	return out
}

// TryInvoke is Invoke returning the error instead of failing a test.
func (l *Lambda) TryInvoke(event []byte) ([]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, l.url, bytes.NewReader(event))
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("emulator answered %s: %s", resp.Status, out)
	}
	var fnErr struct {
		ErrorMessage *string `json:"errorMessage"`
	}
	if json.Unmarshal(out, &fnErr) == nil && fnErr.ErrorMessage != nil {
		return nil, fmt.Errorf("function error: %s", out)
	}
	return out, nil
}

// Log returns what the emulator and the function printed so far.
func (l *Lambda) Log() string { return l.log.String() }

// freePorts returns n distinct free TCP ports on 127.0.0.1.
func freePorts(tb testing.TB, n int) []string {
	tb.Helper()
	var ports []string
	var ls []net.Listener
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			tb.Fatal(err)
		}
		ls = append(ls, ln)
		ports = append(ports, strconv.Itoa(ln.Addr().(*net.TCPAddr).Port))
	}
	for _, ln := range ls {
		ln.Close()
	}
	return ports
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
