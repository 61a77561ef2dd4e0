package main

import (
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseOptions(t *testing.T) {
	t.Parallel()
	defaults := options{httpAddr: ":8080", coldCost: 5 * time.Millisecond, watchdogAge: 10 * time.Second}
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		want    func(*options)
		wantErr string
	}{
		{name: "defaults", want: func(*options) {}},
		{name: "PORT and GRPC_PORT", env: map[string]string{"PORT": "9000", "GRPC_PORT": "9001"},
			want: func(o *options) { o.httpAddr, o.grpcAddr = ":9000", ":9001" }},
		{name: "flag wins over env", args: []string{"-http-addr", "127.0.0.1:0", "-cold-keys=3"},
			env:  map[string]string{"PORT": "9000", "COLD_KEYS": "100", "COLD_COST": "2ms"},
			want: func(o *options) { o.httpAddr, o.coldKeys, o.coldCost = "127.0.0.1:0", 3, 2*time.Millisecond }},
		{name: "startup and watchdog from env", env: map[string]string{"STARTUP_DELAY": "3s", "WATCHDOG_MAX_AGE": "1m"},
			want: func(o *options) { o.startupDelay, o.watchdogAge = 3*time.Second, time.Minute }},
		{name: "bad env", env: map[string]string{"COLD_KEYS": "many"}, wantErr: `COLD_KEYS="many": not an integer`},
		{name: "bad env duration", env: map[string]string{"COLD_COST": "5"}, wantErr: `COLD_COST="5": not a duration`},
		{name: "negative", args: []string{"-cold-keys=-1"}, wantErr: "-cold-keys -1: want >= 0"},
		{name: "unknown flag", args: []string{"-nope"}, wantErr: "flag provided but not defined"},
		{name: "argument", args: []string{"extra"}, wantErr: `unexpected argument "extra"`},
		{name: "zero watchdog", args: []string{"-watchdog-max-age=0s"}, wantErr: "want > 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := parseOptions(append([]string{"service"}, tt.args...), func(k string) string { return tt.env[k] }, io.Discard)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got error %v, want one containing %q", err, tt.wantErr)
				}
				if code := exitCode(err); code != exitUsage {
					t.Errorf("got exit code %d, want %d", code, exitUsage)
				}
				return
			}
			if err != nil {
				t.Fatalf("got error %v, want nil", err)
			}
			want := defaults
			tt.want(&want)
			if got != want {
				t.Errorf("got %+v, want %+v", got, want)
			}
		})
	}
	if code := exitCode(errors.New("boom")); code != exitFailure {
		t.Errorf("got exit code %d for a failure, want %d", code, exitFailure)
	}
}

// TestBadLoggingEnv: run refuses a bad LOG_LEVEL or LOG_FORMAT as a usage
// error, before it listens.
func TestBadLoggingEnv(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ name, value, wantErr string }{
		{"LOG_LEVEL", "loud", `unknown level "loud"`},
		{"LOG_FORMAT", "xml", `unknown format "xml"`},
	} {
		env := map[string]string{tt.name: tt.value}
		err := run(context.Background(), []string{"service", "-http-addr=127.0.0.1:0"}, envList(env), io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) || exitCode(err) != exitUsage {
			t.Errorf("%s=%s: got %v (exit code %d), want a usage error containing %q", tt.name, tt.value, err, exitCode(err), tt.wantErr)
		}
	}
}

func TestColdCache(t *testing.T) {
	t.Parallel()
	c := newColdCache(2, time.Millisecond)
	var got []bool
	for range 4 {
		_, hit := c.get(c.nextKey())
		got = append(got, hit)
	}
	if want := []bool{false, false, true, true}; !slices.Equal(got, want) {
		t.Errorf("got hits %v, want %v: each key cold once", got, want)
	}
	if n := c.warmKeys(); n != 2 {
		t.Errorf("got %d warm keys, want 2", n)
	}
	a, _ := c.get("x")
	b, _ := c.get("x")
	if a != b {
		t.Errorf("got %x then %x for one key, want the same value", a, b)
	}
}

// envList returns env as KEY=VALUE entries.
func envList(env map[string]string) []string {
	l := []string{} // not nil: nil would mean the process environment
	for k, v := range env {
		l = append(l, k+"="+v)
	}
	return l
}
