// Package e2e holds podlife's end-to-end tests, in a module of their own so
// that their dependencies (go-containerregistry, k8s.io/api) stay
// out of the root module and out of the binaries:
//
//   - ko_test.go: every build of .ko.yaml, built the way ko builds it (go
//     build with the file's env, flags and ldflags template; the binary in
//     a layer at /ko-app/<name> on the base image) with go-containerregistry,
//     against a base image served by a registry on 127.0.0.1; the images are
//     inspected. ko itself is not linked: its CLI package brought cosign and
//     three clouds' SDKs.
//   - images_test.go: the Dockerfiles agree with each other and copy every
//     package the binaries import.
//   - manifests_test.go, deployment_test.go: what is particular to the
//     manifests under examples/kubernetes — every Deployment wires every
//     podlife piece and tells the service what its Pod spec says, hooks and
//     exec probes target loopback, the Services and disruption budgets
//     select the Deployments meant. The general rules (strict decoding, the
//     termination budget, probe timeouts, …) are kubectl-podlife lint's,
//     which cmd/kubectl-podlife's TestExamplesClean runs on the same files.
//   - docker_test.go: the images built by images/build.sh, run in the local
//     Docker engine the way kubelet runs them; skipped where `docker info`
//     fails, except in CI (CI=true), where that is a failure
//     (internal/ciskip).
//
// Run them with `cd e2e && go test ./...`.
package e2e
