package counter

import (
	"cmp"
	"sync"
	"time"
)

// warnEvery is the most often a warning that clients can cause with every
// request is logged: a handler's "store refused a new key", Visitors'
// "visit markers full". Clients must not be able to flood the log.
const warnEvery = time.Minute

// warnLimiter thins out a warning that clients can trigger at will: the
// first occurrence is logged, then at most one line per interval, carrying
// the number of occurrences since the last line. Its zero value logs at
// most once every [warnEvery] by time.Now.
type warnLimiter struct {
	interval time.Duration    // default warnEvery
	now      func() time.Time // default time.Now; set by tests

	mu      sync.Mutex
	last    time.Time // when the last line was written; zero: never
	pending int64     // occurrences since then, this one included
}

// note records one occurrence. When a line is due it returns true and the
// number of occurrences the line stands for.
func (l *warnLimiter) note() (n int64, log bool) {
	now := time.Now
	if l.now != nil {
		now = l.now
	}
	t := now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.pending++
	if !l.last.IsZero() && t.Sub(l.last) < cmp.Or(l.interval, warnEvery) {
		return 0, false
	}
	n, l.pending, l.last = l.pending, 0, t
	return n, true
}
