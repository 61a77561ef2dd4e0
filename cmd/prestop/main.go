// Command prestop is a preStop hook for Kubernetes: it keeps the container
// alive while its endpoint is taken out of every load balancer, even in
// images with no shell or sleep, optionally telling a podlife service to
// start draining first and waiting until it is idle.
package main

import (
	"os"

	"github.com/podlife/podlife/internal/cli"
)

// version is set at link time with -X main.version=….
var version string

func main() {
	os.Exit(cli.Main("prestop", run))
}
