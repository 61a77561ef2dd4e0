package lifecycle_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/podlife/podlife/internal/testpeer"
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
	if got := sample(t, reg, "podlife_lifecycle_hook_timeouts_total", "hangs"); got != 1 {
		t.Errorf("got %s{hook=hangs} %v, want 1", "podlife_lifecycle_hook_timeouts_total", got)
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
	phases := make(chan string, 1)
	l.AddPreShutdownHook("deregister", func(ctx context.Context) error {
		phases <- l.PhaseName()
		return nil
	})
	var cleanupPhase string
	l.AddCleanup("close", func(context.Context) error { cleanupPhase = l.PhaseName(); return nil })
	_, r := start(t, l)
	isClosed(t, "serving", l.Serving())
	sigs <- syscall.SIGTERM
	if err := r.wait(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got := <-phases; got != "draining" {
		t.Errorf("pre-shutdown hook ran in phase %v, want draining", got)
	}
	if cleanupPhase != "cleanup" {
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
			isClosed(t, "serving", l.Serving())
			sigs <- syscall.SIGTERM
			isClosed(t, "draining", l.Draining())
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

// TestHTTPDrainIsCutAtDeadline: a handler that ignores its context is cut at
// the drain deadline, and Run says so (fault 8: it used to return nil, and
// the process exited 0 although requests were cut).
func TestHTTPDrainIsCutAtDeadline(t *testing.T) {
	for _, tt := range []struct {
		name string
		cfg  lifecycle.Config
		want string
	}{
		{"by DrainTimeout", lifecycle.Config{DrainTimeout: 200 * time.Millisecond}, `drain cut after 200ms`},
		// The overall deadline cuts the drain sooner: the error says when.
		{"by ShutdownTimeout", lifecycle.Config{DrainTimeout: time.Minute, ShutdownTimeout: 300 * time.Millisecond}, `drain cut after (\d|[12]\d\d|300)ms`},
	} {
		t.Run(tt.name, func(t *testing.T) { testHTTPDrainIsCut(t, tt.cfg, tt.want) })
	}
}

func testHTTPDrainIsCut(t *testing.T, cfg lifecycle.Config, want string) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	sigs := make(chan os.Signal, 1)
	cfg.Signals, cfg.Registry = sigs, reg
	l := newLifecycle(t, cfg)
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
	if err := r.wait(t); err == nil || !regexp.MustCompile(want).MatchString(err.Error()) {
		t.Errorf("Run: got %v, want an error matching %q", err, want)
	}
	close(release)
	if got := sample(t, reg, "podlife_lifecycle_forced_stops_total", "http"); got != 1 {
		t.Errorf("got %s{server=http} %v, want 1", "podlife_lifecycle_forced_stops_total", got)
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
	const delay = 30 * time.Millisecond
	l := newLifecycle(t, lifecycle.Config{Registry: reg, Signals: sigs, ShutdownDelay: delay})
	l.Watchdog("loop", time.Minute).Beat()
	h := l.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	_, r := start(t, l)
	isClosed(t, "serving", l.Serving())
	if got := sample(t, reg, "podlife_lifecycle_phase", "serving"); got != 1 {
		t.Errorf("got %s{phase=serving} %v, want 1", "podlife_lifecycle_phase", got)
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
		{"podlife_lifecycle_drained_requests_total", "", 2},
		{"podlife_lifecycle_inflight_requests", "", 0},
		{"podlife_lifecycle_phase", "stopped", 1},
		{"podlife_lifecycle_phase", "serving", 0},
		{"podlife_lifecycle_phase", "cleanup", 0},
		{"podlife_lifecycle_forced_stops_total", "http", 0},
		{"podlife_lifecycle_watchdog_max_age_seconds", "loop", 60},
	} {
		if got := sample(t, reg, c.name, c.label); got != c.want {
			t.Errorf("got %s{%q} %v, want %v", c.name, c.label, got, c.want)
		}
	}
	// Every phase was entered and left: its duration is set, and the
	// draining phase lasted at least the delay.
	for _, p := range []string{"starting", "serving", "draining", "stopping", "cleanup"} {
		if got := sample(t, reg, "podlife_lifecycle_phase_duration_seconds", p); got <= 0 {
			t.Errorf("got %s{phase=%s} %v, want > 0", "podlife_lifecycle_phase_duration_seconds", p, got)
		}
	}
	if got := sample(t, reg, "podlife_lifecycle_phase_duration_seconds", "draining"); got < delay.Seconds() {
		t.Errorf("got draining for %vs, want at least the %v delay", got, delay)
	}
	if got := sample(t, reg, "podlife_lifecycle_watchdog_age_seconds", "loop"); got < 0 || got > 60 {
		t.Errorf("got %s{watchdog=loop} %v, want within [0, 60]", "podlife_lifecycle_watchdog_age_seconds", got)
	}

	// A second Lifecycle on the same registry is refused, not a panic.
	if _, err := lifecycle.New(lifecycle.Config{Registry: reg}); err == nil {
		t.Error("got nil error registering twice on one registry, want one")
	}
}

// TestServesTLSWhateverTheCertificateSource: a server whose TLSConfig
// gives its certificate in any of the ways ServeTLS accepts is served over
// TLS, never in plaintext.
func TestServesTLSWhateverTheCertificateSource(t *testing.T) {
	t.Parallel()
	pki := testpeer.NewPKI(t)
	for _, tt := range []struct {
		name string
		cfg  *tls.Config
	}{
		{"Certificates", &tls.Config{Certificates: []tls.Certificate{pki.Server}}},
		{"GetCertificate", &tls.Config{GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return &pki.Server, nil }}},
		{"GetConfigForClient", &tls.Config{GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			return &tls.Config{Certificates: []tls.Certificate{pki.Server}}, nil
		}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l := newLifecycle(t, lifecycle.Config{})
			srv := &http.Server{TLSConfig: tt.cfg, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				fmt.Fprint(w, r.TLS != nil)
			})}
			ln := listen(t)
			l.AddHTTPServer(srv, ln)
			start(t, l)
			<-l.Serving()
			client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pki.CAPool}}}
			defer client.CloseIdleConnections()
			resp, err := client.Get("https://" + ln.Addr().String() + "/")
			if err != nil {
				t.Fatalf("GET over TLS: %v", err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(body) != "true" {
				t.Errorf("got r.TLS set %s, want true", body)
			}
		})
	}
}
