package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/resumecounter/counter"
)

// RecordVisit counts v in one transaction: the key's count and visitors,
// v.Date's numbers and the markers change together or not at all. See
// [counter.VisitStore]. Concurrent calls share a transaction and its fsync
// (group commit), each visit in a savepoint of its own after those before
// it, so that each answer is exact and is given only once its transaction
// is on disk; a visit that fails is rolled back alone, and a transaction
// that fails to commit fails all its callers and counts none of them. A visit that needs a new marker past
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

func (s *Store) recordVisit(ctx context.Context, tx *sql.Tx, v counter.Visit, at time.Time) (st counter.Stats, counted bool, refused, err error) {
	st.Key, st.Today.Date = v.Key, v.Date
	found := true
	err = s.stmt(ctx, tx, `SELECT count, visitors FROM counts WHERE key = ?`).QueryRowContext(ctx, v.Key).Scan(&st.Count, &st.Visitors)
	if errors.Is(err, sql.ErrNoRows) {
		found, err = false, nil
	}
	if err != nil {
		return
	}
	err = s.stmt(ctx, tx, `SELECT count, visitors FROM days WHERE key = ? AND date = ?`).QueryRowContext(ctx, v.Key, string(v.Date)).Scan(&st.Today.Count, &st.Today.Visitors)
	if errors.Is(err, sql.ErrNoRows) {
		err = nil
	}
	if err != nil {
		return
	}
	idFound := false // an expired visit id marker, renewed below
	if v.ID != "" {
		var exp int64
		err = s.stmt(ctx, tx, `SELECT expires FROM visit_ids WHERE key = ? AND id = ?`).QueryRowContext(ctx, v.Key, v.ID).Scan(&exp)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			err = nil
		case err != nil:
			return
		case exp > at.UnixNano():
			return // seen within VisitIDTTL: counts nothing
		default:
			idFound = true
		}
	}
	if !found && s.maxKeys > 0 {
		var keys int64
		if err = s.stmt(ctx, tx, `SELECT value FROM tallies WHERE name = 'keys'`).QueryRowContext(ctx).Scan(&keys); err != nil {
			return
		}
		if keys >= s.maxKeys {
			refused = fmt.Errorf("%w: record visit %q refused, the store holds %d keys", ErrTooManyKeys, v.Key, keys)
			return
		}
	}
	newVisitor, storeMarker := false, false
	if !v.Visitor.IsZero() {
		var seen bool
		if err = s.stmt(ctx, tx, `SELECT EXISTS (SELECT 1 FROM visitor_marks WHERE date = ? AND key = ? AND visitor = ?)`).QueryRowContext(ctx,
			string(v.Date), v.Key, v.Visitor[:]).Scan(&seen); err != nil {
			return
		}
		// A marker seen after it expired (before the sweep deleted it)
		// marks nothing: the visit counts a visitor, as a fresh one would.
		switch {
		case seen && at.Before(counter.VisitorExpiry(v.Date)):
		case seen:
			newVisitor = true
		default:
			var marks int64
			if s.maxMarkers > 0 {
				if err = s.stmt(ctx, tx, `SELECT value FROM tallies WHERE name = 'visitor_marks'`).QueryRowContext(ctx).Scan(&marks); err != nil {
					return
				}
			}
			if s.maxMarkers > 0 && marks >= s.maxMarkers {
				refused = fmt.Errorf("sqlitestore: record visit %q: %d visitor markers: %w", v.Key, marks, counter.ErrMarkersFull)
				return
			}
			newVisitor, storeMarker = true, true
		}
	}
	if st.Count == math.MaxInt64 || st.Today.Count == math.MaxInt64 ||
		newVisitor && (st.Visitors == math.MaxInt64 || st.Today.Visitors == math.MaxInt64) {
		refused = fmt.Errorf("sqlitestore: record visit %q (count %d, visitors %d, day %d and %d): %w",
			v.Key, st.Count, st.Visitors, st.Today.Count, st.Today.Visitors, counter.ErrOverflow)
		return
	}
	if v.ID != "" && !idFound && s.maxMarkers > 0 {
		var ids int64
		if err = s.stmt(ctx, tx, `SELECT value FROM tallies WHERE name = 'visit_ids'`).QueryRowContext(ctx).Scan(&ids); err != nil {
			return
		}
		if ids >= s.maxMarkers {
			refused = fmt.Errorf("sqlitestore: record visit %q: %d visit id markers: %w", v.Key, ids, counter.ErrMarkersFull)
			return
		}
	}
	// Every refusal is above: from here on the visit is written.
	nv := int64(0)
	if newVisitor {
		nv = 1
	}
	if storeMarker {
		if _, err = s.stmt(ctx, tx, `INSERT INTO visitor_marks (date, key, visitor) VALUES (?, ?, ?)`).ExecContext(ctx, string(v.Date), v.Key, v.Visitor[:]); err != nil {
			return
		}
	}
	if _, err = s.stmt(ctx, tx, `INSERT INTO counts (key, count, visitors) VALUES (?1, 1, ?2)
		ON CONFLICT (key) DO UPDATE SET count = count + 1, visitors = visitors + ?2`).ExecContext(ctx, v.Key, nv); err != nil {
		return
	}
	if _, err = s.stmt(ctx, tx, `INSERT INTO days (key, date, count, visitors) VALUES (?1, ?2, 1, ?3)
		ON CONFLICT (key, date) DO UPDATE SET count = count + 1, visitors = visitors + ?3`).ExecContext(ctx, v.Key, string(v.Date), nv); err != nil {
		return
	}
	if v.ID != "" {
		exp := at.Add(counter.VisitIDTTL).UnixNano()
		q := `INSERT INTO visit_ids (key, id, expires) VALUES (?1, ?2, ?3)`
		if idFound {
			q = `UPDATE visit_ids SET expires = ?3 WHERE key = ?1 AND id = ?2`
		}
		if _, err = s.stmt(ctx, tx, q).ExecContext(ctx, v.Key, v.ID, exp); err != nil {
			return
		}
	}
	st.Count++
	st.Visitors += nv
	st.Today.Count++
	st.Today.Visitors += nv
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
