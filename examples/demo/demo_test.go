package main

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"
)

// TestDemo runs `make demo` as a test: the rollout must drop no request.
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("the demo builds four binaries and runs a rollout: skipped with -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*deadline) // does not hang
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
	ctx, cancel := context.WithTimeout(context.Background(), 2*deadline)
	defer cancel()
	var stdout bytes.Buffer
	err := run(ctx, []string{"--without-podlife", "--lag", (3 * time.Second).String()}, &stdout, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "requests failed during the rollout") {
		t.Fatalf("got error %v, want failed requests\n%s", err, stdout.String())
	}
	t.Logf("%v", err)
}
