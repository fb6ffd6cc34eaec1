// Package lambdahttp serves an [http.Handler] from AWS Lambda behind a
// Lambda Function URL in BUFFERED invoke mode (the default) or an API Gateway
// HTTP API with payload format 2.0. Both send the same event and expect the
// same answer, [events.APIGatewayV2HTTPRequest] and
// [events.APIGatewayV2HTTPResponse]:
//
//	func main() {
//		mux := http.NewServeMux()
//		mux.Handle("GET /api/{key}", counter.JSONHandler(store, counter.HandlerOptions{}))
//		lambda.Start(lambdahttp.Handler(mux))
//	}
//
// The handler sees a request as net/http's server would build it: the path
// and query string as sent (rawPath, rawQueryString), the event's cookies as
// one Cookie header, the body decoded from base64 when the event says so, the
// Host header, and the Lambda context (with its deadline) as the request's
// context. Request headers that the client repeated arrive joined by commas,
// as AWS delivers them; RFC 9110 makes that equivalent to the repeated lines.
// RemoteAddr is the client's address with port 0; r.TLS is nil although
// Function URLs answer only HTTPS (X-Forwarded-Proto says https).
//
// The answer keeps the status (200 when the handler sets none), every header
// (several values of one header joined by commas, as payload 2.0 requires),
// each Set-Cookie header as an element of cookies, and the body: as text when
// its Content-Type is textual (text/*, JSON, XML, SVG, JavaScript, form data)
// and it is valid UTF-8, base64-encoded otherwise. A Content-Type the handler
// leaves unset is sniffed from the body, as net/http does. Lambda limits an
// answer to 6 MB, which base64 reaches with 4.5 MB of binary body.
//
// An event that cannot be a request (a body that is not valid base64, a
// malformed path or method) is answered 400 Bad Request without calling the
// handler; a handler that panics is answered 500 Internal Server Error. Both
// are logged with [log/slog]; neither is reported to Lambda as a function
// error, so clients get a status they can act on instead of a 502.
//
// # Response streaming
//
// A Function URL in RESPONSE_STREAM invoke mode sends the same event but
// expects a streamed answer; for it use aws-lambda-go's lambdaurl package
// instead, which streams what the handler writes:
//
//	lambdaurl.Start(mux) // github.com/aws/aws-lambda-go/lambdaurl
//
// lambdaurl answers only streaming Function URLs (not buffered ones, not API
// Gateway), and it does not pass the event's cookies to the handler.
package lambdahttp

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"runtime/debug"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
)

// Handler returns a Lambda handler, for lambda.Start, that serves each
// payload-2.0 event through h.
func Handler(h http.Handler) func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	return func(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		r, err := Request(ctx, ev)
		if err != nil {
			slog.WarnContext(ctx, "lambdahttp: bad request event", "err", err, "requestId", ev.RequestContext.RequestID)
			return plain(http.StatusBadRequest), nil
		}
		return serve(h, r), nil
	}
}

// Request builds the request that [Handler] passes to the handler for ev.
// Its context is ctx. The error says why ev cannot be a request.
func Request(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (*http.Request, error) {
	method := ev.RequestContext.HTTP.Method
	if method == "" {
		method = http.MethodGet
	}
	if !validToken(method) {
		return nil, fmt.Errorf("lambdahttp: invalid method %q", method)
	}
	path := ev.RawPath
	if path == "" {
		path = ev.RequestContext.HTTP.Path
	}
	if path == "" {
		path = "/"
	}
	if path[0] != '/' {
		return nil, fmt.Errorf("lambdahttp: invalid path %q", path)
	}
	target := path
	if ev.RawQueryString != "" {
		target += "?" + ev.RawQueryString
	}
	u, err := url.ParseRequestURI(target)
	if err != nil {
		return nil, fmt.Errorf("lambdahttp: invalid path or query: %w", err)
	}

	var body []byte
	if ev.IsBase64Encoded {
		if body, err = base64.StdEncoding.DecodeString(ev.Body); err != nil {
			return nil, fmt.Errorf("lambdahttp: body is not valid base64: %w", err)
		}
	} else {
		body = []byte(ev.Body)
	}

	header := make(http.Header, len(ev.Headers)+1)
	for k, v := range ev.Headers {
		if !validToken(k) {
			return nil, fmt.Errorf("lambdahttp: invalid header name %q", k)
		}
		header[textproto.CanonicalMIMEHeaderKey(k)] = []string{v}
	}
	if len(ev.Cookies) > 0 {
		cookies := strings.Join(ev.Cookies, "; ")
		if c := header.Get("Cookie"); c != "" {
			cookies = c + "; " + cookies
		}
		header.Set("Cookie", cookies)
	}
	host := header.Get("Host")
	if host == "" {
		host = ev.RequestContext.DomainName
	}
	header.Del("Host") // net/http moves it to Request.Host

	proto := ev.RequestContext.HTTP.Protocol
	major, minor, ok := http.ParseHTTPVersion(proto)
	if !ok {
		proto, major, minor = "HTTP/1.1", 1, 1
	}

	r := &http.Request{
		Method:        method,
		URL:           u,
		Proto:         proto,
		ProtoMajor:    major,
		ProtoMinor:    minor,
		Header:        header,
		Body:          http.NoBody,
		ContentLength: int64(len(body)),
		Host:          host,
		RemoteAddr:    net.JoinHostPort(ev.RequestContext.HTTP.SourceIP, "0"),
		RequestURI:    target,
	}
	if len(body) > 0 {
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	}
	return r.WithContext(ctx), nil
}

// serve runs h and converts what it wrote. A panic becomes a 500 answer.
func serve(h http.Handler, r *http.Request) (resp events.APIGatewayV2HTTPResponse) {
	w := &responseWriter{header: make(http.Header), head: r.Method == http.MethodHead}
	defer func() {
		if p := recover(); p != nil {
			slog.ErrorContext(r.Context(), "lambdahttp: handler panicked", "panic", fmt.Sprint(p), "method", r.Method, "path", r.URL.Path, "stack", string(debug.Stack()))
			resp = plain(http.StatusInternalServerError)
		}
	}()
	h.ServeHTTP(w, r)
	return w.response()
}

// responseWriter buffers a handler's answer the way net/http would send it:
// headers are fixed by the first WriteHeader or Write.
type responseWriter struct {
	header http.Header
	sent   http.Header // the header as of WriteHeader
	status int
	body   bytes.Buffer
	head   bool // a HEAD request: the body is dropped
}

func (w *responseWriter) Header() http.Header { return w.header }

func (w *responseWriter) WriteHeader(code int) {
	if w.sent != nil || code < 100 || code > 999 {
		return
	}
	if code < 200 { // informational answers cannot be buffered; wait for the final one
		return
	}
	w.status = code
	w.sent = w.header.Clone()
}

func (w *responseWriter) Write(p []byte) (int, error) {
	if w.sent == nil {
		w.WriteHeader(http.StatusOK)
	}
	if w.status == http.StatusNoContent || w.status == http.StatusNotModified {
		return 0, http.ErrBodyNotAllowed
	}
	if w.head {
		return len(p), nil
	}
	return w.body.Write(p)
}

func (w *responseWriter) response() events.APIGatewayV2HTTPResponse {
	if w.sent == nil {
		w.WriteHeader(http.StatusOK)
	}
	body := w.body.Bytes()
	if _, set := w.sent["Content-Type"]; !set && len(body) > 0 {
		w.sent.Set("Content-Type", http.DetectContentType(body))
	}
	resp := events.APIGatewayV2HTTPResponse{StatusCode: w.status, Headers: make(map[string]string, len(w.sent))}
	for k, vs := range w.sent {
		if len(vs) == 0 {
			continue // a nil value suppresses the header, as in net/http
		}
		if k == "Set-Cookie" {
			resp.Cookies = append(resp.Cookies, vs...)
			continue
		}
		resp.Headers[k] = strings.Join(vs, ",")
	}
	if len(body) > 0 {
		if isText(w.sent) && utf8.Valid(body) {
			resp.Body = string(body)
		} else {
			resp.Body = base64.StdEncoding.EncodeToString(body)
			resp.IsBase64Encoded = true
		}
	}
	return resp
}

// isText reports whether a body with header h can travel as a JSON string
// unchanged: its media type is textual and it is not content-encoded.
func isText(h http.Header) bool {
	if h.Get("Content-Encoding") != "" {
		return false
	}
	mt, _, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil {
		return false
	}
	switch {
	case strings.HasPrefix(mt, "text/"),
		strings.HasSuffix(mt, "+json"), strings.HasSuffix(mt, "+xml"):
		return true
	}
	switch mt {
	case "application/json", "application/xml", "application/javascript", "application/ecmascript",
		"application/x-www-form-urlencoded", "application/x-ndjson", "application/yaml", "application/toml":
		return true
	}
	return false
}

// plain is a short text answer with status code.
func plain(code int) events.APIGatewayV2HTTPResponse {
	return events.APIGatewayV2HTTPResponse{
		StatusCode: code,
		Headers: map[string]string{
			"Content-Type":           "text/plain; charset=utf-8",
			"X-Content-Type-Options": "nosniff",
		},
		Body: http.StatusText(code) + "\n",
	}
}

// validToken reports whether s is an HTTP token (RFC 9110 section 5.6.2),
// the syntax of methods and header names.
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x80 || !tokenChar[c] {
			return false
		}
	}
	return true
}

var tokenChar = func() (t [128]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()
