package redisstore_test

import (
	"context"
	"log"
	"net/http"
	"os"

	"github.com/redis/go-redis/v9"

	"github.com/resumecounter/counter"
	"github.com/resumecounter/counter/redisstore"
)

// Open reads a server's URL (redis://host:port/0) or a cluster's
// (redis://host:p1?addr=host:p2&addr=host:p3): the way the counter command
// uses COUNTER_REDIS_URL. (Compile-only: it needs a Redis server.)
func ExampleOpen() {
	store, err := redisstore.Open(context.Background(), os.Getenv("COUNTER_REDIS_URL"), redisstore.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	http.Handle("/api/{key}", counter.JSONHandler(store, counter.HandlerOptions{}))
	log.Fatal(http.ListenAndServe("127.0.0.1:8080", nil))
}

// New takes any redis.UniversalClient; a cluster client works unchanged.
// MaxRetries -1: a command whose answer was lost is not sent again, so a
// visit never counts twice. (Compile-only: it needs a Redis Cluster.)
func ExampleNew() {
	client := redis.NewClusterClient(&redis.ClusterOptions{
		Addrs:      []string{"10.0.0.1:6379", "10.0.0.2:6379", "10.0.0.3:6379"},
		MaxRetries: -1,
	})
	defer client.Close()
	store, err := redisstore.New(client, redisstore.Options{})
	if err != nil {
		log.Fatal(err)
	}
	n, err := store.Increment(context.Background(), "home")
	if err != nil {
		log.Fatal(err)
	}
	log.Println("visit", n)
}
