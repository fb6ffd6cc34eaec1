package counter

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"
)

// MemoryMaxMarkers bounds the visitor and visit id markers a [Memory] store
// keeps, so that a flood of made-up visitors cannot grow it without limit.
// Past it, a visit that needs a new marker fails with [ErrMarkersFull] and
// writes nothing; [Visitors] then counts it as a hit only and logs so at
// most once a minute, as for every store with a cap.
const MemoryMaxMarkers = 100_000

var (
	_ VisitStore    = (*Memory)(nil)
	_ HistoryReader = (*Memory)(nil)
	_ Editor        = (*Memory)(nil)
	_ KeyLister     = (*Memory)(nil)
)

// memVisits is what Memory keeps besides the counts. Its mutex also
// serialises RecordVisit, SetCount and Import, so that a visit's numbers
// change together.
type memVisits struct {
	mu    sync.Mutex
	keys  map[string]*memKey
	seen  int                 // visitor markers in all keys' maps
	ids   map[memID]time.Time // expiry
	salts map[Date][]byte
	swept time.Time // of the markers, by visit time
}

type memKey struct {
	visitors int64
	days     map[Date]*[2]int64    // count, visitors
	seen     map[memSeen]time.Time // visitor markers: expiry
}

type memSeen struct {
	date Date
	id   VisitorID
}

type memID struct{ key, id string }

func (m *Memory) visitsLocked() *memVisits {
	v := &m.visits
	if v.keys == nil {
		v.keys = make(map[string]*memKey)
		v.ids = make(map[memID]time.Time)
		v.salts = make(map[Date][]byte)
	}
	return v
}

// RecordVisit counts v; see [VisitStore]. A zero v.Time is the store's
// clock's now ([MemoryOptions.Now]).
func (m *Memory) RecordVisit(ctx context.Context, v Visit) (Stats, bool, error) {
	if err := CheckVisit(v); err != nil {
		return Stats{}, false, err
	}
	if err := ctx.Err(); err != nil {
		return Stats{}, false, fmt.Errorf("counter: visit of %q: %w", v.Key, err)
	}
	if v.Time.IsZero() {
		v.Time = m.now()
	}
	c, err := m.slot(v.Key, true)
	if err != nil {
		return Stats{}, false, err
	}
	m.visits.mu.Lock()
	defer m.visits.mu.Unlock()
	mv := m.visitsLocked()
	mv.sweep(v.Time)

	k := mv.key(v.Key)
	d := k.day(v.Date)
	idm := memID{v.Key, v.ID}
	if v.ID != "" {
		if exp, ok := mv.ids[idm]; ok && v.Time.Before(exp) {
			return k.stats(v.Key, c.Load(), v.Date, d), false, nil
		}
	}
	vm := memSeen{v.Date, v.Visitor}
	newVisitor, marked := false, false
	if !v.Visitor.IsZero() {
		var exp time.Time
		exp, marked = k.seen[vm]
		newVisitor = !marked || !v.Time.Before(exp)
	}
	if v.ID != "" && len(mv.ids) >= MemoryMaxMarkers || newVisitor && !marked && mv.seen >= MemoryMaxMarkers {
		return Stats{}, false, fmt.Errorf("counter: visit of %q: %w (limit %d)", v.Key, ErrMarkersFull, MemoryMaxMarkers)
	}
	if _, ok := addChecked(c, 1); !ok {
		return Stats{}, false, fmt.Errorf("counter: visit of %q: %w", v.Key, ErrOverflow)
	}
	if v.ID != "" {
		mv.ids[idm] = v.Time.Add(VisitIDTTL)
	}
	if newVisitor {
		if !marked {
			mv.seen++
		}
		k.seen[vm] = VisitorExpiry(v.Date)
	}
	d[0]++
	if newVisitor {
		k.visitors++
		d[1]++
	}
	return k.stats(v.Key, c.Load(), v.Date, d), true, nil
}

// stats are k's numbers, d being today's.
func (k *memKey) stats(key string, count int64, today Date, d *[2]int64) Stats {
	return Stats{Key: key, Count: count, Visitors: k.visitors, Today: Day{Date: today, Count: d[0], Visitors: d[1]}}
}

// sweep drops expired markers, at most once a minute of visit time.
func (mv *memVisits) sweep(now time.Time) {
	if now.Sub(mv.swept) < time.Minute {
		return
	}
	mv.swept = now
	for _, k := range mv.keys {
		maps.DeleteFunc(k.seen, func(_ memSeen, exp time.Time) bool {
			if now.Before(exp) {
				return false
			}
			mv.seen--
			return true
		})
	}
	maps.DeleteFunc(mv.ids, func(_ memID, exp time.Time) bool { return !now.Before(exp) })
}

func (mv *memVisits) key(key string) *memKey {
	k := mv.keys[key]
	if k == nil {
		k = &memKey{days: make(map[Date]*[2]int64), seen: make(map[memSeen]time.Time)}
		mv.keys[key] = k
	}
	return k
}

func (k *memKey) day(d Date) *[2]int64 {
	n := k.days[d]
	if n == nil {
		n = new([2]int64)
		k.days[d] = n
	}
	return n
}

func (mv *memVisits) statsLocked(key string, count int64, today Date) Stats {
	s := Stats{Key: key, Count: count, Today: Day{Date: today}}
	if k := mv.keys[key]; k != nil {
		s.Visitors = k.visitors
		if d := k.days[today]; d != nil {
			s.Today.Count, s.Today.Visitors = d[0], d[1]
		}
	}
	return s
}

// Stats reads key's numbers; see [VisitStore].
func (m *Memory) Stats(ctx context.Context, key string, today Date) (Stats, error) {
	if err := CheckKey(key); err != nil {
		return Stats{}, err
	}
	if !today.Valid() {
		return Stats{}, fmt.Errorf("counter: stats of %q: %w: %q", key, ErrInvalidDate, today)
	}
	if err := ctx.Err(); err != nil {
		return Stats{}, fmt.Errorf("counter: stats of %q: %w", key, err)
	}
	var count int64
	m.mu.RLock()
	if c := m.counts[key]; c != nil {
		count = c.Load()
	}
	m.mu.RUnlock()
	m.visits.mu.Lock()
	defer m.visits.mu.Unlock()
	return m.visitsLocked().statsLocked(key, count, today), nil
}

// DaySalt returns day's salt; see [VisitStore]. Salts of days whose
// markers have expired are dropped.
func (m *Memory) DaySalt(ctx context.Context, day Date, fresh []byte) ([]byte, error) {
	if !day.Valid() {
		return nil, fmt.Errorf("counter: salt: %w: %q", ErrInvalidDate, day)
	}
	if len(fresh) != SaltLen {
		return nil, fmt.Errorf("counter: salt of %s: %d bytes, want %d", day, len(fresh), SaltLen)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("counter: salt of %s: %w", day, err)
	}
	m.visits.mu.Lock()
	defer m.visits.mu.Unlock()
	mv := m.visitsLocked()
	now := m.now()
	maps.DeleteFunc(mv.salts, func(d Date, _ []byte) bool { return d != day && !now.Before(VisitorExpiry(d)) })
	if s, ok := mv.salts[day]; ok {
		return slices.Clone(s), nil
	}
	mv.salts[day] = slices.Clone(fresh)
	return slices.Clone(fresh), nil
}

// History reads key's daily numbers; see [HistoryReader].
func (m *Memory) History(ctx context.Context, key string, first, last Date) ([]Day, error) {
	if err := CheckHistoryRange(key, first, last); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("counter: history of %q: %w", key, err)
	}
	m.visits.mu.Lock()
	defer m.visits.mu.Unlock()
	k := m.visitsLocked().keys[key]
	var days []Day
	for d := first; d <= last; d = d.AddDays(1) {
		day := Day{Date: d}
		if k != nil {
			if n := k.days[d]; n != nil {
				day.Count, day.Visitors = n[0], n[1]
			}
		}
		days = append(days, day)
	}
	return days, nil
}

// SetCount sets key's count; see [Editor].
func (m *Memory) SetCount(ctx context.Context, key string, n int64) (int64, error) {
	if err := CheckKey(key); err != nil {
		return 0, err
	}
	if n < 0 {
		return 0, fmt.Errorf("counter: set %q to %d: a count cannot be negative", key, n)
	}
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("counter: set %q: %w", key, err)
	}
	c, err := m.slot(key, false)
	if err != nil {
		return 0, err
	}
	m.visits.mu.Lock()
	defer m.visits.mu.Unlock()
	return c.Swap(n), nil
}

// Export returns key's record; see [Editor].
func (m *Memory) Export(ctx context.Context, key string) (Record, error) {
	if err := CheckKey(key); err != nil {
		return Record{}, err
	}
	if err := ctx.Err(); err != nil {
		return Record{}, fmt.Errorf("counter: export %q: %w", key, err)
	}
	r := Record{Key: key, Days: []Day{}}
	m.visits.mu.Lock()
	defer m.visits.mu.Unlock()
	m.mu.RLock()
	if c := m.counts[key]; c != nil {
		r.Count = c.Load()
	}
	m.mu.RUnlock()
	if k := m.visitsLocked().keys[key]; k != nil {
		r.Visitors = k.visitors
		for _, d := range slices.Sorted(maps.Keys(k.days)) {
			if n := k.days[d]; n[0] != 0 || n[1] != 0 {
				r.Days = append(r.Days, Day{Date: d, Count: n[0], Visitors: n[1]})
			}
		}
	}
	return r, nil
}

// Import writes r; see [Editor].
func (m *Memory) Import(ctx context.Context, r Record) error {
	if err := CheckRecord(r); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("counter: import %q: %w", r.Key, err)
	}
	c, err := m.slot(r.Key, false)
	if err != nil {
		return err
	}
	m.visits.mu.Lock()
	defer m.visits.mu.Unlock()
	k := m.visitsLocked().key(r.Key)
	c.Store(r.Count)
	k.visitors = r.Visitors
	for _, d := range r.Days {
		*k.day(d.Date) = [2]int64{d.Count, d.Visitors}
	}
	return nil
}

// Keys lists the counted keys, sorted; see [KeyLister].
func (m *Memory) Keys(ctx context.Context) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("counter: keys: %w", err)
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	return slices.Sorted(maps.Keys(m.counts)), nil
}
