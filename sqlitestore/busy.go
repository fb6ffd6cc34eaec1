package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// writeBusyTimeout is the SQLite busy_timeout of the write connection.
// SQLite's own wait for another connection's write lock is not interrupted
// when the caller's context ends (modernc.org/sqlite v1.62.0), so it is kept
// short and retryBusy does the long wait, which does end with the context.
const writeBusyTimeout = 20 * time.Millisecond

// maxBusyPause is the longest pause between two tries of a write that found
// the file locked.
const maxBusyPause = 25 * time.Millisecond

// isBusy reports whether err is SQLite's SQLITE_BUSY (or one of its extended
// codes): another connection holds the lock a statement needed, and the
// statement wrote nothing. SQLITE_LOCKED is not retried: it comes from
// conflicts within one connection or a shared cache, which this package
// does not use, and waiting would not end them.
func isBusy(err error) bool {
	var e *sqlite.Error
	return errors.As(err, &e) && e.Code()&0xff == sqlite3.SQLITE_BUSY
}

// retryBusy runs write, and again after a short pause for as long as it
// fails busy, until it succeeds or fails otherwise. As soon as ctx ends it
// returns an error wrapping ctx's; once timeout has passed in all, the busy
// error. write must have written nothing when it fails busy: it is one
// autocommit statement, or a whole transaction (see tryTx).
func retryBusy(ctx context.Context, timeout time.Duration, write func() error) error {
	start := time.Now()
	pause := time.Millisecond
	for {
		err := write()
		if err == nil || !isBusy(err) {
			return err
		}
		if cerr := ctx.Err(); cerr != nil {
			return fmt.Errorf("waiting for the write lock: %w", cerr)
		}
		left := timeout - time.Since(start)
		if left <= 0 {
			return fmt.Errorf("write lock held elsewhere for %v: %w", timeout, err)
		}
		t := time.NewTimer(min(pause, left))
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("waiting for the write lock: %w", ctx.Err())
		case <-t.C:
		}
		pause = min(2*pause, maxBusyPause)
	}
}

// tryTx runs fn in one write transaction (begun IMMEDIATE: the write lock
// is taken first, so a busy BEGIN has written nothing) on a connection of
// db held until the end, and commits it unless fn fails. Whatever fails,
// the transaction is over when tryTx returns, so a busy failure can be
// retried by running the whole of fn again.
func tryTx(ctx context.Context, db *sql.DB, fn func(*sql.Tx) error) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close() }()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		if isBusy(err) {
			// In WAL mode a transaction holding the write lock commits
			// without waiting, so this is not expected; but SQLite leaves
			// the transaction open after a busy COMMIT: end it on this
			// connection, before another caller can use it, so that
			// nothing of it is written and a retry starts afresh.
			if _, rerr := conn.ExecContext(context.Background(), `ROLLBACK`); rerr != nil {
				return fmt.Errorf("commit: %v; rollback: %w", err, rerr) //nolint:errorlint // not retried: the transaction's state is unknown
			}
		}
		return err
	}
	return nil
}

// inTx runs fn in a write transaction and commits it unless fn fails,
// trying the whole transaction again while the file is locked by another
// connection (see retryBusy). fn may run more than once: it must set
// everything it reports from scratch.
func (s *Store) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	return retryBusy(ctx, s.busy, func() error { return tryTx(ctx, s.w, fn) })
}
