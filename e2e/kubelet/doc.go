// Package kubelet holds the differential test of probe against kubelet's
// own probers (k8s.io/kubernetes/pkg/probe/http, tcp and grpc): both are
// run on one matrix of real servers on loopback, and every difference of
// verdict must be listed, with its reason, in docs/probe.md's table
// "Where probe and kubelet differ".
//
// It is a module of its own so that k8s.io/kubernetes never enters the
// root module. k8s.io/kubernetes requires its staging modules (k8s.io/api,
// k8s.io/client-go, …) at v0.0.0 and replaces them with its own directory;
// go.mod here pins each to the release of the same minor, v0.37.2.
//
// Run it with `cd e2e/kubelet && go test ./...` (make test does).
package kubelet
