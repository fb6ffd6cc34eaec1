package counter_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/resumecounter/counter"
)

// Visitors over the memory store, behind the JSON handler: a reload is a
// hit but not another visitor, a bot is answered without counting (the
// header says why), and GitHub's image proxy counts a README view as a hit.
func ExampleNewVisitors() {
	clock := func() time.Time { return time.Date(2026, 12, 1, 9, 30, 0, 0, time.UTC) }
	visitors := counter.NewVisitors(counter.NewMemory(), counter.VisitorOptions{Now: clock})
	mux := http.NewServeMux()
	mux.Handle("/api/{key}", counter.JSONHandler(visitors, counter.HandlerOptions{}))

	const firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
	for _, client := range []struct{ addr, userAgent string }{
		{"192.0.2.1:50000", firefox},                  // a visitor
		{"192.0.2.1:50001", firefox},                  // the same visitor reloads
		{"198.51.100.7:443", firefox},                 // another visitor
		{"203.0.113.5:1234", "curl/8.11.0"},           // a program
		{"140.82.115.1:80", "github-camo (876de43e)"}, // a README view on GitHub
	} {
		r := httptest.NewRequest(http.MethodGet, "/api/home", nil)
		r.RemoteAddr = client.addr
		r.Header.Set("User-Agent", client.userAgent)
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, r)
		if why := w.Header().Get("Counter-Not-Counted"); why != "" {
			fmt.Println(w.Body.String(), "not counted:", why)
		} else {
			fmt.Println(w.Body.String())
		}
	}
	s, _ := visitors.Stats(context.Background(), "home")
	fmt.Printf("%d hits, %d visitors\n", s.Count, s.Visitors)
	// Output:
	// {"key":"home","count":1,"visitors":1,"today":{"date":"2026-12-01","count":1,"visitors":1}}
	// {"key":"home","count":2,"visitors":1,"today":{"date":"2026-12-01","count":2,"visitors":1}}
	// {"key":"home","count":3,"visitors":2,"today":{"date":"2026-12-01","count":3,"visitors":2}}
	// {"key":"home","count":3,"visitors":2,"today":{"date":"2026-12-01","count":3,"visitors":2}} not counted: bot
	// {"key":"home","count":4,"visitors":2,"today":{"date":"2026-12-01","count":4,"visitors":2}}
	// 4 hits, 2 visitors
}

// ClientAddr behind one trusted proxy: the entry the proxy appended to
// X-Forwarded-For, not the one the client wrote itself.
func ExampleClientAddr() {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.RemoteAddr = "10.0.0.2:41000" // the proxy
	r.Header.Set("X-Forwarded-For", "6.6.6.6, 198.51.100.7")
	fmt.Println(counter.ClientAddr(r, 0))
	fmt.Println(counter.ClientAddr(r, 1))
	// Output:
	// 10.0.0.2
	// 198.51.100.7
}

// The badge's show parameter draws today's hits beside the total.
func ExampleBadgeHandler_show() {
	clock := func() time.Time { return time.Date(2026, 12, 1, 9, 30, 0, 0, time.UTC) }
	visitors := counter.NewVisitors(counter.NewMemory(), counter.VisitorOptions{Now: clock})
	h := counter.JSONHandler(visitors, counter.HandlerOptions{DefaultKey: "home"})
	for i := range 3 {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = fmt.Sprintf("192.0.2.%d:1", i+1)
		r.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0")
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/?format=shields&show=today-visitors/count", nil))
	fmt.Println(w.Body.String(), w.Header().Get("Counter-Not-Counted"))
	// Output:
	// {"schemaVersion":1,"label":"visitors today / hits","message":"3 / 3","color":"blue"} read-only
}
