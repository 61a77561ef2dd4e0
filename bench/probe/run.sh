#!/usr/bin/env bash
# Benchmark: podlife probe vs grpc-health-probe v0.4.62, both built the
# same way (CGO_ENABLED=0, -trimpath, -ldflags "-s -w"), measured on the
# same grpc-go health server in one run, alternating. Not part of `make test`.
set -euo pipefail
cd "$(dirname "$0")/../.."
runs="${RUNS:-100}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

if ! [ -x /usr/bin/time ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time
fi
export CGO_ENABLED=0
go build -trimpath -ldflags "-s -w" -o "$tmp/probe" ./cmd/probe
GOBIN="$tmp" GOFLAGS=-mod=mod go install -trimpath -ldflags "-s -w" \
  github.com/grpc-ecosystem/grpc-health-probe@v0.4.62
base=()
if [ -n "${BASE:-}" ]; then
  # BASE=REV: also compare with probe built from that git revision, on HTTP.
  git worktree add --detach -q "$tmp/base" "$BASE"
  trap 'git worktree remove --force "$tmp/base"; rm -rf "$tmp"' EXIT
  (cd "$tmp/base" && go build -trimpath -ldflags "-s -w" -o "$tmp/probe-base" ./cmd/probe)
  base=(-base "$tmp/probe-base")
fi
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(go version | cut -d' ' -f3)"
go run ./bench/probe -runs "$runs" -probe "$tmp/probe" -ghp "$tmp/grpc-health-probe" "${base[@]}"
