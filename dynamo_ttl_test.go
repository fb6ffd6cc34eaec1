package counter_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/resumecounter/counter"
)

// TestDynamoCheckTTLOff: dynalite's tables have TTL off (it cannot turn it
// on), as a table made by hand has: CheckTTL says so and LogTTL warns once
// with the command that turns it on.
func TestDynamoCheckTTLOff(t *testing.T) {
	d, _ := newDynamo(t, counter.DynamoOptions{})
	if err := d.CheckTTL(context.Background()); !errors.Is(err, counter.ErrTTLOff) {
		t.Fatalf("CheckTTL = %v, want ErrTTLOff", err)
	}
	var buf bytes.Buffer
	if err := d.LogTTL(context.Background(), slog.New(slog.NewTextHandler(&buf, nil))); !errors.Is(err, counter.ErrTTLOff) {
		t.Fatalf("LogTTL = %v, want ErrTTLOff", err)
	}
	log := buf.String()
	if strings.Count(log, "\n") != 1 || !strings.Contains(log, "level=WARN") || !strings.Contains(log, "privacy") ||
		!strings.Contains(log, "update-time-to-live --table-name "+d.Options().Table) {
		t.Fatalf("log = %q; want one warning naming privacy and the command that turns TTL on", log)
	}
}

// ttlClient answers DescribeTimeToLive with desc, or err.
type ttlClient struct {
	counter.DynamoAPI
	desc *types.TimeToLiveDescription
	err  error
}

func (c ttlClient) DescribeTimeToLive(context.Context, *dynamodb.DescribeTimeToLiveInput, ...func(*dynamodb.Options)) (*dynamodb.DescribeTimeToLiveOutput, error) {
	if c.err != nil {
		return nil, c.err
	}
	return &dynamodb.DescribeTimeToLiveOutput{TimeToLiveDescription: c.desc}, nil
}

// TestDynamoCheckTTLStates: what CheckTTL and LogTTL make of each answer
// (DynamoDB's answers that dynalite cannot give).
func TestDynamoCheckTTLStates(t *testing.T) {
	denied := &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "not authorized to perform: dynamodb:DescribeTimeToLive"}
	for _, tc := range []struct {
		name   string
		client counter.DynamoAPI
		off    bool   // CheckTTL wraps ErrTTLOff
		ok     bool   // CheckTTL returns nil
		logHas string // "" means no log line
		errHas string
	}{
		{"enabled", ttlClient{desc: &types.TimeToLiveDescription{TimeToLiveStatus: types.TimeToLiveStatusEnabled, AttributeName: aws.String("ttl")}}, false, true, "", ""},
		{"enabling", ttlClient{desc: &types.TimeToLiveDescription{TimeToLiveStatus: types.TimeToLiveStatusEnabling, AttributeName: aws.String("ttl")}}, false, true, "", ""},
		{"other attribute", ttlClient{desc: &types.TimeToLiveDescription{TimeToLiveStatus: types.TimeToLiveStatusEnabled, AttributeName: aws.String("expires")}}, true, false, "update-time-to-live", `"expires"`},
		{"disabling", ttlClient{desc: &types.TimeToLiveDescription{TimeToLiveStatus: types.TimeToLiveStatusDisabling}}, true, false, "update-time-to-live", "DISABLING"},
		{"no description", ttlClient{}, true, false, "update-time-to-live", "DISABLED"},
		{"access denied", ttlClient{err: denied}, false, false, "describe-time-to-live --table-name t", "AccessDenied"},
		{"client without the call", struct{ counter.DynamoAPI }{}, false, false, "describe-time-to-live --table-name t", "no DescribeTimeToLive"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := counter.NewDynamo(tc.client, counter.DynamoOptions{Table: "t"})
			var buf bytes.Buffer
			err := d.LogTTL(context.Background(), slog.New(slog.NewTextHandler(&buf, nil)))
			if (err == nil) != tc.ok || errors.Is(err, counter.ErrTTLOff) != tc.off || tc.errHas != "" && !strings.Contains(err.Error(), tc.errHas) {
				t.Fatalf("error = %v; want ok %v, ErrTTLOff %v, containing %q", err, tc.ok, tc.off, tc.errHas)
			}
			log := buf.String()
			if tc.logHas == "" && log != "" || tc.logHas != "" && (strings.Count(log, "\n") != 1 || !strings.Contains(log, tc.logHas)) {
				t.Fatalf("log = %q, want one line with %q", log, tc.logHas)
			}
		})
	}
}
