package counter

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/resumecounter/counter/internal/fontmetrics"
	"github.com/resumecounter/counter/internal/icons"
)

// Style names a badge look, as on shields.io.
type Style string

// Badge styles. The zero Style is StyleFlat.
const (
	StyleFlat        Style = "flat" // the default
	StyleFlatSquare  Style = "flat-square"
	StylePlastic     Style = "plastic"
	StyleForTheBadge Style = "for-the-badge"
	StyleSocial      Style = "social" // GitHub-like: a grey label and a speech-bubble message
)

// MaxTextLen is the most characters (runes) of a label or message a badge
// draws. [Badge.AppendSVG] cuts longer text to MaxTextLen-1 characters and
// "…"; [Badge.Validate] reports it.
const MaxTextLen = 64

// MaxIDLen is the longest [Badge.ID], in bytes.
const MaxIDLen = 64

// ErrInvalidBadge is wrapped by the errors of [Badge.Validate]: an unknown
// style or colour, text longer than [MaxTextLen], or text or an ID with
// characters a badge cannot draw. Handlers answer such requests with 400.
var ErrInvalidBadge = errors.New("counter: invalid badge")

// Badge is a static badge: a label on the left, a message on the right.
//
// Colours are what shields.io accepts: its names (brightgreen, green,
// yellow, yellowgreen, orange, red, blue, grey, lightgrey, and the aliases
// gray, lightgray, success, important, critical, informational, inactive),
// hex RGB with or without '#' (#abc, abc, #aabbcc, aabbcc), the CSS named
// colours (pink, white, black…; shields' names win where both have one),
// and rgb(), rgba(), hsl() and hsla() with comma-separated values; names and
// functions in any case. '#' also takes RGBA (#abcd, #aabbccdd). Text is
// drawn in white, or in #333 on light backgrounds. docs/badges.md lists
// exactly what is refused.
type Badge struct {
	Label      string // left text; empty draws a message-only badge
	Message    string // right text
	Color      string // message background (see above); default "blue"
	LabelColor string // label background; default "#555"
	Style      Style  // default StyleFlat
	ID         string // prefix for element ids, for several badges inlined in one page; default none
	// Logo names a built-in brand icon drawn before the label (see
	// [Logos]; case-insensitive, e.g. "github"); default none.
	Logo string
	// LogoColor colours the logo, as Color does; default: the brand's
	// colour in the social style, else the label's text colour.
	LogoColor string
}

// Logos lists the brand icons [Badge.Logo] can name, from simple-icons
// (CC0-1.0; JavaScript's icon is MIT).
func Logos() []string { return icons.Slugs() }

// Validate reports whether AppendSVG draws b as given (but for runs of
// spaces, drawn as one): the style and colours are known, Label and Message
// are valid UTF-8 of at most [MaxTextLen] characters without control
// characters (tabs and newlines included), and ID has at most [MaxIDLen]
// ASCII letters, digits, '-' and '_'. Errors wrap [ErrInvalidBadge]; they
// quote at most 32 bytes of a bad style or colour, and never the text.
func (b Badge) Validate() error {
	switch b.Style {
	case "", StyleFlat, StyleFlatSquare, StylePlastic, StyleForTheBadge, StyleSocial:
	default:
		return fmt.Errorf("%w: unknown style %.32q (want flat, flat-square, plastic, for-the-badge or social)", ErrInvalidBadge, b.Style)
	}
	if _, ok := icons.Lookup(b.Logo); !ok && b.Logo != "" {
		return fmt.Errorf("%w: unknown logo %.32q (see counter.Logos)", ErrInvalidBadge, b.Logo)
	}
	if _, ok := parseColor(b.LogoColor); !ok && b.LogoColor != "" {
		return fmt.Errorf("%w: unknown logoColor %.32q (want a shields or CSS colour name, hex, rgb(), rgba(), hsl() or hsla())", ErrInvalidBadge, b.LogoColor)
	}
	if _, ok := parseColor(b.Color); !ok && b.Color != "" {
		return fmt.Errorf("%w: unknown color %.32q (want a shields or CSS colour name, hex, rgb(), rgba(), hsl() or hsla())", ErrInvalidBadge, b.Color)
	}
	if _, ok := parseColor(b.LabelColor); !ok && b.LabelColor != "" {
		return fmt.Errorf("%w: unknown labelColor %.32q (want a shields or CSS colour name, hex, rgb(), rgba(), hsl() or hsla())", ErrInvalidBadge, b.LabelColor)
	}
	if err := checkText("label", b.Label); err != nil {
		return err
	}
	if err := checkText("message", b.Message); err != nil {
		return err
	}
	if len(b.ID) > MaxIDLen {
		return fmt.Errorf("%w: ID of %d bytes, longer than %d", ErrInvalidBadge, len(b.ID), MaxIDLen)
	}
	for i := 0; i < len(b.ID); i++ {
		if !idByte(b.ID[i]) {
			return fmt.Errorf("%w: ID %q has a character other than ASCII letters, digits, '-' and '_'", ErrInvalidBadge, b.ID)
		}
	}
	return nil
}

func checkText(what, s string) error {
	n := 0
	for i, r := range s {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(s[i:]); size == 1 {
				return fmt.Errorf("%w: %s is not valid UTF-8", ErrInvalidBadge, what)
			}
		}
		if r != ' ' && xmlRune(r) != r {
			return fmt.Errorf("%w: %s has control character %U", ErrInvalidBadge, what, r)
		}
		n++
	}
	if n > MaxTextLen {
		return fmt.Errorf("%w: %s of %d characters, longer than %d", ErrInvalidBadge, what, n, MaxTextLen)
	}
	return nil
}

// style holds the geometry of one badge style, with the fixed parts of its
// SVG.
type style struct {
	fontSize  int // pixels
	upper     bool
	labelFace *fontmetrics.Face
	msgFace   *fontmetrics.Face

	height     string    // `" height="H`
	gradient   string    // the gradient's stops, for styles with a clip path
	clip       string    // the clip path's rect after its width, up to the group's id
	foreground string    // the text group's opening tag
	shadow     [2]string // a shadow text's attributes between x and textLength, on dark and light backgrounds; empty for no shadow
	text       [2]string // a text's attributes between x and textLength, on dark and light backgrounds

	// The above joined for speed, by init.
	open       string // after the width, up to the aria-label
	heightFill string
	defs       string // after the title, up to the clip path's width, for badges without ID
	clipEnd    string // after the clip path's width, up to the backgrounds, for badges without ID
	bgEnd      string // after the gradient rect's width, up to the texts, for badges without ID
}

func init() {
	for _, st := range []*style{&flatStyle, &squareStyle, &plasticStyle, &ftbStyle} {
		st.open = st.height + `" role="img" aria-label="`
		st.heightFill = st.height + `" fill="`
		st.defs = `</title><linearGradient id="s` + st.gradient + `r"><rect width="`
		st.clipEnd = st.clip + `r)">`
		st.bgEnd = st.height + `" fill="url(#s)"/></g>` + st.foreground
	}
}

func textAttrs(y string) [2]string {
	return [2]string{
		`" y="` + y + `" transform="scale(.1)" fill="#fff" textLength="`,
		`" y="` + y + `" transform="scale(.1)" fill="#333" textLength="`,
	}
}

func shadowAttrs(y string) [2]string {
	return [2]string{
		`" y="` + y + `" fill="#010101" fill-opacity=".3" transform="scale(.1)" textLength="`,
		`" y="` + y + `" fill="#ccc" fill-opacity=".3" transform="scale(.1)" textLength="`,
	}
}

// plainByte lists the bytes plainASCII lets through: printable ASCII that
// XML text need not escape.
var plainByte = func() (t [256]bool) {
	for c := ' '; c <= '~'; c++ {
		t[c] = !strings.ContainsRune(`&<>"'`, c)
	}
	return t
}()

var (
	flatStyle = style{
		fontSize: 11, labelFace: fontmetrics.Regular, msgFace: fontmetrics.Regular,
		height:     `" height="20`,
		gradient:   `" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient><clipPath id="`,
		clip:       `" height="20" rx="3" fill="#fff"/></clipPath><g clip-path="url(#`,
		shadow:     shadowAttrs("150"),
		text:       textAttrs("140"),
		foreground: `<g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" text-rendering="geometricPrecision" font-size="110">`,
	}
	squareStyle = style{
		fontSize: 11, labelFace: fontmetrics.Regular, msgFace: fontmetrics.Regular,
		height:     `" height="20`,
		text:       textAttrs("140"),
		foreground: flatStyle.foreground,
	}
	plasticStyle = style{
		fontSize: 11, labelFace: fontmetrics.Regular, msgFace: fontmetrics.Regular,
		height:     `" height="18`,
		gradient:   `" x2="0" y2="100%"><stop offset="0" stop-color="#fff" stop-opacity=".7"/><stop offset=".1" stop-color="#aaa" stop-opacity=".1"/><stop offset=".9" stop-color="#000" stop-opacity=".3"/><stop offset="1" stop-color="#000" stop-opacity=".5"/></linearGradient><clipPath id="`,
		clip:       `" height="18" rx="4" fill="#fff"/></clipPath><g clip-path="url(#`,
		shadow:     shadowAttrs("140"),
		text:       textAttrs("130"),
		foreground: flatStyle.foreground,
	}
	ftbStyle = style{
		fontSize: 10, upper: true, labelFace: fontmetrics.Regular, msgFace: fontmetrics.Bold,
		height:     `" height="28`,
		text:       textAttrs("175"),
		foreground: `<g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" text-rendering="geometricPrecision" font-size="100">`,
	}
)

// For-the-badge geometry, as in shields' badge-maker.
const (
	ftbMargin        = 12  // pixels between a rectangle's edge and its text
	ftbLetterSpacing = 125 // hundredths of a pixel added per character
)

// AppendSVG appends the badge as an SVG document to dst. It never fails:
// an unknown style or colour draws the default, invalid UTF-8 and control
// characters draw as U+FFFD, runs of spaces, tabs and newlines draw as one
// space, and text longer than [MaxTextLen] is cut; use [Badge.Validate] to
// reject such input instead. The output depends only on b, so equal badges
// give equal bytes. Appending to a buffer with room (about 1.5 KB for short
// texts) does not allocate.
func (b Badge) AppendSVG(dst []byte) []byte {
	if b.Style == StyleSocial {
		return b.appendSocial(dst)
	}
	st := &flatStyle
	switch b.Style {
	case StyleFlatSquare:
		st = &squareStyle
	case StylePlastic:
		st = &plasticStyle
	case StyleForTheBadge:
		st = &ftbStyle
	}
	msgBG, ok := parseColor(b.Color)
	if !ok {
		msgBG = defaultColor
	}
	labelBG, ok := parseColor(b.LabelColor)
	if !ok {
		labelBG = defaultLabelColor
	}

	labelPlain, msgPlain := plainASCII(b.Label, st.upper), plainASCII(b.Message, st.upper)
	label := measure(b.Label, labelPlain, st.labelFace, st.upper)
	msg := measure(b.Message, msgPlain, st.msgFace, st.upper)
	hasText := label.runes > 0
	logo, hasLogo := icons.Lookup(b.Logo)
	hasLabel := hasText || hasLogo // a left part

	// Widths in hundredths of a pixel; the texts' centres, doubled. A logo
	// is 14 px square, margin px from the left edge, 3 px before the label.
	var labelText, msgText, leftW, rightW, labelX2, msgX2, logoW int
	margin := 5
	if st.upper {
		margin = ftbMargin - 3
	}
	if hasLogo {
		logoW = (margin + 14 + 3) * 100
	}
	if st.upper {
		labelText = label.units*st.fontSize/fontmetrics.UnitsPerEm*100 + ftbLetterSpacing*label.runes
		msgText = msg.units*st.fontSize/fontmetrics.UnitsPerEm*100 + ftbLetterSpacing*msg.runes
		switch {
		case hasText:
			leftW = ftbMargin*100 + labelText + logoW
			if !hasLogo {
				leftW += ftbMargin * 100
			}
		case hasLogo:
			leftW = (2*margin + 14) * 100
		}
		rightW = 2*ftbMargin*100 + msgText
		labelX2 = leftW + max(logoW, ftbMargin*100) - ftbMargin*100
		msgX2 = 2*leftW + 2*ftbMargin*100 + msgText
	} else {
		// Shields rounds text widths down to whole pixels, then up to odd
		// ones, and pads each text with 5 px. (It also shifts the label 1 px
		// right and the message 1 px left; centring them instead keeps
		// 4.5 to 5.5 px between the text's natural width and the edges.)
		labelText = oddWidth(label.units, st.fontSize) * 100
		msgText = oddWidth(msg.units, st.fontSize) * 100
		switch {
		case hasText && hasLogo:
			leftW = logoW + labelText + 500
		case hasText:
			leftW = labelText + 1000
		case hasLogo:
			leftW = (2*margin + 14) * 100
		}
		rightW = msgText + 1000
		labelX2 = leftW + max(logoW-500, 0) // the label's room starts 5 px before the text
		msgX2 = 2*leftW + rightW
	}
	var width num
	width.set(leftW + rightW)

	dst = append(dst, `<svg xmlns="http://www.w3.org/2000/svg" width="`...)
	dst = append(dst, width.bytes()...)
	dst = append(dst, st.open...)
	// The accessible text is escaped once; its parts are copied from here.
	labelStart := len(dst)
	if hasText {
		dst = appendText(dst, b.Label, labelPlain, st.upper, label.truncated)
	}
	labelEnd := len(dst)
	if hasText {
		dst = append(dst, ": "...)
	}
	msgStart := len(dst)
	dst = appendText(dst, b.Message, msgPlain, st.upper, msg.truncated)
	msgEnd := len(dst)
	dst = append(dst, `"><title>`...)
	dst = append(dst, dst[labelStart:msgEnd]...)

	switch {
	case st.clip != "" && b.ID == "":
		dst = append(dst, st.defs...)
		dst = append(dst, width.bytes()...)
		dst = append(dst, st.clipEnd...)
		dst = appendRects(dst, st, hasLabel, leftW, rightW, labelBG, msgBG)
		dst = append(dst, `<rect width="`...)
		dst = append(dst, width.bytes()...)
		dst = append(dst, st.bgEnd...)
	case st.clip != "":
		dst = append(dst, `</title><linearGradient id="`...)
		dst = appendID(dst, b.ID, 's')
		dst = append(dst, st.gradient...)
		dst = appendID(dst, b.ID, 'r')
		dst = append(dst, `"><rect width="`...)
		dst = append(dst, width.bytes()...)
		dst = append(dst, st.clip...)
		dst = appendID(dst, b.ID, 'r')
		dst = append(dst, `)">`...)
		dst = appendRects(dst, st, hasLabel, leftW, rightW, labelBG, msgBG)
		dst = append(dst, `<rect width="`...)
		dst = append(dst, width.bytes()...)
		dst = append(dst, st.height...)
		dst = append(dst, `" fill="url(#`...)
		dst = appendID(dst, b.ID, 's')
		dst = append(dst, `)"/></g>`...)
		dst = append(dst, st.foreground...)
	default:
		dst = append(dst, `</title><g shape-rendering="crispEdges">`...)
		dst = appendRects(dst, st, hasLabel, leftW, rightW, labelBG, msgBG)
		dst = append(dst, `</g>`...)
		dst = append(dst, st.foreground...)
	}
	if hasLogo {
		var x num
		x.set(margin * 100)
		height := 20
		switch st {
		case &plasticStyle:
			height = 18
		case &ftbStyle:
			height = 28
		}
		dst = appendLogo(dst, logo, x.bytes(), (height-14)/2, b.LogoColor, labelBG.light())
	}
	if hasText {
		dst = appendTextElems(dst, st, labelX2, labelText, labelBG, false, labelStart, labelEnd)
	}
	if msg.runes > 0 {
		dst = appendTextElems(dst, st, msgX2, msgText, msgBG, st.upper, msgStart, msgEnd)
	}
	return append(dst, `</g></svg>`...)
}

// appendRects appends the label and message backgrounds.
func appendRects(dst []byte, st *style, hasLabel bool, leftW, rightW int, labelBG, msgBG color) []byte {
	var n num
	if hasLabel {
		n.set(leftW)
		dst = append(dst, `<rect width="`...)
		dst = append(dst, n.bytes()...)
		dst = append(dst, st.heightFill...)
		dst = labelBG.append(dst)
		dst = append(dst, `"/><rect x="`...)
		dst = append(dst, n.bytes()...)
		dst = append(dst, `" width="`...)
	} else {
		dst = append(dst, `<rect width="`...)
	}
	n.set(rightW)
	dst = append(dst, n.bytes()...)
	dst = append(dst, st.heightFill...)
	dst = msgBG.append(dst)
	return append(dst, `"/>`...)
}

// appendTextElems appends a text (and its shadow, in styles with one)
// centred at x2/2 with the given length (hundredths of a pixel, drawn ten
// times larger), copying its escaped content from dst[start:end].
func appendTextElems(dst []byte, st *style, x2, length int, bg color, bold bool, start, end int) []byte {
	light := 0
	if bg.light() {
		light = 1
	}
	var xs, ls num
	xs.set(x2 * 5)
	ls.set(length * 10)
	if st.shadow[0] != "" {
		dst = append(dst, `<text aria-hidden="true" x="`...)
		dst = append(dst, xs.bytes()...)
		dst = append(dst, st.shadow[light]...)
		dst = append(dst, ls.bytes()...)
		dst = append(dst, `">`...)
		dst = append(dst, dst[start:end]...)
		dst = append(dst, `</text><text x="`...)
	} else {
		dst = append(dst, `<text x="`...)
	}
	dst = append(dst, xs.bytes()...)
	dst = append(dst, st.text[light]...)
	dst = append(dst, ls.bytes()...)
	if bold {
		dst = append(dst, `" font-weight="bold">`...)
	} else {
		dst = append(dst, `">`...)
	}
	dst = append(dst, dst[start:end]...)
	return append(dst, `</text>`...)
}

// oddWidth converts a width in font units to whole pixels at size px,
// rounded down and then up to an odd number, as shields does.
func oddWidth(units, size int) int {
	w := units * size / fontmetrics.UnitsPerEm
	return w | 1
}

// num holds a non-negative number of hundredths written as decimal, with
// at most two decimals and no trailing zeros.
type num struct {
	buf [24]byte
	i   int
}

func (n *num) set(v int) {
	i := len(n.buf)
	if f := v % 100; f != 0 {
		if f%10 != 0 {
			i -= 3
			n.buf[i], n.buf[i+1], n.buf[i+2] = '.', digitPairs[2*f], digitPairs[2*f+1]
		} else {
			i -= 2
			n.buf[i], n.buf[i+1] = '.', byte('0'+f/10)
		}
	}
	v /= 100
	for v >= 100 {
		d := v % 100
		v /= 100
		i -= 2
		n.buf[i], n.buf[i+1] = digitPairs[2*d], digitPairs[2*d+1]
	}
	if v >= 10 {
		i -= 2
		n.buf[i], n.buf[i+1] = digitPairs[2*v], digitPairs[2*v+1]
	} else {
		i--
		n.buf[i] = digitPairs[2*v+1]
	}
	n.i = i
}

const digitPairs = "00010203040506070809" +
	"10111213141516171819" +
	"20212223242526272829" +
	"30313233343536373839" +
	"40414243444546474849" +
	"50515253545556575859" +
	"60616263646566676869" +
	"70717273747576777879" +
	"80818283848586878889" +
	"90919293949596979899"

func (n *num) bytes() []byte { return n.buf[n.i:] }

// appendID appends the element id made of prefix (keeping only ASCII
// letters, digits, '-' and '_', at most MaxIDLen bytes) and the suffix c.
func appendID(dst []byte, prefix string, c byte) []byte {
	if prefix == "" {
		return append(dst, c)
	}
	if len(prefix) > MaxIDLen {
		prefix = prefix[:MaxIDLen]
	}
	for i := 0; i < len(prefix); i++ {
		if idByte(prefix[i]) {
			dst = append(dst, prefix[i])
		}
	}
	return append(dst, c)
}

func idByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_'
}

// metrics is what measure learns about a text.
type metrics struct {
	units     int  // width in font units, kerning included
	runes     int  // characters drawn, "…" included
	truncated bool // cut to MaxTextLen-1 characters and "…"
}

// ellipsis ends text cut at MaxTextLen.
const ellipsis = '…'

// plainASCII reports whether s is drawn as is: printable ASCII needing no
// escaping, single spaces between words, at most MaxTextLen bytes, and no
// letters to capitalise when upper is set.
func plainASCII(s string, upper bool) bool {
	if len(s) > MaxTextLen || len(s) > 0 && (s[0] == ' ' || s[len(s)-1] == ' ') {
		return false
	}
	var prev byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !plainByte[c] || c == ' ' && prev == ' ' || upper && 'a' <= c && c <= 'z' {
			return false
		}
		prev = c
	}
	return true
}

// measure returns the width of s as AppendSVG draws it in face.
func measure(s string, plain bool, face *fontmetrics.Face, upper bool) metrics {
	if plain {
		return metrics{units: face.WidthASCII(s), runes: len(s)}
	}
	it := textIter{s: s, upper: upper, max: MaxTextLen + 1}
	var m metrics
	var cut int // width of the first MaxTextLen-1 runes
	prev, last := rune(-1), rune(-1)
	for {
		r, ok := it.next()
		if !ok {
			break
		}
		if it.n == MaxTextLen {
			cut, last = m.units, prev
		}
		m.units += face.Advance(r)
		if prev >= 0 {
			m.units += face.Kern(prev, r)
		}
		prev = r
	}
	m.runes = it.n
	if it.n > MaxTextLen {
		m.truncated = true
		m.runes = MaxTextLen
		m.units = cut + face.Advance(ellipsis) + face.Kern(last, ellipsis)
	}
	return m
}

// appendText appends s XML-escaped as AppendSVG draws it.
func appendText(dst []byte, s string, plain, upper, truncated bool) []byte {
	if plain {
		return append(dst, s...)
	}
	it := textIter{s: s, upper: upper, max: MaxTextLen}
	if truncated {
		it.max = MaxTextLen - 1
	}
	dst = appendRunes(dst, &it)
	if truncated {
		dst = utf8.AppendRune(dst, ellipsis)
	}
	return dst
}

// appendRunes appends what it yields, XML-escaped.
func appendRunes(dst []byte, it *textIter) []byte {
	for {
		r, ok := it.next()
		if !ok {
			break
		}
		switch r {
		case '&':
			dst = append(dst, "&amp;"...)
		case '<':
			dst = append(dst, "&lt;"...)
		case '>':
			dst = append(dst, "&gt;"...)
		case '"':
			dst = append(dst, "&quot;"...)
		case '\'':
			dst = append(dst, "&apos;"...)
		default:
			if r < utf8.RuneSelf {
				dst = append(dst, byte(r)) //nolint:gosec // 0 <= r < RuneSelf: ranging over a string yields no negative rune
			} else {
				dst = utf8.AppendRune(dst, r)
			}
		}
	}
	return dst
}

// textIter yields the runes of s as a badge draws them: XML-safe, with
// runs of XML white space collapsed to one space and trimmed at both ends,
// optionally in upper case, at most max runes.
type textIter struct {
	s     string
	i     int // next byte of s
	n     int // runes yielded
	max   int
	upper bool
	space bool // a space is due before the next other rune
}

func (t *textIter) next() (rune, bool) {
	for t.i < len(t.s) && t.n < t.max {
		c := t.s[t.i]
		r, size := rune(c), 1
		if c >= utf8.RuneSelf {
			r, size = utf8.DecodeRuneInString(t.s[t.i:])
		}
		t.i += size
		switch c {
		case ' ', '\t', '\n', '\r':
			t.space = t.n > 0
			continue
		}
		if t.space {
			t.space = false
			t.i -= size // yield r next time
			t.n++
			return ' ', true
		}
		r = xmlRune(r)
		if t.upper {
			if 'a' <= r && r <= 'z' {
				r -= 'a' - 'A'
			} else if r >= utf8.RuneSelf {
				r = unicode.ToUpper(r)
			}
		}
		t.n++
		return r, true
	}
	return 0, false
}

// xmlRune returns r, or U+FFFD if r cannot appear in XML text or is a
// control character (DecodeRune already gives U+FFFD for invalid UTF-8).
func xmlRune(r rune) rune {
	switch {
	case r < 0x20, 0x7f <= r && r <= 0x9f, 0xd800 <= r && r <= 0xdfff, r == 0xfffe, r == 0xffff, r > unicode.MaxRune:
		return utf8.RuneError
	}
	return r
}

// color is a colour as [Badge] accepts it (see parseColor), kept so that
// drawing it allocates nothing and never copies input it did not check.
type color struct {
	kind colorKind
	// s is the hex colour (3, 4, 6 or 8 digits, maybe after '#', maybe in
	// upper case) for colorHex, or the name from cssColors for colorName.
	s     string
	hash  bool // s starts with '#'
	upper bool // s has upper-case digits
	// rgba is the value of a colorName or colorFunc; a is 255 when opaque.
	rgba [4]uint8
}

type colorKind uint8

const (
	colorHex  colorKind = iota // drawn as #s in lower case
	colorName                  // a CSS name, drawn as is
	colorFunc                  // rgb(), rgba(), hsl() or hsla(), drawn as #rrggbb or #rrggbbaa
)

// namedColors are shields' colour names, then their aliases.
var namedColors = [...]struct {
	name string
	color
}{
	{"brightgreen", color{s: "#4c1", hash: true}},
	{"green", color{s: "#97ca00", hash: true}},
	{"yellow", color{s: "#dfb317", hash: true}},
	{"yellowgreen", color{s: "#a4a61d", hash: true}},
	{"orange", color{s: "#fe7d37", hash: true}},
	{"red", color{s: "#e05d44", hash: true}},
	{"blue", color{s: "#007ec6", hash: true}},
	{"grey", color{s: "#555", hash: true}},
	{"lightgrey", color{s: "#9f9f9f", hash: true}},
	{"gray", color{s: "#555", hash: true}},
	{"lightgray", color{s: "#9f9f9f", hash: true}},
	{"success", color{s: "#4c1", hash: true}},
	{"important", color{s: "#fe7d37", hash: true}},
	{"critical", color{s: "#e05d44", hash: true}},
	{"informational", color{s: "#007ec6", hash: true}},
	{"inactive", color{s: "#9f9f9f", hash: true}},
}

// Default colours.
var (
	defaultColor      = color{s: "#007ec6", hash: true}
	defaultLabelColor = color{s: "#555", hash: true}
)

// parseColor parses a colour as shields (badge-maker 6) accepts one, so
// that a badge URL made for shields draws here too:
//   - shields' names and aliases above, in any case, as shields draws them;
//   - hex RGB of 3 or 6 digits, with or without '#', and, as CSS allows,
//     RGBA of 4 or 8 digits after '#' (shields takes only 3 and 6);
//   - the CSS named colours (cssColors: pink, white, black, rebeccapurple,
//     transparent…), in any case;
//   - rgb(r, g, b) and rgba(r, g, b, a) with whole numbers or whole
//     percentages (all three alike), hsl(h, s%, l%) and hsla(h, s%, l%, a)
//     with a whole hue and whole percentages; a is a decimal number; any
//     case, spaces around the values. Values out of range are clamped, as
//     CSS does.
//
// Refused: CSS-wide keywords (inherit, initial, currentColor: not colours),
// the space-separated syntax rgb(1 2 3 / 50%), other functions (hwb, lab,
// color-mix, var…), decimals in r, g, b, h, s or l (shields refuses them
// too), and anything longer than 32 bytes (at the handler).
func parseColor(s string) (color, bool) {
	if s == "" {
		return color{}, false
	}
	c := color{s: s, hash: s[0] == '#'}
	h := s
	if c.hash {
		h = s[1:]
	}
	if n := len(h); n == 3 || n == 6 || c.hash && (n == 4 || n == 8) {
		hex := true
		for i := 0; i < len(h); i++ {
			hex = hex && hexDigit(h[i]) >= 0
			c.upper = c.upper || 'A' <= h[i] && h[i] <= 'F'
		}
		if hex {
			return c, true
		}
	}
	for _, c := range namedColors {
		if equalFoldASCII(s, c.name) {
			return c.color, true
		}
	}
	t := trimSpace(s)
	if i, ok := findCSSColor(t); ok {
		n := cssColors[i]
		a := uint8(255)
		if n.name == "transparent" {
			a = 0
		}
		return color{kind: colorName, s: n.name, rgba: [4]uint8{n.rgb[0], n.rgb[1], n.rgb[2], a}}, true
	}
	return parseColorFunc(t)
}

// findCSSColor finds name in cssColors, ignoring ASCII case.
func findCSSColor(name string) (int, bool) {
	lo, hi := 0, len(cssColors)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if compareFoldASCII(cssColors[m].name, name) < 0 {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo, lo < len(cssColors) && equalFoldASCII(name, cssColors[lo].name)
}

// compareFoldASCII compares lower with s lower-cased.
func compareFoldASCII(lower, s string) int {
	for i := 0; i < len(lower) && i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if lower[i] != c {
			return int(lower[i]) - int(c)
		}
	}
	return len(lower) - len(s)
}

// isSpace reports the white space of JavaScript's \s that ASCII holds.
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

func trimSpace(s string) string {
	for len(s) > 0 && isSpace(s[0]) {
		s = s[1:]
	}
	for len(s) > 0 && isSpace(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	return s
}

// parseColorFunc parses rgb(), rgba(), hsl() and hsla() as is-css-color
// (shields' check) does; see parseColor.
func parseColorFunc(s string) (color, bool) {
	var hsl, alpha bool
	switch {
	case len(s) >= 4 && equalFoldASCII(s[:4], "rgba"):
		alpha, s = true, s[4:]
	case len(s) >= 4 && equalFoldASCII(s[:4], "hsla"):
		hsl, alpha, s = true, true, s[4:]
	case len(s) >= 3 && equalFoldASCII(s[:3], "rgb"):
		s = s[3:]
	case len(s) >= 3 && equalFoldASCII(s[:3], "hsl"):
		hsl, s = true, s[3:]
	default:
		return color{}, false
	}
	s = trimSpace(s)
	if len(s) < 2 || s[0] != '(' || s[len(s)-1] != ')' {
		return color{}, false
	}
	args := s[1 : len(s)-1]
	var v [3]int
	var pct [3]bool
	for i := range 3 {
		arg, rest, found := strings.Cut(args, ",")
		if i < 2 && !found {
			return color{}, false
		}
		if i == 2 {
			arg, rest, found = strings.Cut(args, ",")
		}
		n, p, ok := parseWhole(trimSpace(arg))
		if !ok {
			return color{}, false
		}
		v[i], pct[i], args = n, p, rest
		if i == 2 && found != alpha {
			return color{}, false // rgba and hsla need an alpha; rgb and hsl take none
		}
	}
	a := 255
	if alpha {
		f, ok := parseAlpha(trimSpace(args))
		if !ok {
			return color{}, false
		}
		a = int(f*255 + 0.5)
	}
	var r, g, b int
	if hsl {
		if pct[0] || !pct[1] || !pct[2] {
			return color{}, false
		}
		r, g, b = hslToRGB(v[0], clamp(v[1], 100), clamp(v[2], 100))
	} else {
		if pct[0] != pct[1] || pct[1] != pct[2] {
			return color{}, false
		}
		for i := range v {
			if pct[i] {
				v[i] = (clamp(v[i], 100)*255 + 50) / 100
			}
			v[i] = clamp(v[i], 255)
		}
		r, g, b = v[0], v[1], v[2]
	}
	return color{kind: colorFunc, rgba: [4]uint8{uint8(r), uint8(g), uint8(b), uint8(a)}}, true //nolint:gosec // each is clamped to 0…255
}

// parseWhole parses [-+]?digits%? (at most 9 digits).
func parseWhole(s string) (n int, pct, ok bool) {
	if s, pct = strings.CutSuffix(s, "%"); len(s) > 0 && (s[0] == '-' || s[0] == '+') {
		neg := s[0] == '-'
		n, _, ok = parseWhole(s[1:])
		if neg {
			n = -n
		}
		return n, pct, ok && s[1] != '-' && s[1] != '+'
	}
	if len(s) == 0 || len(s) > 9 {
		return 0, false, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, pct, true
}

// parseAlpha parses is-css-color's alpha, [-+]?(digits(.digits)?|.digits),
// clamped to 0…1.
func parseAlpha(s string) (float64, bool) {
	t := strings.TrimLeft(s, "+-")
	if len(s)-len(t) > 1 || t == "" || t[0] == '.' && len(t) == 1 {
		return 0, false
	}
	whole, frac, dot := strings.Cut(t, ".")
	if dot && frac == "" || len(t) > 12 {
		return 0, false
	}
	for _, part := range []string{whole, frac} {
		for i := 0; i < len(part); i++ {
			if part[i] < '0' || part[i] > '9' {
				return 0, false
			}
		}
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil {
		return 0, false
	}
	if s[0] == '-' {
		f = 0
	}
	return min(f, 1), true
}

func clamp(n, hi int) int { return min(max(n, 0), hi) }

// hslToRGB converts a hue in degrees and saturation and lightness in
// percent to sRGB, as CSS Color 4 does.
func hslToRGB(h, s, l int) (r, g, b int) {
	hue := float64((h%360+360)%360) / 360
	sat, lig := float64(s)/100, float64(l)/100
	f := func(n float64) int {
		k := n + hue*12
		k -= 12 * float64(int(k/12))
		a := sat * min(lig, 1-lig)
		v := lig - a*max(-1, min(k-3, 9-k, 1))
		return int(v*255 + 0.5)
	}
	return f(0), f(8), f(4)
}

func equalFoldASCII(s, lower string) bool {
	if len(s) != len(lower) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

func hexDigit(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// append appends c as SVG draws it: hex in lower case after '#', a CSS
// name as is, a function as #rrggbb or #rrggbbaa.
func (c color) append(dst []byte) []byte {
	switch c.kind {
	case colorName:
		return append(dst, c.s...)
	case colorFunc:
		const digits = "0123456789abcdef"
		dst = append(dst, '#')
		n := 3
		if c.rgba[3] != 255 {
			n = 4
		}
		for _, v := range c.rgba[:n] {
			dst = append(dst, digits[v>>4], digits[v&15])
		}
		return dst
	}
	switch {
	case c.upper:
		if !c.hash {
			dst = append(dst, '#')
		}
		for i := 0; i < len(c.s); i++ {
			b := c.s[i]
			if 'A' <= b && b <= 'F' {
				b += 'a' - 'A'
			}
			dst = append(dst, b)
		}
		return dst
	case c.hash:
		return append(dst, c.s...)
	}
	return append(append(dst, '#'), c.s...)
}

// light reports whether dark text reads better on c than white: shields'
// brightness (299R+587G+114B)/255000, rounded to two decimals, above 0.69.
// Alpha is ignored, as shields ignores it.
func (c color) light() bool {
	var r, g, b int
	if c.kind != colorHex {
		r, g, b = int(c.rgba[0]), int(c.rgba[1]), int(c.rgba[2])
	} else {
		h := c.s
		if c.hash {
			h = h[1:]
		}
		if len(h) <= 4 { // #rgb or #rgba
			r, g, b = hexDigit(h[0])*17, hexDigit(h[1])*17, hexDigit(h[2])*17
		} else {
			r = hexDigit(h[0])<<4 | hexDigit(h[1])
			g = hexDigit(h[2])<<4 | hexDigit(h[3])
			b = hexDigit(h[4])<<4 | hexDigit(h[5])
		}
	}
	return 2*(299*r+587*g+114*b) >= 2550*139 // rounds to 0.70 or more
}

// NumberFormat says how a count is written on a badge.
type NumberFormat int

// Number formats. An unknown format writes FormatGrouped.
const (
	FormatGrouped NumberFormat = iota // 1,234,567 (the default)
	FormatPlain                       // 1234567
	FormatMetric                      // 1.2M, shields' rules
)

// AppendNumber appends n written in format f to dst.
//
// FormatMetric follows shields.io: below 1000 the number as is; above, the
// largest SI prefix (k, M, G, T, P, E) with one decimal while the scaled
// number is below 10 and the decimal is not 0, rounded half up: 1,234 →
// 1.2k, 12,345 → 12k, 999,999 → 1M, -1,500 → -1.5k.
func AppendNumber(dst []byte, n int64, f NumberFormat) []byte {
	u := uint64(n) //nolint:gosec // two's complement on purpose: -u below is |n|, MinInt64 included
	if n < 0 {
		dst = append(dst, '-')
		u = -u
	}
	switch f {
	case FormatPlain:
		return strconv.AppendUint(dst, u, 10)
	case FormatMetric:
		return appendMetric(dst, u)
	}
	var buf [26]byte // 20 digits and 6 commas
	i := len(buf)
	for d := 0; ; d++ {
		if d > 0 && d%3 == 0 {
			i--
			buf[i] = ','
		}
		i--
		buf[i] = byte('0' + u%10)
		u /= 10
		if u == 0 {
			break
		}
	}
	return append(dst, buf[i:]...)
}

const metricPrefixes = "kMGTPE"

func appendMetric(dst []byte, u uint64) []byte {
	if u < 1000 {
		return strconv.AppendUint(dst, u, 10)
	}
	p, limit := 0, uint64(1000)
	for p+1 < len(metricPrefixes) && u/1000 >= limit {
		p++
		limit *= 1000
	}
	// One decimal while the number is below 10 units, unless it is .0.
	if u/limit < 10 {
		step := limit / 10
		tenths := u / step
		if rem := u % step; rem >= step-rem { // half up
			tenths++
		}
		if tenths%10 != 0 && tenths < 100 {
			dst = strconv.AppendUint(dst, tenths/10, 10)
			dst = append(dst, '.', byte('0'+tenths%10))
			return append(dst, metricPrefixes[p])
		}
	}
	whole := u / limit
	if rem := u % limit; rem >= limit-rem {
		whole++
	}
	if whole >= 1000 && p+1 < len(metricPrefixes) {
		return append(dst, '1', metricPrefixes[p+1])
	}
	dst = strconv.AppendUint(dst, whole, 10)
	return append(dst, metricPrefixes[p])
}
