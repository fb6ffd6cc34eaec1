// The release tool is a module of its own so that golang.org/x/mod, which
// only it needs, is not a requirement of github.com/resumecounter/counter.
// It is not published: modules under internal/ are tools of this repository.
module github.com/resumecounter/counter/internal/release

go 1.26.0

require golang.org/x/mod v0.42.0
