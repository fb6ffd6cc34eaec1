package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"golang.org/x/time/rate"

	"github.com/resumecounter/counter"
)

// Admin routes, enabled by COUNTER_ADMIN_TOKEN:
//
//	PUT  /admin/{key}    {"count":N}: set the count; answers {"key","old","count"}
//	GET  /admin/export   JSON Lines of every key (or of each ?key=)
//	POST /admin/import   JSON Lines: checked whole, then applied; answers {"imported":N}.
//	                     An import that would lower a count or visitors
//	                     answers 409 and writes nothing, unless ?allow-lower=1.
//
// Every request needs "Authorization: Bearer TOKEN". Wrong or missing
// tokens answer 401 and are logged (never the token, never the address);
// a client address with too many of them gets 429 until its budget refills.

const (
	// minTokenLen is the shortest admin token accepted.
	minTokenLen = 32
	// failBurst failed attempts are allowed per client address, then one
	// more every failEvery.
	failBurst = 10
	failEvery = 6 * time.Second
	// maxSetBody and maxImportBody bound request bodies (413 beyond).
	maxSetBody    = 1 << 10
	maxImportBody = 64 << 20
	// adminIOTimeout is how long reading an import or writing one record of
	// an export may take, past the server's usual timeouts.
	adminIOTimeout = 2 * time.Minute
)

// adminTokenFromEnv reads COUNTER_ADMIN_TOKEN: "" when unset.
func adminTokenFromEnv(getenv func(string) string) (string, error) {
	token := getenv("COUNTER_ADMIN_TOKEN")
	if token == "" {
		return "", nil
	}
	if strings.TrimSpace(token) != token || strings.ContainsAny(token, " \t\r\n") {
		return "", errors.New("COUNTER_ADMIN_TOKEN has spaces in it: use a random string such as the output of openssl rand -hex 32")
	}
	if len(token) < minTokenLen {
		return "", fmt.Errorf("COUNTER_ADMIN_TOKEN is %d characters: use at least %d random ones, such as the output of openssl rand -hex 32",
			len(token), minTokenLen)
	}
	return token, nil
}

// admin serves the admin routes.
type admin struct {
	editor   counter.Editor
	lister   counter.KeyLister // nil if the store cannot list its keys
	token    [sha256.Size]byte // compared as hashes: equal length, constant time
	failures *limiter
	log      *slog.Logger
	now      func() time.Time
	mux      *http.ServeMux
}

func newAdmin(s *openStore, token string, proxies int, log *slog.Logger, now func() time.Time) (*admin, error) {
	ed, ok := s.store.(counter.Editor)
	if !ok {
		return nil, fmt.Errorf("COUNTER_ADMIN_TOKEN is set, but %s cannot set, export or import counts yet (it does not implement counter.Editor)", s.desc)
	}
	a := &admin{
		editor:   ed,
		token:    sha256.Sum256([]byte(token)),
		failures: newLimiter(rate.Every(failEvery), failBurst, proxies),
		log:      log,
		now:      now,
		mux:      http.NewServeMux(),
	}
	a.lister, _ = s.store.(counter.KeyLister)
	a.mux.HandleFunc("PUT /admin/{key}", a.set)
	a.mux.HandleFunc("GET /admin/export", a.export)
	a.mux.HandleFunc("POST /admin/import", a.importLines)
	return a, nil
}

// ServeHTTP authorizes the request, then routes it.
func (a *admin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if wait := a.failures.wait(r); wait > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
		answerError(w, http.StatusTooManyRequests, "too many failed attempts: wait and try again")
		return
	}
	given, hasToken := bearer(r)
	h := sha256.Sum256([]byte(given))
	if !hasToken || subtle.ConstantTimeCompare(h[:], a.token[:]) != 1 {
		a.failures.allow(r) // spends one of the client's attempts
		reason := "no bearer token"
		challenge := `Bearer realm="counter admin"`
		if hasToken {
			reason = "wrong bearer token"
			challenge += `, error="invalid_token"`
		}
		a.log.Warn("admin: request refused", "reason", reason, "method", r.Method, "path", r.URL.Path)
		w.Header().Set("WWW-Authenticate", challenge)
		answerError(w, http.StatusUnauthorized, "send Authorization: Bearer with the server's COUNTER_ADMIN_TOKEN")
		return
	}
	a.mux.ServeHTTP(w, r)
}

// bearer returns the token of an "Authorization: Bearer TOKEN" header.
func bearer(r *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

// set answers PUT /admin/{key} {"count":N}.
func (a *admin) set(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("key")
	if err := counter.CheckKey(key); err != nil {
		answerError(w, http.StatusBadRequest, "invalid key: keys are 1-128 ASCII letters, digits, '-', '_', '.' and ':', starting with a letter or digit")
		return
	}
	var body struct {
		Count *int64 `json:"count"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxSetBody))
	dec.DisallowUnknownFields()
	err := dec.Decode(&body)
	if err == nil {
		if _, terr := dec.Token(); !errors.Is(terr, io.EOF) {
			err = errors.New("trailing data")
		}
	}
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		answerError(w, http.StatusRequestEntityTooLarge, "body too large: send {\"count\":N}")
		return
	case err != nil || body.Count == nil || *body.Count < 0:
		answerError(w, http.StatusBadRequest, `send {"count":N} with N a whole number from 0 to 9223372036854775807`)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), opTimeout)
	defer cancel()
	old, err := a.editor.SetCount(ctx, key, *body.Count)
	if err != nil {
		a.storeFailed(w, r, "set", err)
		return
	}
	a.log.Info("admin: count set", "key", key, "old", old, "count", *body.Count)
	answerJSON(w, struct {
		Key   string `json:"key"`
		Old   int64  `json:"old"`
		Count int64  `json:"count"`
	}{key, old, *body.Count})
}

// export answers GET /admin/export with JSON Lines.
func (a *admin) export(w http.ResponseWriter, r *http.Request) {
	keys := r.URL.Query()["key"]
	for _, k := range keys {
		if counter.CheckKey(k) != nil {
			answerError(w, http.StatusBadRequest, "invalid key in ?key=")
			return
		}
	}
	if len(keys) == 0 {
		if a.lister == nil {
			answerError(w, http.StatusNotImplemented, "this store cannot list its keys: name them with ?key=")
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), opTimeout)
		var err error
		keys, err = a.lister.Keys(ctx)
		cancel()
		if err != nil {
			a.storeFailed(w, r, "list keys", err)
			return
		}
	}
	rc := http.NewResponseController(w)
	ed := timeoutEditor{a.editor}
	var buf []byte
	for i, key := range keys {
		rec, err := ed.Export(r.Context(), key)
		if err == nil {
			buf, err = appendRecord(buf[:0], rec)
		}
		if err != nil {
			if i == 0 {
				a.storeFailed(w, r, "export", err)
				return
			}
			// The status is sent: break the response so that the client
			// sees it truncated, never a clean end.
			a.log.Error("admin: export failed part way", "key", key, "exported", i, "err", err)
			panic(http.ErrAbortHandler)
		}
		if i == 0 {
			w.Header().Set("Content-Type", "application/jsonl; charset=utf-8")
		}
		_ = rc.SetWriteDeadline(time.Now().Add(adminIOTimeout))
		if _, err := w.Write(buf); err != nil {
			return // the client went away
		}
	}
	if len(keys) == 0 {
		w.Header().Set("Content-Type", "application/jsonl; charset=utf-8")
		w.WriteHeader(http.StatusOK)
	}
	a.log.Info("admin: exported", "keys", len(keys))
}

// importLines answers POST /admin/import: the body is checked whole, then
// applied. As the import command, it refuses (409) an import that would
// lower a key's count or visitors, unless ?allow-lower says to.
func (a *admin) importLines(w http.ResponseWriter, r *http.Request) {
	allowLower, err := allowLowerOf(r.URL.RawQuery)
	if err != nil {
		answerError(w, http.StatusBadRequest, err.Error())
		return
	}
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Now().Add(adminIOTimeout))
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxImportBody))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		answerError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body over %d MiB: import the file with the counter command, or in parts", maxImportBody>>20))
		return
	case err != nil:
		answerError(w, http.StatusBadRequest, "could not read the body")
		return
	}
	records, err := readRecords(bytes.NewReader(body), "body", latestDate(a.now()))
	if err != nil {
		var bad *badLines
		if errors.As(err, &bad) {
			answerError(w, http.StatusBadRequest, bad.Error())
			return
		}
		answerError(w, http.StatusBadRequest, "could not read the body")
		return
	}
	// From here on the store is read and written key by key: as long as
	// the import takes, past the server's usual write timeout.
	_ = rc.SetWriteDeadline(time.Now().Add(adminIOTimeout))
	if !allowLower {
		err := refuseLower(r.Context(), a.editor, records, "send the same body to /admin/import?allow-lower=1 to lower them")
		var lower *lowerError
		switch {
		case errors.As(err, &lower):
			keys := make([]string, len(lower.lower))
			for i, c := range lower.lower {
				keys[i] = c.key
			}
			a.log.Warn("admin: import refused: it would lower numbers", "keys", keys)
			answerError(w, http.StatusConflict, err.Error())
			return
		case err != nil:
			a.storeFailed(w, r, "read before import", err)
			return
		}
	}
	for i, rec := range records {
		if err := (timeoutEditor{a.editor}).Import(r.Context(), rec); err != nil {
			a.log.Error("admin: import failed", "key", rec.Key, "imported", i, "of", len(records), "err", err)
			status, msg := storeStatus(err)
			answerError(w, status, fmt.Sprintf("%s after importing %d of %d keys; send the same body again to finish (importing twice is safe)",
				msg, i, len(records)))
			return
		}
	}
	a.log.Info("admin: imported", "keys", len(records))
	answerJSON(w, struct {
		Imported int `json:"imported"`
	}{len(records)})
}

// allowLowerOf reads ?allow-lower from an import's query: absent is false;
// a value is read as the command's -allow-lower flag reads one (1, true,
// 0, false, ...), and no value is true, as the bare flag is.
func allowLowerOf(rawQuery string) (bool, error) {
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return false, errors.New("malformed query")
	}
	v, ok := q["allow-lower"]
	switch {
	case !ok:
		return false, nil
	case len(v) > 1:
		return false, errors.New("allow-lower is given more than once: give it once")
	case v[0] == "":
		return true, nil
	}
	allow, err := strconv.ParseBool(v[0])
	if err != nil {
		return false, errors.New("allow-lower: want 1 or true to lower numbers, 0 or false not to")
	}
	return allow, nil
}

// storeFailed logs a failed store call and answers it without its text.
func (a *admin) storeFailed(w http.ResponseWriter, r *http.Request, op string, err error) {
	status, msg := storeStatus(err)
	if status != http.StatusConflict {
		a.log.Error("admin: store failed", "op", op, "path", r.URL.Path, "err", err)
	}
	answerError(w, status, msg)
}

// storeStatus is the status and text that answer a store error.
func storeStatus(err error) (int, string) {
	switch {
	case errors.Is(err, counter.ErrTooManyKeys):
		return http.StatusConflict, "the store holds as many keys as COUNTER_MAX_KEYS allows"
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout, "the store did not answer in time"
	}
	return http.StatusServiceUnavailable, "the store failed"
}

// answerJSON answers 200 with v as JSON.
func answerJSON(w http.ResponseWriter, v any) {
	writeJSON(w, http.StatusOK, v)
}

// answerError answers {"error":msg}.
func answerError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil { // cannot happen for the values above
		status, b = http.StatusInternalServerError, []byte(`{"error":"internal error"}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
