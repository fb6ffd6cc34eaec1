// Package web embeds the example pages, so that counter serve (cmd/counter)
// serves them at /: index.html with counter.js, and stats.html (a key's numbers, chart
// and embed snippets) with stats.js. They need no Go: copy them to any
// static site and point the scripts at a counter server.
package web

import "embed"

// Files holds index.html, counter.js, stats.html and stats.js.
//
//go:embed index.html counter.js stats.html stats.js
var Files embed.FS
