package lifecycle_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/podlife/podlife/lifecycle"
)

// hangDesc is a gRPC service with one unary method whose handler blocks on
// release, ignoring its context.
func hangService(entered chan<- struct{}, release <-chan struct{}) *grpc.ServiceDesc {
	return &grpc.ServiceDesc{
		ServiceName: "test.Hang",
		HandlerType: (*any)(nil),
		Methods: []grpc.MethodDesc{{
			MethodName: "Hang",
			Handler: func(_ any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
				in := new(emptypb.Empty)
				if err := dec(in); err != nil {
					return nil, err
				}
				entered <- struct{}{}
				<-release
				return in, nil
			},
		}},
	}
}

// Fault 1: a unary handler that ignores its context kept Run from returning.
func TestGRPCHandlerIgnoringContextDoesNotHangRun(t *testing.T) {
	t.Parallel()
	sigs := make(chan os.Signal, 1)
	l := newLifecycle(t, lifecycle.Config{Signals: sigs, DrainTimeout: 100 * time.Millisecond, HookTimeout: 100 * time.Millisecond})
	entered := make(chan struct{}, 1)
	release := make(chan struct{})
	defer close(release)
	gs := grpc.NewServer()
	gs.RegisterService(hangService(entered, release), nil)
	ln := listen(t)
	l.AddGRPCServer(gs, ln)
	cleaned := make(chan struct{}, 1)
	l.AddCleanup("db", func(context.Context) error { cleaned <- struct{}{}; return nil })
	_, r := start(t, l)
	conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	go conn.Invoke(context.Background(), "/test.Hang/Hang", new(emptypb.Empty), new(emptypb.Empty))
	<-entered
	sigs <- syscall.SIGTERM
	err = r.wait(t)
	if err == nil || !strings.Contains(err.Error(), "grpc") {
		t.Errorf("got %v, want an error naming the gRPC server still running", err)
	}
	select {
	case <-cleaned:
	default:
		t.Error("cleanup hook did not run")
	}
}

// Fault 2: an idle keep-alive connection must still carry a request sent
// at the start of draining, while balancers still route to the Pod.
func TestIdleKeepAliveSurvivesDrainStart(t *testing.T) {
	t.Parallel()
	// The overall deadline ends the hour-long delay when the test is over.
	l := newLifecycle(t, lifecycle.Config{Signals: make(chan os.Signal), ShutdownDelay: time.Hour, ShutdownTimeout: 300 * time.Millisecond})
	ln := listen(t)
	l.AddHTTPServer(&http.Server{Handler: l.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, "ok")
	}))}, ln)
	cancel, r := start(t, l)
	defer func() { cancel(); r.wait(t) }()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	send := func(method string) (*http.Response, error) {
		req, _ := http.NewRequest(method, "http://"+ln.Addr().String()+"/", strings.NewReader("x"))
		if err := req.Write(c); err != nil {
			return nil, err
		}
		resp, err := http.ReadResponse(br, req)
		if err != nil {
			return nil, err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp, nil
	}
	if _, err := send("GET"); err != nil {
		t.Fatal(err)
	}
	l.Drain() // the connection is idle now
	time.Sleep(20 * time.Millisecond)
	resp, err := send("POST")
	if err != nil {
		t.Fatalf("POST on an idle keep-alive connection after draining began: %v, want a response", err)
	}
	if resp.StatusCode != 200 || !resp.Close {
		t.Errorf("got %d close=%v, want 200 with Connection: close", resp.StatusCode, resp.Close)
	}
}

// Fault 3: a panicking hook must not kill the process.
func TestPanickingHooks(t *testing.T) {
	t.Parallel()
	l := newLifecycle(t, lifecycle.Config{Signals: make(chan os.Signal)})
	l.AddPreShutdownHook("boom", func(context.Context) error { panic("pre") })
	var ran atomic.Int32
	l.AddCleanup("second", func(context.Context) error { ran.Add(1); return nil })
	l.AddCleanup("first", func(context.Context) error { panic("cleanup") })
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := l.Run(ctx)
	if err == nil || !strings.Contains(err.Error(), `"boom": panic: pre`) || !strings.Contains(err.Error(), `"first": panic: cleanup`) {
		t.Errorf("got %v, want both panics as hook errors", err)
	}
	if ran.Load() != 1 {
		t.Errorf("got %d runs of the cleanup after the panicking one, want 1", ran.Load())
	}
}

// Fault 4: no "abandoned" line when every startup task finished long ago.
func TestNoSpuriousStartupAbandoned(t *testing.T) {
	t.Parallel()
	for i := range 20 {
		var logs syncBuffer
		sigs := make(chan os.Signal, 1)
		l := newLifecycle(t, lifecycle.Config{Signals: sigs, DrainTimeout: 5 * time.Millisecond,
			Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		l.AddStartupTask("init", func(context.Context) error { return nil })
		release := make(chan struct{})
		entered := make(chan struct{})
		ln := listen(t)
		l.AddHTTPServer(&http.Server{Handler: http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
			close(entered)
			<-release
		})}, ln)
		_, r := start(t, l)
		isClosed(t, "serving", l.Serving())
		go func() {
			if resp, err := http.Get("http://" + ln.Addr().String()); err == nil {
				resp.Body.Close()
			}
		}()
		<-entered
		sigs <- syscall.SIGTERM
		r.wait(t)
		close(release)
		if strings.Contains(logs.String(), "abandoned") {
			t.Fatalf("run %d: got an 'abandoned' line although the startup task finished:\n%s", i, logs.String())
		}
	}
}

// Fault 6: /readyz runs each check once per request, and a hanging check
// has a timeout.
func TestReadyzRunsEachCheckOnce(t *testing.T) {
	t.Parallel()
	l := newLifecycle(t, lifecycle.Config{})
	var calls atomic.Int32
	l.AddReadinessCheck("db", func(context.Context) error { calls.Add(1); return errors.New("down") })
	start(t, l)
	isClosed(t, "serving", l.Serving())
	probe(l.Handler(), "GET", "/readyz", "")
	if got := calls.Load(); got != 1 {
		t.Errorf("got %d calls of a failing check for one /readyz, want 1", got)
	}
}

// Fault 7: a hijacked connection (a websocket) is closed at the drain
// deadline and stops counting as in flight.
func TestHijackedConnClosedAtDeadline(t *testing.T) {
	t.Parallel()
	sigs := make(chan os.Signal, 1)
	l := newLifecycle(t, lifecycle.Config{Signals: sigs, DrainTimeout: 100 * time.Millisecond})
	ln := listen(t)
	hijacked := make(chan struct{})
	l.AddHTTPServer(&http.Server{Handler: l.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: test\r\n\r\n")
		brw.Flush()
		close(hijacked)
		io.Copy(io.Discard, c) // a websocket loop: reads until the peer or the server closes
		c.Close()
	}))}, ln)
	_, r := start(t, l)
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: test\r\n\r\n")
	<-hijacked
	sigs <- syscall.SIGTERM
	r.wait(t)
	c.SetReadDeadline(time.Now().Add(hangBound))
	buf := make([]byte, 512)
	for {
		if _, err := c.Read(buf); err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatal("hijacked connection still open after Run returned")
			}
			break
		}
	}
	eventually(t, "in flight back to 0", func() bool { return l.InFlight() == 0 })
}
