package load

import (
	"context"
	"net"
	"net/http"
	"strings"
	"sync"
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
	err = Wait(ctx, []check.Checker{ch}, WaitOptions{Interval: 20 * time.Millisecond, OnChange: func(target string, err error) {
		mu.Lock()
		states = append(states, stateOf(err))
		mu.Unlock()
		once.Do(start) // listen late: after the first failure
	}})
	if err != nil {
		t.Fatalf("Wait: got %v, want nil", err)
	}
	want := []string{"unreachable: connect: connection refused", "unhealthy: status 503, want 200-399", "healthy"}
	if got := strings.Join(states, " | "); got != strings.Join(want, " | ") {
		t.Errorf("state changes: got %q, want %q", got, strings.Join(want, " | "))
	}
	if got := c.N(); got != 3 {
		t.Errorf("got %d attempts answered, want 3 (503, 503, 200)", got)
	}
}

// TestWaitNeverUp checks that Wait gives up when its context ends and
// names the target and its last reason.
func TestWaitNeverUp(t *testing.T) {
	t.Parallel()
	a, _ := check.New("tcp://"+testpeer.ClosedPort(t), check.Options{})
	srv := loadtest.Server(t, &loadtest.Counter{})
	b, _ := check.New(srv.URL, check.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := Wait(ctx, []check.Checker{a, b}, WaitOptions{})
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Wait took %v with a 300ms context, want it bounded", d)
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
	if err := Wait(ctx, []check.Checker{ch}, WaitOptions{}); err == nil || !strings.Contains(err.Error(), "no answer yet") {
		t.Errorf("cancelled before any answer: got %v, want no answer yet", err)
	}
}
