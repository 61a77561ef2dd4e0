// Package kube is podlife's end-to-end suite on a real single-node
// Kubernetes built from upstream source (package cluster starts it; build.sh
// builds its binaries). It applies examples/kubernetes as shipped and checks
// every lifecycle claim through a real kubelet and kube-proxy. Run it with
// `make e2e-kube` (as root, on Linux, with a Docker engine).
package kube
