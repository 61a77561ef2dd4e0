// Package lifecycle runs the servers of a Kubernetes workload and stops them
// the way kube-apiserver does.
//
// On SIGTERM or SIGINT, on a cancelled Run context, or on a drain request
// (POST /drainz, Drain), draining begins: readiness fails at once while
// liveness stays green, gRPC health servers go NOT_SERVING, HTTP keep-alives
// are turned off and pre-shutdown hooks start. The servers keep serving for
// the shutdown delay, while load balancers take the endpoint out of rotation.
// After the delay the HTTP and gRPC servers are drained concurrently, each
// with a deadline and a forced close as fallback; then the cleanup hooks run
// in reverse order of registration, each with its own deadline, and Run
// returns. A second signal exits the process at once with code 1.
//
// Lifecycle also serves /livez, /readyz, /startupz and /drainz (see Handler),
// counts requests in flight (Middleware; the grpcinflight subpackage for
// gRPC), runs heartbeat watchdogs that fail liveness when a goroutine stops
// making progress, and exports Prometheus metrics on a registry you pass.
package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// GRPCServer is the part of *grpc.Server that Lifecycle uses, so that this
// package does not import grpc-go.
type GRPCServer interface {
	Serve(net.Listener) error
	GracefulStop()
	Stop()
}

// HealthServer is the part of the gRPC health server (*health.Server) that
// Lifecycle uses: Shutdown sets every service to NOT_SERVING.
type HealthServer interface {
	Shutdown()
}

// Phase is a step of the lifecycle.
type Phase int32

// The phases, in order.
const (
	PhaseStarting Phase = iota // servers listening, startup tasks running
	PhaseServing               // startup finished; ready unless a check fails
	PhaseDraining              // readiness failing, shutdown delay and pre-shutdown hooks
	PhaseStopping              // servers draining
	PhaseCleanup               // cleanup hooks running
	PhaseStopped               // Run returned
)

// String returns the phase name used in logs and metrics, e.g. "draining".
func (p Phase) String() string {
	switch p {
	case PhaseStarting:
		return "starting"
	case PhaseServing:
		return "serving"
	case PhaseDraining:
		return "draining"
	case PhaseStopping:
		return "stopping"
	case PhaseCleanup:
		return "cleanup"
	case PhaseStopped:
		return "stopped"
	}
	return fmt.Sprintf("Phase(%d)", int32(p))
}

type httpEntry struct {
	srv *http.Server
	ln  net.Listener
}

type grpcEntry struct {
	srv GRPCServer
	ln  net.Listener
}

type namedFunc struct {
	name string
	fn   func(context.Context) error
}

// Lifecycle runs servers and hooks and stops them in order. Create it with
// New, register everything, then call Run once. Its methods are safe for
// concurrent use.
type Lifecycle struct {
	cfg     Config
	metrics *metrics

	inflight atomic.Int64
	drained  atomic.Uint64
	draining atomic.Bool
	started  atomic.Bool // startup tasks done
	phase    atomic.Int32

	drainOnce sync.Once
	failOnce  sync.Once
	failCh    chan struct{} // closed when a server or startup task fails

	mu          sync.Mutex
	running     bool
	runCtx      context.Context // Run's context, for the pre-shutdown hooks
	preDone     chan struct{}   // closed when the pre-shutdown hooks have returned
	preErrs     []error
	drainStart  time.Time
	phaseStart  time.Time
	httpServers []httpEntry
	grpcServers []grpcEntry
	health      []HealthServer
	startup     []namedFunc
	startupDone []bool
	preShutdown []namedFunc
	cleanup     []namedFunc
	readiness   []namedFunc
	watchdogs   atomic.Pointer[[]*Heartbeat]

	// Preallocated header values, so the health handlers do not allocate.
	textPlain, jsonType, noSniff, noStore []string
	okBody                                []byte
}

// New returns a Lifecycle configured by cfg (zero fields take the defaults
// described on Config). It fails if cfg holds a negative duration or if the
// metrics cannot be registered on cfg.Registry.
func New(cfg Config) (*Lifecycle, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	l := &Lifecycle{
		cfg:        cfg.withDefaults(),
		failCh:     make(chan struct{}),
		phaseStart: time.Now(),
		textPlain:  []string{"text/plain; charset=utf-8"},
		jsonType:   []string{"application/json"},
		noSniff:    []string{"nosniff"},
		noStore:    []string{"no-store"},
		okBody:     []byte("ok"),
	}
	l.watchdogs.Store(new([]*Heartbeat))
	m, err := newMetrics(l, cfg.Registry)
	if err != nil {
		return nil, err
	}
	l.metrics = m
	m.setPhase(PhaseStarting, PhaseStarting, 0)
	return l, nil
}

// Config returns the configuration in use, with defaults filled in.
func (l *Lifecycle) Config() Config { return l.cfg }

func (l *Lifecycle) register(what string, add func()) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.running {
		panic("lifecycle: " + what + " registered after Run")
	}
	add()
}

// AddHTTPServer registers srv to be served by Run on ln, or on srv.Addr if ln
// is nil (with TLS when srv.TLSConfig carries certificates). Keep-alives are
// turned off when draining starts, and the server is shut down after the
// shutdown delay, then closed if it is still busy after DrainTimeout. It
// panics if called after Run. Hijacked connections (websockets) are not
// tracked by http.Server.Shutdown: close them from srv.RegisterOnShutdown.
func (l *Lifecycle) AddHTTPServer(srv *http.Server, ln net.Listener) {
	l.register("HTTP server", func() { l.httpServers = append(l.httpServers, httpEntry{srv, ln}) })
}

// AddGRPCServer registers srv (a *grpc.Server) to be served by Run on ln.
// After the shutdown delay it is stopped with GracefulStop, then with Stop if
// it is still busy after DrainTimeout: GracefulStop alone would wait forever
// for open streams. It panics if called after Run.
func (l *Lifecycle) AddGRPCServer(srv GRPCServer, ln net.Listener) {
	if ln == nil {
		panic("lifecycle: AddGRPCServer needs a listener")
	}
	l.register("gRPC server", func() { l.grpcServers = append(l.grpcServers, grpcEntry{srv, ln}) })
}

// AddHealthServer registers a gRPC health server (*health.Server) whose
// Shutdown is called as soon as draining starts, so that gRPC health checks
// and watchers see NOT_SERVING. It panics if called after Run.
func (l *Lifecycle) AddHealthServer(h HealthServer) {
	l.register("health server", func() { l.health = append(l.health, h) })
}

// AddStartupTask registers fn to run when Run starts, concurrently with the
// other startup tasks and with the servers already listening. /startupz and
// /readyz pass once every task has returned nil; a task that fails stops the
// Lifecycle and its error is returned by Run. The context is cancelled when
// shutdown begins. It panics if called after Run.
func (l *Lifecycle) AddStartupTask(name string, fn func(context.Context) error) {
	l.register("startup task", func() { l.startup = append(l.startup, namedFunc{name, fn}) })
}

// AddReadinessCheck registers a check run by /readyz on every request; an
// error fails readiness. Keep it cheap. It panics if called after Run.
func (l *Lifecycle) AddReadinessCheck(name string, fn func(context.Context) error) {
	l.register("readiness check", func() { l.readiness = append(l.readiness, namedFunc{name, fn}) })
}

// AddPreShutdownHook registers fn to run when draining starts, concurrently
// with the other pre-shutdown hooks and with the shutdown delay; the servers
// are drained once the delay has passed and every hook has returned or hit
// HookTimeout. It panics if called after Run.
func (l *Lifecycle) AddPreShutdownHook(name string, fn func(context.Context) error) {
	l.register("pre-shutdown hook", func() { l.preShutdown = append(l.preShutdown, namedFunc{name, fn}) })
}

// AddCleanup registers fn to run after the servers have stopped. Cleanup
// hooks run one at a time in reverse order of registration, each with a
// context that carries the values of Run's context but is not cancelled with
// it, and that ends after HookTimeout. A hook still running at its deadline
// is abandoned (its goroutine keeps running) and the next one starts. It
// panics if called after Run.
func (l *Lifecycle) AddCleanup(name string, fn func(context.Context) error) {
	l.register("cleanup hook", func() { l.cleanup = append(l.cleanup, namedFunc{name, fn}) })
}

// Phase returns the current phase.
func (l *Lifecycle) Phase() Phase { return Phase(l.phase.Load()) }

// Draining reports whether draining has begun.
func (l *Lifecycle) Draining() bool { return l.draining.Load() }

// Drain begins draining without stopping: readiness fails, gRPC health goes
// NOT_SERVING, keep-alives are turned off and pre-shutdown hooks start. The
// servers stop only on a signal or when Run's context ends, after what is
// left of the shutdown delay. Drain is what POST /drainz calls; calling it
// again has no effect.
func (l *Lifecycle) Drain() {
	l.drainOnce.Do(func() {
		l.mu.Lock()
		l.drainStart = time.Now()
		servers := append([]httpEntry(nil), l.httpServers...)
		health := append([]HealthServer(nil), l.health...)
		hooks := append([]namedFunc(nil), l.preShutdown...)
		ctx := l.runCtx
		preDone := make(chan struct{})
		l.preDone = preDone
		l.mu.Unlock()
		if ctx == nil {
			ctx = context.Background()
		}
		l.draining.Store(true)
		l.setPhase(PhaseDraining)
		for _, h := range health {
			h.Shutdown()
		}
		for _, s := range servers {
			s.srv.SetKeepAlivesEnabled(false)
		}
		// Hooks start once readiness already fails.
		go func() {
			errs := l.runHooks(ctx, "pre-shutdown", hooks, true)
			l.mu.Lock()
			l.preErrs = errs
			l.mu.Unlock()
			close(preDone)
		}()
		l.cfg.Logger.Info("lifecycle: draining", slog.Int64("inflight", l.inflight.Load()))
	})
}

func (l *Lifecycle) fail() { l.failOnce.Do(func() { close(l.failCh) }) }

// setPhase moves to p and records how long the previous phase lasted.
func (l *Lifecycle) setPhase(p Phase) { l.advance(-1, p) }

// advance moves from phase from (any phase if from is negative) to p, and
// records how long the previous phase lasted. It does nothing if the phase
// is not from.
func (l *Lifecycle) advance(from, p Phase) {
	l.mu.Lock()
	if from >= 0 && Phase(l.phase.Load()) != from {
		l.mu.Unlock()
		return
	}
	prev := Phase(l.phase.Swap(int32(p)))
	now := time.Now()
	d := now.Sub(l.phaseStart)
	l.phaseStart = now
	l.mu.Unlock()
	l.metrics.setPhase(prev, p, d)
}

// Budget returns the worst-case shutdown duration for the configuration and
// the hooks registered so far. Run logs it, at error level if it does not fit.
func (l *Lifecycle) Budget() Budget {
	l.mu.Lock()
	nCleanup, nPre := len(l.cleanup), len(l.preShutdown)
	l.mu.Unlock()
	c := l.cfg
	b := Budget{
		PreStop:       c.PreStop,
		ShutdownDelay: c.ShutdownDelay,
		Drain:         c.DrainTimeout,
		Cleanup:       time.Duration(nCleanup) * c.HookTimeout,
		Margin:        c.Margin,
		GracePeriod:   c.TerminationGracePeriod,
	}
	if nPre > 0 && c.HookTimeout > b.ShutdownDelay {
		b.ShutdownDelay = c.HookTimeout
	}
	b.Total = b.PreStop + b.ShutdownDelay + b.Drain + b.Cleanup + b.Margin
	return b
}

var errRunTwice = errors.New("lifecycle: Run called twice")
