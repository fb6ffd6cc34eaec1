package counter_test

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/resumecounter/counter"
)

// A Group folds increments of a key that arrive while a write is in flight
// into the next write; every visit still gets its own number.
func ExampleGroup() {
	g := counter.NewGroup(counter.NewMemory())
	defer g.Close()
	ctx := context.Background()
	numbers := make([]int64, 100)
	var wg sync.WaitGroup
	for i := range numbers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			numbers[i], _ = g.Increment(ctx, "visitors")
		}()
	}
	wg.Wait()
	slices.Sort(numbers)
	fmt.Println("lowest", numbers[0], "highest", numbers[99], "distinct", len(slices.Compact(numbers)))
	n, _ := g.Count(ctx, "visitors")
	fmt.Println("count", n)
	// Output:
	// lowest 1 highest 100 distinct 100
	// count 100
}

// For one key hit by many processes at once (say Lambda instances), shards
// spread its writes over several items, and a Group in each process folds
// concurrent visits so one write and one read serve a whole batch. (The
// tests run this example against dynalite, through the same environment
// variables that point a program at AWS.)
func ExampleNewGroup() {
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		panic(err)
	}
	store := counter.NewDynamo(dynamodb.NewFromConfig(cfg), counter.DynamoOptions{
		Shards: 4, // items visitors, visitors#1, visitors#2, visitors#3: up to about 4,000 writes/s
	})
	g := counter.NewGroup(store)
	defer g.Close()
	before, err := g.Count(ctx, "visitors")
	if err != nil {
		panic(err)
	}
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := g.Increment(ctx, "visitors"); err != nil {
				panic(err)
			}
		}()
	}
	wg.Wait()
	after, err := g.Count(ctx, "visitors")
	if err != nil {
		panic(err)
	}
	fmt.Println(after-before, "visits counted")
	// Output: 10 visits counted
}
