package counter_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/resumecounter/counter"
)

func ExampleMemory() {
	store := counter.NewMemory()
	ctx := context.Background()
	for range 3 {
		n, _ := store.Increment(ctx, "visitors")
		fmt.Println("visit", n)
	}
	n, _ := store.Count(ctx, "visitors") // reading does not count
	fmt.Println("count", n)
	// Output:
	// visit 1
	// visit 2
	// visit 3
	// count 3
}

func ExampleMemory_Add() {
	store := counter.NewMemory()
	n, _ := store.Add(context.Background(), "visitors", 1200) // carry over an old count
	fmt.Println(n)
	// Output: 1200
}

// A limit on distinct keys stops clients that invent keys (say one per
// query string) from growing a public counter's memory without bound.
func ExampleNewMemoryLimit() {
	store := counter.NewMemoryLimit(2)
	ctx := context.Background()
	for _, key := range []string{"home", "about", "spam-1", "home"} {
		n, err := store.Increment(ctx, key)
		fmt.Println(key, n, errors.Is(err, counter.ErrTooManyKeys))
	}
	// Output:
	// home 1 false
	// about 1 false
	// spam-1 0 true
	// home 2 false
}

func ExampleCheckKey() {
	for _, key := range []string{"visitors", "page:about", "../etc", ""} {
		fmt.Println(key, errors.Is(counter.CheckKey(key), counter.ErrInvalidKey))
	}
	// Output:
	// visitors false
	// page:about false
	// ../etc true
	//  true
}

// The zero DynamoOptions use the Cloud Resume Challenge schema: table
// cloud-resume-stats, partition key id, number attribute count. (The tests
// run this example against dynalite, through the same environment variables
// that point a program at AWS.)
func ExampleNewDynamo() {
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx) // region and credentials from the environment
	if err != nil {
		panic(err)
	}
	store := counter.NewDynamo(dynamodb.NewFromConfig(cfg), counter.DynamoOptions{
		Retry: counter.RetryUnsent, // never count a visit twice after an ambiguous failure
	})
	// Carry over the count shown by the counter this one replaces (what
	// `counter set visitors 1234` does).
	if _, err := store.SetCount(ctx, "visitors", 1234); err != nil {
		panic(err)
	}
	n, err := store.Increment(ctx, "visitors")
	if err != nil {
		panic(err)
	}
	fmt.Println(n)
	// Output: 1235
}
