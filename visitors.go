package counter

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dchest/siphash"

	"github.com/resumecounter/counter/internal/bots"
)

// Skip says why a request was answered without counting. The empty Skip
// means it counted. The handlers send it in the Counter-Not-Counted
// response header.
type Skip string

// Reasons for not counting.
const (
	Counted      Skip = ""          // the visit counted
	SkipBot      Skip = "bot"       // a bot or crawler by its User-Agent, or no User-Agent
	SkipRepeat   Skip = "repeat"    // a visit id already seen for the key within VisitIDTTL
	SkipOptOut   Skip = "opt-out"   // the browser's owner asked not to be counted (?optout=1)
	SkipReadOnly Skip = "read-only" // the request only reads (?hit=false, HEAD, ?days=, the shields endpoint)
)

// ErrInvalidVisitID is wrapped by the error for a visit id (Idempotency-Key
// header or ?visit= parameter) that is not 1 to [MaxVisitIDLen] characters
// of A-Z, a-z, 0-9, '-' and '_'. Nothing is counted; the handlers answer 400.
var ErrInvalidVisitID = errors.New("counter: invalid visit id")

// VisitorOptions configures [NewVisitors]. The zero value counts days in
// UTC, takes the connection's peer as the client and leaves bots out.
type VisitorOptions struct {
	// Location sets where a day starts and ends: today's numbers and
	// daily history are calendar days there. Default: UTC.
	Location *time.Location
	// Now tells the time. Default: time.Now.
	Now func() time.Time
	// TrustProxy is the number of proxies in front of the server that
	// append the address they see to X-Forwarded-For: the client is the
	// entry the outermost of them added (see [ClientAddr]). Default 0: the
	// connection's peer, and X-Forwarded-For is ignored.
	TrustProxy int
	// CountBots counts requests from bots and crawlers as visits. Default
	// false: they are answered with the current numbers and count nothing.
	CountBots bool
	// Logger hears when markers are full (at most once a minute). It never
	// gets a client's address or User-Agent. Default: slog.Default() at
	// the time of logging.
	Logger *slog.Logger
}

// Visitors counts unique visitors per day besides every hit, on a
// [VisitStore]. It computes each visitor's id from the request (see
// [NewVisitors]), leaves bots out and honours visit ids, so that the store
// never sees an address or a User-Agent.
//
// Visitors implements [Incrementer] and [Reader] too, so it drops into code
// written for a plain store; [JSONHandler] and [BadgeHandler] given a
// Visitors count visitors and answer their numbers. It is safe for
// concurrent use.
type Visitors struct {
	store      VisitStore
	history    HistoryReader // nil if store keeps no history
	loc        *time.Location
	now        func() time.Time
	trustProxy int
	countBots  bool
	logger     *slog.Logger

	today    atomic.Pointer[dayRange] // the day last asked for, with its bounds
	salt     atomic.Pointer[daySalt]  // the latest day's salt, read without a lock
	mu       sync.Mutex
	fetching map[Date]*saltFetch // DaySalt calls in flight

	markersFull warnLimiter // refused markers, for the log
}

var (
	_ Incrementer = (*Visitors)(nil)
	_ Reader      = (*Visitors)(nil)
	_ DayReader   = (*Visitors)(nil)
	_ VisitReader = (*Visitors)(nil)
)

// VisitReader is what [JSONHandler] and [BadgeHandler] need to count
// visitors; [Visitors] implements it. Given an [Incrementer] that also
// implements VisitReader, the handlers call Visit to count and Stats to
// read, and answer visitors and today's numbers.
type VisitReader interface {
	Visit(ctx context.Context, r *http.Request, key string) (Stats, Skip, error)
	Stats(ctx context.Context, key string) (Stats, error)
}

// daySalt is one day's salt, kept as the SipHash key derived from it.
type daySalt struct {
	day    Date
	k0, k1 uint64
}

// saltFetch is a DaySalt call in flight, shared by every request that
// needs that day's salt meanwhile.
type saltFetch struct {
	done chan struct{}
	salt *daySalt
	err  error
}

// NewVisitors returns a Visitors counting on store. A visitor is one client
// address (an IPv4 address, or an IPv6 /64) with one User-Agent, per key
// and per day: its id is SipHash-2-4 (128 bits, [VisitorID]), keyed with a
// key derived from the day's salt, of the address, the User-Agent and the
// key, as Plausible does. The
// salt is 32 random bytes the store keeps for that day only, shared by
// every process using the store, and deleted within 48 hours; after that
// nothing stored links a visitor id to an address, even for someone
// holding the store and every secret. Neither the address nor the
// User-Agent is stored or logged.
//
// Requests from bots (by the User-Agent patterns of the npm package isbot)
// and requests without a User-Agent count nothing, unless
// opts.CountBots. GitHub's image proxy (User-Agent github-camo…), which
// hides who views a README, counts a hit and never a visitor.
//
// If store also implements [HistoryReader], LastDays reads daily numbers.
func NewVisitors(store VisitStore, opts VisitorOptions) *Visitors {
	if store == nil {
		panic("counter: NewVisitors needs a VisitStore, got nil")
	}
	v := &Visitors{
		store:      store,
		loc:        opts.Location,
		now:        opts.Now,
		trustProxy: max(opts.TrustProxy, 0),
		countBots:  opts.CountBots,
		logger:     opts.Logger,
		fetching:   make(map[Date]*saltFetch),
	}
	v.history, _ = store.(HistoryReader)
	if v.loc == nil {
		v.loc = time.UTC
	}
	if v.now == nil {
		v.now = time.Now
	}
	return v
}

// Today returns the current day in the Visitors' location.
func (v *Visitors) Today() Date { return v.dayOf(v.now()) }

// dayRange is a day in the Visitors' location, as Unix nanoseconds
// [start, end).
type dayRange struct {
	date       Date
	start, end int64
}

// dayOf returns t's day in the Visitors' location, formatting it only
// when t falls outside the day last asked for.
func (v *Visitors) dayOf(t time.Time) Date {
	ns := t.UnixNano()
	if d := v.today.Load(); d != nil && d.start <= ns && ns < d.end {
		return d.date
	}
	t = t.In(v.loc)
	y, m, day := t.Date()
	d := &dayRange{
		date:  DateOf(t),
		start: time.Date(y, m, day, 0, 0, 0, 0, v.loc).UnixNano(),
		end:   time.Date(y, m, day+1, 0, 0, 0, 0, v.loc).UnixNano(),
	}
	v.today.Store(d)
	return d.date
}

// Visit counts r as a visit of key and returns key's numbers after it, and
// why it did not count if it did not: [SkipBot] for a bot, [SkipRepeat] for
// a visit id seen before. A request not counted still gets the current
// numbers.
//
// The visit id is r's Idempotency-Key header, or else its ?visit=
// parameter; an invalid one is an error wrapping [ErrInvalidVisitID], and
// nothing is counted. Visit does not look at the method or other
// parameters: the handlers decide what counts.
func (v *Visitors) Visit(ctx context.Context, r *http.Request, key string) (Stats, Skip, error) {
	if err := CheckKey(key); err != nil {
		return Stats{}, "", err
	}
	id, err := VisitIDOf(r)
	if err != nil {
		return Stats{}, "", err
	}
	now := v.now()
	day := v.dayOf(now)
	ua := r.Header.Get("User-Agent")
	camo := strings.HasPrefix(ua, "github-camo")
	if !camo && !v.countBots && (ua == "" || bots.IsBot(ua)) {
		s, err := v.store.Stats(ctx, key, day)
		if err != nil {
			return Stats{}, "", fmt.Errorf("counter: visit %q: %w", key, err)
		}
		return s, SkipBot, nil
	}
	visit := Visit{Key: key, Date: day, ID: id, Time: now}
	if !camo {
		salt, err := v.daySalt(ctx, day)
		if err != nil {
			return Stats{}, "", fmt.Errorf("counter: visit %q: %w", key, err)
		}
		visit.Visitor = salt.visitorID(ClientAddr(r, v.trustProxy), ua, key)
	}
	s, counted, err := v.record(ctx, visit)
	if err != nil {
		return Stats{}, "", fmt.Errorf("counter: visit %q: %w", key, err)
	}
	if !counted {
		return s, SkipRepeat, nil
	}
	return s, Counted, nil
}

// record writes visit; when the store's markers are full it writes it as a
// hit without the visitor, then without the visit id.
func (v *Visitors) record(ctx context.Context, visit Visit) (Stats, bool, error) {
	for {
		s, counted, err := v.store.RecordVisit(ctx, visit)
		if err == nil || !errors.Is(err, ErrMarkersFull) || (visit.Visitor.IsZero() && visit.ID == "") {
			return s, counted, err
		}
		v.logFull(ctx, visit.Key, err)
		if !visit.Visitor.IsZero() {
			visit.Visitor = VisitorID{}
		} else {
			visit.ID = ""
		}
	}
}

// logFull logs that the store refuses new markers, at most once a minute.
func (v *Visitors) logFull(ctx context.Context, key string, err error) {
	if _, ok := v.markersFull.note(); !ok {
		return
	}
	logger := v.logger
	if logger == nil {
		logger = slog.Default()
	}
	logger.LogAttrs(ctx, slog.LevelWarn, "counter: visit markers full: new visitors count as hits only (logged at most once a minute)",
		slog.String("key", key), slog.Any("err", err))
}

// Stats returns key's numbers without counting, with today's.
func (v *Visitors) Stats(ctx context.Context, key string) (Stats, error) {
	if err := CheckKey(key); err != nil {
		return Stats{}, err
	}
	return v.store.Stats(ctx, key, v.Today())
}

// LastDays returns key's numbers for the n days ending today, oldest
// first, exactly n of them (1 <= n <= [MaxHistoryDays]). It needs a store
// implementing [HistoryReader]; otherwise the error wraps
// [errors.ErrUnsupported].
func (v *Visitors) LastDays(ctx context.Context, key string, n int) ([]Day, error) {
	if err := CheckKey(key); err != nil {
		return nil, err
	}
	if n < 1 || n > MaxHistoryDays {
		return nil, fmt.Errorf("counter: last %d days of %q: want 1 to %d days", n, key, MaxHistoryDays)
	}
	if v.history == nil {
		return nil, fmt.Errorf("counter: last days of %q: store %T keeps no daily history: %w", key, v.store, errors.ErrUnsupported)
	}
	today := v.Today()
	days, err := v.history.History(ctx, key, today.AddDays(1-n), today)
	if err != nil {
		return nil, err
	}
	if len(days) != n {
		return nil, fmt.Errorf("counter: last %d days of %q: store %T returned %d days", n, key, v.store, len(days))
	}
	return days, nil
}

// Increment counts a hit on key without a visitor (the visitor is not
// known without a request) and returns key's count.
func (v *Visitors) Increment(ctx context.Context, key string) (int64, error) {
	if err := CheckKey(key); err != nil {
		return 0, err
	}
	now := v.now()
	s, _, err := v.store.RecordVisit(ctx, Visit{Key: key, Date: v.dayOf(now), Time: now})
	if err != nil {
		return 0, fmt.Errorf("counter: increment %q: %w", key, err)
	}
	return s.Count, nil
}

// Count returns key's count without counting.
func (v *Visitors) Count(ctx context.Context, key string) (int64, error) {
	s, err := v.Stats(ctx, key)
	return s.Count, err
}

// daySalt returns day's salt: from memory, or from the store, once per day
// and process however many requests ask at once. A failure is returned to
// every request that waited for it, and the next request tries again.
func (v *Visitors) daySalt(ctx context.Context, day Date) (*daySalt, error) {
	if s := v.salt.Load(); s != nil && s.day == day {
		return s, nil
	}
	v.mu.Lock()
	if s := v.salt.Load(); s != nil && s.day == day {
		v.mu.Unlock()
		return s, nil
	}
	f := v.fetching[day]
	if f == nil {
		f = &saltFetch{done: make(chan struct{})}
		v.fetching[day] = f
		v.mu.Unlock()
		// Not on ctx's cancellation alone: others wait for this call.
		f.salt, f.err = v.fetchSalt(context.WithoutCancel(ctx), ctx, day)
		v.mu.Lock()
		delete(v.fetching, day)
		if f.err == nil {
			if cur := v.salt.Load(); cur == nil || cur.day < day {
				v.salt.Store(f.salt)
			}
		}
		v.mu.Unlock()
		close(f.done)
		return f.salt, f.err
	}
	v.mu.Unlock()
	select {
	case <-f.done:
		return f.salt, f.err
	case <-ctx.Done():
		return nil, fmt.Errorf("counter: salt of %s: %w", day, ctx.Err())
	}
}

// fetchSalt asks the store for day's salt, offering fresh random bytes. The
// call runs with ctx's values and deadline but not its cancellation, since
// other requests may wait for it; it still ends at caller's deadline.
func (v *Visitors) fetchSalt(ctx, caller context.Context, day Date) (*daySalt, error) {
	if d, ok := caller.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, d)
		defer cancel()
	}
	fresh := make([]byte, SaltLen)
	rand.Read(fresh) // never fails (crypto/rand)
	salt, err := v.store.DaySalt(ctx, day, fresh)
	if err != nil {
		return nil, fmt.Errorf("counter: salt of %s: %w", day, err)
	}
	if len(salt) != SaltLen {
		return nil, fmt.Errorf("counter: salt of %s: store returned %d bytes, want %d", day, len(salt), SaltLen)
	}
	return newDaySalt(day, salt), nil
}

// newDaySalt derives the day's SipHash key from its salt: the first 16
// bytes of SHA-256("counter visitor id" ‖ salt).
func newDaySalt(day Date, salt []byte) *daySalt {
	h := sha256.New()
	h.Write([]byte("counter visitor id"))
	h.Write(salt)
	sum := h.Sum(nil)
	return &daySalt{day: day, k0: binary.LittleEndian.Uint64(sum[0:8]), k1: binary.LittleEndian.Uint64(sum[8:16])}
}

// visitorID is SipHash-2-4-128, keyed with the day's key, of address ‖ 0 ‖
// ua ‖ 0 ‖ key, where address is the 4 bytes of an IPv4 address or the
// first 8 bytes (the /64) of an IPv6 one.
func (s *daySalt) visitorID(addr netip.Addr, ua, key string) VisitorID {
	var buf [320]byte
	msg := appendClient(buf[:0], addr)
	msg = append(msg, 0)
	msg = append(msg, ua...)
	msg = append(msg, 0)
	msg = append(msg, key...)
	lo, hi := siphash.Hash128(s.k0, s.k1, msg)
	var id VisitorID
	binary.LittleEndian.PutUint64(id[:8], lo)
	binary.LittleEndian.PutUint64(id[8:], hi)
	return id
}

// appendClient appends what identifies addr's client: an IPv4 address, or
// an IPv6 address's /64 (one subscriber's usual allocation). An invalid
// address appends nothing.
func appendClient(dst []byte, addr netip.Addr) []byte {
	switch {
	case addr.Is4():
		a := addr.As4()
		return append(dst, a[:]...)
	case addr.Is6():
		a := addr.As16()
		return append(dst, a[:8]...)
	}
	return dst
}

// VisitIDOf returns r's visit id: its Idempotency-Key header, or else its
// ?visit= parameter, or "" if it has neither. An id that is not 1 to
// [MaxVisitIDLen] characters of A-Z, a-z, 0-9, '-' and '_' is an error
// wrapping [ErrInvalidVisitID].
func VisitIDOf(r *http.Request) (string, error) {
	id, ok := "", false
	if vs := r.Header["Idempotency-Key"]; len(vs) > 0 {
		id, ok = vs[0], true
	} else {
		id, ok = rawQueryValue(r.URL.RawQuery, "visit")
	}
	if !ok {
		return "", nil
	}
	if id == "" || CheckVisitID(id) != nil {
		return "", fmt.Errorf("%w: want 1 to %d characters of A-Z, a-z, 0-9, '-' and '_'", ErrInvalidVisitID, MaxVisitIDLen)
	}
	return id, nil
}

// rawQueryValue returns the first value of the parameter name in a raw
// query, as written (a valid visit id needs no unescaping; an escaped one
// is invalid anyway), and whether the parameter is there.
func rawQueryValue(raw, name string) (string, bool) {
	for raw != "" {
		var part string
		part, raw, _ = strings.Cut(raw, "&")
		if k, v, _ := strings.Cut(part, "="); k == name {
			return v, true
		}
	}
	return "", false
}

// ClientAddr returns the address of r's client: the connection's peer
// (r.RemoteAddr, with or without a port), or, with trustProxy > 0 proxies
// in front that each append the address they see to X-Forwarded-For, the
// entry the outermost of them added: the trustProxy-th from the right.
// Entries left of it are the client's to forge and are never read. A
// request with fewer entries, or an entry that is not an address, counts as
// the peer's. IPv4-mapped IPv6 addresses are unmapped and zones dropped.
// The result is the zero Addr when nothing parses.
//
// Behind [lambdahttp], r.RemoteAddr is the event's source IP (which API
// Gateway and Function URLs take from the connection), so trustProxy is 0
// there unless a CDN is in front.
func ClientAddr(r *http.Request, trustProxy int) netip.Addr {
	addr := parseAddr(r.RemoteAddr)
	if trustProxy > 0 {
		if hop, ok := forwardedHop(r.Header["X-Forwarded-For"], trustProxy); ok {
			if a := parseAddr(hop); a.IsValid() {
				addr = a
			}
		}
	}
	return addr.Unmap().WithZone("")
}

// forwardedHop returns the n-th comma-separated entry from the right of
// the X-Forwarded-For lines, taken as one list, trimmed.
func forwardedHop(lines []string, n int) (string, bool) {
	for i := len(lines) - 1; i >= 0; i-- {
		line := lines[i]
		for {
			j := strings.LastIndexByte(line, ',')
			if n--; n == 0 {
				return strings.TrimSpace(line[j+1:]), true
			}
			if j < 0 {
				break
			}
			line = line[:j]
		}
	}
	return "", false
}

// parseAddr parses "ip", "ip:port" or "[ip]:port"; the zero Addr if none.
func parseAddr(s string) netip.Addr {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr()
	}
	if a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")); err == nil {
		return a
	}
	return netip.Addr{}
}
