package e2e

import (
	"context"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// balancer is a TCP load balancer playing kube-proxy: a removed endpoint
// keeps receiving new connections for a lag (propagation); open
// connections are left alone.
type balancer struct {
	ln    net.Listener
	mu    sync.Mutex
	addrs []string
	next  int
}

func newBalancer(addrs ...string) (*balancer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	b := &balancer{ln: ln, addrs: addrs}
	go b.serve()
	return b, nil
}

func (b *balancer) Close() error { return b.ln.Close() }

// RemoveAfter drops addr from the endpoints once lag has passed.
func (b *balancer) RemoveAfter(addr string, lag time.Duration) <-chan struct{} {
	done := make(chan struct{})
	time.AfterFunc(lag, func() {
		defer close(done)
		b.mu.Lock()
		defer b.mu.Unlock()
		for i, a := range b.addrs {
			if a == addr {
				b.addrs = append(b.addrs[:i], b.addrs[i+1:]...)
				return
			}
		}
	})
	return done
}

func (b *balancer) serve() {
	for {
		c, err := b.ln.Accept()
		if err != nil {
			return
		}
		go b.proxy(c)
	}
}

func (b *balancer) proxy(client net.Conn) {
	defer client.Close()
	b.mu.Lock()
	if len(b.addrs) == 0 {
		b.mu.Unlock()
		return
	}
	b.next = (b.next + 1) % len(b.addrs)
	addr := b.addrs[b.next]
	b.mu.Unlock()
	backend, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return
	}
	defer backend.Close()
	var wg sync.WaitGroup
	pipe := func(dst, src net.Conn) {
		defer wg.Done()
		if _, err := io.Copy(dst, src); err == nil {
			dst.(*net.TCPConn).CloseWrite()
		} else {
			dst.Close()
		}
	}
	wg.Add(2)
	go pipe(backend, client)
	go pipe(client, backend)
	wg.Wait()
}

// loadGen sends GETs from a few keep-alive clients until stopped, bounded
// in count, and counts successes and failures.
type loadGen struct {
	ok, failed atomic.Int64
	mu         sync.Mutex
	lastErr    error
	cancel     context.CancelFunc
	wg         sync.WaitGroup
	client     *http.Client
}

func startLoadGen(url string, clients int, maxRequests int64) *loadGen {
	ctx, cancel := context.WithCancel(context.Background())
	l := &loadGen{cancel: cancel, client: &http.Client{
		Transport: &http.Transport{MaxIdleConnsPerHost: clients, Proxy: nil},
		Timeout:   10 * time.Second,
	}}
	for range clients {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for ctx.Err() == nil && l.ok.Load()+l.failed.Load() < maxRequests {
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
				resp, err := l.client.Do(req)
				if ctx.Err() != nil {
					return
				}
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if err == nil && resp.StatusCode != http.StatusOK {
						err = &httpStatusError{resp.StatusCode}
					}
				}
				if err != nil {
					l.failed.Add(1)
					l.mu.Lock()
					l.lastErr = err
					l.mu.Unlock()
				} else {
					l.ok.Add(1)
				}
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	return l
}

func (l *loadGen) Stop() {
	l.cancel()
	l.wg.Wait()
	l.client.CloseIdleConnections()
}

type httpStatusError struct{ code int }

func (e *httpStatusError) Error() string { return "HTTP " + http.StatusText(e.code) }
