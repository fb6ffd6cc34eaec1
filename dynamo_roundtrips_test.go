package counter_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/resumecounter/counter"
)

// depthClient counts the round trips a caller waits for one after the
// other: each call's depth is one more than the deepest call that had
// answered when it began, and the visit's is the deepest call's. Every call
// is held for hold before it answers, so calls a visit makes at the same
// time overlap even on a loaded machine (a late start can only make the
// count larger, never smaller).
type depthClient struct {
	counter.DynamoAPI
	hold time.Duration

	mu       sync.Mutex
	answered int // depth of the deepest call that has answered
	deepest  int
	calls    int
}

func (c *depthClient) begin() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls++
	d := c.answered + 1
	c.deepest = max(c.deepest, d)
	return d
}

func (c *depthClient) end(d int) {
	time.Sleep(c.hold)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.answered = max(c.answered, d)
}

// reset returns the round trips and calls since the last reset.
func (c *depthClient) reset() (trips, calls int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	trips, calls = c.deepest, c.calls
	c.answered, c.deepest, c.calls = 0, 0, 0
	return trips, calls
}

func (c *depthClient) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	d := c.begin()
	defer c.end(d)
	return c.DynamoAPI.UpdateItem(ctx, in, optFns...)
}

func (c *depthClient) GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	d := c.begin()
	defer c.end(d)
	return c.DynamoAPI.GetItem(ctx, in, optFns...)
}

func (c *depthClient) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	d := c.begin()
	defer c.end(d)
	return c.DynamoAPI.BatchGetItem(ctx, in, optFns...)
}

// TestDynamoVisitRoundTrips (issue 17, goal 2): a returning or new visitor
// waits for at most 2 round trips to DynamoDB one after the other, with or
// without a visit id; the first visit of a day for a key, and a late visit,
// for at most 3; a late visit (dated the day before the one the key has
// begun) for at most 4. Increment (visitors off) stays 1.
func TestDynamoVisitRoundTrips(t *testing.T) {
	plain, _, raw := newVisitDynamo(t, counter.DynamoOptions{})
	table := plain.Options().Table
	dc := &depthClient{DynamoAPI: raw, hold: 20 * time.Millisecond}
	d := counter.NewDynamo(dc, counter.DynamoOptions{Table: table})
	ctx := context.Background()
	d1, d2 := counter.Date("2026-11-30"), counter.Date("2026-12-01")
	n := 0
	check := func(name string, v counter.Visit, want int, wantCounted bool) {
		t.Helper()
		n++
		v.Key = "k"
		v.Time = at(v.Date, time.Duration(n)*time.Second)
		dc.reset()
		_, counted, err := d.RecordVisit(ctx, v)
		if err != nil || counted != wantCounted {
			t.Fatalf("%s: counted %v, error %v", name, counted, err)
		}
		trips, calls := dc.reset()
		t.Logf("%-40s %d round trips, %d calls", name+":", trips, calls)
		if trips > want {
			t.Errorf("%s: %d round trips one after the other, want at most %d", name, trips, want)
		}
	}
	for _, withID := range []bool{false, true} {
		id := func(s string) string {
			if withID {
				return s
			}
			return ""
		}
		sfx := fmt.Sprintf(" (visit id %v)", withID)
		day := d1
		if withID {
			day = d2
		}
		check("first visit of a day"+sfx, counter.Visit{Date: day, Visitor: vid(1), ID: id("a")}, 3, true)
		check("returning visitor"+sfx, counter.Visit{Date: day, Visitor: vid(1), ID: id("b")}, 2, true)
		check("new visitor"+sfx, counter.Visit{Date: day, Visitor: vid(2), ID: id("c")}, 2, true)
		check("hit only"+sfx, counter.Visit{Date: day, ID: id("d")}, 2, true)
	}
	check("repeated visit id", counter.Visit{Date: d2, Visitor: vid(1), ID: "b"}, 2, false)
	check("late visit, new visitor", counter.Visit{Date: d1, Visitor: vid(7), ID: "e"}, 4, true)
	dc.reset()
	if _, err := d.Increment(ctx, "plain"); err != nil {
		t.Fatal(err)
	}
	if trips, _ := dc.reset(); trips != 1 {
		t.Errorf("Increment: %d round trips, want 1", trips)
	}
}

// markerRace acts on the first write of a visitor marker once armed: with
// fail unset it writes the marker first, as the same visitor's other visit
// racing this one would between its read and its write; with fail set it
// fails the write after it was applied (a lost answer).
type markerRace struct {
	counter.DynamoAPI
	raw   *dynamodb.Client
	table string
	fail  bool
	armed atomic.Bool
}

func (m *markerRace) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	id := in.Key["id"].(*types.AttributeValueMemberS).Value
	if !strings.Contains(id, "#v#") || !m.armed.CompareAndSwap(true, false) {
		return m.DynamoAPI.UpdateItem(ctx, in, optFns...)
	}
	if m.fail {
		if _, err := m.DynamoAPI.UpdateItem(ctx, in, optFns...); err != nil {
			return nil, err
		}
		return nil, errors.New("injected: connection reset after the write")
	}
	if _, err := m.raw.UpdateItem(ctx, in); err != nil { // the racing visit's
		return nil, err
	}
	return m.DynamoAPI.UpdateItem(ctx, in, optFns...)
}

// TestDynamoVisitorRace: the main item's write counts a visitor without a
// marker at the read as new before its marker's write answers. When that
// write finds the marker there (the same visitor's racing visit wrote it),
// or fails, the visitor is taken back: the visit counts as a hit, and the
// visitor once.
func TestDynamoVisitorRace(t *testing.T) {
	day := counter.Date("2026-11-30")
	for _, fail := range []bool{false, true} {
		t.Run(fmt.Sprintf("fail=%v", fail), func(t *testing.T) {
			plain, _, raw := newVisitDynamo(t, counter.DynamoOptions{})
			table := plain.Options().Table
			mr := &markerRace{DynamoAPI: raw, raw: raw, table: table, fail: fail}
			d := counter.NewDynamo(mr, counter.DynamoOptions{Table: table})
			visit(t, d, counter.Visit{Key: "k", Date: day, Visitor: vid(1)}) // the day begins
			mr.armed.Store(true)
			s, counted := visit(t, d, counter.Visit{Key: "k", Date: day, Visitor: vid(2), ID: "x", Time: at(day, time.Second)})
			if !counted {
				t.Fatal("not counted")
			}
			// fail=false: the racing visit (not run here) counted visitor 2.
			wantStats(t, s, 2, 1, counter.Day{Date: day, Count: 2, Visitors: 1})
			got, err := d.Stats(context.Background(), "k", day)
			if err != nil {
				t.Fatal(err)
			}
			wantStats(t, got, 2, 1, counter.Day{Date: day, Count: 2, Visitors: 1})
			s, _ = visit(t, d, counter.Visit{Key: "k", Date: day, Visitor: vid(2), Time: at(day, 2*time.Second)})
			if fail {
				// The marker of the failed write was withdrawn: the
				// visitor's next visit counts them.
				wantStats(t, s, 3, 2, counter.Day{Date: day, Count: 3, Visitors: 2})
			} else {
				wantStats(t, s, 3, 1, counter.Day{Date: day, Count: 3, Visitors: 1})
			}
		})
	}
}
