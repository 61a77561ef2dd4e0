package tcplb_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/podlife/podlife/internal/sim/tcplb"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// hangBound is how long a connection may take before a test calls it hung.
// It checks "does not hang", never speed.
const hangBound = 10 * time.Second

// backend is a loopback TCP server that greets each connection with its
// name on a line, then echoes what it reads until the client closes.
type backend struct {
	name  string
	ln    net.Listener
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

// startBackend starts a backend, stopped at cleanup.
func startBackend(t *testing.T, name string) *backend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &backend{name: name, ln: ln, conns: map[net.Conn]struct{}{}}
	s.wg.Go(s.serve)
	t.Cleanup(s.stop)
	return s
}

func (s *backend) addr() string { return s.ln.Addr().String() }

func (s *backend) serve() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		s.wg.Go(func() {
			defer c.Close()
			io.WriteString(c, s.name+"\n")
			io.Copy(c, c)
		})
	}
}

// stop closes the listener and the connections and waits for them.
func (s *backend) stop() {
	s.ln.Close()
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// conn is a client connection through the balancer.
type conn struct {
	net.Conn
	r *bufio.Reader
}

// dial connects to addr and returns the connection and the name of the
// backend that greeted it.
func dial(t *testing.T, addr string) (*conn, string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(hangBound))
	cc := &conn{c, bufio.NewReader(c)}
	name, err := cc.r.ReadString('\n')
	if err != nil {
		t.Fatalf("reading the greeting: %v", err)
	}
	return cc, strings.TrimSuffix(name, "\n")
}

// hit opens a connection through the balancer at addr, closes it, and
// returns the name of the backend that served it.
func hit(t *testing.T, addr string) string {
	t.Helper()
	c, name := dial(t, addr)
	c.Close()
	return name
}

// echo checks that c is still proxied: what it sends comes back.
func (c *conn) echo(t *testing.T) {
	t.Helper()
	if _, err := io.WriteString(c, "ping\n"); err != nil {
		t.Fatalf("write: %v", err)
	}
	got, err := c.r.ReadString('\n')
	if err != nil || got != "ping\n" {
		t.Fatalf("got echo %q, %v; want %q", got, err, "ping\n")
	}
}

// newBalancer starts a Balancer closed at cleanup.
func newBalancer(t *testing.T, backends ...string) *tcplb.Balancer {
	t.Helper()
	lb, err := tcplb.New(backends...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lb.Close() })
	return lb
}

// wantClosed checks that the balancer closes a new connection without
// passing a byte.
func wantClosed(t *testing.T, addr string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if errors.Is(err, syscall.ECONNRESET) {
		return // the reset came before the dial returned
	}
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(hangBound))
	b, err := io.ReadAll(c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("connection still open after %v, want it closed", hangBound)
	}
	if len(b) != 0 {
		t.Errorf("got %q from a connection with no backend, want nothing", b)
	}
}

func TestRoundRobin(t *testing.T) {
	t.Parallel()
	a, b, c := startBackend(t, "a"), startBackend(t, "b"), startBackend(t, "c")
	lb := newBalancer(t, a.addr(), b.addr(), c.addr())
	var got []string
	for range 9 {
		got = append(got, hit(t, lb.Addr()))
	}
	if want := "a b c a b c a b c"; strings.Join(got, " ") != want {
		t.Errorf("got backends %q, want %q", strings.Join(got, " "), want)
	}
}

func TestAdd(t *testing.T) {
	t.Parallel()
	a, b := startBackend(t, "a"), startBackend(t, "b")
	lb := newBalancer(t)
	wantClosed(t, lb.Addr())
	lb.Add(a.addr())
	if got := hit(t, lb.Addr()); got != "a" {
		t.Errorf("got backend %q, want a", got)
	}
	lb.Add(b.addr())
	seen := map[string]int{}
	for range 4 {
		seen[hit(t, lb.Addr())]++
	}
	if seen["a"] != 2 || seen["b"] != 2 {
		t.Errorf("got %v over 4 connections, want 2 each", seen)
	}
}

func TestRemove(t *testing.T) {
	t.Parallel()
	a, b := startBackend(t, "a"), startBackend(t, "b")
	lb := newBalancer(t, a.addr(), b.addr())
	open, name := dial(t, lb.Addr())
	if name != "a" {
		t.Fatalf("got first connection to %q, want a", name)
	}
	lb.Remove(a.addr())
	for range 4 {
		if got := hit(t, lb.Addr()); got != "b" {
			t.Errorf("got a new connection to %q after Remove(a), want b", got)
		}
	}
	open.echo(t) // an established connection is left alone
	lb.Remove(b.addr())
	wantClosed(t, lb.Addr())
}

func TestRemoveAfter(t *testing.T) {
	t.Parallel()
	a, b := startBackend(t, "a"), startBackend(t, "b")
	lb := newBalancer(t, a.addr(), b.addr())
	done := lb.RemoveAfter(a.addr(), time.Millisecond)
	select {
	case <-done:
	case <-time.After(hangBound):
		t.Fatalf("RemoveAfter: done not closed after %v", hangBound)
	}
	for range 4 {
		if got := hit(t, lb.Addr()); got != "b" {
			t.Errorf("got a connection to %q once RemoveAfter(a) is done, want b", got)
		}
	}
}

func TestRemoveAfterLag(t *testing.T) {
	t.Parallel()
	a, b := startBackend(t, "a"), startBackend(t, "b")
	lb, err := tcplb.New(a.addr(), b.addr())
	if err != nil {
		t.Fatal(err)
	}
	defer lb.Close()
	// Until the lag has passed, a is still in the rotation.
	done := lb.RemoveAfter(a.addr(), time.Hour)
	seen := map[string]int{}
	for range 4 {
		seen[hit(t, lb.Addr())]++
	}
	if seen["a"] != 2 || seen["b"] != 2 {
		t.Errorf("got %v during the lag, want 2 each: a is still in rotation", seen)
	}
	select {
	case <-done:
		t.Fatal("done closed before the lag passed")
	default:
	}
	// Close ends the wait: done closes and no goroutine is left waiting.
	lb.Close()
	select {
	case <-done:
	case <-time.After(hangBound):
		t.Fatalf("done not closed %v after Close", hangBound)
	}
	select {
	case <-lb.RemoveAfter(b.addr(), time.Hour):
	default:
		t.Error("RemoveAfter on a closed Balancer: got an open channel, want a closed one")
	}
}

func TestNoBackend(t *testing.T) {
	t.Parallel()
	refusing, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort := refusing.Addr().String()
	refusing.Close()
	tests := []struct {
		name     string
		backends []string
	}{
		{"none", nil},
		{"refusing", []string{closedPort}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			lb := newBalancer(t, tt.backends...)
			wantClosed(t, lb.Addr())
		})
	}
}

// TestHalfClose checks that a client's FIN reaches the backend while the
// answer still flows back, as through kube-proxy.
func TestHalfClose(t *testing.T) {
	t.Parallel()
	a := startBackend(t, "a")
	lb := newBalancer(t, a.addr())
	c, _ := dial(t, lb.Addr())
	io.WriteString(c, "last words\n")
	if err := c.Conn.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	rest, err := io.ReadAll(c.r)
	if err != nil || string(rest) != "last words\n" {
		t.Errorf("got %q, %v after a half-close, want %q, <nil>", rest, err, "last words\n")
	}
}

// TestClose is not parallel: goleak.VerifyNone sees every goroutine of the
// process.
func TestClose(t *testing.T) {
	a := startBackend(t, "a")
	lb, err := tcplb.New(a.addr())
	if err != nil {
		t.Fatal(err)
	}
	open, _ := dial(t, lb.Addr())
	open.echo(t)
	lb.RemoveAfter(a.addr(), time.Hour)
	if err := lb.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	// The proxied connection is torn down, not left to its client.
	b, err := io.ReadAll(open.r)
	if ne := net.Error(nil); errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("proxied connection still open %v after Close, want it torn down", hangBound)
	}
	if len(b) != 0 {
		t.Errorf("got %q from a connection after Close, want nothing", b)
	}
	open.Close()
	a.stop()
	goleak.VerifyNone(t)
}
