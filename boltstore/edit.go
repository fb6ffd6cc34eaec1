package boltstore

import (
	"bytes"
	"context"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"

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
		return 0, fmt.Errorf("boltstore: set %q to %d: the count cannot be negative", key, n)
	}
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("boltstore: set %q: %w", key, err)
	}
	var old int64
	fn := func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketCounts)
		var (
			found bool
			err   error
		)
		if old, found, err = getInt(b, []byte(key)); err != nil {
			return err
		}
		if !found {
			if err := b.SetSequence(b.Sequence() + 1); err != nil {
				return err
			}
		}
		return putInt(b, []byte(key), n)
	}
	if err := s.update(ctx, fn); err != nil {
		return 0, fmt.Errorf("boltstore: set %q: %w", key, err)
	}
	return old, nil
}

// Export returns everything the store holds for key, days oldest first
// (days with zero numbers left out).
func (s *Store) Export(ctx context.Context, key string) (counter.Record, error) {
	if err := counter.CheckKey(key); err != nil {
		return counter.Record{}, err
	}
	if err := ctx.Err(); err != nil {
		return counter.Record{}, fmt.Errorf("boltstore: export %q: %w", key, err)
	}
	r := counter.Record{Key: key, Days: []counter.Day{}}
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		if r.Count, _, err = getInt(tx.Bucket(bucketCounts), []byte(key)); err != nil {
			return err
		}
		if r.Visitors, _, err = getInt(tx.Bucket(bucketVisitors), []byte(key)); err != nil {
			return err
		}
		prefix := append([]byte(key), 0)
		c := tx.Bucket(bucketDays).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			d, err := decodeDay(v)
			if err != nil {
				return err
			}
			if d.Count == 0 && d.Visitors == 0 {
				continue // an imported zero day: as if without visits
			}
			d.Date = counter.Date(k[len(prefix):])
			r.Days = append(r.Days, d)
		}
		return nil
	})
	if err != nil {
		return counter.Record{}, fmt.Errorf("boltstore: export %q: %w", key, err)
	}
	return r, nil
}

// Import replaces r.Key's count and visitors with r's and each day r lists
// with its numbers, in one transaction; other days stay. Not held to
// [Options.MaxKeys].
func (s *Store) Import(ctx context.Context, r counter.Record) error {
	if err := counter.CheckRecord(r); err != nil {
		return fmt.Errorf("boltstore: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("boltstore: import %q: %w", r.Key, err)
	}
	key := []byte(r.Key)
	fn := func(tx *bolt.Tx) error {
		counts := tx.Bucket(bucketCounts)
		if counts.Get(key) == nil {
			if err := counts.SetSequence(counts.Sequence() + 1); err != nil {
				return err
			}
		}
		if err := putInt(counts, key, r.Count); err != nil {
			return err
		}
		if err := putInt(tx.Bucket(bucketVisitors), key, r.Visitors); err != nil {
			return err
		}
		days := tx.Bucket(bucketDays)
		for _, d := range r.Days {
			if err := putDay(days, dayKey(r.Key, d.Date), d); err != nil {
				return err
			}
		}
		return nil
	}
	if err := s.update(ctx, fn); err != nil {
		return fmt.Errorf("boltstore: import %q: %w", r.Key, err)
	}
	return nil
}

// Keys returns every key the store holds, sorted.
func (s *Store) Keys(ctx context.Context) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("boltstore: keys: %w", err)
	}
	var keys []string
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketCounts)
		keys = make([]string, 0, b.Sequence())
		return b.ForEach(func(k, _ []byte) error {
			keys = append(keys, string(k))
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("boltstore: keys: %w", err)
	}
	slices.Sort(keys) // bbolt keeps them sorted already; this states the contract
	return keys, nil
}
