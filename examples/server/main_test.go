package main

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/resumecounter/counter/internal/testenv"
)

// TestDataFile checks that the README names the file the example opens, and
// that it is not the counter command's default file, whose lock would make
// the two servers wait on each other.
func TestDataFile(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	if m := regexp.MustCompile("Counts go to `([^`]+)`").FindSubmatch(readme); m == nil || string(m[1]) != dataFile {
		t.Errorf("README.md says counts go to %q; main.go opens %q", m, dataFile)
	}
	command, err := os.ReadFile(filepath.Join(testenv.Root(t), "docs", "command.md"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?m)^\\| `COUNTER_DATA` \\| `([^`]+)`").FindSubmatch(command)
	if m == nil {
		t.Fatal("docs/command.md has no COUNTER_DATA row with a default")
	}
	if string(m[1]) == dataFile {
		t.Errorf("the example and counter serve both default to %s", dataFile)
	}
}
