// Command warmup is a postStart hook (or a sidecar) for Kubernetes: it
// waits until the application answers, then sends it a bounded amount of
// parallel HTTP or gRPC load, so that the first real users do not meet a
// cold JIT, cold caches and cold pools. It fails open: a warm-up that
// cannot reach the application exits 0 with the problem logged, unless
// --strict.
package main

import (
	"os"

	"github.com/podlife/podlife/internal/cli"
)

// version is set at link time with -X main.version=….
var version string

func main() {
	os.Exit(cli.Main("warmup", run))
}
