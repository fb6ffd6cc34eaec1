package counter

import (
	"context"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// Memory is an in-process store. Counts live as long as the process; use it
// for tests, single-process servers and as the fast path of decorators.
// The zero value is not usable: call [NewMemory], [NewMemoryLimit] or
// [NewMemoryWith].
type Memory struct {
	mu      sync.RWMutex
	counts  map[string]*atomic.Int64
	maxKeys int // 0: no limit
	now     func() time.Time
	visits  memVisits

	// newKeyHook, if set (by tests), runs when Add finds no counter for
	// its key, before it takes the write lock: it makes first-use races
	// certain instead of rare.
	newKeyHook func()
}

var (
	_ Incrementer = (*Memory)(nil)
	_ Reader      = (*Memory)(nil)
	_ Adder       = (*Memory)(nil)
)

// NewMemory returns an empty in-memory store that takes any number of keys.
func NewMemory() *Memory { return NewMemoryWith(MemoryOptions{}) }

// NewMemoryLimit returns an empty in-memory store that counts at most
// maxKeys distinct keys, so that clients inventing keys cannot grow it
// without bound. Counting a new key beyond the limit fails with an error
// wrapping [ErrTooManyKeys]; keys already counted keep counting, and the
// owner's edits ([Memory.SetCount], [Memory.Import]) are not capped.
// maxKeys <= 0 means no limit, as [NewMemory].
func NewMemoryLimit(maxKeys int) *Memory { return NewMemoryWith(MemoryOptions{MaxKeys: maxKeys}) }

// MemoryOptions configures [NewMemoryWith]. The zero value takes any number
// of keys and reads the time with time.Now.
type MemoryOptions struct {
	// MaxKeys caps the distinct keys that counting (Increment, Add,
	// RecordVisit) may create, as [NewMemoryLimit] does; the owner's edits
	// are not capped. Default 0: no cap.
	MaxKeys int
	// Now is the store's clock: it tells the time of a [Visit] whose Time
	// is zero and when day salts expire. Default: time.Now.
	Now func() time.Time
}

// NewMemoryWith returns an empty in-memory store configured by opts.
func NewMemoryWith(opts MemoryOptions) *Memory {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Memory{counts: make(map[string]*atomic.Int64), maxKeys: max(opts.MaxKeys, 0), now: opts.Now}
}

// Increment adds one visit to key. It does not allocate once key exists.
func (m *Memory) Increment(ctx context.Context, key string) (int64, error) {
	return m.Add(ctx, key, 1)
}

// Add adds n visits to key. A count that would pass the largest int64 is
// refused with an error wrapping [ErrOverflow], and nothing is written.
func (m *Memory) Add(ctx context.Context, key string, n int64) (int64, error) {
	if err := CheckKey(key); err != nil {
		return 0, err
	}
	if n < 1 {
		return 0, fmt.Errorf("counter: add %d to %q: %w", n, key, errInvalidN)
	}
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("counter: increment %q: %w", key, err)
	}
	c, err := m.slot(key, true)
	if err != nil {
		return 0, err
	}
	total, ok := addChecked(c, n)
	if !ok {
		return 0, fmt.Errorf("counter: add %d to %q at %d: %w", n, key, total, ErrOverflow)
	}
	return total, nil
}

// addChecked adds n to c and returns the new value, or returns the value
// and false, adding nothing, if the sum would pass the largest int64. A
// CAS loop rather than c.Add, so that an overflowing add writes nothing.
func addChecked(c *atomic.Int64, n int64) (int64, bool) {
	for {
		old := c.Load()
		if old > math.MaxInt64-n {
			return old, false
		}
		if c.CompareAndSwap(old, old+n) {
			return old + n, true
		}
	}
}

// Count returns the count of key without changing it.
func (m *Memory) Count(ctx context.Context, key string) (int64, error) {
	if err := CheckKey(key); err != nil {
		return 0, err
	}
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("counter: count %q: %w", key, err)
	}
	m.mu.RLock()
	c := m.counts[key]
	m.mu.RUnlock()
	if c == nil {
		return 0, nil
	}
	return c.Load(), nil
}

// slot returns key's count, creating it within the key limit if capped
// (counting; the owner's edits are not capped).
func (m *Memory) slot(key string, capped bool) (*atomic.Int64, error) {
	m.mu.RLock()
	c := m.counts[key]
	m.mu.RUnlock()
	if c != nil {
		return c, nil
	}
	if m.newKeyHook != nil {
		m.newKeyHook()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if c = m.counts[key]; c == nil {
		if capped && m.maxKeys > 0 && len(m.counts) >= m.maxKeys {
			return nil, fmt.Errorf("counter: new key %q: %w (limit %d)", key, ErrTooManyKeys, m.maxKeys)
		}
		c = new(atomic.Int64)
		m.counts[key] = c
	}
	return c, nil
}
