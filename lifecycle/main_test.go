package lifecycle_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/podlife/podlife/lifecycle"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// hangBound is how long a shutdown may take before a test calls it hung. It
// is far above every deadline used in the tests: it checks "does not hang",
// never speed.
const hangBound = 10 * time.Second

// newLifecycle returns a Lifecycle with a discarded log unless cfg has one,
// and no shutdown delay unless cfg sets one: most tests are about other
// steps (TestZeroConfigIsTheDefault checks the real default).
func newLifecycle(t testing.TB, cfg lifecycle.Config) *lifecycle.Lifecycle {
	t.Helper()
	if cfg.ShutdownDelay == 0 {
		cfg.ShutdownDelay = -1
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	l, err := lifecycle.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return l
}

// listen binds a loopback port.
func listen(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// run is a Run in the background.
type run struct {
	done chan struct{}
	err  error
}

// start runs l in the background. At cleanup it cancels the context and
// fails the test if Run has not returned within hangBound.
func start(t testing.TB, l *lifecycle.Lifecycle) (context.CancelFunc, *run) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &run{done: make(chan struct{})}
	go func() { r.err = l.Run(ctx); close(r.done) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(hangBound):
			t.Errorf("Run did not return within %v", hangBound)
		}
	})
	return cancel, r
}

// wait returns Run's error, failing the test if it takes longer than hangBound.
func (r *run) wait(t testing.TB) error {
	t.Helper()
	select {
	case <-r.done:
		return r.err
	case <-time.After(hangBound):
		t.Fatalf("Run did not return within %v", hangBound)
		return nil
	}
}

// returned reports whether Run has returned.
func (r *run) returned() bool {
	select {
	case <-r.done:
		return true
	default:
		return false
	}
}

// eventually polls cond until it holds or hangBound passes.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(hangBound)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: still false after %v", what, hangBound)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// get returns the status and body of GET url.
func get(t testing.TB, c *http.Client, url string) (int, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// syncBuffer is a bytes.Buffer safe for concurrent writes, for logs.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// isClosed waits until ch is closed, failing the test after hangBound.
func isClosed(t testing.TB, what string, ch <-chan struct{}) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(hangBound):
		t.Fatalf("%s: not signalled after %v", what, hangBound)
	}
}

// draining reports whether l has begun draining.
func draining(l *lifecycle.Lifecycle) bool {
	select {
	case <-l.Draining():
		return true
	default:
		return false
	}
}
