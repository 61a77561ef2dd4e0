// Package ciskip is the one rule for skipping an end-to-end or proof test:
// on a developer's machine a test whose prerequisite is missing (no Docker
// engine, a machine too loaded to conclude) may skip, with one line saying
// why; in CI it may not, because CI on this project's machines always has
// what those tests need, and a skip there would pass silently.
//
// CI is recognised by the CI environment variable being true (CI=true, as
// .ci/run and every hosted CI set it; 1 and TRUE count too).
package ciskip

import (
	"fmt"
	"os"
	"strconv"
	"testing"
)

// Skipf skips t with the reason format and args make, or, in CI, fails it
// with the same reason and what made it a failure. Like t.Skipf and
// t.Fatalf, it stops the test.
func Skipf(t testing.TB, format string, args ...any) {
	t.Helper()
	reason := fmt.Sprintf(format, args...)
	if InCI() {
		t.Fatalf("%s; CI=true: a skipped end-to-end or proof test is a failure in CI", reason)
		return
	}
	t.Skipf("%s (skipped on this machine; with CI=true it fails)", reason)
}

// InCI reports whether the CI environment variable is true.
func InCI() bool {
	ci, _ := strconv.ParseBool(os.Getenv("CI"))
	return ci
}
