package wait

import (
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/podlife/podlife/internal/check"
	"github.com/podlife/podlife/internal/load/loadtest"
	"github.com/podlife/podlife/internal/testpeer"
)

// TestWaitLateServer waits on a server that starts listening only after
// the first failed attempt, then answers 503 twice before 200; the state
// changes, not the attempts, are reported.
func TestWaitLateServer(t *testing.T) {
	t.Parallel()
	addr := testpeer.ClosedPort(t)
	c := loadtest.Counter{Status: func(n int64) int {
		if n <= 2 {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	}}
	srv := &http.Server{Handler: &c, ReadHeaderTimeout: 5 * time.Second}
	t.Cleanup(func() { srv.Close() })
	var once sync.Once
	start := func() {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Error(err)
			return
		}
		go srv.Serve(ln)
	}

	ch, err := check.New("http://"+addr+"/healthz", check.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var states []string
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = For(ctx, []check.Checker{ch}, Options{Interval: 20 * time.Millisecond, OnChange: func(target string, err error) {
		mu.Lock()
		states = append(states, stateOf(err))
		mu.Unlock()
		once.Do(start) // listen late: after the first failure
	}})
	if err != nil {
		t.Fatalf("For: got %v, want nil", err)
	}
	want := []string{"unreachable: connect: connection refused", "unhealthy: status 503, want 200-399", "healthy"}
	if got := strings.Join(states, " | "); got != strings.Join(want, " | ") {
		t.Errorf("state changes: got %q, want %q", got, strings.Join(want, " | "))
	}
	if got := c.N(); got != 3 {
		t.Errorf("got %d attempts answered, want 3 (503, 503, 200)", got)
	}
}

// TestWaitNeverUp checks that For gives up when its context ends and
// names the target and its last reason.
func TestWaitNeverUp(t *testing.T) {
	t.Parallel()
	a, _ := check.New("tcp://"+testpeer.ClosedPort(t), check.Options{})
	srv := loadtest.Server(t, &loadtest.Counter{})
	b, _ := check.New(srv.URL, check.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := For(ctx, []check.Checker{a, b}, Options{})
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("For took %v with a 300ms context, want it bounded", d)
	}
	if err == nil || !strings.Contains(err.Error(), a.Target()+": connect: connection refused") {
		t.Errorf("got %v, want the tcp target and connection refused", err)
	}
	if strings.Contains(err.Error(), srv.URL) {
		t.Errorf("got %v, want only the failing target named", err)
	}
}

func TestWaitNoAnswerYet(t *testing.T) {
	t.Parallel()
	ch, _ := check.New("http://"+testpeer.ClosedPort(t)+"/", check.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := For(ctx, []check.Checker{ch}, Options{}); err == nil || !strings.Contains(err.Error(), "no answer yet") {
		t.Errorf("cancelled before any answer: got %v, want no answer yet", err)
	}
}

// stateOf names a result for the tests: "healthy", or its kind and
// reason.
func stateOf(err error) string {
	if err == nil {
		return "healthy"
	}
	return check.KindOf(err).String() + ": " + err.Error()
}

// countingCheck counts the attempts of a check and calls after (when
// set) after each, with their number.
type countingCheck struct {
	check.Checker
	n     atomic.Int64
	after func(n int64)
}

func (c *countingCheck) Check(ctx context.Context) error {
	err := c.Checker.Check(ctx)
	if n := c.n.Add(1); c.after != nil {
		c.after(n)
	}
	return err
}

// TestWaitStaleFileOneLine waits on a heartbeat file that is stale for
// five attempts, then fresh: the reason of each failed attempt differs
// (it carries the file's age), but the state does not, so OnChange is
// called twice, unhealthy then healthy, not once per attempt.
func TestWaitStaleFileOneLine(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "heartbeat")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	stale := time.Now().Add(-time.Hour)
	if err := os.Chtimes(path, stale, stale); err != nil {
		t.Fatal(err)
	}
	ch, err := check.New("file://"+path, check.Options{MaxAge: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	c := &countingCheck{Checker: ch, after: func(n int64) {
		if n == 5 {
			now := time.Now()
			if err := os.Chtimes(path, now, now); err != nil {
				t.Error(err)
			}
		}
	}}
	var mu sync.Mutex
	var states []string
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = For(ctx, []check.Checker{c}, Options{Interval: 5 * time.Millisecond, OnChange: func(_ string, err error) {
		mu.Lock()
		defer mu.Unlock()
		states = append(states, stateOf(err))
	}})
	if err != nil {
		t.Fatalf("For: got %v, want nil", err)
	}
	if got := c.n.Load(); got != 6 {
		t.Errorf("got %d attempts, want 6 (5 stale, 1 fresh)", got)
	}
	if len(states) != 2 || !strings.HasPrefix(states[0], "unhealthy: modified 1h") || states[1] != "healthy" {
		t.Errorf("state changes: got %q, want one unhealthy (modified 1h… ago) and healthy: one per change of state, not per attempt", states)
	}
}
