// The font generator is a module of its own so that golang.org/x/image, which
// only it needs, is not a requirement of github.com/resumecounter/counter.
module github.com/resumecounter/counter/internal/fontmetrics/gen

go 1.25.0

require golang.org/x/image v0.39.0

require golang.org/x/text v0.36.0 // indirect
