# Install steps shared by scripts/test.sh and scripts/bench.sh; source it
# from the module root. Each step installs only what is missing or stale.

# Go 1.27.3 for every build, test, tool and benchmark: the go command fetches
# it from the Go module proxy once (about 76 MB) when the machine has another
# release. go1.26.8, the machines' own, carries standard-library
# vulnerabilities and a fuzz-coordinator race (golang/go#75804).
export GOTOOLCHAIN=go1.27.3

export GOBIN="$PWD/.tools/bin"
export PATH="$GOBIN:$PATH"

say() { printf '\n== %s\n' "$*"; }

# need_debian CMD_OR_FILE PACKAGE ...: installs each PACKAGE whose command (or
# file, for arguments with a slash) is absent, with one apt-get call.
need_debian() {
  local need=()
  while [ $# -ge 2 ]; do
    case "$1" in
      */*) [ -e "$1" ] || need+=("$2") ;;
      *) command -v "$1" >/dev/null || need+=("$2") ;;
    esac
    shift 2
  done
  [ ${#need[@]} -gt 0 ] || return 0
  say "apt-get install ${need[*]}"
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
}

# npm_ci installs the npm packages pinned in package-lock.json: dynalite,
# playwright-core, badgen, and the schemas examples/lambda checks its stacks
# against: @aws-cdk/aws-service-spec and @cdktf/provider-aws (about 400 MB).
npm_ci() {
  say "npm ci"
  npm ci --no-audit --no-fund --loglevel=error
}

# go_tool NAME VERSION PACKAGE installs a pinned Go tool into .tools/bin.
go_tool() {
  if ! [ -x "$GOBIN/$1" ] || [ "$(cat "$GOBIN/.$1-version" 2>/dev/null)" != "$2" ]; then
    say "go install $3@$2"
    go install "$3@$2"
    echo "$2" > "$GOBIN/.$1-version"
  fi
}

# rie installs the Lambda Runtime Interface Emulator.
rie() {
  go_tool aws-lambda-rie v0.0.0-20261030222936-bef5c4ba774d \
    github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie
}
