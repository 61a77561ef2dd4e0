// Package lifecycle runs the servers and background workers of a Kubernetes
// workload and stops them the way kube-apiserver does.
//
// On SIGTERM or SIGINT, on a cancelled Run context, or on a drain request
// (POST /drainz, Drain), draining begins: readiness fails at once while
// liveness stays green, gRPC health servers go NOT_SERVING, and pre-shutdown
// hooks start. The servers keep serving for the shutdown delay, while load
// balancers take the endpoint out of rotation; every response of Middleware
// carries Connection: close (a GOAWAY on HTTP/2), so keep-alive connections
// retire on their next request, and idle ones are closed only when the delay
// ends. Then the HTTP and gRPC servers are drained concurrently, each with a
// deadline and a forced close as fallback; the background workers are
// stopped and the cleanup hooks run, each in reverse order of registration
// and with its own deadline; and Run returns. One overall deadline bounds the
// whole shutdown whatever a handler or hook does. A second signal exits the
// process at once with code 1.
//
// Lifecycle also serves /livez, /readyz, /startupz and /drainz (Handler),
// counts requests in flight (Middleware, Track; the grpcinflight subpackage
// for gRPC), runs heartbeat watchdogs that fail liveness when a goroutine
// stops making progress, and exports Prometheus metrics on a registry you
// pass.
package lifecycle

import (
	"context"
	"errors"
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

// Lifecycle runs servers, workers and hooks and stops them in order. Create
// it with New, register everything, then call Run once. Its methods are safe
// for concurrent use.
type Lifecycle struct {
	cfg     Config
	metrics *metrics

	inflight atomic.Int64
	// httpInflight counts Middleware's requests alone: SendRetryAfter
	// answers 429 while they run, not while other tracked work does.
	httpInflight atomic.Int64
	drained      atomic.Uint64
	draining     atomic.Bool
	retryAfter   atomic.Bool // answer 429 to new requests (Config.SendRetryAfter)
	started      atomic.Bool // startup tasks done
	phase        atomic.Int32

	servingCh, drainingCh, stoppedCh chan struct{}

	drainOnce, servingOnce, failOnce sync.Once
	failCh                           chan struct{} // closed when a server, task or worker fails

	conns connSet // hijacked connections, closed at the drain deadline

	mu          sync.Mutex
	running     bool
	runCtx      context.Context // Run's context, for the pre-shutdown hooks
	preDone     chan struct{}   // closed when the pre-shutdown hooks have returned
	preErrs     []error
	drainStart  time.Time
	phaseStart  time.Time
	phaseTimes  map[phase]time.Duration
	httpServers []httpEntry
	grpcServers []grpcEntry
	health      []HealthServer
	startup     []namedFunc
	startupDone []bool
	workers     []namedFunc
	preShutdown []namedFunc
	cleanup     []namedFunc
	readiness   []*readinessCheck
	watchdogs   atomic.Pointer[[]*Heartbeat]

	// Preallocated header values, so the health handlers and the
	// middleware do not allocate.
	textPlain, jsonType, noSniff, noStore, closeConn, retryAfterSecs []string
	okBody                                                           []byte
}

// New returns a Lifecycle configured by cfg; zero fields take the defaults
// described on Config. It fails if cfg holds a negative timeout or if the
// metrics cannot be registered on cfg.Registry.
func New(cfg Config) (*Lifecycle, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	l := &Lifecycle{
		cfg:            cfg.withDefaults(),
		failCh:         make(chan struct{}),
		servingCh:      make(chan struct{}),
		drainingCh:     make(chan struct{}),
		stoppedCh:      make(chan struct{}),
		phaseStart:     time.Now(),
		phaseTimes:     map[phase]time.Duration{},
		textPlain:      []string{"text/plain; charset=utf-8"},
		jsonType:       []string{"application/json"},
		noSniff:        []string{"nosniff"},
		noStore:        []string{"no-store"},
		closeConn:      []string{"close"},
		retryAfterSecs: []string{"1"},
		okBody:         []byte("ok"),
	}
	l.conns.m = map[*trackedConn]struct{}{}
	l.watchdogs.Store(new([]*Heartbeat))
	m, err := newMetrics(l, cfg.Registry)
	if err != nil {
		return nil, err
	}
	l.metrics = m
	m.setPhase(phaseStarting, phaseStarting, 0)
	return l, nil
}

func (l *Lifecycle) register(what string, add func()) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.running {
		panic("lifecycle: " + what + " registered after Run")
	}
	add()
}

// AddHTTPServer registers srv to be served by Run on ln, or on srv.Addr if ln
// is nil (with TLS when srv.TLSConfig carries certificates). It is shut down
// after the shutdown delay (which closes its idle connections), then closed
// if it is still busy after DrainTimeout. It panics if called after Run.
func (l *Lifecycle) AddHTTPServer(srv *http.Server, ln net.Listener) {
	l.register("HTTP server", func() { l.httpServers = append(l.httpServers, httpEntry{srv, ln}) })
}

// AddGRPCServer registers srv (a *grpc.Server) to be served by Run on ln.
// After the shutdown delay it is stopped with GracefulStop, then with Stop if
// it is still busy after DrainTimeout; Run does not wait for handlers that
// ignore their context past that. It panics if called after Run.
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

// AddWorker registers fn to run in the background for the life of the
// service (a queue consumer, a janitor): Run starts it with the servers, and
// cancels its context after the servers have drained, so that requests in
// flight can still use it. Workers are stopped one at a time in reverse order
// of registration, each given HookTimeout to return, before the cleanup
// hooks. A worker that returns an error (or panics) before shutdown stops the
// Lifecycle, and Run returns the error; one that returns nil has simply
// finished. It panics if called after Run.
func (l *Lifecycle) AddWorker(name string, fn func(context.Context) error) {
	l.register("worker", func() { l.workers = append(l.workers, namedFunc{name, fn}) })
}

// AddReadinessCheck registers a check for /readyz. A request runs each check
// at most once, all checks concurrently, each bounded by CheckTimeout;
// requests that arrive while a check is still running share its result, so a
// hanging check holds one goroutine, not one per probe. It panics if called
// after Run.
func (l *Lifecycle) AddReadinessCheck(name string, fn func(context.Context) error) {
	l.register("readiness check", func() { l.readiness = append(l.readiness, &readinessCheck{name: name, fn: fn}) })
}

// AddPreShutdownHook registers fn to run when draining starts, concurrently
// with the other pre-shutdown hooks and with the shutdown delay; the servers
// are drained once the delay has passed and every hook has returned or hit
// HookTimeout. It panics if called after Run.
func (l *Lifecycle) AddPreShutdownHook(name string, fn func(context.Context) error) {
	l.register("pre-shutdown hook", func() { l.preShutdown = append(l.preShutdown, namedFunc{name, fn}) })
}

// AddCleanup registers fn to run after the servers and workers have stopped.
// Cleanup hooks run one at a time in reverse order of registration, each
// with a context that carries the values of Run's context but is not
// cancelled with it, and that ends after HookTimeout. A hook still running at
// its deadline is abandoned (its goroutine keeps running) and the next one
// starts. A panic is recovered and counted as the hook's error. It panics if
// called after Run.
func (l *Lifecycle) AddCleanup(name string, fn func(context.Context) error) {
	l.register("cleanup hook", func() { l.cleanup = append(l.cleanup, namedFunc{name, fn}) })
}

// Serving returns a channel closed once every startup task has returned nil
// (at once without tasks): the service is ready unless a readiness check
// fails. It stays open if draining began first.
func (l *Lifecycle) Serving() <-chan struct{} { return l.servingCh }

// Draining returns a channel closed when draining begins. Long-lived
// connections (websockets, streams) should select on it and ask their
// clients to reconnect elsewhere; hijacked connections of Middleware are
// closed at the drain deadline anyway.
func (l *Lifecycle) Draining() <-chan struct{} { return l.drainingCh }

// Stopped returns a channel closed when Run is about to return, after the
// cleanup hooks.
func (l *Lifecycle) Stopped() <-chan struct{} { return l.stoppedCh }

// Drain begins draining without stopping: readiness fails, gRPC health goes
// NOT_SERVING, responses carry Connection: close and pre-shutdown hooks
// start. The servers stop only on a signal or when Run's context ends, after
// what is left of the shutdown delay. Drain is what POST /drainz calls;
// calling it again has no effect.
func (l *Lifecycle) Drain() {
	l.drainOnce.Do(func() {
		l.mu.Lock()
		l.drainStart = time.Now()
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
		close(l.drainingCh)
		l.setPhase(phaseDraining)
		for _, h := range health {
			h.Shutdown()
		}
		// Keep-alives stay on: an idle connection closed now would lose
		// the request a client sends on it while balancers still route
		// here. Middleware retires each connection on its next response.
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
func (l *Lifecycle) setPhase(p phase) { l.advance(-1, p) }

// advance moves from phase from (any phase if from is negative) to p, and
// records how long the previous phase lasted. It does nothing if the phase
// is not from.
func (l *Lifecycle) advance(from, p phase) bool {
	l.mu.Lock()
	if from >= 0 && phase(l.phase.Load()) != from {
		l.mu.Unlock()
		return false
	}
	prev := phase(l.phase.Swap(int32(p)))
	now := time.Now()
	d := now.Sub(l.phaseStart)
	l.phaseStart = now
	if prev != p {
		l.phaseTimes[prev] = d
	}
	// Under mu, so that two racing moves cannot leave two phases at 1.
	l.metrics.setPhase(prev, p, d)
	l.mu.Unlock()
	return true
}

var errRunTwice = errors.New("lifecycle: Run called twice")
