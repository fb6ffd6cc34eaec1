package counter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// ErrTTLOff is wrapped by [Dynamo.CheckTTL]'s error when the table's Time
// to Live is not enabled on the attribute "ttl": DynamoDB then keeps every
// visitor marker, visit id and daily salt forever, and ids could be linked
// back to a day's salt by whoever reads the table, which breaks the privacy
// guarantee of docs/visitors.md.
var ErrTTLOff = errors.New("counter: DynamoDB Time to Live is not enabled on attribute \"ttl\"")

// ttlCheckCommand is how an owner checks TTL by hand.
func ttlCheckCommand(table string) string {
	return "aws dynamodb describe-time-to-live --table-name " + table + " (want TimeToLiveStatus ENABLED, AttributeName ttl)"
}

// ttlOnCommand is how an owner turns TTL on.
func ttlOnCommand(table string) string {
	return "aws dynamodb update-time-to-live --table-name " + table + " --time-to-live-specification Enabled=true,AttributeName=ttl"
}

// ttlDescriber is the call CheckTTL needs beside [DynamoAPI];
// *dynamodb.Client has it.
type ttlDescriber interface {
	DescribeTimeToLive(ctx context.Context, in *dynamodb.DescribeTimeToLiveInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DescribeTimeToLiveOutput, error)
}

// CheckTTL asks DynamoDB (one DescribeTimeToLive call) whether the table
// deletes expired items by the attribute "ttl", as unique visitors need
// (see [ErrTTLOff]). It returns nil when TTL is enabled, or being enabled,
// on "ttl"; an error wrapping ErrTTLOff when it is off, being turned off, or
// on another attribute; otherwise the call's error, for example
// AccessDenied when the role may not call dynamodb:DescribeTimeToLive (the
// check is optional: counting never needs it). The client must have a
// DescribeTimeToLive method, as *dynamodb.Client has.
func (d *Dynamo) CheckTTL(ctx context.Context) error {
	c, ok := d.client.(ttlDescriber)
	if !ok {
		return fmt.Errorf("counter: TTL of table %q: the DynamoDB client has no DescribeTimeToLive method", d.opts.Table)
	}
	out, err := c.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: &d.opts.Table})
	if err != nil {
		return fmt.Errorf("counter: TTL of table %q: %w", d.opts.Table, err)
	}
	desc := out.TimeToLiveDescription
	if desc == nil {
		desc = &types.TimeToLiveDescription{TimeToLiveStatus: types.TimeToLiveStatusDisabled}
	}
	attr := ""
	if desc.AttributeName != nil {
		attr = *desc.AttributeName
	}
	switch st := desc.TimeToLiveStatus; {
	case (st == types.TimeToLiveStatusEnabled || st == types.TimeToLiveStatusEnabling) && attr == dynTTL:
		return nil
	case st == types.TimeToLiveStatusEnabled || st == types.TimeToLiveStatusEnabling:
		return fmt.Errorf("counter: table %q: TTL is on attribute %q, not %q: %w", d.opts.Table, attr, dynTTL, ErrTTLOff)
	default:
		return fmt.Errorf("counter: table %q: TTL status %s: %w", d.opts.Table, st, ErrTTLOff)
	}
}

// LogTTL runs [Dynamo.CheckTTL] and logs its outcome to log, once: nothing
// when TTL is on; a warning with the command that turns it on when it is
// off; when the check itself fails (say the role may not call
// dynamodb:DescribeTimeToLive), a warning with the command that checks it
// by hand. It returns CheckTTL's error. Programs call it once at start, as
// counter serve and examples/lambda do.
func (d *Dynamo) LogTTL(ctx context.Context, log *slog.Logger) error {
	err := d.CheckTTL(ctx)
	switch {
	case err == nil:
	case errors.Is(err, ErrTTLOff):
		log.Warn("DynamoDB TTL is off: visitor markers, visit ids and daily salts are never deleted, "+
			"which breaks the privacy guarantee (a day's ids stay linkable while its salt exists); turn it on",
			"table", d.opts.Table, "err", err, "command", ttlOnCommand(d.opts.Table))
	default:
		log.Warn("could not check DynamoDB TTL (the role may lack dynamodb:DescribeTimeToLive, which only this check needs); "+
			"check by hand that TTL is on attribute ttl, or visitor markers and salts are never deleted",
			"table", d.opts.Table, "err", err, "command", ttlCheckCommand(d.opts.Table))
	}
	return err
}
