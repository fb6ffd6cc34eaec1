package counter

import (
	"cmp"
	"context"
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/resumecounter/counter/internal/deadline"
	"github.com/resumecounter/counter/internal/fontmetrics"
)

// Chart sizes, in pixels, and the days a chart shows.
const (
	DefaultChartDays   = 30
	DefaultChartWidth  = 640
	DefaultChartHeight = 220
	MinChartWidth      = 200
	MaxChartWidth      = 2000
	MinChartHeight     = 100
	MaxChartHeight     = 1000
)

// Chart is an SVG chart of one key's daily numbers: hits as bars, unique
// visitors as a line, the first and last date and the largest number on
// its axis. It follows the reader's light or dark colour scheme
// (prefers-color-scheme) and carries a <title> and <desc> for screen
// readers.
type Chart struct {
	Key  string // named in full in the title and aria-label
	Days []Day  // oldest first, as [DayReader.LastDays] returns them
	// Width and Height in pixels, clamped to MinChartWidth…MaxChartWidth
	// and MinChartHeight…MaxChartHeight. Zero: DefaultChartWidth and
	// DefaultChartHeight.
	Width, Height int
}

// Chart layout, in pixels: padding around everything, the baseline of the
// top row (the maximum and the legend), the plot's top, and the room below
// it for the dates.
const (
	chartPad      = 8
	chartFont     = 11
	chartTopText  = 15
	chartPlotTop  = 24
	chartBottom   = 18
	chartDateBase = 5 // the dates' baseline above the bottom edge
	chartSwatch   = 10
	chartGap      = 4  // between a swatch and its text
	chartLegendSp = 12 // between the two legend entries
)

var (
	hitsWidth     = fontmetrics.Regular.WidthASCII("hits") * chartFont * 100 / fontmetrics.UnitsPerEm
	visitorsWidth = fontmetrics.Regular.WidthASCII("visitors") * chartFont * 100 / fontmetrics.UnitsPerEm
)

// chartStyle colours the chart for light and dark schemes.
const chartStyle = `<style>.b{fill:#fff}.t{fill:#57606a}.a{stroke:#d0d7de}.h{fill:#54aeff}.v{stroke:#cf222e}` +
	`@media (prefers-color-scheme:dark){.b{fill:#0d1117}.t{fill:#8b949e}.a{stroke:#30363d}.h{fill:#1f6feb}.v{stroke:#ff7b72}}</style>`

// AppendSVG appends the chart as an SVG document to dst. The output depends
// only on c. Appending to a buffer with room (about 2.5 KB for 30 days,
// under 32 KB for 366) does not allocate.
func (c Chart) AppendSVG(dst []byte) []byte {
	w := cmp.Or(c.Width, DefaultChartWidth)
	w = min(max(w, MinChartWidth), MaxChartWidth)
	h := cmp.Or(c.Height, DefaultChartHeight)
	h = min(max(h, MinChartHeight), MaxChartHeight)
	days := c.Days
	if len(days) > MaxHistoryDays {
		days = days[len(days)-MaxHistoryDays:]
	}

	var top, hits, visitors int64
	busiest := -1
	for i, d := range days {
		hits += max(d.Count, 0)
		visitors += max(d.Visitors, 0)
		if busiest < 0 || d.Count > days[busiest].Count {
			busiest = i
		}
		top = max(top, d.Count, d.Visitors)
	}

	var n num
	dst = append(dst, `<svg xmlns="http://www.w3.org/2000/svg" width="`...)
	dst = strconv.AppendInt(dst, int64(w), 10)
	dst = append(dst, `" height="`...)
	dst = strconv.AppendInt(dst, int64(h), 10)
	dst = append(dst, `" viewBox="0 0 `...)
	dst = strconv.AppendInt(dst, int64(w), 10)
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, int64(h), 10)
	dst = append(dst, `" role="img" aria-label="`...)
	titleStart := len(dst)
	dst = appendEscaped(dst, c.Key)
	dst = append(dst, `: hits and visitors, last `...)
	dst = strconv.AppendInt(dst, int64(len(days)), 10)
	if len(days) == 1 {
		dst = append(dst, ` day`...)
	} else {
		dst = append(dst, ` days`...)
	}
	titleEnd := len(dst)
	dst = append(dst, `"><title>`...)
	dst = append(dst, dst[titleStart:titleEnd]...)
	dst = append(dst, `</title><desc>`...)
	dst = append(dst, `Daily hits (bars) and unique visitors (line)`...)
	if len(days) > 0 {
		dst = append(dst, ` from `...)
		dst = appendEscaped(dst, string(days[0].Date))
		dst = append(dst, ` to `...)
		dst = appendEscaped(dst, string(days[len(days)-1].Date))
		dst = append(dst, `: `...)
		dst = AppendNumber(dst, hits, FormatGrouped)
		dst = append(dst, ` hits and `...)
		dst = AppendNumber(dst, visitors, FormatGrouped)
		dst = append(dst, ` visitors in all; most hits in a day: `...)
		dst = AppendNumber(dst, max(days[busiest].Count, 0), FormatGrouped)
		dst = append(dst, ` (`...)
		dst = appendEscaped(dst, string(days[busiest].Date))
		dst = append(dst, ')')
	}
	dst = append(dst, `.</desc>`...)
	dst = append(dst, chartStyle...)
	dst = append(dst, `<rect class="b" width="100%" height="100%" rx="4"/>`...)

	// The plot, in hundredths of a pixel.
	left, right := chartPad*100, (w-chartPad)*100
	plotTop, plotBottom := chartPlotTop*100, (h-chartBottom)*100
	plotH := plotBottom - plotTop

	// Axis: the maximum's gridline and the baseline.
	dst = append(dst, `<path class="a" fill="none" stroke-width="1" d="M`...)
	dst = strconv.AppendInt(dst, int64(chartPad), 10)
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, int64(chartPlotTop), 10)
	dst = append(dst, `.5H`...)
	dst = strconv.AppendInt(dst, int64(w-chartPad), 10)
	dst = append(dst, `M`...)
	dst = strconv.AppendInt(dst, int64(chartPad), 10)
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, int64(h-chartBottom), 10)
	dst = append(dst, `.5H`...)
	dst = strconv.AppendInt(dst, int64(w-chartPad), 10)
	dst = append(dst, `" stroke-dasharray="3 3"/>`...)

	if len(days) > 0 {
		slot := float64(right-left) / float64(len(days))
		scale := 0.0
		if top > 0 {
			scale = float64(plotH) / float64(top)
		}
		barW := int(math.Round(slot * 0.8))
		if slot >= 300 { // a gap of at least 1 px once bars are 3 px wide
			barW = int(math.Round(slot)) - max(100, int(math.Round(slot*0.2)))
		}
		barW = max(barW, 1)
		// Hits: one path of rectangles, skipping empty days.
		dst = append(dst, `<path class="h" d="`...)
		for i, d := range days {
			if d.Count <= 0 {
				continue
			}
			// At least 1 px, so that every day with hits shows.
			bh := max(int(math.Round(float64(d.Count)*scale)), 100)
			x := left + int(math.Round(slot*float64(i)+(slot-float64(barW))/2))
			dst = append(dst, 'M')
			n.set(x)
			dst = append(dst, n.bytes()...)
			dst = append(dst, ' ')
			n.set(plotBottom)
			dst = append(dst, n.bytes()...)
			dst = append(dst, `v-`...)
			n.set(bh)
			dst = append(dst, n.bytes()...)
			dst = append(dst, 'h')
			n.set(barW)
			dst = append(dst, n.bytes()...)
			dst = append(dst, `v`...)
			n.set(bh)
			dst = append(dst, n.bytes()...)
			dst = append(dst, 'z')
		}
		dst = append(dst, `"/>`...)

		// Visitors: one line through the middle of each day's slot.
		dst = append(dst, `<path class="v" fill="none" stroke-width="`...)
		if slot >= 400 {
			dst = append(dst, '2')
		} else {
			dst = append(dst, '1') // a thinner line where days are close together
		}
		dst = append(dst, `" stroke-linejoin="round" stroke-linecap="round" d="`...)
		for i, d := range days {
			x := left + int(math.Round(slot*float64(i)+slot/2))
			y := plotBottom - int(math.Round(float64(max(d.Visitors, 0))*scale))
			if i == 0 {
				dst = append(dst, 'M')
			} else {
				dst = append(dst, 'L')
			}
			n.set(x)
			dst = append(dst, n.bytes()...)
			dst = append(dst, ' ')
			n.set(y)
			dst = append(dst, n.bytes()...)
		}
		if len(days) == 1 {
			dst = append(dst, `h.01`...) // a dot
		}
		dst = append(dst, `"/>`...)
	}

	// Texts: the maximum at the top left, the legend at the top right, the
	// first and last dates below the plot.
	var numBuf [32]byte
	topText := AppendNumber(numBuf[:0], top, FormatGrouped)
	legendW := chartSwatch*100 + chartGap*100 + hitsWidth + chartLegendSp*100 + chartSwatch*100 + chartGap*100 + visitorsWidth
	if textWidth(topText)+legendW+chartLegendSp*100 > right-left {
		topText = AppendNumber(numBuf[:0], top, FormatMetric)
	}
	dst = append(dst, `<g class="t" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" font-size="11">`...)
	dst = appendChartText(dst, left, chartTopText*100, "", topText)

	// Legend: a bar swatch and "hits", a line swatch and "visitors".
	x := right - legendW
	dst = append(dst, `<rect class="h" x="`...)
	n.set(x)
	dst = append(dst, n.bytes()...)
	dst = append(dst, `" y="`...)
	dst = strconv.AppendInt(dst, chartTopText-chartSwatch+1, 10)
	dst = append(dst, `" width="10" height="10"/>`...)
	x += chartSwatch*100 + chartGap*100
	dst = appendChartText(dst, x, chartTopText*100, "", []byte("hits"))
	x += hitsWidth + chartLegendSp*100
	dst = append(dst, `<path class="v" stroke-width="2" stroke-linecap="round" d="M`...)
	n.set(x + 100)
	dst = append(dst, n.bytes()...)
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, chartTopText-4, 10)
	dst = append(dst, `h8"/>`...)
	x += chartSwatch*100 + chartGap*100
	dst = appendChartText(dst, x, chartTopText*100, "", []byte("visitors"))

	if len(days) > 0 {
		base := (h - chartDateBase) * 100
		dst = appendChartText(dst, left, base, "", []byte(days[0].Date))
		if len(days) > 1 {
			dst = appendChartText(dst, right, base, "end", []byte(days[len(days)-1].Date))
		}
	}
	return append(dst, `</g></svg>`...)
}

// textWidth is the width of ASCII text at the chart's font size, in
// hundredths of a pixel.
func textWidth(s []byte) int {
	return fontmetrics.Regular.WidthASCII(string(s)) * chartFont * 100 / fontmetrics.UnitsPerEm
}

// appendChartText appends a <text> of plain ASCII s at (x, y), in
// hundredths of a pixel.
func appendChartText(dst []byte, x, y int, anchor string, s []byte) []byte {
	var n num
	dst = append(dst, `<text x="`...)
	n.set(x)
	dst = append(dst, n.bytes()...)
	dst = append(dst, `" y="`...)
	n.set(y)
	dst = append(dst, n.bytes()...)
	if anchor != "" {
		dst = append(dst, `" text-anchor="`...)
		dst = append(dst, anchor...)
	}
	dst = append(dst, `">`...)
	dst = appendEscaped(dst, string(s))
	return append(dst, `</text>`...)
}

// appendEscaped appends all of s as XML text, white space collapsed as in
// a badge but never cut: a chart's title names its whole key, so keys that
// share a beginning keep distinct accessible names.
func appendEscaped(dst []byte, s string) []byte {
	if plainASCII(s, false) {
		return append(dst, s...)
	}
	it := textIter{s: s, max: len(s)}
	return appendRunes(dst, &it)
}

// ChartHandler answers an SVG chart ([Chart]) of a key's last days, read
// from days: hits as bars, unique visitors as a line. It never counts a
// visit.
//
// Query parameters: days, 1 to [MaxHistoryDays] (default 30); width, 200
// to 2000 pixels (default 640); height, 100 to 1000 (default 220). Any
// other value of these answers 400; other parameters are ignored.
//
// It follows [BadgeHandler]'s rules for keys, CORS, Timeout and errors
// (which answer an SVG badge), and its caching for read-only answers: an
// ETag, 304 Not Modified to a matching If-None-Match, and Cache-Control:
// no-cache. GET and HEAD are answered, OPTIONS with 204; other methods 405.
// Every body is an SVG with a Content-Security-Policy that forbids scripts.
//
// ChartHandler panics if days is nil or opts are invalid, as JSONHandler
// does.
func ChartHandler(days DayReader, opts HandlerOptions) http.Handler {
	if days == nil {
		panic("counter: ChartHandler needs a DayReader, got nil")
	}
	// The key rules, timeout, logging and errors are BadgeHandler's: its
	// core, without CORS, which wraps the chart handler instead.
	core := opts
	core.AllowedOrigins = nil
	core.Label = "chart"
	c := &chartHandler{h: newHandler(noIncrement{}, core, true).(*handler), days: days}
	if len(opts.AllowedOrigins) == 0 {
		return c
	}
	return withCORS(c, opts.AllowedOrigins)
}

// noIncrement stands in for the Incrementer the shared handler core
// expects; the chart handler never calls it.
type noIncrement struct{}

func (noIncrement) Increment(context.Context, string) (int64, error) {
	return 0, errors.New("counter: the chart handler does not count")
}

type chartHandler struct {
	h    *handler
	days DayReader
}

var (
	hdrChartAllow = []string{"GET, HEAD, OPTIONS"}
	errBadSize    = problem{http.StatusBadRequest, "invalid size"}
)

// chartQuery is a chart request's parameters.
type chartQuery struct{ days, width, height int }

// parseChartQuery reads days, width and height from a raw query; the first
// of repeated parameters wins and others are ignored.
func parseChartQuery(raw string) (chartQuery, *problem) {
	q := chartQuery{days: DefaultChartDays, width: DefaultChartWidth, height: DefaultChartHeight}
	var seenDays, seenW, seenH bool
	for raw != "" {
		var part string
		part, raw, _ = strings.Cut(raw, "&")
		name, value, _ := strings.Cut(part, "=")
		var dst *int
		var seen *bool
		lo, hi, p := 0, 0, &errBadSize
		switch name {
		case "days":
			dst, seen, lo, hi, p = &q.days, &seenDays, 1, MaxHistoryDays, &errBadDays
		case "width":
			dst, seen, lo, hi = &q.width, &seenW, MinChartWidth, MaxChartWidth
		case "height":
			dst, seen, lo, hi = &q.height, &seenH, MinChartHeight, MaxChartHeight
		default:
			continue
		}
		if *seen {
			continue
		}
		*seen = true
		v, ok := smallInt(value)
		if !ok || v < lo || v > hi {
			return q, p
		}
		*dst = v
	}
	return q, nil
}

// smallInt parses 1 to 4 decimal digits.
func smallInt(s string) (int, bool) {
	if s == "" || len(s) > 4 {
		return 0, false
	}
	v := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, true
}

func (c *chartHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := c.h
	hdr := w.Header()
	hdr["X-Content-Type-Options"] = hdrNosniff
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	case http.MethodOptions:
		hdr["Allow"] = hdrChartAllow
		w.WriteHeader(http.StatusNoContent)
		return
	default:
		hdr["Allow"] = hdrChartAllow
		h.fail(w, r, errMethod, h.defaults)
		return
	}
	raw := r.URL.RawQuery
	if len(raw) > maxQueryLen {
		h.fail(w, r, errQueryLong, h.defaults)
		return
	}
	q, p := parseChartQuery(raw)
	if p != nil {
		h.fail(w, r, *p, h.defaults)
		return
	}
	key := r.PathValue("key")
	if key == "" {
		key = h.key
	}
	if CheckKey(key) != nil {
		h.fail(w, r, errBadKey, h.defaults)
		return
	}
	if !h.allowed(key) {
		h.fail(w, r, errUnknownKey, h.defaults)
		return
	}

	ctx := r.Context()
	if h.timeout > 0 {
		dc := deadline.New(ctx, h.timeout)
		defer dc.Cancel()
		ctx = dc
	}
	days, err := c.days.LastDays(ctx, key, q.days)
	if err != nil {
		h.storeFailed(ctx, w, r, key, false, err, h.defaults)
		return
	}

	bp := bufPool.Get().(*[]byte)
	body := Chart{Key: key, Days: days, Width: q.width, Height: q.height}.AppendSVG((*bp)[:0])
	hdr["Content-Type"] = hdrSVG
	hdr["Content-Security-Policy"] = hdrCSP
	hdr["Cache-Control"] = hdrRevalidate
	etag := etagOf(body)
	hdr["Etag"] = []string{etag}
	switch {
	case etagMatch(r.Header.Get("If-None-Match"), etag):
		delete(hdr, "Content-Type")
		delete(hdr, "Content-Security-Policy")
		w.WriteHeader(http.StatusNotModified)
	case r.Method == http.MethodHead:
		hdr["Content-Length"] = []string{strconv.Itoa(len(body))}
		w.WriteHeader(http.StatusOK)
	default:
		w.Write(body) // an error here is the client's going away
	}
	if cap(body) <= 64<<10 {
		*bp = body
		bufPool.Put(bp)
	}
}
