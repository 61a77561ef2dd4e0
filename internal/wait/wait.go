// Package wait is warmup's wait phase: it polls health checks
// (internal/check) with backoff until each has passed once, and reports
// each target's changes of state, not each attempt.
package wait

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/podlife/podlife/internal/check"
)

// Options configures For.
type Options struct {
	// Interval is the longest pause between two attempts on a target;
	// the first pauses are shorter (FirstInterval, doubling). 0 means
	// 1 s.
	Interval time.Duration
	// AttemptTimeout bounds each attempt; 0 means DefaultAttemptTimeout.
	AttemptTimeout time.Duration
	// OnChange, when set, is called on the first result of each target
	// and on each change of its state, which is the check.Kind of the
	// result (healthy, unhealthy, unreachable), not its reason text: err
	// is nil once the target passes, else the *check.Error of the
	// attempt. Calls for different targets may be concurrent.
	OnChange func(target string, err error)
}

// FirstInterval is the pause after the first failed attempt; it doubles
// on each further failure up to Options.Interval.
const FirstInterval = 50 * time.Millisecond

// DefaultAttemptTimeout bounds an attempt when Options.AttemptTimeout is
// 0.
const DefaultAttemptTimeout = 10 * time.Second

// Checks builds the check of each wait target: a plain request (no
// method, header or body: those are the load's) with the options of o
// that fit its scheme: TLS for https and grpcs, UnixSocket for http(s)
// and grpc(s), HTTPPath for unix, MaxAge for file; Status, Authority and
// UseProxy for all. Its errors are *check.ConfigError values.
func Checks(targets []check.Target, o check.Options) ([]check.Checker, error) {
	var checks []check.Checker
	for _, t := range targets {
		wo := check.Options{Status: o.Status, Authority: o.Authority, UseProxy: o.UseProxy}
		if t.Scheme.TLS() {
			wo.TLS = o.TLS
		}
		switch {
		case t.Scheme.HTTP() || t.Scheme.GRPC():
			wo.UnixSocket = o.UnixSocket
		case t.Scheme == check.SchemeUnix:
			wo.HTTPPath = o.HTTPPath
		case t.Scheme == check.SchemeFile:
			wo.MaxAge = o.MaxAge
		}
		c, err := check.NewFor(t, wo)
		if err != nil {
			return nil, err
		}
		checks = append(checks, c)
	}
	return checks, nil
}

// For polls every check until each has passed once, with backoff, all
// targets concurrently. It returns nil when all have passed, and when ctx
// ends first an error naming each target still failing and its last
// reason.
func For(ctx context.Context, checks []check.Checker, o Options) error {
	if o.Interval <= 0 {
		o.Interval = time.Second
	}
	if o.AttemptTimeout <= 0 {
		o.AttemptTimeout = DefaultAttemptTimeout
	}
	errs := make([]error, len(checks))
	var wg sync.WaitGroup
	for i, c := range checks {
		wg.Go(func() { errs[i] = waitOne(ctx, c, o) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// waitOne polls one check until it passes or ctx ends.
func waitOne(ctx context.Context, c check.Checker, o Options) error {
	pause := min(FirstInterval, o.Interval)
	var last error
	var lastState check.Kind
	first := true
	timer := time.NewTimer(0)
	<-timer.C
	defer timer.Stop()
	for {
		actx, cancel := context.WithTimeout(ctx, o.AttemptTimeout)
		err := c.Check(actx)
		cancel()
		if ctx.Err() != nil {
			// The attempt was cut short by the end of the wait: keep
			// the last real answer.
			if last == nil {
				last = errors.New("no answer yet")
			}
			return fmt.Errorf("%s: %w", c.Target(), last)
		}
		// The state is the kind, never the reason: a reason can change
		// on every attempt (a stale file's age) while the state holds.
		state := check.KindOf(err)
		if (first || state != lastState) && o.OnChange != nil {
			o.OnChange(c.Target(), err)
		}
		first, last, lastState = false, err, state
		if err == nil {
			return nil
		}
		timer.Reset(pause)
		select {
		case <-timer.C:
		case <-ctx.Done():
			return fmt.Errorf("%s: %w", c.Target(), last)
		}
		pause = min(2*pause, o.Interval)
	}
}
