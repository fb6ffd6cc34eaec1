package counter

// PLACEHOLDER: the API below is the contract; the rendering is a minimal
// stand-in until the shields-compatible renderer lands.

import (
	"strconv"
	"strings"
)

// Style names a badge look, as on shields.io.
type Style string

// Badge styles.
const (
	StyleFlat        Style = "flat" // the default
	StyleFlatSquare  Style = "flat-square"
	StylePlastic     Style = "plastic"
	StyleForTheBadge Style = "for-the-badge"
)

// Badge is a static badge: a label on the left, a message on the right.
type Badge struct {
	Label      string // left text; empty draws a message-only badge
	Message    string // right text
	Color      string // message background: a shields colour name or hex; default "blue"
	LabelColor string // label background; default "#555"
	Style      Style  // default StyleFlat
	ID         string // prefix for element ids, for several badges inlined in one page; default none
}

// AppendSVG appends the badge as an SVG document to dst.
func (b Badge) AppendSVG(dst []byte) []byte {
	var sb strings.Builder
	sb.WriteString(`<svg xmlns="http://www.w3.org/2000/svg" width="100" height="20" role="img"><text>`)
	sb.WriteString(b.Label + ": " + b.Message)
	sb.WriteString(`</text></svg>`)
	return append(dst, sb.String()...)
}

// NumberFormat says how a count is written on a badge.
type NumberFormat int

// Number formats.
const (
	FormatGrouped NumberFormat = iota // 1,234,567 (the default)
	FormatPlain                       // 1234567
	FormatMetric                      // 1.2M, shields' rules
)

// AppendNumber appends n written in format f to dst.
func AppendNumber(dst []byte, n int64, f NumberFormat) []byte {
	return strconv.AppendInt(dst, n, 10)
}
