package counter

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"

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
}

// Dynamo is a store in an Amazon DynamoDB table. Each increment is one
// UpdateItem evaluated by DynamoDB, so counts are exact however many
// processes share the table.
type Dynamo struct {
	client DynamoAPI
	opts   DynamoOptions

	names      map[string]string               // #k, #c
	incValues  map[string]types.AttributeValue // :n = 1, :start, :type
	retryOptFn []func(*dynamodb.Options)
	projection *string
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
	// that exists is never replaced by Start.
	updateExpression = "SET #c = if_not_exists(#c, :start) + :n"
	// The condition protects a count that is not a number (say a string
	// typed by hand in the console) from being replaced or mixed with: the
	// update fails with ErrNotANumber instead.
	conditionExpression = "attribute_not_exists(#c) OR attribute_type(#c, :type)"
)

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
	d := &Dynamo{
		client: client,
		opts:   opts,
		names:  map[string]string{"#c": opts.CountAttribute},
		incValues: map[string]types.AttributeValue{
			":n":     &types.AttributeValueMemberN{Value: "1"},
			":start": &types.AttributeValueMemberN{Value: strconv.FormatInt(opts.Start, 10)},
			":type":  &types.AttributeValueMemberS{Value: "N"},
		},
		projection: aws.String("#c"),
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
// new count. The item is created on first use.
func (d *Dynamo) Increment(ctx context.Context, key string) (int64, error) {
	return d.update(ctx, "increment", key, d.incValues)
}

// Add adds n visits to key with one UpdateItem call and returns the new count.
func (d *Dynamo) Add(ctx context.Context, key string, n int64) (int64, error) {
	if n == 1 {
		return d.update(ctx, "add", key, d.incValues)
	}
	if n < 1 {
		if err := CheckKey(key); err != nil {
			return 0, err
		}
		return 0, fmt.Errorf("counter: add %d to %q: %w", n, key, errInvalidN)
	}
	values := map[string]types.AttributeValue{
		":n":     &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)},
		":start": d.incValues[":start"],
		":type":  d.incValues[":type"],
	}
	return d.update(ctx, "add", key, values)
}

func (d *Dynamo) update(ctx context.Context, op, key string, values map[string]types.AttributeValue) (int64, error) {
	if err := CheckKey(key); err != nil {
		return 0, err
	}
	if err := ctx.Err(); err != nil {
		return 0, d.errorf(op, key, err)
	}
	out, err := d.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 &d.opts.Table,
		Key:                       map[string]types.AttributeValue{d.opts.PartitionKey: &types.AttributeValueMemberS{Value: key}},
		UpdateExpression:          aws.String(updateExpression),
		ConditionExpression:       aws.String(conditionExpression),
		ExpressionAttributeNames:  d.names,
		ExpressionAttributeValues: values,
		ReturnValues:              types.ReturnValueUpdatedNew,
	}, d.retryOptFn...)
	if err != nil {
		var ccf *types.ConditionalCheckFailedException
		if errors.As(err, &ccf) {
			return 0, fmt.Errorf("counter: %s %q in table %q: attribute %q: %w (%w)", op, key, d.opts.Table, d.opts.CountAttribute, ErrNotANumber, err)
		}
		return 0, d.errorf(op, key, err)
	}
	n, err := d.number(out.Attributes)
	if err != nil {
		return 0, d.errorf(op, key, err)
	}
	if n == nil {
		return 0, d.errorf(op, key, errors.New("response has no count"))
	}
	return *n, nil
}

// Count reads key's count with one GetItem call.
func (d *Dynamo) Count(ctx context.Context, key string) (int64, error) {
	if err := CheckKey(key); err != nil {
		return 0, err
	}
	if err := ctx.Err(); err != nil {
		return 0, d.errorf("count", key, err)
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

// number returns the count attribute of item, nil when it is absent.
func (d *Dynamo) number(item map[string]types.AttributeValue) (*int64, error) {
	av, ok := item[d.opts.CountAttribute]
	if !ok {
		return nil, nil
	}
	num, ok := av.(*types.AttributeValueMemberN)
	if !ok {
		return nil, fmt.Errorf("attribute %q: %w", d.opts.CountAttribute, ErrNotANumber)
	}
	n, err := strconv.ParseInt(num.Value, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("attribute %q = %q: %w", d.opts.CountAttribute, num.Value, ErrNotANumber)
	}
	return &n, nil
}

func (d *Dynamo) errorf(op, key string, err error) error {
	return fmt.Errorf("counter: %s %q in table %q: %w", op, key, d.opts.Table, err)
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
