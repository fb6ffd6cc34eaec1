package counter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
)

// ErrClosed is wrapped by the error a [Group] returns once Close was called.
var ErrClosed = errors.New("counter: group closed")

// Group folds concurrent increments of one key into single writes to a store:
// while a write for a key is in flight, increments of that key wait and then
// go out together as the next write, one Add(n) for n visits. A hot key then
// costs one write per round trip instead of one per visit, so a store
// limited to about 1,000 writes a second on one item (DynamoDB) counts far
// more visits.
//
// There is no timer: an increment of an idle key is written at once, by the
// caller's goroutine, with the caller's context, exactly as the store alone
// would. Counts stay exact when the store's Add returns the exact new total,
// as [Memory] and [Dynamo] (with one shard) do: a write of n visits that
// returns the total T gives its callers T-n+1 .. T, one each, in no
// particular order. If the write fails, every caller folded into it gets the
// error and none of its visits is acknowledged. A store that retries after
// ambiguous failures (see [RetryPolicy]) may count a whole batch twice, as
// it would one visit; [RetryUnsent] rules that out.
//
// A store that panics in a write Group makes on its own goroutine does not
// crash the process: the panic is logged once with its stack (through
// [slog.Default]), every caller folded into that write gets an error (the
// store may or may not have counted the write), and the key takes new
// writes. A panic in a write made on the caller's goroutine reaches that
// caller, as it would without a Group.
//
// A caller whose context ends while it waits returns the context's error.
// If its visit had not been sent yet it is not counted. If it had already
// gone out in a write, it counts when that write succeeds (as with a store
// call canceled mid-request); that write is canceled only once every caller
// folded into it has given up.
//
// A Group is safe for concurrent use. The zero value is not usable: call
// [NewGroup].
type Group struct {
	store Adder

	mu     sync.Mutex
	keys   map[string]*groupKey // keys with a write in flight
	closed bool
	busy   sync.WaitGroup // one count per key with a write in flight
}

var (
	_ Incrementer = (*Group)(nil)
	_ Reader      = (*Group)(nil)
	_ Adder       = (*Group)(nil)
)

// groupKey holds the callers waiting for the next write of a busy key.
type groupKey struct {
	queue []*groupCall
}

// States of a groupCall, changed under Group.mu.
const (
	callQueued    = iota // waiting for the next write
	callAbandoned        // its caller gave up before it was sent: never written
	callSent             // part of a write in flight
	callDone             // total or err set, done closed
)

type groupCall struct {
	ctx   context.Context
	n     int64
	state int
	batch *groupBatch
	done  chan struct{}
	total int64
	err   error
}

// groupBatch is one write of several waiting callers.
type groupBatch struct {
	calls  []*groupCall
	n      int64 // sum of the calls' n
	live   int   // callers still waiting for the result
	ctx    context.Context
	cancel context.CancelFunc
}

// NewGroup returns a Group that writes to store. If store also implements
// [Reader], Count reads through to it; otherwise Count fails with
// [errors.ErrUnsupported], and the handlers treat the Group as the store
// without a Reader that it is (?hit=false and HEAD answer 501).
func NewGroup(store Adder) *Group {
	return &Group{store: store, keys: make(map[string]*groupKey)}
}

// Increment adds one visit to key and returns the count including it.
func (g *Group) Increment(ctx context.Context, key string) (int64, error) {
	return g.add(ctx, "increment", key, 1)
}

// Add adds n visits to key and returns the count including them. When Add
// is folded with other callers, its n visits are numbered consecutively and
// it gets the last of those numbers.
func (g *Group) Add(ctx context.Context, key string, n int64) (int64, error) {
	return g.add(ctx, "add", key, n)
}

func (g *Group) add(ctx context.Context, op, key string, n int64) (int64, error) {
	if err := CheckKey(key); err != nil {
		return 0, err
	}
	if n < 1 {
		return 0, fmt.Errorf("counter: add %d to %q: %w", n, key, errInvalidN)
	}
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("counter: %s %q: %w", op, key, err)
	}
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return 0, fmt.Errorf("%w: %s %q", ErrClosed, op, key)
	}
	k := g.keys[key]
	if k == nil {
		// Idle key: write now, on this goroutine, then hand over to
		// whoever queued meanwhile (deferred, so that a panicking store
		// does not leave the key busy for good).
		g.keys[key] = &groupKey{}
		g.busy.Add(1)
		g.mu.Unlock()
		defer g.handOver(key)
		return g.store.Add(ctx, key, n)
	}
	c := &groupCall{ctx: ctx, n: n, done: make(chan struct{})}
	k.queue = append(k.queue, c)
	g.mu.Unlock()

	select {
	case <-c.done:
		return c.total, c.err
	case <-ctx.Done():
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	switch c.state {
	case callQueued:
		c.state = callAbandoned
		return 0, fmt.Errorf("counter: %s %q: not counted: %w", op, key, ctx.Err())
	case callSent:
		if c.batch.live--; c.batch.live == 0 {
			c.batch.cancel()
		}
		return 0, fmt.Errorf("counter: %s %q: gave up waiting for a write already sent, which counts this visit if it succeeds: %w", op, key, ctx.Err())
	default: // the result came in meanwhile
		return c.total, c.err
	}
}

// next takes the callers queued for key as the next batch, or marks key idle
// and returns nil if none are left. g.mu must be held.
func (g *Group) next(key string) *groupBatch {
	k := g.keys[key]
	b := &groupBatch{}
	for _, c := range k.queue {
		if c.state == callQueued {
			c.state = callSent
			c.batch = b
			b.calls = append(b.calls, c)
			b.n += c.n
		}
	}
	k.queue = nil
	if len(b.calls) == 0 {
		delete(g.keys, key)
		g.busy.Done()
		return nil
	}
	b.live = len(b.calls)
	// The write serves every caller in it, so no single caller's
	// cancellation may stop it; it keeps the first caller's values.
	b.ctx, b.cancel = context.WithCancel(context.WithoutCancel(b.calls[0].ctx))
	return b
}

// handOver starts writing the callers queued for key, if any, after a
// caller's own write.
func (g *Group) handOver(key string) {
	g.mu.Lock()
	b := g.next(key)
	g.mu.Unlock()
	if b != nil {
		go g.flush(key, b)
	}
}

// flush writes batches for key until no caller is waiting.
func (g *Group) flush(key string, b *groupBatch) {
	for b != nil {
		total, err := g.write(b.ctx, key, b.n)
		b.cancel()
		g.mu.Lock()
		last := total - b.n
		for _, c := range b.calls {
			if err != nil {
				c.err = err
			} else {
				last += c.n
				c.total = last
			}
			c.state = callDone
			close(c.done)
		}
		b = g.next(key)
		g.mu.Unlock()
	}
}

// write makes one batched write. It recovers a panic of the store, which
// would otherwise end the process from a goroutine no caller owns: the
// panic is logged with its stack and becomes the write's error.
func (g *Group) write(ctx context.Context, key string, n int64) (total int64, err error) {
	defer func() {
		if p := recover(); p != nil {
			slog.Default().LogAttrs(ctx, slog.LevelError, "counter: store panicked in a batched write",
				slog.String("key", key), slog.Int64("visits", n), slog.String("store", fmt.Sprintf("%T", g.store)),
				slog.Any("panic", p), slog.String("stack", string(debug.Stack())))
			total, err = 0, fmt.Errorf("counter: add %d to %q: store %T panicked (%v); the write may or may not have counted", n, key, g.store, p)
		}
	}()
	return g.store.Add(ctx, key, n)
}

// canRead reports whether the store can read counts: whether Count works.
// The handlers ask it, as a Group implements Reader whatever it wraps.
func (g *Group) canRead() bool { return readerOf(g.store) != nil }

// Count reads key's count from the store, if the store implements [Reader];
// otherwise it returns an error wrapping [errors.ErrUnsupported]. Visits
// still waiting to be written are not included.
func (g *Group) Count(ctx context.Context, key string) (int64, error) {
	g.mu.Lock()
	closed := g.closed
	g.mu.Unlock()
	if closed {
		return 0, fmt.Errorf("%w: count %q", ErrClosed, key)
	}
	r, ok := g.store.(Reader)
	if !ok {
		return 0, fmt.Errorf("counter: count %q: store %T cannot read counts: %w", key, g.store, errors.ErrUnsupported)
	}
	return r.Count(ctx, key)
}

// Close stops accepting calls, then waits until every write in flight and
// every visit already waiting has been written, so nothing a caller was or
// will be told was counted is lost. Calls made after Close return an error
// wrapping [ErrClosed]. Close does not close the store; it returns nil, and
// may be called more than once.
func (g *Group) Close() error {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
	g.busy.Wait()
	return nil
}
