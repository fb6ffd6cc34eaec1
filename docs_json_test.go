package counter_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/resumecounter/counter"
)

// jsonShape lists the field paths of a JSON object, sorted: "key",
// "today.date"…
func jsonShape(t *testing.T, doc string) []string {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal([]byte(doc), &v); err != nil {
		t.Fatalf("%s: %v", doc, err)
	}
	var out []string
	var walk func(prefix string, m map[string]any)
	walk = func(prefix string, m map[string]any) {
		for k, x := range m {
			if sub, ok := x.(map[string]any); ok {
				walk(prefix+k+".", sub)
			} else {
				out = append(out, prefix+k)
			}
		}
	}
	walk("", v)
	slices.Sort(out)
	return out
}

// TestDocsShowTheAPIShape checks every /api answer the pages show against
// the fields real handlers answer: the plain store's {"key","count"} or
// the visitors' shape with today's numbers. The pages about servers that
// count visitors by default (the README, the Lambda page, examples/server)
// must show the visitors' shape.
func TestDocsShowTheAPIShape(t *testing.T) {
	answer := func(inc counter.Incrementer) []string {
		r := httptest.NewRequest(http.MethodGet, "/api/home", nil)
		r.Header.Set("User-Agent", chromeUA)
		r.SetPathValue("key", "home")
		w := httptest.NewRecorder()
		counter.JSONHandler(inc, counter.HandlerOptions{}).ServeHTTP(w, r)
		return jsonShape(t, w.Body.String())
	}
	plain := answer(counter.NewMemory())
	clock := func() time.Time { return time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC) }
	visitors := answer(counter.NewVisitors(counter.NewMemory(), counter.VisitorOptions{Now: clock}))
	if slices.Equal(plain, visitors) {
		t.Fatalf("the plain and the visitors' answers have one shape %q", plain)
	}
	example := regexp.MustCompile(`\{"key":"[^"]*","count":[^` + "`" + `\n]*\}`)
	for page, mustShowVisitors := range map[string]bool{
		"README.md": true, "docs/deploy-aws.md": true, "examples/server/README.md": true,
		"docs/http.md": false, "docs/visitors.md": false,
	} {
		b, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		showsVisitors := false
		for _, doc := range example.FindAllString(string(b), -1) {
			shape := jsonShape(t, doc)
			switch {
			case slices.Equal(shape, visitors):
				showsVisitors = true
			case slices.Equal(shape, plain):
			default:
				t.Errorf("%s shows %s: fields %q, but handlers answer %q or %q", page, doc, shape, plain, visitors)
			}
		}
		if mustShowVisitors && !showsVisitors {
			t.Errorf("%s shows no answer with visitors (%s), what its server answers by default", page, strings.Join(visitors, ", "))
		}
	}
}
