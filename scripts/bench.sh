#!/usr/bin/env bash
# Runs every benchmark beside its anchor, measured in the same run (npm
# badgen, a bare handler, a hello-world net/http server under wrk, the peer
# counters GoatCounter and hit-counter under wrk, raw SDK UpdateItem calls and
# plain Dynamo against dynalite, a hello-world Lambda in the emulator), prints
# one table of ratios against their targets and writes it to BENCHMARKS.md
# with the machine and the commands. Installs what is missing like
# scripts/test.sh. About 10 minutes on 2 cores. Run from anywhere:
#   bash scripts/bench.sh
# Options go to internal/benchtable (go run ./internal/benchtable -h), e.g.
#   bash scripts/bench.sh -count 5 -wrk-duration 10s
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup.sh

# wrk loads the example server; DejaVu fonts make the badge benchmark's badge.
need_debian /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf fonts-dejavu-core wrk wrk
# PostgreSQL and Redis for the pgstore and redisstore rows (servers started by the benchmarks).
need_debian /usr/lib/postgresql/15/bin/postgres postgresql redis-server redis-server redis-cli redis-tools
npm_ci
# The Lambda emulator, for the cold-start benchmark of examples/lambda, and
# python3 with boto3 for its anchor, the seed's Python function.
rie
need_debian python3 python3 /usr/lib/python3/dist-packages/boto3/__init__.py python3-boto3

# The peer counters the peer rows load (issue 17); neither's code is in this
# repository. GoatCounter v2.7.0: the module proxy refuses `go install` (no
# version list) but serves the version itself; a cgo build (mattn/go-sqlite3,
# a few minutes the first time), hence gcc.
need_debian gcc gcc
goatcounter_peer() {
  local v=v2.7.0 dir
  [ -x "$GOBIN/goatcounter" ] && [ "$(cat "$GOBIN/.goatcounter-version" 2>/dev/null)" = "$v" ] && return 0
  say "build GoatCounter $v"
  dir=$(GOWORK=off go mod download -json "zgo.at/goatcounter/v2@$v" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
  (cd "$dir" && GOWORK=off GOFLAGS=-mod=mod go build -o "$GOBIN/goatcounter" ./cmd/goatcounter)
  echo "$v" > "$GOBIN/.goatcounter-version"
}
# hit-counter (github.com/gjbae1212/hit-counter, its last commit 31a6bf9): a
# Go module, but the module proxy here answers 403 for it; where it serves it
# (or GOPROXY=direct reaches GitHub) this builds it, else from HIT_COUNTER_SRC,
# a checkout of that commit; without either, its rows say "not measured".
# It reads its templates from the directory it was built in, so it is built
# in a copy under .tools/hit-counter, and built again when that directory
# moved (a .tools shared between checkouts).
hit_counter_peer() {
  local v=v0.0.0-20220228000307-31a6bf9ca90c src dest=.tools/hit-counter stamp
  stamp="$v $(pwd)/.tools/hit-counter" # the path go build sees (through symlinks)
  [ -x "$dest/hit-counter" ] && [ "$(cat "$dest/.version" 2>/dev/null)" = "$stamp" ] && return 0
  src=$(GOWORK=off go mod download -json "github.com/gjbae1212/hit-counter@$v" 2>/dev/null | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p') || true
  src=${src:-${HIT_COUNTER_SRC:-}}
  if [ -z "$src" ] || ! [ -f "$src/main.go" ]; then
    say "hit-counter $v: not served by the module proxy and no HIT_COUNTER_SRC; its rows will say not measured"
    return 0
  fi
  say "build hit-counter $v from $src"
  rm -rf "$dest" && mkdir -p "$dest" && cp -R "$src/." "$dest/" && chmod -R u+w "$dest"
  (cd "$dest" && GOWORK=off GOFLAGS=-mod=mod go build -o hit-counter .)
  echo "$stamp" > "$dest/.version"
}
goatcounter_peer
hit_counter_peer

say "benchmarks (progress and raw output on stderr; the table at the end)"
go run ./internal/benchtable -o BENCHMARKS.md -command "bash scripts/bench.sh${*:+ $*}" "$@"
