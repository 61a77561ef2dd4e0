package lifecycle_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/podlife/podlife/lifecycle"
)

func TestConfigFromEnv(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		env     map[string]string
		want    func(*lifecycle.Config)
		wantErr string
	}{
		{name: "defaults", env: map[string]string{}, want: func(*lifecycle.Config) {}},
		{
			name: "all set",
			env: map[string]string{
				"LIFECYCLE_SHUTDOWN_DELAY":           "10s",
				"LIFECYCLE_DRAIN_TIMEOUT":            "1m",
				"LIFECYCLE_HOOK_TIMEOUT":             "3s",
				"LIFECYCLE_TERMINATION_GRACE_PERIOD": "90s",
				"LIFECYCLE_PRESTOP":                  "5s",
				"LIFECYCLE_MARGIN":                   "1s",
				"LIFECYCLE_IGNORE_SECOND_SIGNAL":     "true",
				"SHUTDOWN_DELAY":                     "99s", // no prefix: ignored
			},
			want: func(c *lifecycle.Config) {
				c.ShutdownDelay = 10 * time.Second
				c.DrainTimeout = time.Minute
				c.HookTimeout = 3 * time.Second
				c.TerminationGracePeriod = 90 * time.Second
				c.PreStop = 5 * time.Second
				c.Margin = time.Second
				c.IgnoreSecondSignal = true
			},
		},
		{name: "zero delay", env: map[string]string{"LIFECYCLE_SHUTDOWN_DELAY": "0s"},
			want: func(c *lifecycle.Config) { c.ShutdownDelay = 0 }},
		{name: "bad duration", env: map[string]string{"LIFECYCLE_DRAIN_TIMEOUT": "soon"}, wantErr: `LIFECYCLE_DRAIN_TIMEOUT: unable to parse duration: time: invalid duration "soon"`},
		{name: "negative", env: map[string]string{"LIFECYCLE_SHUTDOWN_DELAY": "-1s"}, wantErr: "ShutdownDelay"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := lifecycle.ConfigFromEnv(mapEnv(tt.env))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got error %v, want one mentioning %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("got error %v, want nil", err)
			}
			want := lifecycle.DefaultConfig()
			tt.want(&want)
			if got.ShutdownDelay != want.ShutdownDelay || got.DrainTimeout != want.DrainTimeout ||
				got.HookTimeout != want.HookTimeout || got.TerminationGracePeriod != want.TerminationGracePeriod ||
				got.PreStop != want.PreStop || got.Margin != want.Margin || got.IgnoreSecondSignal != want.IgnoreSecondSignal {
				t.Errorf("got %+v, want %+v", got, want)
			}
		})
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
		preShutdown int
		wantTotal   time.Duration
		wantFits    bool
	}{
		{name: "defaults, no hooks", cfg: lifecycle.DefaultConfig(), wantTotal: 22 * time.Second, wantFits: true},
		{name: "defaults, one hook", cfg: lifecycle.DefaultConfig(), cleanup: 1, wantTotal: 27 * time.Second, wantFits: true},
		{name: "defaults, two hooks", cfg: lifecycle.DefaultConfig(), cleanup: 2, wantTotal: 32 * time.Second, wantFits: false},
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
			l := newLifecycle(t, tt.cfg)
			for range tt.cleanup {
				l.AddCleanup("c", func(context.Context) error { return nil })
			}
			for range tt.preShutdown {
				l.AddPreShutdownHook("p", func(context.Context) error { return nil })
			}
			b := l.Budget()
			if b.Total != tt.wantTotal || b.Fits() != tt.wantFits {
				t.Errorf("got total %v fits %v, want %v %v (%+v)", b.Total, b.Fits(), tt.wantTotal, tt.wantFits, b)
			}
		})
	}
}

func TestRunLogsBudgetThatDoesNotFit(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	l := newLifecycle(t, lifecycle.Config{
		TerminationGracePeriod: 10 * time.Second, DrainTimeout: 20 * time.Second,
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
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
}

// mapEnv looks variables up in m instead of the process environment.
func mapEnv(m map[string]string) func(string) string {
	return func(name string) string { return m[name] }
}
