package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/resumecounter/counter"
)

// SetCount sets key's count to n >= 0 and returns the count it replaced;
// visitors and days are kept. The owner's edits are not held to
// [Options.MaxKeys].
func (s *Store) SetCount(ctx context.Context, key string, n int64) (int64, error) {
	if err := counter.CheckKey(key); err != nil {
		return 0, err
	}
	if n < 0 {
		return 0, fmt.Errorf("sqlitestore: set %q to %d: the count cannot be negative", key, n)
	}
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("sqlitestore: set %q: %w", key, err)
	}
	var old int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		old = 0
		err := tx.QueryRowContext(ctx, `SELECT count FROM counts WHERE key = ?`, key).Scan(&old)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO counts (key, count) VALUES (?1, ?2)
			ON CONFLICT (key) DO UPDATE SET count = ?2`, key, n)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("sqlitestore: set %q: %w", key, err)
	}
	return old, nil
}

// Export returns everything the store holds for key, days oldest first
// (days with zero numbers left out), read in one transaction.
func (s *Store) Export(ctx context.Context, key string) (counter.Record, error) {
	if err := counter.CheckKey(key); err != nil {
		return counter.Record{}, err
	}
	if err := ctx.Err(); err != nil {
		return counter.Record{}, fmt.Errorf("sqlitestore: export %q: %w", key, err)
	}
	r := counter.Record{Key: key, Days: []counter.Day{}}
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return counter.Record{}, fmt.Errorf("sqlitestore: export %q: %w", key, err)
	}
	defer func() { _ = tx.Rollback() }()
	err = tx.QueryRowContext(ctx, `SELECT count, visitors FROM counts WHERE key = ?`, key).Scan(&r.Count, &r.Visitors)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return counter.Record{}, fmt.Errorf("sqlitestore: export %q: %w", key, err)
	}
	rows, err := tx.QueryContext(ctx, `SELECT date, count, visitors FROM days WHERE key = ? AND (count <> 0 OR visitors <> 0) ORDER BY date`, key)
	if err != nil {
		return counter.Record{}, fmt.Errorf("sqlitestore: export %q: %w", key, err)
	}
	defer rows.Close()
	for rows.Next() {
		var d counter.Day
		if err := rows.Scan(&d.Date, &d.Count, &d.Visitors); err != nil {
			return counter.Record{}, fmt.Errorf("sqlitestore: export %q: %w", key, err)
		}
		r.Days = append(r.Days, d)
	}
	if err := rows.Err(); err != nil {
		return counter.Record{}, fmt.Errorf("sqlitestore: export %q: %w", key, err)
	}
	return r, nil
}

// Import replaces r.Key's count and visitors with r's and each day r lists
// with its numbers, in one transaction; other days stay. Not held to
// [Options.MaxKeys].
func (s *Store) Import(ctx context.Context, r counter.Record) error {
	if err := counter.CheckRecord(r); err != nil {
		return fmt.Errorf("sqlitestore: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sqlitestore: import %q: %w", r.Key, err)
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO counts (key, count, visitors) VALUES (?1, ?2, ?3)
			ON CONFLICT (key) DO UPDATE SET count = ?2, visitors = ?3`, r.Key, r.Count, r.Visitors); err != nil {
			return err
		}
		for _, d := range r.Days {
			if _, err := tx.ExecContext(ctx, `INSERT INTO days (key, date, count, visitors) VALUES (?1, ?2, ?3, ?4)
				ON CONFLICT (key, date) DO UPDATE SET count = ?3, visitors = ?4`, r.Key, string(d.Date), d.Count, d.Visitors); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlitestore: import %q: %w", r.Key, err)
	}
	return nil
}

// Keys returns every key the store holds, sorted (bytewise, as SQLite's
// default BINARY collation sorts).
func (s *Store) Keys(ctx context.Context) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("sqlitestore: keys: %w", err)
	}
	rows, err := s.r.QueryContext(ctx, `SELECT key FROM counts ORDER BY key`)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: keys: %w", err)
	}
	defer rows.Close()
	keys := []string{}
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, fmt.Errorf("sqlitestore: keys: %w", err)
		}
		keys = append(keys, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlitestore: keys: %w", err)
	}
	return keys, nil
}
