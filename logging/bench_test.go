package logging_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/podlife/podlife/logging"
	"github.com/podlife/podlife/logging/internal/reqlog"
)

// discardWriter is a ResponseWriter that keeps one header map, so that the
// benchmarks count the middleware's allocations, not the recorder's.
type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *discardWriter) WriteHeader(int)             {}

var trivial = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.WriteHeader(http.StatusNoContent)
})

// userID is the user-id function of both benchmarks. The header name is
// in canonical form, so that looking it up allocates nothing.
func userID(r *http.Request) string { return r.Header.Get("X-User-Id") }

func benchRequest(withID bool) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/hello", nil)
	r.Header.Set("X-User-ID", "u1")
	r.Header.Set("Traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	if withID {
		r.Header.Set("X-Request-ID", "r1")
	}
	return r
}

func runHandler(b *testing.B, h http.Handler, r *http.Request) {
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, r)
	}
}

// BenchmarkMiddleware is the access middleware of this package around a
// trivial handler, writing its line to io.Discard.
func BenchmarkMiddleware(b *testing.B) {
	l := logging.New(logging.Config{
		ServiceName: "svc", InstanceID: "pod-1", Output: io.Discard,
		UserID: userID,
	})
	h := l.Middleware(trivial)
	b.Run("incoming-id", func(b *testing.B) { runHandler(b, h, benchRequest(true)) })
	b.Run("generated-id", func(b *testing.B) { runHandler(b, h, benchRequest(false)) })
}

// BenchmarkSlogJSONMiddleware is the same middleware written plainly with
// log/slog's JSONHandler: the same request id, status and trace handling
// and the same line, keys renamed with ReplaceAttr. It is the yardstick of
// BenchmarkMiddleware.
func BenchmarkSlogJSONMiddleware(b *testing.B) {
	h := slogMiddleware(io.Discard, trivial)
	b.Run("incoming-id", func(b *testing.B) { runHandler(b, h, benchRequest(true)) })
	b.Run("generated-id", func(b *testing.B) { runHandler(b, h, benchRequest(false)) })
}

type slogKey struct{}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func slogMiddleware(out io.Writer, next http.Handler) http.Handler {
	base := slog.New(slog.NewJSONHandler(out, &slog.HandlerOptions{
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			switch {
			case len(groups) > 0:
			case a.Key == slog.TimeKey:
				return slog.String("timestamp", a.Value.Time().UTC().Format(logging.TimeLayout))
			case a.Key == slog.LevelKey:
				return slog.String("level", "info")
			case a.Key == slog.MessageKey:
				return slog.Attr{Key: "message", Value: a.Value}
			}
			return a
		},
	})).With("service.name", "svc", "service.instance.id", "pod-1")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id, ok := reqlog.SanitizeRequestID(r.Header.Get("X-Request-ID"))
		if !ok {
			id = reqlog.NewRequestID()
		}
		w.Header().Set("X-Request-ID", id)
		traceID, spanID, _, _ := reqlog.ParseTraceParent(r.Header.Get("Traceparent"))
		user := userID(r)
		ctx := context.WithValue(r.Context(), slogKey{}, id)
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r.WithContext(ctx))
		base.LogAttrs(ctx, slog.LevelInfo, "http request",
			slog.String("http.request.id", id),
			slog.String("user.id", user),
			slog.String("trace_id", traceID),
			slog.String("span_id", spanID),
			slog.Int64("event.duration", int64(time.Since(start))),
			slog.String("http.request.method", r.Method),
			slog.String("url.path", r.URL.Path),
			slog.Int("http.response.status_code", sw.status),
		)
	})
}

// TestSlogBaselineLine checks that the yardstick writes the line it claims.
func TestSlogBaselineLine(t *testing.T) {
	t.Parallel()
	var ours, theirs lineBuffer
	l := logging.New(logging.Config{ServiceName: "svc", InstanceID: "pod-1", Output: &ours, UserID: userID})
	l.Middleware(trivial).ServeHTTP(httptest.NewRecorder(), benchRequest(true))
	slogMiddleware(&theirs, trivial).ServeHTTP(httptest.NewRecorder(), benchRequest(true))
	a, b := ours.only(t), theirs.only(t)
	if len(a) != len(b) {
		t.Errorf("got %d fields from slog, want %d:\n%v\n%v", len(b), len(a), b, a)
	}
	for k, v := range a {
		if k == "timestamp" || k == "event.duration" {
			continue
		}
		if b[k] != v {
			t.Errorf("got slog %s=%v, want %v", k, b[k], v)
		}
	}
}
