package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// wrk settings, the same for every server.
const (
	wrkThreads     = 2
	wrkConnections = 32
	wrkTimeout     = "2s"
)

// loadTarget is one URL loaded with wrk, with its rate in every round.
type loadTarget struct {
	name, url string
	rates     []float64 // requests/s, one per round
}

// server loads counter serve (cmd/counter) and a hello-world net/http server
// (internal/benchhello) with wrk, with the same settings, in alternating
// runs, and checks afterwards that the counter servers counted every
// request wrk saw answered.
func (r *runner) server() []row {
	rows := []row{
		{what: "`counter serve` `GET /api/visitors` (memory store) vs a hello-world net/http server, requests/s under wrk", target: "≥ 70%"},
		{what: "`counter serve` `GET /badge/visitors` (memory store) vs the hello-world server", target: "≥ 70%"},
		{what: "`counter serve` `GET /api/visitors` (bolt store: fsync'd batches) vs the hello-world server", target: "none (extra row)"},
	}
	if _, err := exec.LookPath("wrk"); err != nil {
		return r.notMeasured(errors.New("wrk not installed (Debian package wrk)"), rows...)
	}
	serverBin, helloBin := filepath.Join(r.tmp, "counter"), filepath.Join(r.tmp, "benchhello")
	for bin, pkg := range map[string]string{serverBin: "./cmd/counter", helloBin: "./internal/benchhello"} {
		if _, err := r.run(r.root, nil, "go", "build", "-o", bin, pkg); err != nil {
			return r.notMeasured(err, rows...)
		}
	}

	hello, err := r.startServer(helloBin, nil, func(addr string) []string { return []string{"-addr", addr} })
	if err != nil {
		return r.notMeasured(fmt.Errorf("hello-world server: %w", err), rows...)
	}
	defer hello.stop()
	serve := func(string) []string { return []string{"serve"} }
	memory, err := r.startServer(serverBin, []string{"COUNTER_STORE=memory"}, serve)
	if err != nil {
		return r.notMeasured(fmt.Errorf("counter serve (memory): %w", err), rows...)
	}
	defer memory.stop()
	bolt, err := r.startServer(serverBin, []string{"COUNTER_STORE=bolt", "COUNTER_DATA=" + filepath.Join(r.tmp, "counter.db")}, serve)
	if err != nil {
		return r.notMeasured(fmt.Errorf("counter serve (bolt): %w", err), rows...)
	}
	defer bolt.stop()

	helloT := &loadTarget{name: "hello world", url: hello.url + "/"}
	targets := []*loadTarget{
		helloT,
		{name: "memory /api", url: memory.url + "/api/visitors"},
		{name: "memory /badge", url: memory.url + "/badge/visitors"},
		{name: "bolt /api", url: bolt.url + "/api/visitors"},
	}
	// Requests wrk saw answered, by server; each counted one visit.
	answered := map[*process]int64{}
	owner := map[*loadTarget]*process{targets[1]: memory, targets[2]: memory, targets[3]: bolt}
	runs := map[*process]int64{}
	socketErrors := false
	load := func(t *loadTarget, d time.Duration) (float64, error) {
		res, err := r.wrk(t.url, d)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", t.name, err)
		}
		if res.socketErrors != "" {
			socketErrors = true
			r.notes = append(r.notes, fmt.Sprintf("wrk on %s: socket errors %s.", t.name, res.socketErrors))
		}
		if p := owner[t]; p != nil {
			answered[p] += res.requests
			runs[p]++
		}
		return res.requestsPerSec, nil
	}
	r.commands = append(r.commands, command{
		line: fmt.Sprintf("wrk -t%d -c%d -d%ds --timeout %s -H 'User-Agent: <a browser's>' URL", wrkThreads, wrkConnections, int(r.wrkDur.Seconds()), wrkTimeout),
		why: fmt.Sprintf("%d rounds, each loading every server in turn (the order rotating), after a 1 s warm-up of each; "+
			"the servers are `go build ./cmd/counter` run as `counter serve` (PORT, COUNTER_HOST=127.0.0.1, COUNTER_STORE=memory or bolt) "+
			"and `go build ./internal/benchhello`, all started once and running throughout", r.wrkRounds),
	})
	for _, t := range targets {
		if _, err := load(t, time.Second); err != nil {
			return r.notMeasured(err, rows...)
		}
	}
	for round := range r.wrkRounds {
		for j := range targets {
			t := targets[(j+round)%len(targets)]
			rate, err := load(t, r.wrkDur)
			if err != nil {
				return r.notMeasured(err, rows...)
			}
			t.rates = append(t.rates, rate)
		}
	}

	// Every answered request was counted; at most one per connection and
	// run more, for requests answered after wrk stopped reading.
	counted := map[*process]error{}
	for _, p := range []*process{memory, bolt} {
		n, err := readCount(p.url + "/api/visitors?hit=false")
		switch {
		case err != nil:
			counted[p] = err
		case n < answered[p]:
			counted[p] = fmt.Errorf("count %d is below the %d requests wrk saw answered: visits lost", n, answered[p])
		case !socketErrors && n > answered[p]+wrkConnections*runs[p]:
			counted[p] = fmt.Errorf("count %d is above the %d requests wrk saw answered plus %d in flight", n, answered[p], wrkConnections*runs[p])
		default:
			r.notes = append(r.notes, fmt.Sprintf("counter serve %s: count %d after %d requests wrk saw answered (the rest answered after wrk stopped reading).",
				p.store, n, answered[p]))
		}
	}

	for i, t := range targets[1:] {
		percents := make([]float64, len(t.rates))
		for k := range t.rates {
			percents[k] = 100 * t.rates[k] / helloT.rates[k] // the same round
		}
		k := medianIndex(percents)
		x := percents[k] / 100
		rows[i].lib = perSecond(t.rates[k], "req/s")
		rows[i].anchor = perSecond(helloT.rates[k], "req/s")
		rows[i].ratio = ratioCell(percents, k, 0, "%")
		if i < 2 {
			rows[i].result = passIf(x >= 0.7)
		} else {
			rows[i].result = "info"
		}
		if err := counted[owner[t]]; err != nil {
			rows[i].result = "FAIL: " + err.Error()
		}
	}
	return rows
}

// process is a server started by startServer.
type process struct {
	cmd     *exec.Cmd
	exited  chan struct{} // closed when it has exited; then waitErr is Wait's result
	waitErr error
	url     string
	store   string
	out     bytes.Buffer // its output, read only after it has exited
}

// stop stops the server as its users would, with SIGTERM, killing it if it
// has not exited 15 s later.
func (p *process) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM) // fails only if it has exited
	select {
	case <-p.exited:
	case <-time.After(15 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// browserUA is the User-Agent wrk sends.
const browserUA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"

// wrk loads url for d with the settings every server gets.
func (r *runner) wrk(url string, d time.Duration) (wrkResult, error) {
	return r.wrkWith(url, d, wrkConnections, nil)
}

// wrkWith loads url for d with connections connections and extra wrk
// arguments (headers, a script and its arguments, which come last).
func (r *runner) wrkWith(url string, d time.Duration, connections int, extra []string) (wrkResult, error) {
	out, err := r.run(r.root, nil, "wrk", wrkArgs(url, d, connections, extra)...)
	if err != nil {
		return wrkResult{}, err
	}
	res, err := parseWrk(string(out))
	if err != nil {
		return wrkResult{}, err
	}
	if res.non2xx > 0 {
		return wrkResult{}, fmt.Errorf("%d answers were not 2xx or 3xx", res.non2xx)
	}
	return res, nil
}

// wrkArgs returns wrk's arguments: the settings every server gets, extra,
// the URL, and what follows "--" in extra (the script's arguments).
func wrkArgs(url string, d time.Duration, connections int, extra []string) []string {
	// A browser's User-Agent: the server counts visitors and answers bots
	// (wrk's own User-Agent among them) without counting.
	args := []string{"-t" + strconv.Itoa(wrkThreads), "-c" + strconv.Itoa(connections),
		"-d" + strconv.Itoa(int(d.Seconds())) + "s", "--timeout", wrkTimeout, "-H", "User-Agent: " + browserUA}
	script := slices.Index(extra, "--")
	if script < 0 {
		script = len(extra)
	}
	return append(append(append(args, extra[:script]...), url), extra[script:]...)
}

// readCount reads a count from a JSON endpoint answering {"count": n}.
func readCount(url string) (int64, error) {
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var v struct{ Count *int64 }
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		return 0, fmt.Errorf("GET %s: status %d: %w", url, resp.StatusCode, err)
	}
	if v.Count == nil || resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("GET %s: status %d, no count", url, resp.StatusCode)
	}
	return *v.Count, nil
}

// startServer starts bin listening on a free 127.0.0.1 port, given by args
// (for the hello-world server) or by the example server's PORT and
// COUNTER_HOST, and waits until it answers.
func (r *runner) startServer(bin string, env []string, args func(addr string) []string) (*process, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	_, port, _ := net.SplitHostPort(addr)
	p := &process{url: "http://" + addr}
	var argv []string
	if args != nil {
		argv = args(addr)
	}
	p.cmd = exec.Command(bin, argv...) //nolint:gosec // a binary this program built
	p.cmd.Env = append(os.Environ(), append(env, "PORT="+port, "COUNTER_HOST=127.0.0.1")...)
	for _, e := range env {
		if s, ok := strings.CutPrefix(e, "COUNTER_STORE="); ok {
			p.store = s + " store"
		}
	}
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.out
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	p.exited = make(chan struct{})
	go func() { p.waitErr = p.cmd.Wait(); close(p.exited) }()
	client := &http.Client{Timeout: time.Second}
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); {
		select {
		case <-p.exited:
			return nil, fmt.Errorf("exited before answering (%w): %s", p.waitErr, p.out.String())
		case <-time.After(50 * time.Millisecond):
		}
		resp, err := client.Get(p.url + "/")
		if err == nil {
			resp.Body.Close()
			return p, nil
		}
	}
	_ = p.cmd.Process.Kill()
	<-p.exited
	return nil, fmt.Errorf("not answering on %s after 15s: %s", addr, p.out.String())
}
