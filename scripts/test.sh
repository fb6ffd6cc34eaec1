#!/usr/bin/env bash
# Installs and starts everything the tests need on a fresh Debian machine,
# then runs every test: go vet, golangci-lint, govulncheck, go test -race
# (dynalite, the Lambda emulator and Chromium included) and short fuzz runs.
# Run from anywhere:
#   bash scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
. scripts/setup.sh

# Chromium for browser tests, DejaVu fonts for badge metrics, wrk for load tests.
need_debian chromium chromium /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf fonts-dejavu-core wrk wrk
# PostgreSQL 15 and Redis for pgstore and redisstore: the tests start their
# own servers on loopback (internal/testenv), not the system's services.
need_debian /usr/lib/postgresql/15/bin/postgres postgresql redis-server redis-server redis-cli redis-tools
npm_ci
rie

say "go vet ./..."
go vet ./...

# --- Static checks: golangci-lint (settings in .golangci.yml) and govulncheck.
# vuln.go.dev cannot be reached from the test machines (only package
# registries can), so govulncheck reads a pinned copy of the Go vulnerability
# database: the OSV files of the Go module golang.org/x/vulndb, indexed by its
# own indexdb command into .tools/vulndb. Bump vulndb_version to refresh it.
lint_version=v2.15.0
vuln_version=v1.9.0
vulndb_version=v0.0.0-20261105234957-e22db6528018
go_tool golangci-lint "$lint_version" github.com/golangci/golangci-lint/v2/cmd/golangci-lint
go_tool govulncheck "$vuln_version" golang.org/x/vuln/cmd/govulncheck
go_tool indexdb "$vulndb_version" golang.org/x/vulndb/cmd/indexdb
if [ "$(cat .tools/vulndb/.version 2>/dev/null)" != "$vulndb_version" ]; then
  say "index the Go vulnerability database $vulndb_version"
  vulndb_dir=$(go mod download -json "golang.org/x/vulndb@$vulndb_version" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
  rm -rf .tools/vulndb
  indexdb -vulns "$vulndb_dir/data/osv" -out .tools/vulndb
  echo "$vulndb_version" > .tools/vulndb/.version
fi

say "golangci-lint $lint_version run ./..."
golangci-lint run ./...

say "govulncheck ./... (database $vulndb_version)"
vuln_rc=0
vuln_out=$(govulncheck -db "file://$root/.tools/vulndb" ./... 2>&1) || vuln_rc=$?
printf '%s\n' "$vuln_out"
if [ "$vuln_rc" -ne 0 ]; then
  # Exit code 3 means vulnerable code is called. Findings only in the Go
  # standard library ("Found in: net/http@go1.x") come from the Go toolchain
  # of this machine, not from the project: warn, and fail on anything else.
  if [ "$vuln_rc" -eq 3 ] && ! grep -E '^ *Found in: ' <<<"$vuln_out" | grep -qv '@go[0-9]'; then
    printf '\nWARNING: govulncheck: only the standard library of %s is affected; build with the Go version listed as "Fixed in" above.\n' "$(go env GOVERSION)"
  else
    echo "govulncheck failed (exit $vuln_rc)"
    exit "$vuln_rc"
  fi
fi

say "go test -race ./..."
go test -race -count=1 -timeout 20m ./...

# --- Short bounded fuzz runs; each target is listed as "package FuzzName".
fuzz_targets=(
  ". FuzzHandlerQuery"
  ". FuzzBadge"
  ". FuzzCheckKey"
  "./lambdahttp FuzzAdapter"
)
for t in "${fuzz_targets[@]}"; do
  set -- $t
  say "fuzz $2 in $1 (10s)"
  go test -run '^$' -fuzz "^$2\$" -fuzztime 10s "$1"
done

say "all tests passed"
