package counter_test

import (
	"context"
	"errors"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/resumecounter/counter"
	"github.com/resumecounter/counter/internal/faultproxy"
	"github.com/resumecounter/counter/internal/testenv"
)

func BenchmarkMemoryIncrement(b *testing.B) {
	ctx := context.Background()
	b.Run("one-key", func(b *testing.B) {
		m := counter.NewMemory()
		if _, err := m.Increment(ctx, "visitors"); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := m.Increment(ctx, "visitors"); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("1000-keys", func(b *testing.B) {
		m := counter.NewMemory()
		keys := make([]string, 1000)
		for i := range keys {
			keys[i] = "page:" + strconv.Itoa(i)
			if _, err := m.Increment(ctx, keys[i]); err != nil {
				b.Fatal(err)
			}
		}
		var seq atomic.Uint32
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := int(seq.Add(1)) * 7919
			for pb.Next() {
				if _, err := m.Increment(ctx, keys[i%len(keys)]); err != nil {
					b.Error(err)
					return
				}
				i++
			}
		})
	})
}

// BenchmarkDynamoIncrement measures Dynamo.Increment against dynalite beside
// raw SDK UpdateItem loops in the same run: "raw" sends the very request the
// store sends (so lib/raw is the library's own overhead, 1 = none), "raw-add"
// the minimal `ADD #c :one` of a hand-written counter, without the seeding and
// the type condition (lib/raw-add includes what dynalite spends evaluating
// them; DynamoDB charges one write unit either way). Each runs in rotating
// rounds of 32 concurrent callers, so drift in the server hits all alike.
func BenchmarkDynamoIncrement(b *testing.B) {
	client := testenvDynalite(b)
	table := testenvTable(b, client)
	store := counter.NewDynamo(client, counter.DynamoOptions{Table: table})
	ctx := context.Background()
	names := map[string]string{"#c": "count"}
	sameNames := map[string]string{"#c": "count", "#bad": counter.DynamoBadCountAttribute}
	sameValues := map[string]types.AttributeValue{
		":n":     &types.AttributeValueMemberN{Value: "1"},
		":start": &types.AttributeValueMemberN{Value: "0"},
		":type":  &types.AttributeValueMemberS{Value: "N"},
		":lim":   &types.AttributeValueMemberN{Value: strconv.FormatInt(math.MaxInt64-1, 10)},
	}
	addValues := map[string]types.AttributeValue{":one": &types.AttributeValueMemberN{Value: "1"}}
	raw := func(key string) error {
		_, err := client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                 aws.String(table),
			Key:                       map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: key}},
			UpdateExpression:          aws.String(counter.DynamoUpdateExpression),
			ConditionExpression:       aws.String(counter.DynamoConditionExpression),
			ExpressionAttributeNames:  sameNames,
			ExpressionAttributeValues: sameValues,
			ReturnValues:              types.ReturnValueUpdatedNew,
		})
		return err
	}
	rawAdd := func(key string) error {
		_, err := client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                 aws.String(table),
			Key:                       map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: key}},
			UpdateExpression:          aws.String("ADD #c :one"),
			ExpressionAttributeNames:  names,
			ExpressionAttributeValues: addValues,
			ReturnValues:              types.ReturnValueUpdatedNew,
		})
		return err
	}
	lib := func(key string) error { _, err := store.Increment(ctx, key); return err }

	const workers, round = 32, 128
	run := func(f func(string) error, key string, n int) time.Duration {
		var wg sync.WaitGroup
		var next atomic.Int64
		start := time.Now()
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for next.Add(1) <= int64(n) {
					if err := f(key); err != nil {
						b.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		return time.Since(start)
	}
	calls := []func(string) error{raw, rawAdd, lib}
	keys := []string{"raw", "raw-add", "lib"}
	var times [3]time.Duration
	for i, f := range calls {
		run(f, "warm-"+keys[i], 64)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for done, r := 0, 0; done < b.N; done, r = done+round, r+1 {
		n := min(round, b.N-done)
		for j := range calls {
			i := (j + r) % len(calls)
			times[i] += run(calls[i], keys[i], n)
		}
	}
	b.StopTimer()
	if got, _ := store.Count(ctx, "lib"); got != int64(b.N) {
		b.Fatalf("library count = %d, want %d", got, b.N)
	}
	b.ReportMetric(float64(b.N)/times[2].Seconds(), "lib-inc/s")
	b.ReportMetric(times[0].Seconds()/times[2].Seconds(), "lib/raw")
	b.ReportMetric(times[1].Seconds()/times[2].Seconds(), "lib/raw-add")
}

// BenchmarkDynamoVisitLatency (issue 17, goal 2) measures how long one
// visit waits with visitors on, through the fault proxy adding a fixed 5 ms
// to every call (a region's round trip, so that the sequential round trips
// show), beside the seed's single UpdateItem through the same proxy in the
// same run, call by call: a returning visitor and a new visitor, each with
// a visit id as counter.js sends. The ratios returning/seed and new/seed
// are the targets (≤ 2).
func BenchmarkDynamoVisitLatency(b *testing.B) {
	client := testenvDynalite(b)
	table := testenvTable(b, client)
	proxy := faultproxy.New(b, testenv.DynaliteEndpoint(b))
	proxy.SetDelay(5 * time.Millisecond)
	slow := testenv.DynamoClient(proxy.URL())
	store := counter.NewDynamo(slow, counter.DynamoOptions{Table: table})
	ctx := context.Background()
	seedValues := map[string]types.AttributeValue{
		":n":     &types.AttributeValueMemberN{Value: "1"},
		":start": &types.AttributeValueMemberN{Value: "0"},
		":type":  &types.AttributeValueMemberS{Value: "N"},
		":lim":   &types.AttributeValueMemberN{Value: strconv.FormatInt(math.MaxInt64-1, 10)},
	}
	seed := func() error {
		_, err := slow.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                 aws.String(table),
			Key:                       map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: "seed"}},
			UpdateExpression:          aws.String(counter.DynamoUpdateExpression),
			ConditionExpression:       aws.String(counter.DynamoConditionExpression),
			ExpressionAttributeNames:  map[string]string{"#c": "count", "#bad": counter.DynamoBadCountAttribute},
			ExpressionAttributeValues: seedValues,
			ReturnValues:              types.ReturnValueUpdatedNew,
		})
		return err
	}
	day := counter.Date("2026-12-01")
	n := 0
	visitOf := func(visitor counter.VisitorID) error {
		n++
		_, counted, err := store.RecordVisit(ctx, counter.Visit{Key: "visits", Date: day, Visitor: visitor,
			ID: "view-" + strconv.Itoa(n), Time: day.Time().Add(12 * time.Hour)})
		if err == nil && !counted {
			err = errors.New("not counted")
		}
		return err
	}
	returning := func() error { return visitOf(vid(0)) }
	newVisitor := func() error { return visitOf(vid(n + 1)) }
	// Warm up: connections, the day begun, visitor 0 seen.
	for _, f := range []func() error{seed, returning, returning, newVisitor} {
		if err := f(); err != nil {
			b.Fatal(err)
		}
	}
	calls := []func() error{seed, returning, newVisitor}
	var times [3]time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		for j := range calls {
			k := (i + j) % len(calls) // rotate, so drift hits all alike
			start := time.Now()
			if err := calls[k](); err != nil {
				b.Fatal(err)
			}
			times[k] += time.Since(start)
		}
	}
	b.StopTimer()
	ms := func(d time.Duration) float64 { return d.Seconds() * 1000 / float64(b.N) }
	b.ReportMetric(ms(times[0]), "seed-ms")
	b.ReportMetric(ms(times[1]), "returning-ms")
	b.ReportMetric(ms(times[2]), "new-ms")
	b.ReportMetric(times[1].Seconds()/times[0].Seconds(), "returning/seed")
	b.ReportMetric(times[2].Seconds()/times[0].Seconds(), "new/seed")
}
