package lifecycle

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Handler returns a handler serving the four health endpoints, for a mux or
// as the whole handler of a health port:
//
//   - GET /livez: 200 "ok" while every watchdog is fresh (watchdogs are not
//     checked once draining has begun: liveness stays green during shutdown).
//   - GET /readyz: 200 "ok" once startup has finished, while not draining and
//     while every readiness check passes.
//   - GET /startupz: 200 "ok" once every startup task has returned nil.
//   - GET /drainz: {"draining":false,"inflight":0}; POST /drainz, accepted
//     from loopback addresses only, calls Drain and answers 202 with the same
//     document.
//
// A failing check answers 503 with one line per check, as kube-apiserver's
// /readyz does ("[-]shutdown failed: reason withheld"); with ?verbose the
// list is also given on success, and failures carry their reason.
//
// Readiness checks run once per request, concurrently, each bounded by
// Config.CheckTimeout (see AddReadinessCheck). Any other path is 404, so the
// handler can be mounted on "/" of a health port, or under each path.
func (l *Lifecycle) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/livez":
			l.serveChecks(w, r, livez)
		case "/readyz":
			l.serveChecks(w, r, readyz)
		case "/startupz":
			l.serveChecks(w, r, startupz)
		case "/drainz":
			l.serveDrainz(w, r)
		default:
			http.NotFound(w, r)
		}
	})
}

type probeKind int

const (
	livez probeKind = iota
	readyz
	startupz
)

func (k probeKind) String() string {
	switch k {
	case livez:
		return "livez"
	case readyz:
		return "readyz"
	default:
		return "startupz"
	}
}

// checkLine is one line of a listing.
type checkLine struct {
	name string
	err  error
}

// pass answers the common question, does every check pass, without
// allocating when there are no readiness checks. For readyz it returns the
// results of the checks it ran, so that a listing does not run them again.
func (l *Lifecycle) pass(k probeKind) (bool, []error) {
	switch k {
	case livez:
		if l.draining.Load() {
			return true, nil
		}
		for _, h := range *l.watchdogs.Load() {
			if h.check() != nil {
				return false, nil
			}
		}
		return true, nil
	case readyz:
		checks := l.readinessChecks()
		if len(checks) == 0 {
			return l.started.Load() && !l.draining.Load(), nil
		}
		results := l.runChecks(checks)
		ok := l.started.Load() && !l.draining.Load()
		for _, err := range results {
			ok = ok && err == nil
		}
		return ok, results
	default:
		return l.started.Load(), nil
	}
}

// list returns every check of kind k with its result; results are those of
// the readiness checks, already run.
func (l *Lifecycle) list(k probeKind, results []error) []checkLine {
	out := []checkLine{{name: "ping"}}
	switch k {
	case livez:
		if l.draining.Load() {
			return out
		}
		for _, h := range *l.watchdogs.Load() {
			out = append(out, checkLine{"watchdog:" + h.name, h.check()})
		}
	case readyz:
		var err error
		if !l.started.Load() {
			err = errNotStarted
		}
		out = append(out, checkLine{"startup", err})
		err = nil
		if l.draining.Load() {
			err = errDraining
		}
		out = append(out, checkLine{"shutdown", err})
		for i, c := range l.readinessChecks() {
			if i < len(results) {
				out = append(out, checkLine{c.name, results[i]})
			}
		}
	default:
		l.mu.Lock()
		tasks := l.startup
		done := append([]bool(nil), l.startupDone...)
		l.mu.Unlock()
		if len(tasks) == 0 {
			var err error
			if !l.started.Load() {
				err = errNotStarted
			}
			out = append(out, checkLine{"startup", err})
		}
		for i, t := range tasks {
			var err error
			if i >= len(done) || !done[i] {
				err = errNotFinished
			}
			out = append(out, checkLine{"task:" + t.name, err})
		}
	}
	return out
}

func (l *Lifecycle) readinessChecks() []*readinessCheck {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.readiness
}

// runChecks runs every check once, concurrently, and returns their results
// in order.
func (l *Lifecycle) runChecks(checks []*readinessCheck) []error {
	calls := make([]*checkCall, len(checks))
	for i, c := range checks {
		calls[i] = c.start(l)
	}
	t := time.NewTimer(l.cfg.CheckTimeout)
	defer t.Stop()
	results := make([]error, len(checks))
	for i, call := range calls {
		select {
		case <-call.done:
			results[i] = call.err
		case <-t.C:
			// Every check has had its whole timeout: the others too.
			for j := i; j < len(calls); j++ {
				select {
				case <-calls[j].done:
					results[j] = calls[j].err
				default:
					results[j] = fmt.Errorf("timed out after %v", l.cfg.CheckTimeout)
				}
			}
			return results
		}
	}
	return results
}

// readinessCheck is a check with at most one run at a time.
type readinessCheck struct {
	name string
	fn   func(context.Context) error
	mu   sync.Mutex
	call *checkCall // the run in progress, shared by the requests that wait for it
}

// checkCall is one run of a check.
type checkCall struct {
	done chan struct{}
	err  error
}

// start returns the run in progress, or starts one, bounded by CheckTimeout.
// A check that ignores its context keeps its goroutine, but no other starts
// until it returns.
func (c *readinessCheck) start(l *Lifecycle) *checkCall {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.call != nil {
		return c.call
	}
	call := &checkCall{done: make(chan struct{})}
	c.call = call
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), l.cfg.CheckTimeout)
		defer cancel()
		call.err = l.protect("readiness check", c.name, func() error { return c.fn(ctx) })
		c.mu.Lock()
		c.call = nil
		c.mu.Unlock()
		close(call.done)
	}()
	return call
}

type healthError string

func (e healthError) Error() string { return string(e) }

const (
	errNotStarted  healthError = "startup not finished"
	errNotFinished healthError = "not finished"
	errDraining    healthError = "draining"
)

func (l *Lifecycle) setTextHeaders(w http.ResponseWriter) {
	h := w.Header()
	h["Content-Type"] = l.textPlain
	h["X-Content-Type-Options"] = l.noSniff
}

// serveChecks runs the checks of kind k and writes the apiserver-style
// answer. The common case, every check passing without ?verbose, does not
// allocate.
func (l *Lifecycle) serveChecks(w http.ResponseWriter, r *http.Request, k probeKind) {
	verbose := false
	if r.URL.RawQuery != "" {
		_, verbose = r.URL.Query()["verbose"]
	}
	ok, results := l.pass(k)
	if !verbose && ok {
		l.setTextHeaders(w)
		w.WriteHeader(http.StatusOK)
		w.Write(l.okBody)
		return
	}
	var buf bytes.Buffer
	failed := false
	for _, c := range l.list(k, results) {
		switch {
		case c.err == nil:
			buf.WriteString("[+]" + c.name + " ok\n")
		case verbose:
			failed = true
			buf.WriteString("[-]" + c.name + " failed: " + c.err.Error() + "\n")
		default:
			failed = true
			buf.WriteString("[-]" + c.name + " failed: reason withheld\n")
		}
	}
	l.setTextHeaders(w)
	if failed {
		buf.WriteString(k.String() + " check failed\n")
		w.WriteHeader(http.StatusServiceUnavailable)
	} else {
		buf.WriteString(k.String() + " check passed\n")
		w.WriteHeader(http.StatusOK)
	}
	w.Write(buf.Bytes())
}

// serveDrainz answers GET with the drain state and POST, from loopback only,
// by starting to drain.
func (l *Lifecycle) serveDrainz(w http.ResponseWriter, r *http.Request) {
	status := http.StatusOK
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	case http.MethodPost:
		if !isLoopback(r.RemoteAddr) {
			l.setTextHeaders(w)
			http.Error(w, "drainz: POST is accepted from loopback only", http.StatusForbidden)
			return
		}
		l.Drain()
		status = http.StatusAccepted
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		http.Error(w, "drainz: method not allowed", http.StatusMethodNotAllowed)
		return
	}
	var b [64]byte
	buf := append(b[:0], `{"draining":`...)
	buf = strconv.AppendBool(buf, l.draining.Load())
	buf = append(buf, `,"inflight":`...)
	buf = strconv.AppendInt(buf, l.inflight.Load(), 10)
	buf = append(buf, "}\n"...)
	h := w.Header()
	h["Content-Type"] = l.jsonType
	h["Cache-Control"] = l.noStore
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		w.Write(buf)
	}
}

// isLoopback reports whether a request's RemoteAddr is a loopback address.
// A unix socket peer ("@" or "") counts as local.
func isLoopback(remoteAddr string) bool {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		return remoteAddr == "" || remoteAddr == "@"
	}
	// Not internal/check.IsLoopback, on purpose: that one judges a probe's
	// target and accepts names ("localhost", "*.localhost"); this gate of
	// POST /drainz wants the peer's IP and nothing else. Importing it would
	// also make every image that builds a lifecycle user copy
	// internal/check (images/service/Dockerfile copies what it imports).
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
