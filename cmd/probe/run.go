package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/podlife/podlife/internal/check"
	"github.com/podlife/podlife/internal/cli"
	"github.com/podlife/podlife/internal/cli/checkflag"
	"github.com/podlife/podlife/internal/oneline"
)

const synopsis = `
usage: probe [flags] TARGET...

Checks every TARGET concurrently; all must pass. Targets:
  http://host[:port]/path, https://...   HTTP GET; healthy on 200-399 unless --status
  tcp://host:port                        a TCP connect succeeds
  grpc://host:port[/service], grpcs://   grpc.health.v1.Health/Check is SERVING
  unix:///path/to.sock                   a unix socket accepts (HTTP with --http-path)
  file:///path                           the file exists (modified within --max-age)

Exit codes: 0 healthy, 1 unhealthy, 2 usage error, 3 unreachable.`

// options are probe's flags; every one is also a PROBE_ variable.
type options struct {
	Timeout time.Duration `env:"TIMEOUT"`
	Verbose bool          `env:"VERBOSE"`
	checkflag.CheckFlags
}

// defaultTimeout stays below Kubernetes' default timeoutSeconds (1 s),
// leaving room for the exec itself.
const defaultTimeout = 800 * time.Millisecond

// maxTargetLen bounds a target in a failure line: kubelet keeps 10 KiB of
// a probe's output, and one long URL must not push the others out.
const maxTargetLen = 200

// flagSet defines probe's flags on o, with o's values as defaults.
func (o *options) flagSet() *flag.FlagSet {
	fs := flag.NewFlagSet("probe", flag.ContinueOnError)
	fs.DurationVar(&o.Timeout, "timeout", o.Timeout, "bound on the whole call, all targets together")
	fs.BoolVar(&o.Verbose, "verbose", o.Verbose, "also print a line per healthy target")
	o.CheckFlags.Register(fs)
	return fs
}

// run checks every target and returns nil when all pass, else one error
// joined from one per failed target ("target: reason"); cli.Report
// prints it and maps it to the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o := options{Timeout: defaultTimeout}
	if err := cli.ParseEnv(&o, "PROBE_", cli.Environ(os.Environ())); err != nil {
		return err
	}
	args, err := cli.ParseCommand(o.flagSet(), args, stdout, cli.Usage{Name: "probe", Synopsis: synopsis, EnvPrefix: "PROBE_", Version: version})
	if err != nil {
		return err
	}
	targets, checkers, err := o.validate(args)
	if err != nil {
		return err
	}

	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	var failed []error
	for i, err := range runChecks(ctx, checkers) {
		switch {
		case err != nil:
			failed = append(failed, fmt.Errorf("%s: %w", oneline.Clip(targets[i].String(), maxTargetLen), err))
		case o.Verbose:
			fmt.Fprintf(stdout, "probe: %s: ok\n", targets[i])
		}
	}
	return errors.Join(failed...)
}

// validate is probe's one check of its options and arguments: it parses
// every target once and builds its check, before any network traffic.
// Its errors are usage or configuration errors (exit 2).
func (o *options) validate(args []string) ([]check.Target, []check.Checker, error) {
	if len(args) == 0 {
		return nil, nil, cli.Usagef("no target; want e.g. probe http://127.0.0.1:8080/healthz")
	}
	if o.Timeout <= 0 {
		return nil, nil, cli.Usagef("--timeout must be positive, e.g. 800ms")
	}
	copts, err := o.CheckFlags.Options()
	if err != nil {
		return nil, nil, err
	}
	targets := make([]check.Target, len(args))
	schemes := make([]check.Scheme, len(args))
	for i, a := range args {
		if targets[i], err = check.ParseTarget(a); err != nil {
			return nil, nil, err
		}
		schemes[i] = targets[i].Scheme
	}
	if err := check.Unused(copts, schemes...); err != nil {
		return nil, nil, err
	}
	checkers := make([]check.Checker, len(targets))
	for i, t := range targets {
		if checkers[i], err = check.NewFor(t, copts); err != nil {
			return nil, nil, err
		}
	}
	return targets, checkers, nil
}

// straggle is how long after the deadline runChecks still waits for a
// check that ignores its context (os.Stat on a hung NFS mount does).
const straggle = 50 * time.Millisecond

// runChecks runs the checks concurrently and returns their errors in
// order. It returns by the context's deadline (plus straggle) whatever the
// checks do: one still running then is reported as a timeout.
func runChecks(ctx context.Context, checkers []check.Checker) []error {
	type result struct {
		i   int
		err error
	}
	results := make(chan result, len(checkers)) // buffered: stragglers never block
	for i, c := range checkers {
		go func() { results <- result{i, c.Check(ctx)} }()
	}
	errs := make([]error, len(checkers))
	for i := range errs {
		errs[i] = &check.Error{Kind: check.Unreachable, Reason: "timeout: the check did not return"}
	}
	done := ctx.Done()
	var late <-chan time.Time
	for n := 0; n < len(checkers); {
		select {
		case r := <-results:
			errs[r.i] = r.err
			n++
		case <-done:
			t := time.NewTimer(straggle)
			defer t.Stop()
			done, late = nil, t.C
		case <-late:
			return errs
		}
	}
	return errs
}
