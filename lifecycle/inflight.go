package lifecycle

import (
	"bufio"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
)

// Track records that a request has started and returns the function that
// records its end: done := l.Track(); defer done(). Calling done more than
// once has no further effect. Middleware and the grpcinflight interceptors
// call it for you; use it for work that arrives some other way (a message
// from a queue). Requests that end while draining are counted as drained.
func (l *Lifecycle) Track() (done func()) {
	l.inflight.Add(1)
	var once atomic.Bool
	return func() {
		if once.CompareAndSwap(false, true) {
			l.end()
		}
	}
}

func (l *Lifecycle) end() {
	l.inflight.Add(-1)
	if l.draining.Load() {
		l.drained.Add(1)
	}
}

// endHTTP ends a request of Middleware.
func (l *Lifecycle) endHTTP() {
	l.httpInflight.Add(-1)
	l.end()
}

// InFlight returns the number of requests in flight: tracked and not yet
// done, hijacked connections included.
func (l *Lifecycle) InFlight() int64 { return l.inflight.Load() }

// Middleware counts the requests served by next as in flight, and once
// draining has begun asks clients to close the connection (Connection:
// close on the response; net/http turns it into a GOAWAY on HTTP/2), so that
// each keep-alive connection retires after its next request instead of
// being cut while idle. A connection hijacked by next (a websocket upgrade)
// counts as in flight until it is closed, and is closed at the drain
// deadline. With Config.SendRetryAfter, requests that arrive after the
// shutdown delay get 429 with Retry-After. Outside draining and upgrades it
// does not allocate.
//
// Do not wrap the health handlers (Handler) with it: GET /drainz would count
// itself, and a preStop hook waiting for zero requests in flight would wait
// forever.
func (l *Lifecycle) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if l.draining.Load() {
			h := w.Header()
			h["Connection"] = l.closeConn
			if l.retryAfter.Load() {
				h["Retry-After"] = l.retryAfterSecs
				w.WriteHeader(http.StatusTooManyRequests)
				return
			}
		}
		l.inflight.Add(1)
		l.httpInflight.Add(1)
		defer l.endHTTP()
		if r.Header["Upgrade"] != nil { // a map lookup: Header.Get would canonicalize

			w = &hijackWriter{ResponseWriter: w, l: l}
		}
		next.ServeHTTP(w, r)
	})
}

// hijackWriter tracks the connection its handler hijacks.
type hijackWriter struct {
	http.ResponseWriter
	l *Lifecycle
}

// Hijack hijacks the connection and tracks it.
func (w *hijackWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	return w.l.conns.add(c, w.l.Track()), brw, nil
}

// Unwrap lets http.ResponseController reach the other methods.
func (w *hijackWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// trackedConn is a hijacked connection: in flight until closed.
type trackedConn struct {
	net.Conn
	set  *connSet
	done func()
	once sync.Once
}

// Close closes the connection and ends its tracking.
func (c *trackedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.set.remove(c)
		c.done()
	})
	return err
}

// connSet holds the hijacked connections still open.
type connSet struct {
	mu    sync.Mutex
	m     map[*trackedConn]struct{}
	empty chan struct{} // closed when m becomes empty, if someone waits
}

func (s *connSet) add(c net.Conn, done func()) net.Conn {
	t := &trackedConn{Conn: c, set: s, done: done}
	s.mu.Lock()
	s.m[t] = struct{}{}
	s.mu.Unlock()
	return t
}

func (s *connSet) remove(c *trackedConn) {
	s.mu.Lock()
	delete(s.m, c)
	if len(s.m) == 0 && s.empty != nil {
		close(s.empty)
		s.empty = nil
	}
	s.mu.Unlock()
}

// drained returns a channel closed when no tracked connection is open.
func (s *connSet) drained() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := make(chan struct{})
	if len(s.m) == 0 {
		close(ch)
		return ch
	}
	if s.empty == nil {
		s.empty = make(chan struct{})
	}
	return s.empty
}

// closeAll closes the tracked connections and returns how many there were.
func (s *connSet) closeAll() int {
	s.mu.Lock()
	cs := make([]*trackedConn, 0, len(s.m))
	for c := range s.m {
		cs = append(cs, c)
	}
	s.mu.Unlock()
	for _, c := range cs {
		c.Close()
	}
	return len(cs)
}
