package sqlitestore

import (
	"context"
	"database/sql"
	"fmt"
	"sync"

	"github.com/resumecounter/counter"
)

// A markerSet holds the visitor markers of the table visitor_marks in
// memory, so that a visit looks its visitor up here and a new visitor's
// marker is one row appended to the table, not a write at a random page of
// an index. The table stays the record: the set is read from it.
//
// Only the batch runner adds markers, in its transaction, which holds the
// file's write lock: it first reads the rows other processes appended
// (seq > last; AUTOINCREMENT never reuses a seq), and its own new markers
// join the set once their transaction has committed. The sweep drops the
// days it deleted. A day another process's sweep deleted stays here until
// this store's own sweep drops it; it is expired then, and an expired
// marker counts its visitor as new, as a missing one does.
type markerSet struct {
	mu   sync.Mutex
	last int64 // the highest seq read from the table or stored by this store
	days map[counter.Date]map[dayMarker]struct{}
	keys map[string]string // each key once, however many markers name it
}

// A dayMarker is a visitor marker within its day.
type dayMarker struct {
	key     string
	visitor counter.VisitorID
}

// A newMarker is a marker a batch stored, not yet committed.
type newMarker struct {
	date counter.Date
	dayMarker
}

func (m *markerSet) has(date counter.Date, key string, v counter.VisitorID) bool {
	_, ok := m.days[date][dayMarker{key, v}]
	return ok
}

func (m *markerSet) add(date counter.Date, key string, v counter.VisitorID) {
	if m.days == nil {
		m.days, m.keys = map[counter.Date]map[dayMarker]struct{}{}, map[string]string{}
	}
	day := m.days[date]
	if day == nil {
		day = map[dayMarker]struct{}{}
		m.days[date] = day
	}
	k, ok := m.keys[key]
	if !ok {
		k = key
		m.keys[k] = k
	}
	day[dayMarker{k, v}] = struct{}{}
}

// catchUp reads the markers appended since m.last (at first, all of them)
// with q, the statement qMarksAfter in the batch's transaction. The caller
// holds m.mu.
func (m *markerSet) catchUp(ctx context.Context, q stmtRunner) error {
	rows, err := q.QueryContext(ctx, m.last)
	if err != nil {
		return err
	}
	defer func() { _ = rows.Close() }()
	var (
		seq             int64
		date, key, blob sql.RawBytes
		v               counter.VisitorID
	)
	for rows.Next() {
		if err := rows.Scan(&seq, &date, &key, &blob); err != nil {
			return err
		}
		if len(blob) != len(v) {
			return fmt.Errorf("visitor marker %d holds %d bytes, want %d", seq, len(blob), len(v))
		}
		copy(v[:], blob)
		m.add(counter.Date(date), string(key), v)
		m.last = max(m.last, seq)
	}
	return rows.Err()
}

// commit adds a batch's markers after its transaction committed; last is
// the highest seq it stored.
func (m *markerSet) commit(stored []newMarker, last int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, n := range stored {
		m.add(n.date, n.key, n.visitor)
	}
	m.last = max(m.last, last)
}

// dropThrough forgets the markers of lastDead and the days before it,
// which the sweep deleted.
func (m *markerSet) dropThrough(lastDead counter.Date) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for d := range m.days {
		if d <= lastDead {
			delete(m.days, d)
		}
	}
	if len(m.days) == 0 {
		m.keys = nil // keys no marker names any more
		m.days = nil
	}
}
