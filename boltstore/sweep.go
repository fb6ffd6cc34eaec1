package boltstore

import (
	"bytes"
	"encoding/binary"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/resumecounter/counter"
)

// sweepBatch is the most markers (or salts) of one kind one sweep
// transaction deletes, so that a sweep never holds the writer for long.
const sweepBatch = 1000

// sweeper deletes expired markers every interval until Close.
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
			n, err := s.sweep(s.now())
			if err != nil {
				s.log.Error("boltstore: sweep expired markers", "err", err)
				break
			}
			if n < sweepBatch {
				break
			}
			select { // more to do: go on, unless closing
			case <-s.stop:
				return
			default:
			}
		}
	}
}

// sweep deletes, in one transaction, up to sweepBatch expired entries of
// each kind as of now and returns the most deleted of one kind.
func (s *Store) sweep(now time.Time) (int, error) {
	var most int
	err := s.db.Update(func(tx *bolt.Tx) error {
		most = 0
		// Visitor markers expire VisitorMarkerTTL after the start of their
		// day: their keys start with the date.
		{
			b := tx.Bucket(bucketVisitorMarks)
			var dead [][]byte
			c := b.Cursor()
			for k, _ := c.First(); k != nil && len(dead) < sweepBatch; k, _ = c.Next() {
				date := counter.Date(k[:min(len(k), len(time.DateOnly))])
				if date.Valid() && date.Time().Add(counter.VisitorMarkerTTL).After(now) {
					break
				}
				dead = append(dead, bytes.Clone(k))
			}
			for _, k := range dead {
				if err := b.Delete(k); err != nil {
					return err
				}
			}
			if len(dead) > 0 {
				if err := b.SetSequence(b.Sequence() - min(b.Sequence(), uint64(len(dead)))); err != nil {
					return err
				}
			}
			most = max(most, len(dead))
		}
		// Visit id markers: idexp holds expiry ‖ key 0 id, oldest first.
		ids, idexp := tx.Bucket(bucketIDs), tx.Bucket(bucketIDExpiry)
		var dead [][]byte
		c := idexp.Cursor()
		for k, _ := c.First(); k != nil && len(dead) < sweepBatch; k, _ = c.Next() {
			if len(k) >= 8 && int64(binary.BigEndian.Uint64(k[:8])) > now.UnixNano() { //nolint:gosec // an expiry we wrote
				break
			}
			dead = append(dead, bytes.Clone(k))
		}
		removed := uint64(0)
		for _, k := range dead {
			if err := idexp.Delete(k); err != nil {
				return err
			}
			if len(k) < 8 {
				continue
			}
			if cur := ids.Get(k[8:]); cur != nil && bytes.Equal(cur, k[:8]) {
				if err := ids.Delete(k[8:]); err != nil {
					return err
				}
				removed++
			}
		}
		if removed > 0 {
			if err := ids.SetSequence(ids.Sequence() - min(ids.Sequence(), removed)); err != nil {
				return err
			}
		}
		most = max(most, len(dead))
		return nil
	})
	return most, err
}
