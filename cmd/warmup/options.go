package main

import (
	"flag"
	"strings"
	"time"

	"github.com/podlife/podlife/internal/cli"
	"github.com/podlife/podlife/internal/cli/checkflag"
)

const synopsis = `
usage: warmup [flags] [--wait TARGET]... TARGET...

Waits until every --wait TARGET passes, then sends warm-up load to the
TARGETs (round-robin) and prints a JSON summary on stdout.

Wait targets (any check probe knows):
  http://host[:port]/path, https://   2xx-3xx (or --wait-status); GET, no body
  tcp://host:port                     a TCP connect succeeds
  grpc://host:port[/service], grpcs:// grpc.health.v1.Health/Check is SERVING
  unix:///path/to.sock                a unix socket accepts (HTTP with --http-path)
  file:///path                        the file exists (modified within --max-age)
Load targets:
  http://host[:port]/path, https://   vegeta; --method --header --body(-file), --targets FILE
  grpc://host:port/pkg.Service/Method grpcurl; --data JSON, reflection or --protoset
  grpcs://...

How much: --requests N and/or --duration D (at least one), at --rate R
(0 = as fast as --concurrency allows), optionally after a --ramp; --warm-p99
or --warm-plateau end it early once warm. --timeout bounds the whole run.

Fails open: exit 0 even when the app cannot be reached or answers errors
(logged), unless --strict. With --stay, a finished warm-up keeps running
until SIGTERM or SIGINT, for a native sidecar.

Exit codes:
  0  done, including a warm-up that failed open (the summary says
     "ok":false and why)
  1  --strict only: the wait did not succeed, no request completed, the
     success ratio is below --min-success, or --ready-file could not be
     written
  2  usage or configuration error, before any network traffic`

// options are warmup's flags; every one is also a WARMUP_ variable.
type options struct {
	Wait           targetList    `env:"WAIT"`
	WaitStatus     string        `env:"WAIT_STATUS"`
	WaitTimeout    time.Duration `env:"WAIT_TIMEOUT"`
	WaitInterval   time.Duration `env:"WAIT_INTERVAL"`
	Timeout        time.Duration `env:"TIMEOUT"`
	RequestTimeout time.Duration `env:"REQUEST_TIMEOUT"`

	Requests    int64         `env:"REQUESTS"`
	Duration    time.Duration `env:"DURATION"`
	Rate        float64       `env:"RATE"`
	Ramp        time.Duration `env:"RAMP"`
	Concurrency int           `env:"CONCURRENCY"`
	WarmP99     time.Duration `env:"WARM_P99"`
	WarmPlateau int           `env:"WARM_PLATEAU"`
	WarmWindow  time.Duration `env:"WARM_WINDOW"`

	BodyFile      string   `env:"BODY_FILE"`
	Targets       string   `env:"TARGETS"`
	TargetsFormat string   `env:"TARGETS_FORMAT"`
	HTTP2         bool     `env:"HTTP2"`
	H2C           bool     `env:"H2C"`
	Data          string   `env:"DATA"`
	Protoset      []string `env:"PROTOSET" envSeparator:"\n"`

	Strict     bool    `env:"STRICT"`
	MinSuccess float64 `env:"MIN_SUCCESS"`
	LogToPID1  bool    `env:"LOG_TO_PID1"`
	ReadyFile  string  `env:"READY_FILE"`
	Stay       bool    `env:"STAY"`

	// CheckFlags holds the shared check flags; warmup registers a subset
	// (see checkFlagNames): the TLS ones apply to the wait checks and to
	// the load, --method/--header/--body to the load only.
	checkflag.CheckFlags
}

// Defaults.
const (
	defaultTimeout      = 2 * time.Minute
	defaultConcurrency  = 8
	defaultMinSuccess   = 0.95
	defaultWaitInterval = time.Second
	defaultWarmWindow   = time.Second
)

// maxConcurrency bounds --concurrency. The load engines start every worker
// up front, each with its own connection to the app, and a postStart hook
// counts against the app container's memory limit: measured on
// bench/warmup's server for 3 s, 1,000 workers peak at about 55 MB of RSS,
// 10,000 at about 320 MB. A warm-up needs far fewer; the default is 8.
// With --requests N, no more than N workers start.
const maxConcurrency = 1_000

func defaultOptions() options {
	return options{
		Timeout:       defaultTimeout,
		Concurrency:   defaultConcurrency,
		MinSuccess:    defaultMinSuccess,
		WaitInterval:  defaultWaitInterval,
		WarmWindow:    defaultWarmWindow,
		HTTP2:         true,
		TargetsFormat: "http",
	}
}

// register defines the flags on fs, with the current values (from the
// environment) as defaults.
func (o *options) register(fs *flag.FlagSet) {
	fs.Var(cli.NewList((*[]string)(&o.Wait)), "wait", "wait until `TARGET` passes before the load; repeatable (env: one per line, or separated by spaces)")
	fs.StringVar(&o.WaitStatus, "wait-status", o.WaitStatus, "HTTP statuses that pass a wait check, e.g. `200,204` or 2xx (default 200-399)")
	fs.DurationVar(&o.WaitTimeout, "wait-timeout", o.WaitTimeout, "bound on the wait phase (default: the rest of --timeout)")
	fs.DurationVar(&o.WaitInterval, "wait-interval", o.WaitInterval, "longest pause between wait attempts; the first are 50ms, doubling")
	fs.DurationVar(&o.Timeout, "timeout", o.Timeout, "bound on the whole run, wait and load")
	fs.DurationVar(&o.RequestTimeout, "request-timeout", o.RequestTimeout, "bound on one request or wait attempt (default 10s)")

	fs.Int64Var(&o.Requests, "requests", o.Requests, "send exactly `N` requests (0: no count limit)")
	fs.DurationVar(&o.Duration, "duration", o.Duration, "send load for this long (0: no time limit)")
	fs.Float64Var(&o.Rate, "rate", o.Rate, "requests per second (0: as fast as --concurrency allows)")
	fs.DurationVar(&o.Ramp, "ramp", o.Ramp, "raise the rate linearly from 0 to --rate over this time")
	fs.IntVar(&o.Concurrency, "concurrency", o.Concurrency, "requests in flight at most (1-1000)")
	fs.DurationVar(&o.WarmP99, "warm-p99", o.WarmP99, "stop early once the p99 of a --warm-window is at or below this")
	fs.IntVar(&o.WarmPlateau, "warm-plateau", o.WarmPlateau, "stop early once the p99 has not improved by 5% for `N` windows in a row")
	fs.DurationVar(&o.WarmWindow, "warm-window", o.WarmWindow, "window over which the p99 is judged for --warm-p99 and --warm-plateau")

	// The shared check flags: their help texts and bindings come from
	// checkflag.CheckFlags.Register, on a scratch set.
	// Not offered: --status, --body-contains, --body-regexp (the wait
	// checks take --wait-status; the load counts 2xx-3xx as success).
	scratch := flag.NewFlagSet("", flag.ContinueOnError)
	o.CheckFlags.Register(scratch)
	for _, name := range []string{
		"method", "header", "body",
		"ca-file", "cert-file", "key-file", "server-name", "insecure", "authority",
		"unix-socket", "http-path", "max-age", "use-proxy",
	} {
		f := scratch.Lookup(name)
		usage := f.Usage
		switch name {
		case "method":
			usage = "HTTP `method` of the load (default GET)"
		case "body":
			usage = "HTTP request `body` of the load"
		case "header":
			usage = "header of the load's requests or gRPC metadata `Name: value`; repeatable (env: one per line)"
		}
		fs.Var(f.Value, name, usage)
	}
	fs.StringVar(&o.BodyFile, "body-file", o.BodyFile, "read the HTTP request body of the load from `file`")
	fs.StringVar(&o.Targets, "targets", o.Targets, "read more HTTP load targets from `file`, in vegeta's format")
	fs.StringVar(&o.TargetsFormat, "targets-format", o.TargetsFormat, "format of --targets: `http` or json (vegeta's formats)")
	fs.BoolVar(&o.HTTP2, "http2", o.HTTP2, "negotiate HTTP/2 with https:// load targets (--http2=false: HTTP/1.1)")
	fs.BoolVar(&o.H2C, "h2c", o.H2C, "send http:// load as cleartext HTTP/2 (prior knowledge)")
	fs.StringVar(&o.Data, "data", o.Data, "gRPC request message as `JSON` (default {})")
	fs.Var(cli.NewList(&o.Protoset), "protoset", "take gRPC descriptors from this FileDescriptorSet `file` instead of server reflection; repeatable (env: one per line)")

	fs.BoolVar(&o.Strict, "strict", o.Strict, "exit 1 when the warm-up fails (see the exit codes above)")
	fs.Float64Var(&o.MinSuccess, "min-success", o.MinSuccess, "smallest success ratio (0-1) --strict accepts")
	fs.BoolVar(&o.LogToPID1, "log-to-pid1", o.LogToPID1, "also write the log to /proc/1/fd/1, so that it shows in kubectl logs")
	fs.StringVar(&o.ReadyFile, "ready-file", o.ReadyFile, "write the summary to `path` when the warm-up is done (for probe file://path)")
	fs.BoolVar(&o.Stay, "stay", o.Stay, "once the warm-up is done, keep running until SIGTERM or SIGINT, then exit 0 (for a native sidecar)")
}

// targetList is a list of targets; from the environment it is separated
// by white space, which a target never contains.
type targetList []string

// UnmarshalText splits the environment's value on white space.
func (l *targetList) UnmarshalText(b []byte) error {
	*l = strings.Fields(string(b))
	return nil
}
