package counter

import (
	"sync"
	"time"
)

// warnEvery is the most often a handler logs that its store refused new
// keys: clients can cause a refusal with every request, and must not be able
// to flood the log.
const warnEvery = time.Minute

// warnLimiter thins out a warning that clients can trigger at will: the
// first occurrence is logged, then at most one line per interval, carrying
// the number of occurrences since the last line.
type warnLimiter struct {
	interval time.Duration
	now      func() time.Time

	mu      sync.Mutex
	last    time.Time // when the last line was written; zero: never
	pending int64     // occurrences since then, this one included
}

func newWarnLimiter(interval time.Duration) *warnLimiter {
	return &warnLimiter{interval: interval, now: time.Now}
}

// note records one occurrence. When a line is due it returns true and the
// number of occurrences the line stands for.
func (l *warnLimiter) note() (n int64, log bool) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.pending++
	if !l.last.IsZero() && now.Sub(l.last) < l.interval {
		return 0, false
	}
	n, l.pending, l.last = l.pending, 0, now
	return n, true
}
