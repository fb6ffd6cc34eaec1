#!/usr/bin/env bash
# Runs every benchmark beside its anchor, measured in the same run (npm
# badgen, a bare handler, a hello-world net/http server under wrk, raw SDK
# UpdateItem calls and plain Dynamo against dynalite, a hello-world Lambda in
# the emulator), prints one table of ratios against their targets and writes
# it to BENCHMARKS.md with the machine and the commands. Installs what is
# missing like scripts/test.sh. About 6 minutes on 2 cores. Run from anywhere:
#   bash scripts/bench.sh
# Options go to internal/benchtable (go run ./internal/benchtable -h), e.g.
#   bash scripts/bench.sh -count 5 -wrk-duration 10s
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
say() { printf '\n== %s\n' "$*"; }

# --- Debian packages: wrk loads the example server, DejaVu fonts make the
# badge benchmark's badge.
need=()
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need+=(fonts-dejavu-core)
command -v wrk >/dev/null || need+=(wrk)
if [ ${#need[@]} -gt 0 ]; then
  say "apt-get install ${need[*]}"
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi

# --- npm packages pinned in package-lock.json: dynalite, badgen.
say "npm ci"
npm ci --no-audit --no-fund --loglevel=error

# --- The Lambda emulator, for the cold-start benchmark of examples/lambda.
export GOBIN="$root/.tools/bin"
export PATH="$GOBIN:$PATH"
rie_version=v0.0.0-20261030222936-bef5c4ba774d
if [ -d examples/lambda ] && { ! [ -x "$GOBIN/aws-lambda-rie" ] || [ "$(cat "$GOBIN/.rie-version" 2>/dev/null)" != "$rie_version" ]; }; then
  say "go install aws-lambda-rie@$rie_version"
  go install "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@$rie_version"
  echo "$rie_version" > "$GOBIN/.rie-version"
fi

say "benchmarks (progress and raw output on stderr; the table at the end)"
go run ./internal/benchtable -o BENCHMARKS.md -command "bash scripts/bench.sh${*:+ $*}" "$@"
