// Package deadline gives a context a timeout whose timer is armed only when
// something waits on it.
//
// context.WithTimeout arms a runtime timer and allocates about 270 bytes per
// call, which is most of what a handler over an in-memory store costs. A
// store that never blocks only calls Err, and a Ctx answers that from the
// clock; a store that blocks calls Done, and the Ctx then arms its timer,
// exactly as context.WithTimeout would have.
package deadline

import (
	"context"
	"sync"
	"time"
)

// Ctx is a context that ends at a deadline, when its parent ends or when
// Cancel is called, whichever comes first. Call Cancel when done with it.
type Ctx struct {
	context.Context // the parent
	deadline        time.Time

	mu   sync.Mutex
	done chan struct{} // nil until Done is first called
	err  error         // set when done is closed
	stop func()        // stops the timer and the watch on the parent
}

// New returns a context that ends after d, or with parent.
func New(parent context.Context, d time.Duration) *Ctx {
	return &Ctx{Context: parent, deadline: time.Now().Add(d)}
}

// Deadline returns the earlier of the Ctx's deadline and its parent's.
func (c *Ctx) Deadline() (time.Time, bool) {
	if d, ok := c.Context.Deadline(); ok && d.Before(c.deadline) {
		return d, true
	}
	return c.deadline, true
}

// Done returns a channel closed when the context ends. The first call arms
// the timer and watches the parent.
func (c *Ctx) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done != nil {
		return c.done
	}
	c.done = make(chan struct{})
	if err := c.errNow(); err != nil {
		c.err = err
		close(c.done)
		return c.done
	}
	t := time.AfterFunc(time.Until(c.deadline), func() { c.end(context.DeadlineExceeded) })
	unwatch := context.AfterFunc(c.Context, func() { c.end(c.Context.Err()) })
	c.stop = func() { t.Stop(); unwatch() }
	return c.done
}

// Err returns nil while the context lives, then why it ended:
// context.DeadlineExceeded, or the parent's error, or context.Canceled after
// Cancel.
func (c *Ctx) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done != nil {
		return c.err // consistent with Done: nil until the channel closes
	}
	return c.errNow()
}

// errNow says whether the context has ended by the clock or the parent.
func (c *Ctx) errNow() error {
	if c.err != nil {
		return c.err
	}
	if err := c.Context.Err(); err != nil {
		return err
	}
	if !time.Now().Before(c.deadline) {
		return context.DeadlineExceeded
	}
	return nil
}

// end ends the context with err, once.
func (c *Ctx) end(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return
	}
	c.err = err
	if c.done != nil {
		close(c.done)
	}
	if c.stop != nil {
		c.stop()
	}
}

// Cancel ends the context with context.Canceled, unless it has ended, and
// releases its timer.
func (c *Ctx) Cancel() {
	c.end(context.Canceled)
}

// String describes the context, as context's own types do.
func (c *Ctx) String() string {
	return "deadline.Ctx(" + c.deadline.String() + ")"
}
