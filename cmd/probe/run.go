package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/podlife/podlife/internal/check"
	"github.com/podlife/podlife/internal/cli"
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
	cli.CheckFlags
}

// defaultTimeout stays below Kubernetes' default timeoutSeconds (1 s),
// leaving room for the exec itself.
const defaultTimeout = 800 * time.Millisecond

// flagSet defines probe's flags on o, with o's values as defaults.
func (o *options) flagSet() *flag.FlagSet {
	fs := flag.NewFlagSet("probe", flag.ContinueOnError)
	fs.DurationVar(&o.Timeout, "timeout", o.Timeout, "bound on the whole call, all targets together")
	fs.BoolVar(&o.Verbose, "verbose", o.Verbose, "also print a line per healthy target")
	fs.BoolVar(&o.H2C, "h2c", o.H2C, "speak cleartext HTTP/2 (prior knowledge) to http:// targets")
	o.CheckFlags.Register(fs)
	return fs
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o := options{Timeout: defaultTimeout}
	if err := cli.ParseEnv(&o, "PROBE_", cli.Environ(os.Environ())); err != nil {
		return err
	}
	fs := o.flagSet()
	targets, err := cli.ParseCommand(fs, args, stdout, cli.Usage{Name: "probe", Synopsis: synopsis, EnvPrefix: "PROBE_", Version: version})
	if err != nil {
		return err
	}
	if len(targets) == 0 {
		return cli.Usagef("no target; want e.g. probe http://127.0.0.1:8080/healthz")
	}
	if o.Timeout <= 0 {
		return cli.Usagef("--timeout must be positive, e.g. 800ms")
	}
	copts, err := o.CheckFlags.Options()
	if err != nil {
		return err
	}
	copts.H2C = o.H2C
	parsed := make([]check.Target, len(targets))
	schemes := make([]string, len(targets))
	for i, t := range targets {
		if parsed[i], err = check.ParseTarget(t); err != nil {
			return err
		}
		schemes[i] = parsed[i].Scheme
	}
	if err := check.Unused(copts, schemes...); err != nil {
		return err
	}
	checkers := make([]check.Checker, len(parsed))
	warnings := make([]string, len(parsed)) // read only for checks that returned
	for i, t := range parsed {
		o := copts
		o.Warn = func(_, msg string) { warnings[i] = msg }
		if checkers[i], err = check.NewFor(t, o); err != nil {
			return err
		}
	}

	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	errs := runChecks(ctx, checkers)

	code := cli.ExitOK
	for i, err := range errs {
		switch {
		case err == nil && warnings[i] != "":
			fmt.Fprintf(stderr, "probe: %s: warning: %s\n", cli.OneLine(clip(checkers[i].Target())), warnings[i])
		case err == nil:
			if o.Verbose {
				fmt.Fprintf(stdout, "probe: %s: ok\n", checkers[i].Target())
			}
		default:
			fmt.Fprintf(stderr, "probe: %s\n", cli.OneLine(clip(checkers[i].Target())+": "+err.Error()))
			// Unreachable (3) outranks unhealthy (1): it says more
			// about what to look at first.
			if c := cli.ExitCode(err); c > code {
				code = c
			}
		}
	}
	if code != cli.ExitOK {
		return &cli.ExitError{Code: code}
	}
	return nil
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

// clip shortens a target for the failure line: kubelet keeps 10 KiB of a
// probe's output, and one long URL must not push the others out.
func clip(s string) string {
	const max = 200
	if len(s) > max {
		return s[:max] + "…"
	}
	return s
}
