package lifecycle

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/podlife/podlife/internal/envconf"
)

// envPrefix is the prefix of the variables ConfigFromEnv reads.
const envPrefix = "LIFECYCLE_"

// Config configures a Lifecycle. The zero Config is the safe one: every
// zero field takes the default given in its comment (the same as the
// environment's defaults), so New(Config{}) keeps the 5s shutdown delay.
// Turning the delay off must be explicit: a negative ShutdownDelay, or
// LIFECYCLE_SHUTDOWN_DELAY=0. ConfigFromEnv reads the fields tagged env from
// LIFECYCLE_* variables; the others can only be set from Go.
type Config struct {
	// ShutdownDelay is how long the server keeps serving after draining
	// starts (readiness already failing), so that kube-proxy, ingress
	// controllers and cloud load balancers stop routing to the Pod first.
	// It is measured from the start of draining, which a POST /drainz from a
	// preStop hook may have begun before SIGTERM. Zero means 5s; a negative
	// value means no delay (LIFECYCLE_SHUTDOWN_DELAY=0 sets it).
	ShutdownDelay time.Duration `env:"SHUTDOWN_DELAY" envDefault:"5s"`

	// DrainTimeout bounds the graceful drain of each HTTP and gRPC server
	// and of hijacked connections; the servers are drained concurrently,
	// then closed (http.Server.Close, grpc Stop) if still busy, and Run
	// returns an error saying what was cut. Zero means 15s.
	DrainTimeout time.Duration `env:"DRAIN_TIMEOUT" envDefault:"15s"`

	// HookTimeout bounds each pre-shutdown hook, each cleanup hook and the
	// stop of each worker. Zero means 5s.
	HookTimeout time.Duration `env:"HOOK_TIMEOUT" envDefault:"5s"`

	// CheckTimeout bounds each readiness check. Zero means 500ms, half of
	// kubelet's default probe timeout.
	CheckTimeout time.Duration `env:"CHECK_TIMEOUT" envDefault:"500ms"`

	// ShutdownTimeout bounds the whole shutdown, from its trigger to the
	// return of Run, whatever a handler, worker or hook does: past it Run
	// returns an error naming what still runs. Zero means
	// TerminationGracePeriod − PreStop − Margin, the time left before
	// kubelet's SIGKILL (or the sum of the steps' own bounds if that is not
	// positive).
	ShutdownTimeout time.Duration `env:"SHUTDOWN_TIMEOUT"`

	// TerminationGracePeriod is the Pod's terminationGracePeriodSeconds,
	// against which Run checks the shutdown budget. Zero means 30s, the
	// Kubernetes default.
	TerminationGracePeriod time.Duration `env:"TERMINATION_GRACE_PERIOD" envDefault:"30s"`

	// PreStop is how long the container's preStop hook takes; it counts
	// against the grace period before SIGTERM is sent. Zero means none.
	PreStop time.Duration `env:"PRESTOP" envDefault:"0s"`

	// Margin is the time left over in the budget for the process to exit.
	// Zero means 2s.
	Margin time.Duration `env:"MARGIN" envDefault:"2s"`

	// SendRetryAfter, as kube-apiserver's ShutdownSendRetryAfter, keeps the
	// listeners open after the shutdown delay until the HTTP requests in
	// flight through Middleware have drained (other tracked work — gRPC
	// calls, websockets, Track — does not hold them open), and answers new requests through Middleware with 429,
	// Retry-After: 1 and Connection: close instead of refusing connections:
	// clients that retry on 429 lose nothing, even a POST.
	SendRetryAfter bool `env:"SEND_RETRY_AFTER" envDefault:"false"`

	// IgnoreSecondSignal turns off the immediate exit on a second
	// SIGTERM/SIGINT during shutdown.
	IgnoreSecondSignal bool `env:"IGNORE_SECOND_SIGNAL" envDefault:"false"`

	// Signals, if not nil, replaces the process's SIGTERM and SIGINT: each
	// value received counts as a signal. Tests use it to stop a Lifecycle
	// without signalling the test process.
	Signals <-chan os.Signal `env:"-"`

	// Exit is called with 1 on the second signal. Nil means os.Exit. If it
	// returns, the shutdown carries on.
	Exit func(code int) `env:"-"`

	// Logger receives the shutdown steps and the budget check. Nil means
	// slog.Default().
	Logger *slog.Logger `env:"-"`

	// Registry, if not nil, is where the metrics are registered. The global
	// Prometheus registry is never used unless passed here.
	Registry prometheus.Registerer `env:"-"`

	unknownEnv []string // LIFECYCLE_* variables ConfigFromEnv did not know
}

// Defaults used for zero fields; the envDefault tags agree with them.
const (
	defaultShutdownDelay = 5 * time.Second
	defaultDrainTimeout  = 15 * time.Second
	defaultHookTimeout   = 5 * time.Second
	defaultCheckTimeout  = 500 * time.Millisecond
	defaultGracePeriod   = 30 * time.Second
	defaultMargin        = 2 * time.Second
)

// ConfigFromEnv reads a Config from the LIFECYCLE_* variables of environ,
// KEY=VALUE entries as os.Environ returns them (nil means os.Environ()),
// with the documented defaults for those unset or empty. Durations use
// time.ParseDuration syntax ("5s", "1m30s"). Every bad value is reported,
// and an explicit 0 is refused for the timeouts whose zero would mean their
// default; LIFECYCLE_SHUTDOWN_DELAY=0 turns the delay off. A LIFECYCLE_*
// variable it does not know is not an error: Run logs a warning naming it
// and the known ones.
func ConfigFromEnv(environ []string) (Config, error) {
	if environ == nil {
		environ = os.Environ()
	}
	vars := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, envPrefix) {
			vars[k] = v
		}
	}
	known := envKeys()
	var cfg Config
	for k := range vars {
		if !slices.Contains(known, k) {
			cfg.unknownEnv = append(cfg.unknownEnv, k)
		}
	}
	slices.Sort(cfg.unknownEnv)
	// One parse per variable, so that every bad value is reported.
	var errs []error
	for _, k := range known {
		if vars[k] == "" {
			continue
		}
		var one Config
		if err := envconf.Parse(&one, envPrefix, func(name string) string {
			if name == k {
				return vars[k]
			}
			return ""
		}); err != nil {
			errs = append(errs, fmt.Errorf("lifecycle: %w", err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return Config{}, err
	}
	if err := envconf.Parse(&cfg, envPrefix, func(name string) string { return vars[name] }); err != nil {
		return Config{}, fmt.Errorf("lifecycle: %w", err)
	}
	for _, z := range []struct {
		key string
		v   time.Duration
	}{
		{"DRAIN_TIMEOUT", cfg.DrainTimeout},
		{"HOOK_TIMEOUT", cfg.HookTimeout},
		{"CHECK_TIMEOUT", cfg.CheckTimeout},
		{"SHUTDOWN_TIMEOUT", cfg.ShutdownTimeout},
		{"TERMINATION_GRACE_PERIOD", cfg.TerminationGracePeriod},
		{"MARGIN", cfg.Margin},
	} {
		if vars[envPrefix+z.key] != "" && z.v == 0 {
			errs = append(errs, fmt.Errorf("lifecycle: %s%s=%s: want > 0 (unset it for the default)", envPrefix, z.key, vars[envPrefix+z.key]))
		}
	}
	if vars[envPrefix+"SHUTDOWN_DELAY"] != "" && cfg.ShutdownDelay == 0 {
		cfg.ShutdownDelay = -1 // explicitly off
	}
	if err := errors.Join(append(errs, cfg.validate())...); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

func (c Config) validate() error {
	var errs []error
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"DrainTimeout", c.DrainTimeout},
		{"HookTimeout", c.HookTimeout},
		{"CheckTimeout", c.CheckTimeout},
		{"ShutdownTimeout", c.ShutdownTimeout},
		{"TerminationGracePeriod", c.TerminationGracePeriod},
		{"PreStop", c.PreStop},
		{"Margin", c.Margin},
	} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("lifecycle: %s is %v, want >= 0", d.name, d.v))
		}
	}
	return errors.Join(errs...)
}

// withDefaults fills the zero fields; a negative delay becomes 0 (off).
func (c Config) withDefaults() Config {
	switch {
	case c.ShutdownDelay == 0:
		c.ShutdownDelay = defaultShutdownDelay
	case c.ShutdownDelay < 0:
		c.ShutdownDelay = 0
	}
	if c.DrainTimeout == 0 {
		c.DrainTimeout = defaultDrainTimeout
	}
	if c.HookTimeout == 0 {
		c.HookTimeout = defaultHookTimeout
	}
	if c.CheckTimeout == 0 {
		c.CheckTimeout = defaultCheckTimeout
	}
	if c.TerminationGracePeriod == 0 {
		c.TerminationGracePeriod = defaultGracePeriod
	}
	if c.Margin == 0 {
		c.Margin = defaultMargin
	}
	if c.Exit == nil {
		c.Exit = os.Exit
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// budget is the worst-case duration of a shutdown, from the start of the
// preStop hook to the return of Run, against the Pod's grace period.
type budget struct {
	PreStop       time.Duration // Config.PreStop
	ShutdownDelay time.Duration // the delay, or HookTimeout if pre-shutdown hooks outlast it
	Drain         time.Duration // Config.DrainTimeout (servers drain concurrently)
	Cleanup       time.Duration // HookTimeout × (workers + cleanup hooks): they stop one by one
	Margin        time.Duration // Config.Margin
	Total         time.Duration // the sum of the above
	GracePeriod   time.Duration // Config.TerminationGracePeriod
}

// fits reports whether the shutdown ends within the grace period, before
// kubelet sends SIGKILL.
func (b budget) fits() bool { return b.Total <= b.GracePeriod }

// budget returns the worst-case shutdown for the configuration and what is
// registered.
func (l *Lifecycle) budget() budget {
	l.mu.Lock()
	nStop, nPre := len(l.cleanup)+len(l.workers), len(l.preShutdown)
	l.mu.Unlock()
	c := l.cfg
	b := budget{
		PreStop:       c.PreStop,
		ShutdownDelay: c.ShutdownDelay,
		Drain:         c.DrainTimeout,
		Cleanup:       time.Duration(nStop) * c.HookTimeout,
		Margin:        c.Margin,
		GracePeriod:   c.TerminationGracePeriod,
	}
	if nPre > 0 && c.HookTimeout > b.ShutdownDelay {
		b.ShutdownDelay = c.HookTimeout
	}
	b.Total = b.PreStop + b.ShutdownDelay + b.Drain + b.Cleanup + b.Margin
	return b
}

// shutdownTimeout is Config.ShutdownTimeout or its default.
func (l *Lifecycle) shutdownTimeout(b budget) time.Duration {
	if l.cfg.ShutdownTimeout > 0 {
		return l.cfg.ShutdownTimeout
	}
	if d := b.GracePeriod - b.PreStop - b.Margin; d > 0 {
		return d
	}
	return b.ShutdownDelay + b.Drain + b.Cleanup
}

func (b budget) logAttrs() []any {
	return []any{
		duration("prestop", b.PreStop),
		duration("delay", b.ShutdownDelay),
		duration("drain", b.Drain),
		duration("cleanup", b.Cleanup),
		duration("margin", b.Margin),
		duration("total", b.Total),
		duration("grace_period", b.GracePeriod),
	}
}

// duration is a log attribute readable in any handler: "5s", not 5000000000.
func duration(key string, d time.Duration) slog.Attr { return slog.String(key, d.String()) }

// envKeys returns the variables ConfigFromEnv reads.
func envKeys() []string { return envconf.Keys(&Config{}, envPrefix) }
