// Command echo is a Lambda function, served through lambdahttp, that answers
// with what it saw of the request, for the tests under the emulator. With
// ?binary=1 it answers the request body as application/octet-stream.
package main

import (
	"encoding/json"
	"io"
	"net/http"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/resumecounter/counter/lambdahttp"
)

func main() {
	lambda.Start(lambdahttp.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		http.SetCookie(w, &http.Cookie{Name: "a", Value: "1", Path: "/"})
		http.SetCookie(w, &http.Cookie{Name: "b", Value: "2", HttpOnly: true})
		w.Header().Add("Vary", "Origin")
		w.Header().Add("Vary", "Accept-Encoding")
		if r.URL.Query().Get("binary") == "1" {
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Write(body)
			return
		}
		cookies := map[string]string{}
		for _, c := range r.Cookies() {
			cookies[c.Name] = c.Value
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		json.NewEncoder(w).Encode(map[string]any{
			"method":  r.Method,
			"path":    r.URL.Path,
			"query":   r.URL.Query(),
			"host":    r.Host,
			"header":  r.Header,
			"cookies": cookies,
			"body":    body, // base64 in JSON
		})
	})))
}
