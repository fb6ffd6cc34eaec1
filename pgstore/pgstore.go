// Package pgstore keeps counts, unique visitors and daily history in
// PostgreSQL, through github.com/jackc/pgx/v5 (pgxpool).
//
// A count is one statement (INSERT … ON CONFLICT … DO UPDATE … RETURNING),
// exact under any concurrency and durable when it returns (PostgreSQL's
// default synchronous_commit). A visit is one statement too: its markers,
// the key's numbers and the day's numbers change together or not at all.
// Concurrent visits share a transaction and its commit (group commit):
// the store sends their statements as one pgx batch (one round trip, one
// implicit transaction), first taking a transaction-level advisory lock
// on each of the batch's keys in a fixed order, so that batches of several
// processes on one database do not deadlock. Each visit's answer is exact
// and is given only after its transaction committed; see
// [Store.RecordVisit].
//
// The tables (names start with [Options.Prefix], "counter_" by default):
//
//	counter_counts  key, count, visitors            one row per key
//	counter_days    key, day, count, visitors       one row per key and day with visits
//	counter_marks   key, mark, expires              visitor and visit id markers
//	counter_salts   day, salt, expires              each day's salt
//
// [Store.Migrate] creates them; [Store.Schema] returns the SQL for owners who
// manage schemas themselves. Markers and salts expire: expired ones count as
// absent at once and a background sweep deletes them, at most
// [Options.SweepLimit] rows per table per run.
package pgstore

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/resumecounter/counter"
)

// DefaultPrefix starts the table names unless [Options.Prefix] says otherwise.
const DefaultPrefix = "counter_"

// Options configures [New] and [Open]. The zero value works.
type Options struct {
	// Prefix starts every table name: lower-case letters, digits and
	// underscores, starting with a letter or underscore, at most 40 bytes.
	// Default: DefaultPrefix ("counter_").
	Prefix string
	// SweepInterval is how often expired markers and salts are deleted.
	// Default: 1 minute. Negative: never (call [Store.Sweep] yourself).
	SweepInterval time.Duration
	// SweepLimit is the most rows one sweep deletes from each table, so a
	// sweep stays short however many markers expired. Default: 1000.
	SweepLimit int
	// Now is the store's clock: the time of a visit whose Time is zero,
	// and the time the background sweep deletes expired markers and salts
	// by. Default: time.Now.
	Now func() time.Time
}

// Store is a counter store in PostgreSQL. It is safe for concurrent use by
// many goroutines and processes.
type Store struct {
	pool  *pgxpool.Pool
	opts  Options
	owned bool // Close closes the pool (Open made it)
	sql   queries

	stop     chan struct{}
	sweeping sync.WaitGroup
	once     sync.Once

	mu       sync.Mutex
	pending  []*visitReq // visits waiting for a batch
	running  bool        // a runBatches goroutine is running
	closed   bool
	batches  sync.WaitGroup
	maxBatch int // 0: maxBatch; 1 measures the store without batching

	// Test hooks, run by the batch runner: beforeSend before a batch is
	// sent, onBatch after one committed, onRetry before a batch aborted by
	// a deadlock or serialization failure is sent again.
	beforeSend func(visits int)
	onBatch    func(visits int)
	onRetry    func(err error)
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

var prefixRE = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,39}$`)

// New returns a store using pool. It does not create the tables: call
// [Store.Migrate] once, or create them with [Store.Schema]'s SQL. Close
// stops the sweep; it does not close pool.
func New(pool *pgxpool.Pool, opts Options) (*Store, error) {
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	if !prefixRE.MatchString(opts.Prefix) {
		return nil, fmt.Errorf("pgstore: table prefix %q: want lower-case letters, digits and _, starting with a letter or _, at most 40 bytes", opts.Prefix)
	}
	if opts.SweepInterval == 0 {
		opts.SweepInterval = time.Minute
	}
	if opts.SweepLimit <= 0 {
		opts.SweepLimit = 1000
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Store{pool: pool, opts: opts, sql: newQueries(opts.Prefix), stop: make(chan struct{})}
	if opts.SweepInterval > 0 {
		s.sweeping.Add(1)
		go s.sweepLoop()
	}
	return s, nil
}

// Open connects to the PostgreSQL server at url
// (postgres://user@host:port/db?sslmode=disable, or any connection string
// pgx reads), creates the tables if missing and returns the store. Close
// closes the connections.
func Open(ctx context.Context, url string, opts Options) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("pgstore: parse database URL: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("pgstore: connect: %w", err)
	}
	s, err := New(pool, opts)
	if err != nil {
		pool.Close()
		return nil, err
	}
	s.owned = true
	if err := s.Migrate(ctx); err != nil {
		_ = s.Close()
		return nil, err
	}
	return s, nil
}

// Close waits for the visits already queued to be answered, stops the
// background sweep and, for a store made by [Open], closes its connections.
// A visit recorded after Close fails.
func (s *Store) Close() error {
	s.once.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		s.batches.Wait()
		close(s.stop)
		s.sweeping.Wait()
		if s.owned {
			s.pool.Close()
		}
	})
	return nil
}

// Schema returns the SQL that creates the store's tables and index; it is
// safe to run more than once.
func (s *Store) Schema() string { return schema(s.opts.Prefix) }

func schema(p string) string {
	return strings.ReplaceAll(`CREATE TABLE IF NOT EXISTS {p}counts (
	key      text COLLATE "C" PRIMARY KEY,
	count    bigint NOT NULL DEFAULT 0 CHECK (count >= 0),
	visitors bigint NOT NULL DEFAULT 0 CHECK (visitors >= 0)
);
CREATE TABLE IF NOT EXISTS {p}days (
	key      text COLLATE "C" NOT NULL,
	day      date NOT NULL,
	count    bigint NOT NULL DEFAULT 0 CHECK (count >= 0),
	visitors bigint NOT NULL DEFAULT 0 CHECK (visitors >= 0),
	PRIMARY KEY (key, day)
);
CREATE TABLE IF NOT EXISTS {p}marks (
	key     text COLLATE "C" NOT NULL,
	mark    text COLLATE "C" NOT NULL,
	expires timestamptz NOT NULL,
	PRIMARY KEY (key, mark)
);
CREATE INDEX IF NOT EXISTS {p}marks_expires ON {p}marks (expires);
CREATE TABLE IF NOT EXISTS {p}salts (
	day     date PRIMARY KEY,
	salt    bytea NOT NULL,
	expires timestamptz NOT NULL
);
`, "{p}", p)
}

// Migrate creates the store's tables if they do not exist. Many processes
// may call it at once on one database: it runs in one transaction holding a
// transaction-level advisory lock named for the prefix, since PostgreSQL's
// CREATE TABLE IF NOT EXISTS fails, rather than waits, when another
// transaction creates the same table at the same time.
func (s *Store) Migrate(ctx context.Context) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext($1))`, "pgstore migrate "+s.opts.Prefix); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, s.Schema())
		return err
	})
	if err != nil {
		return fmt.Errorf("pgstore: migrate: %w", err)
	}
	return nil
}

type queries struct {
	add, count, visit, stats, history, saltInsert, saltSelect     string
	ensure, setCount, export, exportDays, importCount, importDays string
	keys, sweepMarks, sweepSalts, vacuumSalts, lockKeys           string
}

func newQueries(p string) queries {
	r := strings.NewReplacer("{p}", p)
	return queries{
		add: r.Replace(`INSERT INTO {p}counts AS t (key, count) VALUES ($1, $2)
ON CONFLICT (key) DO UPDATE SET count = t.count + EXCLUDED.count RETURNING count`),
		count: r.Replace(`SELECT count FROM {p}counts WHERE key = $1`),
		// One statement: the visit id marker decides (go); then the
		// visitor marker, the key's and the day's numbers. An expired
		// marker is replaced as if absent. Overflow raises 22003 and the
		// whole statement writes nothing.
		visit: r.Replace(`WITH
idm AS (
	INSERT INTO {p}marks AS m (key, mark, expires)
	SELECT $1, 'i:' || $2::text, $3::timestamptz WHERE $2::text <> ''
	ON CONFLICT (key, mark) DO UPDATE SET expires = EXCLUDED.expires WHERE m.expires <= $4::timestamptz
	RETURNING 1
),
go AS (SELECT $2::text = '' OR EXISTS (SELECT 1 FROM idm) AS ok),
vm AS (
	INSERT INTO {p}marks AS m (key, mark, expires)
	SELECT $1, $5::text, $6::timestamptz FROM go WHERE go.ok AND $5::text <> ''
	ON CONFLICT (key, mark) DO UPDATE SET expires = EXCLUDED.expires WHERE m.expires <= $4::timestamptz
	RETURNING 1
),
nv AS (SELECT count(*)::bigint AS n FROM vm),
c AS (
	INSERT INTO {p}counts AS t (key, count, visitors)
	SELECT $1, 1, nv.n FROM go, nv WHERE go.ok
	ON CONFLICT (key) DO UPDATE SET count = t.count + 1, visitors = t.visitors + EXCLUDED.visitors
	RETURNING count, visitors
),
d AS (
	INSERT INTO {p}days AS t (key, day, count, visitors)
	SELECT $1, $7::date, 1, nv.n FROM go, nv WHERE go.ok
	ON CONFLICT (key, day) DO UPDATE SET count = t.count + 1, visitors = t.visitors + EXCLUDED.visitors
	RETURNING count, visitors
)
SELECT go.ok,
	COALESCE((SELECT count FROM c), (SELECT count FROM {p}counts WHERE key = $1), 0),
	COALESCE((SELECT visitors FROM c), (SELECT visitors FROM {p}counts WHERE key = $1), 0),
	COALESCE((SELECT count FROM d), (SELECT count FROM {p}days WHERE key = $1 AND day = $7::date), 0),
	COALESCE((SELECT visitors FROM d), (SELECT visitors FROM {p}days WHERE key = $1 AND day = $7::date), 0)
FROM go`),
		stats: r.Replace(`SELECT
	COALESCE((SELECT count FROM {p}counts WHERE key = $1), 0),
	COALESCE((SELECT visitors FROM {p}counts WHERE key = $1), 0),
	COALESCE((SELECT count FROM {p}days WHERE key = $1 AND day = $2::date), 0),
	COALESCE((SELECT visitors FROM {p}days WHERE key = $1 AND day = $2::date), 0)`),
		history: r.Replace(`SELECT day, count, visitors FROM {p}days
WHERE key = $1 AND day BETWEEN $2::date AND $3::date ORDER BY day`),
		saltInsert: r.Replace(`INSERT INTO {p}salts (day, salt, expires) VALUES ($1::date, $2, $3)
ON CONFLICT (day) DO NOTHING RETURNING salt`),
		saltSelect: r.Replace(`SELECT salt FROM {p}salts WHERE day = $1::date`),
		ensure:     r.Replace(`INSERT INTO {p}counts (key) VALUES ($1) ON CONFLICT (key) DO NOTHING`),
		setCount: r.Replace(`UPDATE {p}counts AS t SET count = $2
FROM (SELECT key, count FROM {p}counts WHERE key = $1 FOR UPDATE) AS old
WHERE t.key = old.key RETURNING old.count`),
		export: r.Replace(`SELECT count, visitors FROM {p}counts WHERE key = $1`),
		exportDays: r.Replace(`SELECT day, count, visitors FROM {p}days
WHERE key = $1 AND (count <> 0 OR visitors <> 0) ORDER BY day`),
		importCount: r.Replace(`INSERT INTO {p}counts AS t (key, count, visitors) VALUES ($1, $2, $3)
ON CONFLICT (key) DO UPDATE SET count = EXCLUDED.count, visitors = EXCLUDED.visitors`),
		importDays: r.Replace(`INSERT INTO {p}days AS t (key, day, count, visitors)
SELECT $1, d, c, v FROM unnest($2::date[], $3::bigint[], $4::bigint[]) AS u(d, c, v)
ON CONFLICT (key, day) DO UPDATE SET count = EXCLUDED.count, visitors = EXCLUDED.visitors`),
		keys: r.Replace(`SELECT key FROM {p}counts ORDER BY key`),
		// A batch's first statement: its keys' advisory locks, taken in
		// the order of their ids (see Store.lockKeys). The function is
		// volatile, so PostgreSQL calls it after the sort.
		lockKeys: `SELECT pg_advisory_xact_lock(id) FROM unnest($1::bigint[]) AS u(id) ORDER BY id`,
		// The sweep locks the markers it deletes without waiting, skipping
		// any another transaction holds (a batch's visit reusing an expired
		// marker, another store's sweep): a sweep that waited for such a
		// row while holding the rows it deleted before it could deadlock
		// with a batch taking them in another order. A skipped marker is
		// deleted by a later sweep if it is still expired then.
		sweepMarks: r.Replace(`DELETE FROM {p}marks WHERE ctid = ANY (ARRAY(
	SELECT ctid FROM {p}marks WHERE expires <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED))`),
		sweepSalts: r.Replace(`DELETE FROM {p}salts WHERE ctid = ANY (ARRAY(
	SELECT ctid FROM {p}salts WHERE expires <= $1 LIMIT $2))`),
		vacuumSalts: r.Replace(`VACUUM {p}salts`),
	}
}

// wrap prefixes err with the operation and tells an ambiguous failure (the
// statement may have run) from one where nothing was sent.
func wrap(op string, err error) error {
	var pgErr *pgconn.PgError
	switch {
	case errors.As(err, &pgErr) && pgErr.Code == "22003": // numeric_value_out_of_range
		return fmt.Errorf("pgstore: %s: %w", op, counter.ErrOverflow)
	case errors.As(err, &pgErr), pgconn.SafeToRetry(err):
		return fmt.Errorf("pgstore: %s: %w", op, err)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("pgstore: %s: outcome unknown: %w", op, err)
	default:
		return fmt.Errorf("pgstore: %s: outcome unknown, the connection failed after sending: %w", op, err)
	}
}

// Increment adds one visit to key and returns the new count.
func (s *Store) Increment(ctx context.Context, key string) (int64, error) {
	return s.add(ctx, "increment", key, 1)
}

// Add adds n >= 1 visits to key in one statement and returns the new count.
func (s *Store) Add(ctx context.Context, key string, n int64) (int64, error) {
	return s.add(ctx, "add", key, n)
}

func (s *Store) add(ctx context.Context, op, key string, n int64) (int64, error) {
	if err := counter.CheckKey(key); err != nil {
		return 0, err
	}
	if n < 1 {
		return 0, fmt.Errorf("pgstore: add %d to %q: n must be at least 1", n, key)
	}
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("pgstore: %s %q: %w", op, key, err)
	}
	var c int64
	if err := s.pool.QueryRow(ctx, s.sql.add, key, n).Scan(&c); err != nil {
		return 0, wrap(fmt.Sprintf("%s %q", op, key), err)
	}
	return c, nil
}

// Count returns key's count; a key never counted reads 0.
func (s *Store) Count(ctx context.Context, key string) (int64, error) {
	if err := counter.CheckKey(key); err != nil {
		return 0, err
	}
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("pgstore: count %q: %w", key, err)
	}
	var c int64
	err := s.pool.QueryRow(ctx, s.sql.count, key).Scan(&c)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, wrap(fmt.Sprintf("count %q", key), err)
	}
	return c, nil
}

// RecordVisit counts v; see [counter.VisitStore]. Concurrent calls share
// a transaction and its commit (group commit): they are sent as one
// pipeline of the visit statement, one per visit in the order they came,
// so that each answer is exact, and a visit is answered only once its
// transaction has committed. A visit whose statement fails (an overflow
// wraps counter.ErrOverflow) fails alone and the others are sent again
// without it; a transaction that fails to commit fails all its visits and
// counts none. A caller whose ctx ends before its visit is sent gets ctx's
// error and the visit is never written; once sent, its error says the
// outcome is unknown. A zero v.Time is now by [Options.Now].
func (s *Store) RecordVisit(ctx context.Context, v counter.Visit) (counter.Stats, bool, error) {
	if err := counter.CheckVisit(v); err != nil {
		return counter.Stats{}, false, err
	}
	if err := ctx.Err(); err != nil {
		return counter.Stats{}, false, fmt.Errorf("pgstore: visit of %q: %w", v.Key, err)
	}
	r := &visitReq{
		ctx:  ctx,
		key:  v.Key,
		args: s.visitArgs(v),
		st:   counter.Stats{Key: v.Key, Today: counter.Day{Date: v.Date}},
		done: make(chan struct{}),
	}
	if err := s.recordBatched(ctx, r); err != nil {
		return counter.Stats{}, false, err
	}
	if r.err != nil {
		return counter.Stats{}, false, r.err
	}
	return r.st, r.counted, nil
}

// visitArgs returns the visit statement's arguments for v.
func (s *Store) visitArgs(v counter.Visit) []any {
	if v.Time.IsZero() {
		v.Time = s.opts.Now()
	}
	var vmark string
	if !v.Visitor.IsZero() {
		vmark = fmt.Sprintf("v:%s:%x", v.Date, v.Visitor[:])
	}
	return []any{v.Key, v.ID, v.Time.Add(counter.VisitIDTTL), v.Time, vmark, counter.VisitorExpiry(v.Date), v.Date.Time()}
}

// Stats reads key's numbers, today's being those of today, in one query.
func (s *Store) Stats(ctx context.Context, key string, today counter.Date) (counter.Stats, error) {
	if err := counter.CheckKey(key); err != nil {
		return counter.Stats{}, err
	}
	if !today.Valid() {
		return counter.Stats{}, fmt.Errorf("pgstore: stats of %q: %w: %q", key, counter.ErrInvalidDate, today)
	}
	if err := ctx.Err(); err != nil {
		return counter.Stats{}, fmt.Errorf("pgstore: stats of %q: %w", key, err)
	}
	st := counter.Stats{Key: key, Today: counter.Day{Date: today}}
	if err := s.pool.QueryRow(ctx, s.sql.stats, key, today.Time()).
		Scan(&st.Count, &st.Visitors, &st.Today.Count, &st.Today.Visitors); err != nil {
		return counter.Stats{}, wrap(fmt.Sprintf("stats of %q", key), err)
	}
	return st, nil
}

// History reads key's daily numbers from first to last in one query.
func (s *Store) History(ctx context.Context, key string, first, last counter.Date) ([]counter.Day, error) {
	if err := counter.CheckHistoryRange(key, first, last); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("pgstore: history of %q: %w", key, err)
	}
	rows, err := s.pool.Query(ctx, s.sql.history, key, first.Time(), last.Time())
	if err != nil {
		return nil, wrap(fmt.Sprintf("history of %q", key), err)
	}
	stored, err := scanDays(rows)
	if err != nil {
		return nil, wrap(fmt.Sprintf("history of %q", key), err)
	}
	var days []counter.Day
	for d := first; d <= last; d = d.AddDays(1) {
		day := counter.Day{Date: d}
		if len(stored) > 0 && stored[0].Date == d {
			day, stored = stored[0], stored[1:]
		}
		days = append(days, day)
	}
	return days, nil
}

func scanDays(rows pgx.Rows) ([]counter.Day, error) {
	var days []counter.Day
	var (
		t    time.Time
		c, v int64
	)
	_, err := pgx.ForEachRow(rows, []any{&t, &c, &v}, func() error {
		days = append(days, counter.Day{Date: counter.DateOf(t.UTC()), Count: c, Visitors: v})
		return nil
	})
	return days, err
}

// DaySalt returns day's salt, storing fresh if there is none; see
// [counter.VisitStore]. Racing callers converge on the first one stored.
func (s *Store) DaySalt(ctx context.Context, day counter.Date, fresh []byte) ([]byte, error) {
	if !day.Valid() {
		return nil, fmt.Errorf("pgstore: salt: %w: %q", counter.ErrInvalidDate, day)
	}
	if len(fresh) != counter.SaltLen {
		return nil, fmt.Errorf("pgstore: salt of %s: %d bytes, want %d", day, len(fresh), counter.SaltLen)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("pgstore: salt of %s: %w", day, err)
	}
	var salt []byte
	err := s.pool.QueryRow(ctx, s.sql.saltInsert, day.Time(), fresh, counter.VisitorExpiry(day)).Scan(&salt)
	if errors.Is(err, pgx.ErrNoRows) {
		// Another caller stored it first; this statement's snapshot may
		// predate its commit, so read it in a new one.
		err = s.pool.QueryRow(ctx, s.sql.saltSelect, day.Time()).Scan(&salt)
	}
	if err != nil {
		return nil, wrap(fmt.Sprintf("salt of %s", day), err)
	}
	return salt, nil
}

// SetCount sets key's count to n and returns the count it replaced; see
// [counter.Editor].
func (s *Store) SetCount(ctx context.Context, key string, n int64) (int64, error) {
	if err := counter.CheckKey(key); err != nil {
		return 0, err
	}
	if n < 0 {
		return 0, fmt.Errorf("pgstore: set %q to %d: a count cannot be negative", key, n)
	}
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("pgstore: set %q: %w", key, err)
	}
	var old int64
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, s.sql.ensure, key); err != nil {
			return err
		}
		return tx.QueryRow(ctx, s.sql.setCount, key, n).Scan(&old)
	})
	if err != nil {
		return 0, wrap(fmt.Sprintf("set %q", key), err)
	}
	return old, nil
}

// Export returns key's record, read in one snapshot.
func (s *Store) Export(ctx context.Context, key string) (counter.Record, error) {
	if err := counter.CheckKey(key); err != nil {
		return counter.Record{}, err
	}
	if err := ctx.Err(); err != nil {
		return counter.Record{}, fmt.Errorf("pgstore: export %q: %w", key, err)
	}
	r := counter.Record{Key: key, Days: []counter.Day{}}
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, s.sql.export, key).Scan(&r.Count, &r.Visitors)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		rows, err := tx.Query(ctx, s.sql.exportDays, key)
		if err != nil {
			return err
		}
		days, err := scanDays(rows)
		if days != nil {
			r.Days = days
		}
		return err
	})
	if err != nil {
		return counter.Record{}, wrap(fmt.Sprintf("export %q", key), err)
	}
	return r, nil
}

// Import replaces r.Key's numbers and each listed day's, in one
// transaction; see [counter.Editor].
func (s *Store) Import(ctx context.Context, r counter.Record) error {
	if err := counter.CheckRecord(r); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("pgstore: import %q: %w", r.Key, err)
	}
	dates := make([]time.Time, len(r.Days))
	counts := make([]int64, len(r.Days))
	visitors := make([]int64, len(r.Days))
	for i, d := range r.Days {
		dates[i], counts[i], visitors[i] = d.Date.Time(), d.Count, d.Visitors
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, s.sql.importCount, r.Key, r.Count, r.Visitors); err != nil {
			return err
		}
		if len(r.Days) == 0 {
			return nil
		}
		_, err := tx.Exec(ctx, s.sql.importDays, r.Key, dates, counts, visitors)
		return err
	})
	if err != nil {
		return wrap(fmt.Sprintf("import %q", r.Key), err)
	}
	return nil
}

// Keys lists every key with a count, sorted.
func (s *Store) Keys(ctx context.Context) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("pgstore: keys: %w", err)
	}
	rows, err := s.pool.Query(ctx, s.sql.keys)
	if err != nil {
		return nil, wrap("keys", err)
	}
	keys, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, wrap("keys", err)
	}
	return keys, nil
}

// Sweep deletes markers and salts expired at now, at most
// [Options.SweepLimit] of each, and returns how many rows it deleted. The
// store runs it every [Options.SweepInterval]; expired rows already count
// as absent before they are deleted. It skips the markers that another
// transaction holds (a visit reusing an expired marker, another store's
// sweep) rather than wait for them, so it never deadlocks with a batch of
// visits; a later sweep deletes them if they are still expired.
func (s *Store) Sweep(ctx context.Context, now time.Time) (int64, error) {
	var n int64
	for _, q := range []string{s.sql.sweepMarks, s.sql.sweepSalts} {
		tag, err := s.pool.Exec(ctx, q, now, s.opts.SweepLimit)
		if err != nil {
			return n, wrap("sweep", err)
		}
		n += tag.RowsAffected()
		if q == s.sql.sweepSalts && tag.RowsAffected() > 0 {
			// A deleted row stays in the table's file until a vacuum,
			// which autovacuum would start only after about 50 of them:
			// vacuum the small salts table now, so the salt's bytes leave it.
			if _, err := s.pool.Exec(ctx, s.sql.vacuumSalts); err != nil {
				return n, wrap("sweep: vacuum salts", err)
			}
		}
	}
	return n, nil
}

func (s *Store) sweepLoop() {
	defer s.sweeping.Done()
	t := time.NewTicker(s.opts.SweepInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			_, _ = s.Sweep(ctx, s.opts.Now()) // a failed sweep is retried next time; reads ignore expired rows
			cancel()
		}
	}
}
