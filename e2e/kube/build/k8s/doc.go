// Package k8s only anchors the module that pins the upstream Kubernetes
// components (see its go.mod tool directives); e2e/kube/build.sh builds them.
package k8s
