package load

import (
	"context"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/podlife/podlife/internal/load/loadtest"
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

// funcEngine is an engine whose requests are calls of a function, sent
// by drive as the gRPC engine's are.
type funcEngine doFunc

func (funcEngine) open(context.Context) error { return nil }

func (funcEngine) close() {}

func (e funcEngine) send(ctx, pctx context.Context, p *pacer, workers int, rec recordFunc) {
	drive(ctx, pctx, p, workers, doFunc(e), rec)
}

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

	l := &Load{engine: funcEngine(func(context.Context, uint64) (int, bool, string) {
		note()
		return 200, true, ""
	})}
	s, err := l.Run(context.Background(), plan)
	if err != nil || s.Requests != 3 {
		t.Errorf("drive: got %d requests (%v), want 3", s.Requests, err)
	}
	if got := most.Load(); got > goroutinesBound {
		t.Errorf("drive: got %d goroutines for 3 requests at concurrency %d, want fewer than %d", got, manyWorkers, goroutinesBound)
	}

	most.Store(0)
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { note() }))
	t.Cleanup(srv.Close)
	s = run(t, Options{Targets: []string{srv.URL}}, plan)
	if s.Requests != 3 || s.Successes != 3 {
		t.Errorf("HTTP: got %d requests, %d successes, want 3 of each", s.Requests, s.Successes)
	}
	if got := most.Load(); got > goroutinesBound {
		t.Errorf("HTTP: got %d goroutines for 3 requests at concurrency %d, want fewer than %d", got, manyWorkers, goroutinesBound)
	}
}

// scheduleClock is a pacer's clock that waits for nothing and records
// when each hit was due.
type scheduleClock struct {
	mu  sync.Mutex
	due []time.Duration
}

func (c *scheduleClock) waitUntil(_ context.Context, _, due time.Duration) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.due = append(c.due, due)
	return true
}

// TestEnginesFollowTheSchedule runs each engine on a plan with a rate and
// a ramp, with a clock that records when the pacer let each request go
// instead of waiting: every request, in order, went at the time the ramp
// and the rate set for it. No wall clock is read, so a loaded machine
// cannot make it fail.
func TestEnginesFollowTheSchedule(t *testing.T) {
	t.Parallel()
	// 500/s after a 100 ms ramp from 0: hit n is due at √(2·0.1·n/500) s
	// during the ramp (25 hits), then every 2 ms.
	plan := Plan{Requests: 40, Rate: 500, Ramp: 100 * time.Millisecond, Concurrency: 4}
	want := map[int]time.Duration{ // hit (from 1): due
		1:  20 * time.Millisecond,
		4:  40 * time.Millisecond,
		16: 80 * time.Millisecond,
		25: 100 * time.Millisecond,
		26: 102 * time.Millisecond,
		40: 130 * time.Millisecond,
	}
	var counter loadtest.Counter
	srv := loadtest.Server(t, &counter)
	peer := loadtest.NewGRPCPeer(t, true, nil)
	tests := []struct {
		name   string
		o      Options
		served func() int64
	}{
		{"HTTP, vegeta", Options{Targets: []string{srv.URL}}, counter.N},
		{"gRPC, drive", Options{Targets: health(peer.Addr)}, peer.Calls},
	}
	for _, tt := range tests {
		l, err := New(tt.o)
		if err != nil {
			t.Fatal(err)
		}
		c := &scheduleClock{}
		l.clock = c
		s, err := l.Run(context.Background(), plan)
		if err != nil || s.Requests != 40 || tt.served() != 40 {
			t.Fatalf("%s: got %d requests, %d served (%v), want 40", tt.name, s.Requests, tt.served(), err)
		}
		c.mu.Lock()
		due := c.due
		c.mu.Unlock()
		if len(due) != 40 {
			t.Fatalf("%s: the pacer let %d requests go, want each of the 40", tt.name, len(due))
		}
		for hit, d := range want {
			if got := due[hit-1]; got < d-time.Microsecond || got > d+time.Microsecond {
				t.Errorf("%s: request %d went at %v, want %v", tt.name, hit, got, d)
			}
		}
		for i := 1; i < len(due); i++ {
			gap, prev := due[i]-due[i-1], time.Duration(0)
			if i > 1 {
				prev = due[i-1] - due[i-2]
			}
			switch {
			case i < 25 && i > 1 && gap >= prev:
				t.Errorf("%s: gap before request %d is %v, after %v: want the ramp to shorten each gap", tt.name, i+1, gap, prev)
			case i >= 25 && (gap < 2*time.Millisecond-time.Microsecond || gap > 2*time.Millisecond+time.Microsecond):
				t.Errorf("%s: gap before request %d is %v, want 2ms (500/s)", tt.name, i+1, gap)
			}
		}
	}
}
