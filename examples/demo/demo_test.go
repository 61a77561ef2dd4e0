package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"strings"
	"testing"
	"time"
)

// TestDemo runs `make demo` as a test: the rollout must drop no request.
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("the demo builds four binaries and runs a rollout: skipped with -short")
	}
	// Does not hang: the rollout has its deadline, the build (minutes with
	// a cold Go cache) this bound.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var stdout bytes.Buffer
	if err := run(ctx, nil, &stdout, io.Discard); err != nil {
		t.Fatalf("demo: %v\n%s", err, stdout.String())
	}
	for _, want := range []string{"warm-up    first", " 0 failed", "exit 0"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("got output\n%s\nwant it to contain %q", stdout.String(), want)
		}
	}
}

// TestDemoWithoutPodlife shows the demo can fail: with no preStop hook and
// no shutdown delay, v1 closes its listener at SIGTERM, while the balancer
// keeps sending it every other new connection for the lag. The clients that
// open a new connection per request make hundreds of those during the lag:
// refused, they are certain to fail.
func TestDemoWithoutPodlife(t *testing.T) {
	if testing.Short() {
		t.Skip("the demo builds four binaries and runs a rollout: skipped with -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var stdout bytes.Buffer
	err := run(ctx, []string{"--without-podlife", "--lag", (3 * time.Second).String()}, &stdout, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "requests failed during the rollout") {
		t.Fatalf("got error %v, want failed requests\n%s", err, stdout.String())
	}
	t.Logf("%v", err)
}

// TestDemoRolloutTimeout checks that the rollout's deadline says what ran
// out, and that it does not cover the build.
func TestDemoRolloutTimeout(t *testing.T) {
	if testing.Short() {
		t.Skip("the demo builds four binaries and runs a rollout: skipped with -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	dir := t.TempDir()
	if err := build(ctx, dir, func(string, string, ...any) {}); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 4 {
		t.Errorf("got %d entries in the build directory, want the 4 binaries and no go-build leftovers: %v", len(entries), entries)
	}
	var stdout bytes.Buffer
	err := run(ctx, []string{"--bin", dir, "--rollout-timeout", "300ms"}, &stdout, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "the rollout ran out of time: --rollout-timeout 300ms") {
		t.Fatalf("got error %v, want the rollout to run out of time, saying so\n%s", err, stdout.String())
	}
}
