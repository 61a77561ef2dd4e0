package load

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/podlife/podlife/internal/check"
	"github.com/podlife/podlife/internal/load/loadtest"
	"github.com/podlife/podlife/internal/testpeer"
)

// run prepares and runs a load; it fails the test when the load cannot
// be prepared or started.
func run(t testing.TB, o Options, plan Plan) Summary {
	t.Helper()
	return runCtx(context.Background(), t, o, plan)
}

func runCtx(ctx context.Context, t testing.TB, o Options, plan Plan) Summary {
	t.Helper()
	l, err := New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	s, err := l.Run(ctx, plan)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return s
}

// TestHTTPExactCount proves that exactly Plan.Requests requests reach
// the server, whatever the concurrency and rate.
func TestHTTPExactCount(t *testing.T) {
	t.Parallel()
	tests := []struct {
		n    uint64
		conc int
		rate float64
	}{
		{1, 1, 0},
		{7, 16, 0},
		{1000, 8, 0},
		{2000, 16, 0},
		{60, 4, 2000},
	}
	for _, tt := range tests {
		var c loadtest.Counter
		srv := loadtest.Server(t, &c)
		s := run(t, Options{Targets: []string{srv.URL + "/"}}, Plan{Requests: tt.n, Concurrency: tt.conc, Rate: tt.rate})
		if got := c.N(); got != int64(tt.n) {
			t.Errorf("N=%d C=%d R=%v: got %d requests at the server, want exactly %d", tt.n, tt.conc, tt.rate, got, tt.n)
		}
		if s.Requests != tt.n || s.Successes != tt.n || s.Codes["200"] != tt.n {
			t.Errorf("N=%d: got summary %d requests, %d successes, codes %v; want %d of each", tt.n, s.Requests, s.Successes, s.Codes, tt.n)
		}
		if s.Stop != StopRequests {
			t.Errorf("N=%d: got stop %q, want %q", tt.n, s.Stop, StopRequests)
		}
		if s.P50 <= 0 || s.P99 < s.P50 || s.Max < s.P99 {
			t.Errorf("N=%d: got latencies p50 %v p99 %v max %v, want 0 < p50 ≤ p99 ≤ max", tt.n, s.P50, s.P99, s.Max)
		}
	}
}

// TestHTTPSpreadsTargets checks that several targets share the load
// evenly and that method, headers, body and Host arrive.
func TestHTTPSpreadsTargets(t *testing.T) {
	t.Parallel()
	var c loadtest.Counter
	srv := loadtest.Server(t, &c)
	o := Options{Method: "POST", Body: []byte(`{"k":1}`), Header: http.Header{"X-Test": {"warm"}}, Authority: "app.example"}
	for _, p := range []string{"/a", "/b", "/c"} {
		o.Targets = append(o.Targets, srv.URL+p)
	}
	run(t, o, Plan{Requests: 300, Concurrency: 5})
	for _, p := range []string{"/a", "/b", "/c"} {
		if got := c.Path(p); got != 100 {
			t.Errorf("%s: got %d requests, want 100 (a third each)", p, got)
		}
	}
	if got, want := strings.Join(c.First(), " "), `POST warm {"k":1} app.example`; got != want {
		t.Errorf("request: got %q, want %q", got, want)
	}
}

func TestHTTPStatusesAndErrors(t *testing.T) {
	t.Parallel()
	c := loadtest.Counter{Status: func(n int64) int {
		if n%4 == 0 {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	}}
	srv := loadtest.Server(t, &c)
	s := run(t, Options{Targets: []string{srv.URL}}, Plan{Requests: 100, Concurrency: 4})
	if s.Codes["200"] != 75 || s.Codes["503"] != 25 || s.Successes != 75 {
		t.Errorf("got codes %v and %d successes, want 75×200 and 25×503", s.Codes, s.Successes)
	}
	if got, want := s.SuccessRatio(), 0.75; got != want {
		t.Errorf("success ratio: got %v, want %v", got, want)
	}

	s = run(t, Options{Targets: []string{"http://" + testpeer.ClosedPort(t) + "/"}}, Plan{Requests: 10, Concurrency: 2})
	if s.Requests != 10 || s.Successes != 0 || len(s.Codes) != 0 {
		t.Errorf("refused: got %d requests, %d successes, codes %v; want 10, 0, none", s.Requests, s.Successes, s.Codes)
	}
	if got, want := fmt.Sprint(s.Errors), "map[connection refused:10]"; got != want {
		t.Errorf("refused: got errors %s, want %s", got, want)
	}
}

func TestHTTPProtocols(t *testing.T) {
	t.Parallel()
	pki := testpeer.NewPKI(t)
	ca := check.TLSOptions{CAFile: pki.CAFile}
	newTLS := func(c *loadtest.Counter) *httptest.Server { return loadtest.TLSServer(t, c, pki) }
	newH2C := func(c *loadtest.Counter) *httptest.Server {
		s := httptest.NewUnstartedServer(c)
		s.Config.Protocols = new(http.Protocols)
		s.Config.Protocols.SetHTTP1(true)
		s.Config.Protocols.SetUnencryptedHTTP2(true)
		s.Start()
		t.Cleanup(s.Close)
		return s
	}
	tests := []struct {
		name  string
		start func(*loadtest.Counter) *httptest.Server
		conf  Options
		proto int
	}{
		{"https negotiates HTTP/2", newTLS, Options{TLS: ca, HTTP2: true}, 2},
		{"https HTTP/1.1 on request", newTLS, Options{TLS: ca, HTTP2: false}, 1},
		{"h2c", newH2C, Options{H2C: true}, 2},
		{"http", newH2C, Options{}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var c loadtest.Counter
			srv := tt.start(&c)
			tt.conf.Targets = []string{srv.URL + "/"}
			s := run(t, tt.conf, Plan{Requests: 50, Concurrency: 4})
			if s.Successes != 50 {
				t.Fatalf("got %d successes (errors %v), want 50", s.Successes, s.Errors)
			}
			if got := c.Proto(tt.proto); got != 50 {
				t.Errorf("got %d requests in HTTP/%d, want 50", got, tt.proto)
			}
		})
	}
}

func TestHTTPUnixSocket(t *testing.T) {
	t.Parallel()
	sock := filepath.Join(t.TempDir(), "app.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	var c loadtest.Counter
	srv := &http.Server{Handler: &c, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	s := run(t, Options{Targets: []string{"http://localhost/"}, UnixSocket: sock}, Plan{Requests: 20, Concurrency: 2})
	if s.Successes != 20 || c.N() != 20 {
		t.Errorf("got %d successes, %d at the server (errors %v), want 20", s.Successes, c.N(), s.Errors)
	}
}

func TestHTTPStopsOnDurationAndWarm(t *testing.T) {
	t.Parallel()
	t.Run("duration", func(t *testing.T) {
		t.Parallel()
		srv := loadtest.Server(t, &loadtest.Counter{})
		s := run(t, Options{Targets: []string{srv.URL}}, Plan{Duration: 200 * time.Millisecond, Rate: 200, Concurrency: 2})
		if s.Stop != StopDuration || s.Requests == 0 {
			t.Errorf("got stop %q after %d requests, want %q after some", s.Stop, s.Requests, StopDuration)
		}
	})
	t.Run("warm", func(t *testing.T) {
		t.Parallel()
		var c loadtest.Counter
		srv := loadtest.Server(t, &c)
		plan := Plan{Requests: 1_000_000, Concurrency: 4, Warm: Warm{P99: 5 * time.Second, Window: 20 * time.Millisecond}}
		s := run(t, Options{Targets: []string{srv.URL}}, plan)
		if s.Stop != StopWarm || s.Requests >= plan.Requests || s.Windows != 1 {
			t.Errorf("got stop %q after %d requests and %d windows, want %q after one window", s.Stop, s.Requests, s.Windows, StopWarm)
		}
		if got := c.N(); got != int64(s.Requests) {
			t.Errorf("got %d requests at the server, %d in the summary, want the same", got, s.Requests)
		}
	})
}

// TestHTTPCancel checks that cancelling the context aborts requests in
// flight at once, and that they are not counted.
func TestHTTPCancel(t *testing.T) {
	t.Parallel()
	inFlight := make(chan struct{}, 100)
	srv := loadtest.Server(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inFlight <- struct{}{}
		select {
		case <-r.Context().Done():
		case <-time.After(30 * time.Second):
		}
	}))
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for range 4 {
			<-inFlight
		}
		cancel()
	}()
	start := time.Now()
	s := runCtx(ctx, t, Options{Targets: []string{srv.URL}, RequestTimeout: time.Minute}, Plan{Requests: 100, Concurrency: 4})
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("got Run returning %v after the cancel, want promptly (the handlers block 30 s)", d)
	}
	if s.Stop != StopCancelled || s.Requests != 0 {
		t.Errorf("got stop %q with %d requests (%v), want %q with the aborted ones not counted", s.Stop, s.Requests, s.Errors, StopCancelled)
	}
}

// TestHTTPRequestTimeout checks that a request the server does not
// answer fails after RequestTimeout, as an error of the target.
func TestHTTPRequestTimeout(t *testing.T) {
	t.Parallel()
	c := &loadtest.Counter{Block: make(chan struct{})}
	srv := loadtest.Server(t, c)
	t.Cleanup(func() { close(c.Block) })
	start := time.Now()
	s := run(t, Options{Targets: []string{srv.URL}, RequestTimeout: 200 * time.Millisecond}, Plan{Requests: 8, Concurrency: 4})
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %v with a 200ms request timeout, want it bounded", d)
	}
	if s.Requests != 8 || s.Successes != 0 {
		t.Fatalf("got %d requests, %d successes, want 8 failed", s.Requests, s.Successes)
	}
	// Eight connections, eight local ports: one kind.
	if got, want := fmt.Sprint(s.Errors), "map[timeout:8]"; got != want {
		t.Errorf("got errors %s, want %s", got, want)
	}
}

// TestHTTPRequestTimeoutH2C checks that under HTTP/2 RequestTimeout
// bounds each request, not the connection that carries them all: one
// request that the server never answers times out alone, while the
// others on the same connection go on. The server answers the others
// only once the hanging request has been given up, so a timeout of the
// whole connection (which the other requests would keep pushing back,
// then fire on all of them) fails every request.
func TestHTTPRequestTimeoutH2C(t *testing.T) {
	t.Parallel()
	gone := make(chan struct{})
	var once sync.Once
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hang" {
			<-r.Context().Done()
			once.Do(func() { close(gone) })
			return
		}
		select {
		case <-gone:
		case <-r.Context().Done():
		}
	})
	srv := httptest.NewUnstartedServer(h)
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetUnencryptedHTTP2(true)
	srv.Start()
	t.Cleanup(srv.Close)
	// One hanging request, then one every 500 ms: the first of those
	// waits about 500 ms of its 1 s for the hanging one to time out.
	tgts := []string{srv.URL + "/hang"}
	for range 5 {
		tgts = append(tgts, srv.URL+"/ok")
	}
	s := run(t, Options{Targets: tgts, H2C: true, RequestTimeout: time.Second}, Plan{Requests: 6, Rate: 2, Concurrency: 6})
	if s.Requests != 6 || s.Successes < 4 || s.Errors[ErrTimeout] < 1 {
		t.Errorf("got %d requests, %d successes, errors %v; want 6, the hanging one a timeout, the others (at least 4) successes", s.Requests, s.Successes, s.Errors)
	}
}

// TestMultiplexed checks when the load may run over HTTP/2, which
// decides how a request is bounded in time; the scheme is read parsed,
// whatever its case.
func TestMultiplexed(t *testing.T) {
	t.Parallel()
	tests := []struct {
		o    Options
		want bool
	}{
		{Options{Targets: []string{"http://127.0.0.1/"}}, false},
		{Options{Targets: []string{"http://127.0.0.1/"}, HTTP2: true}, false}, // HTTP/2 is negotiated over TLS only
		{Options{Targets: []string{"http://127.0.0.1/"}, H2C: true}, true},
		{Options{Targets: []string{"https://127.0.0.1/"}, HTTP2: true}, true},
		{Options{Targets: []string{"HTTPS://127.0.0.1/"}, HTTP2: true}, true},
		{Options{Targets: []string{"https://127.0.0.1/"}}, false},
		{Options{Targets: []string{"http://127.0.0.1/", "https://127.0.0.1/"}, HTTP2: true}, true},
	}
	for _, tt := range tests {
		l, err := New(tt.o)
		if err != nil {
			t.Fatalf("%v: %v", tt.o.Targets, err)
		}
		if got := l.engine.(*httpEngine).multiplexed; got != tt.want {
			t.Errorf("targets %v, HTTP2 %v, H2C %v: got multiplexed %v, want %v", tt.o.Targets, tt.o.HTTP2, tt.o.H2C, got, tt.want)
		}
	}
}
