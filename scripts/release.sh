#!/usr/bin/env bash
# Releases every published module of this repository at one version, in
# dependency order (go run ./internal/release modules: the root, then the
# stores and lambdahttp, then cmd/counter and the examples). docs/releasing.md
# says when to run it and what to do after. Run from a clean checkout of main:
#   bash scripts/release.sh v0.1.0
# It
#   1. checks the version (semantic, not yet tagged) and that the tree is clean;
#   2. sets every module's requirements of the others, and go.work's replaces,
#      to that version, and tidies every module against a proxy of the working
#      tree at that version, so that each go.sum holds the hashes the Go module
#      proxy will compute from the tags (internal/release pin);
#   3. commits the go.mod, go.sum and go.work files ("Release vX.Y.Z");
#   4. reports API changes of each module against its previous tag with
#      gorelease, which fails where the version does not follow them and
#      suggests the version that does (the commit is then undone);
#   5. runs scripts/release-check.sh on that commit;
#   6. tags every module on it (vX.Y.Z, boltstore/vX.Y.Z, cmd/counter/vX.Y.Z, ...)
#      and prints the one push command that publishes them.
# Nothing is pushed. To stop after step 4, with the tree as step 2 left it:
#   bash scripts/release.sh -n v0.1.0
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup.sh

dry=false
if [ "${1:-}" = -n ]; then dry=true; shift; fi
version=${1:?usage: bash scripts/release.sh [-n] vX.Y.Z}
gorelease_version=v0.0.0-20251023183803-a4bb9ffd2546 # golang.org/x/exp/cmd/gorelease

if ! [[ $version =~ ^v(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?$ ]]; then
  echo "release: $version is not a semantic version vX.Y.Z" >&2
  exit 2
fi
if [[ $version != v0.* && $version != v1.* ]]; then
  echo "release: $version needs /v${version%%.*#v} module paths; not supported here" >&2
  exit 2
fi
if [ -n "$(git status --porcelain --untracked-files=normal)" ]; then
  echo "release: the working tree is not clean (git status):" >&2
  git status --short >&2
  exit 1
fi

mapfile -t mods < <(go run ./internal/release modules)
tag_of() { if [ "$1" = . ]; then echo "$version"; else echo "$1/$version"; fi; }
for line in "${mods[@]}"; do
  tag=$(tag_of "${line%% *}")
  if git rev-parse -q --verify "refs/tags/$tag" >/dev/null; then
    echo "release: tag $tag exists" >&2
    exit 1
  fi
done

say "1. every module requires the others at $version; go.work ties them"
declare -A dir_of needed
for line in "${mods[@]}"; do dir_of[${line#* }]=${line%% *}; done
for line in "${mods[@]}"; do
  dir=${line%% *}
  for dep in $(cd "$dir" && GOWORK=off go mod edit -json | sed -n 's/^\t\t\t"Path": "\(github.com\/resumecounter\/counter[^"]*\)",$/\1/p'); do
    [ -n "${dir_of[$dep]:-}" ] || continue
    (cd "$dir" && GOWORK=off go mod edit -require="$dep@$version")
    needed[$dep]=1
  done
done
# go.work: one replace for each module another requires, at $version (the
# versions of those there are rewritten in place; missing ones are added).
sed -E -i "s#^([[:space:]]*(replace[[:space:]]+)?github\.com/resumecounter/counter[^[:space:]]*) v[^[:space:]]+ => #\1 $version => #" go.work
for dep in "${!needed[@]}"; do
  dir=${dir_of[$dep]}
  grep -Eq "^[[:space:]]*(replace[[:space:]]+)?$dep $version => " go.work ||
    go work edit -replace="$dep@$version=./${dir#.}"
done
proxy=$(mktemp -d)
trap 'chmod -R u+w "$proxy" 2>/dev/null; rm -rf "$proxy"' EXIT

say "2. go.mod and go.sum of every module as released (internal/release pin)"
go run ./internal/release pin -o "$proxy/pin" -version "$version"
git --no-pager diff --stat

say "3. commit (gorelease reads committed files only)"
git commit -q -am "Release $version: the modules require each other at $version"
git --no-pager log --oneline -1

say "4. API changes against the previous tags (gorelease $gorelease_version)"
go_tool gorelease "$gorelease_version" golang.org/x/exp/cmd/gorelease
# gorelease reads the module being released from the repository and the
# previous release from the Go module proxy; the other modules of this
# repository at $version come from the proxy pin built.
mirror=$(go env GOMODCACHE)/cache/download
api_ok=true
for line in "${mods[@]}"; do
  dir=${line%% *} path=${line#* }
  prefix=""; [ "$dir" = . ] || prefix="$dir/"
  prev=$(git tag -l "${prefix}v*" | sed "s|^$prefix||" | { grep -E '^v[0-9]+\.[0-9]+\.[0-9]+$' || true; } | sort -V | tail -1)
  echo "-- $path: previous ${prev:-none}, proposed $version"
  base=none; [ -n "$prev" ] && base=$prev
  # A module cache of its own: no version of ours stays in the usual one.
  if ! (cd "$dir" && GOWORK=off GOFLAGS="-mod=mod -modcacherw" GONOSUMDB=github.com/resumecounter/counter \
      GOMODCACHE="$proxy/modcache" GOPROXY="file://$proxy/pin,file://$mirror,$(go env GOPROXY)" \
      gorelease -base="$base" -version="$version"); then
    api_ok=false
  fi
done
if ! $api_ok || $dry; then
  git reset -q HEAD~1
  if ! $api_ok; then
    echo "release: gorelease found changes $version does not allow (its suggested version is above);" >&2
    echo "the release commit is undone, its changes left in the tree (git checkout -- . drops them)" >&2
    exit 1
  fi
  say "dry run: the release commit is undone, its changes left in the tree (git checkout -- . drops them)"
  exit 0
fi

say "5. scripts/release-check.sh on the release commit"
bash scripts/release-check.sh

say "6. tags, in dependency order"
tags=()
for line in "${mods[@]}"; do
  tag=$(tag_of "${line%% *}")
  git tag -a -m "${line#* } $version" "$tag"
  tags+=("$tag")
done
echo "tagged ${tags[*]} on $(git rev-parse --short HEAD)"
echo
echo "Publish with:"
echo "  git push origin HEAD:main ${tags[*]}"
echo "then ask the Go module proxy for each, so that the first fetch is yours:"
for line in "${mods[@]}"; do
  echo "  GOPROXY=https://proxy.golang.org GOWORK=off go list -m ${line#* }@$version"
done
