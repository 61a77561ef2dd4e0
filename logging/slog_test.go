package logging_test

import (
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/podlife/podlife/logging"
)

func TestSlogBridge(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		level logging.Level
		log   func(*slog.Logger)
		want  map[string]any // nil: no line
	}{
		{"info with attrs", logging.LevelInfo, func(l *slog.Logger) { l.Info("hi", "n", 3, slog.Bool("ok", true)) },
			map[string]any{"level": "info", "message": "hi", "n": float64(3), "ok": true}},
		{"group becomes dotted prefix", logging.LevelInfo, func(l *slog.Logger) { l.WithGroup("db").Warn("slow", "table", "carts") },
			map[string]any{"level": "warn", "db.table": "carts"}},
		{"with attrs", logging.LevelInfo, func(l *slog.Logger) { l.With("component", "cart").Error("failed", "err", errors.New("boom")) },
			map[string]any{"level": "error", "component": "cart", "err": "boom"}},
		{"debug below level", logging.LevelInfo, func(l *slog.Logger) { l.Debug("hidden") }, nil},
		{"debug at debug", logging.LevelDebug, func(l *slog.Logger) { l.Debug("shown") }, map[string]any{"level": "debug"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var out lineBuffer
			l := logging.New(logging.Config{Output: &out, Level: tt.level,
				Now: func() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) }})
			tt.log(l.Slog())
			lines := out.lines(t)
			if tt.want == nil {
				if len(lines) != 0 {
					t.Fatalf("got %v, want no line", lines)
				}
				return
			}
			if len(lines) != 1 {
				t.Fatalf("got %d lines, want 1", len(lines))
			}
			for k, v := range tt.want {
				if lines[0][k] != v {
					t.Errorf("got %s=%v, want %v", k, lines[0][k], v)
				}
			}
			if lines[0]["timestamp"] != "2026-01-01T00:00:00.000000000Z" {
				t.Errorf("got timestamp %v, want the logger's clock", lines[0]["timestamp"])
			}
		})
	}
}

func TestHandlerFuncWithoutMiddleware(t *testing.T) {
	t.Parallel()
	h := logging.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		return &logging.Error{Code: "NOPE", Status: http.StatusForbidden, Err: errors.New("secret reason")}
	})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if rec.Code != http.StatusForbidden || rec.Body.String() != "Forbidden\n" {
		t.Errorf("got %d %q, want 403 with the status text only", rec.Code, rec.Body.String())
	}
}
