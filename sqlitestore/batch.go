package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/resumecounter/counter"
)

// maxBatch is the most visits one transaction commits.
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
		n := min(len(s.pending), maxBatch)
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

// commitBatch records batch in one transaction. Each visit runs in a
// savepoint of its own, after the visits before it, so that its answer is
// exact (its ordinal, new or returning visitor, a repeated visit id) and a
// visit that fails or is refused is rolled back alone. When the
// transaction itself fails (its begin, a savepoint, its commit), every
// visit it took fails with that error and none is counted.
func (s *Store) commitBatch(batch []*visitReq) {
	ctx := context.Background() // a caller's end must not interrupt the others' statements
	var taken []*visitReq
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		taken = taken[:0]
		for _, r := range batch {
			if r.state.Load() != reqTaken && !r.state.CompareAndSwap(reqQueued, reqTaken) {
				continue // its caller left before the transaction began
			}
			taken = append(taken, r)
			if err := s.recordInSavepoint(ctx, tx, r); err != nil {
				return err
			}
		}
		if s.beforeCommit != nil {
			return s.beforeCommit(len(taken))
		}
		return nil
	})
	if err == nil && s.onBatch != nil {
		s.onBatch(len(taken))
	}
	for _, r := range batch {
		switch {
		case r.state.Load() == reqAbandoned:
			continue
		case r.state.Load() == reqQueued: // the transaction never began
			r.err = fmt.Errorf("sqlitestore: record visit %q: %w", r.v.Key, err)
		case err != nil:
			r.st, r.counted = counter.Stats{}, false
			r.err = fmt.Errorf("sqlitestore: record visit %q: %w", r.v.Key, err)
		}
		close(r.done)
	}
}

// recordInSavepoint records r's visit in a savepoint of tx and sets its
// answer. It returns an error only when the transaction can no longer be
// trusted (a savepoint statement failed).
func (s *Store) recordInSavepoint(ctx context.Context, tx *sql.Tx, r *visitReq) error {
	r.st, r.counted, r.err = counter.Stats{}, false, nil
	if _, err := tx.ExecContext(ctx, `SAVEPOINT visit`); err != nil {
		return fmt.Errorf("savepoint: %w", err)
	}
	st, counted, refused, err := s.recordVisit(ctx, tx, r.v, r.at)
	if err == nil && refused == nil && counted && s.afterWrite != nil {
		err = s.afterWrite(r.v.Key)
	}
	if err != nil || refused != nil {
		if _, rerr := tx.ExecContext(ctx, `ROLLBACK TO visit`); rerr != nil {
			return fmt.Errorf("rollback to savepoint: %w", rerr)
		}
		if refused != nil {
			r.err = refused
		} else {
			r.err = fmt.Errorf("sqlitestore: record visit %q: %w", r.v.Key, err)
		}
	} else {
		r.st, r.counted = st, counted
	}
	if _, err := tx.ExecContext(ctx, `RELEASE visit`); err != nil {
		return fmt.Errorf("release savepoint: %w", err)
	}
	return nil
}
