// Command server is the smallest visit counter server worth copying: JSON
// at /api/{key}, SVG badges at /badge/{key}, counts kept in a bbolt file.
// The counter command (cmd/counter) is the full server, with settings,
// rate limits, DynamoDB and graceful shutdown.
//
//	go run ./examples/server
package main

import (
	"log"
	"net/http"
	"time"

	"github.com/resumecounter/counter"
	"github.com/resumecounter/counter/boltstore"
)

// dataFile is where the example keeps counts: a name of its own, so that it
// never waits on the lock of counter serve's counter.db in the same folder.
const dataFile = "example-server.db"

func main() {
	// counter.NewMemory() instead keeps counts only while the process runs.
	store, err := boltstore.Open(dataFile, boltstore.Options{})
	if err != nil {
		log.Fatal(err)
	}

	// Unique visitors and today's numbers, where the store keeps them.
	var counted counter.Incrementer = store
	if vs, ok := any(store).(counter.VisitStore); ok {
		counted = counter.NewVisitors(vs, counter.VisitorOptions{})
	}
	opts := counter.HandlerOptions{
		AllowedOrigins: []string{"http://localhost:8080"}, // your site's origin
	}
	mux := http.NewServeMux()
	mux.Handle("/api/{key}", counter.JSONHandler(counted, opts))
	mux.Handle("/badge/{key}", counter.BadgeHandler(counted, opts))

	srv := &http.Server{
		Addr:              "localhost:8080",
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		WriteTimeout:      15 * time.Second,
	}
	log.Printf("counting at http://%s/api/visitors and /badge/visitors", srv.Addr)
	err = srv.ListenAndServe()
	_ = store.Close() // every count is already on disk
	log.Fatal(err)
}
