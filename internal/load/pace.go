package load

import (
	"context"
	"math"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// pacer is a vegeta.Pacer that also enforces the count limit and stops
// promptly: it does its waiting itself, on a timer it abandons when ctx
// ends, so that a slow rate never holds up a cancellation (vegeta's own
// loop sleeps without looking at anything). The gRPC engine asks it too.
type pacer struct {
	ctx   context.Context
	limit uint64        // 0: no count limit
	rate  float64       // per second; 0: unlimited
	ramp  time.Duration // linear ramp from 0 to rate
	clock clock
}

var _ vegeta.Pacer = (*pacer)(nil)

// clock is how a pacer waits for the next hit. The real one waits on a
// timer; a test's records when each hit is due and waits for nothing.
type clock interface {
	// waitUntil waits until due, a time since the load began, of which
	// elapsed has passed; it returns false when ctx ends first.
	waitUntil(ctx context.Context, elapsed, due time.Duration) bool
}

// newPacer returns the pacer of plan under ctx; c nil means the real
// clock.
func newPacer(ctx context.Context, p Plan, c clock) *pacer {
	if c == nil {
		c = &timerClock{}
	}
	pc := &pacer{ctx: ctx, limit: p.Requests, rate: p.Rate, clock: c}
	if p.Rate > 0 {
		pc.ramp = p.Ramp
	}
	return pc
}

// Pace waits until the next hit is due and returns (0, false), or
// returns (0, true) once the count is reached or ctx has ended.
func (p *pacer) Pace(elapsed time.Duration, hits uint64) (time.Duration, bool) {
	if p.limit > 0 && hits >= p.limit {
		return 0, true
	}
	if p.ctx.Err() != nil {
		return 0, true
	}
	if p.rate <= 0 {
		return 0, false
	}
	return 0, !p.clock.waitUntil(p.ctx, elapsed, p.due(hits+1))
}

// due returns the time at which the n-th hit is due: n/rate without a
// ramp; with a ramp of length D the hits due by time t are
// rate·t²/(2D) during the ramp and rate·(t − D/2) after it.
func (p *pacer) due(n uint64) time.Duration {
	h := float64(n)
	d := p.ramp.Seconds()
	var t float64
	switch {
	case d <= 0:
		t = h / p.rate
	case h <= p.rate*d/2:
		t = math.Sqrt(2 * d * h / p.rate)
	default:
		t = h/p.rate + d/2
	}
	return time.Duration(t * float64(time.Second))
}

// Rate returns the instantaneous rate at elapsed; 0 means unlimited.
func (p *pacer) Rate(elapsed time.Duration) float64 {
	if p.ramp > 0 && elapsed < p.ramp {
		return p.rate * elapsed.Seconds() / p.ramp.Seconds()
	}
	return p.rate
}

// timerClock waits on one timer, reused from hit to hit.
type timerClock struct {
	timer *time.Timer
}

func (c *timerClock) waitUntil(ctx context.Context, elapsed, due time.Duration) bool {
	wait := due - elapsed
	if wait <= 0 {
		return true
	}
	if c.timer == nil {
		c.timer = time.NewTimer(wait)
	} else {
		c.timer.Reset(wait)
	}
	select {
	case <-c.timer.C:
		return true
	case <-ctx.Done():
		c.timer.Stop()
		return false
	}
}
