package main

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestScripts runs the command sequences the docs show (docs/command.md,
// docs/moving.md, counter -h) against the built binary: each script in
// testdata/script mirrors one of them, so a page and the command cannot
// drift apart unnoticed.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			env.Setenv("PATH", filepath.Dir(binary)+string(os.PathListSeparator)+env.Getenv("PATH"))
			return nil
		},
	})
}

// TestEnvDocumented: every COUNTER_* variable the command reads is in
// docs/command.md or docs/server.md, and every one those pages name is read.
func TestEnvDocumented(t *testing.T) {
	name := regexp.MustCompile(`COUNTER_[A-Z0-9_]*[A-Z0-9]`)
	read := map[string]bool{}
	sources, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range sources {
		if filepath.Ext(f) != ".go" || len(f) > 8 && f[len(f)-8:] == "_test.go" {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range regexp.MustCompile(`"(COUNTER_[A-Z0-9_]*[A-Z0-9])"`).FindAllSubmatch(b, -1) {
			read[string(m[1])] = true
		}
	}
	documented := map[string]bool{}
	for _, page := range []string{"command.md", "server.md"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "docs", page))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range name.FindAll(b, -1) {
			documented[string(m)] = true
		}
	}
	if len(read) < 10 {
		t.Fatalf("found only %d variables read in the source: %v", len(read), read)
	}
	var undocumented, unread []string
	for v := range read {
		if !documented[v] {
			undocumented = append(undocumented, v)
		}
	}
	for v := range documented {
		if !read[v] {
			unread = append(unread, v)
		}
	}
	slices.Sort(undocumented)
	slices.Sort(unread)
	if len(undocumented) > 0 {
		t.Errorf("read by the command but in neither docs/command.md nor docs/server.md: %v", undocumented)
	}
	if len(unread) > 0 {
		t.Errorf("named in docs/command.md or docs/server.md but never read by the command: %v", unread)
	}
}
