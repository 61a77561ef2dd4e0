// Command install copies the podlife binaries out of the toolkit image into
// a directory, for images that have no shell and no cp: a Kubernetes init
// container runs it with an emptyDir mounted at DIR, and the application
// container then runs /podlife-bin/probe, /podlife-bin/prestop, ….
//
//	install [--from DIR] [--verbose] DEST [NAME...]
//
// With no NAME it copies every regular file of --from (by default the
// directory install itself lives in, /podlife in the image). Each file is
// written to a temporary name in DEST, made executable (0755) and renamed
// into place, so a reader never sees half a binary and a retried init
// container (delivery is at-least-once) simply replaces the files.
//
// It follows the other binaries' conventions (internal/cli: one error
// line, exit codes 0 copied, 1 a copy failed, 2 usage error; --help,
// --version) and, to stay small, reads no environment variable and does
// not link net/http.
package main

import (
	"context"
	"os"

	"github.com/podlife/podlife/internal/cli"
)

// version is set at link time with -X main.version=….
var version string

// main installs no signal handler (cli.Main would): a copy takes
// milliseconds, and SIGTERM's default action ends it, leaving at most a
// temporary file that the next run ignores. That keeps os/signal out of
// the binary.
func main() {
	err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr)
	os.Exit(cli.Report("install", err, os.Stderr))
}
