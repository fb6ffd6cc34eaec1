package sqlitestore

import (
	"context"
	"database/sql"
	"time"

	"github.com/resumecounter/counter"
)

// sweepBatch is the most rows of one kind one sweep transaction deletes,
// so that a sweep never holds the writer for long.
const sweepBatch = 1000

// sweeper deletes expired markers and salts every interval until Close.
func (s *Store) sweeper(interval time.Duration) {
	defer close(s.swept)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		for {
			n, err := s.sweep(context.Background(), s.now())
			if err != nil {
				s.log.Error("sqlitestore: sweep expired markers", "err", err)
				break
			}
			if n < sweepBatch {
				break
			}
			select {
			case <-s.stop:
				return
			default:
			}
		}
	}
}

// sweep deletes, in one transaction, up to sweepBatch expired rows of each
// kind as of now and returns the most deleted of one kind.
func (s *Store) sweep(ctx context.Context, now time.Time) (int, error) {
	// A visitor marker or salt of day D expires at D + VisitorMarkerTTL:
	// expired are the days up to the date of now - VisitorMarkerTTL.
	lastDead := string(counter.DateOf(now.UTC().Add(-counter.VisitorMarkerTTL)))
	most, total, marks := 0, 0, 0
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		most, total, marks = 0, 0, 0
		for _, q := range []struct {
			sql   string
			arg   any
			tally string // the tally of the rows deleted, if any
		}{
			{`DELETE FROM visitor_marks WHERE seq IN (SELECT seq FROM visitor_marks WHERE date <= ? ORDER BY date LIMIT 1000)`, lastDead, "visitor_marks"},
			{`DELETE FROM salts WHERE rowid IN (SELECT rowid FROM salts WHERE date <= ? ORDER BY date LIMIT 1000)`, lastDead, ""},
			{`DELETE FROM visit_ids WHERE rowid IN (SELECT rowid FROM visit_ids WHERE expires <= ? ORDER BY expires LIMIT 1000)`, now.UnixNano(), "visit_ids"},
		} {
			res, err := tx.ExecContext(ctx, q.sql, q.arg)
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			if q.tally != "" && n > 0 {
				if _, err := tx.ExecContext(ctx, `UPDATE tallies SET value = value - ? WHERE name = ?`, n, q.tally); err != nil {
					return err
				}
			}
			most = max(most, int(n))
			total += int(n)
			if q.tally == "visitor_marks" {
				marks = int(n)
			}
		}
		return nil
	})
	if err == nil && marks < sweepBatch { // no expired marker left
		s.marks.dropThrough(counter.Date(lastDead))
	}
	if err == nil && (total > 0 || s.walHoldsDeleted.Load()) {
		// The WAL still holds the pages as they were before the delete:
		// copy it into the file (where secure_delete zeroed the rows) and
		// truncate it. A reader in the way makes this a partial
		// checkpoint; every later sweep tries again until one completes.
		s.walHoldsDeleted.Store(true)
		var busy, logFrames, done int
		err = s.w.QueryRowContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &logFrames, &done)
		if err == nil && busy == 0 {
			s.walHoldsDeleted.Store(false)
		}
	}
	return most, err
}
