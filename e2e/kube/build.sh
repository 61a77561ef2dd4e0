#!/usr/bin/env bash
# Builds the upstream binaries the e2e/kube suite runs, into a cache outside the
# repository keyed by version: kube-apiserver, kube-controller-manager,
# kube-scheduler, kubelet, kube-proxy, kubectl (k8s.io/kubernetes, module
# build/k8s), etcd (module build/etcd) and crictl (sigs.k8s.io/cri-tools).
# A complete cache is reused as is; Go's build cache makes a relink fast.
# Usage: build.sh [CACHE_DIR]   (prints the bin directory on success)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
K8S_VERSION=v1.37.2
ETCD_VERSION=v3.7.3
CRICTL_VERSION=v1.37.0
key="k8s-${K8S_VERSION}_etcd-${ETCD_VERSION}_crictl-${CRICTL_VERSION}"
cache="${1:-${PODLIFE_KUBE_CACHE:-$HOME/.cache/podlife-kube}}/$key"
bin="$cache/bin"
all=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl etcd crictl)

complete() { [ -f "$cache/complete" ]; }
if complete; then echo "$bin"; exit 0; fi

mkdir -p "$bin"
exec 9>"$cache/.lock"
flock 9   # one builder per cache; a second caller waits and reuses the result
if complete; then echo "$bin"; exit 0; fi

export CGO_ENABLED=0 GOFLAGS=-mod=mod
start=$(date +%s)
ld=""
minor="${K8S_VERSION#v1.}"; minor="${minor%%.*}"
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ld+=" -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
done
(
  cd "$here/build/k8s"
  for c in kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl; do
    [ -x "$bin/$c" ] && continue
    echo "build.sh: building $c" >&2
    go build -trimpath -ldflags "-s -w$ld" -o "$bin/$c.tmp" "k8s.io/kubernetes/cmd/$c"
    mv "$bin/$c.tmp" "$bin/$c"
  done
)
if [ ! -x "$bin/etcd" ]; then
  echo "build.sh: building etcd" >&2
  (cd "$here/build/etcd" && go build -trimpath -ldflags "-s -w" -o "$bin/etcd.tmp" . && mv "$bin/etcd.tmp" "$bin/etcd")
fi
if [ ! -x "$bin/crictl" ]; then
  echo "build.sh: building crictl" >&2
  GOFLAGS= GOBIN="$cache/gobin" go install -trimpath -ldflags "-s -w" "sigs.k8s.io/cri-tools/cmd/crictl@$CRICTL_VERSION"
  mv "$cache/gobin/crictl" "$bin/crictl"
fi
for b in "${all[@]}"; do [ -x "$bin/$b" ] || { echo "build.sh: $bin/$b missing" >&2; exit 1; }; done
echo "build.sh: built in $(( $(date +%s) - start ))s" >&2
touch "$cache/complete"
echo "$bin"
