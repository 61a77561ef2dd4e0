package testpeer

import (
	"net"
	"os"
	"sync"
	"time"
)

// T is the part of testing.TB the peers need; a testscript command can
// provide it too.
type T interface {
	Helper()
	Fatal(args ...any)
	Cleanup(func())
}

// TempDir returns a new temporary directory removed at cleanup, with a
// short path: unix socket paths are limited to 108 bytes.
func TempDir(t T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "pl")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// Misbehaving peers the checks must survive: they are real TCP servers
// on loopback.

// Listen returns a loopback listener closed at the end of the test.
func Listen(t T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// ServeConns accepts connections until the test ends and hands each to
// handle in its own goroutine; connections are closed at cleanup.
func ServeConns(t T, ln net.Listener, handle func(net.Conn)) {
	t.Helper()
	var mu sync.Mutex
	var conns []net.Conn
	var wg sync.WaitGroup
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
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
}

// Blackhole accepts connections and never answers.
func Blackhole(t T) string {
	ln := Listen(t)
	ServeConns(t, ln, func(c net.Conn) {
		buf := make([]byte, 1024)
		for {
			if _, err := c.Read(buf); err != nil {
				return
			}
		}
	})
	return ln.Addr().String()
}

// Resetter accepts connections, reads the request, and resets them.
func Resetter(t T) string {
	ln := Listen(t)
	ServeConns(t, ln, func(c net.Conn) {
		buf := make([]byte, 1024)
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		c.Read(buf)
		c.(*net.TCPConn).SetLinger(0)
		c.Close()
	})
	return ln.Addr().String()
}

// SlowHeaders answers with a status line and then one header byte every
// interval, never finishing the headers.
func SlowHeaders(t T, interval time.Duration) string {
	ln := Listen(t)
	ServeConns(t, ln, func(c net.Conn) {
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

// ClosedPort returns a loopback address nothing listens on.
func ClosedPort(t T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}
