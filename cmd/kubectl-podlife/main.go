// Command kubectl-podlife is a kubectl plugin for podlife: `kubectl podlife
// lint` checks manifests for lifecycle mistakes (the termination budget,
// probes, hooks, disruption budgets, image and security hygiene), and
// `kubectl podlife inject` wires podlife's warmup, prestop and probe into
// them. Install it on PATH with
//
//	go install github.com/podlife/podlife/cmd/kubectl-podlife@latest
//
// Exit codes: 0 clean (or injected), 1 findings at or above --fail-on,
// 2 usage error or unreadable input.
package main

import (
	"os"
	"runtime/debug"
)

// version is set at link time with -X main.version=…; otherwise it comes
// from the module's build information.
var version string

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// buildVersion returns the version stamped at link time, the module's
// version when installed with go install, or "devel".
func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}
