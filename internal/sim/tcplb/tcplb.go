// Package tcplb is a TCP (layer 4) load balancer on loopback that plays
// kube-proxy for the demo and the tests: each new client connection goes to
// the next backend in rotation, and a backend taken out of the rotation gets
// no new connections while the connections already open to it are left
// alone, as conntrack leaves them. RemoveAfter takes a backend out only after
// a lag, the time an EndpointSlice change takes to reach every node.
//
// A connection that finds no backend, or whose backend refuses it, is reset,
// the closest a proxy that has already accepted it can come to the
// "connection refused" of a DNAT to a closed port.
//
// With package users, which plays a Service's users, it makes
// internal/sim, the cluster the demo and the zero-drop tests run against.
package tcplb

import (
	"context"
	"errors"
	"io"
	"net"
	"slices"
	"sync"
	"time"
)

// dialTimeout bounds the connection to a backend.
const dialTimeout = 2 * time.Second

// Balancer is a running load balancer. Its methods are safe for concurrent
// use.
type Balancer struct {
	ln     net.Listener
	ctx    context.Context // done once Close starts: ends dials and RemoveAfter waits
	cancel context.CancelFunc
	wg     sync.WaitGroup // the accept loop, proxied connections, RemoveAfter waits

	mu       sync.Mutex
	backends []string
	next     int
	conns    map[net.Conn]struct{} // client and backend sides, closed by Close
	closed   bool
}

// New starts a Balancer listening on a loopback port (127.0.0.1:0) with
// backends, host:port addresses, in rotation in that order. It may start
// with none and have them added later.
func New(backends ...string) (*Balancer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	b := &Balancer{
		ln:       ln,
		ctx:      ctx,
		cancel:   cancel,
		backends: slices.Clone(backends),
		conns:    map[net.Conn]struct{}{},
	}
	b.wg.Go(b.serve)
	return b, nil
}

// Addr is the address clients connect to, as host:port.
func (b *Balancer) Addr() string { return b.ln.Addr().String() }

// Add puts backend into the rotation at once. A backend added twice gets
// twice the share of new connections.
func (b *Balancer) Add(backend string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.backends = append(b.backends, backend)
}

// Remove takes backend out of the rotation at once: it gets no new
// connections. Connections already open to it are left alone.
func (b *Balancer) Remove(backend string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.backends = slices.DeleteFunc(b.backends, func(a string) bool { return a == backend })
}

// RemoveAfter is Remove once lag has passed; until then backend keeps
// getting new connections. The returned channel is closed when backend is
// out of the rotation, or when the Balancer is closed, whichever comes first.
func (b *Balancer) RemoveAfter(backend string, lag time.Duration) <-chan struct{} {
	done := make(chan struct{})
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		close(done)
		return done
	}
	b.wg.Go(func() {
		defer close(done)
		t := time.NewTimer(lag)
		defer t.Stop()
		select {
		case <-t.C:
			b.Remove(backend)
		case <-b.ctx.Done():
		}
	})
	return done
}

// Close stops accepting connections, tears down the proxied ones, and
// returns once every goroutine of the Balancer has ended. A second Close
// returns the listener's error for closing twice.
func (b *Balancer) Close() error {
	b.cancel()
	err := b.ln.Close()
	b.mu.Lock()
	b.closed = true
	for c := range b.conns {
		c.Close()
	}
	b.mu.Unlock()
	b.wg.Wait()
	return err
}

// serve accepts connections until the listener is closed.
func (b *Balancer) serve() {
	for {
		c, err := b.ln.Accept()
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil { // out of file descriptors, say: back off and retry
			select {
			case <-b.ctx.Done():
				return
			case <-time.After(10 * time.Millisecond):
			}
			continue
		}
		backend, ok := b.admit(c)
		if !ok {
			c.Close()
			return
		}
		b.wg.Go(func() { b.proxy(c, backend) })
	}
}

// admit records the client connection c so that Close can tear it down,
// and picks its backend, "" if there is none. It reports false if the
// Balancer is closed.
func (b *Balancer) admit(c net.Conn) (backend string, ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return "", false
	}
	b.conns[c] = struct{}{}
	if len(b.backends) > 0 {
		b.next %= len(b.backends)
		backend = b.backends[b.next]
		b.next++
	}
	return backend, true
}

// track records the backend side c of a proxied connection, or reports
// false if the Balancer is closed.
func (b *Balancer) track(c net.Conn) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return false
	}
	b.conns[c] = struct{}{}
	return true
}

// release forgets c and closes it.
func (b *Balancer) release(c net.Conn) {
	b.mu.Lock()
	delete(b.conns, c)
	b.mu.Unlock()
	c.Close()
}

// proxy connects client to backend and copies both ways until both are
// done, passing half-closes on.
func (b *Balancer) proxy(client net.Conn, backend string) {
	defer b.release(client)
	if backend == "" {
		reset(client)
		return
	}
	d := net.Dialer{Timeout: dialTimeout}
	server, err := d.DialContext(b.ctx, "tcp", backend)
	if err != nil {
		reset(client)
		return
	}
	if !b.track(server) {
		server.Close()
		return
	}
	defer b.release(server)
	var wg sync.WaitGroup
	wg.Go(func() { pipe(server, client) })
	wg.Go(func() { pipe(client, server) })
	wg.Wait()
}

// pipe copies src to dst. At the end of src it half-closes dst, so that a
// client's or server's FIN reaches the other side; if the copy failed (a
// reset, or the other direction torn down) it resets dst.
func pipe(dst, src net.Conn) {
	if _, err := io.Copy(dst, src); err != nil {
		reset(dst)
		return
	}
	if cw, ok := dst.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
		return
	}
	dst.Close()
}

// reset closes c with a TCP RST rather than a FIN.
func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	c.Close()
}
