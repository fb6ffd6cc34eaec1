// Package fontmetrics measures badge text in DejaVu Sans, the free font
// whose widths are closest to Verdana's (shields.io's badge font) and which
// browsers fall back to for "Verdana,Geneva,DejaVu Sans,sans-serif" where
// Verdana is missing. The tables in tables.go are generated from the font
// files by gen/main.go; regenerate them with `go generate`. TestMatchesChromium
// checks every rune and kerning pair against Chromium's own measurements.
package fontmetrics

//go:generate go run -C gen . -o ../tables.go

// UnitsPerEm is the size of the em square the tables are measured in.
const UnitsPerEm = 2048

// Missing marks a rune the font has no glyph for in the advance tables.
const Missing = 0xffff

// Fallback is the advance, in font units, given to runes the tables lack:
// 1.25 em, wider than CJK ideographs (1 em) and colour emoji (about 1.24 em)
// in common fallback fonts, so unknown text is squeezed rather than cut off.
const Fallback = 2560

// Pair is the kerning K, in font units, between runes A and B.
type Pair struct {
	A, B uint16
	K    int16
}

// Face holds the advances and kerning of one font.
type Face struct {
	latin   *[0x500 - 0x20]uint16 // blocks[0]
	symbols *[0x2200 - 0x2000]uint16
	kerning []Pair
	// For speed: ASCII advances, and kerning of ASCII pairs.
	asciiAdv  [128]uint16
	asciiKern [128][128]int16
}

// Regular is DejaVu Sans (Book); Bold is DejaVu Sans Bold.
var (
	Regular = newFace(&regularAdvances, regularKerning[:])
	Bold    = newFace(&boldAdvances, boldKerning[:])
)

func newFace(adv *[2][]uint16, kerning []Pair) *Face {
	if blocks != [2][2]rune{{0x20, 0x500}, {0x2000, 0x2200}} {
		panic("fontmetrics: generated blocks do not match Face")
	}
	f := &Face{
		latin:   (*[0x500 - 0x20]uint16)(adv[0]),
		symbols: (*[0x2200 - 0x2000]uint16)(adv[1]),
		kerning: kerning,
	}
	for c := 0x20; c < 0x7f; c++ {
		f.asciiAdv[c] = f.latin[c-0x20]
	}
	for _, p := range kerning {
		if p.A < 0x80 && p.B < 0x80 {
			f.asciiKern[p.A][p.B] = p.K
		}
	}
	return f
}

// Advance returns the advance width of r in font units, or [Fallback] if
// the tables lack r.
func (f *Face) Advance(r rune) int {
	var a uint16 = Missing
	// A negative rune converts to a large uint32 and fails the bounds checks.
	if i := uint32(r) - 0x20; i < uint32(len(f.latin)) { //nolint:gosec // see above
		a = f.latin[i]
	} else if i := uint32(r) - 0x2000; i < uint32(len(f.symbols)) { //nolint:gosec // see above
		a = f.symbols[i]
	}
	if a == Missing {
		return Fallback
	}
	return int(a)
}

// Kern returns the kerning between a and b in font units (usually
// negative, or 0).
func (f *Face) Kern(a, b rune) int {
	// Negative runes convert to large uint32s and take neither table.
	if uint32(a) < 0x80 && uint32(b) < 0x80 { //nolint:gosec // see above
		return int(f.asciiKern[a][b])
	}
	if a > 0xffff || b > 0xffff {
		return 0
	}
	key := uint32(a)<<16 | uint32(b) //nolint:gosec // a negative rune makes a key no pair has
	lo, hi := 0, len(f.kerning)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		p := f.kerning[m]
		switch k := uint32(p.A)<<16 | uint32(p.B); {
		case k == key:
			return int(p.K)
		case k < key:
			lo = m + 1
		default:
			hi = m
		}
	}
	return 0
}

// Width returns the width of s in font units: advances plus kerning.
func (f *Face) Width(s string) int {
	w, prev := 0, rune(-1)
	for _, r := range s {
		w += f.Advance(r)
		if prev >= 0 {
			w += f.Kern(prev, r)
		}
		prev = r
	}
	return w
}

// WidthASCII is Width for s of printable ASCII (' ' to '~') only.
func (f *Face) WidthASCII(s string) int {
	if len(s) == 0 {
		return 0
	}
	prev := s[0] & 0x7f
	w := int(f.asciiAdv[prev])
	for i := 1; i < len(s); i++ {
		c := s[i] & 0x7f
		w += int(f.asciiAdv[c]) + int(f.asciiKern[prev][c])
		prev = c
	}
	return w
}
