#!/usr/bin/env bash
# Builds the container image of counter serve without a container daemon:
# a static counter binary (CGO_ENABLED=0, -trimpath, -s -w) and the OCI
# image layout that deploy/image writes around it, in build/image (tag
# latest). Needs Debian's ca-certificates and tzdata. Run from anywhere:
#   bash deploy/image/build.sh [OUT_DIR]
# Then, for instance:
#   skopeo copy oci:build/image:latest docker://ghcr.io/OWNER/counter:TAG
#   tar -C build/image -cf counter-image.tar . && docker load -i counter-image.tar
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-build/image}
export GOTOOLCHAIN=${GOTOOLCHAIN:-go1.27.3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$tmp/counter" ./cmd/counter
go run ./deploy/image -binary "$tmp/counter" -out "$out"
