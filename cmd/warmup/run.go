package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"time"

	"github.com/rs/zerolog"

	"github.com/podlife/podlife/internal/check"
	"github.com/podlife/podlife/internal/cli"
	"github.com/podlife/podlife/internal/load"
	"github.com/podlife/podlife/internal/oneline"
	"github.com/podlife/podlife/internal/wait"
)

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := command{environ: cli.Environ(os.Environ()), pid1: cli.PID1Stdout}
	tuneGC(c.environ)
	return redactError(c.run(ctx, args, stdout, stderr))
}

// GC settings of the warmup process, unless GOGC or GOMEMLIMIT say
// otherwise. The load turns over a few KiB of garbage per request while
// its live heap stays near 1 MiB, so the default GOGC=100 (a 4 MiB heap
// goal) collects every few hundred requests; measured on bench/warmup,
// that costs up to a third of the wall time. GOGC=400 collects 4× less
// often, and the soft limit keeps the heap, and with it the RSS, bounded
// (about 26 MB at 1,000,000 requests).
const (
	gcPercent   = 400
	memoryLimit = 16 << 20
)

// tuneGC applies the GC settings above where the environment has none.
func tuneGC(environ map[string]string) {
	if environ["GOGC"] == "" {
		debug.SetGCPercent(gcPercent)
	}
	if environ["GOMEMLIMIT"] == "" {
		debug.SetMemoryLimit(memoryLimit)
	}
}

// command is warmup with what it takes from the process, so that tests
// can replace it.
type command struct {
	environ map[string]string
	pid1    string
}

// errTimeout is the cause of the end of a run that reached --timeout.
var errTimeout = errors.New("--timeout reached")

// run is flags → options → the warm-up: parse, then wait (package
// wait) and load (package load), and sum up.
func (c command) run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := c.parse(args, stdout)
	if err != nil {
		return err
	}
	o := cfg.o
	out, closeOut := c.output(stdout, o.LogToPID1)
	defer closeOut()
	w := &warmup{cfg: cfg, stderr: stderr, log: newLogger(out), began: time.Now()}
	if out.pid1Err != nil {
		w.log.Warn().Str("phase", "start").Err(out.pid1Err).Msg("cannot write to PID 1's stdout; logging to stdout only")
	}
	rctx, cancel := context.WithTimeoutCause(ctx, o.Timeout, errTimeout)
	defer cancel()
	err = w.run(ctx, rctx)
	if o.Stay && err == nil && ctx.Err() == nil {
		w.stay(ctx)
	}
	return err
}

// parse reads the environment, then the flags (which win), and
// validates them into a config; --help and --version print to stdout.
func (c command) parse(args []string, stdout io.Writer) (*config, error) {
	o := defaultOptions()
	if err := cli.ParseEnv(&o, "WARMUP_", c.environ); err != nil {
		return nil, err
	}
	fs := flag.NewFlagSet("warmup", flag.ContinueOnError)
	o.register(fs)
	targets, err := cli.ParseCommand(fs, args, stdout, cli.Usage{Name: "warmup", Synopsis: synopsis, EnvPrefix: "WARMUP_", Version: version})
	if err != nil {
		return nil, err
	}
	return o.validate(targets)
}

// stay keeps a finished warm-up running until ctx ends (SIGTERM or
// SIGINT), for --stay: a sidecar that exits is restarted, which would
// send the load again, and a terminated one is not Ready. A --strict
// failure does not stay: it exits 1, and the restart retries.
func (w *warmup) stay(ctx context.Context) {
	debug.FreeOSMemory() // the load's heap is garbage now
	w.log.Info().Str("phase", "stay").Msg("warm-up done; staying until SIGTERM")
	<-ctx.Done()
	w.log.Info().Str("phase", "stay").Msg("signal received; exiting")
}

// warmup is one run: wait, load, summary.
type warmup struct {
	cfg    *config
	log    zerolog.Logger
	stderr io.Writer
	began  time.Time
}

// outcome is what a run did, for the summary and the exit code.
type outcome struct {
	waitFailed bool
	loadFailed string // why the load could not run, if it could not
	sum        load.Summary
	stop       string
}

// run carries the run out; ctx is the process's (cancelled by a
// signal), rctx the run's (also bounded by --timeout).
func (w *warmup) run(ctx, rctx context.Context) error {
	o := w.cfg.o
	w.log.Info().Str("phase", "start").Strs("wait", w.cfg.waitNames()).Strs("targets", w.cfg.load.Targets()).
		Uint64("requests", w.cfg.plan.Requests).Float64("duration_s", w.cfg.plan.Duration.Seconds()).
		Float64("rate", o.Rate).Int("concurrency", o.Concurrency).Bool("strict", o.Strict).
		Msg("warmup starting")
	var res outcome
	if !w.wait(ctx, rctx, &res) {
		return w.finish(ctx, rctx, res)
	}
	w.log.Info().Str("phase", "load").Strs("targets", w.cfg.load.Targets()).Msg("load starting")
	sum, err := w.cfg.load.Run(rctx, w.cfg.plan)
	var ce *check.ConfigError
	switch {
	case errors.As(err, &ce):
		return err // a gRPC method the server does not have: exit 2
	case err != nil:
		res.loadFailed = err.Error()
		res.stop = stopCause(ctx, rctx)
		if res.stop == "" {
			res.stop = "unreachable"
		}
		w.log.Error().Str("phase", "load").Str("stop", res.stop).Err(err).Msg("the load could not start; no load sent")
		return w.finish(ctx, rctx, res)
	}
	res.sum = sum
	res.stop = string(sum.Stop)
	return w.finish(ctx, rctx, res)
}

// wait runs the wait phase and reports whether the load may start.
func (w *warmup) wait(ctx, rctx context.Context, res *outcome) bool {
	if len(w.cfg.waits) == 0 {
		return true
	}
	o := w.cfg.o
	wctx := rctx
	if o.WaitTimeout > 0 {
		var cancel context.CancelFunc
		wctx, cancel = context.WithTimeout(rctx, o.WaitTimeout)
		defer cancel()
	}
	w.log.Info().Str("phase", "wait").Strs("wait", w.cfg.waitNames()).Msg("waiting")
	start := time.Now()
	err := wait.For(wctx, w.cfg.waits, wait.Options{
		Interval:       o.WaitInterval,
		AttemptTimeout: o.RequestTimeout,
		OnChange: func(target string, err error) {
			e := w.log.Info().Str("phase", "wait").Str("target", target)
			if err == nil {
				e.Str("state", "ready").Msg("wait target ready")
				return
			}
			e.Str("state", check.KindOf(err).String()).Str("reason", err.Error()).Msg("wait target not ready")
		},
	})
	if err == nil {
		w.log.Info().Str("phase", "wait").Float64("elapsed_ms", ms(time.Since(start))).Msg("wait done")
		return true
	}
	res.waitFailed = true
	res.stop = stopCause(ctx, rctx)
	if res.stop == "" {
		res.stop = "wait-timeout"
	}
	w.log.Error().Str("phase", "wait").Str("stop", res.stop).Float64("elapsed_ms", ms(time.Since(start))).
		Str("pending", err.Error()).Msg("wait failed; no load sent")
	return false
}

// stopCause names why ctx or rctx ended: "signal", "timeout", or "" when
// neither has.
func stopCause(ctx, rctx context.Context) string {
	switch {
	case ctx.Err() != nil:
		return "signal"
	case rctx.Err() != nil:
		return "timeout"
	}
	return ""
}

// finish prints the summary, writes the ready file and picks the exit.
func (w *warmup) finish(ctx, rctx context.Context, res outcome) error {
	o := w.cfg.o
	if res.sum.Stop == load.StopCancelled {
		res.stop = stopCause(ctx, rctx)
	}
	ratio := res.sum.SuccessRatio()
	var problem string
	switch {
	case res.waitFailed:
		problem = "the wait did not succeed"
	case res.loadFailed != "":
		problem = "the load could not run"
	case res.sum.Requests == 0:
		problem = "no request completed"
	case ratio < o.MinSuccess:
		problem = fmt.Sprintf("success ratio %.4f is below --min-success %.4g", ratio, o.MinSuccess)
	}
	ev := w.log.Info()
	if problem != "" {
		ev = w.log.Warn().Str("problem", problem)
	}
	elapsed := time.Since(w.began)
	summaryEvent(ev, res, elapsed).Bool("ok", problem == "").Msg("warm-up done")

	interrupted := ctx.Err() != nil
	failed := problem != "" && o.Strict
	if o.ReadyFile != "" && !interrupted && !failed {
		if err := writeReadyFile(o.ReadyFile, res, problem, elapsed); err != nil {
			w.log.Error().Str("phase", "summary").Err(err).Msg("cannot write --ready-file")
			if o.Strict {
				failed = true
				problem = "cannot write --ready-file: " + oneline.PathError(err)
			}
		}
	}
	if failed {
		return cli.WithCode(cli.ExitUnhealthy, errors.New(problem+" (--strict)"))
	}
	return nil
}

func ms(d time.Duration) float64 {
	return float64(d.Round(time.Microsecond)) / float64(time.Millisecond)
}
