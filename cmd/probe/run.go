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
	H2C     bool          `env:"H2C"`
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
	fs.BoolVar(&o.H2C, "h2c", o.H2C, "speak cleartext HTTP/2 (prior knowledge) to http:// targets")
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
	probes, err := o.validate(args)
	if err != nil {
		return err
	}
	checkers := make([]check.Checker, len(probes))
	for i := range probes {
		checkers[i] = probes[i].checker
	}

	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	var failed []error
	for i, err := range runChecks(ctx, checkers) {
		p := &probes[i]
		switch {
		case err != nil:
			failed = append(failed, fmt.Errorf("%s: %w", oneline.Clip(p.target.String(), maxTargetLen), err))
		case p.warning != "":
			// A pass with a warning (a redirect to another host, not
			// followed, as kubelet does): say so, exit 0.
			fmt.Fprintf(stderr, "probe: %s: warning: %s\n", oneline.Clip(p.target.String(), maxTargetLen), p.warning)
		case o.Verbose:
			fmt.Fprintf(stdout, "probe: %s: ok\n", p.target)
		}
	}
	return errors.Join(failed...)
}

// target is one parsed TARGET argument with its check, and the warning
// the check reported, if any (read only after the check returned).
type target struct {
	target  check.Target
	checker check.Checker
	warning string
}

// validate is probe's one check of its options and arguments: it parses
// every target once and builds its check, before any network traffic.
// Its errors are usage or configuration errors (exit 2).
func (o *options) validate(args []string) ([]target, error) {
	if len(args) == 0 {
		return nil, cli.Usagef("no target; want e.g. probe http://127.0.0.1:8080/healthz")
	}
	if o.Timeout <= 0 {
		return nil, cli.Usagef("--timeout must be positive, e.g. 800ms")
	}
	copts, err := o.CheckFlags.Options()
	if err != nil {
		return nil, err
	}
	copts.H2C = o.H2C
	targets := make([]target, len(args))
	schemes := make([]check.Scheme, len(args))
	for i, a := range args {
		if targets[i].target, err = check.ParseTarget(a); err != nil {
			return nil, err
		}
		schemes[i] = targets[i].target.Scheme
	}
	if err := check.Unused(copts, schemes...); err != nil {
		return nil, err
	}
	for i := range targets {
		t := &targets[i]
		topts := copts
		topts.Warn = func(_, msg string) { t.warning = msg }
		if t.checker, err = check.NewFor(t.target, topts); err != nil {
			return nil, err
		}
	}
	return targets, nil
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
