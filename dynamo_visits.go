package counter

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
)

// Unique visitors, today's numbers and daily history in DynamoDB. The
// layout (docs/dynamodb.md has the costs):
//
//   - key: the main item, as before, with count; visits add visitors, the
//     current day (day, a date) and its numbers (dc hits, dv visitors), and
//     first, the first date with numbers.
//   - key#m#2026-11: one month of history, attributes c01…c31 (hits) and
//     v01…v31 (visitors). The first visit of a day moves the previous day's
//     numbers from the main item here.
//   - key#v#2026-11-30#<visitor id in hex>: a visitor seen that day, and
//     key#i#<visit id>: a visit id seen; both carry ttl.
//   - #salt#2026-11-30: a day's salt (Binary) with ttl.
//
// Every write is an UpdateItem and every read a GetItem or BatchGetItem, so
// a role that may do those three serves visits; only Keys scans.

var (
	_ VisitStore    = (*Dynamo)(nil)
	_ HistoryReader = (*Dynamo)(nil)
	_ Editor        = (*Dynamo)(nil)
	_ KeyLister     = (*Dynamo)(nil)
)

// Attribute names beside the partition key and the count.
const (
	dynVisitors = "visitors"
	dynDay      = "day"
	dynDayCount = "dc"
	dynDayVis   = "dv"
	dynFirst    = "first"
	dynLast     = "last"
	dynTTL      = "ttl" // the table's TTL attribute
	dynSalt     = "salt"
)

// visitAttempts bounds the writes one visit retries after losing a race
// (another process rolled the day over, say).
const visitAttempts = 8

func monthItem(key string, day Date) string { return key + "#m#" + string(day[:7]) }

func visitorItem(key string, day Date, id VisitorID) string {
	return key + "#v#" + string(day) + "#" + hex.EncodeToString(id[:])
}

func visitIDItem(key, id string) string { return key + "#i#" + id }

func saltItem(day Date) string { return "#salt#" + string(day) }

// dayAttrs names the month item's attributes of day: hits and visitors.
func dayAttrs(day Date) (c, v string) { return "c" + string(day[8:10]), "v" + string(day[8:10]) }

// dynMain is a main item as read.
type dynMain struct {
	exists   bool
	count    int64 // Start when absent
	visitors int64
	day      Date // "" before the first visit
	dc, dv   int64
	first    Date
	last     Date
}

// parseMain reads the main item of key. A count or number that is not a
// whole int64 is an error naming what to fix.
func (d *Dynamo) parseMain(item map[string]types.AttributeValue) (dynMain, error) {
	m := dynMain{exists: item != nil, count: d.opts.Start}
	c, err := d.number(item)
	if err != nil {
		return m, err
	}
	if c != nil {
		m.count = *c
	}
	for _, f := range []struct {
		name string
		to   *int64
	}{{dynVisitors, &m.visitors}, {dynDayCount, &m.dc}, {dynDayVis, &m.dv}} {
		if *f.to, err = intAttr(item, f.name); err != nil {
			return m, err
		}
	}
	for _, f := range []struct {
		name string
		to   *Date
	}{{dynDay, &m.day}, {dynFirst, &m.first}, {dynLast, &m.last}} {
		if s, ok := item[f.name].(*types.AttributeValueMemberS); ok {
			if !Date(s.Value).Valid() {
				return m, fmt.Errorf("attribute %q = %q: %w", f.name, s.Value, ErrInvalidDate)
			}
			*f.to = Date(s.Value)
		}
	}
	return m, nil
}

// intAttr returns the whole number in item's attribute name, 0 if absent.
func intAttr(item map[string]types.AttributeValue, name string) (int64, error) {
	av, ok := item[name]
	if !ok {
		return 0, nil
	}
	n, ok := av.(*types.AttributeValueMemberN)
	if !ok {
		return 0, fmt.Errorf("attribute %q: %w", name, ErrNotANumber)
	}
	return parseCount(name, n.Value)
}

// todayOf returns the numbers of day: the main item's if it holds day,
// else those of month, the month item of day (nil if absent).
func (m dynMain) todayOf(day Date, month map[string]types.AttributeValue) (Day, error) {
	if m.day == day {
		return Day{Date: day, Count: m.dc, Visitors: m.dv}, nil
	}
	return monthDay(month, day)
}

// monthDay returns day's numbers in month, a month item (nil if absent).
func monthDay(month map[string]types.AttributeValue, day Date) (Day, error) {
	c, v := dayAttrs(day)
	out := Day{Date: day}
	var err error
	if out.Count, err = intAttr(month, c); err != nil {
		return out, err
	}
	out.Visitors, err = intAttr(month, v)
	return out, err
}

// RecordVisit counts v; see [VisitStore]. A visit waits for at most two
// round trips to DynamoDB one after the other, three on the first visit of
// a day for the key (or a late visit):
//
//  1. one consistent BatchGetItem of the main item and the visitor's marker,
//     and at the same time the UpdateItem that writes the visit id's marker
//     if v.ID is set (a repeated id stops here);
//  2. the UpdateItem of the main item and, if the visitor has no marker
//     today, at the same time the UpdateItem that writes it.
//
// The first visit of a day moves the previous day to its month item and
// reads v.Date's month item in the second round trip (with the visitor's
// marker), and writes the main item in a third. A returning visitor costs
// one write unit (two with a visit id), a new visitor two (three); the
// first visit of a day one more. With Shards > 1 the visit counts on shard
// 0, the item named by the key, and the returned count sums every shard.
//
// The main item's write counts the visitor as new when the marker was
// absent at the read. If the marker's write then finds one (the same
// visitor's visit racing this one wrote it first), one more UpdateItem takes
// the visitor back, so each visitor counts once a day.
//
// A zero v.Time means now by [DynamoOptions.Now]. Markers expire relative to v.Time: a visit id's
// after [VisitIDTTL], a visitor's [VisitorMarkerTTL] after the start of
// v.Date in UTC; an expired marker counts as absent even before DynamoDB's
// TTL deletes it.
//
// If a write fails after markers were written, the markers are withdrawn
// (best effort) so that the visitor is not marked without being counted;
// after an ambiguous failure of the main item's write (a lost answer: the
// write may have been applied) the visit id's marker is kept, so that a
// retry with the same id counts at most once, and the error says that the
// visit may have been counted.
func (d *Dynamo) RecordVisit(ctx context.Context, v Visit) (Stats, bool, error) {
	if err := CheckVisit(v); err != nil {
		return Stats{}, false, err
	}
	if err := ctx.Err(); err != nil {
		return Stats{}, false, d.errorf("visit of", v.Key, err)
	}
	now := v.Time
	if now.IsZero() {
		now = d.opts.Now()
	}
	ids := []string{v.Key}
	marker := ""
	if !v.Visitor.IsZero() {
		marker = visitorItem(v.Key, v.Date, v.Visitor)
		ids = append(ids, marker)
	}
	for i := 1; i < d.opts.Shards; i++ {
		ids = append(ids, shardKey(v.Key, i))
	}
	// Round trip 1: the read, and the visit id's marker beside it.
	var idClaim *pendingClaim
	if v.ID != "" {
		idClaim = d.startClaim(ctx, claim{id: visitIDItem(v.Key, v.ID), expires: ttlOf(now.Add(VisitIDTTL)), keepIfAmbiguous: true}, now)
	}
	items, err := d.batchGet(ctx, ids, true)
	var claims []claim
	if idClaim != nil {
		ok, cerr := idClaim.wait()
		if cerr != nil {
			d.withdraw(ctx, []claim{idClaim.c}, now)
			return Stats{}, false, d.errorf("visit of", v.Key, fmt.Errorf("visit id marker: %w", cerr))
		}
		if ok {
			claims = append(claims, idClaim.c)
		}
	}
	var m dynMain
	var others int64
	if err == nil {
		m, err = d.parseMain(items[v.Key])
	}
	if err == nil && m.count == math.MaxInt64 {
		err = overflowAt(d.opts.CountAttribute, m.count)
	}
	if err == nil {
		others, err = d.otherShards(items, v.Key)
	}
	if err != nil {
		d.withdraw(ctx, claims, now)
		return Stats{}, false, d.errorf("visit of", v.Key, err)
	}
	if idClaim != nil && len(claims) == 0 { // a repeated visit id
		s, err := d.stats(ctx, v.Key, v.Date, m, others)
		if err != nil {
			return Stats{}, false, d.errorf("visit of", v.Key, err)
		}
		return s, false, nil
	}

	// Round trip 2 (3 on a new day): the main item, and the visitor's
	// marker beside it.
	var visitorClaim *pendingClaim
	if marker != "" && !unexpired(items[marker], now) {
		visitorClaim = d.startClaim(ctx, claim{id: marker, expires: ttlOf(VisitorExpiry(v.Date))}, now)
	}
	s, err := d.countVisit(ctx, v, m, visitorClaim, now)
	if visitorClaim != nil {
		if ok, cerr := visitorClaim.wait(); ok || cerr != nil {
			claims = append(claims, visitorClaim.c) // ours, or perhaps ours
		}
	}
	if err != nil {
		ambiguous := !errors.Is(err, errNotWritten) || errors.Is(err, errPartlyWritten)
		var kept []claim
		for _, c := range claims {
			if !ambiguous || !c.keepIfAmbiguous {
				kept = append(kept, c)
			}
		}
		d.withdraw(ctx, kept, now)
		if ambiguous {
			err = fmt.Errorf("%w (the visit may have been counted)", err)
		}
		return Stats{}, false, d.errorf("visit of", v.Key, err)
	}
	s.Count += others
	return s, true, nil
}

// overflowAt is the error for a count n that cannot take one more.
func overflowAt(attr string, n int64) error {
	return fmt.Errorf("attribute %q = %d cannot count more; set it to a smaller number (for example with `counter set`): %w", attr, n, ErrOverflow)
}

// errNotWritten marks errors after which the visit surely was not counted,
// unless errPartlyWritten is there too.
var (
	errNotWritten    = errors.New("nothing was written")
	errPartlyWritten = errors.New("partly written")
)

// notWritten wraps err with errNotWritten if err proves that DynamoDB did
// not apply the write.
func notWritten(err error) error {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) && apiErr.ErrorFault() == smithy.FaultClient || surelyNotApplied(err) {
		return fmt.Errorf("%w (%w)", err, errNotWritten)
	}
	return err
}

// otherShards sums the counts of shards 1… in items.
func (d *Dynamo) otherShards(items map[string]map[string]types.AttributeValue, key string) (int64, error) {
	var sum int64
	for i := 1; i < d.opts.Shards; i++ {
		n, err := d.number(items[shardKey(key, i)])
		if err != nil {
			return 0, fmt.Errorf("item %q: %w", shardKey(key, i), err)
		}
		if n != nil {
			sum += *n
		}
	}
	return sum, nil
}

// claim is a marker item a visit writes.
type claim struct {
	id              string
	expires         int64 // ttl, epoch seconds
	keepIfAmbiguous bool
}

// ttlOf returns t in epoch seconds, rounded up.
func ttlOf(t time.Time) int64 {
	s := t.Unix()
	if t.Nanosecond() > 0 {
		s++
	}
	return s
}

// unexpired reports whether marker item exists and has not expired at now.
func unexpired(item map[string]types.AttributeValue, now time.Time) bool {
	if item == nil {
		return false
	}
	ttl, err := intAttr(item, dynTTL)
	return err == nil && ttl > now.Unix()
}

// claimCondition lets a marker be written only where none lives: absent, or
// expired but not yet deleted by DynamoDB's TTL.
const claimCondition = "attribute_not_exists(#k) OR #ttl <= :now"

// claim writes marker c unless a live one exists, and reports whether it
// did. Racing claims of one marker: exactly one wins.
func (d *Dynamo) claim(ctx context.Context, c claim, now time.Time) (bool, error) {
	_, err := d.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                &d.opts.Table,
		Key:                      d.itemKey(c.id),
		UpdateExpression:         aws.String("SET #ttl = :exp"),
		ConditionExpression:      aws.String(claimCondition),
		ExpressionAttributeNames: map[string]string{"#k": d.opts.PartitionKey, "#ttl": dynTTL},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":exp": numberValue(c.expires),
			":now": numberValue(now.Unix()),
		},
	}, d.claimRetry()...)
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return false, nil
	}
	return err == nil, err
}

// claimRetry returns the retry options of a claim: never after an
// ambiguous failure, whatever the Retry option says, as a retried claim that
// had been applied would find its own marker and count the visit as a
// repeat (or a returning visitor).
func (d *Dynamo) claimRetry() []func(*dynamodb.Options) {
	if d.opts.Retry == RetryNever {
		return d.retryOptFn
	}
	return []func(*dynamodb.Options){func(o *dynamodb.Options) { o.Retryer = unsentRetryer{o.Retryer} }}
}

// withdraw expires the markers cs, best effort: it sets their ttl to just
// before now (an item whose ttl is more than five years past is never
// deleted by DynamoDB), only where the ttl is still the one this visit
// wrote.
func (d *Dynamo) withdraw(ctx context.Context, cs []claim, now time.Time) {
	if len(cs) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	for _, c := range cs {
		_, _ = d.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                &d.opts.Table,
			Key:                      d.itemKey(c.id),
			UpdateExpression:         aws.String("SET #ttl = :past"),
			ConditionExpression:      aws.String("#ttl = :exp"),
			ExpressionAttributeNames: map[string]string{"#ttl": dynTTL},
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":exp":  numberValue(c.expires),
				":past": numberValue(now.Unix() - 1),
			},
		})
	}
}

// pendingClaim is a marker's write in flight.
type pendingClaim struct {
	c    claim
	done chan struct{}
	ok   bool
	err  error
}

// startClaim writes marker c (see claim) while the caller goes on.
func (d *Dynamo) startClaim(ctx context.Context, c claim, now time.Time) *pendingClaim {
	p := &pendingClaim{c: c, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		p.ok, p.err = d.claim(ctx, c, now)
	}()
	return p
}

// wait returns the claim's outcome once it has one.
func (p *pendingClaim) wait() (bool, error) {
	<-p.done
	return p.ok, p.err
}

// countVisit writes the visit's numbers: to the main item, and on the
// first visit of a day first the previous day's numbers to its month item.
// m is the main item as last read. vc, if not nil, is the visitor's marker
// being written: the visitor is new if it is. On the day the main item
// holds, the main item's write does not wait for vc and counts the visitor
// as new; if vc then finds a marker (or fails), takeBackVisitor undoes
// that. Other writes wait for vc's outcome first.
func (d *Dynamo) countVisit(ctx context.Context, v Visit, m dynMain, vc *pendingClaim, now time.Time) (Stats, error) {
	nv := int64(0)
	resolved := vc == nil
	// resolve waits for vc and sets nv from its outcome; an error means
	// nothing of the visit was written.
	resolve := func() error {
		if resolved {
			return nil
		}
		resolved = true
		ok, err := vc.wait()
		if err != nil {
			return fmt.Errorf("visitor marker: %w (%w)", err, errNotWritten)
		}
		if !ok {
			nv = 0
		}
		return nil
	}
	if vc != nil {
		nv = 1
	}
	for attempt := 1; ; attempt++ {
		var (
			s   Stats
			err error
		)
		switch {
		case m.day == v.Date:
			s, err = d.sameDay(ctx, v, nv)
		case m.day == "" || m.day < v.Date:
			s, err = d.newDay(ctx, v, m, &nv, resolve)
		default:
			if err := resolve(); err != nil {
				return Stats{}, err
			}
			s, err = d.lateVisit(ctx, v, m, nv)
		}
		if err == nil {
			if resolved {
				return s, nil
			}
			// The visitor was counted as new before its marker's write
			// answered.
			wrote := nv
			if rerr := resolve(); rerr != nil || nv == 0 {
				if rerr != nil {
					nv = 0
					d.withdraw(ctx, []claim{vc.c}, now)
				}
				return d.takeBackVisitor(ctx, v, s, wrote)
			}
			return s, nil
		}
		var ccf *types.ConditionalCheckFailedException
		if !errors.As(err, &ccf) || errors.Is(err, errPartlyWritten) {
			if rerr := resolve(); rerr != nil && errors.Is(err, errNotWritten) {
				return Stats{}, rerr
			}
			return s, err
		}
		// The main item changed since it was read (another process began
		// the day) or its count cannot take the visit: read it again.
		if rerr := resolve(); rerr != nil {
			return Stats{}, rerr
		}
		out, rerr := d.client.GetItem(ctx, &dynamodb.GetItemInput{
			TableName:      &d.opts.Table,
			Key:            d.itemKey(v.Key),
			ConsistentRead: aws.Bool(true),
		})
		if rerr != nil {
			return Stats{}, fmt.Errorf("%w; reading it again: %w (%w)", err, rerr, errNotWritten)
		}
		if m, rerr = d.parseMain(out.Item); rerr == nil && m.count == math.MaxInt64 {
			rerr = overflowAt(d.opts.CountAttribute, m.count)
		}
		if rerr != nil {
			return Stats{}, fmt.Errorf("%w (%w)", rerr, errNotWritten)
		}
		if attempt == visitAttempts {
			// Every attempt was refused by its condition: nothing counted.
			return Stats{}, fmt.Errorf("the item kept changing, %d attempts: %w (%w)", attempt, err, errNotWritten)
		}
	}
}

// takeBackVisitor undoes the new visitor that sameDay counted (wrote is 1)
// when the visitor's marker turned out to be there already: s is what the
// write returned. It takes one visitor from the main item's total and from
// its day, if it still holds v.Date, else from v.Date's month item, where
// the day has moved meanwhile. If that fails the visit stays counted, with
// the visitor counted twice today.
func (d *Dynamo) takeBackVisitor(ctx context.Context, v Visit, s Stats, wrote int64) (Stats, error) {
	if wrote == 0 {
		return s, nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	_, err := d.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                &d.opts.Table,
		Key:                      d.itemKey(v.Key),
		UpdateExpression:         aws.String("SET #vis = #vis - :one, #dv = #dv - :one"),
		ConditionExpression:      aws.String("#day = :d AND #vis >= :one AND #dv >= :one"),
		ExpressionAttributeNames: map[string]string{"#vis": dynVisitors, "#dv": dynDayVis, "#day": dynDay},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":one": numberValue(1), ":d": &types.AttributeValueMemberS{Value: string(v.Date)},
		},
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		// The day moved to its month item meanwhile.
		_, vv := dayAttrs(v.Date)
		_, err = d.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                 &d.opts.Table,
			Key:                       d.itemKey(monthItem(v.Key, v.Date)),
			UpdateExpression:          aws.String("SET #dv = #dv - :one"),
			ConditionExpression:       aws.String("#dv >= :one"),
			ExpressionAttributeNames:  map[string]string{"#dv": vv},
			ExpressionAttributeValues: map[string]types.AttributeValue{":one": numberValue(1)},
		})
		if err == nil {
			_, err = d.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
				TableName:                 &d.opts.Table,
				Key:                       d.itemKey(v.Key),
				UpdateExpression:          aws.String("SET #vis = #vis - :one"),
				ConditionExpression:       aws.String("#vis >= :one"),
				ExpressionAttributeNames:  map[string]string{"#vis": dynVisitors},
				ExpressionAttributeValues: map[string]types.AttributeValue{":one": numberValue(1)},
			})
		}
	}
	if err != nil {
		return s, nil // counted; the visitor counts twice today
	}
	s.Visitors--
	s.Today.Visitors--
	return s, nil
}

// mainGuard is the part of every visit's condition on the main item that
// keeps its numbers whole int64s: no count or visitors at the largest
// int64, and no count marked as not whole (see badCountAttribute).
const mainGuard = "(attribute_not_exists(#c) OR #c < :max) AND (attribute_not_exists(#vis) OR #vis < :max) AND " + notMarkedBad

// visitUpdate is one UpdateItem of a visit on the main item.
type visitUpdate struct {
	update, cond string
	names        map[string]string
	values       map[string]types.AttributeValue
}

func (d *Dynamo) mainNames() map[string]string {
	return map[string]string{
		"#c": d.opts.CountAttribute, "#vis": dynVisitors, "#bad": badCountAttribute,
		"#day": dynDay, "#dc": dynDayCount, "#dv": dynDayVis, "#first": dynFirst,
	}
}

func (d *Dynamo) mainValues(v Visit, nv int64) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		":one": numberValue(1), ":zero": numberValue(0), ":nv": numberValue(nv),
		":start": numberValue(d.opts.Start), ":max": numberValue(math.MaxInt64),
		":d": &types.AttributeValueMemberS{Value: string(v.Date)},
	}
}

// sameDay counts a visit on the day the main item holds.
func (d *Dynamo) sameDay(ctx context.Context, v Visit, nv int64) (Stats, error) {
	u := visitUpdate{
		update: "SET #c = if_not_exists(#c, :start) + :one, #vis = if_not_exists(#vis, :zero) + :nv, " +
			"#dc = if_not_exists(#dc, :zero) + :one, #dv = if_not_exists(#dv, :zero) + :nv REMOVE #bad",
		cond:   "#day = :d AND (attribute_not_exists(#dc) OR #dc < :max) AND " + mainGuard,
		names:  d.mainNames(),
		values: d.mainValues(v, nv),
	}
	return d.writeMain(ctx, v, nv, u, true, Day{})
}

// newDay counts the first visit of v.Date: it moves the day the main item
// holds (if any) to its month item, then sets the main item's day to v.Date,
// starting from what v.Date's month item holds (an imported day), with a
// condition on the old day's numbers: a visit that counted on the old day
// meanwhile makes it fail, and the move is made again.
func (d *Dynamo) newDay(ctx context.Context, v Visit, m dynMain, nvp *int64, resolve func() error) (Stats, error) {
	// Until the main item's write, nothing of this visit is written: moving
	// the old day (even if that write's answer is lost) counts no visit.
	// The move and the read run at once (beside the visitor's marker).
	var rollErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		if m.day != "" && (m.dc != 0 || m.dv != 0) {
			rollErr = d.rollDay(ctx, v.Key, m.day, m.dc, m.dv)
		}
	}()
	out, err := d.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      &d.opts.Table,
		Key:            d.itemKey(monthItem(v.Key, v.Date)),
		ConsistentRead: aws.Bool(true),
	})
	<-done
	if rerr := resolve(); rerr != nil {
		return Stats{}, rerr
	}
	nv := *nvp
	if rollErr != nil {
		return Stats{}, fmt.Errorf("moving %s to its month: %w (%w)", m.day, rollErr, errNotWritten)
	}
	if err != nil {
		return Stats{}, fmt.Errorf("reading %s's month: %w (%w)", v.Date, err, errNotWritten)
	}
	base, err := monthDay(out.Item, v.Date)
	if err != nil {
		return Stats{}, fmt.Errorf("item %q: %w (%w)", monthItem(v.Key, v.Date), err, errNotWritten)
	}
	if base.Count == math.MaxInt64 || base.Visitors > math.MaxInt64-nv {
		return Stats{}, fmt.Errorf("day %s: %w (%w)", v.Date, ErrOverflow, errNotWritten)
	}
	u := visitUpdate{
		update: "SET #c = if_not_exists(#c, :start) + :one, #vis = if_not_exists(#vis, :zero) + :nv, " +
			"#day = :d, #dc = :dc, #dv = :dv, #first = if_not_exists(#first, :d) REMOVE #bad",
		names:  d.mainNames(),
		values: d.mainValues(v, nv),
	}
	u.values[":dc"] = numberValue(base.Count + 1)
	u.values[":dv"] = numberValue(base.Visitors + nv)
	if m.day == "" {
		u.cond = "attribute_not_exists(#day) AND " + mainGuard
	} else {
		u.cond = "#day = :oldday AND (attribute_not_exists(#dc) OR #dc = :olddc) AND (attribute_not_exists(#dv) OR #dv = :olddv) AND " + mainGuard
		u.values[":oldday"] = &types.AttributeValueMemberS{Value: string(m.day)}
		u.values[":olddc"] = numberValue(m.dc)
		u.values[":olddv"] = numberValue(m.dv)
	}
	if m.first != "" && v.Date < m.first {
		u.update = strings.Replace(u.update, "#first = if_not_exists(#first, :d)", "#first = :d", 1)
	}
	return d.writeMain(ctx, v, nv, u, true, Day{})
}

// rollDay writes day's numbers to its month item unless it already holds
// as many hits: racing processes converge on the largest, which is the
// main item's last.
func (d *Dynamo) rollDay(ctx context.Context, key string, day Date, dc, dv int64) error {
	c, v := dayAttrs(day)
	_, err := d.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 &d.opts.Table,
		Key:                       d.itemKey(monthItem(key, day)),
		UpdateExpression:          aws.String("SET #dc = :dc, #dv = :dv"),
		ConditionExpression:       aws.String("attribute_not_exists(#dc) OR #dc < :dc"),
		ExpressionAttributeNames:  map[string]string{"#dc": c, "#dv": v},
		ExpressionAttributeValues: map[string]types.AttributeValue{":dc": numberValue(dc), ":dv": numberValue(dv)},
	}, d.retryOptFn...)
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return nil // already there
	}
	return err
}

// lateVisit counts a visit dated before the day the main item holds (it
// began before midnight): on v.Date's month item, then on the main item's
// totals.
func (d *Dynamo) lateVisit(ctx context.Context, v Visit, m dynMain, nv int64) (Stats, error) {
	c, vv := dayAttrs(v.Date)
	month := monthItem(v.Key, v.Date)
	out, err := d.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 &d.opts.Table,
		Key:                       d.itemKey(month),
		UpdateExpression:          aws.String("SET #dc = if_not_exists(#dc, :zero) + :one, #dv = if_not_exists(#dv, :zero) + :nv"),
		ConditionExpression:       aws.String("(attribute_not_exists(#dc) OR #dc < :max) AND (attribute_not_exists(#dv) OR #dv < :max)"),
		ExpressionAttributeNames:  map[string]string{"#dc": c, "#dv": vv},
		ExpressionAttributeValues: map[string]types.AttributeValue{":one": numberValue(1), ":zero": numberValue(0), ":nv": numberValue(nv), ":max": numberValue(math.MaxInt64)},
		ReturnValues:              types.ReturnValueAllNew,
	}, d.retryOptFn...)
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return Stats{}, fmt.Errorf("day %s in item %q: %w (%w)", v.Date, month, ErrOverflow, errNotWritten)
	}
	if err != nil {
		return Stats{}, notWritten(err)
	}
	today, err := monthDay(out.Attributes, v.Date)
	if err != nil {
		return Stats{}, err
	}
	u := visitUpdate{
		update: "SET #c = if_not_exists(#c, :start) + :one, #vis = if_not_exists(#vis, :zero) + :nv REMOVE #bad",
		cond:   "#day > :d AND " + mainGuard,
		names:  d.mainNames(),
		values: d.mainValues(v, nv),
	}
	if m.first == "" || v.Date < m.first {
		u.update = strings.Replace(u.update, " REMOVE", ", #first = :d REMOVE", 1)
	}
	s, err := d.writeMain(ctx, v, nv, u, false, today)
	if err != nil {
		// Take the visit back from the month item, best effort.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		_, uerr := d.client.UpdateItem(cctx, &dynamodb.UpdateItemInput{
			TableName:                 &d.opts.Table,
			Key:                       d.itemKey(month),
			UpdateExpression:          aws.String("SET #dc = #dc - :one, #dv = #dv - :nv"),
			ExpressionAttributeNames:  map[string]string{"#dc": c, "#dv": vv},
			ExpressionAttributeValues: map[string]types.AttributeValue{":one": numberValue(1), ":nv": numberValue(nv)},
		})
		cancel()
		if uerr != nil {
			err = fmt.Errorf("%w; taking the visit back from %s failed, the day may count it: %w (%w)", err, v.Date, uerr, errPartlyWritten)
		}
	}
	return s, err
}

// prune deletes the names and values that exprs do not use: DynamoDB
// refuses a request that lists one.
func prune(names map[string]string, values map[string]types.AttributeValue, exprs ...string) {
	used := func(tok string) bool {
		for _, e := range exprs {
			for i := 0; ; {
				j := strings.Index(e[i:], tok)
				if j < 0 {
					break
				}
				end := i + j + len(tok)
				if end == len(e) || !isNameByte(e[end]) {
					return true
				}
				i = end
			}
		}
		return false
	}
	for k := range names {
		if !used(k) {
			delete(names, k)
		}
	}
	for k := range values {
		if !used(k) {
			delete(values, k)
		}
	}
}

func isNameByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_'
}

// writeMain makes a visit's update of the main item and returns the key's
// numbers after it. ownDay says whether the main item holds v.Date's
// numbers; otherwise today is them.
func (d *Dynamo) writeMain(ctx context.Context, v Visit, nv int64, u visitUpdate, ownDay bool, today Day) (Stats, error) {
	prune(u.names, u.values, u.update, u.cond)
	out, err := d.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 &d.opts.Table,
		Key:                       d.itemKey(v.Key),
		UpdateExpression:          aws.String(u.update),
		ConditionExpression:       aws.String(u.cond),
		ExpressionAttributeNames:  u.names,
		ExpressionAttributeValues: u.values,
		ReturnValues:              types.ReturnValueAllNew,
	}, d.retryOptFn...)
	if err != nil {
		var ccf *types.ConditionalCheckFailedException
		if errors.As(err, &ccf) {
			return Stats{}, err // countVisit reads again
		}
		return Stats{}, notWritten(err)
	}
	m, err := d.parseMain(out.Attributes)
	if errors.Is(err, ErrNotANumber) {
		// The count became a number that is not whole between the read
		// and this write (typed by hand meanwhile): undo, and mark it.
		extra := &undoParts{
			update: ", #vis = #vis - :nv",
			names:  map[string]string{"#vis": dynVisitors},
			values: map[string]types.AttributeValue{":nv": numberValue(nv)},
			applies: func(map[string]types.AttributeValue) bool {
				return true
			},
		}
		if ownDay {
			extra.applies = func(item map[string]types.AttributeValue) bool {
				day, _ := item[dynDay].(*types.AttributeValueMemberS)
				return day != nil && day.Value == string(v.Date)
			}
			extra.update += ", #dc = #dc - :one, #dv = #dv - :nv"
			extra.cond = " AND #day = :d"
			extra.names["#dc"], extra.names["#dv"], extra.names["#day"] = dynDayCount, dynDayVis, dynDay
			extra.values[":one"] = numberValue(1)
			extra.values[":d"] = &types.AttributeValueMemberS{Value: string(v.Date)}
		}
		if uerr := d.undoNotWhole(ctx, v.Key, 1, extra); uerr != nil {
			return Stats{}, fmt.Errorf("%w; undoing the write failed, the numbers may be 1 too high: %w", err, uerr)
		}
		return Stats{}, fmt.Errorf("%w (%w)", err, errNotWritten)
	}
	if err != nil {
		return Stats{}, err // counted, but the answer cannot be read
	}
	if ownDay {
		today = Day{Date: v.Date, Count: m.dc, Visitors: m.dv}
	}
	return Stats{Key: v.Key, Count: m.count, Visitors: m.visitors, Today: today}, nil
}

// Stats reads key's numbers with one BatchGetItem (the main item, today's
// month item and any other shards); see [VisitStore]. Reads are strongly
// consistent with ConsistentRead.
func (d *Dynamo) Stats(ctx context.Context, key string, today Date) (Stats, error) {
	if err := CheckKey(key); err != nil {
		return Stats{}, err
	}
	if !today.Valid() {
		return Stats{}, fmt.Errorf("counter: stats of %q: %w: %q", key, ErrInvalidDate, today)
	}
	if err := ctx.Err(); err != nil {
		return Stats{}, d.errorf("stats of", key, err)
	}
	ids := []string{key, monthItem(key, today)}
	for i := 1; i < d.opts.Shards; i++ {
		ids = append(ids, shardKey(key, i))
	}
	items, err := d.batchGet(ctx, ids, d.opts.ConsistentRead)
	if err != nil {
		return Stats{}, d.errorf("stats of", key, err)
	}
	m, err := d.parseMain(items[key])
	if err != nil {
		return Stats{}, d.errorf("stats of", key, err)
	}
	others, err := d.otherShards(items, key)
	if err != nil {
		return Stats{}, d.errorf("stats of", key, err)
	}
	s, err := d.statsOf(key, today, m, items[monthItem(key, today)])
	if err != nil {
		return Stats{}, d.errorf("stats of", key, err)
	}
	s.Count += others
	return s, nil
}

func (d *Dynamo) statsOf(key string, today Date, m dynMain, month map[string]types.AttributeValue) (Stats, error) {
	t, err := m.todayOf(today, month)
	if err != nil {
		return Stats{}, err
	}
	return Stats{Key: key, Count: m.count, Visitors: m.visitors, Today: t}, nil
}

// stats returns key's numbers from m, the main item just read, reading
// today's month item only if m does not hold today.
func (d *Dynamo) stats(ctx context.Context, key string, today Date, m dynMain, others int64) (Stats, error) {
	var month map[string]types.AttributeValue
	if m.day != today {
		out, err := d.client.GetItem(ctx, &dynamodb.GetItemInput{
			TableName:      &d.opts.Table,
			Key:            d.itemKey(monthItem(key, today)),
			ConsistentRead: aws.Bool(true),
		})
		if err != nil {
			return Stats{}, err
		}
		month = out.Item
	}
	s, err := d.statsOf(key, today, m, month)
	s.Count += others
	return s, err
}

// DaySalt returns day's salt; see [VisitStore]. It reads the salt item
// (GetItem) and, if it is missing, writes fresh with a condition that only
// creates it (UpdateItem), so racing processes converge on the first. The
// item's ttl makes DynamoDB delete it after VisitorMarkerTTL; until then a
// stored salt is returned, as every process must agree on a day's salt.
func (d *Dynamo) DaySalt(ctx context.Context, day Date, fresh []byte) ([]byte, error) {
	if !day.Valid() {
		return nil, fmt.Errorf("counter: salt: %w: %q", ErrInvalidDate, day)
	}
	if len(fresh) != SaltLen {
		return nil, fmt.Errorf("counter: salt of %s: %d bytes, want %d", day, len(fresh), SaltLen)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("counter: salt of %s in table %q: %w", day, d.opts.Table, err)
	}
	id := saltItem(day)
	for attempt := 0; ; attempt++ {
		out, err := d.client.GetItem(ctx, &dynamodb.GetItemInput{
			TableName:      &d.opts.Table,
			Key:            d.itemKey(id),
			ConsistentRead: aws.Bool(true),
		})
		if err != nil {
			return nil, fmt.Errorf("counter: salt of %s in table %q: %w", day, d.opts.Table, err)
		}
		if out.Item != nil {
			b, ok := out.Item[dynSalt].(*types.AttributeValueMemberB)
			if !ok || len(b.Value) != SaltLen {
				return nil, fmt.Errorf("counter: salt of %s in table %q: item %q has no %d-byte binary attribute %q", day, d.opts.Table, id, SaltLen, dynSalt)
			}
			return slices.Clone(b.Value), nil
		}
		if attempt > 0 {
			return nil, fmt.Errorf("counter: salt of %s in table %q: item %q was created but cannot be read", day, d.opts.Table, id)
		}
		_, err = d.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                &d.opts.Table,
			Key:                      d.itemKey(id),
			UpdateExpression:         aws.String("SET #salt = :salt, #ttl = :exp"),
			ConditionExpression:      aws.String("attribute_not_exists(#k)"),
			ExpressionAttributeNames: map[string]string{"#k": d.opts.PartitionKey, "#salt": dynSalt, "#ttl": dynTTL},
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":salt": &types.AttributeValueMemberB{Value: fresh},
				":exp":  numberValue(ttlOf(VisitorExpiry(day))),
			},
		})
		var ccf *types.ConditionalCheckFailedException
		if errors.As(err, &ccf) {
			continue // another process stored one first: read it
		}
		if err != nil {
			return nil, fmt.Errorf("counter: salt of %s in table %q: %w", day, d.opts.Table, err)
		}
		return slices.Clone(fresh), nil
	}
}

// History reads key's daily numbers with one BatchGetItem of the main item
// and the month items of the range: at most 14 items for 366 days, so one
// call, or two when DynamoDB leaves keys unprocessed; see [HistoryReader].
func (d *Dynamo) History(ctx context.Context, key string, first, last Date) ([]Day, error) {
	if err := CheckHistoryRange(key, first, last); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, d.errorf("history of", key, err)
	}
	ids := []string{key}
	for mo := first; mo <= last; mo = nextMonth(mo) {
		ids = append(ids, monthItem(key, mo))
	}
	items, err := d.batchGet(ctx, ids, d.opts.ConsistentRead)
	if err != nil {
		return nil, d.errorf("history of", key, err)
	}
	m, err := d.parseMain(items[key])
	if err != nil {
		return nil, d.errorf("history of", key, err)
	}
	var days []Day
	for day := first; day <= last; day = day.AddDays(1) {
		n, err := m.todayOf(day, items[monthItem(key, day)])
		if err != nil {
			return nil, d.errorf("history of", key, fmt.Errorf("item %q: %w", monthItem(key, day), err))
		}
		days = append(days, n)
	}
	return days, nil
}

// nextMonth returns the first day of the month after day's.
func nextMonth(day Date) Date {
	t := day.Time()
	return DateOf(time.Date(t.Year(), t.Month()+1, 1, 0, 0, 0, 0, time.UTC))
}

// batchGet reads the items ids (at most 100 per call) and returns those
// that exist by id. It retries unprocessed keys with backoff.
func (d *Dynamo) batchGet(ctx context.Context, ids []string, consistent bool) (map[string]map[string]types.AttributeValue, error) {
	items := make(map[string]map[string]types.AttributeValue, len(ids))
	for chunk := range slices.Chunk(ids, maxShards) {
		keys := make([]map[string]types.AttributeValue, len(chunk))
		for i, id := range chunk {
			keys[i] = d.itemKey(id)
		}
		wait := batchBackoff
		for attempt := 1; ; attempt++ {
			out, err := d.client.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{
				RequestItems: map[string]types.KeysAndAttributes{d.opts.Table: {
					Keys:           keys,
					ConsistentRead: aws.Bool(consistent),
				}},
			})
			if err != nil {
				return nil, err
			}
			for _, item := range out.Responses[d.opts.Table] {
				id, ok := item[d.opts.PartitionKey].(*types.AttributeValueMemberS)
				if !ok || !slices.Contains(chunk, id.Value) {
					return nil, fmt.Errorf("BatchGetItem returned an item that was not asked for: %v", item[d.opts.PartitionKey])
				}
				items[id.Value] = item
			}
			keys = out.UnprocessedKeys[d.opts.Table].Keys
			if len(keys) == 0 {
				break
			}
			if attempt == batchAttempts {
				return nil, fmt.Errorf("%d of %d items still unread after %d BatchGetItem calls", len(keys), len(chunk), attempt)
			}
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil, ctx.Err()
			case <-t.C:
			}
			wait = min(2*wait, time.Second)
		}
	}
	return items, nil
}

// SetCount sets key's count to n with one UpdateItem and returns the count
// it replaced; see [Editor]. It replaces any count: one that is a number but
// not a whole int64, or not a number at all (a string typed in the console),
// which is the repair that errors wrapping ErrNotANumber or ErrOverflow ask
// for. The count returned is then the old number truncated to an int64, the
// number a string spelled, or 0 for a string that spells none. With
// Shards > 1 it sets shard 0 and zeroes none of the others: the error says
// so if any holds a count.
func (d *Dynamo) SetCount(ctx context.Context, key string, n int64) (int64, error) {
	if err := CheckKey(key); err != nil {
		return 0, err
	}
	if n < 0 {
		return 0, fmt.Errorf("counter: set %q to %d: a count cannot be negative", key, n)
	}
	if err := ctx.Err(); err != nil {
		return 0, d.errorf("set", key, err)
	}
	if d.opts.Shards > 1 {
		return 0, d.errorf("set", key, fmt.Errorf("SetCount needs Shards = 1 (the count is spread over %d items)", d.opts.Shards))
	}
	out, err := d.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 &d.opts.Table,
		Key:                       d.itemKey(key),
		UpdateExpression:          aws.String("SET #c = :n REMOVE #bad"),
		ExpressionAttributeNames:  map[string]string{"#c": d.opts.CountAttribute, "#bad": badCountAttribute},
		ExpressionAttributeValues: map[string]types.AttributeValue{":n": numberValue(n)},
		ReturnValues:              types.ReturnValueUpdatedOld,
	})
	if err != nil {
		return 0, d.errorf("set", key, err)
	}
	switch old := out.Attributes[d.opts.CountAttribute].(type) {
	case *types.AttributeValueMemberN:
		return truncInt64(old.Value), nil
	case *types.AttributeValueMemberS:
		return max(0, truncInt64(strings.TrimSpace(old.Value))), nil
	case nil:
		return d.opts.Start, nil
	}
	return 0, nil
}

// truncInt64 returns the DynamoDB number s truncated toward zero and
// clamped to int64.
func truncInt64(s string) int64 {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return 0
	}
	i := new(big.Int).Quo(r.Num(), r.Denom())
	switch {
	case i.IsInt64():
		return i.Int64()
	case i.Sign() > 0:
		return math.MaxInt64
	}
	return math.MinInt64
}

// Export returns key's record: the main item and the month items from the
// first day with numbers to the last; see [Editor].
func (d *Dynamo) Export(ctx context.Context, key string) (Record, error) {
	if err := CheckKey(key); err != nil {
		return Record{}, err
	}
	if err := ctx.Err(); err != nil {
		return Record{}, d.errorf("export", key, err)
	}
	out, err := d.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      &d.opts.Table,
		Key:            d.itemKey(key),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return Record{}, d.errorf("export", key, err)
	}
	m, err := d.parseMain(out.Item)
	if err != nil {
		return Record{}, d.errorf("export", key, err)
	}
	if d.opts.Shards > 1 {
		ids := make([]string, 0, d.opts.Shards)
		for i := 1; i < d.opts.Shards; i++ {
			ids = append(ids, shardKey(key, i))
		}
		items, err := d.batchGet(ctx, ids, true)
		if err != nil {
			return Record{}, d.errorf("export", key, err)
		}
		others, err := d.otherShards(items, key)
		if err != nil {
			return Record{}, d.errorf("export", key, err)
		}
		m.count += others
	}
	r := Record{Key: key, Count: m.count, Visitors: m.visitors, Days: []Day{}}
	if m.first == "" {
		return r, nil
	}
	last := max(m.day, m.last, m.first)
	var ids []string
	for mo := m.first; mo <= last; mo = nextMonth(mo) {
		ids = append(ids, monthItem(key, mo))
	}
	items, err := d.batchGet(ctx, ids, true)
	if err != nil {
		return Record{}, d.errorf("export", key, err)
	}
	for _, id := range ids {
		item := items[id]
		if item == nil && (m.day == "" || id != monthItem(key, m.day)) { // m.day is "" after an Import into a new key
			continue
		}
		month := Date(id[len(id)-7:] + "-01")
		for day := month; day[:7] == month[:7]; day = day.AddDays(1) {
			n, err := m.todayOf(day, item)
			if err != nil {
				return Record{}, d.errorf("export", key, fmt.Errorf("item %q: %w", id, err))
			}
			if n.Count != 0 || n.Visitors != 0 {
				r.Days = append(r.Days, n)
			}
		}
	}
	return r, nil
}

// Import writes r; see [Editor]. It writes one UpdateItem per month that r
// lists days of, and one on the main item (count, visitors, and the day the
// main item holds if r lists it, which also goes to its month item), conditioned on the day the main item held
// when read, so that a day rolled over meanwhile is written again to its
// month. Every write sets values, so importing twice leaves the same state.
// Visits counted while an import runs may be overwritten by it.
func (d *Dynamo) Import(ctx context.Context, r Record) error {
	if err := CheckRecord(r); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return d.errorf("import", r.Key, err)
	}
	if d.opts.Shards > 1 {
		return d.errorf("import", r.Key, fmt.Errorf("Import needs Shards = 1 (the count is spread over %d items)", d.opts.Shards))
	}
	for attempt := 1; ; attempt++ {
		out, err := d.client.GetItem(ctx, &dynamodb.GetItemInput{
			TableName:      &d.opts.Table,
			Key:            d.itemKey(r.Key),
			ConsistentRead: aws.Bool(true),
		})
		if err != nil {
			return d.errorf("import", r.Key, err)
		}
		m, err := d.parseMain(out.Item)
		if err != nil && !errors.Is(err, ErrNotANumber) && !errors.Is(err, ErrOverflow) {
			return d.errorf("import", r.Key, err)
		}
		// Days go to their month items, except the day the main item holds.
		var held *Day
		for i := 0; i < len(r.Days); {
			j := i
			for j < len(r.Days) && r.Days[j].Date[:7] == r.Days[i].Date[:7] {
				j++
			}
			if err := d.importMonth(ctx, r.Key, r.Days[i:j], m.day, &held); err != nil {
				return d.errorf("import", r.Key, err)
			}
			i = j
		}
		names := map[string]string{"#c": d.opts.CountAttribute, "#vis": dynVisitors, "#bad": badCountAttribute, "#day": dynDay}
		values := map[string]types.AttributeValue{":c": numberValue(r.Count), ":v": numberValue(r.Visitors)}
		update := "SET #c = :c, #vis = :v"
		if held != nil {
			names["#dc"], names["#dv"] = dynDayCount, dynDayVis
			values[":dc"], values[":dv"] = numberValue(held.Count), numberValue(held.Visitors)
			update += ", #dc = :dc, #dv = :dv"
		}
		if len(r.Days) > 0 {
			firstDay, lastDay := r.Days[0].Date, r.Days[len(r.Days)-1].Date
			if m.first == "" || firstDay < m.first {
				names["#first"] = dynFirst
				values[":first"] = &types.AttributeValueMemberS{Value: string(firstDay)}
				update += ", #first = :first"
			}
			if lastDay > max(m.last, m.day) {
				names["#last"] = dynLast
				values[":last"] = &types.AttributeValueMemberS{Value: string(lastDay)}
				update += ", #last = :last"
			}
		}
		cond := "attribute_not_exists(#day)"
		if m.day != "" {
			cond = "#day = :day"
			values[":day"] = &types.AttributeValueMemberS{Value: string(m.day)}
		}
		_, err = d.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                 &d.opts.Table,
			Key:                       d.itemKey(r.Key),
			UpdateExpression:          aws.String(update + " REMOVE #bad"),
			ConditionExpression:       aws.String(cond),
			ExpressionAttributeNames:  names,
			ExpressionAttributeValues: values,
		})
		var ccf *types.ConditionalCheckFailedException
		if errors.As(err, &ccf) && attempt < visitAttempts {
			continue // the day rolled over meanwhile
		}
		if err != nil {
			return d.errorf("import", r.Key, err)
		}
		return nil
	}
}

// importMonth sets days, all in one month, on their month item. A day
// equal to held, the day the main item holds, it also returns in *heldOut
// for the main item: it is written to both, so that no older value stays in
// the month item for the next day's first visit to move back over it.
func (d *Dynamo) importMonth(ctx context.Context, key string, days []Day, held Date, heldOut **Day) error {
	names := map[string]string{}
	values := map[string]types.AttributeValue{}
	var sets []string
	for i := range days {
		day := days[i]
		if day.Date == held {
			*heldOut = &days[i]
		}
		c, v := dayAttrs(day.Date)
		names["#"+c], names["#"+v] = c, v
		values[":"+c], values[":"+v] = numberValue(day.Count), numberValue(day.Visitors)
		sets = append(sets, "#"+c+" = :"+c, "#"+v+" = :"+v)
	}
	if len(sets) == 0 {
		return nil
	}
	_, err := d.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 &d.opts.Table,
		Key:                       d.itemKey(monthItem(key, days[0].Date)),
		UpdateExpression:          aws.String("SET " + strings.Join(sets, ", ")),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
	})
	return err
}

// dynamoScanner is the call Keys needs beside [DynamoAPI];
// *dynamodb.Client has it.
type dynamoScanner interface {
	Scan(ctx context.Context, in *dynamodb.ScanInput, optFns ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
}

// Keys lists the keys in the table, sorted; see [KeyLister]. It is the
// only method that scans the table (every page of it, reading only the
// partition key): it is for the owner's counter command, whose credentials
// may Scan, never for the public function, whose role needs no Scan. The
// client must have a Scan method, as *dynamodb.Client has.
func (d *Dynamo) Keys(ctx context.Context) ([]string, error) {
	sc, ok := d.client.(dynamoScanner)
	if !ok {
		return nil, fmt.Errorf("counter: keys in table %q: the DynamoDB client has no Scan method", d.opts.Table)
	}
	var keys []string
	var start map[string]types.AttributeValue
	for {
		out, err := sc.Scan(ctx, &dynamodb.ScanInput{
			TableName:                 &d.opts.Table,
			ProjectionExpression:      aws.String("#k"),
			FilterExpression:          aws.String("NOT contains(#k, :hash)"),
			ExpressionAttributeNames:  map[string]string{"#k": d.opts.PartitionKey},
			ExpressionAttributeValues: map[string]types.AttributeValue{":hash": &types.AttributeValueMemberS{Value: "#"}},
			ExclusiveStartKey:         start,
		})
		if err != nil {
			return nil, fmt.Errorf("counter: keys in table %q: %w", d.opts.Table, err)
		}
		for _, item := range out.Items {
			if id, ok := item[d.opts.PartitionKey].(*types.AttributeValueMemberS); ok && CheckKey(id.Value) == nil {
				keys = append(keys, id.Value)
			}
		}
		if len(out.LastEvaluatedKey) == 0 {
			break
		}
		start = out.LastEvaluatedKey
	}
	slices.Sort(keys)
	return keys, nil
}
