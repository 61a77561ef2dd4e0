package main

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// balancer is a TCP (L4) load balancer in the role of kube-proxy: new
// connections go round-robin to the current endpoints; a removed endpoint
// keeps receiving new connections for a lag, as when EndpointSlice changes
// take time to reach every node; connections already open are left alone.
type balancer struct {
	ln    net.Listener
	mu    sync.Mutex
	addrs []string
	next  int
	conns sync.WaitGroup

	refused atomic.Int64 // connections that found no endpoint
}

// newBalancer listens on a loopback port.
func newBalancer() (*balancer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	b := &balancer{ln: ln}
	go b.serve()
	return b, nil
}

// Addr is the balancer's address.
func (b *balancer) Addr() string { return b.ln.Addr().String() }

// Add makes addr an endpoint at once.
func (b *balancer) Add(addr string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.addrs = append(b.addrs, addr)
}

// RemoveAfter drops addr from the endpoints once lag has passed, and closes
// done then.
func (b *balancer) RemoveAfter(addr string, lag time.Duration) (done <-chan struct{}) {
	ch := make(chan struct{})
	time.AfterFunc(lag, func() {
		b.mu.Lock()
		for i, a := range b.addrs {
			if a == addr {
				b.addrs = append(b.addrs[:i], b.addrs[i+1:]...)
				break
			}
		}
		b.mu.Unlock()
		close(ch)
	})
	return ch
}

// Close stops accepting and waits for the open connections to end.
func (b *balancer) Close() error {
	err := b.ln.Close()
	b.conns.Wait()
	return err
}

func (b *balancer) pick() (string, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.addrs) == 0 {
		return "", false
	}
	b.next = (b.next + 1) % len(b.addrs)
	return b.addrs[b.next], true
}

func (b *balancer) serve() {
	for {
		c, err := b.ln.Accept()
		if err != nil {
			return
		}
		b.conns.Add(1)
		go func() {
			defer b.conns.Done()
			b.proxy(c)
		}()
	}
}

// proxy copies between the client and an endpoint until both sides are
// done, passing half-closes on.
func (b *balancer) proxy(client net.Conn) {
	defer client.Close()
	addr, ok := b.pick()
	if !ok {
		b.refused.Add(1)
		return
	}
	backend, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		b.refused.Add(1)
		return
	}
	defer backend.Close()
	var wg sync.WaitGroup
	pipe := func(dst, src net.Conn) {
		defer wg.Done()
		_, err := io.Copy(dst, src)
		if tc, ok := dst.(*net.TCPConn); ok && (err == nil || errors.Is(err, net.ErrClosed)) {
			tc.CloseWrite()
		} else {
			dst.Close()
		}
	}
	wg.Add(2)
	go pipe(backend, client)
	go pipe(client, backend)
	wg.Wait()
}
