#!/usr/bin/env bash
# Proves that the working tree can be released: builds a file-based module
# proxy of every published module at a scratch version (internal/release:
# every module's zip is created, so a file name Windows or the zip format
# refuses fails here at once, naming the file; every module has a LICENSE;
# every go.mod and go.sum is tidy), then, as a new user with an empty GOPATH
# and module cache, offline but for that proxy and the Go module proxy:
#   - go get the root module and build the README's Use and Visitors programs
#     (taken from README.md, so what the README shows is what is built);
#   - go install cmd/counter at that version and run `counter -h`;
#   - go get each store module, compile its package examples (with its
#     tests: go test -run '^$'), and count the modules in the graph of a
#     program that imports it (`go list -m all`);
#   - build and vet every module as downloaded, with GOWORK=off and
#     -mod=readonly (its go.mod and go.sum alone must do), and run the root
#     module's examples there.
# Third-party modules come from the Go module proxy, with the local module
# cache's download directory tried first as a mirror: the go command checks
# every one of them against the checksum database all the same, and nothing
# of this repository comes from anywhere but the proxy built in this run.
# About a minute on 2 cores with a warm build cache. Run from anywhere:
#   bash scripts/release-check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
if [ -z "${GOTOOLCHAIN:-}" ]; then . scripts/setup.sh; fi

version=v0.0.0-releasecheck
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "release-check: module proxy of the working tree at $version"
go run ./internal/release proxy -o "$tmp/proxy" -version "$version"
mapfile -t mods < <(go run ./internal/release modules)

# The new user's go: the same toolchain (GOTOOLCHAIN=local, so an empty
# module cache does not download it again), no go.env or workspace of ours;
# -trimpath so that the build cache's entries do not depend on where the
# module cache is (without it every run compiles every dependency again).
goroot=$(go env GOROOT)
mirror=$(go env GOMODCACHE)/cache/download
user() {
  env -u GOFLAGS -u GOPRIVATE -u GONOPROXY -u GOINSECURE \
    PATH="$goroot/bin:$PATH" GOTOOLCHAIN=local GOENV=off GOWORK=off \
    GOPATH="$tmp/gopath" GOMODCACHE="$tmp/gopath/pkg/mod" GOBIN="$tmp/gopath/bin" \
    GOPROXY="file://$tmp/proxy,file://$mirror,https://proxy.golang.org" \
    GONOSUMDB=github.com/resumecounter/counter GOSUMDB=sum.golang.org \
    GOFLAGS="-trimpath -modcacherw" \
    "$@"
}
# newmod DIR: an empty module, as `go mod init` makes it.
newmod() {
  mkdir -p "$1"
  (cd "$1" && user go mod init example.com/user >/dev/null 2>&1)
}
# graph DIR: the number of modules `go list -m all` lists, the user's included.
graph() { (cd "$1" && user go list -m all | wc -l); }

echo "release-check: go get github.com/resumecounter/counter@$version; the README's Use and Visitors programs"
# go blocks of the README's "## Use" section: the first is the Use program,
# the first and second together the Visitors program (it serves the store
# the first makes). A block that is a whole program is built as it is.
readme_blocks() {
  awk -v want="$1" '
    /^## / { insection = ($0 == "## Use") }
    insection && /^```go$/ { inblock = 1; n++; next }
    inblock && /^```$/ { inblock = 0; next }
    inblock && n <= want { print }
  ' README.md
}
program() { # program N: a main package around the README's first N blocks
  local body
  body=$(readme_blocks "$1")
  if grep -q '^package ' <<<"$body"; then
    printf '%s\n' "$body"
    return
  fi
  echo "package main"
  echo
  echo "import ("
  echo "	\"context\""
  local imp
  for imp in fmt log net/http "github.com/aws/aws-sdk-go-v2/config" \
    "github.com/aws/aws-sdk-go-v2/service/dynamodb" "github.com/resumecounter/counter"; do
    grep -q "\b${imp##*/}\." <<<"$body" && echo "	\"$imp\""
  done
  echo ")"
  echo
  echo "func main() {"
  echo "	ctx := context.Background()"
  printf '%s\n' "$body" | sed 's/^/	/'
  grep -q '\bmux\b' <<<"$body" && echo "	log.Fatal(http.ListenAndServe(\"127.0.0.1:8080\", mux))"
  echo "}"
}
[ "$(readme_blocks 9 | grep -c . || true)" -gt 0 ] || { echo "release-check: README.md has no go block under ## Use" >&2; exit 1; }
for n in 1 2; do
  dir="$tmp/readme$n"
  newmod "$dir"
  program "$n" > "$dir/main.go"
  (cd "$dir" && user go get "github.com/resumecounter/counter@$version" && user go mod tidy && user go vet . && user go build -o /dev/null .) ||
    { echo "release-check: the README's program $n does not build:" >&2; cat -n "$dir/main.go" >&2; exit 1; }
done
figures=("root (the README's Use program): $(graph "$tmp/readme1") modules")

echo "release-check: go install github.com/resumecounter/counter/cmd/counter@$version; counter -h"
user go install "github.com/resumecounter/counter/cmd/counter@$version"
"$tmp/gopath/bin/counter" -h 2>&1 | head -3
"$tmp/gopath/bin/counter" -h >/dev/null 2>&1 || [ $? -eq 2 ] || { echo "release-check: counter -h failed" >&2; exit 1; }

echo "release-check: each store module: go get, compile its package examples, its graph"
for store in boltstore sqlitestore redisstore pgstore; do
  pkg=github.com/resumecounter/counter/$store
  dir="$tmp/use-$store"
  newmod "$dir"
  printf 'package main\n\nimport _ "%s"\n\nfunc main() {}\n' "$pkg" > "$dir/main.go"
  (cd "$dir" && user go get "$pkg@$version" && user go mod tidy && user go build -o /dev/null . &&
    user go test -count=1 -run '^$' "$pkg")
  figures+=("$store: $(graph "$dir") modules")
done

echo "release-check: every module as downloaded, with GOWORK=off: go build, go vet (and the root's examples)"
for line in "${mods[@]}"; do
  path=${line#* }
  src=$(user go mod download -json "$path@$version" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
  dir="$tmp/work/${line%% *}"
  mkdir -p "$dir" && cp -R "$src/." "$dir" && chmod -R u+w "$dir"
  # The root's DynamoDB examples print what dynalite answers: the copy gets
  # this checkout's npm packages (internal/testenv finds them at the root).
  [ "${line%% *}" != . ] || ln -s "$root/node_modules" "$dir/node_modules"
  (cd "$dir" && user go build ./... && user go vet ./... &&
    if [ "${line%% *}" = . ]; then user go test -count=1 -run '^Example' .; fi) ||
    { echo "release-check: $path does not build or vet alone (GOWORK=off)" >&2; exit 1; }
done
# The modules of go.work that are tools of this repository (not published)
# build and vet alone too.
published=" $(printf '%s ' "${mods[@]%% *}")"
for d in $(go work edit -json | sed -n 's/^\t\t\t"DiskPath": "\(.*\)"$/\1/p'); do
  d=${d#./}
  case "$published" in *" $d "*) continue ;; esac
  echo "release-check: $d (not published), GOWORK=off: go build, go vet"
  (cd "$d" && GOWORK=off go build -o /dev/null ./... && GOWORK=off go vet ./...)
done

echo "release-check: module graphs (go list -m all) of a program importing only"
printf '  %s\n' "${figures[@]}"
echo "release-check: ok"
