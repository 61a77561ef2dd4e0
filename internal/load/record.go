package load

import (
	"strconv"
	"time"

	"google.golang.org/grpc/codes"
)

// MaxErrorKinds bounds the number of kinds of errors a Summary keeps;
// further kinds are counted under "other".
const MaxErrorKinds = 16

// maxErrorLen bounds the length of an error text kept in a Summary.
const maxErrorLen = 200

// numCodes covers HTTP statuses 100-599 and gRPC codes 0-16.
const numCodes = 600

// recorder sums results up in constant memory: counters, an array of
// status counts, a bounded map of error texts and two histograms (the
// whole load and the current warm window). It is not safe for concurrent
// use.
type recorder struct {
	grpc      bool // name codes as gRPC codes
	requests  uint64
	successes uint64
	codes     [numCodes]uint64
	errors    map[string]uint64
	hist      Histogram

	warm     Warm
	winStart time.Time
	win      Histogram
	best     time.Duration
	flat     int
	windows  int
	lastP99  time.Duration
}

func newRecorder(warm Warm, grpc bool) *recorder {
	if warm.Window <= 0 {
		warm.Window = time.Second
	}
	return &recorder{grpc: grpc, warm: warm, errors: map[string]uint64{}}
}

// record adds one completed request that started at start and took
// latency. code is the HTTP status or gRPC code when there was an
// answer, and -1 when there was none; errText then says why. ok marks
// success. It reports whether the warm condition has just been met.
func (r *recorder) record(start time.Time, latency time.Duration, code int, ok bool, errText string) bool {
	r.requests++
	switch {
	case code >= 0 && code < numCodes:
		r.codes[code]++
	case errText != "":
		r.addError(errText)
	default:
		r.addError("unknown error")
	}
	if !ok {
		return false
	}
	r.successes++
	r.hist.Record(latency)
	return r.judge(start.Add(latency), latency)
}

func (r *recorder) addError(text string) {
	text = errorKind(text)
	if _, seen := r.errors[text]; !seen && len(r.errors) >= MaxErrorKinds {
		text = "other"
	}
	r.errors[text]++
}

// judge adds a success that ended at end to the warm windows and
// reports whether the target is warm. A window covers [start,
// start+Window); the first success past it closes it, if it holds at
// least MinSamples, and opens the next.
func (r *recorder) judge(end time.Time, latency time.Duration) bool {
	if !r.warm.enabled() {
		return false
	}
	if r.winStart.IsZero() {
		r.winStart = end
	}
	if end.Sub(r.winStart) < r.warm.Window || r.win.Count() < MinSamples {
		r.win.Record(latency)
		return false
	}
	p99 := r.win.Quantile(0.99)
	r.win.Reset()
	r.win.Record(latency)
	r.winStart = end
	r.windows++
	r.lastP99 = p99
	if r.warm.P99 > 0 && p99 <= r.warm.P99 {
		return true
	}
	if r.warm.Plateau > 0 {
		if r.best == 0 || float64(p99) < float64(r.best)*(1-plateauGain) {
			r.best, r.flat = p99, 0
		} else {
			r.flat++
			r.best = min(r.best, p99)
		}
		return r.flat >= r.warm.Plateau
	}
	return false
}

// summary returns the Summary so far; elapsed is the wall time of the
// load.
func (r *recorder) summary(stop Stop, elapsed time.Duration) Summary {
	s := Summary{
		Requests:  r.requests,
		Successes: r.successes,
		Codes:     map[string]uint64{},
		Errors:    r.errors,
		P50:       r.hist.Quantile(0.50),
		P90:       r.hist.Quantile(0.90),
		P99:       r.hist.Quantile(0.99),
		Max:       r.hist.Max(),
		Stop:      stop,
		WarmP99:   r.lastP99,
		Windows:   r.windows,
	}
	for c, n := range r.codes {
		if n == 0 {
			continue
		}
		name := strconv.Itoa(c)
		if r.grpc {
			name = codes.Code(c).String()
		}
		s.Codes[name] = n
	}
	s.Duration = elapsed
	if s.Duration > 0 {
		s.Rate = float64(r.requests) / s.Duration.Seconds()
	}
	return s
}
