package load

import (
	"context"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync/atomic"
	"testing"
)

func TestPlanWorkers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		plan Plan
		want int
	}{
		{Plan{}, 1},
		{Plan{Concurrency: -3}, 1},
		{Plan{Concurrency: 8}, 8},
		{Plan{Concurrency: 8, Requests: 3}, 3},
		{Plan{Concurrency: 8, Requests: 8}, 8},
		{Plan{Concurrency: 8, Requests: 1_000_000}, 8},
		{Plan{Concurrency: 2_000_000_000, Requests: 3}, 3},
		{Plan{Concurrency: 0, Requests: 3}, 1},
	}
	for _, tt := range tests {
		if got := tt.plan.workers(); got != tt.want {
			t.Errorf("Concurrency %d, Requests %d: got %d workers, want %d", tt.plan.Concurrency, tt.plan.Requests, got, tt.want)
		}
	}
}

// manyWorkers is a concurrency that would start tens of thousands of
// goroutines if the engines did not bound their workers by Requests.
const manyWorkers = 20_000

// goroutinesBound is far above what a load of 3 requests needs, and far
// below manyWorkers.
const goroutinesBound = 1_000

// TestFewRequestsFewWorkers checks that both engines start no more
// workers than requests: a --concurrency far above --requests costs
// nothing. It counts the goroutines of the process, so it does not run in
// parallel with other tests. vegeta starts all its workers before the
// first request; drive starts its own while the first ones work, so for
// drive the count is a looser guard, and TestPlanWorkers the exact one.
func TestFewRequestsFewWorkers(t *testing.T) {
	var most atomic.Int64
	note := func() {
		n := int64(runtime.NumGoroutine())
		for {
			m := most.Load()
			if n <= m || most.CompareAndSwap(m, n) {
				return
			}
		}
	}
	plan := Plan{Requests: 3, Concurrency: manyWorkers}

	s := drive(context.Background(), plan, false, func(context.Context, uint64) (int, bool, string) {
		note()
		return 200, true, ""
	})
	if s.Requests != 3 {
		t.Errorf("drive: got %d requests, want 3", s.Requests)
	}
	if got := most.Load(); got > goroutinesBound {
		t.Errorf("drive: got %d goroutines for 3 requests at concurrency %d, want fewer than %d", got, manyWorkers, goroutinesBound)
	}

	most.Store(0)
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { note() }))
	t.Cleanup(srv.Close)
	s = RunHTTP(context.Background(), HTTPConfig{Targets: get(srv.URL)}, plan)
	if s.Requests != 3 || s.Successes != 3 {
		t.Errorf("RunHTTP: got %d requests, %d successes, want 3 of each", s.Requests, s.Successes)
	}
	if got := most.Load(); got > goroutinesBound {
		t.Errorf("RunHTTP: got %d goroutines for 3 requests at concurrency %d, want fewer than %d", got, manyWorkers, goroutinesBound)
	}
}
