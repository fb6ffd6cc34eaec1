package lambdahttp_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/resumecounter/counter/internal/testenv"
)

// TestUnderEmulator runs testdata/echo, built like a real function, under
// the Lambda Runtime Interface Emulator: the events and answers cross the
// real runtime API as JSON.
func TestUnderEmulator(t *testing.T) {
	testenv.RIE(t)
	dir := t.TempDir()
	cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-o", filepath.Join(dir, "bootstrap"), "./testdata/echo")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	fn := testenv.StartLambda(t, filepath.Join(dir, "bootstrap"))

	invoke := func(t *testing.T, ev events.APIGatewayV2HTTPRequest) events.APIGatewayV2HTTPResponse {
		t.Helper()
		in, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		var resp events.APIGatewayV2HTTPResponse
		if err := json.Unmarshal(fn.Invoke(t, in), &resp); err != nil {
			t.Fatal(err)
		}
		return resp
	}
	wantCookies := []string{"a=1; Path=/", "b=2; HttpOnly"}

	for _, name := range []string{"function-url.json", "http-api.json"} {
		t.Run(name, func(t *testing.T) {
			ev := loadEvent(t, name)
			ev.Cookies = []string{"session=abc", "theme=dark"}
			resp := invoke(t, ev)
			if resp.StatusCode != http.StatusAccepted || resp.IsBase64Encoded {
				t.Fatalf("status %d, base64 %v, body %q", resp.StatusCode, resp.IsBase64Encoded, resp.Body)
			}
			if !reflect.DeepEqual(resp.Cookies, wantCookies) || resp.Headers["Vary"] != "Origin,Accept-Encoding" {
				t.Errorf("cookies %q, Vary %q", resp.Cookies, resp.Headers["Vary"])
			}
			if _, ok := resp.Headers["Set-Cookie"]; ok {
				t.Error("Set-Cookie left in headers")
			}
			var seen struct {
				Method, Path, Host string
				Query              map[string][]string
				Header             map[string][]string
				Cookies            map[string]string
				Body               []byte
			}
			if err := json.Unmarshal([]byte(resp.Body), &seen); err != nil {
				t.Fatal(err)
			}
			if seen.Method != http.MethodPost || seen.Path != "/my/path" || seen.Host != ev.RequestContext.DomainName {
				t.Errorf("saw %s %s on %s", seen.Method, seen.Path, seen.Host)
			}
			if !reflect.DeepEqual(seen.Query["parameter1"], []string{"value1", "value2"}) {
				t.Errorf("query %v", seen.Query)
			}
			if !reflect.DeepEqual(seen.Header["Header2"], []string{"value1,value2"}) {
				t.Errorf("Header2 %q", seen.Header["Header2"])
			}
			if !reflect.DeepEqual(seen.Cookies, map[string]string{"session": "abc", "theme": "dark"}) {
				t.Errorf("cookies %v", seen.Cookies)
			}
			if string(seen.Body) != ev.Body {
				t.Errorf("body %q, want %q", seen.Body, ev.Body)
			}
		})
	}

	t.Run("binary both ways", func(t *testing.T) {
		body := []byte{0x89, 'P', 'N', 'G', 0, 0xff, 0xfe}
		resp := invoke(t, events.APIGatewayV2HTTPRequest{
			RawPath: "/", RawQueryString: "binary=1",
			Body: base64.StdEncoding.EncodeToString(body), IsBase64Encoded: true,
			RequestContext: events.APIGatewayV2HTTPRequestContext{HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "PUT"}},
		})
		if !resp.IsBase64Encoded || resp.Headers["Content-Type"] != "application/octet-stream" {
			t.Fatalf("base64 %v, Content-Type %q", resp.IsBase64Encoded, resp.Headers["Content-Type"])
		}
		if got, err := base64.StdEncoding.DecodeString(resp.Body); err != nil || string(got) != string(body) {
			t.Errorf("body %x (%v), want %x", got, err, body)
		}
	})

	t.Run("bad base64 is a 400, not a function error", func(t *testing.T) {
		resp := invoke(t, events.APIGatewayV2HTTPRequest{RawPath: "/", Body: "***", IsBase64Encoded: true})
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("status %d, want 400", resp.StatusCode)
		}
	})
}
