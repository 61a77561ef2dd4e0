package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"
)

// Run serves the registered servers and runs the startup tasks, then waits
// for SIGTERM or SIGINT (or a value on Config.Signals), for ctx to end, or
// for a server or startup task to fail, and shuts down as described in the
// package documentation. It returns nil after a clean shutdown, otherwise
// the errors of the servers, startup tasks and hooks. Cleanup hooks and
// forced stops are logged.
//
// During shutdown a second signal calls Config.Exit(1) (os.Exit by default),
// unless Config.IgnoreSecondSignal is set. Run may be called once.
func (l *Lifecycle) Run(ctx context.Context) error {
	l.mu.Lock()
	if l.running {
		l.mu.Unlock()
		return errRunTwice
	}
	l.running = true
	l.runCtx = ctx
	l.startupDone = make([]bool, len(l.startup))
	l.mu.Unlock()
	log := l.cfg.Logger

	if b := l.Budget(); b.Fits() {
		log.Info("lifecycle: shutdown budget fits the grace period", b.logAttrs()...)
	} else {
		log.Error("lifecycle: shutdown budget exceeds the termination grace period: kubelet will SIGKILL before shutdown ends; "+
			"raise terminationGracePeriodSeconds (and LIFECYCLE_TERMINATION_GRACE_PERIOD) or shorten the delay, drain or hook timeouts",
			b.logAttrs()...)
	}
	if l.cfg.ShutdownDelay == 0 {
		log.Warn("lifecycle: no shutdown delay: requests routed to this Pod while its endpoint is being removed will fail")
	}

	if err := l.listen(); err != nil {
		return err
	}

	sigs := l.cfg.Signals
	if sigs == nil {
		ch := make(chan os.Signal, 2)
		signal.Notify(ch, syscall.SIGTERM, os.Interrupt)
		defer signal.Stop(ch)
		sigs = ch
	}
	// Signals seen; the second one during shutdown exits.
	signalled := make(chan os.Signal, 1)
	done := make(chan struct{})
	var watcher sync.WaitGroup
	watcher.Go(func() { l.watchSignals(sigs, signalled, done) })
	defer func() { close(done); watcher.Wait() }()

	var servers errgroup.Group
	var serveErrs errorList
	for _, s := range l.httpServers {
		servers.Go(func() error {
			err := serveHTTP(s)
			if err != nil && !errors.Is(err, http.ErrServerClosed) {
				serveErrs.add(fmt.Errorf("lifecycle: http server %s: %w", s.ln.Addr(), err))
				l.fail()
			}
			return nil
		})
	}
	for _, s := range l.grpcServers {
		servers.Go(func() error {
			// Serve returns an error when the server was stopped before
			// it began (a shutdown that starts at once): not a failure.
			if err := s.srv.Serve(s.ln); err != nil && l.Phase() < PhaseStopping {
				serveErrs.add(fmt.Errorf("lifecycle: grpc server %s: %w", s.ln.Addr(), err))
				l.fail()
			}
			return nil
		})
	}

	startCtx, cancelStartup := context.WithCancel(ctx)
	defer cancelStartup()
	startupDone := make(chan struct{})
	go func() {
		defer close(startupDone)
		if err := l.runStartup(startCtx); err != nil {
			serveErrs.add(err)
			l.fail()
		}
	}()

	// Wait for the trigger.
	var trigger string
	select {
	case s := <-signalled:
		trigger = "signal " + s.String()
	case <-ctx.Done():
		trigger = "context done"
	case <-l.failCh:
		trigger = "failure"
	}
	wasReady := l.started.Load()
	cancelStartup()
	log.Info("lifecycle: shutdown", slog.String("trigger", trigger))
	l.Drain()

	// Shutdown delay, measured from the start of draining, and pre-shutdown
	// hooks. No delay if the Pod was never ready: no endpoint routes to it.
	l.mu.Lock()
	delayEnd := l.drainStart.Add(l.cfg.ShutdownDelay)
	l.mu.Unlock()
	if wasReady {
		if d := time.Until(delayEnd); d > 0 {
			log.Info("lifecycle: shutdown delay", duration("remaining", d.Round(time.Millisecond)))
			t := time.NewTimer(d)
			<-t.C
		}
	}
	hookErrs := l.waitPreShutdown()

	l.setPhase(PhaseStopping)
	log.Info("lifecycle: draining servers", slog.Int64("inflight", l.inflight.Load()))
	drainEnd := time.Now().Add(l.cfg.DrainTimeout)
	l.stopServers()
	servers.Wait()
	l.waitStartup(startupDone, drainEnd)

	l.setPhase(PhaseCleanup)
	hookErrs = append(hookErrs, l.runCleanup(ctx)...)
	l.setPhase(PhaseStopped)
	log.Info("lifecycle: stopped", slog.Uint64("drained", l.drained.Load()))
	return errors.Join(append(serveErrs.get(), hookErrs...)...)
}

// watchSignals forwards the first signal and exits on the second.
func (l *Lifecycle) watchSignals(sigs <-chan os.Signal, first chan<- os.Signal, done <-chan struct{}) {
	n := 0
	for {
		select {
		case <-done:
			return
		case s, ok := <-sigs:
			if !ok {
				return
			}
			n++
			if n == 1 {
				first <- s
				continue
			}
			if l.cfg.IgnoreSecondSignal {
				l.cfg.Logger.Warn("lifecycle: signal ignored during shutdown", slog.String("signal", s.String()))
				continue
			}
			l.cfg.Logger.Error("lifecycle: second signal, exiting at once", slog.String("signal", s.String()))
			l.cfg.Exit(1)
		}
	}
}

// listen opens the listeners of HTTP servers registered without one.
func (l *Lifecycle) listen() error {
	for i, s := range l.httpServers {
		if s.ln != nil {
			continue
		}
		addr := s.srv.Addr
		if addr == "" {
			addr = ":http"
			if hasTLS(s.srv) {
				addr = ":https"
			}
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			for _, o := range l.httpServers[:i] {
				o.ln.Close()
			}
			return fmt.Errorf("lifecycle: %w", err)
		}
		l.mu.Lock()
		l.httpServers[i].ln = ln
		l.mu.Unlock()
	}
	return nil
}

func hasTLS(srv *http.Server) bool {
	return srv.TLSConfig != nil && (len(srv.TLSConfig.Certificates) > 0 || srv.TLSConfig.GetCertificate != nil)
}

func serveHTTP(s httpEntry) error {
	if hasTLS(s.srv) {
		return s.srv.ServeTLS(s.ln, "", "")
	}
	return s.srv.Serve(s.ln)
}

// runStartup runs the startup tasks concurrently and marks startup
// finished. The first failure cancels the other tasks. Tasks cut short by
// shutdown (ctx cancelled) are not an error.
func (l *Lifecycle) runStartup(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	for i, t := range l.startup {
		g.Go(func() error {
			if err := t.fn(gctx); err != nil {
				return fmt.Errorf("lifecycle: startup task %q: %w", t.name, err)
			}
			l.mu.Lock()
			l.startupDone[i] = true
			l.mu.Unlock()
			return nil
		})
	}
	err := g.Wait()
	if ctx.Err() != nil {
		return nil // shutdown began before startup finished
	}
	if err != nil {
		return err
	}
	l.started.Store(true)
	l.advance(PhaseStarting, PhaseServing) // unless draining already began
	l.cfg.Logger.Info("lifecycle: started")
	return nil
}

// waitStartup waits for startup tasks that have not yet returned, up to the
// deadline of the drain that ran alongside them: it adds nothing to the
// shutdown budget.
func (l *Lifecycle) waitStartup(done <-chan struct{}, deadline time.Time) {
	t := time.NewTimer(max(time.Until(deadline), 0))
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		l.cfg.Logger.Error("lifecycle: startup tasks ignore their cancelled context; abandoned")
	}
}

// stopServers drains every server concurrently, each with the drain
// timeout, then forces those still busy.
func (l *Lifecycle) stopServers() {
	var wg sync.WaitGroup
	for _, s := range l.httpServers {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), l.cfg.DrainTimeout)
			defer cancel()
			if err := s.srv.Shutdown(ctx); err != nil {
				l.metrics.forcedStops.WithLabelValues("http").Inc()
				l.cfg.Logger.Warn("lifecycle: http drain timed out; closing", slog.String("addr", s.ln.Addr().String()),
					slog.Any("error", err))
				s.srv.Close()
			}
		})
	}
	for _, s := range l.grpcServers {
		wg.Go(func() {
			stopped := make(chan struct{})
			go func() { s.srv.GracefulStop(); close(stopped) }()
			t := time.NewTimer(l.cfg.DrainTimeout)
			defer t.Stop()
			select {
			case <-stopped:
			case <-t.C:
				l.metrics.forcedStops.WithLabelValues("grpc").Inc()
				l.cfg.Logger.Warn("lifecycle: grpc drain timed out; stopping", slog.String("addr", s.ln.Addr().String()))
				s.srv.Stop()
				<-stopped
			}
		})
	}
	wg.Wait()
}

// waitPreShutdown waits for the pre-shutdown hooks started by Drain, which
// each end or are abandoned by HookTimeout.
func (l *Lifecycle) waitPreShutdown() []error {
	l.mu.Lock()
	done := l.preDone
	l.mu.Unlock()
	<-done
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.preErrs
}

// runCleanup runs the cleanup hooks one by one, last registered first.
func (l *Lifecycle) runCleanup(ctx context.Context) []error {
	hooks := make([]namedFunc, len(l.cleanup))
	for i, h := range l.cleanup {
		hooks[len(hooks)-1-i] = h
	}
	return l.runHooks(ctx, "cleanup", hooks, false)
}

// runHooks runs hooks, concurrently or one by one, each with a context that
// is not cancelled with ctx and ends after HookTimeout. A hook still running
// at its deadline is abandoned.
func (l *Lifecycle) runHooks(ctx context.Context, kind string, hooks []namedFunc, concurrent bool) []error {
	var errs errorList
	run := func(h namedFunc) {
		hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), l.cfg.HookTimeout)
		defer cancel()
		result := make(chan error, 1)
		start := time.Now()
		go func() { result <- h.fn(hctx) }()
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
			errs.add(fmt.Errorf("lifecycle: %s hook %q: abandoned after %v", kind, h.name, l.cfg.HookTimeout))
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

// errorList collects errors from several goroutines.
type errorList struct {
	mu   sync.Mutex
	errs []error
}

func (e *errorList) add(err error) {
	e.mu.Lock()
	e.errs = append(e.errs, err)
	e.mu.Unlock()
}

func (e *errorList) get() []error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]error(nil), e.errs...)
}
