package pgstore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/resumecounter/counter"
)

// maxBatch is the most visits one transaction commits, unless a benchmark
// sets Store.maxBatch (1 to measure the store without batching).
const maxBatch = 128

// maxAttempts bounds how often a batch aborted by a deadlock or a
// serialization failure is sent again before its visits fail.
const maxAttempts = 5

// A visitReq is one RecordVisit call waiting for its batch.
type visitReq struct {
	ctx  context.Context
	key  string
	args []any // the visit statement's arguments

	// state: reqQueued until a batch takes the visit to send it
	// (reqTaken) or the caller leaves first (reqAbandoned).
	state atomic.Int32
	done  chan struct{} // closed when the fields below are final

	st      counter.Stats
	counted bool
	err     error
}

const (
	reqQueued int32 = iota
	reqTaken
	reqAbandoned
)

// errClosed is the error of a visit recorded after Close.
var errClosed = errors.New("pgstore: store closed")

// recordBatched queues r and waits for its batch. A caller whose ctx ends
// before a batch takes its visit gets ctx's error, and the visit is never
// written. One whose ctx ends after its visit was sent gets an error saying
// the outcome is unknown: its batch may yet commit.
func (s *Store) recordBatched(ctx context.Context, r *visitReq) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return fmt.Errorf("pgstore: visit of %q: %w", r.key, errClosed)
	}
	s.pending = append(s.pending, r)
	if !s.running {
		s.running = true
		s.batches.Add(1)
		go s.runBatches()
	}
	s.mu.Unlock()
	select {
	case <-r.done:
		return nil
	case <-ctx.Done():
	}
	if r.state.CompareAndSwap(reqQueued, reqAbandoned) {
		return fmt.Errorf("pgstore: visit of %q: %w", r.key, ctx.Err())
	}
	select {
	case <-r.done:
		return nil
	default:
		return fmt.Errorf("pgstore: visit of %q: outcome unknown, sent in a batch not yet committed: %w", r.key, ctx.Err())
	}
}

// runBatches sends the queued visits, up to maxBatch per transaction,
// until none are left. Visits queued while one batch runs (its round trip
// and its commit's WAL flush, mostly) wait for the next: under load they
// share it, and a visit alone is sent at once.
//
// A store runs one batch at a time: batches of one store touch the same
// hot rows (a key's count and day), whose row locks would make a second
// concurrent batch wait for the first's commit anyway, and visits that
// arrive meanwhile make the next batch bigger, so one commit serves more
// of them. Other stores (processes) on the same database run their own
// batches; the advisory locks of lockKeys order them.
func (s *Store) runBatches() {
	defer s.batches.Done()
	for {
		s.mu.Lock()
		n := min(len(s.pending), cmp.Or(s.maxBatch, maxBatch))
		if n == 0 {
			s.running = false
			s.pending = s.pending[:0:0] // drop the backing array a burst grew
			s.mu.Unlock()
			return
		}
		batch := make([]*visitReq, n)
		copy(batch, s.pending)
		s.pending = s.pending[n:]
		s.mu.Unlock()
		s.commitBatch(batch)
	}
}

// A batchResult is what one attempt at a batch came to.
type batchResult struct {
	failed  *visitReq // a visit whose statement failed; nothing was committed
	retry   bool      // aborted by a deadlock or serialization failure; nothing was committed
	err     error     // the batch's own error, for every visit in it
	unknown bool      // err came after sending: the batch may have committed
}

// commitBatch records batch in one transaction, each visit after those
// before it, so that its answer is exact (its ordinal, new or returning
// visitor, a repeated visit id). A visit whose statement fails fails
// alone: the transaction aborted and wrote nothing, and the others are
// sent again, from scratch, without it. A batch that a deadlock or a
// serialization failure aborted (it wrote nothing) is sent again, up to
// maxAttempts times. When the transaction itself fails (the connection,
// its commit), every visit it took fails with that error and none is
// counted; after sending, the error says the outcome is unknown, and the
// batch is never sent again.
func (s *Store) commitBatch(batch []*visitReq) {
	attempts := 0
	for {
		res := s.tryBatch(batch)
		switch {
		case res.failed != nil:
			close(res.failed.done) // its error is set; the others try again without it
			batch = slices.DeleteFunc(batch, func(r *visitReq) bool { return r == res.failed })
			continue
		case res.retry:
			attempts++
			if attempts < maxAttempts {
				if s.onRetry != nil {
					s.onRetry(res.err)
				}
				continue
			}
		}
		s.answer(batch, res)
		return
	}
}

// tryBatch sends the visits of batch that are still awaited, after the
// advisory locks of their keys, as one pipeline in one implicit
// transaction (pgx sends a batch with one Sync: PostgreSQL commits at the
// Sync if every statement succeeded and rolls everything back otherwise),
// and reads every answer and the commit's before it reports success.
func (s *Store) tryBatch(batch []*visitReq) batchResult {
	var taken []*visitReq
	for _, r := range batch {
		if r.state.Load() == reqTaken || r.state.CompareAndSwap(reqQueued, reqTaken) {
			taken = append(taken, r)
		}
	}
	if len(taken) == 0 {
		return batchResult{}
	}
	if s.beforeSend != nil {
		s.beforeSend(len(taken))
	}
	// A caller's end must not interrupt the others' statements, but once
	// every caller of the batch has left, nobody waits for it: cancel it,
	// so that a server that stopped answering does not hold the store.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var live atomic.Int64
	live.Store(int64(len(taken)))
	stops := make([]func() bool, len(taken))
	for i, r := range taken {
		stops[i] = context.AfterFunc(r.ctx, func() {
			if live.Add(-1) == 0 {
				cancel()
			}
		})
	}
	defer func() {
		for _, stop := range stops {
			stop()
		}
	}()

	b := &pgx.Batch{}
	b.Queue(s.sql.lockKeys, s.lockKeys(taken))
	for _, r := range taken {
		b.Queue(s.sql.visit, r.args...)
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return batchResult{err: notSent{err}}
	}
	defer conn.Release()
	br := conn.SendBatch(ctx, b)
	if _, err := br.Exec(); err != nil {
		_ = br.Close()
		return s.statementFailed(nil, err)
	}
	for _, r := range taken {
		if err := br.QueryRow().Scan(&r.counted, &r.st.Count, &r.st.Visitors, &r.st.Today.Count, &r.st.Today.Visitors); err != nil {
			_ = br.Close()
			return s.statementFailed(r, err)
		}
	}
	if err := br.Close(); err != nil {
		// Every statement succeeded: this is the commit's error.
		var pgErr *pgconn.PgError
		switch {
		case errors.As(err, &pgErr) && retryable(pgErr):
			return batchResult{retry: true, err: err}
		case errors.As(err, &pgErr) && pgErr.Severity == "ERROR":
			return batchResult{err: err} // the commit failed and rolled back
		default:
			return batchResult{err: err, unknown: true}
		}
	}
	if s.onBatch != nil {
		s.onBatch(len(taken))
	}
	return batchResult{}
}

// statementFailed says what err, the error of r's statement (nil: the
// locks'), means for the batch. A server error before the Sync aborted the
// transaction: nothing was committed. An ERROR of a visit's statement is
// that visit's alone; a deadlock or serialization failure is the batch's,
// which may go again; a FATAL or PANIC ends the connection and fails the
// batch. Any other error (the connection lost, the batch cancelled) leaves
// the outcome unknown: the server may have run the rest and committed.
func (s *Store) statementFailed(r *visitReq, err error) batchResult {
	var pgErr *pgconn.PgError
	switch {
	case !errors.As(err, &pgErr):
		if pgconn.SafeToRetry(err) {
			return batchResult{err: err}
		}
		return batchResult{err: err, unknown: true}
	case retryable(pgErr):
		return batchResult{retry: true, err: err}
	case r != nil && pgErr.Severity == "ERROR":
		r.st, r.counted = counter.Stats{}, false
		r.err = wrap(fmt.Sprintf("visit of %q", r.key), err)
		return batchResult{failed: r}
	default:
		return batchResult{err: err}
	}
}

// retryable reports a transaction aborted by a deadlock (40P01) or a
// serialization failure (40001): it wrote nothing and may run again.
func retryable(err *pgconn.PgError) bool {
	return err.Code == "40P01" || err.Code == "40001"
}

// answer ends the wait of batch's callers with res.
func (s *Store) answer(batch []*visitReq, res batchResult) {
	for _, r := range batch {
		if r.state.Load() == reqAbandoned {
			continue
		}
		if res.err != nil {
			r.st, r.counted = counter.Stats{}, false
			op := fmt.Sprintf("visit of %q", r.key)
			if res.unknown {
				cause := res.err
				if err := r.ctx.Err(); err != nil {
					// The caller left after sending (the batch is cancelled once
					// all its callers left): its error is its own context's,
					// whichever of the two waits saw the end first.
					cause = err
				}
				r.err = fmt.Errorf("pgstore: %s: outcome unknown, the batch failed after it was sent: %w", op, cause)
			} else {
				r.err = wrap(op, res.err)
			}
		}
		close(r.done)
	}
}

// lockKeys returns the advisory lock ids of taken's keys, sorted and
// without repeats. Each batch locks its keys in that order before it
// writes: two stores (processes) batching visits of the same keys in
// different orders would otherwise lock their rows in different orders and
// deadlock, which PostgreSQL breaks only after deadlock_timeout (1 s) by
// aborting one of them. The ids hash the table prefix and the key, so
// stores of other prefixes do not wait for each other. The sweep takes
// none of these locks, but never waits for a row lock either (it skips
// the markers another transaction holds), so it cannot deadlock with a
// batch. A deadlock that is still possible (with transactions of your
// own on the store's tables) aborts a batch that then goes again.
func (s *Store) lockKeys(taken []*visitReq) []int64 {
	ids := make([]int64, 0, len(taken))
	for _, r := range taken {
		ids = append(ids, lockID(s.opts.Prefix, r.key))
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

func lockID(prefix, key string) int64 {
	h := fnv.New64a()
	h.Write([]byte("pgstore visit\x00" + prefix + "\x00" + key))
	return int64(h.Sum64()) //nolint:gosec // a hash, its bits reused as PostgreSQL's bigint lock id
}

// notSent marks an error that came before anything was sent (no
// connection), so that wrap does not call the outcome unknown.
type notSent struct{ error }

func (e notSent) Unwrap() error     { return e.error }
func (e notSent) SafeToRetry() bool { return true }
