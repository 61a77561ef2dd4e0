package logging

import (
	"net/http"

	"github.com/podlife/podlife/logging/internal/reqlog"
)

// Transport is an http.RoundTripper that carries the request being served
// on to the next service. On a request whose context comes from Middleware
// (or a grpclog server interceptor), it sets
//   - X-Request-ID to the request id, so that both services log the same;
//   - when the request came with a valid W3C traceparent, a traceparent
//     with the same trace id and a new parent id, one per call (this
//     package makes no spans of its own: the new id stands for the call),
//     and the tracestate that came with it.
//
// A header the caller set itself is left alone, and so is a request made
// outside of any request (nothing is added): Transport starts no trace.
// The request it passes on is a copy; the caller's is not changed. Its
// zero value sends through http.DefaultTransport.
type Transport struct {
	// Base sends the requests; nil means http.DefaultTransport.
	Base http.RoundTripper
}

// RoundTrip implements http.RoundTripper.
func (t Transport) RoundTrip(r *http.Request) (*http.Response, error) {
	base := t.base()
	id, traceParent, traceState := reqlog.From(r.Context()).Outgoing()
	if id == "" {
		return base.RoundTrip(r)
	}
	r = r.Clone(r.Context())
	if r.Header == nil {
		r.Header = http.Header{}
	}
	setIfUnset(r.Header, headerRequestID, id)
	if traceParent != "" && len(r.Header[headerTraceParent]) == 0 {
		r.Header[headerTraceParent] = []string{traceParent}
		setIfUnset(r.Header, headerTraceState, traceState)
	}
	return base.RoundTrip(r)
}

// CloseIdleConnections closes the idle connections of Base, if it has
// that method, so that http.Client.CloseIdleConnections reaches it.
func (t Transport) CloseIdleConnections() {
	if c, ok := t.base().(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

func (t Transport) base() http.RoundTripper {
	if t.Base == nil {
		return http.DefaultTransport
	}
	return t.Base
}

func setIfUnset(h http.Header, key, value string) {
	if value != "" && len(h[key]) == 0 {
		h[key] = []string{value}
	}
}
