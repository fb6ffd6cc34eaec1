#!/usr/bin/env bash
# Installs and starts everything the tests need on a fresh Debian machine,
# then runs every test: no tracked file over 1 MB, go vet, golangci-lint,
# govulncheck, go test -race (dynalite, the Lambda emulator and Chromium
# included), the date-sensitive tests with the clock moved (scripts/clock.sh)
# and short fuzz runs, with Go 1.27.3 (scripts/setup.sh).
# Run from anywhere:
#   bash scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
. scripts/setup.sh

# This script installs every server the tests use, so a test that finds one
# missing fails here, as in CI, whoever runs the script (internal/testenv).
export CI=true

# The modules of go.work besides the library (docs/releasing.md says why each
# is a module): the stores that bring a driver, lambdahttp, the examples that
# use them, the counter command, and two tools that are not published (the
# font generator, which alone needs golang.org/x/image, and the release tool).
modules=(boltstore pgstore redisstore sqlitestore lambdahttp examples/lambda examples/server
  cmd/counter internal/fontmetrics/gen internal/release)

say "tracked files over 1 MB"
bash scripts/check-big-files.sh

# Chromium for browser tests, DejaVu fonts for badge metrics, wrk for load tests.
need_debian chromium chromium /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf fonts-dejavu-core wrk wrk
# PostgreSQL 15 and Redis for pgstore and redisstore: the tests start their
# own servers on loopback (internal/testenv), not the system's services.
need_debian /usr/lib/postgresql/15/bin/postgres postgresql redis-server redis-server redis-cli redis-tools
npm_ci
rie

say "go vet ./... (and in ${modules[*]})"
go vet ./...
for m in "${modules[@]}"; do (cd "$m" && go vet ./...); done
(cd internal/fontmetrics/gen && go build -o /dev/null .)

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
  vulndb_dir=$(GOWORK=off go mod download -json "golang.org/x/vulndb@$vulndb_version" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
  rm -rf .tools/vulndb
  indexdb -vulns "$vulndb_dir/data/osv" -out .tools/vulndb
  echo "$vulndb_version" > .tools/vulndb/.version
fi

# --allow-serial-runners: another golangci-lint on the machine (another
# checkout, an editor) makes this one wait for it instead of failing.
say "golangci-lint $lint_version run ./... (and in ${modules[*]})"
golangci-lint run --allow-serial-runners ./...
for m in "${modules[@]}"; do (cd "$m" && golangci-lint run --allow-serial-runners ./...); done

# Any finding fails the run, in the standard library too: the toolchain is
# pinned (GOTOOLCHAIN in scripts/setup.sh), so a standard-library finding
# means it is time to move to the release that fixes it.
say "govulncheck ./... (and in ${modules[*]}; $(go env GOVERSION), database $vulndb_version)"
govulncheck -db "file://$root/.tools/vulndb" ./...
for m in "${modules[@]}"; do govulncheck -C "$m" -db "file://$root/.tools/vulndb" ./...; done

pkgs=(./...)
for m in "${modules[@]}"; do pkgs+=("./$m/..."); done
say "go test -race ${pkgs[*]}"
go test -race -count=1 -timeout 20m "${pkgs[@]}"

# No test may depend on the date, the hour or the time zone: the root
# package, every store and the counter command again with Go's clock moved
# (a year ahead, across New Year, a daylight-saving change, far zones).
bash scripts/clock.sh

# --- Operations (issue 18): the container image, the systemd unit and the
# Lambda's deploy workflows. The server's health routes, metrics, logs and
# upgrade fixtures are Go tests in cmd/counter (run above).
# umoci unpacks the image; systemd-analyze (Debian's systemd package) runs
# without systemd as PID 1; actionlint is pinned like the other Go tools.
need_debian umoci umoci systemd-analyze systemd unshare util-linux
actionlint_version=v1.7.12
go_tool actionlint "$actionlint_version" github.com/rhysd/actionlint/cmd/actionlint

say "container image: build (no daemon), unpack with umoci, run as its user in a throwaway root"
image_dir=$(mktemp -d)
bash deploy/image/build.sh "$image_dir/image"
if [ "$(id -u)" = 0 ]; then
  bash deploy/image/run-test.sh "$image_dir/image"
else
  sudo bash deploy/image/run-test.sh "$image_dir/image"
fi
rm -rf "$image_dir"

say "systemd unit: systemd-analyze verify and security"
unit_bin=$(mktemp -d)
go build -o "$unit_bin/counter" ./cmd/counter
bash deploy/systemd/check.sh "$unit_bin/counter"
rm -rf "$unit_bin"

say "actionlint $actionlint_version examples/lambda/.github/workflows"
actionlint examples/lambda/.github/workflows/*.yml

# --- Short bounded fuzz runs; each target is listed as "package FuzzName".
# The budget is a count of executions, not a time (2,000 to 9,000 a second
# per target on 2 cores: about 5 to 20 s each), so a loaded machine takes
# longer but never stops a clean target at a deadline (golang/go#75804).
fuzz_execs=40000x
fuzz_targets=(
  ". FuzzHandlerQuery"
  ". FuzzBadge"
  ". FuzzCheckKey"
  "./lambdahttp FuzzAdapter"
)
for t in "${fuzz_targets[@]}"; do
  set -- $t
  say "fuzz $2 in $1 ($fuzz_execs)"
  go test -run '^$' -fuzz "^$2\$" -fuzztime "$fuzz_execs" "$1"
done

# --- Release proof (scripts/release-check.sh, docs/releasing.md): every
# module's zip is created from the working tree into a file-based module
# proxy; a new user's go get, go install and GOWORK=off builds use it.
say "release check"
bash scripts/release-check.sh

say "all tests passed"
