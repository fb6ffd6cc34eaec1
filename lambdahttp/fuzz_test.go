package lambdahttp_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"

	"github.com/resumecounter/counter/lambdahttp"
)

// FuzzAdapter feeds arbitrary event JSON through Handler. The adapter must
// never panic, must answer bad events with 400 without calling the handler,
// must hand the handler exactly the decoded body, and must produce an answer
// whose body decodes back to what the handler wrote.
func FuzzAdapter(f *testing.F) {
	for _, name := range []string{"function-url.json", "http-api.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"rawPath":"/a%2Fb","rawQueryString":"x=%zz","body":"AAEC/w==","isBase64Encoded":true,"cookies":["a=1"],"headers":{"cookie":"b=2","host":"h"}}`))
	f.Add([]byte(`{"rawPath":"//x","requestContext":{"http":{"method":"HEAD","protocol":"HTTP/9"}}}`))
	f.Add([]byte(`{"rawPath":"/","body":"not base64","isBase64Encoded":true}`))

	f.Fuzz(func(t *testing.T, data []byte) {
		var ev events.APIGatewayV2HTTPRequest
		if json.Unmarshal(data, &ev) != nil {
			return
		}
		var gotBody []byte
		called := false
		// The handler echoes the body as a Content-Type taken from the query,
		// and turns the request's cookies into Set-Cookie headers.
		h := lambdahttp.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			called = true
			var err error
			if gotBody, err = io.ReadAll(r.Body); err != nil {
				t.Errorf("read body: %v", err)
			}
			for _, c := range r.Cookies() {
				http.SetCookie(w, c)
			}
			w.Header().Set("Content-Type", r.URL.Query().Get("type"))
			w.Header().Add("X-Multi", "1")
			w.Header().Add("X-Multi", "2")
			w.Write(gotBody)
		}))
		resp, err := h(context.Background(), ev)
		if err != nil {
			t.Fatalf("invocation error: %v", err)
		}
		if _, reqErr := lambdahttp.Request(context.Background(), ev); reqErr != nil {
			if called || resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("bad event (%v): handler called %v, status %d", reqErr, called, resp.StatusCode)
			}
			return
		}
		if !called || resp.StatusCode != http.StatusOK {
			t.Fatalf("good event: handler called %v, status %d", called, resp.StatusCode)
		}
		want := []byte(ev.Body)
		if ev.IsBase64Encoded {
			want, _ = base64.StdEncoding.DecodeString(ev.Body)
		}
		if !bytes.Equal(gotBody, want) {
			t.Fatalf("handler got body %q, want %q", gotBody, want)
		}
		if ev.RequestContext.HTTP.Method == http.MethodHead {
			want = nil
		}
		out := []byte(resp.Body)
		if resp.IsBase64Encoded {
			if out, err = base64.StdEncoding.DecodeString(resp.Body); err != nil {
				t.Fatalf("response body is not base64: %v", err)
			}
		} else if !utf8.ValidString(resp.Body) {
			t.Fatalf("text response body is not UTF-8: %q", resp.Body)
		}
		if !bytes.Equal(out, want) {
			t.Fatalf("response body %q, want %q", out, want)
		}
		if resp.Headers["X-Multi"] != "1,2" {
			t.Fatalf("X-Multi = %q, want 1,2", resp.Headers["X-Multi"])
		}
		if _, ok := resp.Headers["Set-Cookie"]; ok {
			t.Fatal("Set-Cookie left in headers")
		}
	})
}
