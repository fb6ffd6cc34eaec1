package boltstore_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/resumecounter/counter/boltstore"
)

func ExampleOpen() {
	dir, err := os.MkdirTemp("", "counter")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "counter.db")

	store, err := boltstore.Open(path, boltstore.Options{})
	if err != nil {
		log.Fatal(err)
	}
	n, err := store.Increment(context.Background(), "visitors") // on disk when it returns
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("visit", n)
	store.Close()

	store, err = boltstore.Open(path, boltstore.Options{}) // a restart keeps the count
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	n, _ = store.Increment(context.Background(), "visitors")
	fmt.Println("visit", n)
	// Output:
	// visit 1
	// visit 2
}
