#!/usr/bin/env bash
# Fails when a tracked file (git ls-files) is over 1 MB, unless it is listed
# in scripts/big-files.txt. Build outputs (binaries, databases, zips) belong
# in .gitignore, not in the repository. Run from anywhere:
#   bash scripts/check-big-files.sh
set -euo pipefail
cd "$(dirname "$0")/.."
limit=$((1 << 20))
allow=scripts/big-files.txt
if ! git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  echo "check-big-files: not a git checkout: cannot list the tracked files" >&2
  exit 1
fi
declare -A allowed=()
if [ -f "$allow" ]; then
  while IFS= read -r line; do
    line=${line%%#*}
    line=${line%"${line##*[![:space:]]}"}
    [ -n "$line" ] && allowed["$line"]=1
  done < "$allow"
fi
bad=0 n=0
while IFS= read -r -d '' f; do
  [ -f "$f" ] || continue # deleted in the work tree
  n=$((n + 1))
  size=$(stat -c %s -- "$f")
  if [ "$size" -gt "$limit" ] && [ -z "${allowed[$f]:-}" ]; then
    printf 'check-big-files: %s is %d bytes, over 1 MB: remove it (and ignore build outputs in .gitignore) or list it in %s\n' "$f" "$size" "$allow" >&2
    bad=1
  fi
done < <(git ls-files -z)
[ "$bad" = 0 ] || exit 1
echo "check-big-files: $n tracked files, none over 1 MB outside $allow"
