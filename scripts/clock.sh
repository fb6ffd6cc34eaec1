#!/usr/bin/env bash
# Runs the date-sensitive packages (the root package, every store, the
# counter command) with Go's clock moved, to show that no test depends on
# the date, the hour or the time zone it runs at:
#   year      a year ahead of now
#   newyear   each process starts 2 s before midnight UTC on 31 December:
#             the run crosses a day, a month and a year
#   dst       America/New_York, each process starting 2 s before the clocks
#             spring forward (a 23-hour day)
#   kiritimati  TZ=Pacific/Kiritimati (UTC+14) at 20:00 UTC on 31 December:
#             New Year's Day there, still the old year in UTC
#   adak      TZ=America/Adak (UTC-10, with daylight saving) 2 s before
#             midnight UTC on 31 December: the afternoon before, there
# Run from anywhere, all scenarios or those named:
#   bash scripts/clock.sh [scenario ...]
#
# LD_PRELOAD tricks do not move Go's clock (the runtime reads it through the
# vDSO), so this builds, once, a copy of the toolchain's GOROOT whose
# time.Now adds an offset read from the environment (FAKECLOCK_OFFSET,
# seconds; or FAKECLOCK_START, the Unix second each process starts at), and
# runs the tests with it. Monotonic time (timers, time.Since) is untouched.
# The servers the tests start (dynalite, PostgreSQL, Redis, Chromium) keep
# the machine's clock: the stores send them times from Go, and Redis's
# expiries are relative. No -race: the moved-clock passes exercise dates,
# not concurrency, and stay within CI's budget.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup.sh

# Built once per Go release and patch: about 250 MB, under .tools (gitignored).
patch_version=1
goroot_src=$(go env GOROOT)
goversion=$(go env GOVERSION)
fake=${CLOCK_GOROOT:-$PWD/.tools/goroot-fakeclock}
stamp="$goversion patch $patch_version"

build_goroot() {
  if [ "$(cat "$fake/.fakeclock" 2>/dev/null)" = "$stamp" ]; then
    return
  fi
  say "build $fake: $goversion with a movable clock"
  rm -rf "$fake"
  mkdir -p "$(dirname "$fake")"
  cp -r "$goroot_src" "$fake.tmp"
  chmod -R u+w "$fake.tmp"
  local time_go="$fake.tmp/src/time/time.go"
  # One line in Now: the wall clock's seconds move by the offset.
  grep -q '^	sec, nsec, mono := runtimeNow()$' "$time_go" || {
    echo "clock.sh: time.Now in $goversion is not what the patch expects" >&2
    exit 1
  }
  sed -i 's/^	sec, nsec, mono := runtimeNow()$/&\n	sec += fakeClockOffset(sec)/' "$time_go"
  cat > "$fake.tmp/src/time/fakeclock.go" <<'EOF'
// Added by scripts/clock.sh of github.com/resumecounter/counter: moves the
// wall clock that Now reads, for tests of date-dependent code.

package time

import (
	"sync"
	"syscall"
)

var (
	fakeClockOnce sync.Once
	fakeClockSec  int64
)

// fakeClockOffset returns the seconds Now adds to the wall clock, decided at
// the first call from the environment: FAKECLOCK_OFFSET seconds, or the
// difference between FAKECLOCK_START (a Unix second) and now, so that each
// process starts at that second.
func fakeClockOffset(now int64) int64 {
	fakeClockOnce.Do(func() {
		if s, ok := syscall.Getenv("FAKECLOCK_OFFSET"); ok {
			fakeClockSec, _ = fakeClockInt(s)
		}
		if s, ok := syscall.Getenv("FAKECLOCK_START"); ok {
			if start, ok := fakeClockInt(s); ok {
				fakeClockSec = start - now
			}
		}
	})
	return fakeClockSec
}

func fakeClockInt(s string) (int64, bool) {
	neg := len(s) > 0 && s[0] == '-'
	if neg {
		s = s[1:]
	}
	if s == "" {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int64(s[i]-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}
EOF
  echo "$stamp" > "$fake.tmp/.fakeclock"
  mv "$fake.tmp" "$fake"
}

# at DATE prints the Unix second of DATE (GNU date syntax).
at() { date -u -d "$1" +%s; }

# The next 31 December 23:59:58 UTC, and the next second Sunday of March
# (when the United States spring forward at 02:00 local, 07:00 UTC).
year=$(date -u +%Y)
newyear=$(at "$year-12-31 23:59:58")
[ "$newyear" -gt "$(date -u +%s)" ] || newyear=$(at "$((year + 1))-12-31 23:59:58")
next=$((year + 1))
dow=$(date -u -d "$next-03-08" +%u) # 1 Monday ... 7 Sunday
spring=$(at "$next-03-$(printf %02d $((8 + (7 - dow) % 7))) 06:59:58")

# The packages whose tests read the clock, in the root module's workspace.
packages=(. ./boltstore ./sqlitestore ./redisstore ./pgstore ./cmd/counter)

# run NAME ENV... runs the packages' tests with ENV set.
run() {
  local name=$1
  shift
  say "moved clock: $name ($*)"
  env "$@" GOROOT="$fake" PATH="$fake/bin:$PATH" GOTOOLCHAIN=local \
    go test -count=1 -timeout 20m "${packages[@]}"
}

# check_moved checks, with a tiny program, that the clock moves as asked.
check_moved() {
  local dir
  dir=$(mktemp -d)
  cat > "$dir/main.go" <<'EOF'
package main

import (
	"fmt"
	"time"
)

func main() { fmt.Println(time.Now().Unix()) }
EOF
  local got
  got=$(cd "$dir" && FAKECLOCK_START=1000000000 GOROOT="$fake" PATH="$fake/bin:$PATH" GOTOOLCHAIN=local GOWORK=off GOFLAGS= go run main.go)
  rm -rf "$dir"
  if [ "$got" -lt 1000000000 ] || [ "$got" -gt 1000000060 ]; then
    echo "clock.sh: the patched clock reads $got, want about 1000000000" >&2
    exit 1
  fi
}

build_goroot
check_moved

scenarios=("$@")
[ ${#scenarios[@]} -gt 0 ] || scenarios=(year newyear dst kiritimati adak)
for s in "${scenarios[@]}"; do
  case "$s" in
    year) run "$s" FAKECLOCK_OFFSET=$((366 * 86400)) TZ=UTC ;;
    newyear) run "$s" FAKECLOCK_START="$newyear" TZ=UTC ;;
    dst) run "$s" FAKECLOCK_START="$spring" TZ=America/New_York ;;
    kiritimati) run "$s" FAKECLOCK_START=$((newyear + 2 - 4 * 3600)) TZ=Pacific/Kiritimati ;;
    adak) run "$s" FAKECLOCK_START="$newyear" TZ=America/Adak ;;
    *)
      echo "clock.sh: unknown scenario $s (year, newyear, dst, kiritimati, adak)" >&2
      exit 2
      ;;
  esac
done
say "moved-clock passes: ${scenarios[*]} passed"
