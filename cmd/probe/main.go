// Command probe is an exec probe for Kubernetes: it checks HTTP(S), TCP,
// gRPC health, unix sockets and heartbeat files, and says so by its exit
// code (0 healthy, 1 unhealthy, 2 usage, 3 unreachable).
//
// It runs in every Pod every few seconds, so its start-up is its
// performance: the runtime's periodic GOMAXPROCS update is off (the
// process lives for milliseconds), it runs on one P unless GOMAXPROCS says
// otherwise (its work is waiting on sockets; a second P only costs thread
// wake-ups, measured by bench/probe), and no signal handler is installed
// (a probe has nothing to clean up; SIGTERM's default action ends it).
//
//go:debug updatemaxprocs=0
package main

import (
	"context"
	"os"
	"runtime"

	"github.com/podlife/podlife/internal/cli"
)

// version is set at link time with -X main.version=….
var version string

func main() {
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(1)
	}
	err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr)
	os.Exit(cli.Report("probe", err, os.Stderr))
}
