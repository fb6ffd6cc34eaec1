// Package redisstore keeps counts, unique visitors and daily history in
// Redis or Redis Cluster, through github.com/redis/go-redis/v9.
//
// A count is one command (INCRBY); a visit is one Lua script (EVALSHA) that
// checks and sets the markers, counts the key and the day, and returns the
// numbers, atomically. Every key of one counter carries the counter's name
// as a hash tag, so they share a cluster slot and the store works unchanged
// on a *redis.ClusterClient:
//
//	counter:{home}:count                     string, the count (INCRBY)
//	counter:{home}:visitors                  string, the sum of daily visitors
//	counter:{home}:days                      hash, fields 2026-12-01:c and 2026-12-01:v
//	counter:{home}:v:2026-12-01:<32 hex>     visitor marker, expires 48 h after the day starts
//	counter:{home}:i:<visit id>              visit id marker, expires 24 h after the visit
//	counter:salt:{2026-12-01}                the day's salt, expires 48 h after the day starts
//
// How many acknowledged counts a crash of the Redis server loses depends on
// its persistence settings, not on this package: with RDB snapshots only
// (Redis's default), everything since the last snapshot (minutes); with
// appendonly yes and appendfsync everysec, up to about one second of
// writes; with appendfsync always, none that was acknowledged.
package redisstore

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	neturl "net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/resumecounter/counter"
)

// DefaultPrefix starts every Redis key unless [Options.Prefix] says otherwise.
const DefaultPrefix = "counter"

// Options configures [New] and [Open]. The zero value works.
type Options struct {
	// Prefix starts every key name, followed by ':': letters, digits, '_',
	// '-', '.' and ':', at most 64 bytes (no braces, which would change the
	// hash slot, and no glob characters). Default: DefaultPrefix ("counter").
	Prefix string
	// Now is the store's clock: the time of a visit whose Time is zero, and
	// the time a new day salt's life is counted from. Markers and salts get
	// Redis expiries relative to it, so Redis's own clock may differ.
	// Default: time.Now.
	Now func() time.Time
}

// Store is a counter store in Redis. It is safe for concurrent use by many
// goroutines and processes.
type Store struct {
	client redis.UniversalClient
	prefix string
	now    func() time.Time
	owned  bool
}

var (
	_ counter.Incrementer   = (*Store)(nil)
	_ counter.Reader        = (*Store)(nil)
	_ counter.Adder         = (*Store)(nil)
	_ counter.VisitStore    = (*Store)(nil)
	_ counter.HistoryReader = (*Store)(nil)
	_ counter.Editor        = (*Store)(nil)
	_ counter.KeyLister     = (*Store)(nil)
)

var prefixRE = regexp.MustCompile(`^[A-Za-z0-9_.:-]{1,64}$`)

// New returns a store using client: a *redis.Client, a *redis.ClusterClient
// or any other redis.UniversalClient. Close does not close client.
//
// go-redis retries a command after a network error by default (MaxRetries
// 3); a retried INCRBY whose first answer was lost counts twice. Set
// MaxRetries to -1 in the client's options to never count twice (an
// ambiguous failure is then an error), as [Open] does.
func New(client redis.UniversalClient, opts Options) (*Store, error) {
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	if !prefixRE.MatchString(opts.Prefix) {
		return nil, fmt.Errorf("redisstore: prefix %q: want 1 to 64 letters, digits, '_', '-', '.' or ':'", opts.Prefix)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Store{client: client, prefix: opts.Prefix, now: opts.Now}, nil
}

// Open connects to the Redis server at url (redis://host:port/0,
// rediss:// for TLS) or, when url has addr= parameters, to the Redis
// Cluster they list with the URL's host
// (redis://host:p1?addr=host:p2&addr=host:p3, as redis.ParseClusterURL
// reads it). Unless the URL sets max_retries, a failed command is not
// retried, so a lost answer never counts a visit twice. Open checks the
// connection with PING. Close closes the client.
func Open(ctx context.Context, url string, opts Options) (*Store, error) {
	u, err := neturl.Parse(url)
	if err != nil {
		return nil, fmt.Errorf("redisstore: parse URL: %w", err)
	}
	q := u.Query()
	retries := q.Has("max_retries")
	var client redis.UniversalClient
	if q.Has("addr") {
		o, err := redis.ParseClusterURL(url)
		if err != nil {
			return nil, fmt.Errorf("redisstore: parse cluster URL: %w", err)
		}
		if !retries {
			o.MaxRetries = -1
		}
		client = redis.NewClusterClient(o)
	} else {
		o, err := redis.ParseURL(url)
		if err != nil {
			return nil, fmt.Errorf("redisstore: parse URL: %w", err)
		}
		if !retries {
			o.MaxRetries = -1
		}
		client = redis.NewClient(o)
	}
	s, err := New(client, opts)
	if err != nil {
		_ = client.Close()
		return nil, err
	}
	s.owned = true
	if err := client.Ping(ctx).Err(); err != nil {
		_ = client.Close()
		return nil, fmt.Errorf("redisstore: connect: %w", err)
	}
	return s, nil
}

// Close closes the client if [Open] made it.
func (s *Store) Close() error {
	if s.owned {
		if err := s.client.Close(); err != nil {
			return fmt.Errorf("redisstore: close: %w", err)
		}
	}
	return nil
}

func (s *Store) countKey(key string) string    { return s.prefix + ":{" + key + "}:count" }
func (s *Store) visitorsKey(key string) string { return s.prefix + ":{" + key + "}:visitors" }
func (s *Store) daysKey(key string) string     { return s.prefix + ":{" + key + "}:days" }
func (s *Store) saltKey(day counter.Date) string {
	return s.prefix + ":salt:{" + string(day) + "}"
}

// Increment adds one visit to key with one INCRBY and returns the new count.
func (s *Store) Increment(ctx context.Context, key string) (int64, error) {
	return s.add(ctx, "increment", key, 1)
}

// Add adds n >= 1 visits to key with one INCRBY and returns the new count.
func (s *Store) Add(ctx context.Context, key string, n int64) (int64, error) {
	return s.add(ctx, "add", key, n)
}

func (s *Store) add(ctx context.Context, op, key string, n int64) (int64, error) {
	if err := counter.CheckKey(key); err != nil {
		return 0, err
	}
	if n < 1 {
		return 0, fmt.Errorf("redisstore: add %d to %q: n must be at least 1", n, key)
	}
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("redisstore: %s %q: %w", op, key, err)
	}
	c, err := s.client.IncrBy(ctx, s.countKey(key), n).Result()
	if err != nil {
		return 0, wrap(fmt.Sprintf("%s %q", op, key), err)
	}
	return c, nil
}

// wrap prefixes err and maps Redis's overflow refusal to counter.ErrOverflow.
func wrap(op string, err error) error {
	if strings.Contains(err.Error(), "would overflow") {
		return fmt.Errorf("redisstore: %s: %w", op, counter.ErrOverflow)
	}
	var rerr redis.Error
	if errors.As(err, &rerr) {
		return fmt.Errorf("redisstore: %s: %w", op, err)
	}
	return fmt.Errorf("redisstore: %s: outcome unknown: %w", op, err)
}

// Count returns key's count; a key never counted reads 0.
func (s *Store) Count(ctx context.Context, key string) (int64, error) {
	if err := counter.CheckKey(key); err != nil {
		return 0, err
	}
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("redisstore: count %q: %w", key, err)
	}
	c, err := s.client.Get(ctx, s.countKey(key)).Int64()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, wrap(fmt.Sprintf("count %q", key), err)
	}
	return c, nil
}

// visitScript counts one visit. KEYS: count, visitors, days, visit id
// marker, visitor marker. ARGV: 1 the visit's time (ms), 2 "1" if there is
// a visit id, 3 its marker's expiry (ms), 4 "1" if there is a visitor,
// 5 its marker's expiry (ms), 6 the date, 7 the markers' time to live (ms,
// visit id then visitor, 8). A marker holds its expiry and counts as absent
// from then on, whatever Redis's own expiry says. Numbers are checked for
// overflow before anything is written (a script error does not roll back)
// and returned as strings (Lua numbers are doubles).
var visitScript = redis.NewScript(`
local now = tonumber(ARGV[1])
local max = '9223372036854775807'
local function live(k)
  local v = redis.call('GET', k)
  return v and tonumber(v) > now
end
local cf, vf = ARGV[6] .. ':c', ARGV[6] .. ':v'
local counted = 1
if ARGV[2] == '1' and live(KEYS[4]) then
  counted = 0
else
  local newv = ARGV[4] == '1' and not live(KEYS[5])
  if redis.call('GET', KEYS[1]) == max or redis.call('HGET', KEYS[3], cf) == max or
     (newv and (redis.call('GET', KEYS[2]) == max or redis.call('HGET', KEYS[3], vf) == max)) then
    return redis.error_reply('ERR increment or decrement would overflow')
  end
  if ARGV[2] == '1' then redis.call('SET', KEYS[4], ARGV[3], 'PX', ARGV[7]) end
  redis.call('INCR', KEYS[1])
  redis.call('HINCRBY', KEYS[3], cf, 1)
  if newv then
    redis.call('SET', KEYS[5], ARGV[5], 'PX', ARGV[8])
    redis.call('INCR', KEYS[2])
    redis.call('HINCRBY', KEYS[3], vf, 1)
  end
end
local d = redis.call('HMGET', KEYS[3], cf, vf)
return {counted, redis.call('GET', KEYS[1]) or '0', redis.call('GET', KEYS[2]) or '0', d[1] or '0', d[2] or '0'}
`)

// RecordVisit counts v with one script; see [counter.VisitStore]. A zero
// v.Time is now by [Options.Now].
func (s *Store) RecordVisit(ctx context.Context, v counter.Visit) (counter.Stats, bool, error) {
	if err := counter.CheckVisit(v); err != nil {
		return counter.Stats{}, false, err
	}
	if err := ctx.Err(); err != nil {
		return counter.Stats{}, false, fmt.Errorf("redisstore: visit of %q: %w", v.Key, err)
	}
	if v.Time.IsZero() {
		v.Time = s.now()
	}
	idExp := v.Time.Add(counter.VisitIDTTL)
	visExp := counter.VisitorExpiry(v.Date)
	hasID, hasVisitor := "0", "0"
	if v.ID != "" {
		hasID = "1"
	}
	if !v.Visitor.IsZero() {
		hasVisitor = "1"
	}
	p := s.prefix + ":{" + v.Key + "}:"
	keys := []string{p + "count", p + "visitors", p + "days", p + "i:" + v.ID,
		p + "v:" + string(v.Date) + ":" + hex.EncodeToString(v.Visitor[:])}
	res, err := visitScript.Run(ctx, s.client, keys,
		v.Time.UnixMilli(), hasID, idExp.UnixMilli(), hasVisitor, visExp.UnixMilli(), string(v.Date),
		ttl(idExp, v.Time), ttl(visExp, v.Time)).Slice()
	if err != nil {
		return counter.Stats{}, false, wrap(fmt.Sprintf("visit of %q", v.Key), err)
	}
	st := counter.Stats{Key: v.Key, Today: counter.Day{Date: v.Date}}
	nums, err := parseNums(res[1:], 4)
	if err != nil || len(res) != 5 {
		return counter.Stats{}, false, fmt.Errorf("redisstore: visit of %q: unexpected reply %v", v.Key, res)
	}
	st.Count, st.Visitors, st.Today.Count, st.Today.Visitors = nums[0], nums[1], nums[2], nums[3]
	counted, _ := res[0].(int64)
	return st, counted == 1, nil
}

// ttl is how long Redis keeps a marker that expires at exp for a visit at
// now, in milliseconds: at least a second, so a marker for an old visit
// still guards against concurrent repeats of it.
func ttl(exp, now time.Time) int64 { return max(exp.Sub(now).Milliseconds(), 1000) }

// parseNums reads n decimal strings (or integers) from a script's reply.
func parseNums(vals []any, n int) ([]int64, error) {
	if len(vals) != n {
		return nil, fmt.Errorf("%d values, want %d", len(vals), n)
	}
	out := make([]int64, n)
	for i, v := range vals {
		switch v := v.(type) {
		case string:
			if v == "" { // a missing key read in a MULTI
				continue
			}
			x, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return nil, err
			}
			out[i] = x
		case int64:
			out[i] = v
		case nil:
		default:
			return nil, fmt.Errorf("value %v of type %T", v, v)
		}
	}
	return out, nil
}

// Stats reads key's numbers, today's being those of today, in one MULTI.
func (s *Store) Stats(ctx context.Context, key string, today counter.Date) (counter.Stats, error) {
	if err := counter.CheckKey(key); err != nil {
		return counter.Stats{}, err
	}
	if !today.Valid() {
		return counter.Stats{}, fmt.Errorf("redisstore: stats of %q: %w: %q", key, counter.ErrInvalidDate, today)
	}
	if err := ctx.Err(); err != nil {
		return counter.Stats{}, fmt.Errorf("redisstore: stats of %q: %w", key, err)
	}
	var c, v *redis.StringCmd
	var d *redis.SliceCmd
	_, err := s.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		c = p.Get(ctx, s.countKey(key))
		v = p.Get(ctx, s.visitorsKey(key))
		d = p.HMGet(ctx, s.daysKey(key), string(today)+":c", string(today)+":v")
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return counter.Stats{}, wrap(fmt.Sprintf("stats of %q", key), err)
	}
	nums, err := parseNums([]any{c.Val(), v.Val(), d.Val()[0], d.Val()[1]}, 4)
	if err != nil {
		return counter.Stats{}, fmt.Errorf("redisstore: stats of %q: %w", key, err)
	}
	return counter.Stats{Key: key, Count: nums[0], Visitors: nums[1],
		Today: counter.Day{Date: today, Count: nums[2], Visitors: nums[3]}}, nil
}

// History reads key's daily numbers from first to last with one HMGET.
func (s *Store) History(ctx context.Context, key string, first, last counter.Date) ([]counter.Day, error) {
	if err := counter.CheckHistoryRange(key, first, last); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("redisstore: history of %q: %w", key, err)
	}
	var dates []counter.Date
	var fields []string
	for d := first; d <= last; d = d.AddDays(1) {
		dates = append(dates, d)
		fields = append(fields, string(d)+":c", string(d)+":v")
	}
	vals, err := s.client.HMGet(ctx, s.daysKey(key), fields...).Result()
	if err != nil {
		return nil, wrap(fmt.Sprintf("history of %q", key), err)
	}
	nums, err := parseNums(vals, len(fields))
	if err != nil {
		return nil, fmt.Errorf("redisstore: history of %q: %w", key, err)
	}
	days := make([]counter.Day, len(dates))
	for i, d := range dates {
		days[i] = counter.Day{Date: d, Count: nums[2*i], Visitors: nums[2*i+1]}
	}
	return days, nil
}

// DaySalt returns day's salt, storing fresh if there is none, with one
// SET NX GET; see [counter.VisitStore].
func (s *Store) DaySalt(ctx context.Context, day counter.Date, fresh []byte) ([]byte, error) {
	if !day.Valid() {
		return nil, fmt.Errorf("redisstore: salt: %w: %q", counter.ErrInvalidDate, day)
	}
	if len(fresh) != counter.SaltLen {
		return nil, fmt.Errorf("redisstore: salt of %s: %d bytes, want %d", day, len(fresh), counter.SaltLen)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("redisstore: salt of %s: %w", day, err)
	}
	// A salt lives until 48 h after its day starts, and at least a minute
	// so that callers racing for an old day still agree.
	life := max(counter.VisitorExpiry(day).Sub(s.now()), time.Minute)
	old, err := s.client.SetArgs(ctx, s.saltKey(day), fresh, redis.SetArgs{Mode: "NX", Get: true, TTL: life}).Result()
	if errors.Is(err, redis.Nil) {
		return slices.Clone(fresh), nil
	}
	if err != nil {
		return nil, wrap(fmt.Sprintf("salt of %s", day), err)
	}
	return []byte(old), nil
}

// SetCount sets key's count to n with one SET … GET and returns the count
// it replaced; see [counter.Editor].
func (s *Store) SetCount(ctx context.Context, key string, n int64) (int64, error) {
	if err := counter.CheckKey(key); err != nil {
		return 0, err
	}
	if n < 0 {
		return 0, fmt.Errorf("redisstore: set %q to %d: a count cannot be negative", key, n)
	}
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("redisstore: set %q: %w", key, err)
	}
	old, err := s.client.SetArgs(ctx, s.countKey(key), n, redis.SetArgs{Get: true}).Result()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, wrap(fmt.Sprintf("set %q", key), err)
	}
	o, err := strconv.ParseInt(old, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("redisstore: set %q: the count replaced was %q: %w", key, old, err)
	}
	return o, nil
}

// Export returns key's record, read in one MULTI.
func (s *Store) Export(ctx context.Context, key string) (counter.Record, error) {
	if err := counter.CheckKey(key); err != nil {
		return counter.Record{}, err
	}
	if err := ctx.Err(); err != nil {
		return counter.Record{}, fmt.Errorf("redisstore: export %q: %w", key, err)
	}
	var c, v *redis.StringCmd
	var d *redis.MapStringStringCmd
	_, err := s.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		c = p.Get(ctx, s.countKey(key))
		v = p.Get(ctx, s.visitorsKey(key))
		d = p.HGetAll(ctx, s.daysKey(key))
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return counter.Record{}, wrap(fmt.Sprintf("export %q", key), err)
	}
	nums, err := parseNums([]any{c.Val(), v.Val()}, 2)
	if err != nil {
		return counter.Record{}, fmt.Errorf("redisstore: export %q: %w", key, err)
	}
	r := counter.Record{Key: key, Count: nums[0], Visitors: nums[1], Days: []counter.Day{}}
	byDate := map[counter.Date]*counter.Day{}
	for f, val := range d.Val() {
		date, kind, ok := strings.Cut(f, ":")
		n, err := strconv.ParseInt(val, 10, 64)
		if !ok || err != nil || !counter.Date(date).Valid() {
			return counter.Record{}, fmt.Errorf("redisstore: export %q: unexpected day field %q = %q", key, f, val)
		}
		day := byDate[counter.Date(date)]
		if day == nil {
			day = &counter.Day{Date: counter.Date(date)}
			byDate[day.Date] = day
		}
		switch kind {
		case "c":
			day.Count = n
		case "v":
			day.Visitors = n
		}
	}
	for _, day := range byDate {
		if day.Count != 0 || day.Visitors != 0 {
			r.Days = append(r.Days, *day)
		}
	}
	slices.SortFunc(r.Days, func(a, b counter.Day) int { return strings.Compare(string(a.Date), string(b.Date)) })
	return r, nil
}

// importScript writes a record. KEYS: count, visitors, days. ARGV: count,
// visitors, then date, count, visitors for each day.
var importScript = redis.NewScript(`
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SET', KEYS[2], ARGV[2])
for i = 3, #ARGV, 3 do
  redis.call('HSET', KEYS[3], ARGV[i] .. ':c', ARGV[i+1], ARGV[i] .. ':v', ARGV[i+2])
end
return 1
`)

// Import replaces r.Key's numbers and each listed day's with one script;
// see [counter.Editor].
func (s *Store) Import(ctx context.Context, r counter.Record) error {
	if err := counter.CheckRecord(r); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("redisstore: import %q: %w", r.Key, err)
	}
	args := []any{r.Count, r.Visitors}
	for _, d := range r.Days {
		args = append(args, string(d.Date), d.Count, d.Visitors)
	}
	keys := []string{s.countKey(r.Key), s.visitorsKey(r.Key), s.daysKey(r.Key)}
	if err := importScript.Run(ctx, s.client, keys, args...).Err(); err != nil {
		return wrap(fmt.Sprintf("import %q", r.Key), err)
	}
	return nil
}

// Keys lists every key with a count, sorted, with SCAN on every master of
// a cluster (or on the one server).
func (s *Store) Keys(ctx context.Context) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("redisstore: keys: %w", err)
	}
	var (
		mu   sync.Mutex
		keys []string
	)
	pattern := s.prefix + ":{*}:count"
	scan := func(ctx context.Context, c redis.Cmdable) error {
		it := c.Scan(ctx, 0, pattern, 1000).Iterator()
		for it.Next(ctx) {
			k, ok := strings.CutPrefix(it.Val(), s.prefix+":{")
			if !ok {
				continue
			}
			k, ok = strings.CutSuffix(k, "}:count")
			if !ok || counter.CheckKey(k) != nil {
				continue
			}
			mu.Lock()
			keys = append(keys, k)
			mu.Unlock()
		}
		return it.Err()
	}
	var err error
	if cc, ok := s.client.(*redis.ClusterClient); ok {
		err = cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error { return scan(ctx, c) })
	} else {
		err = scan(ctx, s.client)
	}
	if err != nil {
		return nil, wrap("keys", err)
	}
	slices.Sort(keys)
	return slices.Compact(keys), nil
}
