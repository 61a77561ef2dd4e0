package load

import (
	"context"
	"errors"
	"time"
)

// Plan says how much load to send and when to stop. Whichever limit is
// reached first ends the load: Requests, Duration, the warm condition,
// or the cancellation of the context passed to Load.Run.
type Plan struct {
	// Requests is the exact number of requests to send; 0 means no
	// count limit.
	Requests uint64
	// Duration bounds the time spent sending; 0 means no time limit.
	Duration time.Duration
	// Rate is the number of requests per second; 0 means as fast as
	// Concurrency allows.
	Rate float64
	// Ramp, with a Rate, raises the rate linearly from 0 to Rate over
	// this time, then holds it.
	Ramp time.Duration
	// Concurrency bounds the requests in flight; values below 1 mean 1.
	// The engines start this many workers up front (fewer when Requests
	// is smaller), each with its own connection, so the caller bounds it:
	// warmup rejects values above 1,000.
	Concurrency int
	// Warm ends the load early once the target is warm.
	Warm Warm
}

// workers returns the number of workers the load needs: Concurrency, at
// least 1, and never more than Requests when that is set, since a worker
// beyond the number of requests would never send one.
func (p Plan) workers() int {
	n := max(p.Concurrency, 1)
	if p.Requests > 0 && p.Requests < uint64(n) {
		n = int(p.Requests)
	}
	return n
}

// Warm is the early-stop condition, evaluated on the latencies of the
// successful requests of consecutive windows.
type Warm struct {
	// P99, when positive, ends the load once the p99 of a window is at or
	// below it.
	P99 time.Duration
	// Plateau ends the load once the p99 has stopped improving: Plateau
	// windows in a row without a p99 at least 5 % better than the best
	// so far. 0 disables it.
	Plateau int
	// Window is the length of a window; 0 means 1 s. A window closes
	// only once it holds at least MinSamples successes.
	Window time.Duration
}

// MinSamples is the number of successful requests a warm window needs
// before its p99 is judged.
const MinSamples = 20

// plateauGain is the improvement of the p99 that counts as progress.
const plateauGain = 0.05

// enabled reports whether any early-stop condition is set.
func (w Warm) enabled() bool { return w.P99 > 0 || w.Plateau > 0 }

// Stop says why the load ended.
type Stop string

// Reasons for the end of the load.
const (
	// StopRequests means Plan.Requests were sent.
	StopRequests Stop = "requests"
	// StopDuration means Plan.Duration ran out.
	StopDuration Stop = "duration"
	// StopWarm means the warm condition was met.
	StopWarm Stop = "warm"
	// StopCancelled means the context was cancelled (timeout, signal).
	StopCancelled Stop = "cancelled"
)

// Summary is the outcome of a load.
type Summary struct {
	// Requests is the number of requests that completed, successfully or
	// not. Requests cut short by the cancellation of the context are not
	// counted.
	Requests uint64
	// Successes is the number of requests answered with a 2xx/3xx status
	// (HTTP) or OK (gRPC).
	Successes uint64
	// Codes counts the answers by status: "200", "503" for HTTP, "OK",
	// "Unavailable" for gRPC.
	Codes map[string]uint64
	// Errors counts the requests that got no answer, by kind: ErrRefused,
	// ErrTimeout, ErrReset, ErrEOF, ErrTLS, ErrDNS, or else the error
	// text, shortened and without local addresses; at most MaxErrorKinds
	// kinds, the rest under "other".
	Errors map[string]uint64
	// P50, P90, P99 and Max are latencies of the successful requests.
	P50, P90, P99, Max time.Duration
	// Duration is the time from the first request sent to the last
	// answer.
	Duration time.Duration
	// Rate is the achieved rate, Requests per second of Duration.
	Rate float64
	// Stop says why the load ended.
	Stop Stop
	// WarmP99 is the p99 of the last warm window judged, if any.
	WarmP99 time.Duration
	// Windows is the number of warm windows judged.
	Windows int
}

// SuccessRatio returns Successes/Requests, and 0 when no request
// completed.
func (s Summary) SuccessRatio() float64 {
	if s.Requests == 0 {
		return 0
	}
	return float64(s.Successes) / float64(s.Requests)
}

// pacing returns the context the pacer runs under: ctx, ended after
// plan.Duration when one is set, and by the returned cancel func.
func (p Plan) pacing(ctx context.Context) (context.Context, context.CancelFunc) {
	if p.Duration > 0 {
		return context.WithTimeout(ctx, p.Duration)
	}
	return context.WithCancel(ctx)
}

// stopReason tells why a load ended, from its contexts.
func stopReason(ctx, pctx context.Context, warm bool) Stop {
	switch {
	case ctx.Err() != nil:
		return StopCancelled
	case warm:
		return StopWarm
	case errors.Is(pctx.Err(), context.DeadlineExceeded):
		return StopDuration
	}
	return StopRequests
}
