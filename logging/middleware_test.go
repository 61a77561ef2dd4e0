package logging_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/podlife/podlife/logging"
	"github.com/podlife/podlife/logging/internal/reqlog"
)

// newServer starts a real HTTP server on loopback with handler wrapped in
// the middleware of a fresh logger, and returns the server and its lines.
func newServer(t *testing.T, handler http.Handler) (*httptest.Server, *lineBuffer) {
	t.Helper()
	var out lineBuffer
	l := logging.New(logging.Config{
		ServiceName: "svc",
		InstanceID:  "pod-1",
		Output:      &out,
		UserID:      func(r *http.Request) string { return r.Header.Get("X-User-ID") },
	})
	srv := httptest.NewServer(l.Middleware(handler))
	t.Cleanup(srv.Close)
	return srv, &out
}

func get(t *testing.T, url string, header map[string]string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

func TestMiddlewareAccessLine(t *testing.T) {
	t.Parallel()
	srv, out := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTeapot)
	}))
	resp := get(t, srv.URL+"/hello?q=secret", map[string]string{
		"X-Request-ID": "r1",
		"X-User-ID":    "u1",
		"traceparent":  "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
	})
	if got := resp.Header.Get("X-Request-ID"); got != "r1" {
		t.Errorf("got response X-Request-ID %q, want r1", got)
	}
	line := out.only(t)
	want := map[string]any{
		"level":                     "info", // a 4xx with no recorded error is no warning
		"message":                   "http request",
		"service.name":              "svc",
		"service.instance.id":       "pod-1",
		"http.request.id":           "r1",
		"user.id":                   "u1",
		"url.path":                  "/hello",
		"http.request.method":       "GET",
		"http.response.status_code": float64(418),
		"trace_id":                  "4bf92f3577b34da6a3ce929d0e0e4736",
		"span_id":                   "00f067aa0ba902b7",
	}
	for k, v := range want {
		if line[k] != v {
			t.Errorf("got %s=%v, want %v", k, line[k], v)
		}
	}
	ts, _ := line["timestamp"].(string)
	if _, err := time.Parse(time.RFC3339Nano, ts); err != nil || !strings.HasSuffix(ts, "Z") {
		t.Errorf("got timestamp %q, want RFC 3339 in UTC", ts)
	}
	if d, ok := line["event.duration"].(float64); !ok || d <= 0 {
		t.Errorf("got event.duration %v, want a positive number of nanoseconds", line["event.duration"])
	}
	if _, ok := line["error.code"]; ok {
		t.Errorf("got error.code %v on a request without error, want none", line["error.code"])
	}
}

func TestMiddlewareErrors(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	mux.Handle("/returned", logging.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		return fmt.Errorf("saving: %w", &logging.Error{Code: "DB_DOWN", Status: 503, Err: errors.New("connection refused")})
	}))
	mux.Handle("/plain", logging.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		return errors.New("secret detail")
	}))
	mux.Handle("/written", logging.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		w.WriteHeader(http.StatusAccepted)
		return &logging.Error{Code: "LATE"}
	}))
	mux.HandleFunc("/set", func(w http.ResponseWriter, r *http.Request) {
		logging.SetErrorCode(r.Context(), "QUOTA")
		logging.SetUserID(r.Context(), "u9")
		http.Error(w, "too many", http.StatusTooManyRequests)
	})
	tests := []struct {
		path       string
		wantStatus int
		wantCode   any
		wantMsg    any
		wantLevel  string
	}{
		{"/returned", 503, "DB_DOWN", "saving: connection refused", "error"},
		{"/plain", 500, nil, "secret detail", "error"},
		{"/written", 202, "LATE", "LATE", "warn"},
		{"/set", 429, "QUOTA", nil, "warn"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			t.Parallel()
			srv, out := newServer(t, mux)
			resp := get(t, srv.URL+tt.path, nil)
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("got status %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			line := out.only(t)
			if line["error.code"] != tt.wantCode || line["error.message"] != tt.wantMsg || line["level"] != tt.wantLevel {
				t.Errorf("got error.code=%v error.message=%v level=%v, want %v %v %v",
					line["error.code"], line["error.message"], line["level"], tt.wantCode, tt.wantMsg, tt.wantLevel)
			}
			if line["http.response.status_code"] != float64(tt.wantStatus) {
				t.Errorf("got logged status %v, want %d", line["http.response.status_code"], tt.wantStatus)
			}
		})
	}
}

func TestMiddlewarePanic(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	mux.HandleFunc("/panic", func(w http.ResponseWriter, r *http.Request) { panic("nil map in checkout") })
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) {})
	srv, out := newServer(t, mux)

	resp := get(t, srv.URL+"/panic", nil)
	if resp.StatusCode != 500 {
		t.Errorf("got status %d, want 500", resp.StatusCode)
	}
	line := out.only(t)
	if line["error.code"] != logging.CodePanic || line["error.message"] != "panic: nil map in checkout" || line["level"] != "error" {
		t.Errorf("got %v, want a panic line at level error", line)
	}
	if stack, _ := line["error.stack_trace"].(string); !strings.Contains(stack, "TestMiddlewarePanic") {
		t.Errorf("got stack %q, want one naming the panicking function", stack)
	}
	if resp := get(t, srv.URL+"/ok", nil); resp.StatusCode != 200 {
		t.Errorf("after a panic got status %d, want the server to keep serving with 200", resp.StatusCode)
	}
}

func TestMiddlewarePanicAfterWrite(t *testing.T) {
	t.Parallel()
	srv, out := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("partial"))
		w.(http.Flusher).Flush()
		panic("half way")
	}))
	resp, err := http.Get(srv.URL)
	if err == nil {
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	if err == nil {
		t.Error("got a whole response, want the truncated one aborted")
	}
	line := out.only(t)
	if line["error.code"] != logging.CodePanic || line["http.response.status_code"] != float64(200) || line["error.stack_trace"] == nil {
		t.Errorf("got %v, want a panic line with status 200 and a stack", line)
	}
}

func TestMiddlewareAbortHandler(t *testing.T) {
	t.Parallel()
	srv, out := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		panic(http.ErrAbortHandler)
	}))
	if resp, err := http.Get(srv.URL); err == nil {
		resp.Body.Close()
		t.Errorf("got a response %d, want the connection aborted", resp.StatusCode)
	}
	line := out.only(t)
	if line["error.code"] != logging.CodePanic {
		t.Errorf("got error.code %v, want %s", line["error.code"], logging.CodePanic)
	}
	if _, ok := line["error.stack_trace"]; ok {
		t.Error("got a stack for http.ErrAbortHandler, want none")
	}
}

var generatedID = regexp.MustCompile(`^[0-9a-f]{32}$`)

// TestHostileHeaders sends header values meant to break or forge a line:
// each must be replaced or escaped, and secrets never written. It calls the
// middleware directly: net/http's client and server refuse control
// characters on the wire, but the middleware must not rely on that.
func TestHostileHeaders(t *testing.T) {
	t.Parallel()
	var out lineBuffer
	l := logging.New(logging.Config{
		Output: &out,
		UserID: func(r *http.Request) string { return r.Header.Get("X-User-ID") },
	})
	var seen []string
	h := l.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = append(seen, logging.RequestID(r.Context()))
	}))
	hostile := []string{
		strings.Repeat("a", 10<<10),
		"r1\nnext",
		"r1\r\n{\"level\":\"fake\"}",
		"r1\",\"user.id\":\"admin",
		"r1\\\"},{\"forged\":1",
		"abc def",
		"r1\x01\x7f\x00",
		"\xff\xfe",
		"ü-unicode",
		"",
		strings.Repeat("b", reqlog.MaxRequestIDLen+1),
	}
	const user = "u\"1\n{\"level\":\"fake\"}\x00"
	for _, id := range hostile {
		req := httptest.NewRequest(http.MethodGet, "/p%0A%22x", nil)
		req.Header["X-Request-Id"] = []string{id}
		req.Header.Set("X-User-ID", user)
		req.Header.Set("Authorization", "Bearer top-secret-token")
		req.Header.Set("Cookie", "session=top-secret-cookie")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if got := rec.Header().Get("X-Request-ID"); !generatedID.MatchString(got) {
			t.Errorf("request id %.40q: got response id %.40q, want a generated one", id, got)
		}
	}
	raw := out.String()
	if strings.Contains(raw, "top-secret") {
		t.Errorf("got Authorization or Cookie in the log:\n%s", raw)
	}
	lines := out.lines(t) // fails on any line that is not one JSON object
	if len(lines) != len(hostile) {
		t.Fatalf("got %d lines, want %d:\n%s", len(lines), len(hostile), raw)
	}
	for i, line := range lines {
		if id, _ := line["http.request.id"].(string); !generatedID.MatchString(id) || id != seen[i] {
			t.Errorf("got logged id %q (handler saw %q), want the same generated id", id, seen[i])
		}
		if line["user.id"] != user || line["level"] != "info" || line["url.path"] != "/p\n\"x" {
			t.Errorf("got user.id %q url.path %q level %q, want the values escaped in their own fields", line["user.id"], line["url.path"], line["level"])
		}
		if _, ok := line["forged"]; ok {
			t.Error("got a forged field")
		}
	}
	for _, l := range strings.Split(strings.TrimSpace(raw), "\n") {
		for k, n := range countKeys(t, l) {
			if n != 1 {
				t.Errorf("got key %s %d times in %s, want once", k, n, l)
			}
		}
	}
}

func TestRequestIDOverTheWire(t *testing.T) {
	t.Parallel()
	srv, out := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	tests := []struct {
		sent     string
		wantKept bool
	}{
		{"5f0c1c1e-8a4b-4b7e-9a57-1f1b0c6f5e2d", true},
		{"01J9Z8Y7X6W5V4T3S2R1Q0P9N8", true},
		{"dGhpcyBpcyBiYXNlNjQ=", true},
		{"quote\"d", false},
		{"a b", false},
		{strings.Repeat("a", 10<<10), false},
	}
	for _, tt := range tests {
		resp := get(t, srv.URL, map[string]string{"X-Request-ID": tt.sent})
		got := resp.Header.Get("X-Request-ID")
		if tt.wantKept && got != tt.sent || !tt.wantKept && !generatedID.MatchString(got) {
			t.Errorf("sent %.40q: got %.40q, want kept=%v", tt.sent, got, tt.wantKept)
		}
	}
	if n := len(out.lines(t)); n != len(tests) {
		t.Errorf("got %d lines, want %d", n, len(tests))
	}
}

// TestContextLogger checks the lines a handler logs itself, with zerolog
// and with slog, from the handler's goroutine and others at once.
func TestContextLogger(t *testing.T) {
	t.Parallel()
	var out lineBuffer
	l := logging.New(logging.Config{Output: &out, ServiceName: "svc"})
	slogger := l.Slog()
	h := l.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		var wg sync.WaitGroup
		for i := range 4 {
			wg.Go(func() {
				logging.FromContext(ctx).Info().Int("i", i).Msg("zerolog")
				slogger.InfoContext(ctx, "slog", "i", i)
				logging.SetUserID(ctx, "u2")
			})
		}
		wg.Wait()
	}))
	srv := httptest.NewServer(h)
	defer srv.Close()
	get(t, srv.URL, map[string]string{"X-Request-ID": "ctx-1", "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"})
	lines := out.lines(t)
	if len(lines) != 9 {
		t.Fatalf("got %d lines, want 9:\n%s", len(lines), out.String())
	}
	for _, line := range lines {
		if line["http.request.id"] != "ctx-1" || line["trace_id"] != "4bf92f3577b34da6a3ce929d0e0e4736" || line["service.name"] != "svc" {
			t.Errorf("got %v, want request id, trace id and service name", line)
		}
		if _, ok := line["timestamp"]; !ok {
			t.Errorf("got %v, want a timestamp", line)
		}
		if _, ok := line["time"]; ok {
			t.Errorf("got zerolog's time key in %v, want only timestamp", line)
		}
	}
	if last := lines[8]; last["user.id"] != "u2" || last["message"] != "http request" {
		t.Errorf("got access line %v, want user.id u2 set by the handler", last)
	}
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		for k, n := range countKeys(t, l) {
			if n != 1 {
				t.Errorf("got key %s %d times in %s, want once", k, n, l)
			}
		}
	}
}

func TestFromContextWithoutRequest(t *testing.T) {
	t.Parallel()
	logging.FromContext(t.Context()).Info().Msg("goes nowhere")
	logging.SetError(t.Context(), errors.New("ignored"))
	if got := logging.RequestID(t.Context()); got != "" {
		t.Errorf("got request id %q outside a request, want none", got)
	}
}

func TestResponseWriterStatus(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		handler http.HandlerFunc
		want    float64
	}{
		{"empty", func(w http.ResponseWriter, r *http.Request) {}, 200},
		{"write", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("x")) }, 200},
		{"early hints then 201", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Link", "</a.css>; rel=preload")
			w.WriteHeader(http.StatusEarlyHints)
			w.WriteHeader(http.StatusCreated)
		}, 201},
		{"flush", func(w http.ResponseWriter, r *http.Request) {
			if err := http.NewResponseController(w).Flush(); err != nil {
				panic(err)
			}
		}, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, out := newServer(t, tt.handler)
			get(t, srv.URL, nil)
			if got := out.only(t)["http.response.status_code"]; got != tt.want {
				t.Errorf("got status %v, want %v", got, tt.want)
			}
		})
	}
}
