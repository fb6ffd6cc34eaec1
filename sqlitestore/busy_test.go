package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/resumecounter/counter"
)

// lockFile holds the write lock of the SQLite file at path on a connection
// of its own, as another process would, until the returned func is called.
func lockFile(t *testing.T, path string) (release func()) {
	t.Helper()
	other, err := sql.Open("sqlite", dsn(path, time.Second, true))
	if err != nil {
		t.Fatal(err)
	}
	conn, err := other.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(context.Background(), `BEGIN IMMEDIATE`); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	release = func() {
		once.Do(func() {
			if _, err := conn.ExecContext(context.Background(), `ROLLBACK`); err != nil {
				t.Error(err)
			}
			_ = conn.Close()
			_ = other.Close()
		})
	}
	t.Cleanup(release)
	return release
}

// A write that finds the file locked by another connection waits, and
// succeeds once the lock is released within BusyTimeout, counting once.
func TestWriteWaitsForLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "counter.sqlite")
	s := open(t, path, Options{}) // BusyTimeout 5s bounds each wait
	for _, write := range []struct {
		name string
		do   func() error
	}{
		{"Increment", func() error {
			n, err := s.Increment(context.Background(), "a")
			if err == nil && n != 1 {
				t.Errorf("Increment = %d, want 1", n)
			}
			return err
		}},
		{"RecordVisit", func() error {
			st, counted, err := s.RecordVisit(context.Background(), counter.Visit{Key: "b", Date: day1, Visitor: visitor(1)})
			if err == nil && (!counted || st.Count != 1 || st.Visitors != 1) {
				t.Errorf("RecordVisit = %+v, %v, want one visit and visitor", st, counted)
			}
			return err
		}},
		{"SetCount", func() error {
			old, err := s.SetCount(context.Background(), "c", 7)
			if err == nil && old != 0 {
				t.Errorf("SetCount returned old count %d, want 0", old)
			}
			return err
		}},
	} {
		release := lockFile(t, path)
		released := make(chan struct{})
		go func() {
			defer close(released)
			time.Sleep(200 * time.Millisecond)
			release()
		}()
		if err := write.do(); err != nil {
			t.Fatalf("%s while another connection held the lock for 200ms: %v", write.name, err)
		}
		<-released
	}
	for key, want := range map[string]int64{"a": 1, "b": 1, "c": 7} {
		if n, err := s.Count(context.Background(), key); err != nil || n != want {
			t.Errorf("Count(%q) = %d, %v, want %d", key, n, err, want)
		}
	}
}

// A write that finds the file locked for longer than BusyTimeout fails
// with SQLite's busy error and writes nothing.
func TestBusyTimeoutEnds(t *testing.T) {
	path := filepath.Join(t.TempDir(), "counter.sqlite")
	s := open(t, path, Options{BusyTimeout: 150 * time.Millisecond})
	release := lockFile(t, path)
	_, err := s.Increment(context.Background(), "k")
	if !isBusy(err) {
		t.Fatalf("Increment while locked past BusyTimeout: error %v, want SQLITE_BUSY", err)
	}
	_, _, err = s.RecordVisit(context.Background(), counter.Visit{Key: "k", Date: day1, Visitor: visitor(1)})
	if !isBusy(err) {
		t.Fatalf("RecordVisit while locked past BusyTimeout: error %v, want SQLITE_BUSY", err)
	}
	release()
	if st := mustStats(t, s, "k", day1); st.Count != 0 || st.Visitors != 0 {
		t.Fatalf("failed writes wrote: %+v", st)
	}
}

// retryBusy itself stops when the context ends, even for a write that does
// not look at the context, and returns the context's error.
func TestRetryBusyEndsWithContext(t *testing.T) {
	path := filepath.Join(t.TempDir(), "counter.sqlite")
	s := open(t, path, Options{})
	lockFile(t, path)
	_, busyErr := s.w.ExecContext(context.Background(), `INSERT INTO counts (key, count) VALUES ('k', 1)`)
	if !isBusy(busyErr) {
		t.Fatalf("write while locked: error %v, want SQLITE_BUSY", busyErr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	tries := 0
	err := retryBusy(ctx, 10*time.Second, func() error { tries++; return busyErr })
	if !errors.Is(err, context.DeadlineExceeded) || isBusy(err) {
		t.Fatalf("retryBusy = %v after %d tries, want the context's error", err, tries)
	}
	if tries < 2 {
		t.Fatalf("retryBusy tried %d times in 50ms, want at least 2", tries)
	}
	tries = 0
	err = retryBusy(context.Background(), 50*time.Millisecond, func() error { tries++; return busyErr })
	if !errors.Is(err, busyErr) {
		t.Fatalf("retryBusy past its timeout = %v, want the busy error", err)
	}
	other := errors.New("not busy")
	tries = 0
	if err := retryBusy(context.Background(), time.Second, func() error { tries++; return other }); err != other || tries != 1 { //nolint:errorlint // the very error
		t.Fatalf("retryBusy of a failure other than busy = %v after %d tries, want it at once", err, tries)
	}
}
