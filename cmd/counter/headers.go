package main

import (
	"crypto/sha256"
	"encoding/base64"
	"io/fs"
	"net/http"
	"regexp"
	"strings"
	"sync"

	"github.com/resumecounter/counter/examples/web"
)

// nosniff sets X-Content-Type-Options: nosniff on every response of h, so
// that no browser reads a body as another type than the one it says. It
// assigns a shared value (the key is canonical) rather than calling
// Header.Set, which would allocate a slice on every request.
func nosniff(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["X-Content-Type-Options"] = hdrNosniff
		h.ServeHTTP(w, r)
	})
}

var hdrNosniff = []string{"nosniff"}

// withPagePolicy serves the example pages (examples/web: /, /stats.html,
// /counter.js, /stats.js) with pagePolicy as their Content-Security-Policy.
func withPagePolicy(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", pagePolicy())
		h.ServeHTTP(w, r)
	})
}

// pagePolicy is the example pages' Content-Security-Policy: scripts, the
// API, badges and charts from this server only, no plugins, frames, or
// other base; the pages' inline <style> elements allowed by their hashes
// (computed from the embedded files, so they cannot go stale).
var pagePolicy = sync.OnceValue(func() string {
	styles := []string{"'self'"}
	for _, h := range inlineStyleHashes(web.Files) {
		styles = append(styles, "'"+h+"'")
	}
	return strings.Join([]string{
		"default-src 'none'",
		"script-src 'self'",
		"style-src " + strings.Join(styles, " "),
		"img-src 'self' data:",
		"connect-src 'self'",
		"form-action 'self'",
		"base-uri 'none'",
		"frame-ancestors 'none'",
	}, "; ")
})

var styleElement = regexp.MustCompile(`(?s)<style>(.*?)</style>`)

// inlineStyleHashes returns the CSP hashes ("sha256-…") of the <style>
// elements of the HTML files in fsys.
func inlineStyleHashes(fsys fs.FS) []string {
	var hashes []string
	names, _ := fs.Glob(fsys, "*.html")
	for _, name := range names {
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			continue
		}
		for _, m := range styleElement.FindAllSubmatch(b, -1) {
			sum := sha256.Sum256(m[1])
			hashes = append(hashes, "sha256-"+base64.StdEncoding.EncodeToString(sum[:]))
		}
	}
	return hashes
}
