package main

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/resumecounter/counter/internal/testenv"
)

// TestDocsMatchCode holds docs/deploy-aws.md and this package's comment to
// the code: every variable main.go reads is in the page's configuration
// table and in the package comment, and the other way round; every route it
// serves is in the page's table of requests and in the package comment.
func TestDocsMatchCode(t *testing.T) {
	src, err := os.ReadFile("main.go")
	if err != nil {
		t.Fatal(err)
	}
	page, err := os.ReadFile(filepath.Join(testenv.Root(t), "docs", "deploy-aws.md"))
	if err != nil {
		t.Fatal(err)
	}
	code := string(src)
	comment, _, _ := strings.Cut(code, "\npackage main")
	all := func(re, s string) []string {
		var out []string
		for _, m := range regexp.MustCompile(re).FindAllStringSubmatch(s, -1) {
			if !slices.Contains(out, m[1]) {
				out = append(out, m[1])
			}
		}
		slices.Sort(out)
		return out
	}
	read := all(`getenv\("(COUNTER_[A-Z_]+)"\)`, code)
	documented := all("(?m)^\\| `(COUNTER_[A-Z_]+)` \\|", string(page))
	commented := all(`(?m)^//\s+(COUNTER_[A-Z_]+)\s`, comment)
	if len(read) == 0 || !slices.Equal(read, documented) || !slices.Equal(read, commented) {
		t.Errorf("variables read by main.go %q; docs/deploy-aws.md's table %q; the package comment %q", read, documented, commented)
	}
	routes := all(`mux\.Handle\("(/[^"]*)"`, code)
	for _, r := range routes {
		doc := strings.TrimSuffix(r, "{$}")
		if !strings.Contains(string(page), "| `GET "+doc+"` |") {
			t.Errorf("route %s is not in docs/deploy-aws.md's table of requests", r)
		}
		if !regexp.MustCompile(`(?m)^//\s+GET ` + regexp.QuoteMeta(doc) + `\s`).MatchString(comment) {
			t.Errorf("route %s is not in the package comment", r)
		}
	}
	if strings.Contains(comment, "URL's CORS do it") {
		t.Error("the package comment leaves CORS to the Function URL; the page says the function answers it")
	}
}
