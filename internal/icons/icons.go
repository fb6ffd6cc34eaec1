// Package icons holds the brand icons badges can show (logo=): SVG paths
// in a 24×24 box and brand colours from simple-icons (CC0-1.0), generated
// into tables.go by gen/main.go; regenerate with `go generate`.
package icons

//go:generate go run ./gen -o tables.go

// Icon is one brand icon.
type Icon struct {
	Slug  string // simple-icons' name: lower case, e.g. "github"
	Title string // the brand's name
	Hex   string // the brand's colour, six lower-case hex digits
	// License is the icon's license: simple-icons' CC0-1.0 unless the
	// icon has its own (MIT for JavaScript, whose notice is at Source).
	License string
	Source  string // where simple-icons took the icon from
	Path    string // SVG path data in a 24×24 box
}

// Lookup returns the icon named slug, compared without ASCII case.
func Lookup(slug string) (*Icon, bool) {
	lo, hi := 0, len(all)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		switch c := compareFold(all[m].Slug, slug); {
		case c == 0:
			return &all[m], true
		case c < 0:
			lo = m + 1
		default:
			hi = m
		}
	}
	return nil, false
}

// Slugs lists the icons' names, sorted.
func Slugs() []string {
	s := make([]string, len(all))
	for i := range all {
		s[i] = all[i].Slug
	}
	return s
}

// compareFold compares lower-case a with b, folding b's ASCII letters.
func compareFold(a, b string) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if a[i] != c {
			if a[i] < c {
				return -1
			}
			return 1
		}
	}
	switch {
	case len(a) < len(b):
		return -1
	case len(a) > len(b):
		return 1
	}
	return 0
}
