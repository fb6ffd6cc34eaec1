// Command benchhello is a hello-world net/http server: the anchor that
// internal/benchtable loads with wrk beside counter serve (cmd/counter), to show what
// the counter costs over the least a Go HTTP server does per request.
//
//	go run ./internal/benchhello -addr 127.0.0.1:8081
package main

import (
	"flag"
	"log"
	"net/http"
	"time"
)

var hello = []byte("Hello, world!\n")

func main() {
	addr := flag.String("addr", "127.0.0.1:8081", "address to listen on")
	flag.Parse()
	srv := &http.Server{
		Addr: *addr,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.Write(hello)
		}),
		ReadHeaderTimeout: 5 * time.Second,
	}
	log.Fatal(srv.ListenAndServe())
}
