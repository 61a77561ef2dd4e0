package load

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/podlife/podlife/internal/check"
)

// WaitOptions configures Wait.
type WaitOptions struct {
	// Interval is the longest pause between two attempts on a target;
	// the first pauses are shorter (FirstInterval, doubling). 0 means
	// 1 s.
	Interval time.Duration
	// AttemptTimeout bounds each attempt; 0 means DefaultRequestTimeout.
	AttemptTimeout time.Duration
	// OnChange, when set, is called on the first result of each target
	// and on each change of its state: err is nil once the target
	// passes, else the *check.Error of the attempt. Calls for different
	// targets may be concurrent.
	OnChange func(target string, err error)
}

// FirstInterval is the pause after the first failed attempt; it doubles
// on each further failure up to WaitOptions.Interval.
const FirstInterval = 50 * time.Millisecond

// Wait polls every check until each has passed once, with backoff, all
// targets concurrently. It returns nil when all have passed, and when ctx
// ends first an error naming each target still failing and its last
// reason.
func Wait(ctx context.Context, checks []check.Checker, o WaitOptions) error {
	if o.Interval <= 0 {
		o.Interval = time.Second
	}
	if o.AttemptTimeout <= 0 {
		o.AttemptTimeout = DefaultRequestTimeout
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
func waitOne(ctx context.Context, c check.Checker, o WaitOptions) error {
	pause := min(FirstInterval, o.Interval)
	var last error
	var lastState string
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
		state := stateOf(err)
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

// stateOf names the state a check result puts its target in: "healthy",
// or the kind and reason of the failure.
func stateOf(err error) string {
	if err == nil {
		return "healthy"
	}
	return check.KindOf(err).String() + ": " + err.Error()
}
