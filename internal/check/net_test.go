package check

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/podlife/podlife/internal/testpeer"
)

func TestTCP(t *testing.T) {
	t.Parallel()
	ln := testpeer.Listen(t)
	testpeer.ServeConns(t, ln, func(c net.Conn) { c.Close() })
	err, _ := runCheck(t, "tcp://"+ln.Addr().String(), Options{}, 5*time.Second)
	wantKind(t, err, 0)
	err, _ = runCheck(t, "tcp://"+testpeer.ClosedPort(t), Options{}, 5*time.Second)
	wantKind(t, err, Unreachable)
	if !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("got %q, want it to mention connection refused", err)
	}
}

func TestUnixConnect(t *testing.T) {
	t.Parallel()
	dir := testpeer.TempDir(t)
	sock := filepath.Join(dir, "s.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	testpeer.ServeConns(t, ln, func(c net.Conn) { c.Close() })
	err, _ = runCheck(t, "unix://"+sock, Options{}, 5*time.Second)
	wantKind(t, err, 0)

	// A socket file whose server is gone refuses connections.
	stale := filepath.Join(dir, "stale.sock")
	ln2, err := net.Listen("unix", stale)
	if err != nil {
		t.Fatal(err)
	}
	ln2.(*net.UnixListener).SetUnlinkOnClose(false)
	ln2.Close()
	err, _ = runCheck(t, "unix://"+stale, Options{}, 5*time.Second)
	wantKind(t, err, Unreachable)

	// A regular file is not a socket.
	plain := filepath.Join(dir, "plain")
	os.WriteFile(plain, nil, 0o600)
	err, _ = runCheck(t, "unix://"+plain, Options{}, 5*time.Second)
	wantKind(t, err, Unreachable)
}

func TestFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	beat := filepath.Join(dir, "heartbeat")
	if err := os.WriteFile(beat, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	mod := time.Now().Add(-10 * time.Second)
	if err := os.Chtimes(beat, mod, mod); err != nil {
		t.Fatal(err)
	}
	at := func(d time.Duration) func() time.Time { return func() time.Time { return mod.Add(d) } }
	tests := []struct {
		name   string
		path   string
		o      Options
		want   Kind
		reason string
	}{
		{name: "exists", path: beat},
		{name: "fresh heartbeat", path: beat, o: Options{MaxAge: 30 * time.Second, Now: at(5 * time.Second)}},
		{name: "stale heartbeat", path: beat, o: Options{MaxAge: 30 * time.Second, Now: at(time.Minute)}, want: Unhealthy, reason: "modified 1m0s ago, want within 30s"},
		{name: "stale by the real clock", path: beat, o: Options{MaxAge: time.Second}, want: Unhealthy},
		{name: "missing", path: filepath.Join(dir, "nope"), want: Unreachable, reason: "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err, _ := runCheck(t, "file://"+tt.path, tt.o, 5*time.Second)
			wantKind(t, err, tt.want)
			if tt.reason != "" && !strings.Contains(err.Error(), tt.reason) {
				t.Errorf("got %q, want it to contain %q", err, tt.reason)
			}
		})
	}
}
