package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// childEnv makes the test binary run the service itself, for the tests that
// send it real signals.
const childEnv = "PODLIFE_EXAMPLE_SERVICE_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		main()
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

// hangBound is how long a test waits for something before calling it hung:
// far above every deadline involved.
const hangBound = 10 * time.Second

// addrs are the addresses of the "listening" log line.
type addrs struct {
	HTTP string `json:"http_addr"`
	GRPC string `json:"grpc_addr"`
}

// waitListening reads JSON log lines from r until the "listening" one, then
// copies the rest to the returned buffer in the background.
func waitListening(t *testing.T, r io.Reader) (addrs, *logBuffer) {
	t.Helper()
	found := make(chan addrs, 1)
	logs := &logBuffer{}
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			logs.add(sc.Text())
			var line struct {
				Msg string `json:"message"`
				addrs
			}
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "listening" {
				found <- line.addrs
			}
		}
	}()
	select {
	case a := <-found:
		return a, logs
	case <-time.After(hangBound):
		t.Fatalf("no listening line after %v; logs:\n%s", hangBound, logs)
		return addrs{}, nil
	}
}

type logBuffer struct {
	mu    sync.Mutex
	lines []string
}

func (b *logBuffer) add(s string) {
	b.mu.Lock()
	b.lines = append(b.lines, s)
	b.mu.Unlock()
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Join(b.lines, "\n")
}

// fetch does one request with a fresh connection and returns status,
// headers and body; err is a transport error.
func fetch(method, url string) (int, http.Header, string, error) {
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		return 0, nil, "", err
	}
	req.Close = true
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b), err
}

// eventually polls cond until it holds or hangBound passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(hangBound)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: still false after %v", what, hangBound)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// startService runs the service in this process with env, on loopback
// ports with gRPC, and waits until it is ready. At cleanup it cancels run's
// context and checks that run returns nil.
func startService(t *testing.T, env map[string]string) (addrs, *logBuffer) {
	t.Helper()
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		err := run(ctx, []string{"service", "-http-addr=127.0.0.1:0", "-grpc-addr=127.0.0.1:0"},
			envList(env), pw, io.Discard)
		pw.Close()
		done <- err
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("run: %v", err)
			}
		case <-time.After(hangBound):
			t.Errorf("run did not return within %v of cancel", hangBound)
		}
	})
	a, logs := waitListening(t, pr)
	eventually(t, "ready", func() bool {
		status, _, _, _ := fetch("GET", "http://"+a.HTTP+"/readyz")
		return status == 200
	})
	return a, logs
}

func TestServiceEndpoints(t *testing.T) {
	t.Parallel()
	a, _ := startService(t, map[string]string{"LIFECYCLE_SHUTDOWN_DELAY": "0s", "COLD_KEYS": "2", "COLD_COST": "1ms"})
	base := "http://" + a.HTTP

	tests := []struct {
		method, path string
		wantStatus   int
		wantBody     string
		wantHeader   [2]string
	}{
		{"GET", "/hello", 200, "hello, world (", [2]string{"X-Cache", "miss"}},
		{"GET", "/hello?name=pod", 200, "hello, pod (", [2]string{"X-Cache", "miss"}},
		{"GET", "/hello", 200, "hello, world (", [2]string{"X-Cache", "hit"}}, // 2 keys: warm now
		{"GET", "/hello?sleep=1ms&key=a", 200, "hello", [2]string{"X-Cache", "miss"}},
		{"GET", "/hello?sleep=forever", 400, `"code":"BAD_SLEEP"`, [2]string{"X-Error-Code", "BAD_SLEEP"}},
		{"GET", "/fail", 500, `{"error":{"code":"DEMO_FAILURE","message":"this endpoint always fails"}}`, [2]string{"X-Error-Code", "DEMO_FAILURE"}},
		{"GET", "/livez?verbose", 200, "[+]watchdog:janitor ok", [2]string{}},
		{"GET", "/readyz", 200, "ok", [2]string{}},
		{"GET", "/startupz?verbose", 200, "[+]task:init ok", [2]string{}},
		{"GET", "/drainz", 200, `{"draining":false,"inflight":0}`, [2]string{"Content-Type", "application/json"}},
		{"GET", "/metrics", 200, "podlife_lifecycle_phase{phase=\"serving\"} 1", [2]string{}},
		{"GET", "/metrics", 200, "go_goroutines", [2]string{}},
		{"GET", "/metrics", 200, `example_hello_duration_seconds_count{cache="miss"}`, [2]string{}},
		{"POST", "/hello", 405, "", [2]string{}},
	}
	for _, tt := range tests {
		status, h, body, err := fetch(tt.method, base+tt.path)
		if err != nil {
			t.Errorf("%s %s: %v", tt.method, tt.path, err)
			continue
		}
		if status != tt.wantStatus || !strings.Contains(body, tt.wantBody) {
			t.Errorf("%s %s: got %d %q, want %d containing %q", tt.method, tt.path, status, body, tt.wantStatus, tt.wantBody)
		}
		if k := tt.wantHeader[0]; k != "" && !strings.HasPrefix(h.Get(k), tt.wantHeader[1]) {
			t.Errorf("%s %s: got %s %q, want %q", tt.method, tt.path, k, h.Get(k), tt.wantHeader[1])
		}
	}

	conn, err := grpc.NewClient(a.GRPC, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	cctx, ccancel := context.WithTimeout(context.Background(), hangBound)
	defer ccancel()
	resp, err := healthpb.NewHealthClient(conn).Check(cctx, &healthpb.HealthCheckRequest{})
	if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("gRPC health: got %v, %v; want SERVING", resp.GetStatus(), err)
	}
}
