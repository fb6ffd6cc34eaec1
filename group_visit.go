package counter

import (
	"context"
	"errors"
	"fmt"
)

// A Group passes visits, history reads and owner edits straight through to
// its store: they cannot be folded, as each visit carries its own visitor
// and visit id. Only Increment and Add fold. Each method fails with an
// error wrapping [errors.ErrUnsupported] when the store lacks the
// capability, and with [ErrClosed] after Close; Close waits for calls
// already passed through.
var (
	_ VisitStore    = (*Group)(nil)
	_ HistoryReader = (*Group)(nil)
	_ Editor        = (*Group)(nil)
)

// RecordVisit records v in the store, which must implement [VisitStore].
func (g *Group) RecordVisit(ctx context.Context, v Visit) (Stats, bool, error) {
	vs, ok := g.store.(VisitStore)
	if err := g.enter(ok, "record visit", v.Key); err != nil {
		return Stats{}, false, err
	}
	defer g.busy.Done()
	return vs.RecordVisit(ctx, v)
}

// Stats reads key's numbers from the store, which must implement
// [VisitStore].
func (g *Group) Stats(ctx context.Context, key string, today Date) (Stats, error) {
	vs, ok := g.store.(VisitStore)
	if err := g.enter(ok, "stats", key); err != nil {
		return Stats{}, err
	}
	defer g.busy.Done()
	return vs.Stats(ctx, key, today)
}

// DaySalt returns day's salt from the store, which must implement
// [VisitStore].
func (g *Group) DaySalt(ctx context.Context, day Date, fresh []byte) ([]byte, error) {
	vs, ok := g.store.(VisitStore)
	if err := g.enter(ok, "day salt", string(day)); err != nil {
		return nil, err
	}
	defer g.busy.Done()
	return vs.DaySalt(ctx, day, fresh)
}

// History reads key's daily numbers from the store, which must implement
// [HistoryReader].
func (g *Group) History(ctx context.Context, key string, first, last Date) ([]Day, error) {
	h, ok := g.store.(HistoryReader)
	if err := g.enter(ok, "history", key); err != nil {
		return nil, err
	}
	defer g.busy.Done()
	return h.History(ctx, key, first, last)
}

// SetCount sets key's count in the store, which must implement [Editor].
// Visits still waiting to be written are added after it.
func (g *Group) SetCount(ctx context.Context, key string, n int64) (int64, error) {
	e, ok := g.store.(Editor)
	if err := g.enter(ok, "set count", key); err != nil {
		return 0, err
	}
	defer g.busy.Done()
	return e.SetCount(ctx, key, n)
}

// Export reads key's record from the store, which must implement [Editor].
func (g *Group) Export(ctx context.Context, key string) (Record, error) {
	e, ok := g.store.(Editor)
	if err := g.enter(ok, "export", key); err != nil {
		return Record{}, err
	}
	defer g.busy.Done()
	return e.Export(ctx, key)
}

// Import writes r to the store, which must implement [Editor].
func (g *Group) Import(ctx context.Context, r Record) error {
	e, ok := g.store.(Editor)
	if err := g.enter(ok, "import", r.Key); err != nil {
		return err
	}
	defer g.busy.Done()
	return e.Import(ctx, r)
}

// enter admits a call passed through to the store, which has the
// capability it needs if supported: Close waits for it. The caller calls
// g.busy.Done when the store has answered.
func (g *Group) enter(supported bool, op, key string) error {
	if !supported {
		return fmt.Errorf("counter: %s %q: store %T cannot: %w", op, key, g.store, errors.ErrUnsupported)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return fmt.Errorf("%w: %s %q", ErrClosed, op, key)
	}
	g.busy.Add(1)
	return nil
}
