#!/usr/bin/env bash
# e2e/kube/run.sh — `make e2e-kube`: the end-to-end suite on a real
# single-node Kubernetes. Needs root on Linux with a Docker engine; elsewhere
# it skips with one line (and fails under CI=true). It installs the Debian
# packages the node needs, builds (or reuses) the upstream binaries with
# build.sh, builds the project's images with images/build.sh (under the
# Docker lock), runs TestKube, and whatever happens — failure, interrupt —
# runs kube-teardown on the run's work directory, which stops every process
# the run started by PID and removes exactly what it created.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"

skip() {
  if [[ "${CI:-}" == true ]]; then
    echo "e2e-kube: cannot run, and CI=true: $1" >&2
    exit 1
  fi
  echo "e2e-kube: skipped: $1"
  exit 0
}
[[ "$(uname -s)" == Linux ]] || skip "not Linux"
[[ "$(id -u)" == 0 ]] || skip "not root"
command -v docker >/dev/null && docker info >/dev/null 2>&1 || skip "no Docker engine (docker info failed)"

start=$(date +%s)
need=()
for p in containerd runc containernetworking-plugins conntrack nftables iptables; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
done
if ((${#need[@]})); then
  echo "e2e-kube: installing ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

bin="$(./build.sh)"
echo "e2e-kube: binaries in $bin ($(( $(date +%s) - start ))s)"
(cd ../.. && flock /tmp/podlife-docker.lock bash images/build.sh --service-tag ghcr.io/podlife/podlife-example-service:dev)
echo "e2e-kube: images built ($(( $(date +%s) - start ))s)"

work="$(mktemp -d /var/tmp/podlife-kube-XXXXXX)"
CGO_ENABLED=0 go build -o "$work/kube-teardown" ./cmd/kube-teardown
teardown() {
  rc=$?
  if [[ -f "$work/cluster/state.json" ]]; then
    echo "e2e-kube: tearing down what the test left"
    "$work/kube-teardown" "$work/cluster" || rc=1
  fi
  # Never rm -rf across a mount point that is still there.
  if [[ "${PODLIFE_KUBE_KEEP:-}" != 1 && ! -f "$work/cluster/state.json" ]] &&
    ! awk '{print $5}' /proc/self/mountinfo | grep -q "^$work"; then
    rm -rf "$work"
  else
    echo "e2e-kube: kept $work"
  fi
  echo "e2e-kube: done in $(( $(date +%s) - start ))s (rc $rc)"
  exit $rc
}
trap teardown EXIT
# On ^C the test stops the cluster itself (its components run in process
# groups of their own); tee -i keeps its output flowing meanwhile.
trap 'exit 130' INT TERM

PODLIFE_KUBE_BIN="$bin" PODLIFE_KUBE_WORK="$work/cluster" PODLIFE_KUBE_IMAGES_BUILT=1 \
  go test -count=1 -timeout 45m -v -run '^TestKube$' . 2>&1 | tee -i "$work/test.log"
exit "${PIPESTATUS[0]}"
