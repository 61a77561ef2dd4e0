package testpeer

import (
	"errors"
	"os/exec"
	"strconv"
	"strings"

	"github.com/rogpeppe/go-internal/testscript"
)

// Exits is a testscript command that runs a program and checks its exit
// code exactly, keeping its stdout and stderr for the next assertions:
//
//	exits 2 probe --status 2xx- http://127.0.0.1/
//	stderr '^probe: --status: '
//
// testscript's own "! exec" accepts any non-zero code; the binaries'
// contract distinguishes 1, 2 and 3. A stack trace on stderr fails too.
func Exits(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exits CODE PROGRAM [ARGS...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("exits: bad code %q", args[0])
	}
	got := 0
	if err := ts.Exec(args[1], args[2:]...); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			ts.Fatalf("exits: %v", err)
		}
		got = ee.ExitCode()
	}
	if got != want {
		ts.Fatalf("exit code %d, want %d", got, want)
	}
	if e := ts.ReadFile("stderr"); strings.Contains(e, "panic:") || strings.Contains(e, "goroutine ") {
		ts.Fatalf("a stack trace on stderr: never show users one")
	}
}
