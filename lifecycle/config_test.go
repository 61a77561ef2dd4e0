package lifecycle_test

import (
	"bytes"
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/podlife/podlife/lifecycle"
)

// defaults is the configuration in effect for the zero Config.
func defaults() lifecycle.Config {
	return lifecycle.Config{
		ShutdownDelay:          5 * time.Second,
		DrainTimeout:           15 * time.Second,
		HookTimeout:            5 * time.Second,
		CheckTimeout:           500 * time.Millisecond,
		TerminationGracePeriod: 30 * time.Second,
		Margin:                 2 * time.Second,
	}
}

func sameDurations(a, b lifecycle.Config) bool {
	return a.ShutdownDelay == b.ShutdownDelay && a.DrainTimeout == b.DrainTimeout && a.HookTimeout == b.HookTimeout &&
		a.CheckTimeout == b.CheckTimeout && a.ShutdownTimeout == b.ShutdownTimeout &&
		a.TerminationGracePeriod == b.TerminationGracePeriod && a.PreStop == b.PreStop && a.Margin == b.Margin &&
		a.IgnoreSecondSignal == b.IgnoreSecondSignal && a.SendRetryAfter == b.SendRetryAfter
}

func TestConfigFromEnv(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		env     map[string]string
		want    func(*lifecycle.Config)
		wantErr []string
	}{
		{name: "defaults", env: map[string]string{}, want: func(*lifecycle.Config) {}},
		{
			name: "all set",
			env: map[string]string{
				"LIFECYCLE_SHUTDOWN_DELAY":           "10s",
				"LIFECYCLE_DRAIN_TIMEOUT":            "1m",
				"LIFECYCLE_HOOK_TIMEOUT":             "3s",
				"LIFECYCLE_CHECK_TIMEOUT":            "200ms",
				"LIFECYCLE_SHUTDOWN_TIMEOUT":         "80s",
				"LIFECYCLE_TERMINATION_GRACE_PERIOD": "90s",
				"LIFECYCLE_PRESTOP":                  "5s",
				"LIFECYCLE_MARGIN":                   "1s",
				"LIFECYCLE_IGNORE_SECOND_SIGNAL":     "true",
				"LIFECYCLE_SEND_RETRY_AFTER":         "true",
				"SHUTDOWN_DELAY":                     "99s", // no prefix: ignored
			},
			want: func(c *lifecycle.Config) {
				c.ShutdownDelay = 10 * time.Second
				c.DrainTimeout = time.Minute
				c.HookTimeout = 3 * time.Second
				c.CheckTimeout = 200 * time.Millisecond
				c.ShutdownTimeout = 80 * time.Second
				c.TerminationGracePeriod = 90 * time.Second
				c.PreStop = 5 * time.Second
				c.Margin = time.Second
				c.IgnoreSecondSignal = true
				c.SendRetryAfter = true
			},
		},
		{name: "zero delay turns it off", env: map[string]string{"LIFECYCLE_SHUTDOWN_DELAY": "0s"},
			want: func(c *lifecycle.Config) { c.ShutdownDelay = -1 }},
		{name: "bad duration", env: map[string]string{"LIFECYCLE_DRAIN_TIMEOUT": "soon"},
			wantErr: []string{`LIFECYCLE_DRAIN_TIMEOUT: unable to parse duration: time: invalid duration "soon"`}},
		{name: "every bad value", env: map[string]string{"LIFECYCLE_DRAIN_TIMEOUT": "soon", "LIFECYCLE_HOOK_TIMEOUT": "later", "LIFECYCLE_IGNORE_SECOND_SIGNAL": "maybe"},
			wantErr: []string{"LIFECYCLE_DRAIN_TIMEOUT", "LIFECYCLE_HOOK_TIMEOUT", "LIFECYCLE_IGNORE_SECOND_SIGNAL"}},
		{name: "zero drain timeout", env: map[string]string{"LIFECYCLE_DRAIN_TIMEOUT": "0s", "LIFECYCLE_HOOK_TIMEOUT": "0"},
			wantErr: []string{"LIFECYCLE_DRAIN_TIMEOUT=0s: want > 0", "LIFECYCLE_HOOK_TIMEOUT=0: want > 0"}},
		{name: "negative", env: map[string]string{"LIFECYCLE_DRAIN_TIMEOUT": "-1s"}, wantErr: []string{"DrainTimeout is -1s"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := lifecycle.ConfigFromEnv(mapEnv(tt.env))
			if tt.wantErr != nil {
				for _, w := range tt.wantErr {
					if err == nil || !strings.Contains(err.Error(), w) {
						t.Errorf("got error %v, want one mentioning %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("got error %v, want nil", err)
			}
			want := defaults()
			tt.want(&want)
			if !sameDurations(got, want) {
				t.Errorf("got %+v, want %+v", got, want)
			}
		})
	}
}

// The zero Config is the safe one: New fills the documented defaults, the
// 5s shutdown delay included; a negative delay turns it off.
func TestZeroConfigIsTheDefault(t *testing.T) {
	t.Parallel()
	l, err := lifecycle.New(lifecycle.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if got := l.EffectiveConfig(); !sameDurations(got, defaults()) {
		t.Errorf("got %+v from the zero Config, want %+v", got, defaults())
	}
	env, err := lifecycle.ConfigFromEnv([]string{})
	if err != nil {
		t.Fatal(err)
	}
	if !sameDurations(env, defaults()) {
		t.Errorf("got %+v from an empty environment, want %+v", env, defaults())
	}
	l, err = lifecycle.New(lifecycle.Config{ShutdownDelay: -1})
	if err != nil {
		t.Fatal(err)
	}
	if got := l.EffectiveConfig().ShutdownDelay; got != 0 {
		t.Errorf("got delay %v for ShutdownDelay -1, want 0 (off)", got)
	}
}

func TestUnknownVariableIsWarned(t *testing.T) {
	t.Parallel()
	cfg, err := lifecycle.ConfigFromEnv([]string{"LIFECYCLE_SHUTDOWN_DELAI=10s", "LIFECYCLE_DRAIN_TIMEOUT=1s", "OTHER=1"})
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.UnknownEnv(); !slices.Equal(got, []string{"LIFECYCLE_SHUTDOWN_DELAI"}) {
		t.Errorf("got unknown %q, want [LIFECYCLE_SHUTDOWN_DELAI]", got)
	}
	var logs syncBuffer
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	l := newLifecycle(t, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := l.Run(ctx); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"level=WARN", "unknown=LIFECYCLE_SHUTDOWN_DELAI", "LIFECYCLE_SHUTDOWN_DELAY,"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}
}

func TestNewRejectsNegative(t *testing.T) {
	t.Parallel()
	if _, err := lifecycle.New(lifecycle.Config{DrainTimeout: -time.Second}); err == nil {
		t.Fatal("got nil error for a negative DrainTimeout, want one")
	}
}

func TestBudget(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		cfg         lifecycle.Config
		cleanup     int
		workers     int
		preShutdown int
		wantTotal   time.Duration
		wantFits    bool
	}{
		{name: "defaults, no hooks", wantTotal: 22 * time.Second, wantFits: true},
		{name: "defaults, one hook", cleanup: 1, wantTotal: 27 * time.Second, wantFits: true},
		{name: "defaults, two hooks", cleanup: 2, wantTotal: 32 * time.Second, wantFits: false},
		{name: "defaults, a hook and a worker", cleanup: 1, workers: 1, wantTotal: 32 * time.Second, wantFits: false},
		{
			name:      "prestop counts",
			cfg:       lifecycle.Config{PreStop: 10 * time.Second, ShutdownDelay: 5 * time.Second, DrainTimeout: 10 * time.Second, Margin: time.Second, TerminationGracePeriod: 25 * time.Second},
			wantTotal: 26 * time.Second,
		},
		{
			name:        "pre-shutdown hook longer than the delay",
			cfg:         lifecycle.Config{ShutdownDelay: time.Second, HookTimeout: 4 * time.Second, DrainTimeout: 10 * time.Second, Margin: time.Second},
			preShutdown: 1,
			wantTotal:   15 * time.Second,
			wantFits:    true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l, err := lifecycle.New(tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			for range tt.cleanup {
				l.AddCleanup("c", func(context.Context) error { return nil })
			}
			for range tt.workers {
				l.AddWorker("w", func(context.Context) error { return nil })
			}
			for range tt.preShutdown {
				l.AddPreShutdownHook("p", func(context.Context) error { return nil })
			}
			total, fits := l.BudgetTotal()
			if total != tt.wantTotal || fits != tt.wantFits {
				t.Errorf("got total %v fits %v, want %v %v", total, fits, tt.wantTotal, tt.wantFits)
			}
		})
	}
}

// A budget overrun is logged at error level and exported as a metric, so
// that it can be alerted on.
func TestBudgetOverrunIsLoggedAndExported(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	reg := prometheus.NewRegistry()
	l := newLifecycle(t, lifecycle.Config{
		TerminationGracePeriod: 10 * time.Second, DrainTimeout: 20 * time.Second, ShutdownDelay: -1,
		Logger: slog.New(slog.NewTextHandler(&logs, nil)), Registry: reg,
	})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := l.Run(ctx); err != nil {
		t.Fatalf("Run: %v", err)
	}
	out := logs.String()
	for _, want := range []string{"level=ERROR", "exceeds the termination grace period", "total=22s", "grace_period=10s"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	if got := sample(t, reg, "podlife_lifecycle_shutdown_budget_overrun_seconds", ""); got != 12 {
		t.Errorf("got budget overrun %v, want 12", got)
	}
}

// mapEnv returns m as KEY=VALUE entries, instead of the process environment.
func mapEnv(m map[string]string) []string {
	env := []string{}
	for k, v := range m {
		env = append(env, k+"="+v)
	}
	return env
}
