#!/usr/bin/env bash
# Installs and starts everything the tests need on a fresh Debian machine,
# then runs every test: go vet, go test -race (dynalite, the Lambda emulator
# and Chromium included) and short fuzz runs. Run from anywhere:
#   bash scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
say() { printf '\n== %s\n' "$*"; }

# --- Debian packages: Chromium for browser tests, DejaVu fonts for badge
# metrics, wrk for load tests.
need=()
command -v chromium >/dev/null || need+=(chromium)
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need+=(fonts-dejavu-core)
command -v wrk >/dev/null || need+=(wrk)
if [ ${#need[@]} -gt 0 ]; then
  say "apt-get install ${need[*]}"
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# --- npm packages pinned in package-lock.json: dynalite, playwright-core, badgen.
say "npm ci"
npm ci --no-audit --no-fund --loglevel=error

# --- Go tools, pinned, installed into .tools/bin.
export GOBIN="$root/.tools/bin"
export PATH="$GOBIN:$PATH"
rie_version=v0.0.0-20261030222936-bef5c4ba774d
if ! [ -x "$GOBIN/aws-lambda-rie" ] || [ "$(cat "$GOBIN/.rie-version" 2>/dev/null)" != "$rie_version" ]; then
  say "go install aws-lambda-rie@$rie_version"
  go install "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@$rie_version"
  echo "$rie_version" > "$GOBIN/.rie-version"
fi

say "go vet ./..."
go vet ./...

say "go test -race ./..."
go test -race -count=1 -timeout 20m ./...

# --- Short bounded fuzz runs; each target is listed as "package FuzzName".
fuzz_targets=(
  "./lambdahttp FuzzAdapter"
)
for t in "${fuzz_targets[@]}"; do
  set -- $t
  say "fuzz $2 in $1 (10s)"
  go test -run '^$' -fuzz "^$2\$" -fuzztime 10s "$1"
done

say "all tests passed"
