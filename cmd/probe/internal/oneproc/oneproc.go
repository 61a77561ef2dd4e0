// Package oneproc puts the probe on one P (runtime.GOMAXPROCS(1)), unless
// the GOMAXPROCS variable is set, as early as a package can: Go runs
// package inits in import-path order among those ready, and this one needs
// only os and runtime, so it runs before net, crypto/x509, crypto/tls and
// net/http. Their inits write to many data pages; each first write is a
// copy-on-write fault whose TLB flush interrupts every CPU running one of
// the process's threads, and fewer Ps keep fewer threads running. Measured
// by bench/probe; the probe's work is waiting on sockets and needs no
// parallelism. Only the probe imports it.
package oneproc

import (
	"os"
	"runtime"
)

func init() {
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(1)
	}
}
