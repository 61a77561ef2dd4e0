package check

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"
)

// Misbehaving peers the checks must survive: they are real TCP servers
// on loopback.

// listen returns a loopback listener closed at the end of the test.
func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// serveConns accepts connections until the test ends and hands each to
// handle in its own goroutine; connections are closed at cleanup.
func serveConns(t *testing.T, ln net.Listener, handle func(net.Conn)) {
	t.Helper()
	var mu sync.Mutex
	var conns []net.Conn
	var wg sync.WaitGroup
	done := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() { defer wg.Done(); handle(c) }()
		}
	}()
	t.Cleanup(func() {
		close(done)
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	_ = done
}

// blackhole accepts connections and never answers.
func blackhole(t *testing.T) string {
	ln := listen(t)
	serveConns(t, ln, func(c net.Conn) {
		buf := make([]byte, 1024)
		for {
			if _, err := c.Read(buf); err != nil {
				return
			}
		}
	})
	return ln.Addr().String()
}

// resetter accepts connections, reads the request, and resets them.
func resetter(t *testing.T) string {
	ln := listen(t)
	serveConns(t, ln, func(c net.Conn) {
		buf := make([]byte, 1024)
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		c.Read(buf)
		c.(*net.TCPConn).SetLinger(0)
		c.Close()
	})
	return ln.Addr().String()
}

// slowHeaders answers with a status line and then one header byte every
// interval, never finishing the headers.
func slowHeaders(t *testing.T, interval time.Duration) string {
	ln := listen(t)
	serveConns(t, ln, func(c net.Conn) {
		buf := make([]byte, 4096)
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Read(buf); err != nil {
			return
		}
		if _, err := c.Write([]byte("HTTP/1.1 200 OK\r\nX-Slow: ")); err != nil {
			return
		}
		for i := 0; i < 200; i++ {
			time.Sleep(interval)
			if _, err := c.Write([]byte("a")); err != nil {
				return
			}
		}
	})
	return ln.Addr().String()
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// runCheck builds a checker and runs it with a timeout, failing the test
// on a configuration error.
func runCheck(t *testing.T, target string, o Options, timeout time.Duration) (error, time.Duration) {
	t.Helper()
	c, err := New(target, o)
	if err != nil {
		t.Fatalf("New(%q): %v", target, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	start := time.Now()
	err = c.Check(ctx)
	return err, time.Since(start)
}

// wantKind fails the test unless err has kind want (0 = nil).
func wantKind(t *testing.T, err error, want Kind) {
	t.Helper()
	if got := KindOf(err); got != want {
		t.Fatalf("got kind %v (err %v), want %v", got, err, want)
	}
	var e *Error
	if err != nil && !errors.As(err, &e) {
		t.Fatalf("got error of type %T, want *check.Error", err)
	}
}
