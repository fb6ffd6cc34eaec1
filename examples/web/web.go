// Package web embeds the example page, index.html and counter.js, so that
// counter serve (cmd/counter) serves them at /. The two files need no Go: copy them to
// any static site and point counter.js at a counter server.
package web

import "embed"

// Files holds index.html and counter.js.
//
//go:embed index.html counter.js
var Files embed.FS
