package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"

	"github.com/podlife/podlife/logging"
)

// entries parses every log line; a line that is not one JSON object fails
// the test, since a hostile request must not be able to break a line.
func (b *logBuffer) entries(t *testing.T) []map[string]any {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]map[string]any, 0, len(b.lines))
	for _, l := range b.lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		out = append(out, m)
	}
	return out
}

// withField returns the entries whose field key is want.
func withField(entries []map[string]any, key, want string) []map[string]any {
	var out []map[string]any
	for _, e := range entries {
		if v, ok := e[key]; ok && fmt.Sprint(v) == want {
			out = append(out, e)
		}
	}
	return out
}

// logSync makes logs hold every line written for the requests answered so
// far. Access lines are written before the response goes out, through one
// pipe, in order: once the line of a fresh request shows, all earlier ones
// are in.
type logSync struct {
	base string
	logs *logBuffer
	n    atomic.Int64
}

func (s *logSync) wait(t *testing.T) {
	t.Helper()
	id := "sync-" + strconv.FormatInt(s.n.Add(1), 10)
	req, _ := http.NewRequest("GET", s.base+"/hello", nil)
	req.Header.Set("X-Request-ID", id)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	eventually(t, "line of "+id, func() bool {
		return strings.Contains(s.logs.String(), `"`+id+`"`)
	})
}

// TestAccessLines checks the log lines of the running service: one access
// line per app request with the request's ids, none for the probes.
func TestAccessLines(t *testing.T) {
	t.Parallel()
	a, logs := startService(t, map[string]string{"LIFECYCLE_SHUTDOWN_DELAY": "0s", "POD_NAME": "x", "SERVICE_NAME": "example"})
	base := "http://" + a.HTTP
	sync := &logSync{base: base, logs: logs}

	tests := []struct {
		path       string
		requestID  string
		userID     string
		wantStatus int
		want       map[string]string // fields of the access line; "" means absent
	}{
		{"/hello", "r1", "u1", 200, map[string]string{
			"level": "info", "message": "http request", "service.name": "example", "service.instance.id": "x",
			"http.request.id": "r1", "user.id": "u1", "http.request.method": "GET", "url.path": "/hello",
			"http.response.status_code": "200", "error.code": "",
		}},
		{"/fail", "r2", "", 500, map[string]string{
			"level": "error", "service.instance.id": "x", "http.request.id": "r2", "user.id": "", "url.path": "/fail",
			"http.response.status_code": "500", "error.code": "DEMO_FAILURE", "error.message": "this endpoint always fails",
		}},
		{"/hello?sleep=forever", "r3", "u3", 400, map[string]string{
			"level": "warn", "http.request.id": "r3", "user.id": "u3", "url.path": "/hello",
			"http.response.status_code": "400", "error.code": "BAD_SLEEP",
		}},
		{"/nope", "r4", "", 404, map[string]string{"level": "info", "http.request.id": "r4", "http.response.status_code": "404"}},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest("GET", base+tt.path, nil)
		req.Header.Set("X-Request-ID", tt.requestID)
		if tt.userID != "" {
			req.Header.Set("X-User-ID", tt.userID)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.wantStatus {
			t.Errorf("GET %s: got status %d, want %d", tt.path, resp.StatusCode, tt.wantStatus)
		}
		if got := resp.Header.Get("X-Request-ID"); got != tt.requestID {
			t.Errorf("GET %s: got X-Request-ID %q, want %q", tt.path, got, tt.requestID)
		}
		sync.wait(t)
		lines := withField(logs.entries(t), logging.FieldRequestID, tt.requestID)
		if len(lines) != 1 {
			t.Errorf("GET %s: got %d lines with request id %s, want 1:\n%s", tt.path, len(lines), tt.requestID, logs)
			continue
		}
		for k, want := range tt.want {
			got, ok := lines[0][k]
			switch {
			case want == "" && ok:
				t.Errorf("GET %s: got %s %v, want none", tt.path, k, got)
			case want != "" && fmt.Sprint(got) != want:
				t.Errorf("GET %s: got %s %v, want %s", tt.path, k, got, want)
			}
		}
	}

	// Probes and metrics: no access lines, not even for the /readyz polls
	// of startService.
	for _, p := range []string{"/readyz", "/livez", "/startupz", "/drainz", "/metrics"} {
		if status, _, _, err := fetch("GET", base+p); err != nil || status != 200 {
			t.Errorf("GET %s: got %d %v, want 200", p, status, err)
		}
	}
	sync.wait(t)
	for _, p := range []string{"/readyz", "/livez", "/startupz", "/drainz", "/metrics"} {
		if n := len(withField(logs.entries(t), logging.FieldURLPath, p)); n != 0 {
			t.Errorf("GET %s: got %d access lines, want none:\n%s", p, n, logs)
		}
	}
}

// TestHostileRequestID sends request ids that must not reach the log as
// they are: each is replaced by a generated one, in the response and in
// the one access line. net/http itself answers 400 to a bare CR or LF in a
// header; a newline that arrives is a folded one, joined by a space.
func TestHostileRequestID(t *testing.T) {
	t.Parallel()
	a, logs := startService(t, map[string]string{"LIFECYCLE_SHUTDOWN_DELAY": "0s", "POD_NAME": "x"})
	sync := &logSync{base: "http://" + a.HTTP, logs: logs}
	generated := regexp.MustCompile(`^[0-9a-f]{32}$`)
	tests := []struct{ name, raw string }{
		{"quote", `r1"x`},
		{"JSON injection", `r1","user.id":"evil`},
		{"folded newline", "r1\r\n r2"},
		{"tab", "r1\tr2"},
		{"too long", strings.Repeat("r", 129)},
		{"non-ASCII", "r\u00e9"},
	}
	for _, tt := range tests {
		c, err := net.Dial("tcp", a.HTTP)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(c, "GET /hello HTTP/1.1\r\nHost: x\r\nX-Request-ID: %s\r\nConnection: close\r\n\r\n", tt.raw)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			c.Close()
			t.Fatalf("%s: %v", tt.name, err)
		}
		resp.Body.Close()
		c.Close()
		id := resp.Header.Get("X-Request-ID")
		if resp.StatusCode != 200 || !generated.MatchString(id) {
			t.Errorf("%s: got %d, X-Request-ID %q; want 200 and a generated id", tt.name, resp.StatusCode, id)
			continue
		}
		sync.wait(t)
		entries := logs.entries(t) // fails on a broken line
		if n := len(withField(entries, logging.FieldRequestID, id)); n != 1 {
			t.Errorf("%s: got %d lines with request id %s, want 1:\n%s", tt.name, n, id, logs)
		}
		if n := len(withField(entries, logging.FieldUserID, "evil")); n != 0 {
			t.Errorf("%s: got %d lines with user.id evil, want none", tt.name, n)
		}
	}
}

// TestGRPCAccessLines: the probes' Health/Check gets no access line, other
// calls (a Watch stream here) get one, with the ids from the metadata.
func TestGRPCAccessLines(t *testing.T) {
	t.Parallel()
	a, logs := startService(t, map[string]string{"LIFECYCLE_SHUTDOWN_DELAY": "0s", "POD_NAME": "x"})
	sync := &logSync{base: "http://" + a.HTTP, logs: logs}
	conn, err := grpc.NewClient(a.GRPC, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := healthpb.NewHealthClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), hangBound)
	defer cancel()

	checkCtx := metadata.AppendToOutgoingContext(ctx, "x-request-id", "g1")
	if _, err := client.Check(checkCtx, &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatalf("Check: %v", err)
	}
	sync.wait(t)
	if n := len(withField(logs.entries(t), logging.FieldRequestID, "g1")); n != 0 {
		t.Errorf("Health/Check: got %d access lines, want none:\n%s", n, logs)
	}

	watchCtx, stop := context.WithCancel(metadata.AppendToOutgoingContext(ctx, "x-request-id", "g2", "x-user-id", "u2"))
	stream, err := client.Watch(watchCtx, &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != nil {
		t.Fatalf("Watch: %v", err)
	}
	stop()
	eventually(t, "access line of the Watch stream", func() bool {
		return len(withField(logs.entries(t), logging.FieldRequestID, "g2")) > 0
	})
	lines := withField(logs.entries(t), logging.FieldRequestID, "g2")
	if len(lines) != 1 {
		t.Fatalf("Watch: got %d access lines, want 1:\n%s", len(lines), logs)
	}
	for k, want := range map[string]string{
		"message": "grpc request", "rpc.service": "grpc.health.v1.Health", "rpc.method": "Watch",
		"user.id": "u2", "service.instance.id": "x",
	} {
		if got := fmt.Sprint(lines[0][k]); got != want {
			t.Errorf("Watch: got %s %s, want %s", k, got, want)
		}
	}
}
