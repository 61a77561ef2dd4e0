// Command service is a small HTTP (and optionally gRPC) service run by
// package lifecycle: the example that the Kubernetes manifests of podlife
// deploy, and the target of the warm-up and rollout demos.
//
// Endpoints on $PORT (default 8080): /hello, /fail, /livez, /readyz,
// /startupz, /drainz, /metrics, POST /stall. With $GRPC_PORT, a gRPC server
// with the standard health service. LIFECYCLE_* variables configure the
// shutdown (see package lifecycle).
//
// Logs are JSON lines on stdout, written through package logging and
// configured by LOG_LEVEL, LOG_FORMAT, SERVICE_NAME and POD_NAME (see
// logging.ConfigFromEnv). Each request to an app endpoint (/hello, /fail,
// /stall, and the 404s and 405s of unknown ones) gets one access line with
// its request id (X-Request-ID, echoed), user id (X-User-ID, the example's
// stand-in for authentication) and, when it failed, its error code; the
// lifecycle's shutdown steps go through the same logger. The health
// endpoints, /metrics and the gRPC Health/Check that probes call get no
// access lines, so that probes do not flood the log.
package main

import (
	"context"
	"fmt"
	"os"
)

func main() {
	if err := run(context.Background(), os.Args, os.Environ(), os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "service:", err)
		os.Exit(exitCode(err))
	}
}
