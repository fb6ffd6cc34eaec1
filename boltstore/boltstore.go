// Package boltstore keeps counts in a local file with bbolt
// (go.etcd.io/bbolt), an embedded transactional key/value store: a
// single-process server's counts, visitors and daily history survive
// restarts and crashes with no database server to run.
//
// Each count is durable when Increment or RecordVisit returns: it was
// written in a bbolt transaction whose commit waited for the disk (fsync).
// Concurrent writes share one transaction (and so one fsync) through bbolt's
// DB.Batch, which makes a busy server many times faster than one transaction
// per visit while every caller still gets its own exact count; a lone write
// commits at once. A process killed mid-write leaves a file that reopens with
// every acknowledged count: bbolt's copy-on-write pages and double meta page
// never leave a torn file.
//
// A caller whose context ends while its write is waiting for its batch or
// committing gets the context's error at once; the write itself goes on and
// may still count (the error says so), as a request that timed out at a
// remote store may have been counted.
//
// One process at a time opens a file; a second Open waits
// [Options.LockTimeout] for the lock and then fails. The file's layout and
// its limits are described in docs/stores-local.md.
package boltstore

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/resumecounter/counter"
)

// DefaultMaxKeys is the number of distinct keys a store accepts unless
// [Options.MaxKeys] says otherwise.
const DefaultMaxKeys = 10_000

// DefaultMaxMarkers is the number of visitor markers, and separately of
// visit id markers, a store keeps unless [Options.MaxMarkers] says
// otherwise.
const DefaultMaxMarkers = 100_000

// ErrTooManyKeys is wrapped by the error for a new key when the store
// already holds [Options.MaxKeys] keys. Existing keys still count. It wraps
// [counter.ErrTooManyKeys], so errors.Is(err, counter.ErrTooManyKeys) holds
// for every store with a key cap, and the handlers answer it with 404.
var ErrTooManyKeys error = tooManyKeys{}

type tooManyKeys struct{}

func (tooManyKeys) Error() string { return "boltstore: too many keys" }
func (tooManyKeys) Unwrap() error { return counter.ErrTooManyKeys }

// Options configures [Open]. The zero value works.
type Options struct {
	// MaxKeys caps the number of distinct keys, so that requests for made-up
	// keys cannot fill the disk: counting a new key beyond the cap fails
	// with ErrTooManyKeys and writes nothing. The owner's edits (SetCount,
	// Import) are not capped. Negative means no cap. Default:
	// DefaultMaxKeys (10,000).
	MaxKeys int
	// MaxMarkers caps the visitor markers (who was seen on a day) and,
	// separately, the visit id markers the file holds, so that a flood of
	// made-up visitors or visit ids cannot grow the file without limit.
	// Past the cap, RecordVisit of a new visitor or visit id fails with an
	// error wrapping counter.ErrMarkersFull and writes nothing; a
	// counter.Visitors in front then counts the visit as a hit only and logs
	// that at most once a minute. Markers expire after a day or two (see
	// counter.VisitorMarkerTTL and counter.VisitIDTTL) and free their places. Negative means no cap.
	// Default: DefaultMaxMarkers (100,000).
	MaxMarkers int
	// BatchDelay is how long the first of several concurrent writes waits
	// for others to join its transaction (bbolt's MaxBatchDelay). A write
	// with none other under way does not wait. Default: 1ms, about one fsync
	// on an SSD; shorter delays gained nothing here.
	BatchDelay time.Duration
	// LockTimeout is how long Open waits for another process to release the
	// file. Default: 1s.
	LockTimeout time.Duration
	// FileMode is the permission of a file Open creates. Default: 0600.
	FileMode os.FileMode
	// SweepInterval is how often expired markers are deleted, at
	// most 1,000 of each kind per transaction. Default: 1 minute.
	SweepInterval time.Duration
	// Logger receives sweep failures. Default: slog.Default().
	Logger *slog.Logger
	// Now is the store's clock: the time of a visit whose Time is zero,
	// and the time the sweep deletes expired markers and salts by. Default:
	// time.Now.
	Now func() time.Time
}

// Store is a store in a bbolt file. Make one with [Open]; it is safe for
// concurrent use.
type Store struct {
	db         *bolt.DB
	maxKeys    uint64 // 0: no cap
	maxMarkers uint64 // 0: no cap
	log        *slog.Logger
	now        func() time.Time

	// writing counts the writes under way. One that finds no other commits
	// at once with db.Update; the others share transactions through
	// db.Batch, so a lone visit does not wait BatchDelay.
	writing atomic.Int64
	// inflight tracks writes whose caller may have returned early (its
	// context ended); Close waits for them.
	inflight sync.WaitGroup
	// write, when set by tests and benchmarks, replaces that choice.
	write func(func(*bolt.Tx) error) error
	// beforeWrite and afterWrite, when set by tests, run inside each write
	// transaction, before and after its changes, and may fail it.
	beforeWrite func(key string) error
	afterWrite  func(key string) error

	saltsMu sync.Mutex
	salts   map[counter.Date][]byte // day → salt, see DaySalt

	stop      chan struct{} // closed by Close: ends the sweeper
	swept     chan struct{} // closed when the sweeper has ended
	closeOnce sync.Once
	closeErr  error
}

var (
	_ counter.Incrementer   = (*Store)(nil)
	_ counter.Reader        = (*Store)(nil)
	_ counter.Adder         = (*Store)(nil)
	_ counter.VisitStore    = (*Store)(nil)
	_ counter.HistoryReader = (*Store)(nil)
	_ counter.Editor        = (*Store)(nil)
	_ counter.KeyLister     = (*Store)(nil)
)

// Buckets. Keys never hold a 0 byte (see counter.CheckKey), so key+0 is a
// prefix that no other key shares.
var (
	// counts holds one item per key: the count as 8 bytes, big-endian. Its
	// sequence number is the number of keys, kept in the same transactions.
	// This is the whole file of the first versions, which still opens.
	bucketCounts = []byte("counts")
	// visitors: key → total visitors, 8 bytes big-endian.
	bucketVisitors = []byte("visitors")
	// days: key 0 date → count and visitors, 8 bytes big-endian each.
	bucketDays = []byte("days")
	// vmarks: date key 0 visitor-id → empty: visitor seen for key on date.
	// Sorted by date, so the sweep reads expired markers first. Its
	// sequence number is the number of markers.
	bucketVisitorMarks = []byte("vmarks")
	// ids: key 0 visit-id → expiry (Unix nanoseconds, 8 bytes). Its
	// sequence number is the number of markers.
	bucketIDs = []byte("ids")
	// idexp: expiry key 0 visit-id → empty, the ids bucket sorted by expiry
	// for the sweep.
	bucketIDExpiry = []byte("idexp")
)

// Day salts are kept in memory, never in the file (see DaySalt).
var allBuckets = [][]byte{bucketCounts, bucketVisitors, bucketDays, bucketVisitorMarks, bucketIDs, bucketIDExpiry}

// syncDir makes a new directory entry durable; tests replace it.
var syncDir = func(dir string) error {
	d, err := os.Open(dir) //nolint:gosec // the directory of the path the caller opens
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// Open opens the store in the file at path, creating it if needed. A file
// it creates is made durable in its directory (the directory is fsynced),
// so a power loss right after the first start cannot lose it.
func Open(path string, opts Options) (*Store, error) {
	if opts.MaxKeys == 0 {
		opts.MaxKeys = DefaultMaxKeys
	}
	if opts.MaxMarkers == 0 {
		opts.MaxMarkers = DefaultMaxMarkers
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
	if opts.SweepInterval <= 0 {
		opts.SweepInterval = time.Minute
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	_, statErr := os.Stat(path) //nolint:gosec // the caller names its own file
	creating := errors.Is(statErr, os.ErrNotExist)
	db, err := bolt.Open(path, opts.FileMode, &bolt.Options{Timeout: opts.LockTimeout})
	if err != nil {
		if errors.Is(err, berrors.ErrTimeout) {
			return nil, fmt.Errorf("boltstore: open %s: file is locked by another process (waited %v): %w", path, opts.LockTimeout, err)
		}
		return nil, fmt.Errorf("boltstore: open %s: %w", path, err)
	}
	if creating {
		// bolt.Open fsynced the new file's pages; its name lives in the
		// directory, which needs its own fsync.
		if err := syncDir(filepath.Dir(path)); err != nil {
			_ = db.Close()
			_ = os.Remove(path) //nolint:gosec // the file this Open just created; it holds nothing yet
			return nil, fmt.Errorf("boltstore: open %s: sync directory: %w", path, err)
		}
	}
	db.MaxBatchDelay = opts.BatchDelay
	if err := db.Update(func(tx *bolt.Tx) error {
		for _, name := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("boltstore: open %s: %w", path, err)
	}
	s := &Store{
		db:    db,
		log:   opts.Logger,
		now:   opts.Now,
		stop:  make(chan struct{}),
		swept: make(chan struct{}),
	}
	if opts.MaxKeys > 0 {
		s.maxKeys = uint64(opts.MaxKeys)
	}
	if opts.MaxMarkers > 0 {
		s.maxMarkers = uint64(opts.MaxMarkers)
	}
	go s.sweeper(opts.SweepInterval)
	return s, nil
}

// Close stops the sweeper, waits for writes under way (including those
// whose callers already returned) and closes the file. Calls after Close
// fail.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		close(s.stop)
		<-s.swept
		s.inflight.Wait()
		if err := s.db.Close(); err != nil {
			s.closeErr = fmt.Errorf("boltstore: close: %w", err)
		}
	})
	return s.closeErr
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
	// run that commits sets them. A refused write is a result, not an error,
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
		b := tx.Bucket(bucketCounts)
		cur, found, err := getInt(b, []byte(key))
		if err != nil {
			return err
		}
		if !found && s.maxKeys > 0 && b.Sequence() >= s.maxKeys {
			refused = fmt.Errorf("%w: %s %q refused, the store holds %d", ErrTooManyKeys, op, key, b.Sequence())
			return nil
		}
		if cur > math.MaxInt64-n {
			refused = fmt.Errorf("boltstore: %s %d to %q (count %d): %w", op, n, key, cur, counter.ErrOverflow)
			return nil
		}
		if !found {
			if err := b.SetSequence(b.Sequence() + 1); err != nil {
				return err
			}
		}
		if err := putInt(b, []byte(key), cur+n); err != nil {
			return err
		}
		if s.afterWrite != nil {
			if err := s.afterWrite(key); err != nil {
				return err
			}
		}
		count = cur + n
		return nil
	}
	if err := s.update(ctx, fn); err != nil {
		return 0, fmt.Errorf("boltstore: %s %q: %w", op, key, err)
	}
	if refused != nil {
		return 0, refused
	}
	return count, nil
}

// errMayCount is joined to the context's error of a caller that stopped
// waiting for its write.
var errMayCount = errors.New("stopped waiting for the commit under way, which may still count")

// update runs fn in a write transaction, shared with concurrent writes
// through db.Batch. It returns when the transaction committed or failed, or
// at once when ctx ends before that: then the write goes on without its
// caller and the error, which wraps ctx's, says it may still count.
func (s *Store) update(ctx context.Context, fn func(*bolt.Tx) error) error {
	write := s.db.Batch
	if s.writing.Add(1) == 1 {
		write = s.db.Update
	}
	if s.write != nil {
		write = s.write
	}
	done := ctx.Done()
	if done == nil { // a context that never ends: no need to watch it
		err := write(fn)
		s.writing.Add(-1)
		return err
	}
	res := make(chan error, 1)
	s.inflight.Add(1)
	go func() {
		defer s.inflight.Done()
		err := write(fn)
		s.writing.Add(-1)
		res <- err
	}()
	select {
	case err := <-res:
		return err
	case <-done:
		select {
		case err := <-res: // finished meanwhile: its outcome is known
			return err
		default:
		}
		return fmt.Errorf("%w (%w)", ctx.Err(), errMayCount)
	}
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
		var err error
		n, _, err = getInt(tx.Bucket(bucketCounts), []byte(key))
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("boltstore: count %q: %w", key, err)
	}
	return n, nil
}

// NumKeys returns the number of distinct keys in the store.
func (s *Store) NumKeys() (int, error) {
	var n uint64
	err := s.db.View(func(tx *bolt.Tx) error {
		n = tx.Bucket(bucketCounts).Sequence()
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("boltstore: keys: %w", err)
	}
	return int(n), nil
}

// getInt reads the int64 stored at k (0, false when absent).
func getInt(b *bolt.Bucket, k []byte) (int64, bool, error) {
	v := b.Get(k)
	if v == nil {
		return 0, false, nil
	}
	n, err := decodeCount(v)
	return n, true, err
}

// putInt stores n >= 0 at k.
func putInt(b *bolt.Bucket, k []byte, n int64) error {
	return b.Put(k, binary.BigEndian.AppendUint64(make([]byte, 0, 8), uint64(n))) //nolint:gosec // n >= 0
}

// decodeCount reads a stored count: 8 bytes, big-endian, at most MaxInt64.
func decodeCount(v []byte) (int64, error) {
	if len(v) != 8 {
		return 0, fmt.Errorf("stored count of %d bytes, want 8", len(v))
	}
	u := binary.BigEndian.Uint64(v)
	if u > math.MaxInt64 {
		return 0, fmt.Errorf("stored count %d is out of range", u)
	}
	return int64(u), nil
}
