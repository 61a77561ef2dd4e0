package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"syscall"
	"time"

	"github.com/podlife/podlife/internal/check"
	"github.com/podlife/podlife/internal/cli"
	"github.com/podlife/podlife/internal/cli/checkflag"
)

const synopsis = `
usage: prestop [--notify URL] [--sleep D] [--until-idle URL [--max D]]

The preStop hook. In order, each step optional:
  --notify URL      POST URL (a podlife service's /drainz): readiness fails at once,
                    the app keeps serving
  --sleep D         keep the container alive for D while the endpoint leaves
                    kube-proxy, ingress and cloud load balancers
  --until-idle URL  poll GET URL (/drainz) until it reports "inflight":0, for at most --max
Then it returns, and kubelet sends SIGTERM. Its whole time, at most
--timeout (of --notify) + --sleep + --max, counts against
terminationGracePeriodSeconds. A failed --notify is reported, and the sleep still
happens: the sleep is what keeps requests from being dropped.

Exit codes: 0 done, 1 not idle within --max or notify refused, 2 usage error,
3 notify or idle URL unreachable.`

// options are prestop's flags; every one is also a PRESTOP_ variable.
type options struct {
	Sleep     time.Duration `env:"SLEEP"`
	Notify    string        `env:"NOTIFY"`
	UntilIdle string        `env:"UNTIL_IDLE"`
	Max       time.Duration `env:"MAX"`
	Interval  time.Duration `env:"INTERVAL"`
	Timeout   time.Duration `env:"TIMEOUT"`
	LogToPID1 bool          `env:"LOG_TO_PID1"`
	checkflag.ConnFlags
}

// Defaults: --max bounds the idle wait well inside the default 30 s grace
// period; each request gets --timeout.
const (
	defaultMax      = 20 * time.Second
	defaultInterval = 250 * time.Millisecond
	defaultTimeout  = 2 * time.Second
)

// idleRE matches the /drainz document when nothing is in flight.
const idleRE = `"inflight":\s*0\s*[,}]`

func (o *options) flagSet() *flag.FlagSet {
	fs := flag.NewFlagSet("prestop", flag.ContinueOnError)
	fs.DurationVar(&o.Sleep, "sleep", o.Sleep, "keep the container alive this long (after --notify, before --until-idle)")
	fs.StringVar(&o.Notify, "notify", o.Notify, "POST this `URL` first (a podlife service's /drainz)")
	fs.StringVar(&o.UntilIdle, "until-idle", o.UntilIdle, "then poll this `URL` (/drainz) until it reports \"inflight\":0")
	fs.DurationVar(&o.Max, "max", o.Max, "bound on the --until-idle wait")
	fs.DurationVar(&o.Interval, "interval", o.Interval, "poll interval of --until-idle")
	fs.DurationVar(&o.Timeout, "timeout", o.Timeout, "bound on each request")
	fs.BoolVar(&o.LogToPID1, "log-to-pid1", o.LogToPID1, "also write progress to /proc/1/fd/1, so that it shows in kubectl logs")
	o.ConnFlags.RegisterHTTP(fs)
	return fs
}

// run runs the preStop sequence and returns nil when it is done, else one
// error joined from the failed steps; cli.Report prints it and maps it to
// the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o := options{Max: defaultMax, Interval: defaultInterval, Timeout: defaultTimeout}
	environ := cli.Environ(os.Environ())
	if err := cli.ParseEnv(&o, "PRESTOP_", environ); err != nil {
		return err
	}
	fs := o.flagSet()
	rest, err := cli.ParseCommand(fs, args, stdout, cli.Usage{Name: "prestop", Synopsis: synopsis, EnvPrefix: "PRESTOP_", Version: version})
	if err != nil {
		return err
	}
	p, err := o.validate(rest, cli.Given(fs, "PRESTOP_", environ))
	if err != nil {
		return err
	}
	out := stdout
	if o.LogToPID1 {
		w, closeFn, err := cli.Tee(stdout, cli.PID1Stdout)
		defer closeFn()
		if err != nil {
			fmt.Fprintf(stderr, "prestop: --log-to-pid1: %v (carrying on)\n", err)
		}
		out = w
	}
	return p.run(ctx, out)
}

// plan is a validated prestop sequence.
type plan struct {
	o            options
	notifyTarget check.Target
	idleTarget   check.Target
	notify       check.Checker // nil: no --notify
	idle         check.Checker // nil: no --until-idle
}

// validate is prestop's one check of its options: given says how each
// option was given ("" = left at its default), so that --max and
// --interval without --until-idle are refused even when set to their
// default values, and messages name the flag or variable the user wrote.
func (o *options) validate(rest []string, given func(name string) string) (*plan, error) {
	if len(rest) > 0 {
		return nil, cli.Usagef("unexpected argument %q; prestop takes flags only, e.g. --sleep 10s", rest[0])
	}
	switch {
	case o.Sleep < 0:
		return nil, cli.Usagef("%s must not be negative", name(given, "sleep"))
	case o.Max <= 0:
		return nil, cli.Usagef("%s must be positive, e.g. 20s", name(given, "max"))
	case o.Interval <= 0:
		return nil, cli.Usagef("%s must be positive, e.g. 250ms", name(given, "interval"))
	case o.Timeout <= 0:
		return nil, cli.Usagef("%s must be positive, e.g. 2s", name(given, "timeout"))
	case o.Sleep == 0 && o.Notify == "" && o.UntilIdle == "":
		return nil, cli.Usagef("nothing to do; want --sleep D, --notify URL or --until-idle URL")
	}
	if o.UntilIdle == "" {
		for _, f := range []string{"max", "interval"} {
			if g := given(f); g != "" {
				return nil, cli.Usagef("%s requires --until-idle URL", g)
			}
		}
	}
	p := &plan{o: *o}
	base, err := o.ConnFlags.Options()
	if err != nil {
		return nil, err
	}
	var schemes []check.Scheme
	if o.Notify != "" {
		if p.notifyTarget, err = httpURL(name(given, "notify"), o.Notify); err != nil {
			return nil, err
		}
		schemes = append(schemes, p.notifyTarget.Scheme)
	}
	if o.UntilIdle != "" {
		if p.idleTarget, err = httpURL(name(given, "until-idle"), o.UntilIdle); err != nil {
			return nil, err
		}
		schemes = append(schemes, p.idleTarget.Scheme)
	}
	if err := check.Unused(base, schemes...); err != nil {
		return nil, err
	}
	base.Status, _ = check.ParseStatusSet("2xx")
	if o.Notify != "" {
		n := base
		n.Method = http.MethodPost
		if p.notify, err = check.NewFor(p.notifyTarget, n); err != nil {
			return nil, err
		}
	}
	if o.UntilIdle != "" {
		n := base
		n.BodyRegexp = regexp.MustCompile(idleRE)
		if p.idle, err = check.NewFor(p.idleTarget, n); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// name is how the option was given, or its flag when it was not.
func name(given func(string) string, flag string) string {
	if g := given(flag); g != "" {
		return g
	}
	return "--" + flag
}

// httpURL parses the URL of an option (named as given), naming it in its
// errors: prestop talks HTTP(S) only.
func httpURL(option, raw string) (check.Target, error) {
	t, err := check.ParseTarget(raw)
	if err != nil {
		return t, cli.Usagef("%s: %v", option, err)
	}
	if !t.Scheme.HTTP() {
		return t, cli.Usagef("%s: %s: want an http:// or https:// URL, e.g. http://127.0.0.1:8080/drainz", option, t)
	}
	return t, nil
}

func (p *plan) run(ctx context.Context, out io.Writer) error {
	start := time.Now()
	var failed []error
	if p.notify != nil {
		rctx, cancel := context.WithTimeout(ctx, p.o.Timeout)
		err := p.notify.Check(rctx)
		cancel()
		if err != nil {
			failed = append(failed, fmt.Errorf("--notify %s: %w", p.notifyTarget, err))
		} else {
			fmt.Fprintf(out, "prestop: notified %s\n", p.notifyTarget)
		}
	}
	if p.o.Sleep > 0 {
		fmt.Fprintf(out, "prestop: sleeping %s while endpoints propagate\n", p.o.Sleep)
		if !sleep(ctx, p.o.Sleep) {
			fmt.Fprintf(out, "prestop: interrupted after %s\n", time.Since(start).Round(time.Millisecond))
			return ctx.Err()
		}
	}
	if p.idle != nil {
		if err := p.waitIdle(ctx, out); err != nil {
			if ctx.Err() != nil {
				return err // interrupted
			}
			failed = append(failed, err)
		}
	}
	fmt.Fprintf(out, "prestop: done after %s\n", time.Since(start).Round(time.Millisecond))
	return errors.Join(failed...)
}

// waitIdle polls the idle check until it passes or --max runs out. A
// refused connection means nothing listens any more, so nothing is in
// flight: that counts as idle. Not idle by --max is the last answer's
// failure: 1 when the app answered "busy", 3 when it did not answer. A
// poll cut short by --max itself says nothing about the app: the answer
// before it decides.
func (p *plan) waitIdle(ctx context.Context, out io.Writer) error {
	begin := time.Now()
	ctx, cancel := context.WithTimeout(ctx, p.o.Max)
	defer cancel()
	var last error
	for {
		rctx, rcancel := context.WithTimeout(ctx, p.o.Timeout)
		err := p.idle.Check(rctx)
		rcancel()
		if err == nil {
			fmt.Fprintf(out, "prestop: idle after %s\n", time.Since(begin).Round(time.Millisecond))
			return nil
		}
		if isRefused(err) {
			fmt.Fprintf(out, "prestop: %s refuses connections: nothing in flight\n", p.idleTarget)
			return nil
		}
		if ctx.Err() == nil || last == nil {
			last = err
		}
		if !sleep(ctx, p.o.Interval) {
			break
		}
	}
	if ctx.Err() == context.DeadlineExceeded {
		return fmt.Errorf("--until-idle %s: not idle within --max %s: %w", p.idleTarget, p.o.Max, last)
	}
	return ctx.Err()
}

func isRefused(err error) bool { return errors.Is(err, syscall.ECONNREFUSED) }

// sleep waits for d or until ctx ends; it reports whether d elapsed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
