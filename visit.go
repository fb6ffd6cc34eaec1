package counter

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// This file holds the types and store capabilities behind unique visitors,
// today's numbers and daily history. Stores implement [VisitStore],
// [HistoryReader] and [Editor]; the library computes visitor ids and days
// ([NewVisitors]) so that stores never see an address or a User-Agent.

// Date is a calendar day written YYYY-MM-DD ("2026-12-01"). Dates sort as
// strings. The zero value "" is no date.
type Date string

// DateOf returns the calendar day of t in t's location.
func DateOf(t time.Time) Date {
	var buf [10]byte
	return Date(t.AppendFormat(buf[:0], time.DateOnly))
}

// ParseDate parses s as YYYY-MM-DD. The error wraps [ErrInvalidDate].
func ParseDate(s string) (Date, error) {
	if _, ok := dateParts(s); !ok {
		return "", fmt.Errorf("%w: %q is not YYYY-MM-DD", ErrInvalidDate, s)
	}
	return Date(s), nil
}

// dateParts parses YYYY-MM-DD as time.Parse(time.DateOnly) does (the day
// must exist in its month), without its cost: stores check the date of
// every visit.
func dateParts(s string) (t time.Time, ok bool) {
	if len(s) != len(time.DateOnly) || s[4] != '-' || s[7] != '-' {
		return time.Time{}, false
	}
	digits := func(s string) (int, bool) {
		n := 0
		for i := 0; i < len(s); i++ {
			if s[i] < '0' || s[i] > '9' {
				return 0, false
			}
			n = n*10 + int(s[i]-'0')
		}
		return n, true
	}
	y, ok1 := digits(s[:4])
	m, ok2 := digits(s[5:7])
	d, ok3 := digits(s[8:])
	if !ok1 || !ok2 || !ok3 || m < 1 || m > 12 || d < 1 {
		return time.Time{}, false
	}
	t = time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC)
	if t.Day() != d { // February 30th and the like roll over
		return time.Time{}, false
	}
	return t, true
}

// ErrInvalidDate is wrapped by errors for a date that is not YYYY-MM-DD.
var ErrInvalidDate = errors.New("counter: invalid date")

// Time returns midnight UTC at the start of d. It is the zero time for an
// invalid date.
func (d Date) Time() time.Time {
	t, _ := dateParts(string(d))
	return t
}

// AddDays returns the date n days after d (before it for n < 0).
func (d Date) AddDays(n int) Date { return DateOf(d.Time().AddDate(0, 0, n)) }

// Valid reports whether d is a date written YYYY-MM-DD.
func (d Date) Valid() bool {
	_, ok := dateParts(string(d))
	return ok
}

// Day holds one key's numbers for one calendar day.
type Day struct {
	Date     Date  `json:"date"`
	Count    int64 `json:"count"`    // counted hits
	Visitors int64 `json:"visitors"` // unique visitors that day
}

// Stats are one key's numbers.
type Stats struct {
	Key string
	// Count is every counted hit since the key was first counted (the
	// number a plain [Incrementer] keeps).
	Count int64
	// Visitors is the sum of daily unique visitors: someone who comes on
	// five days counts five times, as in Plausible and GoatCounter.
	Visitors int64
	// Today is the current day's numbers (zero numbers before the day's
	// first visit).
	Today Day
}

// VisitorID identifies one visitor of one key on one day: a keyed hash of
// the day's salt, the client address, the User-Agent and the key (see
// [NewVisitors]). Without the salt, which is deleted within 48 hours, it
// cannot be linked to an address. The zero VisitorID means the visit counts
// as a hit and never as a visitor (GitHub's image proxy).
type VisitorID [16]byte

// IsZero reports whether id is the zero VisitorID.
func (id VisitorID) IsZero() bool { return id == VisitorID{} }

// Marker lifetimes. A visitor marker (who was seen on a day) and a day's salt
// expire 48 hours after the start of their day in UTC; a visit id marker 24
// hours after the visit.
const (
	VisitorMarkerTTL = 48 * time.Hour
	VisitIDTTL       = 24 * time.Hour
	// SaltLen is the length of a day's salt, in bytes.
	SaltLen = 32
	// MaxVisitIDLen is the longest visit id (Idempotency-Key).
	MaxVisitIDLen = 64
	// MaxHistoryDays is the longest history one read returns.
	MaxHistoryDays = 366
)

// Visit is one request to count, as the library hands it to a [VisitStore].
type Visit struct {
	Key string
	// Date is the calendar day the visit counts on (in the zone of
	// [VisitorOptions.Location]).
	Date Date
	// Visitor is the visitor's id for Key and Date; zero counts a hit only.
	Visitor VisitorID
	// ID is the visit id (Idempotency-Key): if not empty and already seen
	// for Key within [VisitIDTTL], the visit counts nothing.
	ID string
	// Time is when the visit happened; markers written for it expire
	// relative to it (see VisitorMarkerTTL and VisitIDTTL). The zero Time
	// means now, as the store's clock tells it (the Now option of every
	// store, default time.Now); [Visitors] always sets it, from
	// [VisitorOptions.Now].
	Time time.Time
}

// VisitStore is a store that keeps unique visitors and daily numbers besides
// the count. Every method is safe for concurrent use, by many processes
// sharing the store.
type VisitStore interface {
	// RecordVisit counts v: one hit on the key's count and on v.Date's
	// count, and, if v.Visitor was not yet seen for v.Key on v.Date, one
	// visitor on both. It returns the key's numbers after the visit (Today
	// being v.Date's) and whether it counted: false, with nothing written,
	// when v.ID was seen for v.Key within VisitIDTTL. A returned error means
	// nothing was counted, as far as the store can tell (an ambiguous
	// failure of a remote store says so in its error).
	RecordVisit(ctx context.Context, v Visit) (s Stats, counted bool, err error)
	// Stats reads key's numbers without counting; Today is today's.
	Stats(ctx context.Context, key string, today Date) (Stats, error)
	// DaySalt returns day's salt, storing fresh (SaltLen random bytes) if
	// the store has none for day yet. Racing callers get the same salt: the
	// first stored wins. A salt is deleted or expires VisitorMarkerTTL after
	// the start of its day.
	DaySalt(ctx context.Context, day Date, fresh []byte) ([]byte, error)
}

// HistoryReader reads daily numbers.
type HistoryReader interface {
	// History returns key's numbers for each day from first to last, both
	// included, oldest first: exactly one Day per date, with zeros for
	// days without visits. At most MaxHistoryDays days.
	History(ctx context.Context, key string, first, last Date) ([]Day, error)
}

// Record is everything a store holds for one key: what the counter
// command exports and imports, as one line of JSON.
type Record struct {
	Key      string `json:"key"`
	Count    int64  `json:"count"`
	Visitors int64  `json:"visitors"`
	// Days lists every day with numbers, oldest first. Export leaves out
	// days whose count and visitors are both zero (an imported zero day
	// reads as a day without visits).
	Days []Day `json:"days"`
}

// Editor lets an owner see, move and fix counts (the counter command and
// the admin routes). Markers and salts are not part of it. A store's key
// cap (made-up keys from visitors) never refuses the owner's SetCount or
// Import: an owner restoring an export gets every key back.
type Editor interface {
	// SetCount sets key's count to n (n >= 0) atomically and returns the
	// count it replaced. Visitors and days are kept.
	SetCount(ctx context.Context, key string, n int64) (old int64, err error)
	// Export returns key's record; a key never counted has zero numbers
	// and no days.
	Export(ctx context.Context, key string) (Record, error)
	// Import replaces r.Key's count and visitors with r's and each day
	// listed in r.Days with its numbers; days not listed stay. Importing
	// the same record twice leaves the same state.
	Import(ctx context.Context, r Record) error
}

// KeyLister lists the keys a store holds, sorted, for exporting them all.
type KeyLister interface {
	Keys(ctx context.Context) ([]string, error)
}

// ErrOverflow is wrapped by the error for a count that would pass the
// largest int64. Nothing is written.
var ErrOverflow = errors.New("counter: count would overflow int64")

// DayReader reads a key's last n days, ending today, oldest first: what
// the ?days= parameter and [ChartHandler] show. [Visitors] implements it.
type DayReader interface {
	LastDays(ctx context.Context, key string, n int) ([]Day, error)
}

// ErrMarkersFull is wrapped by the error a [VisitStore] returns from
// RecordVisit, with nothing written, when it refuses to keep another
// visitor or visit id marker because it holds as many as it may (a local
// store's cap, so that a flood of made-up visitors cannot grow it without
// bound). [Visitors] then records the visit again as a hit only, without
// the visitor (and, if the store refuses that too, without the visit id),
// and logs that markers are full at most once a minute.
var ErrMarkersFull = errors.New("counter: visit markers full")

// CheckVisit reports whether a store may record v: a valid key, date and
// visit id. Every store refuses anything else before writing.
func CheckVisit(v Visit) error {
	if err := CheckKey(v.Key); err != nil {
		return err
	}
	if !v.Date.Valid() {
		return fmt.Errorf("counter: visit of %q: %w: %q", v.Key, ErrInvalidDate, v.Date)
	}
	if err := CheckVisitID(v.ID); err != nil {
		return fmt.Errorf("counter: visit of %q: %w", v.Key, err)
	}
	return nil
}

// CheckVisitID reports whether id may be a visit id: empty (none), or 1 to
// [MaxVisitIDLen] ASCII letters, digits, '-' and '_'.
func CheckVisitID(id string) error {
	if len(id) > MaxVisitIDLen {
		return fmt.Errorf("counter: visit id of %d bytes, longer than %d", len(id), MaxVisitIDLen)
	}
	for i := 0; i < len(id); i++ {
		switch c := id[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_':
		default:
			return fmt.Errorf("counter: visit id has a disallowed character at byte %d", i)
		}
	}
	return nil
}

// VisitorExpiry is when a visitor marker (and the salt) of day expires.
func VisitorExpiry(day Date) time.Time { return day.Time().Add(VisitorMarkerTTL) }

// CheckHistoryRange reports whether a store may read key's history from
// first to last: a valid key, valid dates, first not after last, at most
// [MaxHistoryDays] days. Its error wraps [ErrInvalidKey] or [ErrInvalidDate].
func CheckHistoryRange(key string, first, last Date) error {
	if err := CheckKey(key); err != nil {
		return err
	}
	if !first.Valid() || !last.Valid() {
		return fmt.Errorf("counter: history of %q: %w: %q to %q", key, ErrInvalidDate, first, last)
	}
	if first > last {
		return fmt.Errorf("counter: history of %q: %w: first day %s is after last day %s", key, ErrInvalidDate, first, last)
	}
	if n := int(last.Time().Sub(first.Time())/(24*time.Hour)) + 1; n > MaxHistoryDays {
		return fmt.Errorf("counter: history of %q: %w: %d days, more than %d", key, ErrInvalidDate, n, MaxHistoryDays)
	}
	return nil
}

// CheckRecord reports whether r may be imported: a valid key, no negative
// number, valid dates in increasing order, and no day with more visitors
// than hits.
func CheckRecord(r Record) error {
	if err := CheckKey(r.Key); err != nil {
		return err
	}
	if r.Count < 0 || r.Visitors < 0 {
		return fmt.Errorf("counter: record %q: negative count or visitors", r.Key)
	}
	var prev Date
	for _, d := range r.Days {
		if !d.Date.Valid() {
			return fmt.Errorf("counter: record %q: %w: %q", r.Key, ErrInvalidDate, d.Date)
		}
		if d.Date <= prev {
			return fmt.Errorf("counter: record %q: day %s is not after %s: days must be oldest first, each once", r.Key, d.Date, prev)
		}
		if d.Count < 0 || d.Visitors < 0 {
			return fmt.Errorf("counter: record %q: day %s has a negative number", r.Key, d.Date)
		}
		if d.Visitors > d.Count {
			return fmt.Errorf("counter: record %q: day %s has %d visitors but %d hits: each visitor is a hit", r.Key, d.Date, d.Visitors, d.Count)
		}
		prev = d.Date
	}
	return nil
}
