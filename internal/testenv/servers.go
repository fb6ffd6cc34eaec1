package testenv

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// This file starts database servers from Debian's packages on loopback:
// PostgreSQL 15 (package postgresql), Redis and a three-node Redis Cluster
// (packages redis-server and redis-tools). Each server runs in its own
// process group, receives SIGKILL if the test binary dies (Pdeathsig), and is
// stopped by [StopServers] (call it from TestMain) or the test's cleanup.

// PostgresBin is where Debian's postgresql package puts the server binaries.
const PostgresBin = "/usr/lib/postgresql/15/bin"

// Server is one database server process that a test may kill and restart.
type Server struct {
	Name string // "postgres", "redis"
	Port string
	Dir  string // data directory

	args []string
	cred *syscall.Credential
	log  syncBuffer

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// Addr returns the server's host:port on 127.0.0.1.
func (s *Server) Addr() string { return "127.0.0.1:" + s.Port }

// Log returns what the server printed.
func (s *Server) Log() string { return s.log.String() }

// start runs the server and waits until ready reports nil.
func (s *Server) start(ready func() error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	cmd := exec.Command(s.args[0], s.args[1:]...)
	cmd.Dir = s.Dir
	cmd.Stdout, cmd.Stderr = &s.log, &s.log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL, Credential: s.cred}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", s.args[0], err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	s.cmd, s.done = cmd, done
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := ready()
		if err == nil {
			return nil
		}
		select {
		case <-done:
			return fmt.Errorf("%s exited at start:\n%s", s.Name, s.log.String())
		default:
		}
		if time.Now().After(deadline) {
			s.killLocked()
			return fmt.Errorf("%s not ready after 30s (%w):\n%s", s.Name, err, s.log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Kill sends SIGKILL to the server's whole process group (a PostgreSQL
// server's backends die with it) and waits for the server to exit.
func (s *Server) Kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.killLocked()
}

func (s *Server) killLocked() {
	if s.cmd == nil {
		return
	}
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
	}
	// Wait until no process of the group is left (backends, forks).
	for range 500 {
		if err := syscall.Kill(-s.cmd.Process.Pid, 0); errors.Is(err, syscall.ESRCH) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.cmd = nil
}

var servers struct {
	mu   sync.Mutex
	list []*Server
	dirs []string
}

func register(s *Server, dir string) {
	servers.mu.Lock()
	defer servers.mu.Unlock()
	servers.list = append(servers.list, s)
	servers.dirs = append(servers.dirs, dir)
}

// StopServers kills every server started by this package and removes their
// directories. Call it from TestMain after m.Run.
func StopServers() {
	servers.mu.Lock()
	defer servers.mu.Unlock()
	for _, s := range servers.list {
		s.Kill()
	}
	for _, d := range servers.dirs {
		_ = os.RemoveAll(d)
	}
	servers.list, servers.dirs = nil, nil
}

// Main runs the tests of a package that uses the shared servers and stops
// the servers afterwards: func TestMain(m *testing.M) { testenv.Main(m) }.
func Main(m *testing.M) {
	code := m.Run()
	StopServers()
	os.Exit(code)
}

// postgresUser is the account PostgreSQL runs as: initdb and postgres
// refuse to run as root.
func postgresUser() (*syscall.Credential, string, error) {
	if os.Geteuid() != 0 {
		return nil, "", nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, "", fmt.Errorf("tests run as root and there is no user postgres to run PostgreSQL as")
	}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	gid, _ := strconv.ParseUint(u.Gid, 10, 32)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, u.Username, nil
}

// NewPostgres creates a PostgreSQL data directory (initdb, trust
// authentication for user postgres on loopback only) and starts a server
// on a free port of 127.0.0.1 with its socket in the data directory and
// PostgreSQL's default durability (fsync on, synchronous commit). The
// server is killed when the test ends. args are more server arguments
// ("-c", "name=value"). Without PostgreSQL 15 the test skips, or fails under
// CI=true.
func NewPostgres(tb testing.TB, args ...string) *Server {
	tb.Helper()
	s, dir, err := newPostgres(args...)
	if err != nil {
		Missing(tb, "PostgreSQL: "+err.Error())
	}
	tb.Cleanup(func() {
		s.Kill()
		if tb.Failed() {
			tb.Logf("postgres log:\n%s", s.Log())
		}
		_ = os.RemoveAll(dir)
	})
	return s
}

// PostgresURL returns the connection URL of the PostgreSQL server shared by
// the test binary, starting it on first use (see [NewPostgres]).
// COUNTER_TEST_POSTGRES names a running server instead.
func PostgresURL(tb testing.TB) string {
	tb.Helper()
	if u := os.Getenv("COUNTER_TEST_POSTGRES"); u != "" {
		return u
	}
	sharedPG.once.Do(func() {
		var dir string
		sharedPG.s, dir, sharedPG.err = newPostgres()
		if sharedPG.err == nil {
			register(sharedPG.s, dir)
		}
	})
	if sharedPG.err != nil {
		Missing(tb, "PostgreSQL: "+sharedPG.err.Error())
	}
	return PostgresURLOf(sharedPG.s)
}

var sharedPG struct {
	once sync.Once
	s    *Server
	err  error
}

// PostgresURLOf returns the URL of database postgres on s.
func PostgresURLOf(s *Server) string {
	return "postgres://postgres@" + s.Addr() + "/postgres?sslmode=disable"
}

func newPostgres(args ...string) (*Server, string, error) {
	bin := filepath.Join(PostgresBin, "postgres")
	if _, err := os.Stat(bin); err != nil {
		return nil, "", fmt.Errorf("%s not found (Debian package postgresql)", bin)
	}
	cred, name, err := postgresUser()
	if err != nil {
		return nil, "", err
	}
	dir, err := os.MkdirTemp("", "counter-pg-")
	if err != nil {
		return nil, "", err
	}
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			_ = os.RemoveAll(dir)
			return nil, "", err
		}
	}
	data := filepath.Join(dir, "data")
	initdb := exec.Command(filepath.Join(PostgresBin, "initdb"), "-D", data, "-U", "postgres",
		"--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync")
	initdb.Dir = dir
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGKILL}
	if out, err := initdb.CombinedOutput(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, "", fmt.Errorf("initdb as %s: %w\n%s", name, err, out)
	}
	port, err := freePort()
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, "", err
	}
	s := &Server{Name: "postgres", Port: port, Dir: dir, cred: cred, args: []string{bin,
		"-D", data, "-p", port, "-k", dir, "-c", "listen_addresses=127.0.0.1",
		"-c", "max_connections=100", "-c", "shared_buffers=32MB"}}
	s.args = append(s.args, args...)
	isReady := filepath.Join(PostgresBin, "pg_isready")
	if err := s.start(func() error {
		return exec.Command(isReady, "-q", "-h", "127.0.0.1", "-p", port, "-U", "postgres", "-d", "postgres").Run()
	}); err != nil {
		_ = os.RemoveAll(dir)
		return nil, "", err
	}
	return s, dir, nil
}

// Restart starts a killed server again on the same port and data.
func (s *Server) Restart(tb testing.TB) {
	tb.Helper()
	var ready func() error
	switch s.Name {
	case "postgres":
		isReady := filepath.Join(PostgresBin, "pg_isready")
		ready = func() error {
			return exec.Command(isReady, "-q", "-h", "127.0.0.1", "-p", s.Port, "-U", "postgres", "-d", "postgres").Run()
		}
	default:
		ready = func() error { return redisPing(s.Addr()) }
	}
	if err := s.start(ready); err != nil {
		tb.Fatal(err)
	}
}

// NewRedis starts redis-server on a free port of 127.0.0.1 with its data in
// a temp dir and extra arguments args (such as "--appendonly", "yes",
// "--appendfsync", "always"). RDB snapshots are off unless args turn them
// on. The server is killed when the test ends. Without redis-server the test
// skips, or fails under CI=true.
func NewRedis(tb testing.TB, args ...string) *Server {
	tb.Helper()
	s, dir, err := newRedis(args...)
	if err != nil {
		Missing(tb, "Redis: "+err.Error())
	}
	tb.Cleanup(func() {
		s.Kill()
		if tb.Failed() {
			tb.Logf("redis log:\n%s", s.Log())
		}
		_ = os.RemoveAll(dir)
	})
	return s
}

// RedisAddr returns host:port of the Redis server shared by the test
// binary (append-only file with appendfsync always), starting it on first
// use. COUNTER_TEST_REDIS names a running server instead.
func RedisAddr(tb testing.TB) string {
	tb.Helper()
	if a := os.Getenv("COUNTER_TEST_REDIS"); a != "" {
		return a
	}
	sharedRedis.once.Do(func() {
		var dir string
		sharedRedis.s, dir, sharedRedis.err = newRedis("--appendonly", "yes", "--appendfsync", "always")
		if sharedRedis.err == nil {
			register(sharedRedis.s, dir)
		}
	})
	if sharedRedis.err != nil {
		Missing(tb, "Redis: "+sharedRedis.err.Error())
	}
	return sharedRedis.s.Addr()
}

var sharedRedis struct {
	once sync.Once
	s    *Server
	err  error
}

func newRedis(args ...string) (*Server, string, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, "", fmt.Errorf("redis-server not found (Debian package redis-server)")
	}
	dir, err := os.MkdirTemp("", "counter-redis-")
	if err != nil {
		return nil, "", err
	}
	s, err := startRedis(bin, dir, args...)
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, "", err
	}
	return s, dir, nil
}

func startRedis(bin, dir string, args ...string) (*Server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	s := &Server{Name: "redis", Port: port, Dir: dir, args: append([]string{bin,
		"--port", port, "--bind", "127.0.0.1", "--dir", dir, "--save", "",
		"--daemonize", "no", "--protected-mode", "yes", "--logfile", ""}, args...)}
	if err := s.start(func() error { return redisPing(s.Addr()) }); err != nil {
		return nil, err
	}
	return s, nil
}

// redisPing sends PING and expects PONG.
func redisPing(addr string) error {
	reply, err := redisCommand(addr, "PING")
	if err != nil {
		return err
	}
	if !strings.HasPrefix(reply, "+PONG") {
		return fmt.Errorf("PING answered %q", reply)
	}
	return nil
}

// redisCommand sends one inline command and returns the start of the reply.
func redisCommand(addr, cmd string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte(cmd + "\r\n")); err != nil {
		return "", err
	}
	buf := make([]byte, 4096)
	n, err := c.Read(buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}

// RedisClusterAddrs returns host:port of the three masters of a Redis
// Cluster shared by the test binary (no replicas, append-only files with
// appendfsync always), creating it on first use with redis-cli --cluster
// create and waiting for cluster_state:ok. COUNTER_TEST_REDIS_CLUSTER names
// a running cluster instead (comma-separated addresses).
func RedisClusterAddrs(tb testing.TB) []string {
	tb.Helper()
	if a := os.Getenv("COUNTER_TEST_REDIS_CLUSTER"); a != "" {
		return strings.Split(a, ",")
	}
	sharedCluster.once.Do(func() {
		sharedCluster.addrs, sharedCluster.err = newRedisCluster()
	})
	if sharedCluster.err != nil {
		Missing(tb, "Redis Cluster: "+sharedCluster.err.Error())
	}
	return sharedCluster.addrs
}

var sharedCluster struct {
	once  sync.Once
	addrs []string
	err   error
}

func newRedisCluster() ([]string, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, fmt.Errorf("redis-server not found (Debian package redis-server)")
	}
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		return nil, fmt.Errorf("redis-cli not found (Debian package redis-tools)")
	}
	var addrs []string
	for range 3 {
		dir, err := os.MkdirTemp("", "counter-redis-cluster-")
		if err != nil {
			return nil, err
		}
		bus, err := freePort()
		if err != nil {
			return nil, err
		}
		s, err := startRedis(bin, dir, "--cluster-enabled", "yes", "--cluster-port", bus, "--cluster-config-file", "nodes.conf",
			"--cluster-node-timeout", "5000", "--appendonly", "yes", "--appendfsync", "always")
		if err != nil {
			_ = os.RemoveAll(dir)
			StopServers()
			return nil, err
		}
		register(s, dir)
		addrs = append(addrs, s.Addr())
	}
	create := exec.Command(cli, append(append([]string{"--cluster", "create"}, addrs...),
		"--cluster-replicas", "0", "--cluster-yes")...)
	create.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if out, err := create.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("redis-cli --cluster create: %w\n%s", err, out)
	}
	deadline := time.Now().Add(30 * time.Second)
	for _, a := range addrs {
		for {
			info, err := redisCommand(a, "CLUSTER INFO")
			if err == nil && strings.Contains(info, "cluster_state:ok") {
				break
			}
			if time.Now().After(deadline) {
				return nil, fmt.Errorf("cluster not ok after 30s at %s: %q (%w)", a, info, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return addrs, nil
}

// freePort returns a free TCP port on 127.0.0.1.
func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port), nil
}
