package counter

import (
	"strconv"
	"unicode"
	"unicode/utf8"

	"github.com/resumecounter/counter/internal/fontmetrics"
	"github.com/resumecounter/counter/internal/icons"
)

// appendLogo appends icon as a 14 px square at (x, y): a nested SVG
// holding the icon's path, filled with fill if it is a valid colour, else
// with #333 on a light background and #fff on a dark one.
func appendLogo(dst []byte, icon *icons.Icon, x []byte, y int, fill string, lightBG bool) []byte {
	dst = append(dst, `<svg x="`...)
	dst = append(dst, x...)
	dst = append(dst, `" y="`...)
	dst = strconv.AppendInt(dst, int64(y), 10)
	dst = append(dst, `" width="14" height="14" viewBox="0 0 24 24"><path fill="`...)
	switch c, ok := parseColor(fill); {
	case ok:
		dst = c.append(dst)
	case lightBG:
		dst = append(dst, `#333`...)
	default:
		dst = append(dst, `#fff`...)
	}
	dst = append(dst, `" d="`...)
	dst = append(dst, icon.Path...)
	return append(dst, `"/></svg>`...)
}

// Social style geometry, as in shields' badge-maker: a label box with a
// #fcfcfc to #eee gradient, a 6 px gutter, then the message in a speech
// bubble, both 19 px high inside a 20 px badge with 2 px corners; bold
// 11 px text in #333 with a white shadow.
const (
	socialLabelPad = 5 // px each side of the label
	socialMsgPad   = 4 // px each side of the message
	socialGutter   = 6 // px between the boxes, where the bubble's notch is
)

// appendSocial draws the social style. The label starts with a capital
// letter, as on shields; colours other than LogoColor are ignored.
func (b Badge) appendSocial(dst []byte) []byte {
	label := b.Label
	labelPlain := plainASCII(label, false)
	capital := byte(0) // a lower-case ASCII first letter to capitalise in place
	if labelPlain && label != "" && 'a' <= label[0] && label[0] <= 'z' {
		capital = label[0] - ('a' - 'A')
	} else if !labelPlain {
		label = upperFirst(label) // allocates, for text that is rarely drawn
		labelPlain = plainASCII(label, false)
	}
	face := fontmetrics.Bold
	lm := measure(label, labelPlain, face, false)
	if capital != 0 {
		c := rune(label[0])
		lm.units += face.Advance(rune(capital)) - face.Advance(c)
		if len(label) > 1 {
			lm.units += face.Kern(rune(capital), rune(label[1])) - face.Kern(c, rune(label[1]))
		}
	}
	msgPlain := plainASCII(b.Message, false)
	mm := measure(b.Message, msgPlain, face, false)
	logo, hasLogo := icons.Lookup(b.Logo)

	// Widths in hundredths of a pixel.
	labelText, msgText := 0, oddWidth(mm.units, 11)*100
	if lm.runes > 0 {
		labelText = oddWidth(lm.units, 11) * 100
	}
	logoW := 0
	if hasLogo {
		logoW = 1700 // 14 px and 3 px before the label
		if lm.runes == 0 {
			logoW = 1400
		}
	}
	labelRect := labelText + logoW + 2*socialLabelPad*100
	msgRect := msgText + 2*socialMsgPad*100
	width := labelRect + 100
	if mm.runes > 0 {
		width += socialGutter*100 + msgRect
	}

	var n num
	dst = append(dst, `<svg xmlns="http://www.w3.org/2000/svg" width="`...)
	n.set(width)
	dst = append(dst, n.bytes()...)
	dst = append(dst, `" height="20" role="img" aria-label="`...)
	labelStart := len(dst)
	if lm.runes > 0 {
		dst = appendText(dst, label, labelPlain, false, lm.truncated)
		if capital != 0 {
			dst[labelStart] = capital
		}
	}
	labelEnd := len(dst)
	if lm.runes > 0 {
		dst = append(dst, ": "...)
	}
	msgStart := len(dst)
	dst = appendText(dst, b.Message, msgPlain, false, mm.truncated)
	msgEnd := len(dst)
	dst = append(dst, `"><title>`...)
	dst = append(dst, dst[labelStart:msgEnd]...)
	dst = append(dst, `</title><linearGradient id="`...)
	dst = appendID(dst, b.ID, 's')
	dst = append(dst, `" x2="0" y2="100%"><stop offset="0" stop-color="#fcfcfc" stop-opacity="0"/><stop offset="1" stop-opacity=".1"/></linearGradient>`...)
	dst = append(dst, `<g stroke="#d5d5d5"><rect stroke="none" fill="#fcfcfc" x=".5" y=".5" width="`...)
	n.set(labelRect)
	lw := n
	dst = append(dst, lw.bytes()...)
	dst = append(dst, `" height="19" rx="2"/>`...)
	if mm.runes > 0 {
		var mx, mx5, mw num
		mx.set(labelRect + socialGutter*100)
		mx5.set(labelRect + socialGutter*100 + 50)
		mw.set(msgRect)
		dst = append(dst, `<rect x="`...)
		dst = append(dst, mx5.bytes()...)
		dst = append(dst, `" y=".5" width="`...)
		dst = append(dst, mw.bytes()...)
		dst = append(dst, `" height="19" rx="2" fill="#fafafa"/><rect x="`...)
		dst = append(dst, mx.bytes()...)
		dst = append(dst, `" y="7.5" width=".5" height="5" stroke="#fafafa"/><path d="M`...)
		dst = append(dst, mx5.bytes()...)
		dst = append(dst, ` 6.5l-3 3v1l3 3" fill="#fafafa"/>`...)
	}
	dst = append(dst, `</g><rect stroke="#d5d5d5" fill="url(#`...)
	dst = appendID(dst, b.ID, 's')
	dst = append(dst, `)" x=".5" y=".5" width="`...)
	dst = append(dst, lw.bytes()...)
	dst = append(dst, `" height="19" rx="2"/>`...)
	if hasLogo {
		fill := b.LogoColor
		if _, ok := parseColor(fill); !ok {
			fill = logo.Hex
		}
		dst = appendLogo(dst, logo, []byte{'5'}, 3, fill, true)
	}
	dst = append(dst, `<g fill="#333" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" text-rendering="geometricPrecision" font-weight="700" font-size="110">`...)
	if lm.runes > 0 {
		dst = appendSocialText(dst, logoW+socialLabelPad*100+labelText/2, labelText, dst[labelStart:labelEnd])
	}
	if mm.runes > 0 {
		dst = appendSocialText(dst, labelRect+socialGutter*100+msgRect/2, msgText, dst[msgStart:msgEnd])
	}
	return append(dst, `</g></svg>`...)
}

// appendSocialText appends a text and its white shadow centred at x with
// the given length (hundredths of a pixel), drawn ten times larger.
func appendSocialText(dst []byte, x, length int, text []byte) []byte {
	var xs, ls num
	xs.set(x * 10)
	ls.set(length * 10)
	for i, attrs := range [2]string{`" y="150" fill="#fff" transform="scale(.1)" textLength="`, `" y="140" transform="scale(.1)" textLength="`} {
		if i == 0 {
			dst = append(dst, `<text aria-hidden="true" x="`...)
		} else {
			dst = append(dst, `<text x="`...)
		}
		dst = append(dst, xs.bytes()...)
		dst = append(dst, attrs...)
		dst = append(dst, ls.bytes()...)
		dst = append(dst, `">`...)
		dst = append(dst, text...)
		dst = append(dst, `</text>`...)
	}
	return dst
}

// upperFirst returns s with its first drawn letter in upper case.
func upperFirst(s string) string {
	for i, r := range s {
		if r == ' ' || r == '\t' || r == '\n' || r == '\r' {
			continue
		}
		if u := unicode.ToUpper(r); u != r && r != utf8.RuneError {
			return s[:i] + string(u) + s[i+utf8.RuneLen(r):]
		}
		break
	}
	return s
}
