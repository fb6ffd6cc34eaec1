package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/resumecounter/counter"
)

// RecordVisit counts v in one transaction (shared with concurrent writes):
// the key's count, its visitors, v.Date's numbers and the markers change
// together or not at all. See [counter.VisitStore]. A visit that needs a
// new marker past [Options.MaxMarkers] fails with an error wrapping
// counter.ErrMarkersFull and writes nothing; counter.Visitors then counts
// it as a hit only. A zero v.Time is now by [Options.Now].
func (s *Store) RecordVisit(ctx context.Context, v counter.Visit) (counter.Stats, bool, error) {
	if err := counter.CheckVisit(v); err != nil {
		return counter.Stats{}, false, err
	}
	if err := ctx.Err(); err != nil {
		return counter.Stats{}, false, fmt.Errorf("boltstore: record visit %q: %w", v.Key, err)
	}
	at := v.Time
	if at.IsZero() {
		at = s.now()
	}
	key := []byte(v.Key)
	dayKey := dayKey(v.Key, v.Date)
	var vmark, idKey []byte
	if !v.Visitor.IsZero() {
		vmark = make([]byte, 0, len(v.Date)+len(key)+1+len(v.Visitor))
		vmark = append(append(append(append(vmark, v.Date...), key...), 0), v.Visitor[:]...)
	}
	if v.ID != "" {
		idKey = append(append(append(make([]byte, 0, len(key)+1+len(v.ID)), key...), 0), v.ID...)
	}
	idExpiry := at.Add(counter.VisitIDTTL).UnixNano()
	markerExpired := !at.Before(counter.VisitorExpiry(v.Date))

	var (
		st      counter.Stats
		counted bool
		refused error
	)
	fn := func(tx *bolt.Tx) error {
		st, counted, refused = counter.Stats{}, false, nil
		if s.beforeWrite != nil {
			if err := s.beforeWrite(v.Key); err != nil {
				return err
			}
		}
		counts, visitors, days := tx.Bucket(bucketCounts), tx.Bucket(bucketVisitors), tx.Bucket(bucketDays)
		count, found, err := getInt(counts, key)
		if err != nil {
			return err
		}
		total, _, err := getInt(visitors, key)
		if err != nil {
			return err
		}
		day, err := getDay(days, dayKey)
		if err != nil {
			return err
		}
		day.Date = v.Date
		st = counter.Stats{Key: v.Key, Count: count, Visitors: total, Today: day}

		ids := tx.Bucket(bucketIDs)
		if idKey != nil {
			if old := ids.Get(idKey); len(old) == 8 && int64(binary.BigEndian.Uint64(old)) > at.UnixNano() { //nolint:gosec // an expiry we wrote
				return nil // seen within VisitIDTTL: counts nothing, writes nothing
			}
		}
		if idKey != nil && ids.Get(idKey) == nil && s.maxMarkers > 0 && ids.Sequence() >= s.maxMarkers {
			refused = fmt.Errorf("boltstore: record visit %q: %d visit id markers: %w", v.Key, ids.Sequence(), counter.ErrMarkersFull)
			return nil
		}
		if !found && s.maxKeys > 0 && counts.Sequence() >= s.maxKeys {
			refused = fmt.Errorf("%w: record visit %q refused, the store holds %d", ErrTooManyKeys, v.Key, counts.Sequence())
			return nil
		}
		vmarks := tx.Bucket(bucketVisitorMarks)
		// A marker seen after it expired (before the sweep deleted it)
		// marks nothing: the visit counts a visitor, as a fresh one would.
		newVisitor, storeMarker := false, false
		if vmark != nil {
			marked := vmarks.Get(vmark) != nil
			switch {
			case marked && !markerExpired:
			case marked:
				newVisitor = true
			case s.maxMarkers > 0 && vmarks.Sequence() >= s.maxMarkers:
				refused = fmt.Errorf("boltstore: record visit %q: %d visitor markers: %w", v.Key, vmarks.Sequence(), counter.ErrMarkersFull)
				return nil
			default:
				newVisitor, storeMarker = true, true
			}
		}
		if count == math.MaxInt64 || day.Count == math.MaxInt64 ||
			newVisitor && (total == math.MaxInt64 || day.Visitors == math.MaxInt64) {
			refused = fmt.Errorf("boltstore: record visit %q (count %d, visitors %d, day %d and %d): %w",
				v.Key, count, total, day.Count, day.Visitors, counter.ErrOverflow)
			return nil
		}

		count++
		day.Count++
		if !found {
			if err := counts.SetSequence(counts.Sequence() + 1); err != nil {
				return err
			}
		}
		if err := putInt(counts, key, count); err != nil {
			return err
		}
		if newVisitor {
			total++
			day.Visitors++
			if err := putInt(visitors, key, total); err != nil {
				return err
			}
		}
		if storeMarker {
			if err := vmarks.Put(vmark, present); err != nil {
				return err
			}
			if err := vmarks.SetSequence(vmarks.Sequence() + 1); err != nil {
				return err
			}
		}
		if err := putDay(days, dayKey, day); err != nil {
			return err
		}
		if idKey != nil {
			if err := s.putVisitID(tx, idKey, idExpiry); err != nil {
				return err
			}
		}
		if s.afterWrite != nil {
			if err := s.afterWrite(v.Key); err != nil {
				return err
			}
		}
		st = counter.Stats{Key: v.Key, Count: count, Visitors: total, Today: day}
		counted = true
		return nil
	}
	if err := s.update(ctx, fn); err != nil {
		return counter.Stats{}, false, fmt.Errorf("boltstore: record visit %q: %w", v.Key, err)
	}
	if refused != nil {
		return counter.Stats{}, false, refused
	}
	return st, counted, nil
}

// putVisitID remembers the visit id idKey until expiry (the caller checked
// the cap).
func (s *Store) putVisitID(tx *bolt.Tx, idKey []byte, expiry int64) error {
	ids, idexp := tx.Bucket(bucketIDs), tx.Bucket(bucketIDExpiry)
	old := ids.Get(idKey)
	if old == nil {
		if err := ids.SetSequence(ids.Sequence() + 1); err != nil {
			return err
		}
	} else if err := idexp.Delete(append(bytes.Clone(old), idKey...)); err != nil { // an expired marker, seen again
		return err
	}
	exp := binary.BigEndian.AppendUint64(make([]byte, 0, 8), uint64(expiry)) //nolint:gosec // after 1970
	if err := ids.Put(idKey, exp); err != nil {
		return err
	}
	return idexp.Put(append(exp, idKey...), present)
}

// Stats reads key's numbers, with today's, without counting.
func (s *Store) Stats(ctx context.Context, key string, today counter.Date) (counter.Stats, error) {
	if err := counter.CheckKey(key); err != nil {
		return counter.Stats{}, err
	}
	if !today.Valid() {
		return counter.Stats{}, fmt.Errorf("boltstore: stats %q: %w: %q", key, counter.ErrInvalidDate, today)
	}
	if err := ctx.Err(); err != nil {
		return counter.Stats{}, fmt.Errorf("boltstore: stats %q: %w", key, err)
	}
	st := counter.Stats{Key: key}
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		if st.Count, _, err = getInt(tx.Bucket(bucketCounts), []byte(key)); err != nil {
			return err
		}
		if st.Visitors, _, err = getInt(tx.Bucket(bucketVisitors), []byte(key)); err != nil {
			return err
		}
		st.Today, err = getDay(tx.Bucket(bucketDays), dayKey(key, today))
		return err
	})
	if err != nil {
		return counter.Stats{}, fmt.Errorf("boltstore: stats %q: %w", key, err)
	}
	st.Today.Date = today
	return st, nil
}

// DaySalt returns day's salt, keeping fresh if there is none yet. Salts
// live in memory only, never in the file: bbolt does not zero the pages it
// frees, so a salt written there could outlive its deletion, and with it
// the link from visitor ids to addresses. One process holds the file, so
// memory is shared by every caller; a restart starts a new salt, and a
// visitor seen before it that day counts once more. Salts of other days
// are dropped counter.VisitorMarkerTTL after the start of their day (by
// [Options.Now]); the day asked for is kept, so that racing callers get
// one salt whatever the day.
func (s *Store) DaySalt(ctx context.Context, day counter.Date, fresh []byte) ([]byte, error) {
	if !day.Valid() {
		return nil, fmt.Errorf("boltstore: day salt: %w: %q", counter.ErrInvalidDate, day)
	}
	if len(fresh) != counter.SaltLen {
		return nil, fmt.Errorf("boltstore: day salt %s: fresh salt of %d bytes, want %d", day, len(fresh), counter.SaltLen)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("boltstore: day salt %s: %w", day, err)
	}
	s.saltsMu.Lock()
	defer s.saltsMu.Unlock()
	if s.salts == nil {
		s.salts = make(map[counter.Date][]byte)
	}
	now := s.now()
	for d := range s.salts {
		if d != day && !now.Before(counter.VisitorExpiry(d)) {
			delete(s.salts, d)
		}
	}
	salt, ok := s.salts[day]
	if !ok {
		salt = bytes.Clone(fresh)
		s.salts[day] = salt
	}
	return bytes.Clone(salt), nil
}

// History returns key's numbers from first to last, one Day per date.
func (s *Store) History(ctx context.Context, key string, first, last counter.Date) ([]counter.Day, error) {
	if err := counter.CheckKey(key); err != nil {
		return nil, err
	}
	if err := counter.CheckHistoryRange(key, first, last); err != nil {
		return nil, fmt.Errorf("boltstore: history %q: %w", key, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("boltstore: history %q: %w", key, err)
	}
	n := int(last.Time().Sub(first.Time())/(24*time.Hour)) + 1
	out := make([]counter.Day, n)
	for i := range out {
		out[i].Date = first.AddDays(i)
	}
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketDays).Cursor()
		end := dayKey(key, last)
		prefix := len(key) + 1
		for k, v := c.Seek(dayKey(key, first)); k != nil && bytes.Compare(k, end) <= 0; k, v = c.Next() {
			d, err := decodeDay(v)
			if err != nil {
				return err
			}
			date := counter.Date(k[prefix:])
			i := int(date.Time().Sub(first.Time()) / (24 * time.Hour))
			if i < 0 || i >= n || out[i].Date != date {
				return fmt.Errorf("stored day %q out of place", k)
			}
			out[i].Count, out[i].Visitors = d.Count, d.Visitors
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("boltstore: history %q: %w", key, err)
	}
	return out, nil
}

// dayKey is the days bucket's key for key on date.
func dayKey(key string, date counter.Date) []byte {
	b := make([]byte, 0, len(key)+1+len(date))
	return append(append(append(b, key...), 0), date...)
}

func getDay(b *bolt.Bucket, k []byte) (counter.Day, error) {
	v := b.Get(k)
	if v == nil {
		return counter.Day{}, nil
	}
	return decodeDay(v)
}

func decodeDay(v []byte) (counter.Day, error) {
	if len(v) != 16 {
		return counter.Day{}, fmt.Errorf("stored day of %d bytes, want 16", len(v))
	}
	c, err := decodeCount(v[:8])
	if err != nil {
		return counter.Day{}, err
	}
	vis, err := decodeCount(v[8:])
	if err != nil {
		return counter.Day{}, err
	}
	return counter.Day{Count: c, Visitors: vis}, nil
}

func putDay(b *bolt.Bucket, k []byte, d counter.Day) error {
	v := make([]byte, 0, 16)
	v = binary.BigEndian.AppendUint64(v, uint64(d.Count))    //nolint:gosec // >= 0
	v = binary.BigEndian.AppendUint64(v, uint64(d.Visitors)) //nolint:gosec // >= 0
	return b.Put(k, v)
}

// present is the value of marker entries: bbolt's Get reads an empty value
// written in the same transaction as absent (nil).
var present = []byte{1}
