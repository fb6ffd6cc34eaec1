// Package boltstore keeps counts in a local file with bbolt
// (go.etcd.io/bbolt), an embedded transactional key/value store: a
// single-process server's counts survive restarts and crashes with no
// database server to run.
//
// Each count is durable when Increment returns: it was written in a bbolt
// transaction whose commit waited for the disk (fsync). Concurrent increments
// share one transaction (and so one fsync) through bbolt's DB.Batch, which
// makes a busy server many times faster than one transaction per visit while
// every caller still gets its own exact count; a lone increment commits at
// once. A process killed mid-write leaves a file that reopens with every
// acknowledged count: bbolt's copy-on-write pages and double meta page never
// leave a torn file.
//
// One process at a time opens a file; a second Open waits
// [Options.LockTimeout] for the lock and then fails.
package boltstore

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/resumecounter/counter"
)

// DefaultMaxKeys is the number of distinct keys a store accepts unless
// [Options.MaxKeys] says otherwise.
const DefaultMaxKeys = 10_000

// ErrTooManyKeys is wrapped by the error for a new key when the store
// already holds [Options.MaxKeys] keys. Existing keys still count.
var ErrTooManyKeys = errors.New("boltstore: too many keys")

// Options configures [Open]. The zero value works.
type Options struct {
	// MaxKeys caps the number of distinct keys, so that requests for made-up
	// keys cannot fill the disk: incrementing a new key beyond the cap fails
	// with ErrTooManyKeys and writes nothing. Negative means no cap.
	// Default: DefaultMaxKeys (10,000).
	MaxKeys int
	// BatchDelay is how long the first of several concurrent increments
	// waits for others to join its transaction (bbolt's MaxBatchDelay). An
	// increment with none other under way does not wait. Default: 1ms,
	// about one fsync on an SSD; shorter delays gained nothing here.
	BatchDelay time.Duration
	// LockTimeout is how long Open waits for another process to release the
	// file. Default: 1s.
	LockTimeout time.Duration
	// FileMode is the permission of a file Open creates. Default: 0600.
	FileMode os.FileMode
}

// Store is a store in a bbolt file. Make one with [Open]; it is safe for
// concurrent use.
type Store struct {
	db      *bolt.DB
	maxKeys uint64 // 0: no cap

	// writing counts the increments under way. One that finds no other
	// commits at once with db.Update; the others share transactions through
	// db.Batch, so a lone visit does not wait BatchDelay.
	writing atomic.Int64
	// write, when set by tests and benchmarks, replaces that choice.
	write func(func(*bolt.Tx) error) error
	// beforeWrite, when set by tests, runs inside each write transaction
	// and may fail it, to exercise Batch's re-runs.
	beforeWrite func(key string) error
}

var (
	_ counter.Incrementer = (*Store)(nil)
	_ counter.Reader      = (*Store)(nil)
	_ counter.Adder       = (*Store)(nil)
)

// bucket holds one item per key: the count as 8 bytes, big-endian. Its
// sequence number is the number of keys, kept in the same transactions.
var bucket = []byte("counts")

// Open opens the store in the file at path, creating it if needed.
func Open(path string, opts Options) (*Store, error) {
	if opts.MaxKeys == 0 {
		opts.MaxKeys = DefaultMaxKeys
	}
	if opts.BatchDelay <= 0 {
		opts.BatchDelay = time.Millisecond
	}
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = time.Second
	}
	if opts.FileMode == 0 {
		opts.FileMode = 0o600
	}
	db, err := bolt.Open(path, opts.FileMode, &bolt.Options{Timeout: opts.LockTimeout})
	if err != nil {
		if errors.Is(err, bolt.ErrTimeout) {
			return nil, fmt.Errorf("boltstore: open %s: file is locked by another process (waited %v): %w", path, opts.LockTimeout, err)
		}
		return nil, fmt.Errorf("boltstore: open %s: %w", path, err)
	}
	db.MaxBatchDelay = opts.BatchDelay
	if err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucket)
		return err
	}); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("boltstore: open %s: %w", path, err)
	}
	s := &Store{db: db}
	if opts.MaxKeys > 0 {
		s.maxKeys = uint64(opts.MaxKeys)
	}
	return s, nil
}

// Close closes the file, waiting for running transactions. Calls after
// Close fail.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("boltstore: close: %w", err)
	}
	return nil
}

// Path returns the file's path.
func (s *Store) Path() string { return s.db.Path() }

// Increment adds one visit to key and returns the new count, durable on
// disk when it returns.
func (s *Store) Increment(ctx context.Context, key string) (int64, error) {
	return s.add(ctx, "increment", key, 1)
}

// Add adds n >= 1 visits to key in one write and returns the new count.
func (s *Store) Add(ctx context.Context, key string, n int64) (int64, error) {
	return s.add(ctx, "add", key, n)
}

func (s *Store) add(ctx context.Context, op, key string, n int64) (int64, error) {
	if err := counter.CheckKey(key); err != nil {
		return 0, err
	}
	if n < 1 {
		return 0, fmt.Errorf("boltstore: add %d to %q: n must be at least 1", n, key)
	}
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("boltstore: %s %q: %w", op, key, err)
	}
	// DB.Batch may run fn more than once, each time in a fresh transaction
	// after rolling back the last one: when another function in the batch
	// fails, the batch re-runs without it. fn therefore only reads and
	// writes through tx and assigns (never accumulates) its results, so the
	// run that commits sets them. A refused key is a result, not an error,
	// so it writes nothing and does not make the batch re-run.
	var (
		count   int64
		refused error
	)
	fn := func(tx *bolt.Tx) error {
		count, refused = 0, nil
		if s.beforeWrite != nil {
			if err := s.beforeWrite(key); err != nil {
				return err
			}
		}
		b := tx.Bucket(bucket)
		old := b.Get([]byte(key))
		var cur int64
		switch {
		case old == nil:
			keys := b.Sequence()
			if s.maxKeys > 0 && keys >= s.maxKeys {
				refused = fmt.Errorf("%w: %s %q refused, the store holds %d", ErrTooManyKeys, op, key, keys)
				return nil
			}
			if err := b.SetSequence(keys + 1); err != nil {
				return err
			}
		case len(old) == 8:
			cur = int64(binary.BigEndian.Uint64(old))
		default:
			return fmt.Errorf("stored count of %d bytes, want 8", len(old))
		}
		next := cur + n
		if next < cur {
			return fmt.Errorf("count %d + %d overflows", cur, n)
		}
		if err := b.Put([]byte(key), binary.BigEndian.AppendUint64(nil, uint64(next))); err != nil {
			return err
		}
		count = next
		return nil
	}
	write := s.db.Batch
	if s.writing.Add(1) == 1 {
		write = s.db.Update
	}
	if s.write != nil {
		write = s.write
	}
	err := write(fn)
	s.writing.Add(-1)
	if err != nil {
		return 0, fmt.Errorf("boltstore: %s %q: %w", op, key, err)
	}
	if refused != nil {
		return 0, refused
	}
	return count, nil
}

// Count returns the count of key without changing it; a key never counted
// reads 0.
func (s *Store) Count(ctx context.Context, key string) (int64, error) {
	if err := counter.CheckKey(key); err != nil {
		return 0, err
	}
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("boltstore: count %q: %w", key, err)
	}
	var n int64
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucket).Get([]byte(key))
		switch len(v) {
		case 0:
		case 8:
			n = int64(binary.BigEndian.Uint64(v))
		default:
			return fmt.Errorf("stored count of %d bytes, want 8", len(v))
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("boltstore: count %q: %w", key, err)
	}
	return n, nil
}

// Keys returns the number of distinct keys in the store.
func (s *Store) Keys() (int, error) {
	var n uint64
	err := s.db.View(func(tx *bolt.Tx) error {
		n = tx.Bucket(bucket).Sequence()
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("boltstore: keys: %w", err)
	}
	return int(n), nil
}
