package counter

import (
	"context"
	"errors"
	"fmt"
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
