package lifecycle_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"slices"
	"strings"
	"sync"
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
		stopDuringRequest(t, l, sigs, func(h http.Handler) http.Handler { return h })
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

// Fault 5: the shutdown's own numbers, which /metrics can no longer serve
// once the listener has closed, are in the last log line.
func TestShutdownSummaryLine(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	sigs := make(chan os.Signal, 1)
	l := newLifecycle(t, lifecycle.Config{Signals: sigs, DrainTimeout: 50 * time.Millisecond, ShutdownDelay: 20 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	stopDuringRequest(t, l, sigs, l.Middleware)
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	last := lines[len(lines)-1]
	for _, want := range []string{`msg="lifecycle: stopped"`, "trigger=", "forced_stops=1", "draining=", "stopping=", "cleanup=", "shutdown=", "drained="} {
		if !strings.Contains(last, want) {
			t.Errorf("last line lacks %q: %s", want, last)
		}
	}
}

// Issue 12: a POST /drainz before SIGTERM (from a preStop hook) counts
// against the delay: once the whole delay has passed since the drain, the
// SIGTERM adds no delay at all.
func TestDrainzBeforeSIGTERMShortensTheDelay(t *testing.T) {
	t.Parallel()
	const delay = 100 * time.Millisecond
	var logs syncBuffer
	sigs := make(chan os.Signal, 1)
	l := newLifecycle(t, lifecycle.Config{Signals: sigs, ShutdownDelay: delay, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	ln := listen(t)
	l.AddHTTPServer(&http.Server{Handler: l.Handler()}, ln)
	_, r := start(t, l)
	isClosed(t, "serving", l.Serving())
	resp, err := http.Post("http://"+ln.Addr().String()+"/drainz", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST /drainz: got %d, want 202", resp.StatusCode)
	}
	time.Sleep(delay + delay/2) // at least the whole delay
	sigs <- syscall.SIGTERM
	if err := r.wait(t); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(logs.String(), `msg="lifecycle: shutdown delay"`) {
		t.Errorf("SIGTERM after a drain older than the delay still waited:\n%s", logs.String())
	}
	// The control: the same service without the POST waits the delay.
	var logs2 syncBuffer
	sigs2 := make(chan os.Signal, 1)
	l2 := newLifecycle(t, lifecycle.Config{Signals: sigs2, ShutdownDelay: delay, Logger: slog.New(slog.NewTextHandler(&logs2, nil))})
	_, r2 := start(t, l2)
	isClosed(t, "serving", l2.Serving())
	time.Sleep(delay + delay/2)
	sigs2 <- syscall.SIGTERM
	r2.wait(t)
	if !strings.Contains(logs2.String(), `msg="lifecycle: shutdown delay"`) {
		t.Errorf("control without POST /drainz: want the whole delay logged:\n%s", logs2.String())
	}
}

// Fault 6: a hanging check answers within its timeout, and probes that
// arrive while it hangs share its one run instead of piling up goroutines.
func TestHangingReadinessCheck(t *testing.T) {
	t.Parallel()
	l := newLifecycle(t, lifecycle.Config{CheckTimeout: 50 * time.Millisecond})
	release := make(chan struct{})
	defer close(release)
	var calls atomic.Int32
	l.AddReadinessCheck("hangs", func(context.Context) error { calls.Add(1); <-release; return nil })
	l.AddReadinessCheck("fine", func(context.Context) error { return nil })
	start(t, l)
	isClosed(t, "serving", l.Serving())
	for range 5 {
		status, body := probe(l.Handler(), "GET", "/readyz?verbose", "")
		if status != 503 || !strings.Contains(body, "[-]hangs failed: timed out after 50ms") || !strings.Contains(body, "[+]fine ok") {
			t.Errorf("got %d %q, want 503 with hangs timed out and fine ok", status, body)
		}
	}
	if got := calls.Load(); got != 1 {
		t.Errorf("got %d runs of a hanging check for 5 probes, want 1", got)
	}
}

// Workers run for the life of the service, are stopped after the servers
// in reverse order, before the cleanup hooks; one that fails (or panics)
// stops the service with its error.
func TestWorkers(t *testing.T) {
	t.Parallel()
	t.Run("stopped in order", func(t *testing.T) {
		t.Parallel()
		sigs := make(chan os.Signal, 1)
		l := newLifecycle(t, lifecycle.Config{Signals: sigs})
		var mu sync.Mutex
		var order []string
		record := func(s string) { mu.Lock(); order = append(order, s); mu.Unlock() }
		for _, name := range []string{"consumer", "janitor"} {
			l.AddWorker(name, func(ctx context.Context) error {
				<-ctx.Done()
				record(name + " stopped in " + l.PhaseName())
				return ctx.Err()
			})
		}
		l.AddCleanup("db", func(context.Context) error { record("cleanup"); return nil })
		_, r := start(t, l)
		isClosed(t, "serving", l.Serving())
		sigs <- syscall.SIGTERM
		if err := r.wait(t); err != nil {
			t.Fatalf("Run: %v", err)
		}
		want := []string{"janitor stopped in stopping", "consumer stopped in stopping", "cleanup"}
		if !slices.Equal(order, want) {
			t.Errorf("got %q, want %q", order, want)
		}
	})
	for name, fn := range map[string]func(context.Context) error{
		"fails":  func(context.Context) error { return errors.New("queue gone") },
		"panics": func(context.Context) error { panic("queue gone") },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			l := newLifecycle(t, lifecycle.Config{Signals: make(chan os.Signal)})
			l.AddWorker("consumer", fn)
			_, r := start(t, l)
			if err := r.wait(t); err == nil || !strings.Contains(err.Error(), `worker "consumer"`) || !strings.Contains(err.Error(), "queue gone") {
				t.Errorf("got %v, want the worker's error", err)
			}
		})
	}
	t.Run("ignores its context", func(t *testing.T) {
		t.Parallel()
		l := newLifecycle(t, lifecycle.Config{Signals: make(chan os.Signal), HookTimeout: 30 * time.Millisecond})
		release := make(chan struct{})
		defer close(release)
		l.AddWorker("stuck", func(context.Context) error { <-release; return nil })
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := l.Run(ctx); err == nil || !strings.Contains(err.Error(), `still running: worker "stuck"`) {
			t.Errorf("got %v, want an error naming the worker still running", err)
		}
	})
}

// The signals close in order, and Track counts once however often done is
// called.
func TestSignalsAndTrack(t *testing.T) {
	t.Parallel()
	sigs := make(chan os.Signal, 1)
	l := newLifecycle(t, lifecycle.Config{Signals: sigs})
	select {
	case <-l.Serving():
		t.Fatal("serving before Run")
	default:
	}
	_, r := start(t, l)
	isClosed(t, "serving", l.Serving())
	done := l.Track()
	if got := l.InFlight(); got != 1 {
		t.Errorf("got %d in flight, want 1", got)
	}
	done()
	done()
	if got := l.InFlight(); got != 0 {
		t.Errorf("got %d in flight after done twice, want 0", got)
	}
	select {
	case <-l.Draining():
		t.Fatal("draining before the signal")
	case <-l.Stopped():
		t.Fatal("stopped before the signal")
	default:
	}
	sigs <- syscall.SIGTERM
	isClosed(t, "draining", l.Draining())
	isClosed(t, "stopped", l.Stopped())
	r.wait(t)
}

// SendRetryAfter: after the delay, while a request is still in flight, the
// listener stays open and a new request gets 429, Retry-After and
// Connection: close, not a refused connection.
func TestSendRetryAfter(t *testing.T) {
	t.Parallel()
	sigs := make(chan os.Signal, 1)
	l := newLifecycle(t, lifecycle.Config{Signals: sigs, SendRetryAfter: true})
	entered := make(chan struct{}, 1)
	release := make(chan struct{})
	ln := listen(t)
	l.AddHTTPServer(&http.Server{Handler: l.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			entered <- struct{}{}
			<-release
		}
		io.WriteString(w, "ok")
	}))}, ln)
	_, r := start(t, l)
	isClosed(t, "serving", l.Serving())
	base := "http://" + ln.Addr().String()
	slow := make(chan error, 1)
	go func() {
		resp, err := http.Get(base + "/slow")
		if err == nil {
			resp.Body.Close()
		}
		slow <- err
	}()
	<-entered
	sigs <- syscall.SIGTERM
	eventually(t, "stopping", func() bool { return l.PhaseName() == "stopping" })
	c := &http.Client{Transport: &http.Transport{}}
	defer c.CloseIdleConnections()
	resp, err := c.Get(base + "/new")
	if err != nil {
		t.Fatalf("new request after the delay: %v, want a 429", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "1" || !resp.Close {
		t.Errorf("got %d Retry-After %q close %v, want 429, 1, true", resp.StatusCode, resp.Header.Get("Retry-After"), resp.Close)
	}
	close(release)
	if err := <-slow; err != nil {
		t.Errorf("the request in flight: %v", err)
	}
	if err := r.wait(t); err != nil {
		t.Errorf("Run: %v", err)
	}
}

// One overall deadline bounds the whole shutdown: hooks that each stay
// within HookTimeout but together overrun it are cut, and the ones left are
// not started.
func TestShutdownTimeoutBoundsTheWholeShutdown(t *testing.T) {
	t.Parallel()
	l := newLifecycle(t, lifecycle.Config{Signals: make(chan os.Signal), HookTimeout: time.Hour, ShutdownTimeout: 100 * time.Millisecond})
	release := make(chan struct{})
	defer close(release)
	var ran atomic.Int32
	for _, name := range []string{"third", "second", "first"} {
		l.AddCleanup(name, func(context.Context) error { ran.Add(1); <-release; return nil })
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := l.Run(ctx)
	for _, want := range []string{`cleanup hook "first": abandoned`, `cleanup hook "second": not run`, `cleanup hook "third": not run`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("got %v, want it to contain %q", err, want)
		}
	}
	if got := ran.Load(); got != 1 {
		t.Errorf("got %d hooks started, want 1", got)
	}
}

// HTTP/2: a connection idle at T0 is not closed; its next response during
// the delay carries the GOAWAY (from Connection: close), and the request
// after it goes on a new connection.
func TestHTTP2RetiredDuringDelay(t *testing.T) {
	t.Parallel()
	l := newLifecycle(t, lifecycle.Config{Signals: make(chan os.Signal), ShutdownDelay: time.Hour, ShutdownTimeout: 300 * time.Millisecond})
	ln := listen(t)
	p := new(http.Protocols)
	p.SetUnencryptedHTTP2(true)
	l.AddHTTPServer(&http.Server{Protocols: p, Handler: l.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Proto)
	}))}, ln)
	cancel, r := start(t, l)
	defer func() { cancel(); r.wait(t) }()
	tr := &http.Transport{Protocols: p}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}
	var conns []net.Addr
	getOnce := func() string {
		req, _ := http.NewRequest("POST", "http://"+ln.Addr().String()+"/", strings.NewReader("x"))
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
			GotConn: func(i httptrace.GotConnInfo) { conns = append(conns, i.Conn.LocalAddr()) },
		}))
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("POST: %v", err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return string(b)
	}
	if proto := getOnce(); proto != "HTTP/2.0" {
		t.Fatalf("got %s, want HTTP/2.0", proto)
	}
	l.Drain()
	time.Sleep(20 * time.Millisecond) // what SetKeepAlivesEnabled(false) would have used to close it
	getOnce()                         // on the connection idle at T0
	getOnce()                         // after its GOAWAY: a new one
	if len(conns) != 3 || conns[0].String() != conns[1].String() || conns[1].String() == conns[2].String() {
		t.Errorf("got connections %v, want the first reused once, then a new one", conns)
	}
}

// With SendRetryAfter, the 429s last while HTTP requests are in flight,
// not while other tracked work is (a queue message, a gRPC call, a
// websocket): then the listeners close and new connections are refused,
// long before the drain deadline.
func TestSendRetryAfterWaitsForHTTPOnly(t *testing.T) {
	t.Parallel()
	sigs := make(chan os.Signal, 1)
	l := newLifecycle(t, lifecycle.Config{Signals: sigs, SendRetryAfter: true, DrainTimeout: time.Minute, ShutdownTimeout: 2 * time.Minute})
	ln := listen(t)
	l.AddHTTPServer(&http.Server{Handler: l.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))}, ln)
	_, r := start(t, l)
	isClosed(t, "serving", l.Serving())
	done := l.Track() // a queue message being handled, not an HTTP request
	sigs <- syscall.SIGTERM
	eventually(t, "the HTTP listener closed while other work was in flight", func() bool {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			return true
		}
		c.Close()
		return false
	})
	done()
	if err := r.wait(t); err != nil {
		t.Errorf("Run: %v", err)
	}
}

// stopDuringRequest serves one HTTP request, wrapped by wrap, that hangs
// until Run has returned: it sends SIGTERM while the request is in flight,
// waits for Run, then lets the handler return.
func stopDuringRequest(t *testing.T, l *lifecycle.Lifecycle, sigs chan<- os.Signal, wrap func(http.Handler) http.Handler) {
	t.Helper()
	entered := make(chan struct{})
	release := make(chan struct{})
	ln := listen(t)
	l.AddHTTPServer(&http.Server{Handler: wrap(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		close(entered)
		<-release
	}))}, ln)
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
}
