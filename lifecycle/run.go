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
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"
)

// Run serves the registered servers and runs the startup tasks and workers,
// then waits for SIGTERM or SIGINT (or a value on Config.Signals), for ctx to
// end, or for a server, startup task or worker to fail, and shuts down as
// described in the package documentation. It returns nil after a clean
// shutdown; otherwise an error that joins the failures of servers, tasks,
// workers and hooks, the drains that were cut, and, past
// Config.ShutdownTimeout, what was still running. Its last log line,
// "lifecycle: stopped", sums the shutdown up (durations, drained requests,
// forced stops), since /metrics stops with the servers.
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
	defer close(l.stoppedCh)
	log := l.cfg.Logger

	b := l.budget()
	l.metrics.budgetOverrun.Set(max(b.Total-b.GracePeriod, 0).Seconds())
	if b.fits() {
		log.Info("lifecycle: shutdown budget fits the grace period", b.logAttrs()...)
	} else {
		log.Error("lifecycle: shutdown budget exceeds the termination grace period: kubelet will SIGKILL before shutdown ends; "+
			"raise terminationGracePeriodSeconds (and LIFECYCLE_TERMINATION_GRACE_PERIOD) or shorten the delay, drain or hook timeouts",
			b.logAttrs()...)
	}
	if len(l.cfg.unknownEnv) > 0 {
		log.Warn("lifecycle: unknown variables ignored (misspelt?)", slog.String("unknown", strings.Join(l.cfg.unknownEnv, ",")),
			slog.String("known", strings.Join(envKeys(), ",")))
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

	var errs errorList
	servers := l.serve(&errs)

	startCtx, cancelStartup := context.WithCancel(ctx)
	defer cancelStartup()
	startupDone := make(chan struct{})
	go func() {
		defer close(startupDone)
		if err := l.runStartup(startCtx); err != nil {
			errs.add(err)
			l.fail()
		}
	}()
	workers := l.startWorkers(ctx, &errs)

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
	sd := &shutdown{start: time.Now(), trigger: trigger}
	sd.timeout = l.shutdownTimeout(b)
	sd.deadline = sd.start.Add(sd.timeout)
	wasReady := l.started.Load()
	cancelStartup()
	log.Info("lifecycle: shutdown", slog.String("trigger", trigger), duration("deadline", sd.timeout))
	l.Drain()

	// Shutdown delay, measured from the start of draining, and pre-shutdown
	// hooks. No delay if the Pod was never ready: no endpoint routes to it.
	l.mu.Lock()
	delayEnd := l.drainStart.Add(l.cfg.ShutdownDelay)
	preDone := l.preDone
	l.mu.Unlock()
	if wasReady {
		if d := time.Until(delayEnd); d > 0 {
			log.Info("lifecycle: shutdown delay", duration("remaining", d.Round(time.Millisecond)))
			sd.sleepUntil(delayEnd)
		}
	}
	if sd.wait(preDone) {
		l.mu.Lock()
		errs.add(l.preErrs...)
		l.mu.Unlock()
	} else {
		sd.running("pre-shutdown hooks")
	}

	l.setPhase(phaseStopping)
	log.Info("lifecycle: draining servers", slog.Int64("inflight", l.inflight.Load()))
	// The drain gets DrainTimeout, or what the overall deadline leaves.
	drain := max(0, min(l.cfg.DrainTimeout, time.Until(sd.deadline)))
	drainEnd := time.Now().Add(drain)
	l.stopServers(sd, drainEnd, drain.Round(time.Millisecond), &errs)
	if !sd.wait(servers) {
		sd.running("server goroutines")
	}
	// Startup tasks ignoring their cancelled context: a closed channel
	// wins over any timer.
	select {
	case <-startupDone:
	default:
		if !sd.waitUntil(startupDone, drainEnd) {
			log.Error("lifecycle: startup tasks ignore their cancelled context; abandoned")
			sd.running("startup tasks")
		}
	}
	l.stopWorkers(sd, workers, &errs)

	l.setPhase(phaseCleanup)
	errs.add(l.runCleanup(ctx, sd)...)
	l.setPhase(phaseStopped)
	err := errors.Join(append(errs.get(), sd.err())...)
	l.logSummary(sd, err)
	return err
}

// shutdown is the state of one shutdown: its overall deadline and what was
// left running.
type shutdown struct {
	start, deadline time.Time
	timeout         time.Duration
	trigger         string
	forced          int // drains cut: servers closed, connections closed
	mu              sync.Mutex
	still           []string
}

// running records that what is still running when the shutdown ends.
func (s *shutdown) running(what string) {
	s.mu.Lock()
	s.still = append(s.still, what)
	s.mu.Unlock()
}

// waitUntil waits for ch to close, until t or the overall deadline; it
// reports whether ch closed.
func (s *shutdown) waitUntil(ch <-chan struct{}, t time.Time) bool {
	select {
	case <-ch:
		return true
	default:
	}
	timer := time.NewTimer(time.Until(minTime(t, s.deadline)))
	defer timer.Stop()
	select {
	case <-ch:
		return true
	case <-timer.C:
		return false
	}
}

// wait waits for ch to close, until the overall deadline.
func (s *shutdown) wait(ch <-chan struct{}) bool { return s.waitUntil(ch, s.deadline) }

// sleepUntil sleeps until t, or the overall deadline.
func (s *shutdown) sleepUntil(t time.Time) {
	timer := time.NewTimer(time.Until(minTime(t, s.deadline)))
	defer timer.Stop()
	<-timer.C
}

// err names what was still running, if anything.
func (s *shutdown) err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.still) == 0 {
		return nil
	}
	return fmt.Errorf("lifecycle: shutdown ended (deadline %v) with still running: %s", s.timeout, strings.Join(s.still, "; "))
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// logSummary writes the last line, with what the metrics would have shown.
func (l *Lifecycle) logSummary(sd *shutdown, err error) {
	l.mu.Lock()
	attrs := []any{
		slog.String("trigger", sd.trigger),
		duration("shutdown", time.Since(sd.start).Round(time.Millisecond)),
		slog.Uint64("drained", l.drained.Load()),
		slog.Int("forced_stops", sd.forced),
		slog.Int64("inflight", l.inflight.Load()),
	}
	for p := phaseServing; p <= phaseCleanup; p++ {
		if d, ok := l.phaseTimes[p]; ok {
			attrs = append(attrs, duration(p.String(), d.Round(time.Millisecond)))
		}
	}
	l.mu.Unlock()
	if err != nil {
		l.cfg.Logger.Error("lifecycle: stopped", append(attrs, slog.Any("error", err))...)
		return
	}
	l.cfg.Logger.Info("lifecycle: stopped", attrs...)
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

// hasTLS reports whether srv's TLSConfig gives a certificate in any of the
// ways ServeTLS accepts: then srv is served over TLS, never in plaintext.
func hasTLS(srv *http.Server) bool {
	c := srv.TLSConfig
	return c != nil && (len(c.Certificates) > 0 || c.GetCertificate != nil || c.GetConfigForClient != nil)
}

// serve starts every server; the channel closes when all have returned.
func (l *Lifecycle) serve(errs *errorList) <-chan struct{} {
	var wg sync.WaitGroup
	for _, s := range l.httpServers {
		wg.Go(func() {
			var err error
			if hasTLS(s.srv) {
				err = s.srv.ServeTLS(s.ln, "", "")
			} else {
				err = s.srv.Serve(s.ln)
			}
			if err != nil && !errors.Is(err, http.ErrServerClosed) {
				errs.add(fmt.Errorf("lifecycle: http server %s: %w", s.ln.Addr(), err))
				l.fail()
			}
		})
	}
	for _, s := range l.grpcServers {
		wg.Go(func() {
			// Serve returns an error when the server was stopped before
			// it began (a shutdown that starts at once): not a failure.
			if err := s.srv.Serve(s.ln); err != nil && phase(l.phase.Load()) < phaseStopping {
				errs.add(fmt.Errorf("lifecycle: grpc server %s: %w", s.ln.Addr(), err))
				l.fail()
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	return done
}

// runStartup runs the startup tasks concurrently and marks startup
// finished. The first failure cancels the other tasks. Tasks cut short by
// shutdown (ctx cancelled) are not an error.
func (l *Lifecycle) runStartup(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	for i, t := range l.startup {
		g.Go(func() error {
			if err := l.protect("startup task", t.name, func() error { return t.fn(gctx) }); err != nil {
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
	if l.advance(phaseStarting, phaseServing) { // unless draining already began
		l.servingOnce.Do(func() { close(l.servingCh) })
	}
	l.cfg.Logger.Info("lifecycle: started")
	return nil
}

// errorList collects errors from several goroutines.
type errorList struct {
	mu   sync.Mutex
	errs []error
}

func (e *errorList) add(errs ...error) {
	e.mu.Lock()
	for _, err := range errs {
		if err != nil {
			e.errs = append(e.errs, err)
		}
	}
	e.mu.Unlock()
}

func (e *errorList) get() []error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]error(nil), e.errs...)
}
