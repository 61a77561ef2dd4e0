package main

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// TestContainerBudget: what each kind of preStop and each LIFECYCLE_*
// setting adds to the termination budget.
func TestContainerBudget(t *testing.T) {
	t.Parallel()
	execHook := func(cmd ...string) *corev1.Lifecycle {
		return &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: cmd}}}
	}
	for _, tt := range []struct {
		name  string
		hook  *corev1.Lifecycle
		env   map[string]string
		total time.Duration
		terms string
	}{
		{"no hook, not a lifecycle app", nil, nil, 2 * time.Second, "margin 2s = 2s"},
		{"native sleep", &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Sleep: &corev1.SleepAction{Seconds: 7}}}, nil,
			9 * time.Second, "preStop 7s + margin 2s = 9s"},
		{"sh -c sleep", execHook("/bin/sh", "-c", "sleep 4"), nil, 6 * time.Second, "preStop 4s + margin 2s = 6s"},
		{"prestop --notify: a lifecycle app with the defaults", execHook("/podlife/prestop", "--notify", "http://127.0.0.1:8080/drainz", "--sleep=5s"), nil,
			29 * time.Second, "preStop 5s + notify timeout 2s + shutdown delay 5s + drain 15s + margin 2s = 29s"},
		{"prestop settings from the environment", execHook("/podlife/prestop"),
			map[string]string{"PRESTOP_SLEEP": "3s", "PRESTOP_UNTIL_IDLE": "http://127.0.0.1:8080/drainz", "PRESTOP_MAX": "10s", "LIFECYCLE_DRAIN_TIMEOUT": "10s"},
			30 * time.Second, "preStop 3s + until-idle max 10s + shutdown delay 5s + drain 10s + margin 2s = 30s"},
		{"prestop --until-idle takes its default --max at worst, and marks a lifecycle app (it polls /drainz)",
			execHook("/podlife/prestop", "--sleep=5s", "--until-idle=http://127.0.0.1:8080/drainz"), nil,
			47 * time.Second, "preStop 5s + until-idle max 20s + shutdown delay 5s + drain 15s + margin 2s = 47s"},
		{"a flag wins over its variable", execHook("/podlife/prestop", "--sleep", "1s"), map[string]string{"PRESTOP_SLEEP": "9s"},
			3 * time.Second, "preStop 1s + margin 2s = 3s"},
		{"LIFECYCLE_SHUTDOWN_DELAY=0 turns the delay off", nil, map[string]string{"LIFECYCLE_SHUTDOWN_DELAY": "0"},
			17 * time.Second, "shutdown delay 0s + drain 15s + margin 2s = 17s"},
		{"LIFECYCLE_SHUTDOWN_TIMEOUT cuts the drain", nil, map[string]string{"LIFECYCLE_SHUTDOWN_DELAY": "10s", "LIFECYCLE_SHUTDOWN_TIMEOUT": "12s"},
			14 * time.Second, "shutdown delay 10s + drain 2s + margin 2s = 14s"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := &corev1.Container{Name: "app", Lifecycle: tt.hook}
			var bad []badSetting
			b := containerBudget(c, tt.env, 30*time.Second, assumedDefaults(), &bad)
			if len(bad) > 0 {
				t.Errorf("got bad settings %v, want none", bad)
			}
			if b.Total() != tt.total || b.terms() != tt.terms {
				t.Errorf("got %s (total %v), want %s (total %v)", b.terms(), b.Total(), tt.terms, tt.total)
			}
		})
	}
}
