// Command service is a small HTTP (and optionally gRPC) service run by
// package lifecycle: the example that the Kubernetes manifests of podlife
// deploy, and the target of the warm-up and rollout demos.
//
// Endpoints on $PORT (default 8080): /hello, /fail, /livez, /readyz,
// /startupz, /drainz, /metrics, POST /stall. With $GRPC_PORT, a gRPC server
// with the standard health service. LIFECYCLE_* variables configure the
// shutdown (see package lifecycle).
package main

import (
	"context"
	"fmt"
	"os"
)

func main() {
	if err := run(context.Background(), os.Args, os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "service:", err)
		os.Exit(exitCode(err))
	}
}
