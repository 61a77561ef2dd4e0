package lifecycle

import "net/http"

// StartRequest records that a request has started; call EndRequest when it
// ends. Middleware and the grpcinflight interceptors call them for you.
func (l *Lifecycle) StartRequest() { l.inflight.Add(1) }

// EndRequest records that a request started with StartRequest has ended.
// Requests that end while draining are counted as drained.
func (l *Lifecycle) EndRequest() {
	l.inflight.Add(-1)
	if l.draining.Load() {
		l.drained.Add(1)
	}
}

// InFlight returns the number of requests in flight: started and not yet
// ended.
func (l *Lifecycle) InFlight() int64 { return l.inflight.Load() }

// Middleware counts the requests served by next as in flight, and asks
// clients to close the connection (Connection: close) once draining has
// begun; on HTTP/2, net/http turns that header into a GOAWAY. Outside
// draining it does not allocate.
//
// Do not wrap the health handlers (Handler) with it: GET /drainz would count
// itself, and a preStop hook waiting for zero requests in flight would wait
// forever.
func (l *Lifecycle) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l.inflight.Add(1)
		defer l.EndRequest()
		if l.draining.Load() {
			w.Header().Set("Connection", "close")
		}
		next.ServeHTTP(w, r)
	})
}
