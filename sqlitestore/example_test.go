package sqlitestore_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/resumecounter/counter"
	"github.com/resumecounter/counter/sqlitestore"
)

func ExampleOpen() {
	dir, err := os.MkdirTemp("", "counter")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "counter.sqlite")

	store, err := sqlitestore.Open(path, sqlitestore.Options{})
	if err != nil {
		log.Fatal(err)
	}
	n, err := store.Increment(context.Background(), "visitors") // on disk when it returns
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("visit", n)
	store.Close()

	store, err = sqlitestore.Open(path, sqlitestore.Options{}) // a restart keeps the count
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

func ExampleStore_RecordVisit() {
	dir, err := os.MkdirTemp("", "counter")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	// A fixed clock, so that the example's day is today for the store.
	noon := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	store, err := sqlitestore.Open(filepath.Join(dir, "counter.sqlite"), sqlitestore.Options{Now: func() time.Time { return noon }})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	// counter.NewVisitors computes visitor ids; here two made-up ones.
	ctx, day := context.Background(), counter.Date("2026-12-01")
	for _, who := range []byte{1, 2, 1} {
		v := counter.Visit{Key: "home", Date: day, Visitor: counter.VisitorID{who}}
		if _, _, err := store.RecordVisit(ctx, v); err != nil {
			log.Fatal(err)
		}
	}
	st, _ := store.Stats(ctx, "home", day)
	fmt.Printf("%d hits, %d visitors; today %d and %d\n", st.Count, st.Visitors, st.Today.Count, st.Today.Visitors)
	// Output:
	// 3 hits, 2 visitors; today 3 and 2
}
