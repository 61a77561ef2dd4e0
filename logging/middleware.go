package logging

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/http"
	"runtime/debug"
	"strings"

	"github.com/rs/zerolog"

	"github.com/podlife/podlife/logging/internal/reqlog"
)

// Header names, in the canonical form of net/http's maps.
const (
	headerRequestID   = "X-Request-Id"
	headerTraceParent = "Traceparent"
	headerTraceState  = "Tracestate"
)

// httpScope is everything Middleware keeps for one request, in one allocation.
type httpScope struct {
	reqlog.Scope
	rw  responseWriter
	hdr [1]string
}

// Middleware logs one access line per request and gives the handler a
// request-scoped logger (FromContext). It
//   - keeps a sane incoming X-Request-ID or generates one, and sets it on
//     the response;
//   - takes trace_id and span_id from a W3C traceparent header, and keeps
//     it and tracestate for Transport to pass on;
//   - takes the user id from Config.UserID and SetUserID;
//   - takes the error from SetError, SetErrorCode or a HandlerFunc;
//   - recovers a panic in next and logs it with its stack; answers 500 if
//     nothing was written yet, or else aborts the response with
//     http.ErrAbortHandler, so that a truncated body does not pass for a
//     whole one; either way the server keeps serving. A panic with
//     http.ErrAbortHandler itself is logged without a stack and passed on.
//
// It logs no header values other than those above: never Authorization or
// Cookie. Its type fits func(http.Handler) http.Handler.
func (l *Logger) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hs := &httpScope{}
		info := reqlog.Info{
			RequestID:   first(r.Header[headerRequestID]),
			TraceParent: first(r.Header[headerTraceParent]),
		}
		if info.TraceParent != "" {
			info.TraceState = strings.Join(r.Header[headerTraceState], ",")
		}
		if l.userID != nil {
			info.UserID = l.userID(r)
		}
		hs.Init(l.core, r.Context(), info)
		hs.hdr[0] = hs.RequestID()
		w.Header()[headerRequestID] = hs.hdr[:]
		hs.rw.w = w
		hs.Response = &hs.rw
		r = r.WithContext(hs.Context())
		defer hs.finish(r)
		next.ServeHTTP(&hs.rw, r)
	})
}

// finish writes the access line. It is deferred, so that it can recover.
func (hs *httpScope) finish(r *http.Request) {
	p := recover()
	var stack []byte
	abort := p == http.ErrAbortHandler
	if p != nil {
		if !abort {
			stack = debug.Stack()
			if hs.rw.wrote {
				// Part of the response is out: ending it normally would pass
				// a truncated body off as whole. Abort the connection instead.
				abort = true
			} else {
				http.Error(&hs.rw, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
			}
		}
		hs.SetErrorCode(CodePanic)
		if err, ok := p.(error); ok {
			hs.SetError(fmt.Errorf("panic: %w", err))
		} else {
			hs.SetError(fmt.Errorf("panic: %v", p))
		}
	}
	status := hs.rw.status
	if !hs.rw.wrote {
		status = http.StatusOK // what net/http sends for an empty response
	}
	lvl := zerolog.InfoLevel
	switch code, err := hs.Outcome(); {
	case p != nil || status >= 500:
		lvl = zerolog.ErrorLevel
	case code != "" || err != nil:
		lvl = zerolog.WarnLevel
	}
	if e := hs.Finish(lvl); e != nil {
		e.Str(FieldMethod, r.Method).
			Str(FieldURLPath, reqlog.Clip(r.URL.Path)).
			Int(FieldStatusCode, status)
		if stack != nil {
			e.Bytes(FieldErrorStack, stack)
		}
		e.Msg("http request")
	}
	if abort {
		panic(http.ErrAbortHandler)
	}
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

// responseWriter records the status code for the access line.
type responseWriter struct {
	w      http.ResponseWriter
	status int
	wrote  bool
}

// Header implements http.ResponseWriter.
func (rw *responseWriter) Header() http.Header { return rw.w.Header() }

// WriteHeader implements http.ResponseWriter. Informational (1xx) headers
// other than 101 Switching Protocols are passed on but not recorded: the
// final status comes later.
func (rw *responseWriter) WriteHeader(code int) {
	if !rw.wrote && (code >= 200 || code == http.StatusSwitchingProtocols) {
		rw.status, rw.wrote = code, true
	}
	rw.w.WriteHeader(code)
}

// Write implements http.ResponseWriter.
func (rw *responseWriter) Write(b []byte) (int, error) {
	if !rw.wrote {
		rw.status, rw.wrote = http.StatusOK, true
	}
	return rw.w.Write(b)
}

// Flush implements http.Flusher when the underlying writer can flush.
func (rw *responseWriter) Flush() {
	if !rw.wrote {
		rw.status, rw.wrote = http.StatusOK, true
	}
	_ = http.NewResponseController(rw.w).Flush()
}

// Hijack implements http.Hijacker when the underlying writer can hijack.
func (rw *responseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, brw, err := http.NewResponseController(rw.w).Hijack()
	if err == nil && !rw.wrote {
		rw.status, rw.wrote = http.StatusSwitchingProtocols, true
	}
	return c, brw, err
}

// Wrote reports whether the response has started.
func (rw *responseWriter) Wrote() bool { return rw.wrote }

// Unwrap lets http.ResponseController reach the underlying writer.
func (rw *responseWriter) Unwrap() http.ResponseWriter { return rw.w }

// HandlerFunc is an HTTP handler that returns an error. Served inside
// Middleware, a returned error is recorded as the request's error (see
// SetError), and, if the handler wrote nothing yet, answered with the
// status of an *Error in its tree (500 if none) and that status's text:
// the error's own text is logged, never sent.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// ServeHTTP implements http.Handler.
func (f HandlerFunc) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	err := f(w, r)
	if err == nil {
		return
	}
	s := reqlog.From(r.Context())
	s.SetError(err)
	if s != nil && s.Response != nil && s.Response.Wrote() {
		return
	}
	status := http.StatusInternalServerError
	var e *Error
	if errors.As(err, &e) && e.Status != 0 {
		status = e.Status
	}
	http.Error(w, http.StatusText(status), status)
}
