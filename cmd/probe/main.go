// Command probe is an exec probe for Kubernetes: it checks HTTP(S), TCP,
// gRPC health, unix sockets and heartbeat files, and says so by its exit
// code (0 healthy, 1 unhealthy, 2 usage, 3 unreachable).
//
// It runs in every Pod every few seconds, so its start-up is its
// performance (bench/probe measures it):
//   - it runs on one P unless GOMAXPROCS says otherwise, set by the oneproc
//     package's init before net, crypto/tls and net/http run theirs: its
//     work is waiting on sockets, and a second P only costs thread wake-ups
//     and TLB shootdowns while those inits write their data pages;
//   - the runtime's periodic GOMAXPROCS update is off: the process lives
//     for milliseconds;
//   - no signal handler is installed: a probe has nothing to clean up, and
//     SIGTERM's default action ends it.
//
//go:debug updatemaxprocs=0
package main

import (
	"context"
	"os"

	_ "github.com/podlife/podlife/cmd/probe/internal/oneproc" // first: see the package doc
	"github.com/podlife/podlife/internal/cli"
)

// version is set at link time with -X main.version=….
var version string

func main() {
	err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr)
	os.Exit(cli.Report("probe", err, os.Stderr))
}
