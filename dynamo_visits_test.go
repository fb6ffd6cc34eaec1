package counter_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/resumecounter/counter"
	"github.com/resumecounter/counter/countertest"
	"github.com/resumecounter/counter/internal/faultproxy"
	"github.com/resumecounter/counter/internal/testenv"
)

// costClient passes calls to a DynamoDB client, asking for the consumed
// capacity of each (ReturnConsumedCapacity TOTAL) and adding it up. A
// conditional write that fails returns no capacity but costs one write unit
// on DynamoDB (for items up to 1 KB): it is counted as one.
type costClient struct {
	c *dynamodb.Client

	mu        sync.Mutex
	calls     map[string]int
	write     float64
	read      float64
	noCap     bool // a successful call came back without ConsumedCapacity
	scanLimit int32
}

func newCostClient(c *dynamodb.Client) *costClient { return &costClient{c: c, calls: map[string]int{}} }

func (c *costClient) add(op string, write bool, cc *types.ConsumedCapacity, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls[op]++
	var ccf *types.ConditionalCheckFailedException
	switch {
	case errors.As(err, &ccf):
		c.calls["ConditionFailed"]++
		c.write++
	case err != nil:
	case cc == nil || cc.CapacityUnits == nil:
		c.noCap = true
	case write:
		c.write += *cc.CapacityUnits
	default:
		c.read += *cc.CapacityUnits
	}
}

// reset returns what was counted since the last reset and starts again:
// calls by operation ("ConditionFailed" counts the refused writes among the
// UpdateItem calls), write units and read units.
func (c *costClient) reset() (calls map[string]int, write, read float64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	calls, write, read = c.calls, c.write, c.read
	c.calls, c.write, c.read = map[string]int{}, 0, 0
	return calls, write, read
}

func (c *costClient) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	in2 := *in
	in2.ReturnConsumedCapacity = types.ReturnConsumedCapacityTotal
	out, err := c.c.UpdateItem(ctx, &in2, optFns...)
	var cc *types.ConsumedCapacity
	if out != nil {
		cc = out.ConsumedCapacity
	}
	c.add("UpdateItem", true, cc, err)
	return out, err
}

func (c *costClient) GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	in2 := *in
	in2.ReturnConsumedCapacity = types.ReturnConsumedCapacityTotal
	out, err := c.c.GetItem(ctx, &in2, optFns...)
	var cc *types.ConsumedCapacity
	if out != nil {
		cc = out.ConsumedCapacity
	}
	c.add("GetItem", false, cc, err)
	return out, err
}

func (c *costClient) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	in2 := *in
	in2.ReturnConsumedCapacity = types.ReturnConsumedCapacityTotal
	out, err := c.c.BatchGetItem(ctx, &in2, optFns...)
	var cc *types.ConsumedCapacity
	if out != nil && len(out.ConsumedCapacity) == 1 {
		cc = &out.ConsumedCapacity[0]
	}
	c.add("BatchGetItem", false, cc, err)
	return out, err
}

func (c *costClient) Scan(ctx context.Context, in *dynamodb.ScanInput, optFns ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error) {
	in2 := *in
	in2.ReturnConsumedCapacity = types.ReturnConsumedCapacityTotal
	if c.scanLimit > 0 {
		in2.Limit = aws.Int32(c.scanLimit)
	}
	out, err := c.c.Scan(ctx, &in2, optFns...)
	var cc *types.ConsumedCapacity
	if out != nil {
		cc = out.ConsumedCapacity
	}
	c.add("Scan", false, cc, err)
	return out, err
}

// newVisitDynamo returns a store on a fresh dynalite table, through a
// costClient, and the raw client.
func newVisitDynamo(t *testing.T, opts counter.DynamoOptions) (*counter.Dynamo, *costClient, *dynamodb.Client) {
	t.Helper()
	raw := testenv.Dynalite(t)
	opts.Table = testenv.CreateTable(t, raw, counter.DefaultPartitionKey)
	cc := newCostClient(raw)
	return counter.NewDynamo(cc, opts), cc, raw
}

func vid(i int) counter.VisitorID {
	var id counter.VisitorID
	copy(id[:], fmt.Sprintf("visitor-%08d", i))
	return id
}

// at returns noon UTC of day, plus d.
func at(day counter.Date, d time.Duration) time.Time { return day.Time().Add(12*time.Hour + d) }

func visit(t *testing.T, s counter.VisitStore, v counter.Visit) (counter.Stats, bool) {
	t.Helper()
	if v.Time.IsZero() {
		v.Time = at(v.Date, 0)
	}
	st, counted, err := s.RecordVisit(context.Background(), v)
	if err != nil {
		t.Fatalf("RecordVisit(%+v): %v", v, err)
	}
	return st, counted
}

func wantStats(t *testing.T, got counter.Stats, count, visitors int64, today counter.Day) {
	t.Helper()
	if got.Count != count || got.Visitors != visitors || got.Today != today {
		t.Fatalf("stats = %+v; want count %d, visitors %d, today %+v", got, count, visitors, today)
	}
}

func TestDynamoVisitsConcurrent(t *testing.T) {
	d, _, _ := newVisitDynamo(t, counter.DynamoOptions{})
	ctx := context.Background()
	const day = counter.Date("2026-11-30")
	run := func(n int, v func(i int) counter.Visit) (counted int64) {
		var wg sync.WaitGroup
		var c atomic.Int64
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				vv := v(i)
				vv.Time = at(day, time.Duration(i)*time.Millisecond)
				_, ok, err := d.RecordVisit(ctx, vv)
				if err != nil {
					t.Error(err)
				}
				if ok {
					c.Add(1)
				}
			}()
		}
		wg.Wait()
		return c.Load()
	}
	// The same visitor 32 times at once: 32 hits, 1 visitor.
	if n := run(32, func(int) counter.Visit { return counter.Visit{Key: "same", Date: day, Visitor: vid(1)} }); n != 32 {
		t.Fatalf("counted %d of 32", n)
	}
	s, err := d.Stats(ctx, "same", day)
	if err != nil {
		t.Fatal(err)
	}
	wantStats(t, s, 32, 1, counter.Day{Date: day, Count: 32, Visitors: 1})
	// 100 distinct visitors: 100.
	run(100, func(i int) counter.Visit { return counter.Visit{Key: "many", Date: day, Visitor: vid(i)} })
	s, _ = d.Stats(ctx, "many", day)
	wantStats(t, s, 100, 100, counter.Day{Date: day, Count: 100, Visitors: 100})
	// One visit id sent 32 times at once: counted once.
	if n := run(32, func(i int) counter.Visit {
		return counter.Visit{Key: "idem", Date: day, Visitor: vid(i), ID: "page-view-1"}
	}); n != 1 {
		t.Fatalf("a visit id sent 32 times was counted %d times", n)
	}
	s, _ = d.Stats(ctx, "idem", day)
	wantStats(t, s, 1, 1, counter.Day{Date: day, Count: 1, Visitors: 1})
}

// TestDynamoDayRollover: with dates given by the caller, the first visit of
// a day moves the previous day to history; totals keep.
func TestDynamoDayRollover(t *testing.T) {
	d, _, _ := newVisitDynamo(t, counter.DynamoOptions{})
	ctx := context.Background()
	d1, d2, d4 := counter.Date("2026-11-29"), counter.Date("2026-11-30"), counter.Date("2026-12-02")
	visit(t, d, counter.Visit{Key: "k", Date: d1, Visitor: vid(1)})
	visit(t, d, counter.Visit{Key: "k", Date: d1, Visitor: vid(1)})
	visit(t, d, counter.Visit{Key: "k", Date: d1, Visitor: vid(2)})
	s, _ := visit(t, d, counter.Visit{Key: "k", Date: d2, Visitor: vid(1)})
	wantStats(t, s, 4, 3, counter.Day{Date: d2, Count: 1, Visitors: 1})
	s, err := d.Stats(ctx, "k", d2)
	if err != nil {
		t.Fatal(err)
	}
	wantStats(t, s, 4, 3, counter.Day{Date: d2, Count: 1, Visitors: 1})
	// Today a new day without visits yet: zeros, totals kept.
	s, _ = d.Stats(ctx, "k", d2.AddDays(1))
	wantStats(t, s, 4, 3, counter.Day{Date: d2.AddDays(1)})
	// A day skipped, then a visit: history has both days and a zero.
	visit(t, d, counter.Visit{Key: "k", Date: d4, Visitor: vid(3)})
	h, err := d.History(ctx, "k", d1.AddDays(-1), d4)
	if err != nil {
		t.Fatal(err)
	}
	want := []counter.Day{{Date: d1.AddDays(-1)}, {Date: d1, Count: 3, Visitors: 2}, {Date: d2, Count: 1, Visitors: 1},
		{Date: d2.AddDays(1)}, {Date: d4, Count: 1, Visitors: 1}}
	if !reflect.DeepEqual(h, want) {
		t.Fatalf("history = %+v\nwant %+v", h, want)
	}
	// A visit dated yesterday that arrives after today began (it started
	// before midnight) counts on yesterday and on the totals.
	s, _ = visit(t, d, counter.Visit{Key: "k", Date: d4.AddDays(-1), Visitor: vid(9)})
	wantStats(t, s, 6, 5, counter.Day{Date: d4.AddDays(-1), Count: 1, Visitors: 1})
	h, _ = d.History(ctx, "k", d4.AddDays(-1), d4)
	if want := []counter.Day{{Date: d4.AddDays(-1), Count: 1, Visitors: 1}, {Date: d4, Count: 1, Visitors: 1}}; !reflect.DeepEqual(h, want) {
		t.Fatalf("history after a late visit = %+v, want %+v", h, want)
	}
	s, _ = d.Stats(ctx, "k", d4)
	wantStats(t, s, 6, 5, counter.Day{Date: d4, Count: 1, Visitors: 1})
}

// TestDynamoRolloverRace: many processes begin a day at once, while late
// visits still count on the day before: every visit is in the history.
func TestDynamoRolloverRace(t *testing.T) {
	d, _, _ := newVisitDynamo(t, counter.DynamoOptions{})
	ctx := context.Background()
	d1, d2 := counter.Date("2026-12-31"), counter.Date("2027-01-01")
	visit(t, d, counter.Visit{Key: "k", Date: d1, Visitor: vid(0)})
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			day := d2
			if i%2 == 0 {
				day = d1
			}
			if _, _, err := d.RecordVisit(ctx, counter.Visit{Key: "k", Date: day, Visitor: vid(i + 1), Time: at(day, 0)}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	h, err := d.History(ctx, "k", d1, d2)
	if err != nil {
		t.Fatal(err)
	}
	want := []counter.Day{{Date: d1, Count: 21, Visitors: 21}, {Date: d2, Count: 20, Visitors: 20}}
	if !reflect.DeepEqual(h, want) {
		t.Fatalf("history = %+v, want %+v", h, want)
	}
	s, _ := d.Stats(ctx, "k", d2)
	wantStats(t, s, 41, 41, counter.Day{Date: d2, Count: 20, Visitors: 20})
}

// TestDynamoHistoryRoundTrips: history across month and year boundaries,
// and the calls a 30-day and a 366-day read make.
func TestDynamoHistoryRoundTrips(t *testing.T) {
	d, cc, _ := newVisitDynamo(t, counter.DynamoOptions{})
	ctx := context.Background()
	start := counter.Date("2025-12-30")
	var want []counter.Day
	for i := range 366 + 2 {
		day := start.AddDays(i)
		n := i % 5 // some days without visits
		for j := range n {
			visit(t, d, counter.Visit{Key: "k", Date: day, Visitor: vid(j % 2)})
		}
		want = append(want, counter.Day{Date: day, Count: int64(n), Visitors: int64(min(n, 2))})
	}
	for _, tc := range []struct {
		first, last counter.Date
	}{
		{"2026-12-29", "2027-01-02"}, // across a year
		{"2026-01-30", "2026-03-02"}, // across February
		{"2026-11-03", "2026-12-02"}, // 30 days
		{"2026-01-01", "2027-01-01"}, // 366 days, 13 months
		{"2026-01-31", "2027-01-31"}, // 366 days ending on today's (unrolled) day
	} {
		cc.reset()
		h, err := d.History(ctx, "k", tc.first, tc.last)
		if err != nil {
			t.Fatal(err)
		}
		calls, _, read := cc.reset()
		i := slices.IndexFunc(want, func(day counter.Day) bool { return day.Date == tc.first })
		j := slices.IndexFunc(want, func(day counter.Day) bool { return day.Date == tc.last })
		if j < 0 {
			j = len(want) - 1
		}
		w := slices.Clone(want[i : j+1])
		for day := w[len(w)-1].Date.AddDays(1); day <= tc.last; day = day.AddDays(1) {
			w = append(w, counter.Day{Date: day})
		}
		if !reflect.DeepEqual(h, w) {
			t.Fatalf("History(%s, %s) =\n%+v\nwant\n%+v", tc.first, tc.last, h, w)
		}
		total := 0
		for _, n := range calls {
			total += n
		}
		if total != 1 || calls["BatchGetItem"] != 1 {
			t.Fatalf("History of %d days made calls %v, want one BatchGetItem", len(h), calls)
		}
		t.Logf("History of %d days: %d round trip (BatchGetItem), %.1f read units", len(h), total, read)
	}
	if _, err := d.History(ctx, "k", "2026-01-01", "2027-01-02"); err == nil {
		t.Fatal("History of 367 days: no error")
	}
}

// unprocessedOnce leaves all but one key of the first BatchGetItem
// unprocessed, as DynamoDB may under load.
type unprocessedOnce struct {
	counter.DynamoAPI
	calls atomic.Int64
}

func (u *unprocessedOnce) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	if u.calls.Add(1) > 1 {
		return u.DynamoAPI.BatchGetItem(ctx, in, optFns...)
	}
	for table, ka := range in.RequestItems {
		first := ka
		first.Keys = ka.Keys[:1]
		out, err := u.DynamoAPI.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{table: first}}, optFns...)
		if err != nil {
			return nil, err
		}
		rest := ka
		rest.Keys = ka.Keys[1:]
		out.UnprocessedKeys = map[string]types.KeysAndAttributes{table: rest}
		return out, nil
	}
	return nil, errors.New("no table")
}

func TestDynamoHistoryUnprocessedKeys(t *testing.T) {
	d, _, raw := newVisitDynamo(t, counter.DynamoOptions{})
	ctx := context.Background()
	visit(t, d, counter.Visit{Key: "k", Date: "2026-01-15", Visitor: vid(1)})
	visit(t, d, counter.Visit{Key: "k", Date: "2026-12-01", Visitor: vid(1)})
	u := &unprocessedOnce{DynamoAPI: raw}
	d2 := counter.NewDynamo(u, counter.DynamoOptions{Table: d.Options().Table})
	h, err := d2.History(ctx, "k", "2026-01-01", "2027-01-01")
	if err != nil {
		t.Fatal(err)
	}
	if u.calls.Load() != 2 {
		t.Fatalf("%d BatchGetItem calls, want 2", u.calls.Load())
	}
	if h[14] != (counter.Day{Date: "2026-01-15", Count: 1, Visitors: 1}) || h[334] != (counter.Day{Date: "2026-12-01", Count: 1, Visitors: 1}) {
		t.Fatalf("history read in two calls is wrong: %+v %+v", h[14], h[334])
	}
}

// TestDynamoVisitCost: the write units and calls each kind of visit costs,
// measured with ReturnConsumedCapacity TOTAL (a failed conditional write
// counted as one unit).
func TestDynamoVisitCost(t *testing.T) {
	d, cc, _ := newVisitDynamo(t, counter.DynamoOptions{})
	ctx := context.Background()
	day := counter.Date("2026-11-30")
	long := strings.Repeat("k", counter.MaxKeyLen) // the largest items
	id := 0
	nextID := func(with bool) string {
		if !with {
			return ""
		}
		id++
		return fmt.Sprintf("%064d", id)
	}
	check := func(name string, v counter.Visit, maxWrite float64, wantCounted bool) {
		t.Helper()
		if v.Time.IsZero() {
			v.Time = at(v.Date, time.Duration(id)*time.Second)
		}
		cc.reset()
		_, counted, err := d.RecordVisit(ctx, v)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		calls, write, read := cc.reset()
		if cc.noCap {
			t.Fatalf("%s: dynalite returned no ConsumedCapacity", name)
		}
		if counted != wantCounted {
			t.Fatalf("%s: counted = %v", name, counted)
		}
		t.Logf("%-46s %.0f write units, %.1f read units, calls %v", name+":", write, read, calls)
		if write > maxWrite {
			t.Errorf("%s: %.0f write units, budget %.0f", name, write, maxWrite)
		}
	}
	for _, withID := range []bool{false, true} {
		key := long
		if withID {
			key = long[:counter.MaxKeyLen-1]
		}
		sfx := fmt.Sprintf(" (visit id %v)", withID)
		check("first visit of a key, new visitor"+sfx, counter.Visit{Key: key, Date: day, Visitor: vid(1), ID: nextID(withID)}, 3, true)
		check("returning visitor"+sfx, counter.Visit{Key: key, Date: day, Visitor: vid(1), ID: nextID(withID)}, 2, true)
		check("new visitor"+sfx, counter.Visit{Key: key, Date: day, Visitor: vid(2), ID: nextID(withID)}, 3, true)
		check("hit only (zero visitor)"+sfx, counter.Visit{Key: key, Date: day, ID: nextID(withID)}, 2, true)
		check("first visit of a day, new visitor"+sfx, counter.Visit{Key: key, Date: day.AddDays(1), Visitor: vid(3), ID: nextID(withID)}, 4, true)
		check("first visit of a day, returning visitor"+sfx, counter.Visit{Key: key, Date: day.AddDays(2), Visitor: vid(3), ID: nextID(withID)}, 4, true)
		check("returning visitor, next day"+sfx, counter.Visit{Key: key, Date: day.AddDays(2), Visitor: vid(3), ID: nextID(withID)}, 2, true)
	}
	check("repeated visit id", counter.Visit{Key: long[:counter.MaxKeyLen-1], Date: day.AddDays(2), Visitor: vid(3), ID: fmt.Sprintf("%064d", id-1)}, 1, false)

	// Full month items of the longest key with huge numbers stay within one
	// write unit when the day rolls into them.
	var days []counter.Day
	for i := range 31 {
		days = append(days, counter.Day{Date: counter.Date("2027-01-01").AddDays(i), Count: math.MaxInt64 / 4, Visitors: math.MaxInt64 / 8})
	}
	if err := d.Import(ctx, counter.Record{Key: long, Count: 1, Visitors: 1, Days: days[:30]}); err != nil {
		t.Fatal(err)
	}
	visit(t, d, counter.Visit{Key: long, Date: "2027-01-31", Visitor: vid(1), Time: at("2027-01-31", 0)})
	check("first visit of a day into a full month", counter.Visit{Key: long, Date: "2027-02-01", Visitor: vid(2), ID: nextID(true)}, 4, true)

	// With visitors off, Increment stays one UpdateItem of one unit.
	cc.reset()
	if _, err := d.Increment(ctx, "plain"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Increment(ctx, long); err != nil {
		t.Fatal(err)
	}
	calls, write, _ := cc.reset()
	if !reflect.DeepEqual(calls, map[string]int{"UpdateItem": 2}) || write != 2 {
		t.Fatalf("two Increments: calls %v, %.0f write units; want 2 UpdateItem, 2 units", calls, write)
	}
}

// TestDynamoMarkersExpire: markers whose ttl has passed count as absent,
// although dynalite (like DynamoDB for up to days) still holds them.
func TestDynamoMarkersExpire(t *testing.T) {
	d, _, raw := newVisitDynamo(t, counter.DynamoOptions{})
	day := counter.Date("2026-11-30")
	t0 := at(day, 0)
	if _, ok := visit(t, d, counter.Visit{Key: "k", Date: day, Visitor: vid(1), ID: "abc", Time: t0}); !ok {
		t.Fatal("first visit not counted")
	}
	if _, ok := visit(t, d, counter.Visit{Key: "k", Date: day, Visitor: vid(2), ID: "abc", Time: t0.Add(counter.VisitIDTTL - time.Second)}); ok {
		t.Fatal("a visit id repeated within 24 h counted")
	}
	s, ok := visit(t, d, counter.Visit{Key: "k", Date: day, Visitor: vid(2), ID: "abc", Time: t0.Add(counter.VisitIDTTL)})
	if !ok {
		t.Fatal("a visit id repeated after 24 h did not count")
	}
	wantStats(t, s, 2, 2, counter.Day{Date: day, Count: 2, Visitors: 2})
	// The visitor marker of day lives until 48 h after the day began.
	s, _ = visit(t, d, counter.Visit{Key: "k", Date: day, Visitor: vid(1), Time: day.Time().Add(counter.VisitorMarkerTTL - time.Second)})
	wantStats(t, s, 3, 2, counter.Day{Date: day, Count: 3, Visitors: 2})
	s, _ = visit(t, d, counter.Visit{Key: "k", Date: day, Visitor: vid(1), Time: day.Time().Add(counter.VisitorMarkerTTL)})
	wantStats(t, s, 4, 3, counter.Day{Date: day, Count: 4, Visitors: 3})
	// The markers carry the ttl DynamoDB deletes them by: the visit id's
	// 24 h after its last counted visit, the visitor's 48 h after the day
	// began.
	got := map[string]string{}
	for _, it := range scanAll(t, raw, d.Options().Table) {
		id := it["id"].(*types.AttributeValueMemberS).Value
		if strings.Contains(id, "#v#") || strings.Contains(id, "#i#") {
			got[id] = it["ttl"].(*types.AttributeValueMemberN).Value
		}
	}
	id1, id2 := vid(1), vid(2)
	want := map[string]string{
		"k#i#abc": fmt.Sprint(t0.Add(2 * counter.VisitIDTTL).Unix()),
		"k#v#2026-11-30#" + hex.EncodeToString(id1[:]): fmt.Sprint(day.Time().Add(counter.VisitorMarkerTTL).Unix()),
		"k#v#2026-11-30#" + hex.EncodeToString(id2[:]): fmt.Sprint(day.Time().Add(counter.VisitorMarkerTTL).Unix()),
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("markers = %v, want %v", got, want)
	}
}

func scanAll(t *testing.T, c *dynamodb.Client, table string) []map[string]types.AttributeValue {
	t.Helper()
	var items []map[string]types.AttributeValue
	p := dynamodb.NewScanPaginator(c, &dynamodb.ScanInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true)})
	for p.HasMorePages() {
		out, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		items = append(items, out.Items...)
	}
	return items
}

// TestDynamoVisitItemsPrivacy: after visits whose ids were computed from an
// address and a User-Agent, every item holds only the expected attributes,
// and neither string nor an unsalted hash of them appears anywhere.
func TestDynamoVisitItemsPrivacy(t *testing.T) {
	d, _, raw := newVisitDynamo(t, counter.DynamoOptions{})
	ctx := context.Background()
	day := counter.Date("2026-11-30")
	const ip, ua = "203.0.113.77", "Mozilla/5.0 (X11; Linux x86_64) PrivacyProbe/1.0"
	unsalted := sha256.Sum256([]byte(ip + ua))
	for i, d8 := range []counter.Date{day, day.AddDays(1)} {
		salt, err := d.DaySalt(ctx, d8, make32(byte(i+1)))
		if err != nil {
			t.Fatal(err)
		}
		mac := hmac.New(sha256.New, salt)
		mac.Write([]byte(ip + "\x00" + ua + "\x00home"))
		var id counter.VisitorID
		copy(id[:], mac.Sum(nil))
		visit(t, d, counter.Visit{Key: "home", Date: d8, Visitor: id, ID: "view-1" + fmt.Sprint(i)})
	}
	allowed := map[string][]string{
		"main":   {"id", "count", "visitors", "day", "dc", "dv", "first"},
		"month":  {"id", "c30", "v30"},
		"marker": {"id", "ttl"},
		"salt":   {"id", "salt", "ttl"},
	}
	for _, it := range scanAll(t, raw, d.Options().Table) {
		id := it["id"].(*types.AttributeValueMemberS).Value
		kind := "main"
		switch {
		case strings.HasPrefix(id, "#salt#"):
			kind = "salt"
		case strings.Contains(id, "#m#"):
			kind = "month"
		case strings.Contains(id, "#v#"), strings.Contains(id, "#i#"):
			kind = "marker"
		}
		for name, av := range it {
			if !slices.Contains(allowed[kind], name) {
				t.Errorf("%s item %q has attribute %q", kind, id, name)
			}
			text := fmt.Sprintf("%s %#v", id, av)
			if b, ok := av.(*types.AttributeValueMemberB); ok {
				text += string(b.Value)
			}
			for _, secret := range []string{ip, ua, "203.0.113", "PrivacyProbe", fmt.Sprintf("%x", unsalted[:8])} {
				if strings.Contains(strings.ToLower(text), strings.ToLower(secret)) {
					t.Errorf("item %q holds %q", id, secret)
				}
			}
		}
	}
}

func make32(b byte) []byte {
	s := make([]byte, counter.SaltLen)
	for i := range s {
		s[i] = b
	}
	return s
}

func TestDynamoDaySalt(t *testing.T) {
	d, _, raw := newVisitDynamo(t, counter.DynamoOptions{})
	ctx := context.Background()
	day := counter.Date("2026-11-30")
	salts := make([][]byte, 16)
	var wg sync.WaitGroup
	for i := range salts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := d.DaySalt(ctx, day, make32(byte(i+1)))
			if err != nil {
				t.Error(err)
			}
			salts[i] = s
		}()
	}
	wg.Wait()
	for _, s := range salts {
		if !reflect.DeepEqual(s, salts[0]) || len(s) != counter.SaltLen {
			t.Fatalf("racing DaySalt calls got different salts: %x and %x", s, salts[0])
		}
	}
	if s, _ := d.DaySalt(ctx, day.AddDays(1), make32(0xee)); !reflect.DeepEqual(s, make32(0xee)) {
		t.Fatalf("another day's salt is not its fresh one: %x", s)
	}
	out, err := raw.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(d.Options().Table),
		Key: map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: "#salt#2026-11-30"}}})
	if err != nil {
		t.Fatal(err)
	}
	if ttl, _ := out.Item["ttl"].(*types.AttributeValueMemberN); ttl == nil || ttl.Value != fmt.Sprint(day.Time().Add(48*time.Hour).Unix()) {
		t.Fatalf("salt item ttl = %v, want 48 h after the day began", out.Item["ttl"])
	}
	if _, err := d.DaySalt(ctx, day, make([]byte, 5)); err == nil {
		t.Fatal("a 5-byte salt was accepted")
	}
}

func putItem(t *testing.T, c *dynamodb.Client, table string, item map[string]types.AttributeValue) {
	t.Helper()
	if _, err := c.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(table), Item: item}); err != nil {
		t.Fatal(err)
	}
}

func getItem(t *testing.T, c *dynamodb.Client, table, id string) map[string]types.AttributeValue {
	t.Helper()
	out, err := c.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: id}}})
	if err != nil {
		t.Fatal(err)
	}
	return out.Item
}

func countOf(item map[string]types.AttributeValue) string {
	if n, ok := item["count"].(*types.AttributeValueMemberN); ok {
		return n.Value
	}
	return fmt.Sprintf("%#v", item["count"])
}

// TestDynamoCountNotWhole (issue 12, defect 2): a count that is a number but
// not a whole int64 is never changed while every call answers an error
// that says what to fix; SetCount repairs it.
func TestDynamoCountNotWhole(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		value string
		want  error
	}{
		{"41.5", counter.ErrNotANumber},
		{"9223372036854775807", counter.ErrOverflow},
		{"9223372036854775808", counter.ErrOverflow},
		{"1E+30", counter.ErrOverflow},
		{"-0.25", counter.ErrNotANumber},
	} {
		t.Run(tc.value, func(t *testing.T) {
			d, cc, raw := newVisitDynamo(t, counter.DynamoOptions{})
			table := d.Options().Table
			putItem(t, raw, table, map[string]types.AttributeValue{
				"id": &types.AttributeValueMemberS{Value: "visitors"}, "count": &types.AttributeValueMemberN{Value: tc.value},
			})
			stored := countOf(getItem(t, raw, table, "visitors"))
			day := counter.Date("2026-11-30")
			for i := range 3 {
				cc.reset()
				if _, err := d.Increment(ctx, "visitors"); !errors.Is(err, tc.want) || !strings.Contains(err.Error(), "set it to") {
					t.Fatalf("Increment %d: error = %v, want %v naming the fix", i, err, tc.want)
				}
				// Refused by the condition, without writing, except the very
				// first Increment of a count that is not whole: no condition
				// can see that, so it writes, sees, undoes and marks.
				calls, _, _ := cc.reset()
				wrote := calls["UpdateItem"] - calls["ConditionFailed"]
				if i == 0 && errors.Is(tc.want, counter.ErrNotANumber) {
					if wrote != 2 {
						t.Fatalf("first Increment of %s: %v, want a write and its undoing", tc.value, calls)
					}
				} else if wrote != 0 {
					t.Fatalf("Increment %d of %s wrote: %v", i, tc.value, calls)
				}
				if _, err := d.Add(ctx, "visitors", 3); !errors.Is(err, tc.want) {
					t.Fatalf("Add: error = %v, want %v", err, tc.want)
				}
				cc.reset()
				_, _, err := d.RecordVisit(ctx, counter.Visit{Key: "visitors", Date: day, Visitor: vid(1), ID: "v" + fmt.Sprint(i), Time: at(day, 0)})
				if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), "set it to") {
					t.Fatalf("RecordVisit: error = %v, want %v naming the fix", err, tc.want)
				}
				// The visit id's marker is written beside the read (one round
				// trip for both) and withdrawn; the main item is untouched
				// (checked below), and the id counts once the count is fixed.
				if calls, _, _ := cc.reset(); calls["UpdateItem"] > 2 {
					t.Fatalf("RecordVisit of a bad count wrote more than its visit id marker and its withdrawal: calls %v", calls)
				}
				if _, err := d.Stats(ctx, "visitors", day); tc.value != "9223372036854775807" && !errors.Is(err, tc.want) {
					t.Fatalf("Stats: error = %v, want %v", err, tc.want)
				}
				if got := countOf(getItem(t, raw, table, "visitors")); got != stored {
					t.Fatalf("after %d refused calls the count is %s, want %s unchanged", i+1, got, stored)
				}
			}
			old, err := d.SetCount(ctx, "visitors", 42)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("SetCount replaced %s, returned %d", tc.value, old)
			if n, err := d.Increment(ctx, "visitors"); err != nil || n != 43 {
				t.Fatalf("Increment after SetCount = %d, %v; want 43", n, err)
			}
			s, _ := visit(t, d, counter.Visit{Key: "visitors", Date: day, Visitor: vid(1), ID: "v0"})
			wantStats(t, s, 44, 1, counter.Day{Date: day, Count: 1, Visitors: 1})
			if _, ok := getItem(t, raw, table, "visitors")["countNotWhole"]; ok {
				t.Fatal("the mark stayed after the count was fixed")
			}
		})
	}
}

// TestDynamoIncrementUndoesNotWhole: the first Increment of a count typed
// as 41.5 writes (no condition can tell), sees 42.5, takes it back and
// marks the count; the next is refused before writing.
func TestDynamoIncrementUndoesNotWhole(t *testing.T) {
	d, cc, raw := newVisitDynamo(t, counter.DynamoOptions{})
	ctx := context.Background()
	table := d.Options().Table
	putItem(t, raw, table, map[string]types.AttributeValue{
		"id": &types.AttributeValueMemberS{Value: "k"}, "count": &types.AttributeValueMemberN{Value: "41.5"},
	})
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := d.Increment(ctx, "k"); !errors.Is(err, counter.ErrNotANumber) {
				t.Errorf("Increment: %v", err)
			}
		}()
	}
	wg.Wait()
	item := getItem(t, raw, table, "k")
	if countOf(item) != "41.5" {
		t.Fatalf("count = %s after concurrent refused increments, want 41.5", countOf(item))
	}
	cc.reset()
	if _, err := d.Increment(ctx, "k"); !errors.Is(err, counter.ErrNotANumber) {
		t.Fatal(err)
	}
	if calls, _, _ := cc.reset(); calls["UpdateItem"] != 1 || calls["ConditionFailed"] != 1 {
		t.Fatalf("Increment of a marked count: calls %v, want one refused UpdateItem", calls)
	}
	if countOf(getItem(t, raw, table, "k")) != "41.5" {
		t.Fatal("count changed")
	}
}

func TestDynamoEditor(t *testing.T) {
	d, cc, raw := newVisitDynamo(t, counter.DynamoOptions{})
	ctx := context.Background()
	// A hand-made item continues; SetCount returns what it replaced.
	putItem(t, raw, d.Options().Table, map[string]types.AttributeValue{
		"id": &types.AttributeValueMemberS{Value: "home"}, "count": &types.AttributeValueMemberN{Value: "1000"},
	})
	visit(t, d, counter.Visit{Key: "home", Date: "2026-10-31", Visitor: vid(1)})
	visit(t, d, counter.Visit{Key: "home", Date: "2026-11-01", Visitor: vid(1)})
	visit(t, d, counter.Visit{Key: "home", Date: "2026-11-01", Visitor: vid(2)})
	if old, err := d.SetCount(ctx, "home", 5000); err != nil || old != 1003 {
		t.Fatalf("SetCount = %d, %v; want old 1003", old, err)
	}
	if _, err := d.SetCount(ctx, "home", -1); err == nil {
		t.Fatal("SetCount(-1): no error")
	}
	r, err := d.Export(ctx, "home")
	if err != nil {
		t.Fatal(err)
	}
	want := counter.Record{Key: "home", Count: 5000, Visitors: 3, Days: []counter.Day{
		{Date: "2026-10-31", Count: 1, Visitors: 1}, {Date: "2026-11-01", Count: 2, Visitors: 2}}}
	if !reflect.DeepEqual(r, want) {
		t.Fatalf("Export = %+v, want %+v", r, want)
	}
	if r, err := d.Export(ctx, "never"); err != nil || r.Count != 0 || len(r.Days) != 0 {
		t.Fatalf("Export of a key never counted = %+v, %v", r, err)
	}
	// Import into another table, twice: the same numbers and history.
	d2, _, _ := newVisitDynamo(t, counter.DynamoOptions{})
	for range 2 {
		if err := d2.Import(ctx, r); err != nil {
			t.Fatal(err)
		}
		r2, err := d2.Export(ctx, "home")
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(r2, want) {
			t.Fatalf("Export after Import = %+v, want %+v", r2, want)
		}
	}
	// Import a day the main item holds and a later one: visits continue
	// from the imported numbers.
	if err := d.Import(ctx, counter.Record{Key: "home", Count: 7, Visitors: 4, Days: []counter.Day{
		{Date: "2026-09-02", Count: 9, Visitors: 9}, {Date: "2026-11-01", Count: 5, Visitors: 3}, {Date: "2026-11-03", Count: 10, Visitors: 6}}}); err != nil {
		t.Fatal(err)
	}
	s, _ := visit(t, d, counter.Visit{Key: "home", Date: "2026-11-01", Visitor: vid(9)})
	wantStats(t, s, 8, 5, counter.Day{Date: "2026-11-01", Count: 6, Visitors: 4})
	s, _ = visit(t, d, counter.Visit{Key: "home", Date: "2026-11-03", Visitor: vid(9)})
	wantStats(t, s, 9, 6, counter.Day{Date: "2026-11-03", Count: 11, Visitors: 7})
	r, _ = d.Export(ctx, "home")
	want = counter.Record{Key: "home", Count: 9, Visitors: 6, Days: []counter.Day{{Date: "2026-09-02", Count: 9, Visitors: 9},
		{Date: "2026-10-31", Count: 1, Visitors: 1}, {Date: "2026-11-01", Count: 6, Visitors: 4}, {Date: "2026-11-03", Count: 11, Visitors: 7}}}
	if !reflect.DeepEqual(r, want) {
		t.Fatalf("Export = %+v\nwant %+v", r, want)
	}
	if err := d.Import(ctx, counter.Record{Key: "home", Days: []counter.Day{{Date: "2026-11-02"}, {Date: "2026-11-01"}}}); err == nil {
		t.Fatal("Import of days out of order: no error")
	}
	// Keys: main items only, through pages, sorted.
	for i := range 7 {
		visit(t, d, counter.Visit{Key: fmt.Sprintf("page-%d", 6-i), Date: "2026-11-03", Visitor: vid(i), ID: "x"})
	}
	if _, err := d.DaySalt(ctx, "2026-11-03", make32(1)); err != nil {
		t.Fatal(err)
	}
	cc.scanLimit = 3
	cc.reset()
	keys, err := d.Keys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	calls, _, _ := cc.reset()
	if want := []string{"home", "page-0", "page-1", "page-2", "page-3", "page-4", "page-5", "page-6"}; !reflect.DeepEqual(keys, want) {
		t.Fatalf("Keys = %v, want %v", keys, want)
	}
	if calls["Scan"] < 5 {
		t.Fatalf("Keys made %d Scan calls with pages of 3 items, want many", calls["Scan"])
	}
}

// TestDynamoVisitsShards: with Shards > 1 a visit counts on shard 0 and the
// count sums every shard.
func TestDynamoVisitsShards(t *testing.T) {
	d, _, _ := newVisitDynamo(t, counter.DynamoOptions{Shards: 4})
	ctx := context.Background()
	for range 20 {
		if _, err := d.Increment(ctx, "k"); err != nil {
			t.Fatal(err)
		}
	}
	s, _ := visit(t, d, counter.Visit{Key: "k", Date: "2026-11-30", Visitor: vid(1)})
	wantStats(t, s, 21, 1, counter.Day{Date: "2026-11-30", Count: 1, Visitors: 1})
	s, _ = d.Stats(ctx, "k", "2026-11-30")
	wantStats(t, s, 21, 1, counter.Day{Date: "2026-11-30", Count: 1, Visitors: 1})
	if n, _ := d.Count(ctx, "k"); n != 21 {
		t.Fatalf("Count = %d, want 21", n)
	}
}

// failingUpdates fails the UpdateItem calls on the main item (ids without
// '#') with a refused connection once armed, as a network fault would.
type failingUpdates struct {
	counter.DynamoAPI
	armed atomic.Bool
}

func (f *failingUpdates) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	if id := in.Key["id"].(*types.AttributeValueMemberS).Value; f.armed.Load() && !strings.Contains(id, "#") {
		return nil, errors.New("injected failure")
	}
	return f.DynamoAPI.UpdateItem(ctx, in, optFns...)
}

// TestDynamoVisitFailureWithdrawsMarkers: a visit whose main write fails
// leaves its visitor unmarked, so the visitor counts once it succeeds.
func TestDynamoVisitFailureWithdrawsMarkers(t *testing.T) {
	d, _, raw := newVisitDynamo(t, counter.DynamoOptions{})
	f := &failingUpdates{DynamoAPI: raw}
	df := counter.NewDynamo(f, counter.DynamoOptions{Table: d.Options().Table, Retry: counter.RetryNever})
	day := counter.Date("2026-11-30")
	visit(t, df, counter.Visit{Key: "k", Date: day, Visitor: vid(1)})
	f.armed.Store(true)
	_, _, err := df.RecordVisit(context.Background(), counter.Visit{Key: "k", Date: day, Visitor: vid(2), ID: "id-2", Time: at(day, time.Second)})
	if err == nil || !strings.Contains(err.Error(), "may have been counted") {
		t.Fatalf("error = %v, want an ambiguous failure", err)
	}
	f.armed.Store(false)
	// The visitor marker was withdrawn; the visit id's kept (the write may
	// have been applied, and a retry with that id must not count twice).
	s, counted := visit(t, df, counter.Visit{Key: "k", Date: day, Visitor: vid(2), Time: at(day, 2*time.Second)})
	if !counted {
		t.Fatal("not counted")
	}
	wantStats(t, s, 2, 2, counter.Day{Date: day, Count: 2, Visitors: 2})
	if _, counted := visit(t, df, counter.Visit{Key: "k", Date: day, Visitor: vid(3), ID: "id-2", Time: at(day, 3*time.Second)}); counted {
		t.Fatal("the visit id of an ambiguous failure was withdrawn")
	}
}

func TestDynamoVisitBadInput(t *testing.T) {
	d, cc, _ := newVisitDynamo(t, counter.DynamoOptions{})
	ctx := context.Background()
	for _, v := range []counter.Visit{
		{Key: "a#b", Date: "2026-11-30"},
		{Key: "k", Date: "2026-13-01"},
		{Key: "k", Date: "30/11/2026"},
		{Key: "k", Date: "2026-11-30", ID: "has space"},
		{Key: "k", Date: "2026-11-30", ID: strings.Repeat("x", counter.MaxVisitIDLen+1)},
	} {
		if _, _, err := d.RecordVisit(ctx, v); err == nil {
			t.Errorf("RecordVisit(%+v): no error", v)
		}
	}
	if _, err := d.History(ctx, "k", "2026-11-30", "2026-11-29"); err == nil {
		t.Error("History backwards: no error")
	}
	if calls, _, _ := cc.reset(); len(calls) != 0 {
		t.Fatalf("bad input made calls: %v", calls)
	}
}

// staleMain answers the first BatchGetItem with an old copy of the main
// item, as a process that read it just before another began the day.
type staleMain struct {
	counter.DynamoAPI
	key   string
	item  map[string]types.AttributeValue
	calls atomic.Int64
}

func (s *staleMain) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	out, err := s.DynamoAPI.BatchGetItem(ctx, in, optFns...)
	if err != nil || s.calls.Add(1) > 1 {
		return out, err
	}
	for table, items := range out.Responses {
		for i, it := range items {
			if it["id"].(*types.AttributeValueMemberS).Value == s.key {
				out.Responses[table][i] = s.item
			}
		}
	}
	return out, nil
}

// TestDynamoStaleRoller: a process that read the main item before another
// began the day moves its old numbers to the month item only if they are
// larger, so late visits counted there meanwhile are kept.
func TestDynamoStaleRoller(t *testing.T) {
	d, _, raw := newVisitDynamo(t, counter.DynamoOptions{})
	ctx := context.Background()
	d1, d2 := counter.Date("2026-11-30"), counter.Date("2026-12-01")
	for i := range 3 {
		visit(t, d, counter.Visit{Key: "k", Date: d1, Visitor: vid(i)})
	}
	stale := getItem(t, raw, d.Options().Table, "k") // day d1, 3 hits
	visit(t, d, counter.Visit{Key: "k", Date: d2, Visitor: vid(1)})
	visit(t, d, counter.Visit{Key: "k", Date: d1, Visitor: vid(7)}) // late: d1 has 4
	visit(t, d, counter.Visit{Key: "k", Date: d1, Visitor: vid(8)}) // late: d1 has 5
	sm := &staleMain{DynamoAPI: raw, key: "k", item: stale}
	ds := counter.NewDynamo(sm, counter.DynamoOptions{Table: d.Options().Table})
	s, _ := visit(t, ds, counter.Visit{Key: "k", Date: d2, Visitor: vid(2)})
	wantStats(t, s, 7, 7, counter.Day{Date: d2, Count: 2, Visitors: 2})
	h, err := d.History(ctx, "k", d1, d2)
	if err != nil {
		t.Fatal(err)
	}
	if want := []counter.Day{{Date: d1, Count: 5, Visitors: 5}, {Date: d2, Count: 2, Visitors: 2}}; !reflect.DeepEqual(h, want) {
		t.Fatalf("history = %+v, want %+v", h, want)
	}
}

// faultOnClaim arms the fault proxy for the next request just before each
// write of a marker whose id contains part.
type faultOnClaim struct {
	counter.DynamoAPI
	proxy *faultproxy.Proxy
	part  string
	armed atomic.Bool
}

func (f *faultOnClaim) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	if id := in.Key["id"].(*types.AttributeValueMemberS).Value; strings.Contains(id, f.part) && f.armed.CompareAndSwap(true, false) {
		// Only this marker write meets the fault: the visit sends other
		// calls at the same time (its read, the main item's write).
		f.proxy.SetForMatching(faultproxy.ForwardThen500, 1, func(r *http.Request, body []byte) bool {
			return strings.HasSuffix(r.Header.Get("X-Amz-Target"), ".UpdateItem") && bytes.Contains(body, []byte(f.part))
		})
	}
	return f.DynamoAPI.UpdateItem(ctx, in, optFns...)
}

// TestDynamoClaimLostAnswer: a marker write that DynamoDB applied but whose
// answer was lost is not retried by the SDK (its retry would find the marker
// and count the visit as a repeat, silently): the visit fails, its markers
// are taken back, and the caller's retry counts it once.
func TestDynamoClaimLostAnswer(t *testing.T) {
	d, _, _ := newVisitDynamo(t, counter.DynamoOptions{})
	endpoint := testenv.DynaliteEndpoint(t)
	proxy := faultproxy.New(t, endpoint)
	day := counter.Date("2026-11-30")
	for _, part := range []string{"#i#", "#v#"} {
		t.Run(part, func(t *testing.T) {
			key := "k" + strings.Trim(part, "#")
			f := &faultOnClaim{DynamoAPI: testenv.DynamoClient(proxy.URL()), proxy: proxy, part: part}
			ds := counter.NewDynamo(f, counter.DynamoOptions{Table: d.Options().Table}) // RetrySDK
			f.armed.Store(true)
			v := counter.Visit{Key: key, Date: day, Visitor: vid(1), ID: "view-1", Time: at(day, 0)}
			_, counted, err := ds.RecordVisit(context.Background(), v)
			if err == nil {
				t.Fatalf("a lost answer: counted = %v without an error", counted)
			}
			s, counted := visit(t, ds, v) // the caller retries
			if !counted {
				t.Fatal("the retry after a failed visit did not count")
			}
			wantStats(t, s, 1, 1, counter.Day{Date: day, Count: 1, Visitors: 1})
		})
	}
}

func TestDynamoRunVisits(t *testing.T) {
	for _, opts := range []counter.DynamoOptions{{}, {PartitionKey: "pk", CountAttribute: "views", ConsistentRead: true, Retry: counter.RetryUnsent}} {
		t.Run(fmt.Sprintf("%+v", opts), func(t *testing.T) {
			countertest.RunVisits(t, func(t *testing.T, cfg countertest.Config) countertest.VisitStore {
				opts.Now = cfg.Now
				d, _ := newDynamo(t, opts)
				return d
			})
		})
	}
}

func TestDynamoRunEditor(t *testing.T) {
	countertest.RunEditor(t, func(t *testing.T, cfg countertest.Config) countertest.EditStore {
		d, _ := newDynamo(t, counter.DynamoOptions{Now: cfg.Now})
		return d
	})
}

// editBeforeWrite types a count by hand (as in the console) just before the
// visit's write of the main item, after the visit read it.
type editBeforeWrite struct {
	counter.DynamoAPI
	raw   *dynamodb.Client
	table string
	armed atomic.Bool
}

func (e *editBeforeWrite) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	if id := in.Key["id"].(*types.AttributeValueMemberS).Value; id == "k" && e.armed.CompareAndSwap(true, false) {
		_, err := e.raw.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                 aws.String(e.table),
			Key:                       in.Key,
			UpdateExpression:          aws.String("SET #c = :v"),
			ExpressionAttributeNames:  map[string]string{"#c": "count"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":v": &types.AttributeValueMemberN{Value: "41.5"}},
		})
		if err != nil {
			return nil, err
		}
	}
	return e.DynamoAPI.UpdateItem(ctx, in, optFns...)
}

// TestDynamoVisitUndoesNotWhole: a count typed as 41.5 between a visit's
// read and its write: the visit takes its write back (count, visitors and
// the day's numbers), marks the count, withdraws its markers and fails.
func TestDynamoVisitUndoesNotWhole(t *testing.T) {
	d, _, raw := newVisitDynamo(t, counter.DynamoOptions{})
	table := d.Options().Table
	e := &editBeforeWrite{DynamoAPI: raw, raw: raw, table: table}
	de := counter.NewDynamo(e, counter.DynamoOptions{Table: table})
	day := counter.Date("2026-11-30")
	visit(t, de, counter.Visit{Key: "k", Date: day, Visitor: vid(1)})
	before := getItem(t, raw, table, "k")
	e.armed.Store(true)
	_, _, err := de.RecordVisit(context.Background(), counter.Visit{Key: "k", Date: day, Visitor: vid(2), ID: "x", Time: at(day, time.Second)})
	if !errors.Is(err, counter.ErrNotANumber) || strings.Contains(err.Error(), "may have been counted") {
		t.Fatalf("error = %v, want ErrNotANumber, nothing counted", err)
	}
	after := getItem(t, raw, table, "k")
	before["count"] = &types.AttributeValueMemberN{Value: "41.5"}
	before["countNotWhole"] = &types.AttributeValueMemberN{Value: "41.5"}
	if !reflect.DeepEqual(after, before) {
		t.Fatalf("main item after the refused visit:\n%#v\nwant\n%#v", after, before)
	}
	// Fixed by the owner, the same visit counts: its markers were withdrawn.
	if _, err := de.SetCount(context.Background(), "k", 1); err != nil {
		t.Fatal(err)
	}
	s, counted := visit(t, de, counter.Visit{Key: "k", Date: day, Visitor: vid(2), ID: "x", Time: at(day, 2*time.Second)})
	if !counted {
		t.Fatal("not counted after the fix")
	}
	wantStats(t, s, 2, 2, counter.Day{Date: day, Count: 2, Visitors: 2})
}

// busyDay counts a hit on the old day of the main item "k" before each of
// the visit's writes there while armed, as other processes still counting
// on that day would: every write that begins the new day is refused.
type busyDay struct {
	counter.DynamoAPI
	raw   *dynamodb.Client
	table string
	armed atomic.Bool
}

func (b *busyDay) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	if id := in.Key["id"].(*types.AttributeValueMemberS).Value; id == "k" && b.armed.Load() {
		if _, err := b.raw.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                 aws.String(b.table),
			Key:                       in.Key,
			UpdateExpression:          aws.String("SET #c = #c + :one, dc = dc + :one"),
			ExpressionAttributeNames:  map[string]string{"#c": "count"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":one": &types.AttributeValueMemberN{Value: "1"}},
		}); err != nil {
			return nil, err
		}
	}
	return b.DynamoAPI.UpdateItem(ctx, in, optFns...)
}

// failMonthRead fails the next GetItem of a month item once armed.
type failMonthRead struct {
	counter.DynamoAPI
	armed atomic.Bool
}

func (f *failMonthRead) GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	if id := in.Key["id"].(*types.AttributeValueMemberS).Value; strings.Contains(id, "#m#") && f.armed.CompareAndSwap(true, false) {
		return nil, errors.New("injected: connection reset")
	}
	return f.DynamoAPI.GetItem(ctx, in, optFns...)
}

// TestDynamoVisitSurelyNotWritten: a visit that fails where it surely
// wrote nothing (it gave up after its writes were refused every time, or
// reading the month item failed before any write) is not called ambiguous
// and leaves its visit id unmarked, so the caller's retry with the same id
// counts.
func TestDynamoVisitSurelyNotWritten(t *testing.T) {
	d1, d2 := counter.Date("2026-11-30"), counter.Date("2026-12-01")
	for _, tc := range []struct {
		name string
		wrap func(raw *dynamodb.Client, table string) (counter.DynamoAPI, *atomic.Bool)
	}{
		{"refused every time", func(raw *dynamodb.Client, table string) (counter.DynamoAPI, *atomic.Bool) {
			b := &busyDay{DynamoAPI: raw, raw: raw, table: table}
			return b, &b.armed
		}},
		{"month read fails", func(raw *dynamodb.Client, _ string) (counter.DynamoAPI, *atomic.Bool) {
			f := &failMonthRead{DynamoAPI: raw}
			return f, &f.armed
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, _, raw := newVisitDynamo(t, counter.DynamoOptions{})
			table := d.Options().Table
			client, armed := tc.wrap(raw, table)
			df := counter.NewDynamo(client, counter.DynamoOptions{Table: table})
			visit(t, df, counter.Visit{Key: "k", Date: d1, Visitor: vid(1)})
			armed.Store(true)
			v := counter.Visit{Key: "k", Date: d2, Visitor: vid(2), ID: "view-1", Time: at(d2, 0)}
			_, counted, err := df.RecordVisit(context.Background(), v)
			if err == nil || counted || strings.Contains(err.Error(), "may have been counted") {
				t.Fatalf("counted %v, error %v; want a failure that says nothing was counted", counted, err)
			}
			armed.Store(false)
			before := getItem(t, raw, table, "k")
			s, counted := visit(t, df, v) // counter.js retries with the same id
			if !counted {
				t.Fatal("the retry with the same visit id was refused as a repeat: the visit is lost")
			}
			if n := countOf(before); s.Count != mustInt(t, n)+1 || s.Today != (counter.Day{Date: d2, Count: 1, Visitors: 1}) {
				t.Fatalf("stats after the retry = %+v; want count %s + 1 and today 1 hit, 1 visitor", s, n)
			}
		})
	}
}

func mustInt(t *testing.T, s string) int64 {
	t.Helper()
	var n int64
	if _, err := fmt.Sscan(s, &n); err != nil {
		t.Fatalf("%q is not a whole number: %v", s, err)
	}
	return n
}
