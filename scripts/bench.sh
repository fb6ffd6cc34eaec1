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

say "benchmarks (progress and raw output on stderr; the table at the end)"
go run ./internal/benchtable -o BENCHMARKS.md -command "bash scripts/bench.sh${*:+ $*}" "$@"
