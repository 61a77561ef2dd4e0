#!/usr/bin/env bash
# images/build.sh — build the podlife toolkit image (and, with --service-tag,
# the example service image) into the local Docker engine. `make image` runs it.
#
#   images/build.sh [--tag IMAGE] [--service-tag IMAGE] [--docker]
#
# Default route, needing no registry at all: the binaries are built on this
# machine (static: CGO_ENABLED=0, -trimpath, -ldflags "-s -w -X main.version=…",
# for the engine's OS and architecture) into a temporary build context, and
# images/prebuilt.Dockerfile copies them into scratch. The image is the same
# as the multi-stage images/Dockerfile produces; only where the compiler ran
# differs.
#
# --docker builds with the multi-stage Dockerfiles instead (the builder base
# is $GO_IMAGE, default golang:1.26.8): for machines that can pull it.
#
# Environment: VERSION (default: git describe), REVISION (default: git
# rev-parse HEAD), GO (default: go), GO_IMAGE (with --docker).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

tag=ghcr.io/podlife/podlife:dev
service_tag=
route=host
while (($#)); do
  case "$1" in
    --tag) tag="$2"; shift 2 ;;
    --tag=*) tag="${1#*=}"; shift ;;
    --service-tag) service_tag="$2"; shift 2 ;;
    --service-tag=*) service_tag="${1#*=}"; shift ;;
    --docker) route=docker; shift ;;
    -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "build.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

GO="${GO:-go}"
VERSION="${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo devel)}"
REVISION="${REVISION:-$(git rev-parse HEAD 2>/dev/null || true)}"

if ! docker info >/dev/null 2>&1; then
  echo "build.sh: no Docker engine (docker info failed)" >&2
  exit 1
fi
# Without the buildx plugin the docker CLI falls back to the classic builder;
# say so explicitly instead of letting it warn (prebuilt.Dockerfile needs no
# BuildKit feature; the multi-stage route does).
if [[ $route == host ]] && ! docker buildx version >/dev/null 2>&1; then
  export DOCKER_BUILDKIT=0
fi

args=(--build-arg "VERSION=$VERSION" --build-arg "REVISION=$REVISION")

if [[ $route == docker ]]; then
  [[ -n "${GO_IMAGE:-}" ]] && args+=(--build-arg "GO_IMAGE=$GO_IMAGE")
  docker build -f images/Dockerfile "${args[@]}" -t "$tag" .
  if [[ -n $service_tag ]]; then
    docker build -f images/service/Dockerfile "${args[@]}" --build-arg "PODLIFE_IMAGE=$tag" -t "$service_tag" .
  fi
  exit 0
fi

# Host route: cross-compile for the engine (a Mac's Docker runs linux/arm64).
goos=linux
goarch="$(docker version --format '{{.Server.Arch}}' 2>/dev/null || "$GO" env GOARCH)"
ctx="$(mktemp -d)"
trap 'rm -rf "$ctx"' EXIT
mkdir -p "$ctx/toolkit/podlife" "$ctx/service"

build() { # build OUTPUT PACKAGE...
  local out="$1"; shift
  CGO_ENABLED=0 GOOS="$goos" GOARCH="$goarch" \
    "$GO" build -trimpath -ldflags "-s -w -X main.version=$VERSION" -o "$out" "$@"
}
build "$ctx/toolkit/podlife/" ./cmd/probe ./cmd/warmup ./cmd/prestop ./cmd/install
chmod 0755 "$ctx"/toolkit/podlife/*
docker build -f images/prebuilt.Dockerfile "${args[@]}" -t "$tag" "$ctx/toolkit"

if [[ -n $service_tag ]]; then
  build "$ctx/service/service" ./examples/service
  chmod 0755 "$ctx/service/service"
  docker build -f images/service/prebuilt.Dockerfile "${args[@]}" --build-arg "PODLIFE_IMAGE=$tag" \
    -t "$service_tag" "$ctx/service"
fi
