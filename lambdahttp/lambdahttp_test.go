package lambdahttp_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/resumecounter/counter/lambdahttp"
)

// loadEvent reads a payload-2.0 event from testdata.
func loadEvent(t *testing.T, name string) events.APIGatewayV2HTTPRequest {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return ev
}

// seen is what a handler saw of a request.
type seen struct {
	Method, Path, RawPath, RawQuery, Host, RemoteAddr, RequestURI, Proto string
	Query                                                                map[string][]string
	Header                                                               http.Header
	Body                                                                 string
	ContentLength                                                        int64
}

func see(t *testing.T, r *http.Request) seen {
	t.Helper()
	body, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return seen{
		Method: r.Method, Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery,
		Host: r.Host, RemoteAddr: r.RemoteAddr, RequestURI: r.RequestURI, Proto: r.Proto,
		Query: r.URL.Query(), Header: r.Header, Body: string(body), ContentLength: r.ContentLength,
	}
}

func TestRequest(t *testing.T) {
	docHeader := http.Header{
		"Header1": {"value1"},
		"Header2": {"value1,value2"}, // repeated headers arrive comma-joined and stay so
		"Cookie":  {"cookie1; cookie2"},
	}
	docQuery := map[string][]string{"parameter1": {"value1", "value2"}, "parameter2": {"value"}}
	tests := []struct {
		name  string
		event func(t *testing.T) events.APIGatewayV2HTTPRequest
		want  seen
	}{
		{
			name:  "function URL (AWS documentation example)",
			event: func(t *testing.T) events.APIGatewayV2HTTPRequest { return loadEvent(t, "function-url.json") },
			want: seen{
				Method: "POST", Path: "/my/path", RawQuery: "parameter1=value1&parameter1=value2&parameter2=value",
				Host: "<url-id>.lambda-url.us-west-2.on.aws", RemoteAddr: "123.123.123.123:0",
				RequestURI: "/my/path?parameter1=value1&parameter1=value2&parameter2=value", Proto: "HTTP/1.1",
				Query: docQuery, Header: docHeader, Body: "Hello from client!", ContentLength: 18,
			},
		},
		{
			name:  "HTTP API (AWS documentation example)",
			event: func(t *testing.T) events.APIGatewayV2HTTPRequest { return loadEvent(t, "http-api.json") },
			want: seen{
				Method: "POST", Path: "/my/path", RawQuery: "parameter1=value1&parameter1=value2&parameter2=value",
				Host: "id.execute-api.us-east-1.amazonaws.com", RemoteAddr: "192.0.2.1:0",
				RequestURI: "/my/path?parameter1=value1&parameter1=value2&parameter2=value", Proto: "HTTP/1.1",
				Query: docQuery, Header: docHeader, Body: "Hello from Lambda", ContentLength: 17,
			},
		},
		{
			name: "base64 body, Host header, escaped path, cookie header joined with cookies",
			event: func(t *testing.T) events.APIGatewayV2HTTPRequest {
				return events.APIGatewayV2HTTPRequest{
					RawPath:         "/badge/a%2Fb",
					RawQueryString:  "q=%C3%A9&x",
					Cookies:         []string{"b=2", "c=3"},
					Headers:         map[string]string{"host": "counter.example.com", "cookie": "a=1", "x-forwarded-for": "198.51.100.7, 203.0.113.9", "content-type": "application/octet-stream"},
					Body:            base64.StdEncoding.EncodeToString([]byte{0, 1, 2, 0xff}),
					IsBase64Encoded: true,
					RequestContext: events.APIGatewayV2HTTPRequestContext{
						DomainName: "ignored.lambda-url.us-east-1.on.aws",
						HTTP:       events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "PUT", SourceIP: "2001:db8::1", Protocol: "HTTP/2.0"},
					},
				}
			},
			want: seen{
				Method: "PUT", Path: "/badge/a/b", RawPath: "/badge/a%2Fb", RawQuery: "q=%C3%A9&x",
				Host: "counter.example.com", RemoteAddr: "[2001:db8::1]:0", RequestURI: "/badge/a%2Fb?q=%C3%A9&x", Proto: "HTTP/2.0",
				Query: map[string][]string{"q": {"é"}, "x": {""}},
				Header: http.Header{
					"Cookie":          {"a=1; b=2; c=3"},
					"X-Forwarded-For": {"198.51.100.7, 203.0.113.9"},
					"Content-Type":    {"application/octet-stream"},
				},
				Body: "\x00\x01\x02\xff", ContentLength: 4,
			},
		},
		{
			name: "empty event: GET / with no body",
			event: func(t *testing.T) events.APIGatewayV2HTTPRequest {
				return events.APIGatewayV2HTTPRequest{}
			},
			want: seen{
				Method: "GET", Path: "/", RemoteAddr: ":0", RequestURI: "/", Proto: "HTTP/1.1",
				Query: map[string][]string{}, Header: http.Header{},
			},
		},
		{
			name: "path from requestContext when rawPath is missing",
			event: func(t *testing.T) events.APIGatewayV2HTTPRequest {
				return events.APIGatewayV2HTTPRequest{RequestContext: events.APIGatewayV2HTTPRequestContext{
					HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "HEAD", Path: "/api/visitors"},
				}}
			},
			want: seen{
				Method: "HEAD", Path: "/api/visitors", RemoteAddr: ":0", RequestURI: "/api/visitors", Proto: "HTTP/1.1",
				Query: map[string][]string{}, Header: http.Header{},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			r, err := lambdahttp.Request(ctx, tt.event(t))
			if err != nil {
				t.Fatal(err)
			}
			if r.Context() != ctx {
				t.Error("the request does not carry the Lambda context")
			}
			if got := see(t, r); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("request\n got %+v\nwant %+v", got, tt.want)
			}
			if tt.want.ContentLength > 0 {
				b, _ := r.GetBody()
				if again, _ := io.ReadAll(b); string(again) != tt.want.Body {
					t.Errorf("GetBody = %q, want %q", again, tt.want.Body)
				}
			}
		})
	}
}

func TestRequestErrors(t *testing.T) {
	get := events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "GET"}
	tests := []struct {
		name  string
		event events.APIGatewayV2HTTPRequest
	}{
		{"body not base64", events.APIGatewayV2HTTPRequest{RawPath: "/", Body: "not base64!", IsBase64Encoded: true}},
		{"method with a space", events.APIGatewayV2HTTPRequest{RawPath: "/", RequestContext: events.APIGatewayV2HTTPRequestContext{HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "GE T"}}}},
		{"relative path", events.APIGatewayV2HTTPRequest{RawPath: "api/x", RequestContext: events.APIGatewayV2HTTPRequestContext{HTTP: get}}},
		{"bad escape in path", events.APIGatewayV2HTTPRequest{RawPath: "/%zz", RequestContext: events.APIGatewayV2HTTPRequestContext{HTTP: get}}},
		{"header name with a space", events.APIGatewayV2HTTPRequest{RawPath: "/", Headers: map[string]string{"bad name": "x"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := lambdahttp.Request(context.Background(), tt.event); err == nil {
				t.Fatal("no error")
			}
			called := false
			h := lambdahttp.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { called = true }))
			resp, err := h(context.Background(), tt.event)
			if err != nil {
				t.Fatalf("a bad event must be answered, not fail the invocation: %v", err)
			}
			if called {
				t.Error("the handler was called for a bad event")
			}
			if resp.StatusCode != http.StatusBadRequest || resp.Body != "Bad Request\n" {
				t.Errorf("response = %d %q, want 400 %q", resp.StatusCode, resp.Body, "Bad Request\n")
			}
		})
	}
}

func TestHandlerResponse(t *testing.T) {
	png := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
	svg := `<svg xmlns="http://www.w3.org/2000/svg" width="80" height="20"><text>visitors: 1,234</text></svg>`
	tests := []struct {
		name    string
		method  string
		handler http.HandlerFunc
		want    events.APIGatewayV2HTTPResponse
	}{
		{
			name: "JSON is text",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json; charset=utf-8")
				fmt.Fprint(w, `{"key":"visitors","count":1234}`)
			},
			want: events.APIGatewayV2HTTPResponse{StatusCode: 200, Headers: map[string]string{"Content-Type": "application/json; charset=utf-8"}, Body: `{"key":"visitors","count":1234}`},
		},
		{
			name: "SVG is text",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "image/svg+xml")
				w.Header().Set("Cache-Control", "no-cache")
				fmt.Fprint(w, svg)
			},
			want: events.APIGatewayV2HTTPResponse{StatusCode: 200, Headers: map[string]string{"Content-Type": "image/svg+xml", "Cache-Control": "no-cache"}, Body: svg},
		},
		{
			name: "PNG is base64",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "image/png")
				w.Write(png)
			},
			want: events.APIGatewayV2HTTPResponse{StatusCode: 200, Headers: map[string]string{"Content-Type": "image/png"}, Body: base64.StdEncoding.EncodeToString(png), IsBase64Encoded: true},
		},
		{
			name: "text that is not UTF-8 is base64",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/plain; charset=iso-8859-1")
				fmt.Fprint(w, "caf\xe9")
			},
			want: events.APIGatewayV2HTTPResponse{StatusCode: 200, Headers: map[string]string{"Content-Type": "text/plain; charset=iso-8859-1"}, Body: base64.StdEncoding.EncodeToString([]byte("caf\xe9")), IsBase64Encoded: true},
		},
		{
			name: "content-encoded JSON is base64",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.Header().Set("Content-Encoding", "br")
				fmt.Fprint(w, "abc")
			},
			want: events.APIGatewayV2HTTPResponse{StatusCode: 200, Headers: map[string]string{"Content-Type": "application/json", "Content-Encoding": "br"}, Body: "YWJj", IsBase64Encoded: true},
		},
		{
			name:    "unset Content-Type is sniffed: text",
			handler: func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "hello") },
			want:    events.APIGatewayV2HTTPResponse{StatusCode: 200, Headers: map[string]string{"Content-Type": "text/plain; charset=utf-8"}, Body: "hello"},
		},
		{
			name:    "unset Content-Type is sniffed: binary",
			handler: func(w http.ResponseWriter, r *http.Request) { w.Write([]byte{0, 1, 2}) },
			want:    events.APIGatewayV2HTTPResponse{StatusCode: 200, Headers: map[string]string{"Content-Type": "application/octet-stream"}, Body: "AAEC", IsBase64Encoded: true},
		},
		{
			name: "nil Content-Type suppresses sniffing",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header()["Content-Type"] = nil
				fmt.Fprint(w, "x")
			},
			want: events.APIGatewayV2HTTPResponse{StatusCode: 200, Headers: map[string]string{}, Body: "eA==", IsBase64Encoded: true},
		},
		{
			name: "multi-value headers are comma-joined, Set-Cookie goes to cookies",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Add("Vary", "Origin")
				w.Header().Add("Vary", "Accept")
				http.SetCookie(w, &http.Cookie{Name: "seen", Value: "1", Path: "/", HttpOnly: true})
				http.SetCookie(w, &http.Cookie{Name: "theme", Value: "dark", Expires: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)})
				w.WriteHeader(http.StatusCreated)
			},
			want: events.APIGatewayV2HTTPResponse{
				StatusCode: 201,
				Headers:    map[string]string{"Vary": "Origin,Accept"},
				Cookies:    []string{"seen=1; Path=/; HttpOnly", "theme=dark; Expires=Wed, 02 Jan 2030 03:04:05 GMT"},
			},
		},
		{
			name:    "a handler that writes nothing answers 200",
			handler: func(w http.ResponseWriter, r *http.Request) {},
			want:    events.APIGatewayV2HTTPResponse{StatusCode: 200, Headers: map[string]string{}},
		},
		{
			name: "the first status wins; header changes after it are dropped",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/plain; charset=utf-8")
				w.WriteHeader(http.StatusNotFound)
				w.WriteHeader(http.StatusOK)
				w.Header().Set("X-Late", "1")
				fmt.Fprint(w, "no such key\n")
			},
			want: events.APIGatewayV2HTTPResponse{StatusCode: 404, Headers: map[string]string{"Content-Type": "text/plain; charset=utf-8"}, Body: "no such key\n"},
		},
		{
			name: "informational status is skipped",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusEarlyHints)
				w.WriteHeader(http.StatusAccepted)
			},
			want: events.APIGatewayV2HTTPResponse{StatusCode: 202, Headers: map[string]string{}},
		},
		{
			name: "no body on 204",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusNoContent)
				if _, err := w.Write([]byte("x")); !errors.Is(err, http.ErrBodyNotAllowed) {
					panic("Write on 204 did not fail")
				}
			},
			want: events.APIGatewayV2HTTPResponse{StatusCode: 204, Headers: map[string]string{}},
		},
		{
			name:   "HEAD drops the body but keeps its headers",
			method: "HEAD",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "image/svg+xml")
				fmt.Fprint(w, svg)
			},
			want: events.APIGatewayV2HTTPResponse{StatusCode: 200, Headers: map[string]string{"Content-Type": "image/svg+xml"}},
		},
		{
			name: "a panic answers 500 without its text",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("X-Partial", "1")
				panic("secret internal detail")
			},
			want: events.APIGatewayV2HTTPResponse{StatusCode: 500, Headers: map[string]string{"Content-Type": "text/plain; charset=utf-8", "X-Content-Type-Options": "nosniff"}, Body: "Internal Server Error\n"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := tt.method
			if method == "" {
				method = "GET"
			}
			ev := events.APIGatewayV2HTTPRequest{RawPath: "/", RequestContext: events.APIGatewayV2HTTPRequestContext{HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: method}}}
			got, err := lambdahttp.Handler(tt.handler)(context.Background(), ev)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("response\n got %#v\nwant %#v", got, tt.want)
			}
		})
	}
}

// The answer must survive the trip through JSON that Lambda makes: a text
// body arrives byte for byte, a binary one decodes to the bytes written.
func TestHandlerResponseJSONRoundTrip(t *testing.T) {
	for _, body := range [][]byte{[]byte("<svg>é ✓</svg>"), {0xff, 0xfe, 0, 'a'}, []byte("\"quotes\" \\ and \u2028")} {
		h := lambdahttp.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "image/svg+xml")
			w.Write(body)
		}))
		resp, err := h(context.Background(), events.APIGatewayV2HTTPRequest{})
		if err != nil {
			t.Fatal(err)
		}
		wire, err := json.Marshal(resp)
		if err != nil {
			t.Fatal(err)
		}
		var back events.APIGatewayV2HTTPResponse
		if err := json.Unmarshal(wire, &back); err != nil {
			t.Fatal(err)
		}
		got := []byte(back.Body)
		if back.IsBase64Encoded {
			if got, err = base64.StdEncoding.DecodeString(back.Body); err != nil {
				t.Fatal(err)
			}
		}
		if string(got) != string(body) {
			t.Errorf("body %q arrived as %q (base64 %v)", body, got, back.IsBase64Encoded)
		}
	}
}
