package check

import (
	"context"
	"errors"
	"testing"
	"time"
)

// runCheck builds a checker and runs it with a timeout, failing the test
// on a configuration error.
func runCheck(t *testing.T, target string, o Options, timeout time.Duration) (error, time.Duration) {
	t.Helper()
	c, err := New(target, o)
	if err != nil {
		t.Fatalf("New(%q): %v", target, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	start := time.Now()
	err = c.Check(ctx)
	return err, time.Since(start)
}

// wantKind fails the test unless err has kind want (0 = nil).
func wantKind(t *testing.T, err error, want Kind) {
	t.Helper()
	if got := KindOf(err); got != want {
		t.Fatalf("got kind %v (err %v), want %v", got, err, want)
	}
	var e *Error
	if err != nil && !errors.As(err, &e) {
		t.Fatalf("got error of type %T, want *check.Error", err)
	}
}
