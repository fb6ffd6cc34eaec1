package main

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The peer rows (issue 17) load `counter serve` beside the peer counters,
// every request from a new client address, and the SQLite server beside the
// same server built without group commit.

// newAddrScript is the wrk script that sends a new X-Forwarded-For address
// with every request.
//
//go:embed newaddr.lua
var newAddrScript []byte

const (
	// peerConnections is wrk's -c for the peer rows, the server rows' 32:
	// 64 did not raise the peers' rates here (GoatCounter 2,200–3,500 req/s
	// against 4,800–5,600 with 32, hit-counter about the same), and more
	// callers would favour the stores that batch writes.
	peerConnections = wrkConnections
	// batchConnections is wrk's -c for the row judging group commit, the
	// load issue 17 set its target at (`wrk -t2 -c64`).
	batchConnections = 64
	peerWarmUp       = time.Second

	// The peers' versions, as scripts/bench.sh builds them.
	goatCounterVersion = "v2.7.0"
	hitCounterVersion  = "v0.0.0-20220228000307-31a6bf9ca90c" // commit 31a6bf9, its last

	// markerCap is the visitor markers a bolt, SQLite or memory store keeps
	// by default (boltstore and sqlitestore DefaultMaxMarkers,
	// counter.MemoryMaxMarkers); past it new visitors count as hits only.
	// Each run starts `counter serve` on empty data so as to stay below it.
	markerCap = 100_000

	// groupCommitOff builds `counter serve` without group commit in
	// sqlitestore (one transaction and fsync per visit).
	groupCommitOff = "-X github.com/resumecounter/counter/sqlitestore.groupCommit=off"
)

// peerTarget is one server the peer rows load.
type peerTarget struct {
	name, url string
	conns     int      // wrk's -c; 0: peerConnections
	headers   []string // more wrk arguments: -H HEADER...
	// fresh starts a `counter serve` on empty data; nil for a peer, which
	// runs throughout (proc).
	fresh func() (*process, error)
	proc  *process
	runs  int       // wrk runs so far, numbering newaddr.lua's addresses
	rates []float64 // requests/s, one per round
	err   error     // why it could not be measured
	bad   error     // why its measures are wrong (visits lost or not counted as visitors)
	notes []string

	// What the `counter serve` runs counted, all of them new visitors, and
	// the requests wrk saw answered in them.
	counted, answered int64
}

// peerRow is a row of the peer table: lib's rate over anchor's, round by
// round.
type peerRow struct {
	what, target string
	min          float64 // the ratio it must reach; 0: shown, not judged
	lib, anchor  *peerTarget
}

func (r *runner) peers() []row {
	sqlite := &peerTarget{name: "counter serve sqlite"}
	unbatched := &peerTarget{name: "counter serve sqlite, no group commit"}
	sqlite64 := &peerTarget{name: fmt.Sprintf("counter serve sqlite, %d connections", batchConnections), conns: batchConnections}
	unbatched64 := &peerTarget{name: fmt.Sprintf("counter serve sqlite, no group commit, %d connections", batchConnections), conns: batchConnections}
	memory := &peerTarget{name: "counter serve memory"}
	redis := &peerTarget{name: "counter serve redis"}
	bolt := &peerTarget{name: "counter serve bolt"}
	goat := &peerTarget{name: "GoatCounter " + goatCounterVersion}
	hit := &peerTarget{name: "hit-counter"}
	peerRows := []peerRow{
		{what: "`counter serve` on SQLite (`COUNTER_STORE=sqlite`, visitors on, group commit) `GET /api/visitors` vs GoatCounter " + goatCounterVersion +
			" `GET /count` (its SQLite; it counts visitors, keeping counts and sessions in memory and writing them every 10 s), requests/s under wrk, a new client address (X-Forwarded-For) every request",
			target: "≥ 1×", min: 1, lib: sqlite, anchor: goat},
		{what: fmt.Sprintf("the same `counter serve` on SQLite vs the same server built without group commit (`-ldflags \"%s\"`: a transaction and an fsync per visit), "+
			"wrk -c%d (the load of issue 17's target)", groupCommitOff, batchConnections),
			target: "≥ 5×", min: 5, lib: sqlite64, anchor: unbatched64},
		{what: fmt.Sprintf("the same, wrk -c%d as the other rows (fewer visits wait for each commit)", peerConnections),
			target: "none (shown)", lib: sqlite, anchor: unbatched},
		{what: "`counter serve` memory store vs hit-counter (gjbae1212, Go + Redis with appendfsync everysec; it counts a hit per address and browser per ~5 s, so every request here), the same load",
			target: "none (shown)", lib: memory, anchor: hit},
		{what: "`counter serve` Redis store (`COUNTER_STORE=redis`, appendfsync everysec) vs hit-counter on the same Redis",
			target: "none (shown)", lib: redis, anchor: hit},
		{what: "`counter serve` bolt store (fsync'd batches) vs GoatCounter, the same load",
			target: "none (shown)", lib: bolt, anchor: goat},
	}
	rows := make([]row, len(peerRows))
	for i, p := range peerRows {
		rows[i] = row{what: p.what, target: p.target}
	}
	if _, err := exec.LookPath("wrk"); err != nil {
		return r.notMeasured(errors.New("wrk not installed (Debian package wrk)"), rows...)
	}
	script := filepath.Join(r.tmp, "newaddr.lua")
	if err := os.WriteFile(script, newAddrScript, 0o600); err != nil {
		return r.notMeasured(err, rows...)
	}
	serverBin, unbatchedBin := filepath.Join(r.tmp, "counter-peers"), filepath.Join(r.tmp, "counter-unbatched")
	if _, err := r.run(r.root, nil, "go", "build", "-o", serverBin, "./cmd/counter"); err != nil {
		return r.notMeasured(err, rows...)
	}
	if _, err := r.run(r.root, nil, "go", "build", "-ldflags", groupCommitOff, "-o", unbatchedBin, "./cmd/counter"); err != nil {
		return r.notMeasured(err, rows...)
	}

	// counter serve, started afresh on empty data for each run: a file
	// store's file (and whatever it keeps beside it) in a new directory,
	// the last run's removed.
	serve := func(bin, file string, env ...string) func() (*process, error) {
		last := ""
		return func() (*process, error) {
			env := append([]string{"COUNTER_TRUST_PROXY=1"}, env...)
			if file != "" {
				if last != "" {
					if err := os.RemoveAll(last); err != nil {
						return nil, err
					}
				}
				dir, err := os.MkdirTemp(r.tmp, "data")
				if err != nil {
					return nil, err
				}
				last = dir
				env = append(env, "COUNTER_DATA="+filepath.Join(dir, file))
			}
			return r.startServer(bin, env, func(string) []string { return []string{"serve"} })
		}
	}
	sqlite.fresh = serve(serverBin, "counter.sqlite", "COUNTER_STORE=sqlite")
	unbatched.fresh = serve(unbatchedBin, "counter.sqlite", "COUNTER_STORE=sqlite")
	sqlite64.fresh, unbatched64.fresh = sqlite.fresh, unbatched.fresh
	memory.fresh = serve(serverBin, "", "COUNTER_STORE=memory")
	bolt.fresh = serve(serverBin, "counter.db", "COUNTER_STORE=bolt")

	// One Redis, appendfsync everysec, for the Redis store (database 1,
	// emptied before each run) and hit-counter (database 0).
	rds, err := r.startRedis(filepath.Join(r.tmp, "redis"), "--appendonly", "yes", "--appendfsync", "everysec")
	if err != nil {
		redis.err, hit.err = fmt.Errorf("redis-server: %w", err), fmt.Errorf("redis-server: %w", err)
	} else {
		defer rds.stop()
		serveRedis := serve(serverBin, "", "COUNTER_STORE=redis", "COUNTER_REDIS_URL=redis://"+rds.addr+"/1")
		redis.fresh = func() (*process, error) {
			if _, err := redisCommands(rds.addr, "SELECT 1", "FLUSHDB"); err != nil {
				return nil, fmt.Errorf("empty database 1: %w", err)
			}
			return serveRedis()
		}
	}

	if goat.err == nil {
		goat.proc, goat.err = r.startGoatCounter()
	}
	if goat.proc != nil {
		defer goat.proc.stop()
		goat.url = goat.proc.url + "/count?p=/x"
		goat.headers = []string{"-H", "Host: stats.localhost"}
	}
	if hit.err == nil {
		hit.proc, hit.err = r.startHitCounter(rds.addr)
	}
	if hit.proc != nil {
		defer hit.proc.stop()
		hit.url = hit.proc.url + "/api/count/incr/badge.svg?url=http://example.com/x"
	}

	r.commands = append(r.commands, command{
		line: fmt.Sprintf("wrk -t%d -c%d -d%ds --timeout %s -H 'User-Agent: <a browser's>' -s internal/benchtable/newaddr.lua URL -- RUN %d",
			wrkThreads, peerConnections, int(r.peerDur.Seconds()), wrkTimeout, wrkThreads),
		why: fmt.Sprintf("the peer rows: a new X-Forwarded-For address every request; %d rounds, each loading every server in turn (the order rotating); "+
			"`counter serve` (`go build ./cmd/counter`, and `go build -ldflags \"%s\" ./cmd/counter` "+
			"for the row without group commit; COUNTER_TRUST_PROXY=1) is started on empty data before each run and loaded from its start, "+
			"so that no run meets the stores' cap of %d visitor markers, and must have counted every request wrk saw answered, each as a new visitor; "+
			"GoatCounter (`serve -tls http -ratelimit count:1000000000/1`, a site made with `db create site -vhost stats.localhost`, "+
			"requests with `Host: stats.localhost`) and hit-counter (`REDIS_ADDRS`, `-addr`) run throughout, are warmed up for %d s before each run, "+
			"and must answer 2xx; scripts/bench.sh builds both (see its peers step). The row judging group commit runs the same with -c%d",
			r.wrkRounds, groupCommitOff, markerCap, int(peerWarmUp.Seconds()), batchConnections),
	})

	targets := []*peerTarget{sqlite, goat, unbatched, sqlite64, memory, hit, unbatched64, redis, bolt}
	// Load only the servers of rows that can be measured.
	needed := map[*peerTarget]bool{}
	for _, p := range peerRows {
		if p.lib.err == nil && p.anchor.err == nil {
			needed[p.lib], needed[p.anchor] = true, true
		}
	}
	for round := range r.wrkRounds {
		for j := range targets {
			t := targets[(j+round)%len(targets)]
			if !needed[t] || t.err != nil || t.bad != nil {
				continue
			}
			rate, err := r.peerRun(t, script)
			if t.bad != nil {
				continue
			}
			if err != nil {
				t.err = err
				continue
			}
			t.rates = append(t.rates, rate)
		}
	}

	for i, p := range peerRows {
		rw := &rows[i]
		switch {
		case p.lib.err != nil:
			r.notMeasured(fmt.Errorf("%s: %w", p.lib.name, p.lib.err), rows[i:i+1]...)
			continue
		case p.anchor.err != nil:
			var missing *missingPeer
			if errors.As(p.anchor.err, &missing) {
				rw.result = "not measured: " + missing.Error()
			} else {
				r.notMeasured(fmt.Errorf("%s: %w", p.anchor.name, p.anchor.err), rows[i:i+1]...)
			}
			continue
		case p.lib.bad != nil:
			rw.result = "FAIL: " + p.lib.name + ": " + p.lib.bad.Error()
			continue
		case p.anchor.bad != nil:
			rw.result = "FAIL: " + p.anchor.name + ": " + p.anchor.bad.Error()
			continue
		}
		ratios := roundRatios(p.lib.rates, p.anchor.rates)
		k := medianIndex(ratios)
		rw.lib = perSecond(p.lib.rates[k], "req/s")
		rw.anchor = perSecond(p.anchor.rates[k], "req/s")
		rw.ratio = ratioCell(ratios, k, 2, "×")
		rw.result = "info"
		if p.min > 0 {
			rw.result = passIf(ratios[k] >= p.min)
		}
	}
	for _, t := range targets {
		r.notes = append(r.notes, t.notes...)
		if t.counted > 0 && t.bad == nil {
			r.notes = append(r.notes, fmt.Sprintf("%s: counted %d visits over its runs, each a new visitor, after %d requests wrk saw answered (the rest answered after wrk stopped reading).",
				t.name, t.counted, t.answered))
		}
	}
	return rows
}

// connections is wrk's -c for t.
func (t *peerTarget) connections() int {
	if t.conns > 0 {
		return t.conns
	}
	return peerConnections
}

// roundRatios returns lib[k]/anchor[k] for each round k both have.
func roundRatios(lib, anchor []float64) []float64 {
	out := make([]float64, min(len(lib), len(anchor)))
	for k := range out {
		out[k] = lib[k] / anchor[k]
	}
	return out
}

// peerRun loads t once, after a warm-up when it is a peer, or starting it
// first when it is a `counter serve` and checking afterwards what it
// counted, and returns the run's requests/s.
func (r *runner) peerRun(t *peerTarget, script string) (float64, error) {
	p := t.proc
	if t.fresh != nil {
		var err error
		if p, err = t.fresh(); err != nil {
			return 0, err
		}
		defer p.stop()
		t.url = p.url + "/api/visitors"
	}
	var answered, runs int64
	socketErrors := false
	var rate float64
	// A peer, running throughout, is warmed up before each run; a
	// `counter serve` is loaded from its start, so that its run stays
	// below the stores' visitor markers (markerCap).
	durations := []time.Duration{r.peerDur}
	if t.fresh == nil {
		durations = []time.Duration{peerWarmUp, r.peerDur}
	}
	for _, d := range durations {
		extra := append(append([]string{}, t.headers...), "-s", script, "--", strconv.Itoa(t.runs), strconv.Itoa(wrkThreads))
		t.runs++
		res, err := r.wrkWith(t.url, d, t.connections(), extra)
		if err != nil {
			return 0, err
		}
		if res.socketErrors != "" {
			socketErrors = true
			t.notes = append(t.notes, fmt.Sprintf("wrk on %s: socket errors %s.", t.name, res.socketErrors))
		}
		answered += res.requests
		runs++
		rate = res.requestsPerSec
	}
	if t.fresh == nil {
		return rate, nil
	}
	count, visitors, err := readVisitors(p.url + "/api/visitors?hit=false")
	if err != nil {
		return 0, err
	}
	if err := checkNewVisitors(count, visitors, answered, int64(t.connections())*runs, socketErrors); err != nil {
		t.bad = err
		return 0, err
	}
	t.counted += count
	t.answered += answered
	return rate, nil
}

// checkNewVisitors checks what a `counter serve` counted after runs where
// every request came from a new address: every request wrk saw answered
// counted (at most inFlight more, answered after wrk stopped reading, unless
// wrk lost sockets), each as a new visitor.
func checkNewVisitors(count, visitors, answered, inFlight int64, socketErrors bool) error {
	switch {
	case count < answered:
		return fmt.Errorf("count %d is below the %d requests wrk saw answered: visits lost", count, answered)
	case !socketErrors && count > answered+inFlight:
		return fmt.Errorf("count %d is above the %d requests wrk saw answered plus %d in flight", count, answered, inFlight)
	case visitors != count && count > markerCap:
		return fmt.Errorf("%d visitors for %d visits: past the stores' %d visitor markers, shorten -peer-duration", visitors, count, markerCap)
	case visitors != count:
		return fmt.Errorf("%d visitors for %d visits, each from a new address", visitors, count)
	}
	return nil
}

// readVisitors reads the count and visitors of a `counter serve` JSON
// endpoint.
func readVisitors(url string) (count, visitors int64, err error) {
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	var v struct{ Count, Visitors *int64 }
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		return 0, 0, fmt.Errorf("GET %s: status %d: %w", url, resp.StatusCode, err)
	}
	if v.Count == nil || v.Visitors == nil || resp.StatusCode != http.StatusOK {
		return 0, 0, fmt.Errorf("GET %s: status %d, no count or visitors", url, resp.StatusCode)
	}
	return *v.Count, *v.Visitors, nil
}

// missingPeer is the error of a peer that scripts/bench.sh did not build:
// its rows say so without failing the run.
type missingPeer struct{ name, why string }

func (e *missingPeer) Error() string { return e.name + " not built: " + e.why }

// startGoatCounter makes a GoatCounter site in a new SQLite file and serves
// it on a free loopback port.
func (r *runner) startGoatCounter() (*process, error) {
	bin := r.goatCounter
	if _, err := os.Stat(bin); err != nil {
		return nil, &missingPeer{"GoatCounter", fmt.Sprintf("no %s (scripts/bench.sh builds it)", bin)}
	}
	db := "sqlite+" + filepath.Join(r.tmp, "goatcounter.sqlite3")
	if _, err := r.run(r.tmp, nil, bin, "db", "create", "site", "-vhost", "stats.localhost",
		"-user.email", "bench@example.com", "-user.password", "benchtable-peer", "-createdb", "-db", db); err != nil {
		return nil, err
	}
	// Every request carries X-Forwarded-For: from 127.0.0.1 without one,
	// GoatCounter keeps a rate-limit store per request.
	return r.startServer(bin, nil, func(addr string) []string {
		return []string{"serve", "-listen", addr, "-tls", "http", "-db", db, "-ratelimit", "count:1000000000/1"}
	})
}

// startHitCounter serves hit-counter on a free loopback port, counting in
// the Redis at redisAddr.
func (r *runner) startHitCounter(redisAddr string) (*process, error) {
	bin := r.hitCounter
	if _, err := os.Stat(bin); err != nil {
		return nil, &missingPeer{"hit-counter", fmt.Sprintf("no %s (scripts/bench.sh builds it where the Go module proxy serves github.com/gjbae1212/hit-counter@%s, or from HIT_COUNTER_SRC)", bin, hitCounterVersion)}
	}
	return r.startServer(bin, []string{"REDIS_ADDRS=" + redisAddr}, func(addr string) []string { return []string{"-addr", addr} })
}

// redisServer is a redis-server started by startRedis.
type redisServer struct {
	cmd    *exec.Cmd
	exited chan struct{}
	addr   string
}

func (s *redisServer) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(15 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
}

// startRedis starts redis-server on a free loopback port with its files in
// dir and more arguments args, and waits until it answers PING.
func (r *runner) startRedis(dir string, args ...string) (*redisServer, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, errors.New("not installed (Debian package redis-server)")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	_, port, _ := net.SplitHostPort(addr)
	s := &redisServer{addr: addr, exited: make(chan struct{})}
	s.cmd = exec.Command(bin, append([]string{"--port", port, "--bind", "127.0.0.1", "--dir", dir, "--save", "", "--logfile", "redis.log"}, args...)...) //nolint:gosec // Debian's redis-server
	s.cmd.Dir = dir
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { _ = s.cmd.Wait(); close(s.exited) }()
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); {
		select {
		case <-s.exited:
			log, _ := os.ReadFile(filepath.Join(dir, "redis.log")) //nolint:gosec // the log of the server this program started
			return nil, fmt.Errorf("exited before answering: %s", log)
		case <-time.After(50 * time.Millisecond):
		}
		if reply, err := redisCommands(addr, "PING"); err == nil && reply[0] == "+PONG" {
			return s, nil
		}
	}
	s.stop()
	return nil, fmt.Errorf("not answering on %s after 15s", addr)
}

// redisCommands sends inline commands on one connection and returns their
// one-line replies, failing on an error reply.
func redisCommands(addr string, cmds ...string) ([]string, error) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte(strings.Join(cmds, "\r\n") + "\r\n")); err != nil {
		return nil, err
	}
	var replies []string
	var buf []byte
	b := make([]byte, 512)
	for len(replies) < len(cmds) {
		n, err := c.Read(b)
		if err != nil {
			return nil, err
		}
		buf = append(buf, b[:n]...)
		for {
			line, rest, ok := strings.Cut(string(buf), "\r\n")
			if !ok {
				break
			}
			if strings.HasPrefix(line, "-") {
				return nil, fmt.Errorf("redis: %s", line)
			}
			replies, buf = append(replies, line), []byte(rest)
		}
	}
	return replies, nil
}
