package counter

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
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
// The zero value is not usable: call [NewMemory] or [NewMemoryLimit].
type Memory struct {
	mu      sync.RWMutex
	counts  map[string]*atomic.Int64
	maxKeys int // 0: no limit
	visits  memVisits
}

var (
	_ Incrementer = (*Memory)(nil)
	_ Reader      = (*Memory)(nil)
	_ Adder       = (*Memory)(nil)
)

// NewMemory returns an empty in-memory store that takes any number of keys.
func NewMemory() *Memory {
	return &Memory{counts: make(map[string]*atomic.Int64)}
}

// NewMemoryLimit returns an empty in-memory store that counts at most
// maxKeys distinct keys, so that clients inventing keys cannot grow it
// without bound. Counting a new key beyond the limit fails with an error
// wrapping [ErrTooManyKeys]; keys already counted keep counting. maxKeys <= 0
// means no limit, as [NewMemory].
func NewMemoryLimit(maxKeys int) *Memory {
	m := NewMemory()
	m.maxKeys = max(maxKeys, 0)
	return m
}

// Increment adds one visit to key. It does not allocate once key exists.
func (m *Memory) Increment(ctx context.Context, key string) (int64, error) {
	return m.Add(ctx, key, 1)
}

// Add adds n visits to key.
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
	m.mu.RLock()
	c := m.counts[key]
	m.mu.RUnlock()
	if c == nil {
		m.mu.Lock()
		if c = m.counts[key]; c == nil {
			if m.maxKeys > 0 && len(m.counts) >= m.maxKeys {
				m.mu.Unlock()
				return 0, fmt.Errorf("counter: new key %q: %w (limit %d)", key, ErrTooManyKeys, m.maxKeys)
			}
			c = new(atomic.Int64)
			m.counts[key] = c
		}
		m.mu.Unlock()
	}
	return c.Add(n), nil
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
