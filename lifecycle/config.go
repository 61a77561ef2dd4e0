package lifecycle

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/podlife/podlife/internal/envconf"
)

// EnvPrefix is the prefix of the environment variables read by ConfigFromEnv.
const EnvPrefix = "LIFECYCLE_"

// Config configures a Lifecycle. Durations are read from the environment by
// ConfigFromEnv (as LIFECYCLE_SHUTDOWN_DELAY and so on); the fields tagged
// env:"-" can only be set from Go.
//
// The zero Config is valid: no shutdown delay (which drops requests during
// endpoint propagation; DefaultConfig uses 5s), and the defaults of
// DefaultConfig for every zero timeout.
type Config struct {
	// ShutdownDelay is how long the server keeps serving after draining
	// starts (readiness already failing), so that kube-proxy, ingress
	// controllers and cloud load balancers stop routing to the Pod first.
	// It is measured from the start of draining, which a POST /drainz from a
	// preStop hook may have begun before SIGTERM. Zero means no delay.
	ShutdownDelay time.Duration `env:"SHUTDOWN_DELAY" envDefault:"5s"`

	// DrainTimeout bounds the graceful drain of each HTTP and gRPC server;
	// the servers are drained concurrently, then closed (http.Server.Close,
	// grpc Stop) if still busy. Zero means 15s.
	DrainTimeout time.Duration `env:"DRAIN_TIMEOUT" envDefault:"15s"`

	// HookTimeout bounds each pre-shutdown and cleanup hook. Zero means 5s.
	HookTimeout time.Duration `env:"HOOK_TIMEOUT" envDefault:"5s"`

	// TerminationGracePeriod is the Pod's terminationGracePeriodSeconds,
	// against which Run checks the shutdown budget. Zero means 30s, the
	// Kubernetes default.
	TerminationGracePeriod time.Duration `env:"TERMINATION_GRACE_PERIOD" envDefault:"30s"`

	// PreStop is how long the container's preStop hook takes; it counts
	// against the grace period before SIGTERM is sent.
	PreStop time.Duration `env:"PRESTOP" envDefault:"0s"`

	// Margin is the time left over in the budget for the process to exit.
	// Zero means 2s.
	Margin time.Duration `env:"MARGIN" envDefault:"2s"`

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
}

// Defaults used for zero fields; DefaultConfig and the envDefault tags agree with them.
const (
	defaultShutdownDelay = 5 * time.Second
	defaultDrainTimeout  = 15 * time.Second
	defaultHookTimeout   = 5 * time.Second
	defaultGracePeriod   = 30 * time.Second
	defaultMargin        = 2 * time.Second
)

// DefaultConfig returns the configuration used when no environment variable
// is set: a 5s shutdown delay, 15s drain, 5s per hook, a 30s grace period
// and a 2s margin.
func DefaultConfig() Config {
	return Config{
		ShutdownDelay:          defaultShutdownDelay,
		DrainTimeout:           defaultDrainTimeout,
		HookTimeout:            defaultHookTimeout,
		TerminationGracePeriod: defaultGracePeriod,
		Margin:                 defaultMargin,
	}
}

// ConfigFromEnv reads a Config from the LIFECYCLE_* variables, with the
// defaults of DefaultConfig for those unset or empty. getenv looks a
// variable up; nil means os.Getenv. Durations use time.ParseDuration syntax
// ("5s", "1m30s").
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	var cfg Config
	if err := envconf.Parse(&cfg, EnvPrefix, getenv); err != nil {
		return Config{}, fmt.Errorf("lifecycle: %w", err)
	}
	return cfg, cfg.validate()
}

func (c Config) validate() error {
	var errs []error
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"ShutdownDelay", c.ShutdownDelay},
		{"DrainTimeout", c.DrainTimeout},
		{"HookTimeout", c.HookTimeout},
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

// withDefaults fills the zero timeouts.
func (c Config) withDefaults() Config {
	if c.DrainTimeout == 0 {
		c.DrainTimeout = defaultDrainTimeout
	}
	if c.HookTimeout == 0 {
		c.HookTimeout = defaultHookTimeout
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

// Budget is the worst-case duration of a shutdown, from the start of the
// preStop hook to the return of Run, against the Pod's grace period.
type Budget struct {
	PreStop       time.Duration // Config.PreStop
	ShutdownDelay time.Duration // the delay, or HookTimeout if pre-shutdown hooks outlast it
	Drain         time.Duration // Config.DrainTimeout (servers drain concurrently)
	Cleanup       time.Duration // HookTimeout × number of cleanup hooks (they run one by one)
	Margin        time.Duration // Config.Margin
	Total         time.Duration // the sum of the above
	GracePeriod   time.Duration // Config.TerminationGracePeriod
}

// Fits reports whether the shutdown ends within the grace period, before
// kubelet sends SIGKILL.
func (b Budget) Fits() bool { return b.Total <= b.GracePeriod }

func (b Budget) logAttrs() []any {
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
