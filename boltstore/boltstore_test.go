package boltstore

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/resumecounter/counter"
	"github.com/resumecounter/counter/countertest"
)

// open opens the store at path for a test. Its clock, unless opts sets
// one, stands at noon UTC on day1, the day the tests count on, so that no
// test depends on the day it runs.
func open(t testing.TB, path string, opts Options) *Store {
	t.Helper()
	if opts.Now == nil {
		opts.Now = func() time.Time { return at(day1, 12) }
	}
	s, err := Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func tempStore(t testing.TB, opts Options) *Store {
	t.Helper()
	return open(t, filepath.Join(t.TempDir(), "counter.db"), opts)
}

func TestConformance(t *testing.T) {
	countertest.Run(t, func(t *testing.T) countertest.Store { return tempStore(t, Options{}) })
}

func TestVisitsConformance(t *testing.T) {
	countertest.RunVisits(t, func(t *testing.T, cfg countertest.Config) countertest.VisitStore {
		return tempStore(t, Options{Now: cfg.Now, MaxKeys: cfg.MaxKeys})
	})
}

func TestEditorConformance(t *testing.T) {
	countertest.RunEditor(t, func(t *testing.T, cfg countertest.Config) countertest.EditStore {
		return tempStore(t, Options{Now: cfg.Now, MaxKeys: cfg.MaxKeys})
	})
}

func TestReopenKeepsCounts(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "counter.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := s.Increment(ctx, "visitors"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Add(ctx, "page:about", 1200); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Increment(ctx, "visitors"); err == nil {
		t.Fatal("Increment after Close succeeded")
	}

	s = open(t, path, Options{})
	if n, err := s.Increment(ctx, "visitors"); err != nil || n != 4 {
		t.Fatalf("Increment after reopening = %d, %v; want 4", n, err)
	}
	if n, err := s.Count(ctx, "page:about"); err != nil || n != 1200 {
		t.Fatalf("Count after reopening = %d, %v; want 1200", n, err)
	}
	if k, err := s.NumKeys(); err != nil || k != 2 {
		t.Fatalf("Keys = %d, %v; want 2", k, err)
	}
}

func TestMaxKeys(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "counter.db")
	s, err := Open(path, Options{MaxKeys: 3})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"a", "b", "c"} {
		if _, err := s.Increment(ctx, k); err != nil {
			t.Fatalf("Increment(%q): %v", k, err)
		}
	}
	for _, op := range []struct {
		name string
		do   func() (int64, error)
	}{
		{"Increment", func() (int64, error) { return s.Increment(ctx, "d") }},
		{"Add", func() (int64, error) { return s.Add(ctx, "d", 5) }},
	} {
		n, err := op.do()
		if !errors.Is(err, ErrTooManyKeys) || !errors.Is(err, counter.ErrTooManyKeys) || n != 0 {
			t.Errorf("%s of a 4th key with MaxKeys 3 = %d, %v; want 0, ErrTooManyKeys wrapping counter.ErrTooManyKeys", op.name, n, err)
		}
		if !strings.HasPrefix(err.Error(), "boltstore: ") {
			t.Errorf("error %q lacks the package prefix", err)
		}
	}
	if n, err := s.Count(ctx, "d"); err != nil || n != 0 {
		t.Errorf("Count of the refused key = %d, %v; want 0", n, err)
	}
	if n, err := s.Increment(ctx, "a"); err != nil || n != 2 {
		t.Errorf("Increment of an existing key at the cap = %d, %v; want 2", n, err)
	}
	if k, _ := s.NumKeys(); k != 3 {
		t.Errorf("Keys = %d, want 3", k)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// The key count lives in the file; a larger cap lets new keys in.
	s = open(t, path, Options{MaxKeys: 4})
	if _, err := s.Increment(ctx, "d"); err != nil {
		t.Fatalf("4th key with MaxKeys 4: %v", err)
	}
	if _, err := s.Increment(ctx, "e"); !errors.Is(err, ErrTooManyKeys) {
		t.Fatalf("5th key with MaxKeys 4: error = %v, want ErrTooManyKeys", err)
	}
}

// The handlers answer a new key beyond the cap with 404 and write nothing.
func TestHandlersAtMaxKeys(t *testing.T) {
	s := tempStore(t, Options{MaxKeys: 1})
	opts := counter.HandlerOptions{Logger: slog.New(slog.DiscardHandler)}
	mux := http.NewServeMux()
	mux.Handle("/api/{key}", counter.JSONHandler(s, opts))
	mux.Handle("/badge/{key}", counter.BadgeHandler(s, opts))
	for _, tc := range []struct {
		target string
		code   int
	}{
		{"/api/visitors", http.StatusOK},
		{"/api/other", http.StatusNotFound},
		{"/badge/other", http.StatusNotFound},
		{"/badge/visitors", http.StatusOK},
	} {
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, httptest.NewRequest(http.MethodGet, tc.target, nil))
		if w.Code != tc.code {
			t.Errorf("GET %s: status %d, want %d; body %s", tc.target, w.Code, tc.code, w.Body)
		}
		if w.Code == http.StatusNotFound && !strings.Contains(w.Body.String(), "unknown key") {
			t.Errorf("GET %s: body %s, want the generic unknown key", tc.target, w.Body)
		}
	}
	if k, err := s.NumKeys(); err != nil || k != 1 {
		t.Errorf("Keys = %d, %v; want 1", k, err)
	}
	if n, err := s.Count(context.Background(), "visitors"); err != nil || n != 2 {
		t.Errorf("Count(visitors) = %d, %v; want 2", n, err)
	}
}

// New keys racing for the last free places: exactly MaxKeys of them win,
// whatever batches they share.
func TestMaxKeysConcurrent(t *testing.T) {
	const maxKeys, tries = 5, 40
	s := tempStore(t, Options{MaxKeys: maxKeys})
	var ok, refused atomic.Int64
	var wg sync.WaitGroup
	for i := range tries {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.Increment(context.Background(), fmt.Sprintf("k%d", i))
			switch {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, ErrTooManyKeys):
				refused.Add(1)
			default:
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != maxKeys || refused.Load() != tries-maxKeys {
		t.Fatalf("%d new keys accepted and %d refused, want %d and %d", ok.Load(), refused.Load(), maxKeys, tries-maxKeys)
	}
	if k, _ := s.NumKeys(); k != maxKeys {
		t.Fatalf("Keys = %d, want %d", k, maxKeys)
	}
}

// MaxKeys -1 lifts the cap: more than DefaultMaxKeys keys are accepted.
func TestNoCap(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 10,001 keys")
	}
	s := tempStore(t, Options{MaxKeys: -1})
	fillKeys(t, s, DefaultMaxKeys+1)
	if k, _ := s.NumKeys(); k != DefaultMaxKeys+1 {
		t.Fatalf("NumKeys = %d, want %d", k, DefaultMaxKeys+1)
	}
}

// DB.Batch re-runs the functions of a batch in which one function failed.
// Callers must still get exactly one value each, 1..N, and the failed
// function, re-run alone, must count once.
func TestBatchRerunsKeepExactValues(t *testing.T) {
	const workers, perWorker, booms = 16, 40, 20
	s := tempStore(t, Options{BatchDelay: 5 * time.Millisecond})
	s.write = s.db.Batch // even when alone, as boom may be at the end
	var boomRuns, hotRuns atomic.Int64
	s.beforeWrite = func(key string) error {
		if key == "boom" && boomRuns.Add(1)%2 == 1 {
			return errors.New("injected failure") // the first run of each boom call fails
		}
		if key == "hot" {
			hotRuns.Add(1)
		}
		return nil
	}

	var (
		mu  sync.Mutex
		hot []int64
		wg  sync.WaitGroup
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range perWorker {
				n, err := s.Increment(context.Background(), "hot")
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				hot = append(hot, n)
				mu.Unlock()
			}
		}()
	}
	var boom []int64
	for range booms { // one at a time, so each boom call fails once, then succeeds alone
		n, err := s.Increment(context.Background(), "boom")
		if err != nil {
			t.Fatalf("boom: %v", err)
		}
		boom = append(boom, n)
	}
	wg.Wait()

	checkExact(t, "hot", hot, workers*perWorker)
	checkExact(t, "boom", boom, booms)
	if boomRuns.Load() != 2*booms {
		t.Errorf("boom ran %d times, want %d (each call once in a batch, once alone)", boomRuns.Load(), 2*booms)
	}
	if hotRuns.Load() <= workers*perWorker {
		t.Fatalf("hot ran %d times for %d calls: no batch was re-run, the test proved nothing", hotRuns.Load(), workers*perWorker)
	}
	t.Logf("%d hot calls ran %d times", workers*perWorker, hotRuns.Load())
	for key, want := range map[string]int64{"hot": workers * perWorker, "boom": booms} {
		if n, err := s.Count(context.Background(), key); err != nil || n != want {
			t.Errorf("Count(%q) = %d, %v; want %d", key, n, err, want)
		}
	}
}

func checkExact(t *testing.T, name string, got []int64, n int) {
	t.Helper()
	if len(got) != n {
		t.Fatalf("%s: %d values, want %d", name, len(got), n)
	}
	got = slices.Clone(got)
	slices.Sort(got)
	for i, v := range got {
		if v != int64(i+1) {
			t.Fatalf("%s: values are not exactly 1..%d: sorted position %d holds %d", name, n, i, v)
		}
	}
}

func TestLockedFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "counter.db")
	open(t, path, Options{})
	start := time.Now()
	_, err := Open(path, Options{LockTimeout: 100 * time.Millisecond})
	if !errors.Is(err, berrors.ErrTimeout) || !strings.Contains(err.Error(), "locked by another process") {
		t.Fatalf("second Open: error = %v, want a lock timeout", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("second Open took %v, want about 100ms", d)
	}
}

func TestNotABoltFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "counter.db")
	if err := os.WriteFile(path, []byte(strings.Repeat("not a database\n", 1000)), 0o600); err != nil {
		t.Fatal(err)
	}
	if s, err := Open(path, Options{}); err == nil {
		s.Close()
		t.Fatal("Open of a text file succeeded")
	} else if !strings.HasPrefix(err.Error(), "boltstore: open ") {
		t.Fatalf("error = %v, want it to name the operation", err)
	}
}

// childEnv names the file a re-executed test binary increments in a loop,
// as the child of TestKillNine.
const childEnv = "BOLTSTORE_KILL_CHILD"

// TestKillNine checks durability and integrity across SIGKILL. A child
// process (this test binary, re-executed) increments one key from several
// goroutines and, after each Increment returns without error, writes the
// value on a line of its standard output. A value is acknowledged when its
// complete line reached this process: the child had got it from a returned
// Increment, so a durable store must still hold it. After the kill, which
// lands at a random point mid-write, the file must open and pass bbolt's
// consistency check, and the stored count must be at least every
// acknowledged value, and equal the previous count plus the acknowledged
// increments plus at most one unacknowledged increment per goroutine (one
// that committed before the kill but whose line was never written).
//
// SIGKILL loses no page cache, so this proves that every acknowledged
// increment was committed and that the file is never torn; surviving power
// loss also rests on bbolt's fsync at each commit, which this store never
// turns off.
func TestKillNine(t *testing.T) {
	if path := os.Getenv(childEnv); path != "" {
		killChild(path)
		return
	}
	if testing.Short() {
		t.Skip("starts child processes")
	}
	path := filepath.Join(t.TempDir(), "counter.db")
	var stored int64
	for round, workers := range []int{1, 8, 8, 32} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestKillNine$")
		cmd.Env = append(os.Environ(), childEnv+"="+path, "BOLTSTORE_KILL_WORKERS="+strconv.Itoa(workers))
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		r := bufio.NewReader(out)
		var acked []int64
		readLine := func() bool {
			line, err := r.ReadString('\n')
			if err != nil { // EOF, maybe after a partial line: not acknowledged
				return false
			}
			n, err := strconv.ParseInt(strings.TrimSuffix(line, "\n"), 10, 64)
			if err != nil {
				t.Fatalf("round %d: child wrote %q", round, line)
			}
			acked = append(acked, n)
			return true
		}
		killAfter := 100 + rand.IntN(400)
		for len(acked) < killAfter && readLine() {
		}
		if err := cmd.Process.Kill(); err != nil { // SIGKILL
			t.Fatal(err)
		}
		for readLine() { // lines written before the kill are acknowledged too
		}
		_ = cmd.Wait()
		if len(acked) < killAfter {
			t.Fatalf("round %d: child stopped after %d values, before the kill", round, len(acked))
		}

		s := open(t, path, Options{})
		if err := s.db.View(func(tx *bolt.Tx) error {
			for err := range tx.Check() {
				return err
			}
			return nil
		}); err != nil {
			t.Fatalf("round %d: file fails bbolt's check after kill -9: %v", round, err)
		}
		n, err := s.Count(context.Background(), "visitors")
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		slices.Sort(acked)
		for i := 1; i < len(acked); i++ {
			if acked[i] == acked[i-1] {
				t.Fatalf("round %d: value %d acknowledged twice", round, acked[i])
			}
		}
		if acked[0] <= stored || acked[len(acked)-1] > n {
			t.Fatalf("round %d: acknowledged values %d..%d, stored count before %d and after %d", round, acked[0], acked[len(acked)-1], stored, n)
		}
		if lost := stored + int64(len(acked)) - n; lost > 0 {
			t.Fatalf("round %d: stored count %d, but %d increments were acknowledged after %d: %d lost", round, n, len(acked), stored, lost)
		}
		if extra := n - stored - int64(len(acked)); extra > int64(workers) {
			t.Fatalf("round %d: stored count %d is %d above %d + %d acknowledged, more than the %d goroutines had in flight", round, n, extra, stored, len(acked), workers)
		}
		t.Logf("round %d: %d goroutines, killed after %d acknowledged increments; count %d -> %d", round, workers, len(acked), stored, n)
		stored = n
	}
}

// killChild increments until killed, writing each acknowledged value, and
// gives up on its own after 30 seconds.
func killChild(path string) {
	workers, _ := strconv.Atoi(os.Getenv("BOLTSTORE_KILL_WORKERS"))
	s, err := Open(path, Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var mu sync.Mutex
	deadline := time.Now().Add(30 * time.Second)
	var wg sync.WaitGroup
	for range max(workers, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				n, err := s.Increment(context.Background(), "visitors")
				if err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(1)
				}
				mu.Lock()
				_, err = io.WriteString(os.Stdout, strconv.FormatInt(n, 10)+"\n") // one write(2)
				mu.Unlock()
				if err != nil {
					os.Exit(1)
				}
			}
		}()
	}
	wg.Wait()
	os.Exit(0)
}
