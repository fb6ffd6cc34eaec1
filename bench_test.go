package counter_test

import (
	"context"
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
