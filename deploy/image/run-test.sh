#!/usr/bin/env bash
# Proves the image: unpacks it with umoci (Debian) and runs its entrypoint,
# with its environment, as its user, in a throwaway root (a mount namespace
# and chroot; run as root), with a host directory mounted as its /data
# volume. It must answer /readyz, count, keep the count in the volume
# across a restart, carry CA certificates and time zones, run as uid 65532,
# and weigh less than 25 MB compressed.
# Usage: bash deploy/image/run-test.sh IMAGE_LAYOUT_DIR
set -euo pipefail
image=$1
work=$(mktemp -d)
pid=""    # the outer unshare, which waits for the server
server="" # the server: unshare's child (sh, then unshare, exec into counter)
cleanup() {
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; fi
  if [ -n "$pid" ]; then wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "image test: $*" >&2; [ -f "$work/log" ] && cat "$work/log" >&2; exit 1; }

size=$(find "$image/blobs" -type f -printf '%s\n' | awk '{s+=$1} END {print s}')
echo "image size: $size bytes compressed ($(awk -v s="$size" 'BEGIN {printf "%.1f", s/1048576}') MiB)"
[ "$size" -lt $((25 * 1024 * 1024)) ] || fail "over 25 MB"

umoci unpack --image "$image:latest" "$work/bundle" >/dev/null
rootfs=$work/bundle/rootfs
# umoci writes the image's entrypoint, environment, directory and user
# into the bundle's runtime config: run exactly those.
read_config() { node -e 'const c=require(process.argv[1]); const p=c.process;
  console.log(JSON.stringify({uid:p.user.uid, gid:p.user.gid, cwd:p.cwd, args:p.args, env:p.env}))' "$work/bundle/config.json"; }
cfg=$(read_config)
field() { node -e 'const c=JSON.parse(process.argv[1]); const v=c[process.argv[2]]; console.log(Array.isArray(v)?v.join("\n"):v)' "$cfg" "$1"; }
uid=$(field uid); gid=$(field gid); cwd=$(field cwd)
[ "$uid" = 65532 ] && [ "$gid" = 65532 ] || fail "user $uid:$gid, want 65532:65532 (not root)"
mapfile -t args < <(field args)
mapfile -t env < <(field env)
[ -s "$rootfs/etc/ssl/certs/ca-certificates.crt" ] || fail "no CA certificates"
[ -s "$rootfs/usr/share/zoneinfo/Europe/Paris" ] || fail "no time zones"
if [ -e "$rootfs/bin/sh" ]; then fail "a shell in the image"; fi

volume=$work/volume
mkdir -p "$volume"
chown "$uid:$gid" "$volume"
port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')

# start runs the entrypoint: a private mount namespace holds the volume's
# bind mount, then unshare enters the image's root and working directory and
# becomes its user (setgid clears the supplementary groups), with only the
# image's environment, and execs the entrypoint.
start() {
  env -i "${env[@]}" COUNTER_HOST=127.0.0.1 PORT="$port" \
    /usr/bin/unshare --mount --fork /bin/sh -c 'PATH=/usr/sbin:/usr/bin:/sbin:/bin mount --bind "$1" "$2/data" && shift 2 && exec "$@"' sh "$volume" "$rootfs" \
    /usr/bin/unshare --root="$rootfs" --wd="$cwd" --setgid="$gid" --setuid="$uid" "${args[@]}" >"$work/log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do
    server=$(pgrep -P "$pid" || true)
    [ -n "$server" ] && break
    sleep 0.05
  done
  for _ in $(seq 100); do
    curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  fail "no answer on /readyz"
}
# stop sends SIGTERM to the server (unshare ignores it while it waits).
stop() {
  kill -TERM "$server"
  wait "$pid" || fail "exit status $? after SIGTERM"
  pid="" server=""
}
count() { curl -fsS -A 'Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0' "http://127.0.0.1:$port/api/home"; }

start
[ "$(readlink "/proc/$server/exe")" = "$rootfs/usr/local/bin/counter" ] || fail "pid $server is $(readlink "/proc/$server/exe"), not the image's counter"
grep -q "^Uid:[[:space:]]*$uid[[:space:]]" "/proc/$server/status" || fail "the server does not run as uid $uid: $(grep ^Uid "/proc/$server/status")"
grep -q "^Groups:[[:space:]]*$" "/proc/$server/status" || fail "the server keeps groups: $(grep ^Groups "/proc/$server/status")"
echo "server runs as $(grep ^Uid "/proc/$server/status" | tr -s '\t ' ' ') in $(readlink "/proc/$server/cwd")"
got=$(count)
case "$got" in *'"count":1,'*) ;; *) fail "first visit: $got" ;; esac
stop
[ -s "$volume/counter.db" ] || fail "no counter.db in the volume"
[ "$(stat -c %u "$volume/counter.db")" = "$uid" ] || fail "counter.db not owned by $uid"
start
got=$(count)
case "$got" in *'"count":2,'*) ;; *) fail "after a restart: $got (want the count kept in the volume)" ;; esac
stop
echo "image test passed: /readyz answered, counted 2 into the volume across a restart"
