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
# How the host route builds. With the buildx plugin, `docker build` is
# BuildKit. Without it (Debian's docker.io has none), the docker CLI (23+)
# falls back to the classic builder and prints "DEPRECATED: The legacy
# builder is deprecated" on every build, whatever DOCKER_BUILDKIT says. The
# engine's own build endpoint runs the same classic builder without that
# CLI warning: prebuilt.Dockerfile needs no BuildKit feature, so then
# engine_build posts the context to it over the engine's unix socket (curl
# 7.87+). Anything else (a tcp:// or ssh:// engine, an older curl) uses the
# CLI and its warning.
builder=cli
engine_sock=
if [[ $route == host ]] && ! docker buildx version >/dev/null 2>&1; then
  host="$(docker context inspect --format '{{.Endpoints.docker.Host}}' 2>/dev/null || true)"
  if [[ $host == unix://* ]] && curl --help all 2>/dev/null | grep -q -- '--url-query'; then
    builder=engine
    engine_sock="${host#unix://}"
  else
    export DOCKER_BUILDKIT=0
  fi
fi

args=(--build-arg "VERSION=$VERSION" --build-arg "REVISION=$REVISION")

# A rebuilt tag leaves the image it named before untagged: remove that one
# (and the layers only it used) once the build is done, so that repeated
# builds (make image, the end-to-end suites) do not pile up dangling
# images. An image still used by a container or another tag stays.
declare -A before=()
for t in "$tag" ${service_tag:+"$service_tag"}; do
  before[$t]="$(docker image inspect --format '{{.Id}}' "$t" 2>/dev/null || true)"
done
forget_replaced() {
  local t old now
  for t in "${!before[@]}"; do
    old="${before[$t]}"
    now="$(docker image inspect --format '{{.Id}}' "$t" 2>/dev/null || true)"
    if [[ -n $old && $old != "$now" ]] && [[ -z "$(docker image inspect --format '{{join .RepoTags ","}}' "$old" 2>/dev/null)" ]]; then
      docker image rm "$old" >/dev/null 2>&1 || true
    fi
  done
}

# engine_build DOCKERFILE TAG CONTEXT [NAME=VALUE...]: the classic builder
# through the engine's API, as `docker build -f DOCKERFILE -t TAG
# --build-arg NAME=VALUE... CONTEXT` runs it, minus the CLI's warning.
engine_build() {
  local dockerfile="$1" tag="$2" dir="$3"; shift 3
  local json="" kv
  for kv in "$@"; do
    local v="${kv#*=}"
    v="${v//\\/\\\\}"; v="${v//\"/\\\"}"
    json+="${json:+,}\"${kv%%=*}\":\"$v\""
  done
  cp "$dockerfile" "$dir/.podlife.Dockerfile"
  local out
  out="$(tar -C "$dir" -c . | curl -sS --unix-socket "$engine_sock" -X POST \
    -H 'Content-Type: application/x-tar' --data-binary @- \
    --url-query "t=$tag" --url-query "dockerfile=.podlife.Dockerfile" \
    --url-query "buildargs={$json}" --url-query "rm=1" --url-query "forcerm=1" \
    "http://docker/build")" || { echo "build.sh: $tag: the engine's build endpoint: curl failed" >&2; return 1; }
  if [[ $out == *'"error"'* ]] || [[ $out != *'Successfully tagged'* ]]; then
    echo "build.sh: $tag: the engine's build failed:" >&2
    printf '%s\n' "$out" >&2
    return 1
  fi
  echo "build.sh: built $tag (classic builder, through the engine's API: no buildx here)"
}

if [[ $route == docker ]]; then
  [[ -n "${GO_IMAGE:-}" ]] && args+=(--build-arg "GO_IMAGE=$GO_IMAGE")
  docker build -f images/Dockerfile "${args[@]}" -t "$tag" .
  if [[ -n $service_tag ]]; then
    docker build -f images/service/Dockerfile "${args[@]}" --build-arg "PODLIFE_IMAGE=$tag" -t "$service_tag" .
  fi
  forget_replaced
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
if [[ $builder == engine ]]; then
  engine_build images/prebuilt.Dockerfile "$tag" "$ctx/toolkit" "VERSION=$VERSION" "REVISION=$REVISION"
else
  docker build -f images/prebuilt.Dockerfile "${args[@]}" -t "$tag" "$ctx/toolkit"
fi

if [[ -n $service_tag ]]; then
  build "$ctx/service/service" ./examples/service
  chmod 0755 "$ctx/service/service"
  if [[ $builder == engine ]]; then
    engine_build images/service/prebuilt.Dockerfile "$service_tag" "$ctx/service" \
      "VERSION=$VERSION" "REVISION=$REVISION" "PODLIFE_IMAGE=$tag"
  else
    docker build -f images/service/prebuilt.Dockerfile "${args[@]}" --build-arg "PODLIFE_IMAGE=$tag" \
      -t "$service_tag" "$ctx/service"
  fi
fi
forget_replaced
