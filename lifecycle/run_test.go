package lifecycle_test

import (
	"context"
	"errors"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/podlife/podlife/lifecycle"
)

func TestCleanupHooks(t *testing.T) {
	t.Parallel()
	const hookTimeout = 100 * time.Millisecond
	reg := prometheus.NewRegistry()
	l := newLifecycle(t, lifecycle.Config{HookTimeout: hookTimeout, Registry: reg})

	var mu sync.Mutex
	var order []string
	record := func(name string) {
		mu.Lock()
		order = append(order, name)
		mu.Unlock()
	}
	release := make(chan struct{})
	defer close(release) // lets the abandoned hook end before goleak looks
	type ctxState struct {
		err         error
		hasDeadline bool
		value       any
	}
	states := make(chan ctxState, 4)
	hook := func(name string, fn func(context.Context) error) {
		l.AddCleanup(name, func(ctx context.Context) error {
			_, ok := ctx.Deadline()
			states <- ctxState{ctx.Err(), ok, ctx.Value(ctxKey{})}
			record(name)
			return fn(ctx)
		})
	}
	hook("db", func(context.Context) error { return nil })
	hook("hangs", func(context.Context) error { <-release; return nil }) // ignores its context
	hook("fails", func(context.Context) error { return errors.New("flush failed") })
	hook("cache", func(context.Context) error { return nil })

	ctx, cancel := context.WithCancel(context.WithValue(context.Background(), ctxKey{}, "v"))
	cancel() // Run stops at once; hooks must still get a live context
	err := l.Run(ctx)

	if want := []string{"cache", "fails", "hangs", "db"}; !slices.Equal(order, want) {
		t.Errorf("got order %v, want %v (reverse of registration)", order, want)
	}
	for range 4 {
		s := <-states
		if s.err != nil || !s.hasDeadline || s.value != "v" {
			t.Errorf("hook context: got err %v, deadline %v, value %v; want nil, true, v", s.err, s.hasDeadline, s.value)
		}
	}
	for _, want := range []string{`cleanup hook "fails": flush failed`, `cleanup hook "hangs": abandoned after 100ms`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("got error %v, want one containing %q", err, want)
		}
	}
	if got := sample(t, reg, lifecycle.MetricHookTimeouts, "hangs"); got != 1 {
		t.Errorf("got %s{hook=hangs} %v, want 1", lifecycle.MetricHookTimeouts, got)
	}
}

type ctxKey struct{}

// sample returns the value of the sample of metric name that has a label
// with value labelValue ("" for a metric without labels).
func sample(t *testing.T, reg *prometheus.Registry, name, labelValue string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if labelValue == "" && len(m.GetLabel()) == 0 {
				return m.GetCounter().GetValue() + m.GetGauge().GetValue()
			}
			for _, lp := range m.GetLabel() {
				if lp.GetValue() == labelValue {
					return m.GetCounter().GetValue() + m.GetGauge().GetValue()
				}
			}
		}
	}
	t.Fatalf("no sample %s{…=%q}", name, labelValue)
	return 0
}

func TestPreShutdownHookRunsDuringDelay(t *testing.T) {
	t.Parallel()
	sigs := make(chan os.Signal, 1)
	l := newLifecycle(t, lifecycle.Config{Signals: sigs, ShutdownDelay: 50 * time.Millisecond})
	srv := &http.Server{Handler: l.Handler()}
	l.AddHTTPServer(srv, listen(t))
	phases := make(chan lifecycle.Phase, 1)
	l.AddPreShutdownHook("deregister", func(ctx context.Context) error {
		phases <- l.Phase()
		return nil
	})
	var cleanupPhase lifecycle.Phase
	l.AddCleanup("close", func(context.Context) error { cleanupPhase = l.Phase(); return nil })
	_, r := start(t, l)
	eventually(t, "serving", func() bool { return l.Phase() == lifecycle.PhaseServing })
	sigs <- syscall.SIGTERM
	if err := r.wait(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got := <-phases; got != lifecycle.PhaseDraining {
		t.Errorf("pre-shutdown hook ran in phase %v, want draining", got)
	}
	if cleanupPhase != lifecycle.PhaseCleanup {
		t.Errorf("cleanup hook ran in phase %v, want cleanup", cleanupPhase)
	}
}

func TestSecondSignal(t *testing.T) {
	t.Parallel()
	for _, ignore := range []bool{false, true} {
		name := "exits"
		if ignore {
			name = "ignored"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			sigs := make(chan os.Signal, 2)
			exits := make(chan int, 2)
			l := newLifecycle(t, lifecycle.Config{
				Signals:            sigs,
				ShutdownDelay:      300 * time.Millisecond,
				IgnoreSecondSignal: ignore,
				Exit:               func(code int) { exits <- code },
			})
			l.AddStartupTask("none", func(context.Context) error { return nil })
			_, r := start(t, l)
			eventually(t, "serving", func() bool { return l.Phase() == lifecycle.PhaseServing })
			sigs <- syscall.SIGTERM
			eventually(t, "draining", l.Draining)
			sigs <- os.Interrupt
			if err := r.wait(t); err != nil {
				t.Fatalf("Run: %v", err)
			}
			var got []int
			for len(exits) > 0 {
				got = append(got, <-exits)
			}
			want := []int{1}
			if ignore {
				want = nil
			}
			if !slices.Equal(got, want) {
				t.Errorf("got exit calls %v, want %v", got, want)
			}
		})
	}
}

func TestStartupTaskFailureStops(t *testing.T) {
	t.Parallel()
	// A long delay that must be skipped: the Pod was never ready.
	l := newLifecycle(t, lifecycle.Config{ShutdownDelay: time.Hour, Signals: make(chan os.Signal)})
	l.AddHTTPServer(&http.Server{Handler: l.Handler()}, listen(t))
	l.AddStartupTask("migrate", func(context.Context) error { return errors.New("schema locked") })
	_, r := start(t, l)
	err := r.wait(t)
	if err == nil || !strings.Contains(err.Error(), `startup task "migrate": schema locked`) {
		t.Errorf("got %v, want the startup task's error", err)
	}
}

func TestSignalDuringStartupIsNotAnError(t *testing.T) {
	t.Parallel()
	sigs := make(chan os.Signal, 1)
	l := newLifecycle(t, lifecycle.Config{ShutdownDelay: time.Hour, Signals: sigs})
	entered := make(chan struct{})
	l.AddStartupTask("slow", func(ctx context.Context) error {
		close(entered)
		<-ctx.Done()
		return ctx.Err()
	})
	_, r := start(t, l)
	<-entered
	sigs <- syscall.SIGTERM
	if err := r.wait(t); err != nil {
		t.Errorf("got %v, want nil: shutdown during startup is no failure", err)
	}
}

func TestListenOnAddr(t *testing.T) {
	t.Parallel()
	l := newLifecycle(t, lifecycle.Config{})
	l.AddHTTPServer(&http.Server{Addr: "127.0.0.1:0", Handler: l.Handler()}, nil)
	l.AddHTTPServer(&http.Server{Addr: "256.0.0.1:1"}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := l.Run(ctx); err == nil || !strings.Contains(err.Error(), "256.0.0.1") {
		t.Errorf("got %v, want a listen error naming the bad address", err)
	}
}

func TestHTTPDrainIsCutAtDeadline(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	sigs := make(chan os.Signal, 1)
	l := newLifecycle(t, lifecycle.Config{Signals: sigs, DrainTimeout: 200 * time.Millisecond, Registry: reg})
	entered := make(chan struct{})
	release := make(chan struct{})
	srv := &http.Server{Handler: l.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release // ignores the request context: only Close can end the drain
	}))}
	ln := listen(t)
	l.AddHTTPServer(srv, ln)
	_, r := start(t, l)
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	go func() {
		resp, err := client.Get("http://" + ln.Addr().String() + "/")
		if err == nil {
			resp.Body.Close()
		}
	}()
	<-entered
	sigs <- syscall.SIGTERM
	if err := r.wait(t); err != nil {
		t.Errorf("Run: %v", err)
	}
	close(release)
	if got := sample(t, reg, lifecycle.MetricForcedStops, "http"); got != 1 {
		t.Errorf("got %s{server=http} %v, want 1", lifecycle.MetricForcedStops, got)
	}
	eventually(t, "handler returned", func() bool { return l.InFlight() == 0 })
}

func TestRunTwice(t *testing.T) {
	t.Parallel()
	l := newLifecycle(t, lifecycle.Config{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := l.Run(ctx); err != nil {
		t.Fatalf("first Run: %v", err)
	}
	if err := l.Run(ctx); err == nil {
		t.Error("got nil from a second Run, want an error")
	}
}

func TestRegisterAfterRunPanics(t *testing.T) {
	t.Parallel()
	l := newLifecycle(t, lifecycle.Config{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	l.Run(ctx)
	defer func() {
		if recover() == nil {
			t.Error("got no panic from AddCleanup after Run, want one")
		}
	}()
	l.AddCleanup("late", func(context.Context) error { return nil })
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	sigs := make(chan os.Signal, 1)
	l := newLifecycle(t, lifecycle.Config{Registry: reg, Signals: sigs})
	l.Watchdog("loop", time.Minute).Beat()
	h := l.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	_, r := start(t, l)
	eventually(t, "serving", func() bool { return l.Phase() == lifecycle.PhaseServing })
	if got := sample(t, reg, lifecycle.MetricPhase, "serving"); got != 1 {
		t.Errorf("got %s{phase=serving} %v, want 1", lifecycle.MetricPhase, got)
	}
	l.Drain()
	probe(h, "GET", "/", "")
	probe(h, "GET", "/", "")
	sigs <- syscall.SIGTERM
	if err := r.wait(t); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, label string
		want        float64
	}{
		{lifecycle.MetricDrained, "", 2},
		{lifecycle.MetricInFlight, "", 0},
		{lifecycle.MetricPhase, "stopped", 1},
		{lifecycle.MetricPhase, "serving", 0},
		{lifecycle.MetricPhase, "cleanup", 0},
		{lifecycle.MetricForcedStops, "http", 0},
		{lifecycle.MetricWatchdogMaxAge, "loop", 60},
	} {
		if got := sample(t, reg, c.name, c.label); got != c.want {
			t.Errorf("got %s{%q} %v, want %v", c.name, c.label, got, c.want)
		}
	}
	for _, p := range []string{"starting", "serving", "draining", "stopping", "cleanup"} {
		if got := sample(t, reg, lifecycle.MetricPhaseDuration, p); got < 0 {
			t.Errorf("got %s{phase=%s} %v, want >= 0", lifecycle.MetricPhaseDuration, p, got)
		}
	}
	if got := sample(t, reg, lifecycle.MetricWatchdogAge, "loop"); got < 0 || got > 60 {
		t.Errorf("got %s{watchdog=loop} %v, want within [0, 60]", lifecycle.MetricWatchdogAge, got)
	}

	// A second Lifecycle on the same registry is refused, not a panic.
	if _, err := lifecycle.New(lifecycle.Config{Registry: reg}); err == nil {
		t.Error("got nil error registering twice on one registry, want one")
	}
}
