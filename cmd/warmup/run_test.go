package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/podlife/podlife/internal/cli"
	"github.com/podlife/podlife/internal/load"
	"github.com/podlife/podlife/internal/load/loadtest"
	"github.com/podlife/podlife/internal/testpeer"
)

// lines collects the JSON lines warmup writes, and calls onLine on each.
type lines struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	onLine func(line string)
}

func (l *lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	if l.onLine != nil {
		for _, line := range strings.Split(strings.TrimSpace(string(p)), "\n") {
			l.onLine(line)
		}
	}
	return len(p), nil
}

// summary returns the summary line, decoded.
func (l *lines) summary(t *testing.T) map[string]any {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, line := range strings.Split(l.buf.String(), "\n") {
		if strings.Contains(line, `"phase":"summary"`) {
			var m map[string]any
			if err := json.Unmarshal([]byte(line), &m); err != nil {
				t.Fatalf("summary %q: %v", line, err)
			}
			return m
		}
	}
	t.Fatalf("no summary line in:\n%s", l.buf.String())
	return nil
}

func (l *lines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// runWarmup runs warmup in the test process, with an empty environment.
func runWarmup(t *testing.T, out *lines, args ...string) error {
	t.Helper()
	var stderr bytes.Buffer
	c := command{environ: map[string]string{}, pid1: filepath.Join(t.TempDir(), "pid1")}
	err := c.run(context.Background(), args, out, &stderr)
	if err != nil {
		t.Logf("warmup %s: %v; stderr: %s", strings.Join(args, " "), err, stderr.String())
	}
	return err
}

// TestLateServer waits on a server that starts listening only once
// warmup has reported it unreachable, then answers 503 before 200.
func TestLateServer(t *testing.T) {
	t.Parallel()
	addr := testpeer.ClosedPort(t)
	c := &loadtest.Counter{Status: func(n int64) int {
		if n == 1 {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	}}
	srv := &http.Server{Handler: c, ReadHeaderTimeout: 5 * time.Second}
	t.Cleanup(func() { srv.Close() })
	var once sync.Once
	out := &lines{onLine: func(line string) {
		if strings.Contains(line, `"state":"unreachable"`) {
			once.Do(func() {
				ln, err := net.Listen("tcp", addr)
				if err != nil {
					t.Error(err)
					return
				}
				go srv.Serve(ln)
			})
		}
	}}
	url := "http://" + addr + "/"
	if err := runWarmup(t, out, "--wait-interval", "20ms", "--requests", "30", "--wait", url+"healthz", url); err != nil {
		t.Fatal(err)
	}
	var states []string
	for _, line := range strings.Split(out.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["state"] != nil {
			states = append(states, m["state"].(string))
		}
	}
	if got, want := strings.Join(states, ","), "unreachable,unhealthy,ready"; got != want {
		t.Errorf("wait states: got %s, want %s (a line per change, not per attempt)", got, want)
	}
	if got := c.Path("/"); got != 30 {
		t.Errorf("got %d load requests, want 30", got)
	}
}

// TestWaitLogsOncePerState keeps the README's promise of one log line
// per change of state, not per attempt: an HTTP wait target answers 503
// five times, then 200; a heartbeat file is stale (its reason, "modified
// … ago", changes on every attempt) until the HTTP target's fifth
// attempt touches it. Each target logs unhealthy once, then ready.
func TestWaitLogsOncePerState(t *testing.T) {
	t.Parallel()
	heartbeat := filepath.Join(t.TempDir(), "heartbeat")
	if err := os.WriteFile(heartbeat, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	stale := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(heartbeat, stale, stale); err != nil {
		t.Fatal(err)
	}
	c := &loadtest.Counter{Status: func(n int64) int {
		if n == 5 {
			now := time.Now()
			if err := os.Chtimes(heartbeat, now, now); err != nil {
				t.Error(err)
			}
		}
		if n <= 5 {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	}}
	srv := loadtest.Server(t, c)
	out := &lines{}
	if err := runWarmup(t, out, "--wait-interval", "10ms", "--max-age", "1h", "--requests", "1",
		"--wait", srv.URL+"/healthz", "--wait", "file://"+heartbeat, srv.URL+"/"); err != nil {
		t.Fatal(err)
	}
	states := map[string][]string{}
	for _, line := range strings.Split(out.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["state"] != nil {
			target := m["target"].(string)
			states[target] = append(states[target], m["state"].(string))
		}
	}
	for _, target := range []string{srv.URL + "/healthz", "file://" + heartbeat} {
		if got, want := strings.Join(states[target], ","), "unhealthy,ready"; got != want {
			t.Errorf("%s: got wait states %s, want %s (a line per change of state, not per attempt)", target, got, want)
		}
	}
	if got := c.Path("/healthz"); got != 6 {
		t.Errorf("got %d wait attempts on the HTTP target, want 6 (5×503, 200)", got)
	}
}

// TestGRPCSCapitals loads GRPCS://…, its scheme in capitals, with
// --ca-file: every decision reads the parsed scheme, so the load goes
// over TLS with the CA (issue 10, defect 3: it went in plaintext).
func TestGRPCSCapitals(t *testing.T) {
	t.Parallel()
	pki := testpeer.NewPKI(t)
	p := loadtest.NewGRPCPeer(t, true, &pki.Server)
	out := &lines{}
	if err := runWarmup(t, out, "--ca-file", pki.CAFile, "--requests", "20", "--data", `{"service":"app"}`,
		"GRPCS://"+p.Addr+"/"+loadtest.HealthCheck); err != nil {
		t.Fatal(err)
	}
	if s := out.summary(t); s["successes"] != 20.0 || p.Calls() != 20 {
		t.Errorf("got summary %v and %d calls at the server, want 20 successful calls over TLS", s, p.Calls())
	}
}

// TestGRPCOverUnixSocket waits on and loads a gRPC server that listens
// only on a unix socket: --unix-socket carries the gRPC wait and load,
// as it carries HTTP (they used to dial the target's host:port).
func TestGRPCOverUnixSocket(t *testing.T) {
	t.Parallel()
	p := loadtest.NewUnixGRPCPeer(t, filepath.Join(testpeer.TempDir(t), "grpc.sock"))
	out := &lines{}
	if err := runWarmup(t, out, "--timeout", "10s", "--unix-socket", p.Addr, "--requests", "10", "--data", `{"service":"app"}`,
		"--wait", "grpc://localhost:1/app", "grpc://localhost:1/"+loadtest.HealthCheck); err != nil {
		t.Fatal(err)
	}
	// The wait's health check is a call of Check too.
	if s := out.summary(t); s["successes"] != 10.0 || p.Calls() != 11 {
		t.Errorf("got summary %v and %d calls at the server, want the wait's and 10 successful calls over the socket", s, p.Calls())
	}
}

// TestTLS waits on and loads an HTTPS server with the same --ca-file;
// the load negotiates HTTP/2 unless --http2=false.
func TestTLS(t *testing.T) {
	t.Parallel()
	pki := testpeer.NewPKI(t)
	for _, tt := range []struct {
		flag  string
		proto int
	}{{"--http2=true", 2}, {"--http2=false", 1}} {
		c := &loadtest.Counter{}
		srv := loadtest.TLSServer(t, c, pki)
		out := &lines{}
		if err := runWarmup(t, out, "--ca-file", pki.CAFile, tt.flag, "--requests", "20", "--wait", srv.URL+"/healthz", srv.URL+"/"); err != nil {
			t.Fatal(err)
		}
		if s := out.summary(t); s["successes"] != 20.0 {
			t.Errorf("%s: got summary %v, want 20 successes", tt.flag, s)
		}
		if got := c.Path("/"); got != 20 {
			t.Errorf("%s: got %d requests, want 20", tt.flag, got)
		}
		if got := c.Proto(tt.proto); got < 20 {
			t.Errorf("%s: got %d requests in HTTP/%d, want the 20 of the load", tt.flag, got, tt.proto)
		}
	}

	// Without the CA, the wait fails on the TLS handshake (fail-open).
	srv := loadtest.TLSServer(t, &loadtest.Counter{}, pki)
	out := &lines{}
	if err := runWarmup(t, out, "--timeout", "3s", "--requests", "1", "--wait", srv.URL, srv.URL); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), `"reason":"TLS handshake: `) {
		t.Errorf("got %s, want a TLS handshake failure in the wait", out)
	}
}

func TestH2C(t *testing.T) {
	t.Parallel()
	c := &loadtest.Counter{}
	srv := &http.Server{Handler: c, ReadHeaderTimeout: 5 * time.Second, Protocols: new(http.Protocols)}
	srv.Protocols.SetHTTP1(true)
	srv.Protocols.SetUnencryptedHTTP2(true)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	if err := runWarmup(t, &lines{}, "--h2c", "--requests", "15", "http://"+ln.Addr().String()+"/"); err != nil {
		t.Fatal(err)
	}
	if got := c.Proto(2); got != 15 {
		t.Errorf("got %d requests in HTTP/2, want 15", got)
	}
}

// TestPaceAndWarm checks that --rate, --ramp, --duration and the warm
// flags make the plan the load runs, and that the load stops as that
// plan says. That the engines follow a plan's rate and ramp, request by
// request, internal/load's TestEnginesFollowTheSchedule checks on a
// recorded schedule: no assertion here reads the wall clock.
func TestPaceAndWarm(t *testing.T) {
	t.Parallel()
	warm := func(p99 time.Duration, plateau int) load.Warm {
		return load.Warm{P99: p99, Plateau: plateau, Window: 20 * time.Millisecond}
	}
	tests := []struct {
		args     []string
		plan     load.Plan
		stop     string
		requests float64 // 0: fewer than --requests; -1: any
	}{
		{[]string{"--rate", "500", "--ramp", "100ms", "--requests", "40", "--warm-window", "20ms"},
			load.Plan{Requests: 40, Rate: 500, Ramp: 100 * time.Millisecond, Concurrency: defaultConcurrency, Warm: warm(0, 0)}, "requests", 40},
		{[]string{"--rate", "100", "--duration", "200ms", "--concurrency", "2", "--warm-window", "20ms"},
			load.Plan{Duration: 200 * time.Millisecond, Rate: 100, Concurrency: 2, Warm: warm(0, 0)}, "duration", -1},
		{[]string{"--requests", "1000000", "--warm-p99", "10s", "--warm-window", "20ms"},
			load.Plan{Requests: 1000000, Concurrency: defaultConcurrency, Warm: warm(10*time.Second, 0)}, "warm", 0},
		{[]string{"--requests", "1000000", "--warm-plateau", "1", "--warm-window", "20ms"},
			load.Plan{Requests: 1000000, Concurrency: defaultConcurrency, Warm: warm(0, 1)}, "warm", 0},
	}
	for _, tt := range tests {
		c := &loadtest.Counter{}
		srv := loadtest.Server(t, c)
		args := append(tt.args, srv.URL)
		cfg, err := command{environ: map[string]string{}}.parse(args, io.Discard)
		if err != nil {
			t.Fatalf("%v: %v", tt.args, err)
		}
		if cfg.plan != tt.plan {
			t.Errorf("%v: got plan %+v, want %+v", tt.args, cfg.plan, tt.plan)
		}
		out := &lines{}
		if err := runWarmup(t, out, args...); err != nil {
			t.Fatal(err)
		}
		s := out.summary(t)
		if s["stop"] != tt.stop {
			t.Errorf("%v: got stop %v, want %s", tt.args, s["stop"], tt.stop)
		}
		got := s["requests"].(float64)
		switch {
		case tt.requests > 0 && got != tt.requests:
			t.Errorf("%v: got %v requests, want %v", tt.args, got, tt.requests)
		case tt.requests == 0 && got >= 1000000:
			t.Errorf("%v: got %v requests, want an early stop", tt.args, got)
		case got != float64(c.N()):
			t.Errorf("%v: got %v requests in the summary, %d at the server, want the same", tt.args, got, c.N())
		}
	}
}

// TestTimeoutDuringLoad checks that --timeout ends a load whose requests
// hang, promptly and with the summary.
func TestTimeoutDuringLoad(t *testing.T) {
	t.Parallel()
	c := &loadtest.Counter{Block: make(chan struct{})}
	srv := loadtest.Server(t, c)
	t.Cleanup(func() { close(c.Block) })
	out := &lines{}
	start := time.Now()
	if err := runWarmup(t, out, "--timeout", "1s", "--duration", "5m", "--request-timeout", "1m", srv.URL); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %v with --timeout 1s, want it bounded", d)
	}
	if s := out.summary(t); s["stop"] != "timeout" || s["requests"] != 0.0 {
		t.Errorf("got stop %v after %v requests, want timeout after 0 (the aborted ones do not count)", s["stop"], s["requests"])
	}
}

func TestLogToPID1(t *testing.T) {
	t.Parallel()
	srv := loadtest.Server(t, &loadtest.Counter{})
	pid1 := filepath.Join(t.TempDir(), "pid1-stdout")
	if err := os.WriteFile(pid1, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout bytes.Buffer
	c := command{environ: map[string]string{"WARMUP_LOG_TO_PID1": "true"}, pid1: pid1}
	if err := c.run(context.Background(), []string{"--requests", "3", srv.URL}, &stdout, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(pid1)
	if string(got) != stdout.String() || !strings.Contains(string(got), `"requests":3,`) {
		t.Errorf("PID 1 got:\n%s\nwant what stdout got:\n%s", got, stdout.String())
	}

	// No PID 1 stdout to write to: a warning, and on with stdout alone.
	stdout.Reset()
	c.pid1 = filepath.Join(t.TempDir(), "missing", "fd1")
	if err := c.run(context.Background(), []string{"--requests", "3", srv.URL}, &stdout, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout.String(), "cannot write to PID 1's stdout") || !strings.Contains(stdout.String(), `"requests":3,`) {
		t.Errorf("got %s, want a warning and the summary", stdout.String())
	}
}

// TestSIGTERM sends SIGTERM to the warmup binary during a load whose
// requests hang: it stops at once, prints the summary and exits 0.
func TestSIGTERM(t *testing.T) {
	t.Parallel()
	bin, err := exec.LookPath("warmup") // installed by testscript.Main
	if err != nil {
		t.Fatal(err)
	}
	c := &loadtest.Counter{Block: make(chan struct{}), InFlight: make(chan struct{}, 1)}
	srv := loadtest.Server(t, c)
	t.Cleanup(func() { close(c.Block) })
	cmd := exec.Command(bin, "--duration", "5m", "--concurrency", "2", srv.URL)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-c.InFlight:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		t.Fatal("no request in flight after 10s")
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err = <-done:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("warmup still running 10s after SIGTERM")
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		t.Errorf("got exit code %d (stderr %q), want %d", ee.ExitCode(), stderr.String(), cli.ExitOK)
	}
	if !strings.Contains(stdout.String(), `"stop":"signal"`) {
		t.Errorf("got stdout:\n%s\nwant a summary with stop signal", stdout.String())
	}
}

// TestStay runs the warmup binary as a native sidecar would: with --stay
// it writes the ready file, keeps running, and exits 0 on SIGTERM.
func TestStay(t *testing.T) {
	t.Parallel()
	bin, err := exec.LookPath("warmup") // installed by testscript.Main
	if err != nil {
		t.Fatal(err)
	}
	srv := loadtest.Server(t, &loadtest.Counter{})
	ready := filepath.Join(t.TempDir(), "warm")
	cmd := exec.Command(bin, "--requests", "3", "--ready-file", ready, srv.URL)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "WARMUP_STAY=true"}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	staying := make(chan struct{})
	var out lines
	done := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		once := sync.OnceFunc(func() { close(staying) })
		for sc.Scan() {
			out.Write([]byte(sc.Text() + "\n"))
			if strings.Contains(sc.Text(), `"phase":"stay"`) {
				once()
			}
		}
		done <- cmd.Wait()
	}()
	select {
	case <-staying:
	case err := <-done:
		t.Fatalf("warmup exited (%v) after the warm-up, want it to stay; stdout:\n%s", err, out.String())
	case <-time.After(10 * time.Second):
		t.Fatalf("no stay line after 10s; stdout:\n%s", out.String())
	}
	if b, err := os.ReadFile(ready); err != nil || !strings.Contains(string(b), `"requests":3,`) {
		t.Errorf("ready file: got %q, %v; want the summary, written before staying", b, err)
	}
	select {
	case err := <-done:
		t.Fatalf("warmup exited (%v) before SIGTERM, want it to stay", err)
	default:
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err = <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("warmup still running 10s after SIGTERM")
	}
	if err != nil {
		t.Errorf("got %v (stderr %q), want exit %d after SIGTERM", err, stderr.String(), cli.ExitOK)
	}
}

// TestGRPCBlackhole loads a gRPC "app" that accepts connections and never
// answers: the method lookup gives up after about --request-timeout, not
// --timeout, and the run fails open with a summary that says why.
func TestGRPCBlackhole(t *testing.T) {
	t.Parallel()
	addr := testpeer.Blackhole(t)
	out := &lines{}
	done := make(chan error, 1)
	go func() {
		done <- runWarmup(t, out, "--timeout", "60s", "--request-timeout", "300ms", "--requests", "3", "grpc://"+addr+"/grpc.health.v1.Health/Check")
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("got %v, want exit 0 (fail-open)", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("warmup still running after 15s with --request-timeout 300ms")
	}
	s := out.summary(t)
	if s["stop"] != "unreachable" || s["ok"] != false || s["requests"] != 0.0 {
		t.Errorf("got summary %v, want stop unreachable, ok false, 0 requests", s)
	}
}

// TestReadyFileWriteFails removes the ready file's directory during the
// load: the failure to write it is logged, and exits 1 under --strict.
func TestReadyFileWriteFails(t *testing.T) {
	t.Parallel()
	for _, strict := range []bool{false, true} {
		dir := filepath.Join(t.TempDir(), "shared")
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { os.RemoveAll(dir) }))
		t.Cleanup(srv.Close)
		out := &lines{}
		args := []string{"--requests", "3", "--ready-file", filepath.Join(dir, "warm"), srv.URL}
		if strict {
			args = append([]string{"--strict"}, args...)
		}
		err := runWarmup(t, out, args...)
		want := cli.ExitOK
		if strict {
			want = cli.ExitUnhealthy
		}
		if got := cli.ExitCode(err); got != want {
			t.Errorf("--strict=%v: got exit %d (%v), want %d", strict, got, err, want)
		}
		if !strings.Contains(out.String(), `"message":"cannot write --ready-file"`) {
			t.Errorf("--strict=%v: got log\n%s\nwant the write failure logged", strict, out)
		}
	}
}

// TestEveryFlagIsAVariable keeps the README's promise: each flag is also
// a WARMUP_ variable, and each variable a flag, but for the check options
// warmup does not take (rejected by name when set, see validate).
func TestEveryFlagIsAVariable(t *testing.T) {
	t.Parallel()
	o := defaultOptions()
	fs := flag.NewFlagSet("warmup", flag.ContinueOnError)
	o.register(fs)
	fs.Bool("version", false, "")
	notTaken := map[string]bool{"WARMUP_STATUS has no flag": true, "WARMUP_BODY_CONTAINS has no flag": true, "WARMUP_BODY_REGEXP has no flag": true}
	for _, bad := range cli.EnvMismatch(fs, &o, "WARMUP_") {
		if !notTaken[bad] {
			t.Errorf("got %s, want every flag and variable paired", bad)
		}
	}
	for _, name := range []string{"stay", "ready-file", "concurrency"} {
		if fs.Lookup(name) == nil {
			t.Errorf("got no --%s flag, want one", name)
		}
	}
}
