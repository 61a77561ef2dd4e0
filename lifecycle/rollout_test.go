package lifecycle_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/podlife/podlife/internal/tcplb"
	"github.com/podlife/podlife/lifecycle"
)

// rolloutResult counts the outcome of the load.
type rolloutResult struct {
	ok, failed atomic.Int64
	firstErr   atomic.Value
}

func (r *rolloutResult) record(resp *http.Response, err error) {
	if err == nil {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
	}
	if err != nil {
		r.failed.Add(1)
		r.firstErr.CompareAndSwap(nil, err.Error())
		return
	}
	r.ok.Add(1)
}

// rollout replaces backend A by backend B behind a balancer, under load:
// SIGTERM to A, and the balancer drops A only lag later, as kube-proxy does
// after the EndpointSlice update. It returns the outcome of the load.
func rollout(t *testing.T, delay, lag time.Duration) *rolloutResult {
	hello := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(time.Millisecond) // some work, so that requests are in flight at shutdown
		io.WriteString(w, "hello\n")
	})

	// Backend B, the new Pod: stays up.
	lnB := listen(t)
	srvB := &http.Server{Handler: hello}
	go srvB.Serve(lnB)
	defer srvB.Close()

	// Backend A, the old Pod, run by lifecycle.
	sigs := make(chan os.Signal, 1)
	l := newLifecycle(t, lifecycle.Config{Signals: sigs, ShutdownDelay: delay, DrainTimeout: 2 * time.Second})
	lnA := listen(t)
	l.AddHTTPServer(&http.Server{Handler: l.Middleware(hello)}, lnA)
	_, run := start(t, l)
	isClosed(t, "A serving", l.Serving())

	lb, err := tcplb.New(lnA.Addr().String(), lnB.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lb.Close() })
	url := "http://" + lb.Addr() + "/hello"

	var res rolloutResult
	ctx, stop := context.WithCancel(context.Background())
	var load sync.WaitGroup
	// Keep-alive clients: each reuses its connections.
	for range 4 {
		load.Go(func() {
			tr := &http.Transport{MaxIdleConnsPerHost: 1}
			defer tr.CloseIdleConnections()
			c := &http.Client{Transport: tr, Timeout: 5 * time.Second}
			for ctx.Err() == nil {
				res.record(c.Get(url))
			}
		})
	}
	// A steady stream of new connections.
	load.Go(func() {
		tr := &http.Transport{DisableKeepAlives: true}
		c := &http.Client{Transport: tr, Timeout: 5 * time.Second}
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		var inflight sync.WaitGroup
		for ctx.Err() == nil {
			<-tick.C
			inflight.Go(func() { res.record(c.Get(url)) })
		}
		inflight.Wait()
	})

	time.Sleep(200 * time.Millisecond) // load on both backends
	sigs <- syscall.SIGTERM            // kubelet, at the same time as the endpoint update
	time.Sleep(lag)
	lb.Remove(lnA.Addr().String()) // kube-proxy catches up
	if delay > 0 && l.PhaseName() != "draining" {
		// The sleep overshot the whole delay: the run proves nothing.
		stop()
		load.Wait()
		t.Skipf("inconclusive: the machine is so loaded that a %v sleep outlasted the %v delay", lag, delay)
	}
	if err := run.wait(t); err != nil {
		t.Errorf("Run: %v", err)
	}
	time.Sleep(200 * time.Millisecond) // load on B alone
	stop()
	load.Wait()
	return &res
}

// TestZeroDropRollout is the proof that the shutdown delay is what keeps a
// rollout from failing requests: with it, none fail; without it, the same
// load fails, which proves the test can fail.
func TestZeroDropRollout(t *testing.T) {
	t.Parallel()
	const lag = 300 * time.Millisecond
	tests := []struct {
		name      string
		delay     time.Duration
		wantDrops bool
	}{
		{"delay longer than the lag", 4 * lag, false},
		{"no delay", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := rollout(t, tt.delay, lag)
			failed, ok := res.failed.Load(), res.ok.Load()
			t.Logf("delay %v, lag %v: %d ok, %d failed (first error: %v)", tt.delay, lag, ok, failed, res.firstErr.Load())
			if ok == 0 {
				t.Fatal("no request succeeded: the load did not run")
			}
			if tt.wantDrops && failed == 0 {
				t.Errorf("got 0 failed requests without a delay, want some: the test cannot tell a drop")
			}
			if !tt.wantDrops && failed != 0 {
				t.Errorf("got %d failed requests with a %v delay and a %v lag, want 0", failed, tt.delay, lag)
			}
		})
	}
}
