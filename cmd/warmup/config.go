package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/podlife/podlife/internal/check"
	"github.com/podlife/podlife/internal/cli"
	"github.com/podlife/podlife/internal/load"
	"github.com/podlife/podlife/internal/oneline"
	"github.com/podlife/podlife/internal/wait"
)

// config is a validated command line, ready to run.
type config struct {
	o     options
	waits []check.Checker
	load  *load.Load
	plan  load.Plan
}

// waitNames returns the wait targets for logs, their secrets redacted.
func (c *config) waitNames() []string {
	names := make([]string, len(c.waits))
	for i, w := range c.waits {
		names[i] = w.Target()
	}
	return names
}

// validate checks the options and the targets and builds the run's
// config, before any network traffic. Each target is parsed once: the
// wait targets here, the load targets by load.New. Its errors are
// *cli.UsageError or *check.ConfigError values naming the flag or the
// target.
func (o options) validate(targets []string) (*config, error) {
	for _, unused := range []struct{ name, value, hint string }{
		{"STATUS", o.Status, "WARMUP_WAIT_STATUS"},
		{"BODY_CONTAINS", o.BodyContains, ""},
		{"BODY_REGEXP", o.BodyRegexp, ""},
	} {
		if unused.value != "" {
			msg := fmt.Sprintf("WARMUP_%s is not a warmup setting", unused.name)
			if unused.hint != "" {
				msg += "; the wait checks take " + unused.hint
			}
			return nil, cli.Usagef("%s", msg)
		}
	}
	if len(targets) == 0 && o.Targets == "" {
		return nil, cli.Usagef("no load target; want e.g. warmup --wait http://127.0.0.1:8080/healthz --requests 1000 http://127.0.0.1:8080/")
	}
	if err := o.validateNumbers(); err != nil {
		return nil, err
	}
	if o.ReadyFile != "" {
		if err := checkReadyFile(o.ReadyFile); err != nil {
			return nil, err
		}
	}
	base, err := o.CheckFlags.Options()
	if err != nil {
		return nil, err
	}
	c := &config{o: o, plan: o.plan()}
	var schemes []check.Scheme
	waitTargets := make([]check.Target, 0, len(o.Wait))
	for _, raw := range o.Wait {
		t, err := check.ParseTarget(raw)
		if err != nil {
			return nil, err
		}
		waitTargets = append(waitTargets, t)
		schemes = append(schemes, t.Scheme)
	}
	waitOpts := base
	if o.WaitStatus != "" {
		if waitOpts.Status, err = check.ParseStatusSet(o.WaitStatus); err != nil {
			return nil, &check.ConfigError{Flag: "wait-status", Msg: err.Error()}
		}
	}
	if c.waits, err = wait.Checks(waitTargets, waitOpts); err != nil {
		return nil, err
	}
	if c.load, err = load.New(o.loadOptions(targets, base)); err != nil {
		return nil, err
	}
	// A check flag no wait or load target uses is a mistake.
	if err := check.Unused(base, append(schemes, c.load.Schemes()...)...); err != nil {
		return nil, err
	}
	return c, nil
}

// loadOptions are the options of the load: the load flags, and of the
// check flags those that say how to reach the targets and what to send.
func (o options) loadOptions(targets []string, base check.Options) load.Options {
	return load.Options{
		Targets:        targets,
		TargetsFile:    o.Targets,
		TargetsFormat:  o.TargetsFormat,
		Method:         base.Method,
		Header:         base.Header,
		Body:           base.Body,
		BodyFile:       o.BodyFile,
		Data:           []byte(o.Data),
		Protosets:      o.Protoset,
		TLS:            base.TLS,
		HTTP2:          o.HTTP2,
		H2C:            o.H2C,
		Authority:      base.Authority,
		UnixSocket:     base.UnixSocket,
		UseProxy:       base.UseProxy,
		RequestTimeout: o.RequestTimeout,
	}
}

// plan is how much load the options ask for.
func (o options) plan() load.Plan {
	return load.Plan{
		Requests:    uint64(o.Requests),
		Duration:    o.Duration,
		Rate:        o.Rate,
		Ramp:        o.Ramp,
		Concurrency: o.Concurrency,
		Warm:        load.Warm{P99: o.WarmP99, Plateau: o.WarmPlateau, Window: o.WarmWindow},
	}
}

// validateNumbers checks the flags that are numbers and durations.
func (o options) validateNumbers() error {
	switch {
	case o.Timeout <= 0:
		return cli.Usagef("--timeout: must be positive, e.g. 2m")
	case o.WaitTimeout < 0:
		return cli.Usagef("--wait-timeout: must not be negative")
	case o.WaitInterval <= 0:
		return cli.Usagef("--wait-interval: must be positive, e.g. 1s")
	case o.RequestTimeout < 0:
		return cli.Usagef("--request-timeout: must not be negative")
	case o.Requests < 0:
		return cli.Usagef("--requests: must not be negative, got %d", o.Requests)
	case o.Duration < 0:
		return cli.Usagef("--duration: must not be negative, got %s", o.Duration)
	case o.Rate < 0 || o.Rate != o.Rate:
		return cli.Usagef("--rate: must be a number ≥ 0, got %v", o.Rate)
	case o.Ramp < 0:
		return cli.Usagef("--ramp: must not be negative, got %s", o.Ramp)
	case o.Ramp > 0 && o.Rate == 0:
		return cli.Usagef("--ramp: needs --rate, the rate to ramp up to")
	case o.Concurrency < 1:
		return cli.Usagef("--concurrency: must be at least 1, got %d", o.Concurrency)
	case o.Concurrency > maxConcurrency:
		return cli.Usagef("--concurrency: must be at most %d, got %d", maxConcurrency, o.Concurrency)
	case o.WarmP99 < 0:
		return cli.Usagef("--warm-p99: must not be negative")
	case o.WarmPlateau < 0:
		return cli.Usagef("--warm-plateau: must not be negative")
	case o.WarmWindow <= 0:
		return cli.Usagef("--warm-window: must be positive, e.g. 1s")
	case o.MinSuccess < 0 || o.MinSuccess > 1 || o.MinSuccess != o.MinSuccess:
		return cli.Usagef("--min-success: must lie between 0 and 1, got %v", o.MinSuccess)
	}
	if o.Requests == 0 && o.Duration == 0 {
		switch {
		case o.Rate > 0:
			return cli.Usagef("--rate: the load needs a way to stop; add --requests N or --duration D")
		case o.WarmP99 > 0 || o.WarmPlateau > 0:
			return cli.Usagef("--warm-p99/--warm-plateau stop early within a cap; add --requests N or --duration D")
		}
		return cli.Usagef("no amount of load; give --requests N and/or --duration D")
	}
	return nil
}

// checkReadyFile checks that the warm-up will be able to write its ready
// file: path is not a directory, and its directory exists and takes a new
// file (tried with a temporary one, as writeReadyFile does). A probe
// waiting for a file that is never written would keep the Pod unready.
func checkReadyFile(path string) error {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return &check.ConfigError{Flag: "ready-file", Msg: path + " is a directory"}
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".warmup-ready-*")
	if err != nil {
		return &check.ConfigError{Flag: "ready-file", Msg: "cannot write in its directory: " + oneline.PathError(err)}
	}
	f.Close()
	os.Remove(f.Name())
	return nil
}
