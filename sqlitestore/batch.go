package sqlitestore

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/resumecounter/counter"
)

// maxBatch is the most visits one transaction commits, unless a benchmark
// sets Store.maxBatch (1 to measure the store without batching).
const maxBatch = 128

// A visitReq is one RecordVisit call waiting for its batch.
type visitReq struct {
	v  counter.Visit
	at time.Time

	// state: reqQueued until a batch takes the visit into its
	// transaction (reqTaken) or the caller leaves first (reqAbandoned).
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
var errClosed = errors.New("sqlitestore: store closed")

// recordBatched queues r and waits for its batch. A caller whose ctx ends
// before a transaction takes its visit gets ctx's error, and the visit is
// never written; once taken, it waits for the commit (one statement per
// visit and an fsync), so that its answer says what is on disk.
func (s *Store) recordBatched(ctx context.Context, r *visitReq) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return errClosed
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
	case <-ctx.Done():
		if r.state.CompareAndSwap(reqQueued, reqAbandoned) {
			return ctx.Err()
		}
		<-r.done
	}
	return nil
}

// runBatches commits the queued visits, up to maxBatch per transaction,
// until none are left. Visits queued while one transaction runs (its
// fsync, mostly) wait for the next: under load they share it, and a
// visit alone is committed at once.
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

// commitBatch records batch in one transaction, each visit after the
// visits before it, so that its answer is exact (its ordinal, new or
// returning visitor, a repeated visit id). A refused visit writes nothing
// and the others go on. A visit that fails (a statement's error) fails
// alone: the transaction is rolled back and the others are recorded again,
// from scratch, in a new one. When the transaction itself fails (its begin
// or its commit), every visit it took fails with that error and none is
// counted.
func (s *Store) commitBatch(batch []*visitReq) {
	for {
		failed, err := s.tryBatch(batch)
		if failed == nil {
			s.answer(batch, err)
			return
		}
		close(failed.done) // its error is set; the others try again without it
		batch = slices.DeleteFunc(batch, func(r *visitReq) bool { return r == failed })
	}
}

// errVisitFailed ends a batch's transaction when one of its visits failed.
var errVisitFailed = errors.New("a visit in the batch failed")

// tryBatch runs batch's visits in one transaction and commits it. It
// returns the visit that failed, with the transaction rolled back, or the
// transaction's own error.
func (s *Store) tryBatch(batch []*visitReq) (failed *visitReq, err error) {
	ctx := context.Background() // a caller's end must not interrupt the others' statements
	taken := 0
	var b *batchTx
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		taken, failed = 0, nil
		clear(s.txStmts) // the transaction before's, closed with it
		b = newBatchTx(s, tx)
		s.marks.mu.Lock()
		defer s.marks.mu.Unlock()
		if err := s.marks.catchUp(ctx, b.stmt(ctx, qMarksAfter)); err != nil {
			return fmt.Errorf("read visitor markers: %w", err)
		}
		for _, r := range batch {
			if r.state.Load() != reqTaken && !r.state.CompareAndSwap(reqQueued, reqTaken) {
				continue // its caller left before the transaction began
			}
			taken++
			st, counted, refused, err := b.record(ctx, r.v, r.at)
			if err == nil && refused == nil && counted && s.afterWrite != nil {
				err = s.afterWrite(r.v.Key)
			}
			r.st, r.counted, r.err = st, counted, refused
			if refused != nil {
				r.st, r.counted = counter.Stats{}, false
			}
			if err != nil {
				r.st, r.counted = counter.Stats{}, false
				r.err = fmt.Errorf("sqlitestore: record visit %q: %w", r.v.Key, err)
				failed = r
				return errVisitFailed
			}
		}
		if err := b.flush(ctx); err != nil {
			return err
		}
		if s.beforeCommit != nil {
			return s.beforeCommit(taken)
		}
		return nil
	})
	if failed != nil && errors.Is(err, errVisitFailed) {
		return failed, nil
	}
	if err == nil {
		s.marks.commit(b.newMarks, b.lastSeq)
		if s.onBatch != nil {
			s.onBatch(taken)
		}
	}
	return nil, err
}

// answer ends the wait of batch's callers; err is their transaction's.
func (s *Store) answer(batch []*visitReq, err error) {
	for _, r := range batch {
		switch r.state.Load() {
		case reqAbandoned:
			continue
		case reqQueued: // the transaction never began
			r.err = fmt.Errorf("sqlitestore: record visit %q: %w", r.v.Key, err)
		default:
			if err != nil {
				r.st, r.counted = counter.Stats{}, false
				r.err = fmt.Errorf("sqlitestore: record visit %q: %w", r.v.Key, err)
			}
		}
		close(r.done)
	}
}

// stmt returns query's statement in tx, once per transaction: one of
// batchQueries, prepared by Open, or else prepared in tx. Only the batch
// runner calls it, one transaction at a time. Should preparing fail, the
// query runs unprepared, and fails there with its error.
func (s *Store) stmt(ctx context.Context, tx *sql.Tx, query string) stmtRunner {
	if st, ok := s.txStmts[query]; ok {
		return st
	}
	var st *sql.Stmt
	var err error
	if ps, ok := s.prepared[query]; ok {
		st = tx.StmtContext(ctx, ps) // prepared on the writer: reused as it is
	} else {
		st, err = tx.PrepareContext(ctx, query)
	}
	if err != nil {
		return unprepared{tx, query}
	}
	s.txStmts[query] = st
	return st
}

// stmtRunner is what a batch calls on a statement.
type stmtRunner interface {
	QueryRowContext(ctx context.Context, args ...any) *sql.Row
	QueryContext(ctx context.Context, args ...any) (*sql.Rows, error)
	ExecContext(ctx context.Context, args ...any) (sql.Result, error)
}

// unprepared runs its query in tx without a prepared statement.
type unprepared struct {
	tx    *sql.Tx
	query string
}

func (u unprepared) QueryRowContext(ctx context.Context, args ...any) *sql.Row {
	return u.tx.QueryRowContext(ctx, u.query, args...)
}

func (u unprepared) QueryContext(ctx context.Context, args ...any) (*sql.Rows, error) {
	return u.tx.QueryContext(ctx, u.query, args...)
}

func (u unprepared) ExecContext(ctx context.Context, args ...any) (sql.Result, error) {
	return u.tx.ExecContext(ctx, u.query, args...)
}
