package counter

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// Incrementer counts visits. Increment adds one visit to key and returns the
// count including that visit. Implementations are safe for concurrent use.
type Incrementer interface {
	Increment(ctx context.Context, key string) (int64, error)
}

// Reader reads a count without changing it. A key that was never counted
// reads as the store's starting value (0 unless configured).
type Reader interface {
	Count(ctx context.Context, key string) (int64, error)
}

// readerOf returns store's Reader, or nil if store cannot read counts. A
// decorator such as [Group] implements Reader whatever it wraps and says
// through canRead whether the store beneath it can.
func readerOf(store any) Reader {
	r, ok := store.(Reader)
	if c, isDecorator := store.(interface{ canRead() bool }); !ok || isDecorator && !c.canRead() {
		return nil
	}
	return r
}

// Adder adds n >= 1 visits to key in one write and returns the new count. It
// lets decorators such as batching fold many increments into one write.
type Adder interface {
	Add(ctx context.Context, key string, n int64) (int64, error)
}

// MaxKeyLen is the longest key, in bytes, that stores accept.
const MaxKeyLen = 128

// ErrInvalidKey is wrapped by the error every store returns for a key that
// breaks the key rules of [CheckKey]. Nothing is written for such a key.
var ErrInvalidKey = errors.New("counter: invalid key")

// ErrTooManyKeys is wrapped by the error a store with a key limit returns
// for a new key once the limit is reached (see [NewMemoryLimit]). Nothing is
// written; keys that already exist keep counting. The handlers answer it
// with 404, as for a key that is not allowed.
var ErrTooManyKeys = errors.New("counter: too many keys")

// errInvalidN is returned by Add for n < 1.
var errInvalidN = errors.New("counter: n must be at least 1")

// CheckKey reports whether key may name a counter: 1 to [MaxKeyLen] bytes of
// ASCII letters, digits, '-', '_', '.' and ':', starting with a letter or a
// digit. Keys are therefore safe in URL paths, file names and DynamoDB keys,
// and can never collide with the names stores derive from them. The error
// wraps [ErrInvalidKey].
func CheckKey(key string) error {
	if key == "" {
		return fmt.Errorf("%w: empty", ErrInvalidKey)
	}
	if len(key) > MaxKeyLen {
		return fmt.Errorf("%w: %d bytes, longer than %d", ErrInvalidKey, len(key), MaxKeyLen)
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case i > 0 && (c == '-' || c == '_' || c == '.' || c == ':'):
		default:
			return fmt.Errorf("%w: %q has a disallowed character at byte %d", ErrInvalidKey, key, i)
		}
	}
	return nil
}

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
