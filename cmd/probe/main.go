// Command probe is an exec probe for Kubernetes: it checks HTTP(S), TCP,
// gRPC health, unix sockets and heartbeat files, and says so by its exit
// code (0 healthy, 1 unhealthy, 2 usage, 3 unreachable).
package main

import (
	"os"

	"github.com/podlife/podlife/internal/cli"
)

// version is set at link time with -X main.version=….
var version string

func main() {
	os.Exit(cli.Main("probe", run))
}
