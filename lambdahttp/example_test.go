package lambdahttp_test

import (
	"context"
	"fmt"
	"net/http"

	"github.com/aws/aws-lambda-go/events"

	"github.com/resumecounter/counter"
	"github.com/resumecounter/counter/lambdahttp"
)

// A Lambda function serving counters behind a Function URL or an HTTP API
// calls lambda.Start(lambdahttp.Handler(mux)). Here the handler is invoked
// directly with the event Lambda would pass.
func ExampleHandler() {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /hello/{name}", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "seen", Value: "1"})
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintf(w, "hello %s (%s)", r.PathValue("name"), r.URL.Query().Get("lang"))
	})
	handler := lambdahttp.Handler(mux) // lambda.Start(handler) in main

	resp, err := handler(context.Background(), events.APIGatewayV2HTTPRequest{
		RawPath:        "/hello/gopher",
		RawQueryString: "lang=en",
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "GET"},
		},
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(resp.StatusCode, resp.Headers["Content-Type"], resp.Cookies)
	fmt.Println(resp.Body)
	// Output:
	// 200 text/plain; charset=utf-8 [seen=1]
	// hello gopher (en)
}

// Counters and badges from the root package work unchanged; binary answers
// would be base64-encoded, SVG and JSON travel as text.
func ExampleHandler_counter() {
	store := counter.NewMemory()
	mux := http.NewServeMux()
	mux.Handle("GET /api/{key}", counter.JSONHandler(store, counter.HandlerOptions{}))
	handler := lambdahttp.Handler(mux)

	for range 2 {
		resp, _ := handler(context.Background(), events.APIGatewayV2HTTPRequest{RawPath: "/api/visitors"})
		fmt.Println(resp.StatusCode, resp.IsBase64Encoded)
	}
	n, _ := store.Count(context.Background(), "visitors")
	fmt.Println(n)
	// Output:
	// 200 false
	// 200 false
	// 2
}
