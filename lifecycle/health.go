package lifecycle

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"strconv"
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
func (l *Lifecycle) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/livez", l.LivezHandler())
	mux.Handle("/readyz", l.ReadyzHandler())
	mux.Handle("/startupz", l.StartupzHandler())
	mux.Handle("/drainz", l.DrainzHandler())
	return mux
}

// LivezHandler returns the /livez handler described on Handler.
func (l *Lifecycle) LivezHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { l.serveChecks(w, r, livez) })
}

// ReadyzHandler returns the /readyz handler described on Handler.
func (l *Lifecycle) ReadyzHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { l.serveChecks(w, r, readyz) })
}

// StartupzHandler returns the /startupz handler described on Handler.
func (l *Lifecycle) StartupzHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { l.serveChecks(w, r, startupz) })
}

// DrainzHandler returns the /drainz handler described on Handler.
func (l *Lifecycle) DrainzHandler() http.Handler { return http.HandlerFunc(l.serveDrainz) }

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

// check is one line of a listing.
type check struct {
	name string
	err  error
}

// pass answers the common question, does every check pass, without
// allocating.
func (l *Lifecycle) pass(ctx context.Context, k probeKind) bool {
	switch k {
	case livez:
		if l.draining.Load() {
			return true
		}
		for _, h := range *l.watchdogs.Load() {
			if h.check() != nil {
				return false
			}
		}
		return true
	case readyz:
		if !l.started.Load() || l.draining.Load() {
			return false
		}
		for _, c := range l.readinessChecks() {
			if c.fn(ctx) != nil {
				return false
			}
		}
		return true
	default:
		return l.started.Load()
	}
}

// list returns every check of kind k with its result.
func (l *Lifecycle) list(ctx context.Context, k probeKind) []check {
	out := []check{{name: "ping"}}
	switch k {
	case livez:
		if l.draining.Load() {
			return out
		}
		for _, h := range *l.watchdogs.Load() {
			out = append(out, check{"watchdog:" + h.name, h.check()})
		}
	case readyz:
		var err error
		if !l.started.Load() {
			err = errNotStarted
		}
		out = append(out, check{"startup", err})
		err = nil
		if l.draining.Load() {
			err = errDraining
		}
		out = append(out, check{"shutdown", err})
		for _, c := range l.readinessChecks() {
			out = append(out, check{c.name, c.fn(ctx)})
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
			out = append(out, check{"startup", err})
		}
		for i, t := range tasks {
			var err error
			if i >= len(done) || !done[i] {
				err = errNotFinished
			}
			out = append(out, check{"task:" + t.name, err})
		}
	}
	return out
}

func (l *Lifecycle) readinessChecks() []namedFunc {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.readiness
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
	if !verbose && l.pass(r.Context(), k) {
		l.setTextHeaders(w)
		w.WriteHeader(http.StatusOK)
		w.Write(l.okBody)
		return
	}
	var buf bytes.Buffer
	failed := false
	for _, c := range l.list(r.Context(), k) {
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
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
