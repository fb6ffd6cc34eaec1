package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"strings"
	"time"

	"github.com/resumecounter/counter"
)

// RecordVisit counts v in one transaction: the key's count and visitors,
// v.Date's numbers and the markers change together or not at all. See
// [counter.VisitStore]. Concurrent calls share a transaction and its fsync
// (group commit), each visit counted after those before it, so that each
// answer is exact and is given only once its transaction is on disk; a
// visit that fails is left out and the others are recorded again without
// it, and a transaction that fails to commit fails all its callers and
// counts none of them. A visit that needs a new marker past
// [Options.MaxMarkers] fails with an error wrapping counter.ErrMarkersFull
// and writes nothing; counter.Visitors then counts it as a hit only. A zero
// v.Time is now by [Options.Now].
func (s *Store) RecordVisit(ctx context.Context, v counter.Visit) (counter.Stats, bool, error) {
	if err := counter.CheckVisit(v); err != nil {
		return counter.Stats{}, false, err
	}
	if err := ctx.Err(); err != nil {
		return counter.Stats{}, false, fmt.Errorf("sqlitestore: record visit %q: %w", v.Key, err)
	}
	at := v.Time
	if at.IsZero() {
		at = s.now()
	}
	r := &visitReq{v: v, at: at, done: make(chan struct{})}
	if err := s.recordBatched(ctx, r); err != nil {
		return counter.Stats{}, false, fmt.Errorf("sqlitestore: record visit %q: %w", v.Key, err)
	}
	if r.err != nil {
		return counter.Stats{}, false, r.err
	}
	return r.st, r.counted, nil
}

// errRollback makes inTx roll back without it being a failure.
var errRollback = errors.New("rollback")

// The statements of a batch, prepared once on the writer (see batchQueries).
const (
	qTallies = `SELECT
	(SELECT value FROM tallies WHERE name = 'keys'),
	(SELECT value FROM tallies WHERE name = 'visitor_marks'),
	(SELECT value FROM tallies WHERE name = 'visit_ids')`
	qKey        = `SELECT count, visitors FROM counts WHERE key = ?`
	qDay        = `SELECT count, visitors FROM days WHERE key = ? AND date = ?`
	qIDExpires  = `SELECT expires FROM visit_ids WHERE key = ? AND id = ?`
	qMarksAfter = `SELECT seq, date, key, visitor FROM visitor_marks WHERE seq > ? ORDER BY seq`
	qAddIDIfNew = `INSERT INTO visit_ids (key, id, expires) VALUES (?, ?, ?)
ON CONFLICT (key, id) DO NOTHING`
	qAddID   = `INSERT INTO visit_ids (key, id, expires) VALUES (?1, ?2, ?3)`
	qRenewID = `UPDATE visit_ids SET expires = ?3 WHERE key = ?1 AND id = ?2`
	qSetKey  = `INSERT INTO counts (key, count, visitors) VALUES (?1, ?2, ?3)
ON CONFLICT (key) DO UPDATE SET count = excluded.count, visitors = excluded.visitors`
	qSetDay = `INSERT INTO days (key, date, count, visitors) VALUES (?1, ?2, ?3, ?4)
ON CONFLICT (key, date) DO UPDATE SET count = excluded.count, visitors = excluded.visitors`
	qAddTally = `UPDATE tallies SET value = value + ? WHERE name = ?`
)

// qAddMarkers[i] appends 2^i visitor markers in one statement. A batch
// stores its new markers in as many of them as the binary digits of their
// number hold ones: at most eight statements for 128.
var qAddMarkers = func() (qs [8]string) {
	for i := range qs {
		qs[i] = "INSERT INTO visitor_marks (date, key, visitor) VALUES (?, ?, ?)" +
			strings.Repeat(", (?, ?, ?)", 1<<i-1)
	}
	return qs
}()

// batchQueries are prepared by Open on the writer connection, so that a
// batch's transaction reuses them instead of preparing its own.
var batchQueries = append([]string{qTallies, qKey, qDay, qIDExpires, qMarksAfter, qAddIDIfNew,
	qAddID, qRenewID, qSetKey, qSetDay, qAddTally}, qAddMarkers[:]...)

// A batchTx is what one batch's transaction knows beyond its statements:
// the numbers of the keys and days its visits touched and the tallies, each
// read once, then kept in Go as the visits change them and written back
// once, by flush, before the commit.
type batchTx struct {
	s  *Store
	tx *sql.Tx

	tallied          bool
	keys, marks, ids int64 // the tallies, with this batch's changes

	addedIDs int64       // visit id markers this batch stored
	newMarks []newMarker // the visitor markers flush stores
	lastSeq  int64       // the highest seq flush stored
	counts   map[string]*numbers
	days     map[dayOf]*numbers
	changed  []changedRow // in the order first changed
}

// numbers are a count and its visitors, of a key or of one of its days.
type numbers struct {
	count, visitors int64
	stored          bool // a row holds them, or will when flushed
	changed         bool
}

type dayOf struct {
	key  string
	date counter.Date
}

type changedRow struct {
	day dayOf // day.date is empty for the key's own row
	n   *numbers
}

func newBatchTx(s *Store, tx *sql.Tx) *batchTx {
	return &batchTx{s: s, tx: tx, counts: map[string]*numbers{}, days: map[dayOf]*numbers{}}
}

func (b *batchTx) stmt(ctx context.Context, query string) stmtRunner {
	return b.s.stmt(ctx, b.tx, query)
}

// readTallies reads the key and marker tallies, once per batch.
func (b *batchTx) readTallies(ctx context.Context) error {
	if b.tallied {
		return nil
	}
	err := b.stmt(ctx, qTallies).QueryRowContext(ctx).Scan(&b.keys, &b.marks, &b.ids)
	b.tallied = err == nil
	return err
}

// key returns key's numbers, read once per batch.
func (b *batchTx) key(ctx context.Context, key string) (*numbers, error) {
	if n, ok := b.counts[key]; ok {
		return n, nil
	}
	n := &numbers{stored: true}
	err := b.stmt(ctx, qKey).QueryRowContext(ctx, key).Scan(&n.count, &n.visitors)
	if errors.Is(err, sql.ErrNoRows) {
		n.stored, err = false, nil
	}
	if err != nil {
		return nil, err
	}
	b.counts[key] = n
	return n, nil
}

// day returns key's numbers on date, read once per batch.
func (b *batchTx) day(ctx context.Context, key string, date counter.Date) (*numbers, error) {
	if n, ok := b.days[dayOf{key, date}]; ok {
		return n, nil
	}
	n := &numbers{stored: true}
	err := b.stmt(ctx, qDay).QueryRowContext(ctx, key, string(date)).Scan(&n.count, &n.visitors)
	if errors.Is(err, sql.ErrNoRows) {
		n.stored, err = false, nil
	}
	if err != nil {
		return nil, err
	}
	b.days[dayOf{key, date}] = n
	return n, nil
}

// add counts one visit, and a visitor if newVisitor, in n.
func (b *batchTx) add(n *numbers, row dayOf, newVisitor bool) {
	if !n.changed {
		n.changed = true
		b.changed = append(b.changed, changedRow{row, n})
	}
	n.count++
	if newVisitor {
		n.visitors++
	}
}

// flush writes the batch's new visitor markers, numbers and tally
// changes; the key tally follows new keys by the counts_insert trigger.
func (b *batchTx) flush(ctx context.Context) error {
	var args []any
	for rest := b.newMarks; len(rest) > 0; {
		i := min(bits.Len(uint(len(rest)))-1, len(qAddMarkers)-1) // the most rows a statement can take, 2^i
		args = args[:0]
		for j := range rest[:1<<i] {
			args = append(args, string(rest[j].date), rest[j].key, rest[j].visitor[:])
		}
		res, err := b.stmt(ctx, qAddMarkers[i]).ExecContext(ctx, args...)
		if err != nil {
			return err
		}
		if b.lastSeq, err = res.LastInsertId(); err != nil { // the markers' seqs rise in their order
			return err
		}
		rest = rest[1<<i:]
	}
	for _, c := range b.changed {
		var err error
		if c.day.date == "" {
			_, err = b.stmt(ctx, qSetKey).ExecContext(ctx, c.day.key, c.n.count, c.n.visitors)
		} else {
			_, err = b.stmt(ctx, qSetDay).ExecContext(ctx, c.day.key, string(c.day.date), c.n.count, c.n.visitors)
		}
		if err != nil {
			return err
		}
	}
	for _, t := range []struct {
		name  string
		added int64
	}{{"visitor_marks", int64(len(b.newMarks))}, {"visit_ids", b.addedIDs}} {
		if t.added == 0 {
			continue
		}
		if _, err := b.stmt(ctx, qAddTally).ExecContext(ctx, t.added, t.name); err != nil {
			return err
		}
	}
	return nil
}

// insertNew runs an insert that does nothing on a conflict and reports
// whether it inserted. (RETURNING would tell as well, but it makes SQLite
// keep a statement journal for the insert: a 64 KiB buffer allocated and
// freed at each statement.)
func (b *batchTx) insertNew(ctx context.Context, query string, args ...any) (bool, error) {
	res, err := b.stmt(ctx, query).ExecContext(ctx, args...)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// seen tells whether v's visitor has a marker of its day, stored before
// the batch or by one of its visits.
func (b *batchTx) seen(v counter.Visit) bool {
	if b.s.marks.has(v.Date, v.Key, v.Visitor) {
		return true
	}
	for _, n := range b.newMarks {
		if n.date == v.Date && n.visitor == v.Visitor && n.key == v.Key {
			return true
		}
	}
	return false
}

// record counts v, at time at, after the batch's visits before it. Every
// refusal is decided before anything is written. Visitor markers are
// looked up in memory (markerSet). A visit that no cap and no overflow can
// refuse, whatever the markers hold (the common case), stores its visit id
// with an insert that does nothing for an id already there, which tells
// new from seen in one statement; otherwise the id is read first.
func (b *batchTx) record(ctx context.Context, v counter.Visit, at time.Time) (st counter.Stats, counted bool, refused, err error) {
	s := b.s
	st.Key, st.Today.Date = v.Key, v.Date
	k, err := b.key(ctx, v.Key)
	if err != nil {
		return
	}
	d, err := b.day(ctx, v.Key, v.Date)
	if err != nil {
		return
	}
	if err = b.readTallies(ctx); err != nil {
		return
	}
	st.Count, st.Visitors, st.Today.Count, st.Today.Visitors = k.count, k.visitors, d.count, d.visitors
	fresh := at.Before(counter.VisitorExpiry(v.Date)) // a marker of v.Date is still valid
	fast := (k.stored || s.maxKeys <= 0 || b.keys < s.maxKeys) &&
		(s.maxMarkers <= 0 || b.marks < s.maxMarkers && b.ids < s.maxMarkers) &&
		max(k.count, k.visitors, d.count, d.visitors) < math.MaxInt64 &&
		(v.Visitor.IsZero() || fresh)

	idStored, idFound := false, false // stored here; an expired marker, renewed below
	exp := at.Add(counter.VisitIDTTL).UnixNano()
	if v.ID != "" {
		if fast {
			if idStored, err = b.insertNew(ctx, qAddIDIfNew, v.Key, v.ID, exp); err != nil {
				return
			}
		}
		if !idStored {
			var old int64
			err = b.stmt(ctx, qIDExpires).QueryRowContext(ctx, v.Key, v.ID).Scan(&old)
			switch {
			case errors.Is(err, sql.ErrNoRows):
				err = nil
			case err != nil:
				return
			case old > at.UnixNano():
				return // seen within VisitIDTTL: counts nothing
			default:
				idFound = true
			}
		}
	}
	if !k.stored && s.maxKeys > 0 && b.keys >= s.maxKeys {
		refused = fmt.Errorf("%w: record visit %q refused, the store holds %d keys", ErrTooManyKeys, v.Key, b.keys)
		return
	}
	newVisitor, storeMarker := false, false
	if !v.Visitor.IsZero() {
		seen := b.seen(v)
		// A marker seen after it expired (before the sweep deleted it)
		// marks nothing: the visit counts a visitor, as a fresh one would.
		switch {
		case seen && fresh:
		case seen:
			newVisitor = true
		case s.maxMarkers > 0 && b.marks >= s.maxMarkers:
			refused = fmt.Errorf("sqlitestore: record visit %q: %d visitor markers: %w", v.Key, b.marks, counter.ErrMarkersFull)
			return
		default:
			newVisitor, storeMarker = true, true
		}
	}
	if k.count == math.MaxInt64 || d.count == math.MaxInt64 ||
		newVisitor && (k.visitors == math.MaxInt64 || d.visitors == math.MaxInt64) {
		refused = fmt.Errorf("sqlitestore: record visit %q (count %d, visitors %d, day %d and %d): %w",
			v.Key, k.count, k.visitors, d.count, d.visitors, counter.ErrOverflow)
		return
	}
	if v.ID != "" && !idStored && !idFound && s.maxMarkers > 0 && b.ids >= s.maxMarkers {
		refused = fmt.Errorf("sqlitestore: record visit %q: %d visit id markers: %w", v.Key, b.ids, counter.ErrMarkersFull)
		return
	}
	// Every refusal is above: from here on the visit is written. (On the
	// fast path nothing above can refuse once a visit id is stored.)
	if storeMarker { // stored by flush, with the batch's others
		b.newMarks = append(b.newMarks, newMarker{v.Date, dayMarker{v.Key, v.Visitor}})
		b.marks++
	}
	switch {
	case idFound:
		_, err = b.stmt(ctx, qRenewID).ExecContext(ctx, v.Key, v.ID, exp)
	case v.ID != "" && !idStored:
		_, err = b.stmt(ctx, qAddID).ExecContext(ctx, v.Key, v.ID, exp)
	}
	if err != nil {
		return
	}
	if v.ID != "" && !idFound {
		b.ids++
		b.addedIDs++
	}
	if !k.stored {
		k.stored = true
		b.keys++
	}
	d.stored = true
	b.add(k, dayOf{key: v.Key}, newVisitor)
	b.add(d, dayOf{v.Key, v.Date}, newVisitor)
	st.Count, st.Visitors, st.Today.Count, st.Today.Visitors = k.count, k.visitors, d.count, d.visitors
	counted = true
	return
}

// Stats reads key's numbers, with today's, without counting.
func (s *Store) Stats(ctx context.Context, key string, today counter.Date) (counter.Stats, error) {
	if err := counter.CheckKey(key); err != nil {
		return counter.Stats{}, err
	}
	if !today.Valid() {
		return counter.Stats{}, fmt.Errorf("sqlitestore: stats %q: %w: %q", key, counter.ErrInvalidDate, today)
	}
	if err := ctx.Err(); err != nil {
		return counter.Stats{}, fmt.Errorf("sqlitestore: stats %q: %w", key, err)
	}
	st := counter.Stats{Key: key, Today: counter.Day{Date: today}}
	err := s.r.QueryRowContext(ctx, `SELECT
		coalesce((SELECT count FROM counts WHERE key = ?1), 0),
		coalesce((SELECT visitors FROM counts WHERE key = ?1), 0),
		coalesce((SELECT count FROM days WHERE key = ?1 AND date = ?2), 0),
		coalesce((SELECT visitors FROM days WHERE key = ?1 AND date = ?2), 0)`, key, string(today)).
		Scan(&st.Count, &st.Visitors, &st.Today.Count, &st.Today.Visitors)
	if err != nil {
		return counter.Stats{}, fmt.Errorf("sqlitestore: stats %q: %w", key, err)
	}
	return st, nil
}

// DaySalt returns day's salt, storing fresh if there is none yet. Salts are
// deleted by the sweep counter.VisitorMarkerTTL after the start of their
// day.
func (s *Store) DaySalt(ctx context.Context, day counter.Date, fresh []byte) ([]byte, error) {
	if !day.Valid() {
		return nil, fmt.Errorf("sqlitestore: day salt: %w: %q", counter.ErrInvalidDate, day)
	}
	if len(fresh) != counter.SaltLen {
		return nil, fmt.Errorf("sqlitestore: day salt %s: fresh salt of %d bytes, want %d", day, len(fresh), counter.SaltLen)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("sqlitestore: day salt %s: %w", day, err)
	}
	var salt []byte
	err := s.r.QueryRowContext(ctx, `SELECT salt FROM salts WHERE date = ?`, string(day)).Scan(&salt)
	if err == nil {
		return salt, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlitestore: day salt %s: %w", day, err)
	}
	// The first stored wins: insert if absent, then read what is there.
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO salts (date, salt) VALUES (?, ?) ON CONFLICT (date) DO NOTHING`, string(day), fresh); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, `SELECT salt FROM salts WHERE date = ?`, string(day)).Scan(&salt)
	})
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: day salt %s: %w", day, err)
	}
	return salt, nil
}

// History returns key's numbers from first to last, one Day per date, in
// one query.
func (s *Store) History(ctx context.Context, key string, first, last counter.Date) ([]counter.Day, error) {
	if err := counter.CheckKey(key); err != nil {
		return nil, err
	}
	if err := counter.CheckHistoryRange(key, first, last); err != nil {
		return nil, fmt.Errorf("sqlitestore: history %q: %w", key, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("sqlitestore: history %q: %w", key, err)
	}
	n := int(last.Time().Sub(first.Time())/(24*time.Hour)) + 1
	out := make([]counter.Day, n)
	for i := range out {
		out[i].Date = first.AddDays(i)
	}
	rows, err := s.r.QueryContext(ctx, `SELECT date, count, visitors FROM days WHERE key = ? AND date BETWEEN ? AND ? ORDER BY date`,
		key, string(first), string(last))
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: history %q: %w", key, err)
	}
	defer rows.Close()
	for rows.Next() {
		var d counter.Day
		if err := rows.Scan(&d.Date, &d.Count, &d.Visitors); err != nil {
			return nil, fmt.Errorf("sqlitestore: history %q: %w", key, err)
		}
		i := int(d.Date.Time().Sub(first.Time()) / (24 * time.Hour))
		if i < 0 || i >= n || out[i].Date != d.Date {
			return nil, fmt.Errorf("sqlitestore: history %q: stored day %q out of place", key, d.Date)
		}
		out[i] = d
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlitestore: history %q: %w", key, err)
	}
	return out, nil
}
