package counter_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/resumecounter/counter"
)

// JSONHandler counts a visit per GET and answers the count as a JSON number;
// ?hit=false reads without counting, with an ETag for revalidation.
func ExampleJSONHandler() {
	h := counter.JSONHandler(counter.NewMemory(), counter.HandlerOptions{})
	for _, target := range []string{"/", "/", "/?hit=false"} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", target, nil))
		fmt.Println(target, w.Code, w.Body)
		fmt.Println("  Content-Type:", w.Header().Get("Content-Type"))
		fmt.Println("  Cache-Control:", w.Header().Get("Cache-Control"))
		if etag := w.Header().Get("ETag"); etag != "" {
			fmt.Println("  ETag:", etag)
		}
	}
	// Output:
	// / 200 {"key":"visitors","count":1}
	//   Content-Type: application/json; charset=utf-8
	//   Cache-Control: no-cache, no-store, must-revalidate, max-age=0
	// / 200 {"key":"visitors","count":2}
	//   Content-Type: application/json; charset=utf-8
	//   Cache-Control: no-cache, no-store, must-revalidate, max-age=0
	// /?hit=false 200 {"key":"visitors","count":2}
	//   Content-Type: application/json; charset=utf-8
	//   Cache-Control: no-cache
	//   ETag: "ececbf2b61bf8146"
}

// Mounted on a pattern with {key}, the handlers count one key per path.
// AllowedOrigins lets the page at https://me.example read the JSON.
func ExampleJSONHandler_serveMux() {
	store := counter.NewMemory()
	opts := counter.HandlerOptions{AllowedOrigins: []string{"https://me.example"}}
	mux := http.NewServeMux()
	mux.Handle("/api/{key}", counter.JSONHandler(store, opts))
	mux.Handle("/badge/{key}", counter.BadgeHandler(store, opts))

	r := httptest.NewRequest("GET", "/api/home", nil)
	r.Header.Set("Origin", "https://me.example")
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, r)
	fmt.Println(w.Code, w.Body)
	fmt.Println("Access-Control-Allow-Origin:", w.Header().Get("Access-Control-Allow-Origin"))
	fmt.Println("Vary:", w.Header().Get("Vary"))

	w = httptest.NewRecorder()
	mux.ServeHTTP(w, httptest.NewRequest("GET", "/badge/home?style=flat-square", nil))
	fmt.Println(w.Code, w.Header().Get("Content-Type"), strings.HasPrefix(w.Body.String(), "<svg"))

	w = httptest.NewRecorder()
	mux.ServeHTTP(w, httptest.NewRequest("GET", "/api/home?hit=false", nil))
	fmt.Println(w.Code, w.Body)
	// Output:
	// 200 {"key":"home","count":1}
	// Access-Control-Allow-Origin: https://me.example
	// Vary: Origin
	// 200 image/svg+xml true
	// 200 {"key":"home","count":2}
}

// BadgeHandler answers every request with an SVG, errors included, so an
// <img> always shows a badge.
func ExampleBadgeHandler() {
	h := counter.BadgeHandler(counter.NewMemory(), counter.HandlerOptions{Label: "views", Color: "green"})
	for _, target := range []string{"/?style=for-the-badge", "/?color=not-a-colour"} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", target, nil))
		fmt.Println(w.Code, w.Header().Get("Content-Type"), w.Header().Get("Content-Security-Policy"))
	}
	// Output:
	// 200 image/svg+xml default-src 'none'; style-src 'unsafe-inline'
	// 400 image/svg+xml default-src 'none'; style-src 'unsafe-inline'
}
