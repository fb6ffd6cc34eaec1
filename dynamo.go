package counter

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"math/big"
	"math/rand/v2"
	"net"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
)

// DynamoAPI lists the DynamoDB calls [Dynamo] makes. *dynamodb.Client
// satisfies it; tests may pass a fake.
type DynamoAPI interface {
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
}

// Default names of the DynamoDB schema that Cloud Resume Challenge sites use:
// table cloud-resume-stats, items keyed by the string attribute id, the count
// in the number attribute count (for example the item id "visitors").
const (
	DefaultTable          = "cloud-resume-stats"
	DefaultPartitionKey   = "id"
	DefaultCountAttribute = "count"
)

// ErrNotANumber is wrapped by the error for an item whose count attribute
// exists but is not a DynamoDB number. Such an item is never overwritten.
var ErrNotANumber = errors.New("counter: stored count is not a number")

// RetryPolicy says which failed increments the DynamoDB client may retry.
//
// A failure can be ambiguous: after a timeout, a reset connection or a 5xx
// answer, DynamoDB may have applied the update, and retrying it counts the
// visit twice. Requests that DynamoDB rejected (throttling) or that never left
// the machine (a refused connection, a failed DNS lookup) are safe to retry.
type RetryPolicy int

const (
	// RetrySDK keeps the client's own retryer: by default up to 4 attempts,
	// also after ambiguous failures. A visit is never lost to a fault that
	// passes within the attempts, but each attempt that DynamoDB applied and
	// whose answer was lost counts it again: up to 4 times in all.
	RetrySDK RetryPolicy = iota
	// RetryUnsent retries only failures where the update surely was not
	// applied: throttling and connections that were never made. A visit is
	// counted at most once; after an ambiguous failure the caller gets the
	// error and the visit was counted once or not at all.
	RetryUnsent
	// RetryNever makes one attempt per increment. A visit is counted at
	// most once; the caller gets the error of any failure.
	RetryNever
)

// DynamoOptions configures [Dynamo]. The zero value fits the Cloud Resume
// Challenge schema.
type DynamoOptions struct {
	// Table is the table name. Default: "cloud-resume-stats".
	Table string
	// PartitionKey is the name of the table's string partition key.
	// Default: "id".
	PartitionKey string
	// CountAttribute is the number attribute that holds the count.
	// Default: "count".
	CountAttribute string
	// Start is the count before the first visit, for carrying over a count
	// from another counter. It is written only when the item (or its count
	// attribute) does not exist yet, never over an existing count; a key
	// never counted reads as Start. Default: 0.
	Start int64
	// ConsistentRead makes Count use strongly consistent reads (twice the
	// read cost). Default: false, eventually consistent.
	ConsistentRead bool
	// Retry says which failed increments are retried. Reads always use the
	// client's retryer. Default: RetrySDK.
	Retry RetryPolicy
	// Shards spreads each key over this many items, for a key written
	// faster than one item allows, say by many Lambda instances at once.
	// Default: 1, one item per key, named by the key.
	//
	// Shard 0 is the item named by the key itself, so a count kept unsharded
	// continues; shard i > 0 is the item "key#i" ('#' never appears in a
	// key, see [CheckKey]). Start seeds shard 0 only. Each write goes to a
	// shard picked at random, and Count sums all shards with one
	// BatchGetItem, so Shards is at most 100 (larger values mean 100).
	//
	// DynamoDB takes about 1,000 writes/s on one item, so N shards take up
	// to about N × 1,000 writes/s per key, once DynamoDB has spread the
	// items over partitions. Reading costs N items, each rounded up to 4 KB:
	// N × 0.5 read units eventually consistent, N × 1 with ConsistentRead.
	//
	// With Shards > 1, Increment and Add are not exact ordinals: each makes
	// one UpdateItem on its shard and then one BatchGetItem of all shards,
	// and returns their sum, taking for its own shard the value its write
	// returned if the read is older. The result always includes the visit
	// and, with ConsistentRead, every visit acknowledged before the call;
	// concurrent callers may get the same number. That read makes every
	// visit read every shard, which caps a key at about 6,000 visits/s
	// (3,000 with ConsistentRead: 3,000 read units/s per item) whatever N
	// is; put a [Group] in front so that one read serves a whole batch. If
	// the read fails after the write succeeded, the visit is counted and
	// the error says so: do not retry it.
	Shards int
	// Now is the store's clock: it tells the time of a [Visit] whose Time
	// is zero. Default: time.Now.
	Now func() time.Time
}

// Dynamo is a store in an Amazon DynamoDB table. Each increment is one
// UpdateItem evaluated by DynamoDB, so counts are exact however many
// processes share the table.
type Dynamo struct {
	client DynamoAPI
	opts   DynamoOptions

	names      map[string]string               // #c
	incNames   map[string]string               // #c, #bad
	incValues  map[string]types.AttributeValue // :n = 1, :start, :type
	retryOptFn []func(*dynamodb.Options)
	projection *string

	shardValues map[string]types.AttributeValue // :n = 1, :start = 0, :type; for shards > 0
	batchNames  map[string]string               // #k, #c
}

var (
	_ Incrementer = (*Dynamo)(nil)
	_ Reader      = (*Dynamo)(nil)
	_ Adder       = (*Dynamo)(nil)
)

// Update and condition expressions, shared by every increment.
const (
	// if_not_exists seeds a missing count with Start in the same atomic
	// update that adds n, so the first visit creates the item and a count
	// that exists is never replaced by Start. REMOVE drops the mark of a
	// count once found not whole (see badCountAttribute) that the owner
	// has since fixed.
	updateExpression = "SET #c = if_not_exists(#c, :start) + :n REMOVE #bad"
	// The condition protects a count that is not a number (say a string
	// typed by hand in the console) from being replaced or mixed with, a
	// count that adding n would take past the largest int64 (:lim is
	// MaxInt64 - n), and a count marked as not whole: the update fails and
	// nothing is written.
	conditionExpression = "(attribute_not_exists(#c) OR (attribute_type(#c, :type) AND #c <= :lim)) AND " + notMarkedBad
	notMarkedBad        = "(attribute_not_exists(#bad) OR #c <> #bad)"
)

// badCountAttribute marks a count found not to be a whole number. DynamoDB
// conditions can compare numbers but cannot tell a whole number from 41.5,
// so the first update that returns a count that is not whole undoes itself
// and copies the count here; from then on every update's condition
// (#c <> #bad) refuses before writing, until the owner sets a whole count.
const badCountAttribute = "countNotWhole"

// NewDynamo returns a store that keeps counts in a DynamoDB table through
// client, usually a *dynamodb.Client. The table must exist with a string
// partition key named opts.PartitionKey.
func NewDynamo(client DynamoAPI, opts DynamoOptions) *Dynamo {
	if opts.Table == "" {
		opts.Table = DefaultTable
	}
	if opts.PartitionKey == "" {
		opts.PartitionKey = DefaultPartitionKey
	}
	if opts.CountAttribute == "" {
		opts.CountAttribute = DefaultCountAttribute
	}
	opts.Shards = min(max(opts.Shards, 1), maxShards)
	if opts.Now == nil {
		opts.Now = time.Now
	}
	d := &Dynamo{
		client:   client,
		opts:     opts,
		names:    map[string]string{"#c": opts.CountAttribute},
		incNames: map[string]string{"#c": opts.CountAttribute, "#bad": badCountAttribute},
		incValues: map[string]types.AttributeValue{
			":n":     &types.AttributeValueMemberN{Value: "1"},
			":start": &types.AttributeValueMemberN{Value: strconv.FormatInt(opts.Start, 10)},
			":type":  &types.AttributeValueMemberS{Value: "N"},
			":lim":   numberValue(math.MaxInt64 - 1),
		},
		projection: aws.String("#c"),
	}
	if opts.Shards > 1 {
		d.shardValues = map[string]types.AttributeValue{
			":n":     d.incValues[":n"],
			":start": &types.AttributeValueMemberN{Value: "0"},
			":type":  d.incValues[":type"],
			":lim":   d.incValues[":lim"],
		}
		d.batchNames = map[string]string{"#k": opts.PartitionKey, "#c": opts.CountAttribute}
	}
	switch opts.Retry {
	case RetryUnsent:
		d.retryOptFn = []func(*dynamodb.Options){func(o *dynamodb.Options) {
			o.Retryer = unsentRetryer{o.Retryer}
		}}
	case RetryNever:
		d.retryOptFn = []func(*dynamodb.Options){func(o *dynamodb.Options) {
			o.Retryer = retry.AddWithMaxAttempts(o.Retryer, 1)
		}}
	}
	return d
}

// Options returns the options in effect, defaults filled in.
func (d *Dynamo) Options() DynamoOptions { return d.opts }

// Increment adds one visit to key with one UpdateItem call and returns the
// new count. The item is created on first use. With Shards > 1 it also
// reads the total with one BatchGetItem; see [DynamoOptions.Shards].
func (d *Dynamo) Increment(ctx context.Context, key string) (int64, error) {
	return d.add(ctx, "increment", key, 1)
}

// Add adds n visits to key with one UpdateItem call and returns the new count.
// With Shards > 1 it also reads the total with one BatchGetItem; see
// [DynamoOptions.Shards].
func (d *Dynamo) Add(ctx context.Context, key string, n int64) (int64, error) {
	return d.add(ctx, "add", key, n)
}

func (d *Dynamo) add(ctx context.Context, op, key string, n int64) (int64, error) {
	if err := CheckKey(key); err != nil {
		return 0, err
	}
	if n < 1 {
		return 0, fmt.Errorf("counter: add %d to %q: %w", n, key, errInvalidN)
	}
	if err := ctx.Err(); err != nil {
		return 0, d.errorf(op, key, err)
	}
	shard := 0
	if d.opts.Shards > 1 {
		shard = rand.IntN(d.opts.Shards) //nolint:gosec // spreading writes over shards needs no secrecy
	}
	values := d.incValues
	if shard > 0 {
		values = d.shardValues
	}
	if n > 1 {
		values = map[string]types.AttributeValue{
			":n":     &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)},
			":start": values[":start"],
			":type":  values[":type"],
			":lim":   numberValue(math.MaxInt64 - n),
		}
	}
	if start := d.opts.Start; shard == 0 && start > math.MaxInt64-n {
		return 0, d.errorf(op, key, fmt.Errorf("the Start option %d + %d: %w", start, n, ErrOverflow))
	}
	item := shardKey(key, shard)
	written, err := d.update(ctx, op, key, item, n, values)
	if err != nil || d.opts.Shards == 1 {
		return written, err
	}
	total, err := d.sum(ctx, key, shard, written)
	if err != nil {
		return 0, d.errorf(op, key, fmt.Errorf("the visit was counted in item %q but reading the total failed: %w", item, err))
	}
	return total, nil
}

// update adds n (values[":n"]) to the count in item, the item of key's
// shard, and returns the item's new count.
func (d *Dynamo) update(ctx context.Context, op, key, item string, n int64, values map[string]types.AttributeValue) (int64, error) {
	for attempt := 1; ; attempt++ {
		out, err := d.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                 &d.opts.Table,
			Key:                       d.itemKey(item),
			UpdateExpression:          aws.String(updateExpression),
			ConditionExpression:       aws.String(conditionExpression),
			ExpressionAttributeNames:  d.incNames,
			ExpressionAttributeValues: values,
			ReturnValues:              types.ReturnValueUpdatedNew,
		}, d.retryOptFn...)
		var ccf *types.ConditionalCheckFailedException
		if errors.As(err, &ccf) {
			// Nothing was written: find out why, to say what to fix.
			why := d.whyRefused(ctx, item, n)
			if why == nil && attempt < 3 {
				continue // the count changed between the write and the read
			}
			if why == nil {
				why = ErrNotANumber
			}
			return 0, fmt.Errorf("counter: %s %q in table %q: %w (%w)", op, key, d.opts.Table, why, err)
		}
		if err != nil {
			return 0, d.errorf(op, key, err)
		}
		c, err := d.number(out.Attributes)
		if errors.Is(err, ErrNotANumber) {
			// The count was a number but not whole (typed by hand as
			// 41.5): no condition can rule that out before writing, so
			// undo this write at once and mark the count, which makes the
			// condition refuse every later update before it writes.
			if uerr := d.undoNotWhole(ctx, item, n, nil); uerr != nil {
				err = fmt.Errorf("%w; undoing the write failed, the count may be %d too high: %w", err, n, uerr)
			}
			return 0, d.errorf(op, key, err)
		}
		if err != nil {
			return 0, d.errorf(op, key, err)
		}
		if c == nil {
			return 0, d.errorf(op, key, errors.New("response has no count"))
		}
		return *c, nil
	}
}

// whyRefused reads item after a refused update that was to add n, and
// returns what is wrong with its count: an error wrapping ErrNotANumber or
// ErrOverflow and naming the value, or nil if nothing is wrong now.
func (d *Dynamo) whyRefused(ctx context.Context, item string, n int64) error {
	out, err := d.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:                &d.opts.Table,
		Key:                      d.itemKey(item),
		ProjectionExpression:     aws.String("#c"),
		ExpressionAttributeNames: map[string]string{"#c": d.opts.CountAttribute},
		ConsistentRead:           aws.Bool(true),
	})
	if err != nil {
		return fmt.Errorf("%w (reading the item to see why failed: %w)", ErrNotANumber, err)
	}
	c, err := d.number(out.Item)
	if err != nil {
		return err
	}
	if c != nil && *c > math.MaxInt64-n {
		return overflowAt(d.opts.CountAttribute, *c)
	}
	return nil
}

// undoNotWhole takes n back from item's count after an update made it a
// number that is not whole, and marks the count (badCountAttribute) so
// that later updates refuse before writing. Each attempt reads the count and
// writes only if it is still the same value that is not whole, so an owner
// who fixes the count meanwhile is never overwritten. extra lists further
// "SET" parts (attribute = attribute - value) to undo with it, with their
// names and values.
func (d *Dynamo) undoNotWhole(ctx context.Context, item string, n int64, extra *undoParts) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	for range 10 {
		out, err := d.client.GetItem(ctx, &dynamodb.GetItemInput{
			TableName:      &d.opts.Table,
			Key:            d.itemKey(item),
			ConsistentRead: aws.Bool(true),
		})
		if err != nil {
			return err
		}
		cur, ok := out.Item[d.opts.CountAttribute].(*types.AttributeValueMemberN)
		if !ok || isWhole(cur.Value) {
			return nil // fixed (or removed) by the owner meanwhile: leave it
		}
		names := map[string]string{"#c": d.opts.CountAttribute, "#bad": badCountAttribute}
		values := map[string]types.AttributeValue{":n": numberValue(n), ":cur": cur}
		update := "SET #c = #c - :n, #bad = #c - :n"
		cond := "#c = :cur"
		if extra != nil && extra.applies(out.Item) {
			update += extra.update
			cond += extra.cond
			maps.Copy(names, extra.names)
			maps.Copy(values, extra.values)
		}
		_, err = d.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                 &d.opts.Table,
			Key:                       d.itemKey(item),
			UpdateExpression:          aws.String(update),
			ConditionExpression:       aws.String(cond),
			ExpressionAttributeNames:  names,
			ExpressionAttributeValues: values,
		})
		var ccf *types.ConditionalCheckFailedException
		if errors.As(err, &ccf) {
			continue // the count moved: read it again
		}
		return err
	}
	return errors.New("the count kept changing")
}

// undoParts is what undoNotWhole also takes back after a visit's update.
type undoParts struct {
	update, cond string
	names        map[string]string
	values       map[string]types.AttributeValue
	applies      func(item map[string]types.AttributeValue) bool
}

// cleanupTimeout bounds the writes that undo part of a failed visit; they
// run even when the caller's context has ended.
const cleanupTimeout = 5 * time.Second

// isWhole reports whether the DynamoDB number s is a whole number.
func isWhole(s string) bool {
	r, ok := new(big.Rat).SetString(s)
	return ok && r.IsInt()
}

func numberValue(n int64) *types.AttributeValueMemberN {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}

func (d *Dynamo) itemKey(id string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{d.opts.PartitionKey: &types.AttributeValueMemberS{Value: id}}
}

// Count reads key's count with one GetItem call, or with Shards > 1 one
// BatchGetItem of all shards.
func (d *Dynamo) Count(ctx context.Context, key string) (int64, error) {
	if err := CheckKey(key); err != nil {
		return 0, err
	}
	if err := ctx.Err(); err != nil {
		return 0, d.errorf("count", key, err)
	}
	if d.opts.Shards > 1 {
		n, err := d.sum(ctx, key, -1, 0)
		if err != nil {
			return 0, d.errorf("count", key, err)
		}
		return n, nil
	}
	out, err := d.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:                &d.opts.Table,
		Key:                      map[string]types.AttributeValue{d.opts.PartitionKey: &types.AttributeValueMemberS{Value: key}},
		ProjectionExpression:     d.projection,
		ExpressionAttributeNames: d.names,
		ConsistentRead:           aws.Bool(d.opts.ConsistentRead),
	})
	if err != nil {
		return 0, d.errorf("count", key, err)
	}
	n, err := d.number(out.Item)
	if err != nil {
		return 0, d.errorf("count", key, err)
	}
	if n == nil {
		return d.opts.Start, nil
	}
	return *n, nil
}

// maxShards is the most items one BatchGetItem reads.
const maxShards = 100

// BatchGetItem retries for unprocessed keys: at most this many calls, waiting
// batchBackoff, doubled after each, up to a second.
const (
	batchAttempts = 8
	batchBackoff  = 20 * time.Millisecond
)

// shardKey names the item of key's shard i.
func shardKey(key string, i int) string {
	if i == 0 {
		return key
	}
	return key + "#" + strconv.Itoa(i)
}

// sum reads all shards of key with BatchGetItem, retrying unprocessed keys,
// and returns their total. A missing shard counts as Start for shard 0 and 0
// for the others. If shard >= 0, written is what an update of that shard
// returned, and the total uses it where the read is older.
func (d *Dynamo) sum(ctx context.Context, key string, shard int, written int64) (int64, error) {
	ids := make([]string, d.opts.Shards)
	keys := make([]map[string]types.AttributeValue, d.opts.Shards)
	for i := range ids {
		ids[i] = shardKey(key, i)
		keys[i] = map[string]types.AttributeValue{d.opts.PartitionKey: &types.AttributeValueMemberS{Value: ids[i]}}
	}
	counts := make([]*int64, d.opts.Shards)
	wait := batchBackoff
	for attempt := 1; ; attempt++ {
		out, err := d.client.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{
			RequestItems: map[string]types.KeysAndAttributes{d.opts.Table: {
				Keys:                     keys,
				ProjectionExpression:     aws.String("#k, #c"),
				ExpressionAttributeNames: d.batchNames,
				ConsistentRead:           aws.Bool(d.opts.ConsistentRead),
			}},
		})
		if err != nil {
			return 0, err
		}
		for _, item := range out.Responses[d.opts.Table] {
			id, _ := item[d.opts.PartitionKey].(*types.AttributeValueMemberS)
			i := -1
			for j := range ids {
				if id != nil && id.Value == ids[j] {
					i = j
					break
				}
			}
			if i < 0 {
				return 0, fmt.Errorf("BatchGetItem returned an item that was not asked for: %v", item[d.opts.PartitionKey])
			}
			n, err := d.number(item)
			if err != nil {
				return 0, fmt.Errorf("item %q: %w", ids[i], err)
			}
			counts[i] = n
		}
		keys = out.UnprocessedKeys[d.opts.Table].Keys
		if len(keys) == 0 {
			break
		}
		if attempt == batchAttempts {
			return 0, fmt.Errorf("%d of %d shards still unread after %d BatchGetItem calls", len(keys), d.opts.Shards, attempt)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return 0, ctx.Err()
		case <-t.C:
		}
		wait = min(2*wait, time.Second)
	}
	var total int64
	for i, n := range counts {
		switch {
		case i == shard && (n == nil || *n < written):
			total += written
		case n != nil:
			total += *n
		case i == 0:
			total += d.opts.Start
		}
	}
	return total, nil
}

// number returns the count attribute of item, nil when it is absent.
func (d *Dynamo) number(item map[string]types.AttributeValue) (*int64, error) {
	av, ok := item[d.opts.CountAttribute]
	if !ok {
		return nil, nil
	}
	nv, ok := av.(*types.AttributeValueMemberN)
	if !ok {
		return nil, fmt.Errorf("attribute %q: %w", d.opts.CountAttribute, ErrNotANumber)
	}
	n, err := parseCount(d.opts.CountAttribute, nv.Value)
	if err != nil {
		return nil, err
	}
	return &n, nil
}

func (d *Dynamo) errorf(op, key string, err error) error {
	return fmt.Errorf("counter: %s %q in table %q: %w", op, key, d.opts.Table, err)
}

// parseCount parses the DynamoDB number s of attribute attr as an int64.
// A number that is not whole wraps ErrNotANumber, a whole number out of
// int64's range ErrOverflow; both errors say what to fix.
func parseCount(attr, s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err == nil {
		return n, nil
	}
	r, ok := new(big.Rat).SetString(s)
	switch {
	case ok && r.IsInt():
		return 0, fmt.Errorf("attribute %q = %s is outside int64; set it to a whole number from 0 to %d (for example with `counter set`): %w",
			attr, s, int64(math.MaxInt64), ErrOverflow)
	case ok:
		return 0, fmt.Errorf("attribute %q = %s is not a whole number; set it to one (for example with `counter set`): %w", attr, s, ErrNotANumber)
	}
	return 0, fmt.Errorf("attribute %q = %q: %w", attr, s, ErrNotANumber)
}

// unsentRetryer keeps the client's retryer but lets it retry only failures
// after which the update surely was not applied.
type unsentRetryer struct{ aws.Retryer }

func (r unsentRetryer) IsErrorRetryable(err error) bool {
	return r.Retryer.IsErrorRetryable(err) && surelyNotApplied(err)
}

// surelyNotApplied reports whether err proves that DynamoDB did not apply a
// write: it rejected it as throttled, or the request never left the machine.
func surelyNotApplied(err error) bool {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		_, throttled := retry.DefaultThrottleErrorCodes[apiErr.ErrorCode()]
		return throttled
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return true
	}
	var opErr *net.OpError
	return errors.As(err, &opErr) && opErr.Op == "dial"
}
