package icons

import (
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The brands the issue names that simple-icons still ships. LinkedIn and
// AWS (aws, amazonaws, amazonwebservices) were removed from simple-icons
// at their owners' request and are not built in.
var wanted = []string{"github", "go", "python", "javascript", "typescript", "docker", "kubernetes",
	"terraform", "linux", "x", "youtube", "medium", "devdotto", "hashnode", "stackoverflow"}

var (
	hexRe  = regexp.MustCompile(`^[0-9a-f]{6}$`)
	pathRe = regexp.MustCompile(`^[MmZzLlHhVvCcSsQqTtAa0-9.,\- e]+$`)
)

func TestIcons(t *testing.T) {
	slugs := Slugs()
	if !slices.IsSorted(slugs) || len(slices.Compact(slices.Clone(slugs))) != len(slugs) {
		t.Fatalf("slugs not sorted and unique: %q", slugs)
	}
	for _, w := range wanted {
		if _, ok := Lookup(w); !ok {
			t.Errorf("no icon %q", w)
		}
	}
	for _, s := range slugs {
		ic, ok := Lookup(strings.ToUpper(s))
		if !ok || ic.Slug != s {
			t.Errorf("Lookup(%q) = %v, %v", strings.ToUpper(s), ic, ok)
			continue
		}
		if !hexRe.MatchString(ic.Hex) || !pathRe.MatchString(ic.Path) || ic.Title == "" {
			t.Errorf("%s: hex %q, title %q, path %.40q", s, ic.Hex, ic.Title, ic.Path)
		}
		if ic.License != "CC0-1.0" && ic.License != "MIT" {
			t.Errorf("%s: license %q", s, ic.License)
		}
	}
	for _, bad := range []string{"", "linkedin", "aws", "amazonaws", "githu", "githubb", "../github", "github\x00"} {
		if _, ok := Lookup(bad); ok {
			t.Errorf("Lookup(%q) found an icon", bad)
		}
	}
}
