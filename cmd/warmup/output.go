package main

import (
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/rs/zerolog"

	"github.com/podlife/podlife/internal/cli"
	"github.com/podlife/podlife/logging"
)

// newLogger returns warmup's logger on w. It writes the keys of package
// logging ("timestamp": RFC 3339, UTC, nanoseconds), so that with
// --log-to-pid1 warmup's lines read like those of a podlife app, and
// changes none of zerolog's globals.
func newLogger(w io.Writer) zerolog.Logger {
	return logging.New(logging.Config{Output: w}).Zerolog()
}

// output is where the log goes: stdout, and with --log-to-pid1 also PID
// 1's stdout, best effort.
type output struct {
	io.Writer
	pid1Err error // why PID 1's stdout could not be opened
}

// output opens the log's destinations; the returned func closes them.
func (c command) output(stdout io.Writer, toPID1 bool) (*output, func()) {
	if !toPID1 {
		return &output{Writer: stdout}, func() {}
	}
	w, closeFn, err := cli.Tee(stdout, c.pid1)
	return &output{Writer: w, pid1Err: err}, closeFn
}

// summaryEvent adds the summary fields to e.
func summaryEvent(e *zerolog.Event, res outcome, elapsed time.Duration) *zerolog.Event {
	s := res.sum
	e.Str("phase", "summary").
		Uint64("requests", s.Requests).
		Uint64("successes", s.Successes).
		Float64("success_ratio", round(s.SuccessRatio(), 4)).
		Dict("codes", counts(s.Codes)).
		Dict("errors", counts(s.Errors)).
		Dict("latency_ms", zerolog.Dict().
			Float64("p50", ms(s.P50)).
			Float64("p90", ms(s.P90)).
			Float64("p99", ms(s.P99)).
			Float64("max", ms(s.Max))).
		Float64("duration_ms", ms(s.Duration)).
		Float64("rate", round(s.Rate, 1)).
		Float64("elapsed_ms", ms(elapsed))
	if res.stop != "" {
		e.Str("stop", res.stop)
	}
	if s.Windows > 0 {
		e.Int("windows", s.Windows).Float64("warm_p99_ms", ms(s.WarmP99))
	}
	return e
}

// counts renders a map of counts in key order.
func counts(m map[string]uint64) *zerolog.Event {
	d := zerolog.Dict()
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		d.Uint64(k, m[k])
	}
	return d
}

func round(f float64, digits int) float64 {
	p := 1.0
	for range digits {
		p *= 10
	}
	return float64(int64(f*p+0.5)) / p
}

// writeReadyFile writes the summary as one JSON line to path, atomically
// (a temporary file renamed), so that probe file://path never sees it
// half written.
func writeReadyFile(path string, res outcome, problem string, elapsed time.Duration) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".warmup-ready-*")
	if err != nil {
		return err
	}
	l := newLogger(f)
	summaryEvent(l.Info(), res, elapsed).Str("problem", problem).Bool("ok", problem == "").Msg("warm-up done")
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return err
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		os.Remove(f.Name())
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		os.Remove(f.Name())
		return err
	}
	return nil
}
