package pgstore_test

import (
	"context"
	"log"
	"net/http"
	"os"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/resumecounter/counter"
	"github.com/resumecounter/counter/pgstore"
)

// Open connects, creates the tables if missing and serves counts: the way
// the counter command uses COUNTER_DATABASE_URL. (Compile-only: it needs a
// PostgreSQL server.)
func ExampleOpen() {
	ctx := context.Background()
	store, err := pgstore.Open(ctx, os.Getenv("COUNTER_DATABASE_URL"), pgstore.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	http.Handle("/api/{key}", counter.JSONHandler(store, counter.HandlerOptions{}))
	log.Fatal(http.ListenAndServe("127.0.0.1:8080", nil))
}

// New uses a pool the application already has, with tables of their own
// prefix. (Compile-only: it needs a PostgreSQL server.)
func ExampleNew() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, "postgres://app@127.0.0.1:5432/app?sslmode=disable")
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()
	store, err := pgstore.New(pool, pgstore.Options{Prefix: "hits_"})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	if err := store.Migrate(ctx); err != nil { // or run store.Schema() in your migrations
		log.Fatal(err)
	}
	n, err := store.Increment(ctx, "home")
	if err != nil {
		log.Fatal(err)
	}
	log.Println("visit", n)
}
