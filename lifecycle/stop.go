package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"
)

// forceGrace is how long Run waits for a gRPC server to return from Stop
// before it counts the server's handlers as still running.
const forceGrace = time.Second

// stopServers drains every server concurrently until drainEnd (drain from
// now: DrainTimeout, or less when the overall deadline is nearer), then
// forces those still busy, and closes the hijacked connections still open.
// A forced stop is an error: requests were cut.
func (l *Lifecycle) stopServers(sd *shutdown, drainEnd time.Time, drain time.Duration, errs *errorList) {
	var wg sync.WaitGroup
	var forced sync.Mutex
	force := func(kind, what string, err error) {
		l.metrics.forcedStops.WithLabelValues(kind).Inc()
		forced.Lock()
		sd.forced++
		forced.Unlock()
		errs.add(err)
		l.cfg.Logger.Warn("lifecycle: drain cut at its deadline", slog.String("server", what), slog.Any("error", err))
	}
	// gRPC first: its GracefulStop must not wait for the HTTP steps.
	for _, s := range l.grpcServers {
		wg.Go(func() {
			stopped := make(chan struct{})
			go func() { s.srv.GracefulStop(); close(stopped) }()
			if sd.waitUntil(stopped, drainEnd) {
				return
			}
			force("grpc", "grpc "+s.ln.Addr().String(), fmt.Errorf("lifecycle: grpc server %s: drain cut after %v; its streams were stopped",
				s.ln.Addr(), drain))
			go s.srv.Stop()
			if !sd.waitUntil(stopped, time.Now().Add(forceGrace)) {
				// A handler ignores its context: do not wait for it.
				sd.running(fmt.Sprintf("grpc server %s (a handler ignores its context)", s.ln.Addr()))
			}
		})
	}
	if l.cfg.SendRetryAfter && len(l.httpServers) > 0 {
		// kube-apiserver's ShutdownSendRetryAfter: keep the listeners
		// open, answer new requests 429, until in-flight requests end.
		l.retryAfter.Store(true)
		l.waitIdle(drainEnd)
	}
	for _, s := range l.httpServers {
		wg.Go(func() {
			ctx, cancel := context.WithDeadline(context.Background(), drainEnd)
			defer cancel()
			if err := s.srv.Shutdown(ctx); err != nil {
				s.srv.Close()
				force("http", "http "+s.ln.Addr().String(), fmt.Errorf("lifecycle: http server %s: drain cut after %v (%w); its requests in flight were closed",
					s.ln.Addr(), drain, err))
			}
		})
	}
	wg.Wait()
	if !sd.waitUntil(l.conns.drained(), drainEnd) {
		if n := l.conns.closeAll(); n > 0 {
			force("conn", "hijacked", fmt.Errorf("lifecycle: %d hijacked connection(s) closed at the drain deadline", n))
		}
	}
}

// waitIdle waits until no HTTP request of Middleware is in flight, or
// until t. Other tracked work (gRPC calls, hijacked connections, Track)
// does not hold the HTTP listeners open.
func (l *Lifecycle) waitIdle(t time.Time) {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for l.httpInflight.Load() > 0 && time.Now().Before(t) {
		<-tick.C
	}
}

// worker is a running AddWorker function.
type worker struct {
	name   string
	cancel context.CancelFunc
	done   chan struct{}
	err    error
}

// startWorkers starts the workers, each with a context that carries ctx's
// values and is cancelled only by stopWorkers.
func (l *Lifecycle) startWorkers(ctx context.Context, errs *errorList) []*worker {
	ws := make([]*worker, len(l.workers))
	for i, f := range l.workers {
		wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		w := &worker{name: f.name, cancel: cancel, done: make(chan struct{})}
		ws[i] = w
		go func() {
			defer close(w.done)
			w.err = l.protect("worker", f.name, func() error { return f.fn(wctx) })
			if wctx.Err() == nil && w.err != nil {
				errs.add(fmt.Errorf("lifecycle: worker %q: %w", f.name, w.err))
				l.fail()
				w.err = nil // reported
			}
		}()
	}
	return ws
}

// stopWorkers stops the workers one by one, last registered first.
func (l *Lifecycle) stopWorkers(sd *shutdown, ws []*worker, errs *errorList) {
	for i := len(ws) - 1; i >= 0; i-- {
		w := ws[i]
		w.cancel()
		if !sd.waitUntil(w.done, time.Now().Add(l.cfg.HookTimeout)) {
			l.metrics.hookTimeouts.WithLabelValues(w.name).Inc()
			l.cfg.Logger.Error("lifecycle: worker still running at its deadline; abandoned", slog.String("worker", w.name),
				duration("timeout", l.cfg.HookTimeout))
			sd.running(fmt.Sprintf("worker %q", w.name))
			continue
		}
		if w.err != nil && !errors.Is(w.err, context.Canceled) {
			errs.add(fmt.Errorf("lifecycle: worker %q: %w", w.name, w.err))
		}
	}
}

// runCleanup runs the cleanup hooks one by one, last registered first.
func (l *Lifecycle) runCleanup(ctx context.Context, sd *shutdown) []error {
	hooks := make([]namedFunc, len(l.cleanup))
	for i, h := range l.cleanup {
		hooks[len(hooks)-1-i] = h
	}
	return l.runHooksUntil(ctx, "cleanup", hooks, false, sd)
}

// runHooks runs hooks concurrently or one by one, as runHooksUntil, without
// an overall deadline.
func (l *Lifecycle) runHooks(ctx context.Context, kind string, hooks []namedFunc, concurrent bool) []error {
	return l.runHooksUntil(ctx, kind, hooks, concurrent, nil)
}

// runHooksUntil runs hooks, concurrently or one by one, each with a context
// that is not cancelled with ctx and ends after HookTimeout or at the
// overall deadline of sd (if not nil). A hook still running at its deadline
// is abandoned; a panic is the hook's error.
func (l *Lifecycle) runHooksUntil(ctx context.Context, kind string, hooks []namedFunc, concurrent bool, sd *shutdown) []error {
	var errs errorList
	run := func(h namedFunc) {
		deadline := time.Now().Add(l.cfg.HookTimeout)
		if sd != nil {
			if !time.Now().Before(sd.deadline) {
				errs.add(fmt.Errorf("lifecycle: %s hook %q: not run: the shutdown deadline (%v) has passed", kind, h.name, sd.timeout))
				return
			}
			deadline = minTime(deadline, sd.deadline)
		}
		hctx, cancel := context.WithDeadline(context.WithoutCancel(ctx), deadline)
		defer cancel()
		result := make(chan error, 1)
		start := time.Now()
		go func() { result <- l.protect(kind+" hook", h.name, func() error { return h.fn(hctx) }) }()
		select {
		case err := <-result:
			if err != nil {
				errs.add(fmt.Errorf("lifecycle: %s hook %q: %w", kind, h.name, err))
				l.cfg.Logger.Error("lifecycle: hook failed", slog.String("kind", kind), slog.String("hook", h.name),
					slog.Any("error", err))
				return
			}
			l.cfg.Logger.Info("lifecycle: hook done", slog.String("kind", kind), slog.String("hook", h.name),
				duration("took", time.Since(start).Round(time.Microsecond)))
		case <-hctx.Done():
			l.metrics.hookTimeouts.WithLabelValues(h.name).Inc()
			took := time.Since(start).Round(time.Millisecond)
			errs.add(fmt.Errorf("lifecycle: %s hook %q: abandoned after %v", kind, h.name, min(took, l.cfg.HookTimeout)))
			l.cfg.Logger.Error("lifecycle: hook abandoned at its deadline", slog.String("kind", kind),
				slog.String("hook", h.name), duration("timeout", l.cfg.HookTimeout))
		}
	}
	if !concurrent {
		for _, h := range hooks {
			run(h)
		}
		return errs.get()
	}
	var wg sync.WaitGroup
	for _, h := range hooks {
		wg.Go(func() { run(h) })
	}
	wg.Wait()
	return errs.get()
}

// protect calls fn and turns a panic into an error, logged with its stack
// and counted in the hook panics metric.
func (l *Lifecycle) protect(kind, name string, fn func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			l.metrics.hookPanics.WithLabelValues(name).Inc()
			l.cfg.Logger.Error("lifecycle: panic recovered", slog.String("kind", kind), slog.String("name", name),
				slog.Any("panic", p), slog.String("stack", string(debug.Stack())))
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return fn()
}
