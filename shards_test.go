package counter_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/resumecounter/counter"
	"github.com/resumecounter/counter/internal/testenv"
)

// rawCount reads the count of one item, 0 if it does not exist.
func rawCount(t *testing.T, client *dynamodb.Client, table, id string) (int64, bool) {
	t.Helper()
	out, err := client.GetItem(context.Background(), &dynamodb.GetItemInput{
		TableName:      aws.String(table),
		Key:            map[string]types.AttributeValue{"id": s(id)},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		t.Fatal(err)
	}
	num, ok := out.Item["count"].(*types.AttributeValueMemberN)
	if !ok {
		return 0, false
	}
	var v int64
	fmt.Sscan(num.Value, &v)
	return v, true
}

func TestDynamoShardsSumExactly(t *testing.T) {
	d, client := newDynamo(t, counter.DynamoOptions{Shards: 4})
	ctx := context.Background()
	const workers, perWorker = 16, 25
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range perWorker {
				n, err := d.Increment(ctx, "hot")
				if err == nil && (n < 1 || n > workers*perWorker) {
					err = fmt.Errorf("Increment returned %d, outside 1..%d", n, workers*perWorker)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n, err := d.Count(ctx, "hot"); err != nil || n != workers*perWorker {
		t.Fatalf("Count = %d, %v; want %d", n, err, workers*perWorker)
	}
	var sum int64
	for i, id := range []string{"hot", "hot#1", "hot#2", "hot#3"} {
		v, ok := rawCount(t, client, d.Options().Table, id)
		if !ok || v == 0 {
			t.Errorf("shard %d (item %q) was never written", i, id)
		}
		sum += v
	}
	if sum != workers*perWorker {
		t.Fatalf("items sum to %d, want %d", sum, workers*perWorker)
	}
	if _, ok := rawCount(t, client, d.Options().Table, "hot#4"); ok {
		t.Fatal("item hot#4 exists with 4 shards")
	}
}

// TestDynamoShardsSequential: one caller at a time gets 1, 2, 3..., and Add
// and Start work across shards.
func TestDynamoShardsSequential(t *testing.T) {
	d, _ := newDynamo(t, counter.DynamoOptions{Shards: 3, Start: 1000, ConsistentRead: true})
	ctx := context.Background()
	if n, err := d.Count(ctx, "visitors"); err != nil || n != 1000 {
		t.Fatalf("Count of a new key = %d, %v; want Start 1000", n, err)
	}
	for want := int64(1001); want <= 1020; want++ {
		if n, err := d.Increment(ctx, "visitors"); err != nil || n != want {
			t.Fatalf("Increment = %d, %v; want %d", n, err, want)
		}
	}
	if n, err := d.Add(ctx, "visitors", 30); err != nil || n != 1050 {
		t.Fatalf("Add(30) = %d, %v; want 1050", n, err)
	}
	if n, err := d.Count(ctx, "visitors"); err != nil || n != 1050 {
		t.Fatalf("Count = %d, %v; want 1050", n, err)
	}
}

// TestDynamoShardsContinueUnsharded: turning shards on keeps an existing
// count, which becomes shard 0.
func TestDynamoShardsContinueUnsharded(t *testing.T) {
	plain, client := newDynamo(t, counter.DynamoOptions{})
	ctx := context.Background()
	table := plain.Options().Table
	for range 41 {
		if _, err := plain.Increment(ctx, "visitors"); err != nil {
			t.Fatal(err)
		}
	}
	sharded := counter.NewDynamo(client, counter.DynamoOptions{Table: table, Shards: 8, Start: 5000})
	if n, err := sharded.Count(ctx, "visitors"); err != nil || n != 41 {
		t.Fatalf("sharded Count of an unsharded count of 41 = %d, %v (Start must not apply to an existing count)", n, err)
	}
	for range 20 {
		if _, err := sharded.Increment(ctx, "visitors"); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := sharded.Count(ctx, "visitors"); err != nil || n != 61 {
		t.Fatalf("Count after 20 sharded increments = %d, %v; want 61", n, err)
	}
	if v, _ := rawCount(t, client, table, "visitors"); v < 41 {
		t.Fatalf("shard 0 holds %d, want the old 41 or more", v)
	}
}

// fakeBatch answers BatchGetItem calls from a script and records them; it
// applies UpdateItem calls to a map.
type fakeBatch struct {
	mu       sync.Mutex
	updates  []*dynamodb.UpdateItemInput
	batches  []*dynamodb.BatchGetItemInput
	answers  []*dynamodb.BatchGetItemOutput // one per call; the last repeats
	newValue string                         // what UpdateItem returns
}

func (f *fakeBatch) UpdateItem(_ context.Context, in *dynamodb.UpdateItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.updates = append(f.updates, in)
	return &dynamodb.UpdateItemOutput{Attributes: map[string]types.AttributeValue{"views": n(f.newValue)}}, nil
}

func (f *fakeBatch) GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	return nil, errors.New("fakeBatch: GetItem is not used with shards")
}

func (f *fakeBatch) BatchGetItem(_ context.Context, in *dynamodb.BatchGetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.batches = append(f.batches, in)
	return f.answers[min(len(f.batches), len(f.answers))-1], nil
}

func item(id, views string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pk": s(id), "views": n(views)}
}

func keysOf(ids ...string) []map[string]types.AttributeValue {
	keys := make([]map[string]types.AttributeValue, len(ids))
	for i, id := range ids {
		keys[i] = map[string]types.AttributeValue{"pk": s(id)}
	}
	return keys
}

var shardOpts = counter.DynamoOptions{Table: "stats", PartitionKey: "pk", CountAttribute: "views", ConsistentRead: true, Shards: 3, Start: 100}

func TestDynamoShardsBatchRequest(t *testing.T) {
	f := &fakeBatch{answers: []*dynamodb.BatchGetItemOutput{
		{
			Responses:       map[string][]map[string]types.AttributeValue{"stats": {item("home#2", "7"), item("home", "105")}},
			UnprocessedKeys: map[string]types.KeysAndAttributes{"stats": {Keys: keysOf("home#1")}},
		},
		{Responses: map[string][]map[string]types.AttributeValue{"stats": {item("home#1", "3")}}},
	}}
	d := counter.NewDynamo(f, shardOpts)
	if got, err := d.Count(context.Background(), "home"); err != nil || got != 115 {
		t.Fatalf("Count = %d, %v; want 105+3+7 = 115", got, err)
	}
	if len(f.batches) != 2 {
		t.Fatalf("%d BatchGetItem calls, want 2 (one retry of the unprocessed key)", len(f.batches))
	}
	want := func(ids ...string) *dynamodb.BatchGetItemInput {
		return &dynamodb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{"stats": {
			Keys:                     keysOf(ids...),
			ProjectionExpression:     aws.String("#k, #c"),
			ExpressionAttributeNames: map[string]string{"#k": "pk", "#c": "views"},
			ConsistentRead:           aws.Bool(true),
		}}}
	}
	for i, w := range []*dynamodb.BatchGetItemInput{want("home", "home#1", "home#2"), want("home#1")} {
		if !reflect.DeepEqual(f.batches[i], w) {
			t.Errorf("BatchGetItem #%d = %#v, want %#v", i+1, f.batches[i].RequestItems["stats"], w.RequestItems["stats"])
		}
	}
}

// TestDynamoShardsMissingItems: missing shards read as Start (shard 0) or 0.
func TestDynamoShardsMissingItems(t *testing.T) {
	f := &fakeBatch{answers: []*dynamodb.BatchGetItemOutput{
		{Responses: map[string][]map[string]types.AttributeValue{"stats": {item("home#1", "4")}}},
	}}
	if got, err := counter.NewDynamo(f, shardOpts).Count(context.Background(), "home"); err != nil || got != 104 {
		t.Fatalf("Count = %d, %v; want Start 100 + 4", got, err)
	}
}

// TestDynamoShardsIncrement: Increment writes one shard, seeding only shard
// 0 with Start, and returns the sum read afterwards, in which its own
// shard is at least what its write returned.
func TestDynamoShardsIncrement(t *testing.T) {
	seen := map[string]bool{}
	for attempt := 0; attempt < 200 && len(seen) < 3; attempt++ {
		f := &fakeBatch{newValue: "50", answers: []*dynamodb.BatchGetItemOutput{
			{Responses: map[string][]map[string]types.AttributeValue{"stats": {item("home", "110"), item("home#1", "20"), item("home#2", "30")}}},
		}}
		got, err := counter.NewDynamo(f, shardOpts).Increment(context.Background(), "home")
		if err != nil {
			t.Fatal(err)
		}
		id := f.updates[0].Key["pk"].(*types.AttributeValueMemberS).Value
		seen[id] = true
		start := f.updates[0].ExpressionAttributeValues[":start"].(*types.AttributeValueMemberN).Value
		wantStart, want := "0", int64(110+20+30)
		switch id {
		case "home":
			wantStart = "100" // Start seeds shard 0 only; the read (110) is newer than the write (50)
		case "home#1":
			want = 110 + 50 + 30 // the read of home#1 (20) is older than the write (50)
		case "home#2":
			want = 110 + 20 + 50
		default:
			t.Fatalf("UpdateItem of item %q", id)
		}
		if start != wantStart || got != want {
			t.Fatalf("update of %s: :start = %s, Increment = %d; want %s, %d", id, start, got, wantStart, want)
		}
	}
	if len(seen) != 3 {
		t.Fatalf("200 increments wrote only shards %v", seen)
	}
}

func TestDynamoShardsUnprocessedUntilDeadline(t *testing.T) {
	f := &fakeBatch{answers: []*dynamodb.BatchGetItemOutput{
		{UnprocessedKeys: map[string]types.KeysAndAttributes{"stats": {Keys: keysOf("home", "home#1", "home#2")}}},
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := counter.NewDynamo(f, shardOpts).Count(ctx, "home")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Count while keys stay unprocessed: error = %v, want context.DeadlineExceeded", err)
	}
	if len(f.batches) < 2 {
		t.Fatalf("%d BatchGetItem calls, want retries", len(f.batches))
	}
	// Increment's write succeeded: the error says the visit counted.
	f.newValue = "1"
	ctx, cancel = context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err = counter.NewDynamo(f, shardOpts).Increment(ctx, "home")
	if err == nil || !strings.Contains(err.Error(), "the visit was counted") {
		t.Fatalf("Increment whose read failed: error = %v, want one saying the visit was counted", err)
	}
}

func TestDynamoShardsOption(t *testing.T) {
	for in, want := range map[int]int{-3: 1, 0: 1, 1: 1, 7: 7, 100: 100, 1000: 100} {
		if got := counter.NewDynamo(&fakeBatch{}, counter.DynamoOptions{Shards: in}).Options().Shards; got != want {
			t.Errorf("Shards %d: in effect %d, want %d", in, got, want)
		}
	}
}

// readCounter counts the UpdateItem and BatchGetItem calls made through it.
type readCounter struct {
	countingClient
	batches atomic.Int64
}

func (c *readCounter) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	c.batches.Add(1)
	return c.DynamoAPI.BatchGetItem(ctx, in, optFns...)
}

// TestGroupOverShards: a Group in front of a sharded store counts exactly,
// with one write and one read per batch rather than per visit.
func TestGroupOverShards(t *testing.T) {
	d, client := newDynamo(t, counter.DynamoOptions{})
	table := d.Options().Table
	rc := &readCounter{countingClient: countingClient{DynamoAPI: client}}
	g := counter.NewGroup(counter.NewDynamo(rc, counter.DynamoOptions{Table: table, Shards: 4}))
	defer g.Close()
	const workers, perWorker = 64, 20
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range perWorker {
				if _, err := g.Increment(context.Background(), "hot"); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if n, err := g.Count(context.Background(), "hot"); err != nil || n != workers*perWorker {
		t.Fatalf("Count = %d, %v; want %d", n, err, workers*perWorker)
	}
	writes, reads := rc.updates.Load(), rc.batches.Load()-1 // minus Count's read
	if writes != reads || writes >= workers*perWorker {
		t.Fatalf("%d writes and %d reads for %d visits, want one of each per batch", writes, reads, workers*perWorker)
	}
	t.Logf("%d visits in %d batches", workers*perWorker, writes)
}

// BenchmarkDynamoShards measures what a sharded Increment costs against
// dynalite, which has no per-item limit to lift (so this shows the price of
// the extra read, not the gain): 32 callers on one key, plain Dynamo beside
// Shards: 4 in alternating rounds of the same run. b.N counts sharded
// visits; sharded/plain is the ratio of their rates.
func BenchmarkDynamoShards(b *testing.B) {
	client := testenv.Dynalite(b)
	table := testenv.CreateTable(b, client, counter.DefaultPartitionKey)
	plain := counter.NewDynamo(client, counter.DynamoOptions{Table: table})
	sharded := counter.NewDynamo(client, counter.DynamoOptions{Table: table, Shards: 4})
	const callers, round = 32, 256
	hammerKey(b, sharded, "warm", callers, callers)
	var plainTime, shardTime time.Duration
	var plainVisits int
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; done += round {
		n := min(round, b.N-done)
		b.StopTimer()
		plainTime += hammerKey(b, plain, "plain", callers, n)
		plainVisits += n
		b.StartTimer()
		shardTime += hammerKey(b, sharded, "sharded", callers, n)
	}
	b.StopTimer()
	if got, err := sharded.Count(context.Background(), "sharded"); err != nil || got != int64(b.N) {
		b.Fatalf("sharded count = %d, %v; want %d", got, err, b.N)
	}
	plainRate, shardRate := float64(plainVisits)/plainTime.Seconds(), float64(b.N)/shardTime.Seconds()
	b.ReportMetric(plainRate, "plain-inc/s")
	b.ReportMetric(shardRate, "sharded-inc/s")
	b.ReportMetric(shardRate/plainRate, "sharded/plain")
}
