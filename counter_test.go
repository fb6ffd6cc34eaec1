package counter_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/resumecounter/counter"
	"github.com/resumecounter/counter/countertest"
	"github.com/resumecounter/counter/internal/testenv"
)

func TestCheckKey(t *testing.T) {
	good := []string{"visitors", "a", "A1", "page:home", "blog.post-1_x", "9", strings.Repeat("z", counter.MaxKeyLen)}
	for _, k := range good {
		if err := counter.CheckKey(k); err != nil {
			t.Errorf("CheckKey(%q) = %v, want nil", k, err)
		}
	}
	bad := []string{"", strings.Repeat("z", counter.MaxKeyLen+1), " x", "x ", "a/b", "a#b", "-a", "_a", ".a", ":a",
		"é", "a\nb", "a?b", "a&b", "a%20b", "\xff"}
	for _, k := range bad {
		err := counter.CheckKey(k)
		if !errors.Is(err, counter.ErrInvalidKey) {
			t.Errorf("CheckKey(%q) = %v, want ErrInvalidKey", k, err)
		}
	}
}

// TestCheckRecord holds CheckRecord to its comment: every record a store
// may import passes, and each broken promise is refused, among them a day
// with more visitors than hits.
func TestCheckRecord(t *testing.T) {
	day := func(date counter.Date, count, visitors int64) counter.Day {
		return counter.Day{Date: date, Count: count, Visitors: visitors}
	}
	good := map[string]counter.Record{
		"empty":                    {Key: "home"},
		"days":                     {Key: "home", Count: 10, Visitors: 4, Days: []counter.Day{day("2026-12-01", 3, 3), day("2026-12-02", 7, 1)}},
		"day of hits only":         {Key: "home", Count: 5, Days: []counter.Day{day("2026-12-01", 5, 0)}},
		"count set below visitors": {Key: "home", Count: 1, Visitors: 3, Days: []counter.Day{day("2026-12-01", 3, 3)}},
	}
	for name, r := range good {
		if err := counter.CheckRecord(r); err != nil {
			t.Errorf("CheckRecord(%s) = %v, want nil", name, err)
		}
	}
	bad := map[string]counter.Record{
		"bad key":                 {Key: "a b"},
		"negative count":          {Key: "home", Count: -1},
		"negative visitors":       {Key: "home", Visitors: -1},
		"negative day count":      {Key: "home", Days: []counter.Day{day("2026-12-01", -1, 0)}},
		"negative day visitors":   {Key: "home", Days: []counter.Day{day("2026-12-01", 1, -1)}},
		"bad date":                {Key: "home", Days: []counter.Day{day("2026-02-30", 1, 1)}},
		"unordered days":          {Key: "home", Days: []counter.Day{day("2026-12-02", 1, 1), day("2026-12-01", 1, 1)}},
		"repeated day":            {Key: "home", Days: []counter.Day{day("2026-12-01", 1, 1), day("2026-12-01", 1, 1)}},
		"more visitors than hits": {Key: "home", Count: 9, Visitors: 9, Days: []counter.Day{day("2026-12-01", 5, 5), day("2026-12-02", 2, 3)}},
	}
	for name, r := range bad {
		if err := counter.CheckRecord(r); err == nil {
			t.Errorf("CheckRecord(%s) = nil, want an error", name)
		}
	}
}

func TestMemoryConformance(t *testing.T) {
	countertest.Run(t, func(t *testing.T) countertest.Store { return counter.NewMemory() })
}

func TestMemoryIncrementDoesNotAllocate(t *testing.T) {
	m := counter.NewMemory()
	ctx := context.Background()
	if _, err := m.Increment(ctx, "visitors"); err != nil {
		t.Fatal(err)
	}
	if allocs := testing.AllocsPerRun(1000, func() { _, _ = m.Increment(ctx, "visitors") }); allocs != 0 {
		t.Fatalf("Increment of an existing key allocates %.1f times, want 0", allocs)
	}
}

// A count that would pass the largest int64 is refused, wrapping
// ErrOverflow, and nothing is written: the count stays where it was.
func TestMemoryOverflow(t *testing.T) {
	ctx := context.Background()
	m := counter.NewMemory()
	if _, err := m.Add(ctx, "visitors", math.MaxInt64-1); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Add(ctx, "visitors", 2); !errors.Is(err, counter.ErrOverflow) {
		t.Fatalf("Add(2) at MaxInt64-1: error = %v, want ErrOverflow", err)
	}
	if n, err := m.Increment(ctx, "visitors"); err != nil || n != math.MaxInt64 {
		t.Fatalf("Increment to MaxInt64 = %d, %v; want %d", n, err, int64(math.MaxInt64))
	}
	for _, f := range []func() (int64, error){
		func() (int64, error) { return m.Increment(ctx, "visitors") },
		func() (int64, error) { return m.Add(ctx, "visitors", math.MaxInt64) },
	} {
		if n, err := f(); !errors.Is(err, counter.ErrOverflow) || n != 0 {
			t.Fatalf("past MaxInt64: %d, %v; want 0 and ErrOverflow", n, err)
		}
	}
	if n := memCount(t, m, "visitors"); n != math.MaxInt64 {
		t.Fatalf("count after refused adds = %d, want %d: a refused add wrote", n, int64(math.MaxInt64))
	}
	// A new key refuses too, and a Group passes the error to its caller.
	g := counter.NewGroup(m)
	defer g.Close()
	if _, err := g.Add(ctx, "other", math.MaxInt64); err != nil {
		t.Fatal(err)
	}
	if _, err := g.Increment(ctx, "other"); !errors.Is(err, counter.ErrOverflow) {
		t.Fatalf("Group.Increment past MaxInt64: error = %v, want ErrOverflow", err)
	}
}

// TestMemoryFirstUseRace makes the first-use race certain: a hook holds
// every caller that found no counter for the new key until all of them have,
// then releases them together to create it. Exactly one creation may win;
// a store that creates the key twice loses counts here on every run.
func TestMemoryFirstUseRace(t *testing.T) {
	const rounds, workers = 200, 64
	m := counter.NewMemory()
	var (
		mu      sync.Mutex
		arrived int
		release chan struct{}
	)
	m.SetNewKeyHook(func() {
		mu.Lock()
		ch := release
		if arrived++; arrived == workers {
			close(release)
		}
		mu.Unlock()
		select {
		case <-ch:
		case <-time.After(10 * time.Second):
			t.Error("not every caller reached the creation of the new key")
		}
	})
	ctx := context.Background()
	for round := range rounds {
		mu.Lock()
		arrived, release = 0, make(chan struct{})
		mu.Unlock()
		key := fmt.Sprintf("fresh-%d", round)
		got := make(chan int64, workers)
		var wg sync.WaitGroup
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				n, err := m.Increment(ctx, key)
				if err != nil {
					t.Error(err)
				}
				got <- n
			}()
		}
		wg.Wait()
		close(got)
		seen := make(map[int64]bool, workers)
		for n := range got {
			seen[n] = true
		}
		if c := memCount(t, m, key); c != workers || len(seen) != workers {
			t.Fatalf("round %d: %d callers created %q at once: count %d with %d distinct numbers given, want %d of each",
				round, workers, key, c, len(seen), workers)
		}
	}
}

func testenvDynalite(tb testing.TB) *dynamodb.Client { tb.Helper(); return testenv.Dynalite(tb) }

func testenvTable(tb testing.TB, c *dynamodb.Client) string {
	tb.Helper()
	return testenv.CreateTable(tb, c, counter.DefaultPartitionKey)
}

// newDynamo returns a store on a fresh dynalite table.
func newDynamo(t *testing.T, opts counter.DynamoOptions) (*counter.Dynamo, *dynamodb.Client) {
	t.Helper()
	client := testenv.Dynalite(t)
	pk := opts.PartitionKey
	if pk == "" {
		pk = counter.DefaultPartitionKey
	}
	opts.Table = testenv.CreateTable(t, client, pk)
	return counter.NewDynamo(client, opts), client
}

func TestDynamoConformance(t *testing.T) {
	for _, opts := range []counter.DynamoOptions{
		{},
		{PartitionKey: "pk", CountAttribute: "views", ConsistentRead: true, Retry: counter.RetryUnsent},
		{Retry: counter.RetryNever},
	} {
		t.Run(fmt.Sprintf("%+v", opts), func(t *testing.T) {
			countertest.Run(t, func(t *testing.T) countertest.Store {
				d, _ := newDynamo(t, opts)
				return d
			})
		})
	}
}

// TestDynamoContinuesHandMadeItem: the Cloud Resume Challenge table often
// holds an item typed in the console; counting continues from it.
func TestDynamoContinuesHandMadeItem(t *testing.T) {
	d, client := newDynamo(t, counter.DynamoOptions{Start: 1000})
	ctx := context.Background()
	_, err := client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(d.Options().Table),
		Item: map[string]types.AttributeValue{
			"id":    &types.AttributeValueMemberS{Value: "visitors"},
			"count": &types.AttributeValueMemberN{Value: "41"},
			"note":  &types.AttributeValueMemberS{Value: "made by hand"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := d.Increment(ctx, "visitors"); err != nil || n != 42 {
		t.Fatalf("Increment = %d, %v; want 42 (Start must never replace an existing count)", n, err)
	}
	out, err := client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(d.Options().Table),
		Key:       map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: "visitors"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if note, _ := out.Item["note"].(*types.AttributeValueMemberS); note == nil || note.Value != "made by hand" {
		t.Fatalf("other attributes of the item were not kept: %v", out.Item)
	}
}

func TestDynamoStart(t *testing.T) {
	d, _ := newDynamo(t, counter.DynamoOptions{Start: 5000})
	ctx := context.Background()
	if n, err := d.Count(ctx, "visitors"); err != nil || n != 5000 {
		t.Fatalf("Count of a new key = %d, %v; want Start 5000", n, err)
	}
	if n, err := d.Increment(ctx, "visitors"); err != nil || n != 5001 {
		t.Fatalf("first Increment = %d, %v; want 5001", n, err)
	}
	if n, err := d.Add(ctx, "visitors", 9); err != nil || n != 5010 {
		t.Fatalf("Add(9) = %d, %v; want 5010", n, err)
	}
}

func TestDynamoNotANumberIsNeverOverwritten(t *testing.T) {
	d, client := newDynamo(t, counter.DynamoOptions{})
	ctx := context.Background()
	table := d.Options().Table
	_, err := client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(table),
		Item: map[string]types.AttributeValue{
			"id":    &types.AttributeValueMemberS{Value: "visitors"},
			"count": &types.AttributeValueMemberS{Value: "12"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = d.Increment(ctx, "visitors")
	if !errors.Is(err, counter.ErrNotANumber) {
		t.Fatalf("Increment of a string count: error = %v, want ErrNotANumber", err)
	}
	var ccf *types.ConditionalCheckFailedException
	if !errors.As(err, &ccf) {
		t.Errorf("error %v does not wrap the SDK's ConditionalCheckFailedException", err)
	}
	if _, err := d.Count(ctx, "visitors"); !errors.Is(err, counter.ErrNotANumber) {
		t.Errorf("Count of a string count: error = %v, want ErrNotANumber", err)
	}
	out, err := client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(table),
		Key:       map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: "visitors"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if s, _ := out.Item["count"].(*types.AttributeValueMemberS); s == nil || s.Value != "12" {
		t.Fatalf("the string count was changed: %#v", out.Item["count"])
	}
}

func TestDynamoMissingTable(t *testing.T) {
	client := testenv.Dynalite(t)
	d := counter.NewDynamo(client, counter.DynamoOptions{Table: "no-such-table"})
	ctx := context.Background()
	for name, call := range map[string]func() error{
		"Increment": func() error { _, err := d.Increment(ctx, "visitors"); return err },
		"Count":     func() error { _, err := d.Count(ctx, "visitors"); return err },
	} {
		err := call()
		var rnf *types.ResourceNotFoundException
		if !errors.As(err, &rnf) {
			t.Errorf("%s on a missing table: error = %v, want ResourceNotFoundException", name, err)
			continue
		}
		for _, part := range []string{"counter:", `"visitors"`, `"no-such-table"`} {
			if !strings.Contains(err.Error(), part) {
				t.Errorf("%s error %q does not name %s", name, err, part)
			}
		}
	}
}

func TestDynamoTimeout(t *testing.T) {
	d := counter.NewDynamo(testenv.DynamoClient(testenv.HungEndpoint(t)), counter.DynamoOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := d.Increment(ctx, "visitors")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Increment against a hung server: error = %v, want context.DeadlineExceeded", err)
	}
}

// fakeDynamo records requests and answers with canned outputs.
type fakeDynamo struct {
	updates []*dynamodb.UpdateItemInput
	gets    []*dynamodb.GetItemInput
	optFns  [][]func(*dynamodb.Options)
	out     map[string]types.AttributeValue
	err     error
}

func (f *fakeDynamo) UpdateItem(_ context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	f.updates = append(f.updates, in)
	f.optFns = append(f.optFns, optFns)
	if f.err != nil {
		return nil, f.err
	}
	return &dynamodb.UpdateItemOutput{Attributes: f.out}, nil
}

func (f *fakeDynamo) GetItem(_ context.Context, in *dynamodb.GetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	f.gets = append(f.gets, in)
	if f.err != nil {
		return nil, f.err
	}
	return &dynamodb.GetItemOutput{Item: f.out}, nil
}

func (f *fakeDynamo) BatchGetItem(context.Context, *dynamodb.BatchGetItemInput, ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	return nil, errors.New("fakeDynamo: BatchGetItem is used only with Shards > 1")
}

func n(v string) *types.AttributeValueMemberN { return &types.AttributeValueMemberN{Value: v} }
func s(v string) *types.AttributeValueMemberS { return &types.AttributeValueMemberS{Value: v} }

func TestDynamoRequest(t *testing.T) {
	f := &fakeDynamo{out: map[string]types.AttributeValue{"views": n("7")}}
	d := counter.NewDynamo(f, counter.DynamoOptions{Table: "stats", PartitionKey: "pk", CountAttribute: "views", Start: 100})
	got, err := d.Increment(context.Background(), "home")
	if err != nil || got != 7 {
		t.Fatalf("Increment = %d, %v; want 7", got, err)
	}
	if len(f.updates) != 1 {
		t.Fatalf("%d UpdateItem calls, want 1", len(f.updates))
	}
	in := f.updates[0]
	check := func(what string, got, want any) {
		t.Helper()
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %#v, want %#v", what, got, want)
		}
	}
	check("TableName", aws.ToString(in.TableName), "stats")
	check("Key", in.Key, map[string]types.AttributeValue{"pk": s("home")})
	check("UpdateExpression", aws.ToString(in.UpdateExpression), "SET #c = if_not_exists(#c, :start) + :n REMOVE #bad")
	check("ConditionExpression", aws.ToString(in.ConditionExpression),
		"(attribute_not_exists(#c) OR (attribute_type(#c, :type) AND #c <= :lim)) AND (attribute_not_exists(#bad) OR #c <> #bad)")
	check("ExpressionAttributeNames", in.ExpressionAttributeNames, map[string]string{"#c": "views", "#bad": "countNotWhole"})
	check("ExpressionAttributeValues", in.ExpressionAttributeValues, map[string]types.AttributeValue{":n": n("1"), ":start": n("100"), ":type": s("N"),
		":lim": n("9223372036854775806")})
	check("ReturnValues", in.ReturnValues, types.ReturnValueUpdatedNew)

	if _, err := d.Add(context.Background(), "home", 12); err != nil {
		t.Fatal(err)
	}
	check("Add's :n", f.updates[1].ExpressionAttributeValues[":n"], n("12"))
	check("Add's :lim", f.updates[1].ExpressionAttributeValues[":lim"], n("9223372036854775795"))
	check("Increment's :n after Add", f.updates[0].ExpressionAttributeValues[":n"], n("1"))

	d2 := counter.NewDynamo(f, counter.DynamoOptions{ConsistentRead: true})
	if _, err := d2.Count(context.Background(), "visitors"); err != nil {
		t.Fatal(err)
	}
	g := f.gets[0]
	check("GetItem TableName", aws.ToString(g.TableName), "cloud-resume-stats")
	check("GetItem Key", g.Key, map[string]types.AttributeValue{"id": s("visitors")})
	check("ProjectionExpression", aws.ToString(g.ProjectionExpression), "#c")
	check("GetItem names", g.ExpressionAttributeNames, map[string]string{"#c": "count"})
	check("ConsistentRead", aws.ToBool(g.ConsistentRead), true)
}

func TestDynamoInvalidInputWritesNothing(t *testing.T) {
	f := &fakeDynamo{}
	d := counter.NewDynamo(f, counter.DynamoOptions{})
	ctx := context.Background()
	for _, k := range []string{"", "a b", strings.Repeat("x", 200)} {
		if _, err := d.Increment(ctx, k); !errors.Is(err, counter.ErrInvalidKey) {
			t.Errorf("Increment(%q) = %v, want ErrInvalidKey", k, err)
		}
	}
	if _, err := d.Add(ctx, "visitors", 0); err == nil {
		t.Error("Add(0) succeeded")
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := d.Increment(cctx, "visitors"); !errors.Is(err, context.Canceled) {
		t.Errorf("Increment with canceled context = %v", err)
	}
	if len(f.updates)+len(f.gets) != 0 {
		t.Fatalf("invalid input reached DynamoDB: %d updates, %d gets", len(f.updates), len(f.gets))
	}
}

func TestDynamoBadResponse(t *testing.T) {
	for name, out := range map[string]map[string]types.AttributeValue{
		"missing":  {},
		"string":   {"count": s("1")},
		"notint":   {"count": n("1.5")},
		"overflow": {"count": n("99999999999999999999")},
	} {
		f := &fakeDynamo{out: out}
		d := counter.NewDynamo(f, counter.DynamoOptions{})
		if got, err := d.Increment(context.Background(), "visitors"); err == nil {
			t.Errorf("%s: Increment = %d, want an error", name, got)
		}
	}
}

// apiErr is an API error as the SDK's deserializers return them.
type apiErr struct{ code string }

func (e apiErr) Error() string                 { return e.code }
func (e apiErr) ErrorCode() string             { return e.code }
func (e apiErr) ErrorMessage() string          { return e.code }
func (e apiErr) ErrorFault() smithy.ErrorFault { return smithy.FaultServer }

// TestRetryPolicy checks which errors each policy lets the client retry, on
// the retryer the store installs for its UpdateItem calls.
func TestRetryPolicy(t *testing.T) {
	errs := map[string]error{
		"throttled":       &types.ProvisionedThroughputExceededException{Message: aws.String("slow down")},
		"throttling":      apiErr{"ThrottlingException"},
		"refused":         &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")},
		"dns":             &net.DNSError{Err: "no such host", Name: "dynamodb", IsTemporary: true},
		"reset":           &net.OpError{Op: "read", Net: "tcp", Err: errors.New("connection reset by peer")},
		"internal":        apiErr{"InternalServerError"},
		"timeout-code":    apiErr{"RequestTimeout"},
		"conditional":     &types.ConditionalCheckFailedException{},
		"validation":      apiErr{"ValidationException"},
		"wrapped-refused": fmt.Errorf("send: %w", &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}),
	}
	sdkRetries := map[string]bool{"throttled": true, "throttling": true, "refused": true, "dns": true, "reset": true,
		"internal": false, "timeout-code": true, "wrapped-refused": true}
	want := map[counter.RetryPolicy]map[string]bool{
		counter.RetrySDK:    sdkRetries,
		counter.RetryUnsent: {"throttled": true, "throttling": true, "refused": true, "dns": true, "wrapped-refused": true},
		counter.RetryNever:  {},
	}
	for policy, retried := range want {
		f := &fakeDynamo{out: map[string]types.AttributeValue{"count": n("1")}}
		if _, err := counter.NewDynamo(f, counter.DynamoOptions{Retry: policy}).Increment(context.Background(), "v"); err != nil {
			t.Fatal(err)
		}
		o := dynamodb.Options{Retryer: retry.NewStandard()}
		for _, fn := range f.optFns[0] {
			fn(&o)
		}
		for name, err := range errs {
			base := retry.NewStandard().IsErrorRetryable(err)
			if base != sdkRetries[name] {
				t.Fatalf("test table is stale: SDK retries %s = %v", name, base)
			}
			canRetry := o.Retryer.IsErrorRetryable(err) && o.Retryer.MaxAttempts() > 1
			if canRetry != retried[name] {
				t.Errorf("policy %d: retry after %s = %v, want %v", policy, name, canRetry, retried[name])
			}
		}
	}
}

func TestMemoryLimitConformance(t *testing.T) {
	countertest.Run(t, func(t *testing.T) countertest.Store { return counter.NewMemoryLimit(32) })
}

func TestMemoryLimit(t *testing.T) {
	ctx := context.Background()
	m := counter.NewMemoryLimit(3)
	for _, k := range []string{"a", "b", "c"} {
		if n, err := m.Increment(ctx, k); err != nil || n != 1 {
			t.Fatalf("Increment(%q) under the limit = %d, %v", k, n, err)
		}
	}
	for name, call := range map[string]func() (int64, error){
		"Increment": func() (int64, error) { return m.Increment(ctx, "d") },
		"Add":       func() (int64, error) { return m.Add(ctx, "e", 5) },
	} {
		n, err := call()
		if !errors.Is(err, counter.ErrTooManyKeys) {
			t.Fatalf("%s of a 4th key = %d, %v; want ErrTooManyKeys", name, n, err)
		}
		if !strings.HasPrefix(err.Error(), "counter: ") {
			t.Errorf("error %q lacks the package prefix", err)
		}
	}
	if n, err := m.Count(ctx, "d"); err != nil || n != 0 {
		t.Fatalf("Count of a refused key = %d, %v; want 0, nil", n, err)
	}
	if n, err := m.Increment(ctx, "a"); err != nil || n != 2 {
		t.Fatalf("an existing key at the limit: Increment = %d, %v; want 2", n, err)
	}
	if _, err := m.Increment(ctx, "bad key"); !errors.Is(err, counter.ErrInvalidKey) {
		t.Fatalf("invalid key at the limit: error = %v, want ErrInvalidKey first", err)
	}
	for _, limit := range []int{0, -1} {
		u := counter.NewMemoryLimit(limit)
		for i := range 100 {
			if _, err := u.Increment(ctx, fmt.Sprintf("k%d", i)); err != nil {
				t.Fatalf("NewMemoryLimit(%d) refused key %d: %v", limit, i, err)
			}
		}
	}
}

// TestMemoryLimitRace: many goroutines race to create distinct keys; exactly
// the limit of them succeed and the store holds no more keys than that.
func TestMemoryLimitRace(t *testing.T) {
	const limit, workers = 10, 64
	m := counter.NewMemoryLimit(limit)
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		created []string
		start   = make(chan struct{})
	)
	for i := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := fmt.Sprintf("key-%d", i)
			<-start
			_, err := m.Increment(context.Background(), key)
			switch {
			case err == nil:
				mu.Lock()
				created = append(created, key)
				mu.Unlock()
			case !errors.Is(err, counter.ErrTooManyKeys):
				t.Errorf("Increment(%q): %v", key, err)
			}
		}()
	}
	close(start)
	wg.Wait()
	if len(created) != limit {
		t.Fatalf("%d keys created, want exactly %d", len(created), limit)
	}
	for _, k := range created {
		if n, err := m.Increment(context.Background(), k); err != nil || n != 2 {
			t.Errorf("created key %q: Increment = %d, %v; want 2", k, n, err)
		}
	}
}

func TestMemoryLimitIncrementDoesNotAllocate(t *testing.T) {
	m := counter.NewMemoryLimit(1)
	ctx := context.Background()
	if _, err := m.Increment(ctx, "visitors"); err != nil {
		t.Fatal(err)
	}
	if allocs := testing.AllocsPerRun(1000, func() { _, _ = m.Increment(ctx, "visitors") }); allocs != 0 {
		t.Fatalf("Increment of an existing key allocates %.1f times, want 0", allocs)
	}
}

// keyRule is the key rule of CheckKey's documentation, written
// independently of it.
var keyRule = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$`)

// FuzzCheckKey: CheckKey never panics, accepts exactly the documented keys,
// and stores accept exactly what CheckKey accepts.
func FuzzCheckKey(f *testing.F) {
	for _, k := range []string{"visitors", "page:about", "a", "", "-a", "a b", strings.Repeat("k", counter.MaxKeyLen)} {
		f.Add(k)
	}
	f.Fuzz(func(t *testing.T, key string) {
		err := counter.CheckKey(key)
		if err != nil && !errors.Is(err, counter.ErrInvalidKey) {
			t.Fatalf("CheckKey(%q) = %v, does not wrap ErrInvalidKey", key, err)
		}
		if want := keyRule.MatchString(key); (err == nil) != want {
			t.Fatalf("CheckKey(%q) = %v; the documented rule says valid=%v", key, err, want)
		}
		if err == nil {
			if len(key) < 1 || len(key) > counter.MaxKeyLen {
				t.Fatalf("accepted %d-byte key", len(key))
			}
			if url.PathEscape(key) != key || url.QueryEscape(key) != strings.ReplaceAll(key, ":", "%3A") {
				t.Fatalf("accepted key %q needs escaping in a URL", key)
			}
			if filepath.Base(key) != key || key == "." || key == ".." {
				t.Fatalf("accepted key %q is not a plain file name", key)
			}
		}
		ctx := context.Background()
		m := counter.NewMemory()
		got, ierr := m.Increment(ctx, key)
		if (ierr == nil) != (err == nil) {
			t.Fatalf("CheckKey(%q) = %v but Memory.Increment error = %v", key, err, ierr)
		}
		if ierr == nil && got != 1 {
			t.Fatalf("first Increment(%q) = %d, want 1", key, got)
		}
		if ierr != nil && !errors.Is(ierr, counter.ErrInvalidKey) {
			t.Fatalf("Memory.Increment(%q) = %v, does not wrap ErrInvalidKey", key, ierr)
		}
		if _, cerr := m.Count(ctx, key); (cerr == nil) != (err == nil) {
			t.Fatalf("CheckKey(%q) = %v but Memory.Count error = %v", key, err, cerr)
		}
		if _, aerr := m.Add(ctx, key, 3); (aerr == nil) != (err == nil) {
			t.Fatalf("CheckKey(%q) = %v but Memory.Add error = %v", key, err, aerr)
		}
		// Dynamo (on a fake client): the same keys, and a rejected key never
		// reaches DynamoDB.
		f := &fakeDynamo{out: map[string]types.AttributeValue{"count": n("1")}}
		d := counter.NewDynamo(f, counter.DynamoOptions{})
		_, derr := d.Increment(ctx, key)
		_, cerr := d.Count(ctx, key)
		if (derr == nil) != (err == nil) || (cerr == nil) != (err == nil) {
			t.Fatalf("CheckKey(%q) = %v but Dynamo.Increment error = %v, Count error = %v", key, err, derr, cerr)
		}
		if err != nil && len(f.updates)+len(f.gets) != 0 {
			t.Fatalf("rejected key %q reached DynamoDB", key)
		}
	})
}

func TestMemoryVisits(t *testing.T) {
	countertest.RunVisits(t, func(t *testing.T, cfg countertest.Config) countertest.VisitStore {
		return counter.NewMemoryWith(counter.MemoryOptions{Now: cfg.Now, MaxKeys: cfg.MaxKeys})
	})
}

func TestMemoryEditor(t *testing.T) {
	countertest.RunEditor(t, func(t *testing.T, cfg countertest.Config) countertest.EditStore {
		return counter.NewMemoryWith(counter.MemoryOptions{Now: cfg.Now, MaxKeys: cfg.MaxKeys})
	})
}

// Past MemoryMaxMarkers, a visit needing a new marker fails with
// ErrMarkersFull and writes nothing; known visitors still count, and
// Visitors counts the refused visit as a hit only.
func TestMemoryMarkersFull(t *testing.T) {
	ctx := context.Background()
	m := counter.NewMemory()
	day := counter.Date("2026-12-01")
	at := day.Time().Add(time.Hour)
	id := func(i int) counter.VisitorID {
		var v counter.VisitorID
		binary.BigEndian.PutUint64(v[:8], uint64(i)+1)
		return v
	}
	for i := range counter.MemoryMaxMarkers {
		if _, _, err := m.RecordVisit(ctx, counter.Visit{Key: "k", Date: day, Visitor: id(i), Time: at}); err != nil {
			t.Fatalf("visitor %d: %v", i, err)
		}
	}
	v := counter.Visit{Key: "k", Date: day, Visitor: id(counter.MemoryMaxMarkers), Time: at}
	if _, ok, err := m.RecordVisit(ctx, v); !errors.Is(err, counter.ErrMarkersFull) || ok {
		t.Fatalf("a new visitor past the cap: counted %v, error %v; want ErrMarkersFull", ok, err)
	}
	want := counter.Stats{Key: "k", Count: counter.MemoryMaxMarkers, Visitors: counter.MemoryMaxMarkers,
		Today: counter.Day{Date: day, Count: counter.MemoryMaxMarkers, Visitors: counter.MemoryMaxMarkers}}
	if st, err := m.Stats(ctx, "k", day); err != nil || st != want {
		t.Fatalf("after refused visits: %+v, %v; want %+v", st, err, want)
	}
	if st, ok, err := m.RecordVisit(ctx, counter.Visit{Key: "k", Date: day, Visitor: id(0), Time: at}); err != nil || !ok || st.Count != want.Count+1 || st.Visitors != want.Visitors {
		t.Fatalf("a known visitor at the cap: %+v, %v, %v; want one more hit", st, ok, err)
	}
}

// TestDynamoSetReplacesStringCount (issue 16, docs/moving.md): SetCount is
// the owner's repair of a count typed as a string: it replaces it with a
// number, returns the number the string spelled, and counting goes on.
func TestDynamoSetReplacesStringCount(t *testing.T) {
	d, client := newDynamo(t, counter.DynamoOptions{})
	ctx := context.Background()
	table := d.Options().Table
	for key, value := range map[string]string{"visitors": "1234", "home": "many"} {
		if _, err := client.PutItem(ctx, &dynamodb.PutItemInput{
			TableName: aws.String(table),
			Item: map[string]types.AttributeValue{
				"id":    &types.AttributeValueMemberS{Value: key},
				"count": &types.AttributeValueMemberS{Value: value},
			},
		}); err != nil {
			t.Fatal(err)
		}
	}
	if old, err := d.SetCount(ctx, "visitors", 1234); err != nil || old != 1234 {
		t.Fatalf("SetCount over the string \"1234\" = %d, %v; want 1234, nil", old, err)
	}
	if old, err := d.SetCount(ctx, "home", 7); err != nil || old != 0 {
		t.Fatalf("SetCount over the string \"many\" = %d, %v; want 0, nil", old, err)
	}
	if n, err := d.Increment(ctx, "visitors"); err != nil || n != 1235 {
		t.Fatalf("Increment after the repair = %d, %v; want 1235", n, err)
	}
	out, err := client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(table),
		Key:       map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: "home"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := out.Item["count"].(*types.AttributeValueMemberN); n == nil || n.Value != "7" {
		t.Fatalf("the count after SetCount: %#v, want the number 7", out.Item["count"])
	}
}
