#!/usr/bin/env bash
# Checks counter.service with systemd-analyze, which runs without systemd as
# PID 1: verify must print nothing (an unknown or misspelt setting is only a
# warning there, so any output fails), and the offline security exposure
# score must stay at or below 1.5 (systemd-analyze's threshold is in tenths).
# Usage: bash deploy/systemd/check.sh COUNTER_BINARY
set -euo pipefail
unit=$(dirname "$0")/counter.service
bin=$(realpath "$1")
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
# verify checks that ExecStart's binary exists: point it at the one built.
sed "s|^ExecStart=/usr/local/bin/counter |ExecStart=$bin |" "$unit" > "$dir/counter.service"
out=$(systemd-analyze verify "$dir/counter.service" 2>&1)
if [ -n "$out" ]; then
  echo "systemd-analyze verify counter.service:"
  echo "$out"
  exit 1
fi
systemd-analyze security --offline=true --threshold=15 --no-pager "$dir/counter.service" | grep -E '✗|Overall'
