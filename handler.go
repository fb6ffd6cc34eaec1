package counter

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/rs/cors"

	"github.com/resumecounter/counter/internal/deadline"
)

// HandlerOptions configures [JSONHandler] and [BadgeHandler]. The zero value
// works: it counts any valid key, sends no CORS headers and draws blue
// "hits" badges with grouped numbers.
type HandlerOptions struct {
	// DefaultKey is counted when the request has no {key} path value (the
	// handler is mounted on a pattern without {key}). Default: "visitors".
	DefaultKey string
	// Keys, if not empty, lists the only keys that may be counted or read;
	// any other key answers 404 Not Found and nothing is written. List
	// DefaultKey too if the handler uses it. Default: any valid key.
	Keys []string
	// AllowKey, if set, decides instead of Keys which keys may be counted or
	// read (a prefix or a pattern, say). It gets only keys that pass
	// [CheckKey]; a false answers 404. Default: nil (use Keys).
	AllowKey func(key string) bool
	// AllowedOrigins lists the origins allowed to read responses from
	// scripts (CORS), matched exactly, as browsers send them:
	// "https://example.com", "http://localhost:8080". "*" allows every
	// origin. Responses then carry Vary: Origin, and preflight requests are
	// answered without counting. An entry that could never match (see
	// [CheckOrigin]) makes the constructors panic. Default: none, and no
	// CORS headers at all.
	AllowedOrigins []string
	// Timeout bounds each request's store call through its context (every
	// store here honours it); when it passes, the visitor gets 504 Gateway
	// Timeout and the Logger the cause. [Memory], whose calls never wait,
	// gets the request's own context: no timeout could fire in its calls.
	// Negative: no limit beyond the request's own context. Default: 3s.
	Timeout time.Duration
	// Logger receives store errors and timeouts, with the key and the cause.
	// Default: slog.Default() at the time of logging.
	Logger *slog.Logger

	// Label is the badge's left text (and the shields endpoint's label),
	// unless the request's label parameter says otherwise. Default: the
	// name of the number shown, so that a badge never names another one:
	// "hits" for the count (the default show), "visitors", "hits today",
	// "visitors today", and for two numbers both names joined by " / "
	// ("hits today / hits" for show=today/count).
	Label string
	// Color is the badge's message background, any colour [Badge] takes.
	// Default: "blue".
	Color string
	// LabelColor is the label background. Default: "#555".
	LabelColor string
	// Style is the badge style. Default: [StyleFlat].
	Style Style
	// NumberFormat writes the count on badges and in the shields endpoint's
	// message. JSON's count is always a plain JSON number. Default:
	// [FormatGrouped] (1,234).
	NumberFormat NumberFormat
}

// Limits on what a request may carry. Longer queries answer 414, longer
// labels 400 (see MaxTextLen).
const (
	maxQueryLen = 1024
	maxColorLen = 32
)

// JSONHandler counts a visit and answers {"key":"visitors","count":1234},
// the count a JSON number.
//
// GET and POST count (a POST body is ignored); ?hit=false reads without
// counting, which needs a store implementing [Reader]. HEAD and OPTIONS never
// count; other methods answer 405. ?format=shields answers the shields.io
// endpoint schema ({"schemaVersion":1,"label":…,"message":…,"color":…}),
// read-only unless ?hit=true, and takes the badge parameters label, color,
// labelColor, style, logo and logoColor.
//
// Counted responses are never cached (Cache-Control: no-cache, no-store,
// must-revalidate, max-age=0, with Pragma: no-cache and Expires: 0 for
// older caches); read-only responses carry an ETag and answer
// 304 Not Modified to a matching If-None-Match. Errors answer
// {"error":"…"} with a generic text: 400 for an invalid key or parameter,
// 404 for a key not allowed by Keys or AllowKey or a new key the store
// refuses with [ErrTooManyKeys] (nothing is written), 414 for a query longer than
// 1024 bytes, 501 for ?hit=false over a store that cannot read (no [Reader],
// or a Count failing with [errors.ErrUnsupported]), 503 when the
// store fails and 504 when it does not answer within Timeout. The cause of a
// 5xx goes to the Logger, never to the client.
//
// Given a [Visitors] (any Incrementer that also implements [VisitReader]),
// the handlers count visitors as well: GET and POST call Visit, and JSON
// answers {"key":"home","count":1234,"visitors":321,"today":{"date":
// "2026-12-01","count":12,"visitors":5}}. A visit id (Idempotency-Key
// header or ?visit=) that is invalid answers 400. ?days=N (1 to 366) reads
// without counting and adds "days":[{"date":…,"count":…,"visitors":…},…],
// the last N days ending today, oldest first; any other value answers 400,
// and a counter without daily history ([DayReader]) 501. Without a
// VisitReader the visit id is ignored and the answer is as above.
//
// ?optout=1 (or true) reads without counting, for a browser whose owner
// opted out. Every answer that did not count says why in the
// Counter-Not-Counted header: bot, repeat (a visit id seen before),
// opt-out or read-only (?hit=false, HEAD, ?days=, the shields endpoint
// without ?hit=true).
//
// JSONHandler panics if opts are invalid (a DefaultKey that fails
// [CheckKey], an unknown Style or colour, an AllowedOrigins entry that fails
// [CheckOrigin]), as [http.ServeMux.Handle] does
// for a bad pattern: a configuration error shows at startup.
func JSONHandler(inc Incrementer, opts HandlerOptions) http.Handler {
	return newHandler(inc, opts, false)
}

// BadgeHandler counts a visit and answers with an SVG badge showing the
// count, for <img> tags and READMEs.
//
// It follows [JSONHandler]'s rules for methods, ?hit=false, caching, CORS,
// keys and errors, and takes the query parameters label (empty draws a
// message-only badge), color, labelColor, style, logo and logoColor, each overriding the
// option of the same name. An invalid parameter answers 400. Every response
// with a body, errors included, is an SVG (image/svg+xml, with a
// Content-Security-Policy that forbids scripts), so an <img> always shows
// a badge: "unavailable" when the store fails, "timeout" when it is slow.
//
// ?show= picks the number drawn, for badges and the shields endpoint:
// count (the default), visitors, today or today-visitors, or two of them
// joined by '/' drawn as "12 / 1,234" (show=today/count). Any other value
// answers 400; a number other than count over a store that does not track
// visitors answers 501. Without a label (the option or ?label=), the label
// names the number drawn: "hits: 1,234", "visitors: 321",
// "hits today / hits: 12 / 1,234" (see [HandlerOptions].Label).
//
// BadgeHandler panics if opts are invalid, as JSONHandler does.
func BadgeHandler(inc Incrementer, opts HandlerOptions) http.Handler {
	return newHandler(inc, opts, true)
}

// handler serves both endpoints; badge selects the SVG one.
type handler struct {
	inc      Incrementer
	reader   Reader      // nil if inc cannot read without counting
	visits   VisitReader // nil if inc does not count visitors
	days     DayReader   // nil if inc cannot read daily numbers
	badge    bool
	key      string
	keys     map[string]struct{}
	allowKey func(string) bool
	timeout  time.Duration
	logger   *slog.Logger
	defaults Badge // label, colours and style from the options
	labelSet bool  // HandlerOptions.Label was given: it names every badge
	format   NumberFormat
	refusals warnLimiter // new keys the store refused, for the log
	// neverBlocks: inc never waits (Memory), so Timeout cannot fire
	// during its calls and no deadline is set up for them.
	neverBlocks bool
}

func newHandler(inc Incrementer, opts HandlerOptions, badge bool) http.Handler {
	if inc == nil {
		panic("counter: handler needs an Incrementer, got nil")
	}
	h := &handler{
		inc:      inc,
		badge:    badge,
		key:      cmp.Or(opts.DefaultKey, "visitors"),
		allowKey: opts.AllowKey,
		timeout:  opts.Timeout,
		logger:   opts.Logger,
		format:   opts.NumberFormat,
		labelSet: opts.Label != "",
		defaults: Badge{
			Label:      cmp.Or(opts.Label, showLabels[showCount][showNone]),
			Color:      cmp.Or(opts.Color, "blue"),
			LabelColor: cmp.Or(opts.LabelColor, "#555"),
			Style:      cmp.Or(opts.Style, StyleFlat),
		},
	}
	h.reader = readerOf(inc)
	h.visits, _ = inc.(VisitReader)
	h.days, _ = inc.(DayReader)
	// Exactly *Memory: a type embedding it may well wait.
	_, h.neverBlocks = inc.(*Memory)
	if v, ok := inc.(*Visitors); ok {
		_, h.neverBlocks = v.store.(*Memory)
	}
	if err := CheckKey(h.key); err != nil {
		panic(fmt.Sprintf("counter: HandlerOptions.DefaultKey: %v", err))
	}
	if err := h.defaults.Validate(); err != nil {
		panic("counter: HandlerOptions: " + strings.TrimPrefix(err.Error(), "counter: "))
	}
	if h.timeout == 0 {
		h.timeout = 3 * time.Second
	}
	if len(opts.Keys) > 0 {
		h.keys = make(map[string]struct{}, len(opts.Keys))
		for _, k := range opts.Keys {
			h.keys[k] = struct{}{}
		}
	}
	for _, origin := range opts.AllowedOrigins {
		if err := CheckOrigin(origin); err != nil {
			panic("counter: HandlerOptions.AllowedOrigins: " + strings.TrimPrefix(err.Error(), "counter: "))
		}
	}
	if len(opts.AllowedOrigins) == 0 {
		return h
	}
	return withCORS(h, opts.AllowedOrigins)
}

// withCORS answers CORS for the origins listed, exactly matched, through
// rs/cors. It adds its headers before the handler runs, so error responses
// carry them too, and it answers preflight requests itself (204) without
// calling the handler, so they never count.
func withCORS(h http.Handler, origins []string) http.Handler {
	o := cors.Options{
		AllowedMethods: []string{http.MethodGet, http.MethodHead, http.MethodPost},
		ExposedHeaders: []string{"ETag", "Counter-Not-Counted"},
	}
	if slices.Contains(origins, "*") {
		o.AllowedOrigins = []string{"*"}
	} else {
		// AllowOriginFunc rather than AllowedOrigins: rs/cors reads "*"
		// inside an origin as a wildcard and compares without case, while
		// an allowlist here means these origins and no other.
		allowed := make(map[string]struct{}, len(origins))
		for _, origin := range origins {
			allowed[origin] = struct{}{}
		}
		o.AllowOriginFunc = func(origin string) bool {
			_, ok := allowed[origin]
			return ok
		}
	}
	c := cors.New(o).Handler(h)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["X-Content-Type-Options"] = hdrNosniff // on preflight answers too
		c.ServeHTTP(w, r)
	})
}

// Header values shared by every response. Assigned to the header map
// directly: net/http never modifies them, and this saves allocations.
var (
	hdrNosniff    = []string{"nosniff"}
	hdrJSON       = []string{"application/json; charset=utf-8"}
	hdrSVG        = []string{"image/svg+xml"}
	hdrCSP        = []string{"default-src 'none'; style-src 'unsafe-inline'"}
	hdrNoStore    = []string{"no-cache, no-store, must-revalidate, max-age=0"}
	hdrRevalidate = []string{"no-cache"}
	hdrPragma     = []string{"no-cache"} // for HTTP/1.0 caches, beside hdrNoStore
	hdrExpires    = []string{"0"}
	hdrAllow      = []string{"GET, HEAD, POST, OPTIONS"}
)

// query holds the parameters the handlers read; others are ignored (cache
// busters such as ?v=2 are common in READMEs).
type query struct {
	hit, format                       string
	label, color, labelColor          string
	style                             string
	show, days, optout                string
	logo, logoColor                   string
	hasHit, hasFormat, hasLabel       bool
	hasColor, hasLabelColor, hasStyle bool
	hasShow, hasDays, hasOptout       bool
	hasLogo, hasLogoColor             bool
}

var errQuery = errors.New("counter: malformed query")

// parseQuery reads the known parameters from a raw query without the
// allocations of url.ParseQuery; the first of repeated parameters wins.
func parseQuery(raw string) (query, error) {
	var q query
	for raw != "" {
		var part string
		part, raw, _ = strings.Cut(raw, "&")
		if part == "" {
			continue
		}
		name, value, _ := strings.Cut(part, "=")
		if strings.ContainsAny(name, "%+") {
			var err error
			if name, err = url.QueryUnescape(name); err != nil {
				continue // not a parameter we read
			}
		}
		var dst *string
		var seen *bool
		switch name {
		case "hit":
			dst, seen = &q.hit, &q.hasHit
		case "format":
			dst, seen = &q.format, &q.hasFormat
		case "label":
			dst, seen = &q.label, &q.hasLabel
		case "color":
			dst, seen = &q.color, &q.hasColor
		case "labelColor":
			dst, seen = &q.labelColor, &q.hasLabelColor
		case "style":
			dst, seen = &q.style, &q.hasStyle
		case "show":
			dst, seen = &q.show, &q.hasShow
		case "days":
			dst, seen = &q.days, &q.hasDays
		case "optout":
			dst, seen = &q.optout, &q.hasOptout
		case "logo":
			dst, seen = &q.logo, &q.hasLogo
		case "logoColor":
			dst, seen = &q.logoColor, &q.hasLogoColor
		default:
			continue
		}
		if *seen {
			continue
		}
		if strings.ContainsAny(value, "%+") {
			var err error
			if value, err = url.QueryUnescape(value); err != nil {
				return q, errQuery
			}
		}
		*dst, *seen = value, true
	}
	return q, nil
}

// problem is a failed request: the status and the generic text the client
// sees. Internal causes are logged, never put here.
type problem struct {
	status int
	text   string
}

var (
	errMethod     = problem{http.StatusMethodNotAllowed, "method not allowed"}
	errQueryLong  = problem{http.StatusRequestURITooLong, "query too long"}
	errBadQuery   = problem{http.StatusBadRequest, "malformed query"}
	errBadHit     = problem{http.StatusBadRequest, "invalid hit"}
	errBadFormat  = problem{http.StatusBadRequest, "invalid format"}
	errBadBadge   = problem{http.StatusBadRequest, "invalid badge parameter"}
	errBadKey     = problem{http.StatusBadRequest, "invalid key"}
	errUnknownKey = problem{http.StatusNotFound, "unknown key"}
	errNoReader   = problem{http.StatusNotImplemented, "reading without counting is not supported"}
	errBadShow    = problem{http.StatusBadRequest, "invalid show"}
	errBadDays    = problem{http.StatusBadRequest, "invalid days"}
	errBadOptout  = problem{http.StatusBadRequest, "invalid optout"}
	errBadVisitID = problem{http.StatusBadRequest, "invalid visit id"}
	errNoVisitors = problem{http.StatusNotImplemented, "visitors are not tracked"}
	errNoDays     = problem{http.StatusNotImplemented, "daily history is not kept"}
	errStore      = problem{http.StatusServiceUnavailable, "unavailable"}
	errTimeout    = problem{http.StatusGatewayTimeout, "timeout"}
)

// bufPool holds response buffers; a badge is well under 2 KiB.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr["X-Content-Type-Options"] = hdrNosniff
	switch r.Method {
	case http.MethodGet, http.MethodPost, http.MethodHead:
	case http.MethodOptions:
		hdr["Allow"] = hdrAllow
		w.WriteHeader(http.StatusNoContent)
		return
	default:
		hdr["Allow"] = hdrAllow
		h.fail(w, r, errMethod, h.defaults)
		return
	}
	req := request{badge: h.defaults}
	if p := h.parse(r, &req); p.status != 0 {
		h.fail(w, r, p, req.badge)
		return
	}
	ctx := r.Context()
	if h.timeout > 0 && !h.neverBlocks {
		// Like context.WithTimeout, without arming a timer for stores
		// that never wait on ctx.Done (Memory).
		dc := deadline.New(ctx, h.timeout)
		defer dc.Cancel()
		ctx = dc
	}
	var d decision
	p, err := h.decide(ctx, r, &req, &d)
	switch {
	case p.status != 0:
		h.fail(w, r, p, req.badge)
	case err != nil:
		h.storeFailed(ctx, w, r, req.key, d.count, err, req.badge)
	default:
		h.answer(w, r, &req, &d)
	}
}

// request is what parse read from a request.
type request struct {
	key     string
	badge   Badge // the options' badge with the query's changes
	shields bool  // answer for the shields.io endpoint
	count   bool  // the method and ?hit= ask to count
	visit   visitParams
}

// parse reads r into req, whose badge holds the options' badge, or returns
// the problem to answer. req's badge then holds the query's changes as far
// as they were read and valid, for the error badge.
func (h *handler) parse(r *http.Request, req *request) problem {
	var q query
	if raw := r.URL.RawQuery; raw != "" {
		if len(raw) > maxQueryLen {
			return errQueryLong
		}
		var err error
		if q, err = parseQuery(raw); err != nil {
			return errBadQuery
		}
	}
	if q.hasFormat && !h.badge {
		if q.format != "shields" {
			return errBadFormat
		}
		req.shields = true
	}
	var ok bool
	if req.count, ok = countOf(r.Method, &q, req.shields); !ok {
		return errBadHit
	}
	image := h.badge || req.shields
	if image && !h.setBadge(&req.badge, &q) {
		req.badge = h.defaults
		return errBadBadge
	}
	if p := h.parseVisitParams(r, &q, image, &req.visit); p.status != 0 {
		return p
	}
	if req.key = r.PathValue("key"); req.key == "" {
		req.key = h.key // checked by newHandler
	} else if CheckKey(req.key) != nil {
		return errBadKey
	}
	if !h.allowed(req.key) {
		return errUnknownKey
	}
	return problem{}
}

// countOf reports whether a request with method and q asks to count, and
// false as ok for an invalid ?hit=. HEAD never counts; the shields
// endpoint counts only when asked to, as shields caches what it fetches.
func countOf(method string, q *query, shields bool) (count, ok bool) {
	countable := method != http.MethodHead
	if !q.hasHit {
		return countable && !shields, true
	}
	switch q.hit {
	case "false", "0":
		return false, true
	case "true", "1":
		return countable, true
	}
	return false, false
}

// setBadge makes the changes to b that q asks for, and reports whether
// the result is a valid badge.
func (h *handler) setBadge(b *Badge, q *query) bool {
	if q.hasLabel {
		b.Label = q.label
	} else if !h.labelSet && q.hasShow {
		if sh, ok := parseShow(q.show); ok {
			b.Label = showLabels[sh[0]][sh[1]]
		}
	}
	if q.hasColor {
		b.Color = q.color
	}
	if q.hasLabelColor {
		b.LabelColor = q.labelColor
	}
	if q.hasStyle {
		b.Style = Style(q.style)
	}
	if q.hasLogo {
		b.Logo = q.logo
	}
	if q.hasLogoColor {
		b.LogoColor = q.logoColor
	}
	if q.hasLabel || q.hasColor || q.hasLabelColor || q.hasStyle || q.hasLogo || q.hasLogoColor {
		if len(b.Color) > maxColorLen || len(b.LabelColor) > maxColorLen || len(b.LogoColor) > maxColorLen || b.Validate() != nil {
			return false
		}
	}
	return true
}

// decision is what decide settled and what the store answered.
type decision struct {
	count bool // the store was asked to count
	skip  Skip // why the request was not counted; Counted if it was
	stats Stats
	days  []Day // the ?days= history, oldest first
}

// decide settles whether req counts (an opt-out or a history read never
// does) and asks the store, into d. It returns a problem for what the handler
// cannot answer, or the store's error.
func (h *handler) decide(ctx context.Context, r *http.Request, req *request, d *decision) (problem, error) {
	d.count, d.skip = req.count, Counted
	switch {
	case req.visit.optout:
		d.count, d.skip = false, SkipOptOut
	case req.visit.days > 0:
		d.count, d.skip = false, SkipReadOnly
	case !d.count:
		d.skip = SkipReadOnly
	}
	if !d.count && h.visits == nil && h.reader == nil {
		return errNoReader, nil
	}
	var err error
	switch {
	case h.visits != nil && d.count:
		d.stats, d.skip, err = h.visits.Visit(ctx, r, req.key)
	case h.visits != nil:
		d.stats, err = h.visits.Stats(ctx, req.key)
	case d.count:
		d.stats.Count, err = h.inc.Increment(ctx, req.key)
	default:
		d.stats.Count, err = h.reader.Count(ctx, req.key)
	}
	if err == nil && req.visit.days > 0 {
		d.days, err = h.days.LastDays(ctx, req.key, req.visit.days)
		if errors.Is(err, errors.ErrUnsupported) {
			h.log().LogAttrs(ctx, slog.LevelWarn, "counter: ?days= over a store without daily history", slog.String("key", req.key), slog.Any("err", err))
			return errNoDays, nil
		}
	}
	return problem{}, err
}

// answer writes d in req's format. A counted answer is never cached; a
// read carries an ETag and is 304 when If-None-Match has it.
func (h *handler) answer(w http.ResponseWriter, r *http.Request, req *request, d *decision) {
	hdr := w.Header()
	bp := bufPool.Get().(*[]byte)
	body := (*bp)[:0]
	switch {
	case h.badge:
		hdr["Content-Type"] = hdrSVG
		hdr["Content-Security-Policy"] = hdrCSP
		body = h.appendBadge(body, req.badge, req.visit.show, &d.stats)
	case req.shields:
		hdr["Content-Type"] = hdrJSON
		body = h.appendShields(body, req.badge, req.visit.show, &d.stats)
	default:
		hdr["Content-Type"] = hdrJSON
		body = h.appendJSON(body, req.key, &d.stats, d.days)
	}
	if d.skip != Counted {
		hdr["Counter-Not-Counted"] = hdrSkip[d.skip]
	}
	status := http.StatusOK
	if d.count {
		hdr["Cache-Control"], hdr["Pragma"], hdr["Expires"] = hdrNoStore, hdrPragma, hdrExpires
	} else {
		hdr["Cache-Control"] = hdrRevalidate
		etag := etagOf(body)
		hdr["Etag"] = []string{etag}
		if etagMatch(r.Header.Get("If-None-Match"), etag) {
			status = http.StatusNotModified
		}
	}
	switch {
	case status == http.StatusNotModified:
		delete(hdr, "Content-Type")
		delete(hdr, "Content-Security-Policy")
		w.WriteHeader(status)
	case r.Method == http.MethodHead:
		hdr["Content-Length"] = []string{strconv.Itoa(len(body))}
		w.WriteHeader(status)
	default:
		w.Write(body) // an error here is the client's going away; nothing to do
	}
	if cap(body) <= 64<<10 {
		*bp = body
		bufPool.Put(bp)
	}
}

// hdrSkip holds the Counter-Not-Counted header values.
var hdrSkip = map[Skip][]string{
	SkipBot:      {string(SkipBot)},
	SkipRepeat:   {string(SkipRepeat)},
	SkipOptOut:   {string(SkipOptOut)},
	SkipReadOnly: {string(SkipReadOnly)},
}

// visitParams are the parameters about visitors: what a badge shows,
// the days of history asked for (0: none), and whether the browser opted
// out of being counted.
type visitParams struct {
	show   show
	days   int
	optout bool
}

// parseVisitParams reads show (badges and the shields endpoint), days (the
// JSON endpoint), optout and the visit id into v, and checks that the counter
// can answer them: 400 for an invalid value, 501 for what the store does not
// keep. It fills v in place: returning visitParams (an array inside, so
// copied through memory) cost a stalled store-to-load forward per copy.
func (h *handler) parseVisitParams(r *http.Request, q *query, image bool, v *visitParams) problem {
	if q.hasOptout {
		switch q.optout {
		case "1", "true":
			v.optout = true
		case "0", "false":
		default:
			return errBadOptout
		}
	}
	if image && q.hasShow {
		var ok bool
		if v.show, ok = parseShow(q.show); !ok {
			return errBadShow
		}
		if h.visits == nil && (v.show[0] != showCount || v.show[1] != showNone && v.show[1] != showCount) {
			return errNoVisitors
		}
	}
	if !image && q.hasDays {
		n, err := strconv.Atoi(q.days)
		if err != nil || n < 1 || n > MaxHistoryDays || q.days[0] == '+' {
			return errBadDays
		}
		if h.days == nil {
			return errNoDays
		}
		v.days = n
	}
	if h.visits != nil {
		if _, err := VisitIDOf(r); err != nil {
			return errBadVisitID
		}
	}
	return problem{}
}

// showField is a number a badge can show.
type showField uint8

const (
	showNone showField = iota
	showCount
	showVisitors
	showToday
	showTodayVisitors
)

// show is one number, or two drawn as "a / b".
type show [2]showField

// parseShow parses ?show=: count, visitors, today or today-visitors, or two
// of them joined by '/'.
func parseShow(s string) (show, bool) {
	first, second, two := strings.Cut(s, "/")
	a, b := showFieldOf(first), showFieldOf(second)
	if a == showNone || two && b == showNone {
		return show{}, false
	}
	return show{a, b}, true
}

// showNames name each number on a badge's default label.
var showNames = [...]string{showCount: "hits", showVisitors: "visitors", showToday: "hits today", showTodayVisitors: "visitors today"}

// showLabels are the default labels of every show, built once so that
// choosing one does not allocate: "hits", or "hits today / hits" for two.
var showLabels = func() (l [len(showNames)][len(showNames)]string) {
	for a := range showNames {
		for b := range showNames {
			switch {
			case a == int(showNone):
			case b == int(showNone):
				l[a][b] = showNames[a]
			default:
				l[a][b] = showNames[a] + " / " + showNames[b]
			}
		}
	}
	return l
}()

func showFieldOf(s string) showField {
	switch s {
	case "count":
		return showCount
	case "visitors":
		return showVisitors
	case "today":
		return showToday
	case "today-visitors":
		return showTodayVisitors
	}
	return showNone
}

// appendMessage appends the numbers sh names, formatted; the count if sh is
// the zero show.
func (h *handler) appendMessage(dst []byte, sh show, st *Stats) []byte {
	if sh[0] == showNone {
		sh[0] = showCount
	}
	for i, f := range sh {
		var n int64
		switch f {
		case showNone:
			return dst
		case showCount:
			n = st.Count
		case showVisitors:
			n = st.Visitors
		case showToday:
			n = st.Today.Count
		case showTodayVisitors:
			n = st.Today.Visitors
		}
		if i > 0 {
			dst = append(dst, " / "...)
		}
		dst = AppendNumber(dst, n, h.format)
	}
	return dst
}

// appendJSON appends the JSON answer: key and count, and with visitors
// the visitors, today's numbers and the days asked for.
func (h *handler) appendJSON(dst []byte, key string, st *Stats, days []Day) []byte {
	dst = append(dst, `{"key":"`...)
	dst = append(dst, key...) // CheckKey allows no character JSON escapes
	dst = append(dst, `","count":`...)
	dst = strconv.AppendInt(dst, st.Count, 10)
	if h.visits != nil {
		dst = append(dst, `,"visitors":`...)
		dst = strconv.AppendInt(dst, st.Visitors, 10)
		dst = append(dst, `,"today":`...)
		dst = appendDay(dst, st.Today)
	}
	if days != nil {
		dst = append(dst, `,"days":[`...)
		for i, d := range days {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendDay(dst, d)
		}
		dst = append(dst, ']')
	}
	return append(dst, '}')
}

// appendDay appends d as {"date":…,"count":…,"visitors":…}. A Date from
// the library or a store is YYYY-MM-DD and needs no escaping; anything
// else is written as an escaped string.
func appendDay(dst []byte, d Day) []byte {
	dst = append(dst, `{"date":`...)
	dst = appendJSONString(dst, string(d.Date))
	dst = append(dst, `,"count":`...)
	dst = strconv.AppendInt(dst, d.Count, 10)
	dst = append(dst, `,"visitors":`...)
	dst = strconv.AppendInt(dst, d.Visitors, 10)
	return append(dst, '}')
}

func (h *handler) allowed(key string) bool {
	switch {
	case h.allowKey != nil:
		return h.allowKey(key)
	case h.keys != nil:
		_, ok := h.keys[key]
		return ok
	}
	return true
}

// log returns the Logger, or slog.Default() if none was given.
func (h *handler) log() *slog.Logger {
	if h.logger == nil {
		return slog.Default()
	}
	return h.logger
}

// storeFailed answers a failed store call: 504 when our deadline passed,
// 503 otherwise, and logs the cause.
func (h *handler) storeFailed(ctx context.Context, w http.ResponseWriter, r *http.Request, key string, count bool, err error, b Badge) {
	op := "count"
	if count {
		op = "increment"
	}
	logger := h.log()
	p := errStore
	switch {
	case errors.Is(err, ErrInvalidKey):
		p = errBadKey // a store with stricter key rules than CheckKey
	case errors.Is(err, ErrInvalidVisitID):
		p = errBadVisitID // checked before, unless a VisitReader has stricter rules
	case !count && errors.Is(err, errors.ErrUnsupported):
		p = errNoReader // a decorator whose store cannot read after all
	case errors.Is(err, ErrTooManyKeys):
		// The key cannot be created and nothing was written: to the client,
		// a key that does not exist. The operator hears of the full store.
		p = errUnknownKey
		if n, ok := h.refusals.note(); ok { // the first, then at most one line a minute
			logger.LogAttrs(ctx, slog.LevelWarn, "counter: store refused a new key", slog.String("key", key), slog.String("op", op),
				slog.Int64("refused", n), slog.Duration("log_every", warnEvery), slog.Any("err", err))
		}
	case errors.Is(r.Context().Err(), context.Canceled):
		// The client went away; nobody reads the answer.
		logger.LogAttrs(ctx, slog.LevelDebug, "counter: client gone", slog.String("key", key), slog.String("op", op), slog.Any("err", err))
	case ctx.Err() != nil: // Timeout, or the request's own deadline (Lambda's, say)
		p = errTimeout
		logger.LogAttrs(ctx, slog.LevelError, "counter: store timed out", slog.String("key", key), slog.String("op", op),
			slog.Duration("timeout", h.timeout), slog.Any("err", err))
	default:
		logger.LogAttrs(ctx, slog.LevelError, "counter: store failed", slog.String("key", key), slog.String("op", op), slog.Any("err", err))
	}
	h.fail(w, r, p, b)
}

// fail writes p as JSON or as an SVG error badge. Errors are never cached.
func (h *handler) fail(w http.ResponseWriter, r *http.Request, p problem, b Badge) {
	hdr := w.Header()
	hdr["Cache-Control"], hdr["Pragma"], hdr["Expires"] = hdrNoStore, hdrPragma, hdrExpires
	var body []byte
	if h.badge {
		hdr["Content-Type"] = hdrSVG
		hdr["Content-Security-Policy"] = hdrCSP
		b.Message, b.Color = p.text, "lightgrey"
		body = b.AppendSVG(nil)
	} else {
		hdr["Content-Type"] = hdrJSON
		body = append(append(append(body, `{"error":"`...), p.text...), `"}`...) // p.text needs no escaping
	}
	if r.Method == http.MethodHead {
		hdr["Content-Length"] = []string{strconv.Itoa(len(body))}
		w.WriteHeader(p.status)
		return
	}
	w.WriteHeader(p.status)
	w.Write(body)
}

func (h *handler) appendBadge(dst []byte, b Badge, sh show, st *Stats) []byte {
	var num [64]byte
	b.Message = string(h.appendMessage(num[:0], sh, st))
	return b.AppendSVG(dst)
}

func (h *handler) appendShields(dst []byte, b Badge, sh show, st *Stats) []byte {
	dst = append(dst, `{"schemaVersion":1,"label":`...)
	dst = appendJSONString(dst, b.Label)
	dst = append(dst, `,"message":`...)
	var num [64]byte
	dst = appendJSONString(dst, string(h.appendMessage(num[:0], sh, st)))
	dst = append(dst, `,"color":`...)
	dst = appendJSONString(dst, b.Color)
	if b.LabelColor != "#555" {
		dst = append(dst, `,"labelColor":`...)
		dst = appendJSONString(dst, b.LabelColor)
	}
	if b.Style != StyleFlat {
		dst = append(dst, `,"style":`...)
		dst = appendJSONString(dst, string(b.Style))
	}
	if b.Logo != "" {
		dst = append(dst, `,"namedLogo":`...)
		dst = appendJSONString(dst, b.Logo)
	}
	if b.LogoColor != "" {
		dst = append(dst, `,"logoColor":`...)
		dst = appendJSONString(dst, b.LogoColor)
	}
	return append(dst, '}')
}

// appendJSONString appends s as a JSON string. s is valid UTF-8 (checked by
// Badge.Validate); U+2028 and U+2029 are escaped for JavaScript's sake.
func appendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			dst = append(dst, '\\', byte(r))
		case r < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hex[r>>4], hex[r&0xf])
		case r == 0x2028 || r == 0x2029:
			dst = append(dst, `\u202`...)
			dst = append(dst, hex[r&0xf])
		default:
			dst = utf8.AppendRune(dst, r)
		}
	}
	return append(dst, '"')
}

// etagOf is a strong validator of body: its 64-bit FNV-1a hash, computed
// inline as hash/fnv would allocate.
func etagOf(body []byte) string {
	hash := uint64(14695981039346656037)
	for _, c := range body {
		hash ^= uint64(c)
		hash *= 1099511628211
	}
	var buf [18]byte
	buf[0] = '"'
	s := strconv.AppendUint(buf[:1], hash, 16)
	return string(append(s, '"'))
}

// etagMatch applies If-None-Match's weak comparison (RFC 9110 13.1.2).
func etagMatch(header, etag string) bool {
	for header != "" {
		var tag string
		tag, header, _ = strings.Cut(header, ",")
		tag = strings.TrimSpace(tag)
		if tag == "*" || strings.TrimPrefix(tag, "W/") == etag {
			return true
		}
	}
	return false
}
