// Package sqlitestore keeps counts, visitors and daily history in a SQLite
// file through modernc.org/sqlite, a SQLite compiled to pure Go: no cgo, so
// static and Lambda builds keep working.
//
// The file is in WAL mode with synchronous=FULL: a count is on disk (the WAL
// fsynced) when Increment or RecordVisit returns, so neither a killed process
// nor a power loss loses an acknowledged count. Writes go through one
// connection (SQLite has one writer at a time); reads use a small pool of
// their own and never wait for writes. Every write is one transaction begun
// IMMEDIATE, and other processes may share the file: a write waits up to
// [Options.BusyTimeout] for another's write lock, trying again every few
// milliseconds, and stops waiting as soon as its caller's context ends.
//
// A caller of Increment whose context ends while its statement runs gets
// the context's error; SQLite then interrupts the statement and rolls its
// transaction back, unless the commit had already begun (the error cannot
// tell: the count may still change). Concurrent RecordVisit calls share one
// transaction and its fsync (group commit): a caller whose context ends
// before its visit's transaction begins gets the context's error and the
// visit is never written; once begun, RecordVisit returns when the
// transaction is on disk, with an exact answer.
//
// Visitor markers are a table appended to and, to look visitors up, a copy
// in memory: about 65 bytes a marker, up to [Options.MaxMarkers]. Each
// batch first reads the markers other processes appended.
//
// The schema is created and migrated by [Open] (table schema_version holds
// its version); docs/stores-local.md shows it.
package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

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
// already holds [Options.MaxKeys] keys. It wraps [counter.ErrTooManyKeys],
// which the handlers answer with 404.
var ErrTooManyKeys error = tooManyKeys{}

type tooManyKeys struct{}

func (tooManyKeys) Error() string { return "sqlitestore: too many keys" }
func (tooManyKeys) Unwrap() error { return counter.ErrTooManyKeys }

// Options configures [Open]. The zero value works.
type Options struct {
	// MaxKeys caps the number of distinct keys, so that requests for made-up
	// keys cannot fill the disk: counting a new key beyond the cap fails
	// with ErrTooManyKeys and writes nothing. The owner's edits (SetCount,
	// Import) are not capped. Negative means no cap. Default:
	// DefaultMaxKeys (10,000).
	MaxKeys int
	// MaxMarkers caps the visitor markers and, separately, the visit id
	// markers, so that a flood of made-up visitors or visit ids cannot grow
	// the file without limit. Past the cap, RecordVisit of a new visitor or
	// visit id fails with an error wrapping counter.ErrMarkersFull and
	// writes nothing; a counter.Visitors in front then counts the visit as
	// a hit only and logs that at most once a minute. Negative means no cap. Default:
	// DefaultMaxMarkers (100,000). The store keeps the visitor markers in
	// memory too, about 65 bytes each (6.3 MB at the default cap).
	MaxMarkers int
	// BusyTimeout is how long a write waits for another process holding the
	// file's write lock; the wait ends sooner, with the context's error and
	// nothing written, when the caller's context ends. Default: 5s.
	BusyTimeout time.Duration
	// ReadConns is the number of read connections. Default: 4.
	ReadConns int
	// SweepInterval is how often expired markers and salts are deleted, at
	// most 1,000 rows of each kind per transaction. Default: 1 minute.
	SweepInterval time.Duration
	// Logger receives sweep failures. Default: slog.Default().
	Logger *slog.Logger
	// Now is the store's clock: the time of a visit whose Time is zero,
	// and the time the sweep deletes expired markers and salts by. Default:
	// time.Now.
	Now func() time.Time
}

// Store is a store in a SQLite file. Make one with [Open]; it is safe for
// concurrent use.
type Store struct {
	path       string
	w, r       *sql.DB // the one writer, the read pool
	maxKeys    int64   // 0: no cap
	maxMarkers int64   // 0: no cap
	busy       time.Duration
	log        *slog.Logger
	now        func() time.Time

	incr, incrNew *sql.Stmt // the increment statements, in prepared

	// afterWrite, when set by tests, runs in each batch's transaction
	// after each counted visit's statements and may fail the visit.
	// beforeCommit, when set, runs before each batch's commit with its
	// number of visits and may fail the batch; onBatch runs after each
	// committed batch.
	afterWrite   func(key string) error
	beforeCommit func(visits int) error
	onBatch      func(visits int)

	mu       sync.Mutex
	pending  []*visitReq // visits waiting for a batch
	running  bool        // a runBatches goroutine is running
	closed   bool
	batches  sync.WaitGroup
	maxBatch int                  // 0: maxBatch
	txStmts  map[string]*sql.Stmt // the batch transaction's statements
	prepared map[string]*sql.Stmt // batchQueries and the increments, prepared on the writer

	// marks holds the visitor markers of the table visitor_marks, which
	// only the batch runner adds to and the sweep deletes from.
	marks markerSet

	// walHoldsDeleted: a sweep deleted rows whose old pages the WAL may
	// still hold (its checkpoint has not completed yet).
	walHoldsDeleted atomic.Bool

	stop      chan struct{}
	swept     chan struct{}
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

// migrations[i] brings the schema from version i to i+1. Append only.
var migrations = []string{
	`CREATE TABLE counts (
		key      TEXT PRIMARY KEY,
		count    INTEGER NOT NULL CHECK (count >= 0),
		visitors INTEGER NOT NULL DEFAULT 0 CHECK (visitors >= 0)
	) WITHOUT ROWID;
	CREATE TABLE days (
		key      TEXT NOT NULL,
		date     TEXT NOT NULL,
		count    INTEGER NOT NULL CHECK (count >= 0),
		visitors INTEGER NOT NULL CHECK (visitors >= 0),
		PRIMARY KEY (key, date)
	) WITHOUT ROWID;
	CREATE TABLE visitor_marks (
		date    TEXT NOT NULL,
		key     TEXT NOT NULL,
		visitor BLOB NOT NULL,
		UNIQUE (date, key, visitor)
	);
	CREATE TABLE visit_ids (
		key     TEXT NOT NULL,
		id      TEXT NOT NULL,
		expires INTEGER NOT NULL,
		UNIQUE (key, id)
	);
	CREATE INDEX visit_ids_expires ON visit_ids (expires);
	CREATE TABLE salts (
		date TEXT NOT NULL UNIQUE,
		salt BLOB NOT NULL
	);
	CREATE TABLE tallies (
		name  TEXT PRIMARY KEY,
		value INTEGER NOT NULL
	) WITHOUT ROWID;
	INSERT INTO tallies VALUES ('keys', 0), ('visitor_marks', 0), ('visit_ids', 0);
	CREATE TRIGGER counts_insert AFTER INSERT ON counts BEGIN
		UPDATE tallies SET value = value + 1 WHERE name = 'keys'; END;
	CREATE TRIGGER counts_delete AFTER DELETE ON counts BEGIN
		UPDATE tallies SET value = value - 1 WHERE name = 'keys'; END;
	CREATE TRIGGER visitor_marks_insert AFTER INSERT ON visitor_marks BEGIN
		UPDATE tallies SET value = value + 1 WHERE name = 'visitor_marks'; END;
	CREATE TRIGGER visitor_marks_delete AFTER DELETE ON visitor_marks BEGIN
		UPDATE tallies SET value = value - 1 WHERE name = 'visitor_marks'; END;
	CREATE TRIGGER visit_ids_insert AFTER INSERT ON visit_ids BEGIN
		UPDATE tallies SET value = value + 1 WHERE name = 'visit_ids'; END;
	CREATE TRIGGER visit_ids_delete AFTER DELETE ON visit_ids BEGIN
		UPDATE tallies SET value = value - 1 WHERE name = 'visit_ids'; END;`,
	// The marker tallies are kept by the code that stores and deletes
	// markers (a batch adds its new markers once, the sweep subtracts what
	// it deleted): a trigger made each marker insert a two-row write.
	`DROP TRIGGER visitor_marks_insert;
	DROP TRIGGER visitor_marks_delete;
	DROP TRIGGER visit_ids_insert;
	DROP TRIGGER visit_ids_delete;`,
	// The visitor markers become a log: rows appended in the order they
	// are stored (seq, which AUTOINCREMENT never reuses, even after the
	// sweep empties the table) and looked up in memory (markerSet). The
	// UNIQUE index made each new visitor a write at a random page of the
	// file; appends share the last page. secure_delete zeroes the old
	// table's pages as DROP frees them.
	`CREATE TABLE visitor_marks_v3 (
		seq     INTEGER PRIMARY KEY AUTOINCREMENT,
		date    TEXT NOT NULL,
		key     TEXT NOT NULL,
		visitor BLOB NOT NULL
	);
	INSERT INTO visitor_marks_v3 (date, key, visitor)
		SELECT date, key, visitor FROM visitor_marks ORDER BY rowid;
	DROP TABLE visitor_marks;
	ALTER TABLE visitor_marks_v3 RENAME TO visitor_marks;
	CREATE INDEX visitor_marks_date ON visitor_marks (date);`,
}

// incrementSQL adds ?2 to key ?1 if the key exists, never past the largest
// int64 (SQLite would turn the sum into a float). No row back means the key
// is new or the count would overflow: incrementNewSQL then decides.
const incrementSQL = `UPDATE counts SET count = count + ?2
WHERE key = ?1 AND count <= 9223372036854775807 - ?2
RETURNING count`

// incrementNewSQL adds ?2 to key ?1 in one statement: a new key only while
// fewer than ?3 keys exist (?3 <= 0: no cap), and never past the largest
// int64. It also covers a key another process created after incrementSQL
// found none. No row back means one of the two refused.
const incrementNewSQL = `INSERT INTO counts (key, count) SELECT ?1, ?2
WHERE ?3 <= 0 OR (SELECT value FROM tallies WHERE name = 'keys') < ?3
   OR EXISTS (SELECT 1 FROM counts WHERE key = ?1)
ON CONFLICT (key) DO UPDATE SET count = count + excluded.count
WHERE count <= 9223372036854775807 - excluded.count
RETURNING count`

// synchronous is the file's synchronous setting; benchmarks lower it to
// show the cost of the statements apart from the disk's.
var synchronous = "FULL"

// dsn returns the data source name of path for modernc.org/sqlite.
func dsn(path string, busy time.Duration, write bool) string {
	q := fmt.Sprintf("_pragma=busy_timeout(%d)&_pragma=synchronous(%s)", busy.Milliseconds(), synchronous)
	if write {
		// secure_delete overwrites deleted rows (expired salts and markers)
		// with zeros instead of leaving them in free pages.
		q += "&_pragma=journal_mode(WAL)&_pragma=secure_delete(ON)&_txlock=immediate"
	} else {
		q += "&_pragma=query_only(1)"
	}
	return "file:" + path + "?" + q
}

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

// Open opens the store in the SQLite file at path, creating it and its
// tables if needed, and migrates an older schema.
func Open(path string, opts Options) (*Store, error) {
	if strings.ContainsAny(path, "?#") || path == "" || strings.HasPrefix(path, ":memory:") {
		return nil, fmt.Errorf("sqlitestore: open %q: want a file path without '?' or '#'", path)
	}
	if opts.MaxKeys == 0 {
		opts.MaxKeys = DefaultMaxKeys
	}
	if opts.MaxMarkers == 0 {
		opts.MaxMarkers = DefaultMaxMarkers
	}
	if opts.BusyTimeout <= 0 {
		opts.BusyTimeout = 5 * time.Second
	}
	if opts.ReadConns <= 0 {
		opts.ReadConns = 4
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
	w, err := sql.Open("sqlite", dsn(path, writeBusyTimeout, true))
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxIdleTime(0)
	w.SetConnMaxLifetime(0)
	s := &Store{path: path, w: w, busy: opts.BusyTimeout, log: opts.Logger, now: opts.Now, stop: make(chan struct{}), swept: make(chan struct{}),
		txStmts: map[string]*sql.Stmt{}, prepared: map[string]*sql.Stmt{}}
	s.maxBatch = batchLimit()
	if opts.MaxKeys > 0 {
		s.maxKeys = int64(opts.MaxKeys)
	}
	if opts.MaxMarkers > 0 {
		s.maxMarkers = int64(opts.MaxMarkers)
	}
	fail := func(err error) (*Store, error) {
		_ = w.Close()
		if s.r != nil {
			_ = s.r.Close()
		}
		return nil, fmt.Errorf("sqlitestore: open %s: %w", path, err)
	}
	ctx := context.Background()
	if err := migrate(ctx, w, opts.BusyTimeout); err != nil {
		return fail(err)
	}
	if creating {
		// SQLite fsyncs the file's pages; its name lives in the directory,
		// which needs its own fsync (SQLite does that for its journals only).
		if err := syncDir(filepath.Dir(path)); err != nil {
			_, err = fail(fmt.Errorf("sync directory: %w", err))
			for _, suffix := range []string{"", "-wal", "-shm"} { // holds nothing yet: the next Open starts afresh
				_ = os.Remove(path + suffix) //nolint:gosec // the files this Open just created
			}
			return nil, err
		}
	}
	err = retryBusy(ctx, opts.BusyTimeout, func() (err error) {
		for _, q := range append([]string{incrementSQL, incrementNewSQL}, batchQueries...) {
			if s.prepared[q] != nil { // by a try before this one
				continue
			}
			if s.prepared[q], err = w.PrepareContext(ctx, q); err != nil {
				return err
			}
		}
		s.incr, s.incrNew = s.prepared[incrementSQL], s.prepared[incrementNewSQL]
		return nil
	})
	if err != nil {
		return fail(err)
	}
	s.r, err = sql.Open("sqlite", dsn(path, opts.BusyTimeout, false))
	if err != nil {
		return fail(err)
	}
	s.r.SetMaxOpenConns(opts.ReadConns)
	s.r.SetMaxIdleConns(opts.ReadConns)
	if err := s.r.PingContext(ctx); err != nil {
		return fail(err)
	}
	go s.sweeper(opts.SweepInterval)
	return s, nil
}

// migrate brings the file's schema to len(migrations), each step in one
// transaction with the version it reaches. Each statement and step waits
// up to busy for another process's write lock (see retryBusy).
func migrate(ctx context.Context, db *sql.DB, busy time.Duration) error {
	err := retryBusy(ctx, busy, func() error {
		_, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`)
		return err
	})
	if err != nil {
		return fmt.Errorf("schema: %w", err)
	}
	for {
		var v int
		err := retryBusy(ctx, busy, func() error {
			return tryTx(ctx, db, func(tx *sql.Tx) error { // IMMEDIATE: one process migrates at a time
				v = 0
				err := tx.QueryRowContext(ctx, `SELECT version FROM schema_version`).Scan(&v)
				if errors.Is(err, sql.ErrNoRows) {
					_, err = tx.ExecContext(ctx, `INSERT INTO schema_version VALUES (0)`)
				}
				if err != nil {
					return err
				}
				if v > len(migrations) {
					return fmt.Errorf("version %d is newer than this program's %d: upgrade the program", v, len(migrations))
				}
				if v == len(migrations) {
					return errRollback
				}
				if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
					return fmt.Errorf("migration %d: %w", v+1, err)
				}
				if _, err := tx.ExecContext(ctx, `UPDATE schema_version SET version = ?`, v+1); err != nil {
					return fmt.Errorf("migration %d: %w", v+1, err)
				}
				return nil
			})
		})
		if errors.Is(err, errRollback) { // at the newest version
			return nil
		}
		if err != nil {
			return fmt.Errorf("schema: %w", err)
		}
	}
}

// Close stops the sweeper and closes the file. Calls after Close fail.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		s.batches.Wait()
		close(s.stop)
		<-s.swept
		var errs []error
		for _, st := range s.prepared { // with s.incr and s.incrNew
			errs = append(errs, st.Close())
		}
		err := errors.Join(append(errs, s.r.Close(), s.w.Close())...)
		if err != nil {
			s.closeErr = fmt.Errorf("sqlitestore: close: %w", err)
		}
	})
	return s.closeErr
}

// Path returns the file's path.
func (s *Store) Path() string { return s.path }

// Increment adds one visit to key and returns the new count, on disk when
// it returns. It is one SQL statement for a key that exists; the first
// count of a new key takes a second.
func (s *Store) Increment(ctx context.Context, key string) (int64, error) {
	return s.add(ctx, "increment", key, 1)
}

// Add adds n >= 1 visits to key, as Increment adds one, and returns the new
// count.
func (s *Store) Add(ctx context.Context, key string, n int64) (int64, error) {
	return s.add(ctx, "add", key, n)
}

func (s *Store) add(ctx context.Context, op, key string, n int64) (int64, error) {
	if err := counter.CheckKey(key); err != nil {
		return 0, err
	}
	if n < 1 {
		return 0, fmt.Errorf("sqlitestore: add %d to %q: n must be at least 1", n, key)
	}
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("sqlitestore: %s %q: %w", op, key, err)
	}
	var count int64
	err := retryBusy(ctx, s.busy, func() error { // one statement each: a busy one wrote nothing
		err := s.incr.QueryRowContext(ctx, key, n).Scan(&count)
		if errors.Is(err, sql.ErrNoRows) { // a new key, or an overflow
			err = s.incrNew.QueryRowContext(ctx, key, n, s.maxKeys).Scan(&count)
		}
		return err
	})
	if errors.Is(err, sql.ErrNoRows) {
		return 0, s.refusal(ctx, op, key, n)
	}
	if err != nil {
		return 0, fmt.Errorf("sqlitestore: %s %q: %w", op, key, err)
	}
	return count, nil
}

// refusal tells why the increment statement wrote nothing.
func (s *Store) refusal(ctx context.Context, op, key string, n int64) error {
	var cur int64
	err := s.r.QueryRowContext(ctx, `SELECT count FROM counts WHERE key = ?`, key).Scan(&cur)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("%w: %s %q refused, the store holds %d keys", ErrTooManyKeys, op, key, s.maxKeys)
	case err != nil:
		return fmt.Errorf("sqlitestore: %s %q: %w", op, key, err)
	default:
		return fmt.Errorf("sqlitestore: %s %d to %q (count %d): %w", op, n, key, cur, counter.ErrOverflow)
	}
}

// Count returns the count of key without changing it; a key never counted
// reads 0.
func (s *Store) Count(ctx context.Context, key string) (int64, error) {
	if err := counter.CheckKey(key); err != nil {
		return 0, err
	}
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("sqlitestore: count %q: %w", key, err)
	}
	var n int64
	err := s.r.QueryRowContext(ctx, `SELECT count FROM counts WHERE key = ?`, key).Scan(&n)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("sqlitestore: count %q: %w", key, err)
	}
	return n, nil
}

// NumKeys returns the number of distinct keys in the store.
func (s *Store) NumKeys(ctx context.Context) (int, error) {
	var n int
	if err := s.r.QueryRowContext(ctx, `SELECT value FROM tallies WHERE name = 'keys'`).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlitestore: keys: %w", err)
	}
	return n, nil
}
