package logging

import (
	"context"
	"log/slog"
	"time"

	"github.com/rs/zerolog"
)

// SlogHandler returns a log/slog Handler that writes through l with the
// same field names: the timestamp under "timestamp" (not zerolog's "time"),
// and, for records logged with a request's context, the request id, user id
// and trace ids. Groups become dotted key prefixes.
func (l *Logger) SlogHandler() slog.Handler {
	return slogHandler{h: zerolog.NewSlogHandler(l.core.Logger)}
}

// slogHandler wraps zerolog's SlogHandler, which writes record.Time under
// zerolog.TimestampFieldName: it drops the record's time so that l's hook
// writes the one timestamp, under our key.
type slogHandler struct {
	h slog.Handler
}

// Enabled implements slog.Handler.
func (h slogHandler) Enabled(ctx context.Context, lvl slog.Level) bool {
	return h.h.Enabled(ctx, lvl)
}

// Handle implements slog.Handler.
func (h slogHandler) Handle(ctx context.Context, r slog.Record) error {
	r.Time = time.Time{}
	return h.h.Handle(ctx, r)
}

// WithAttrs implements slog.Handler.
func (h slogHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return slogHandler{h: h.h.WithAttrs(attrs)}
}

// WithGroup implements slog.Handler.
func (h slogHandler) WithGroup(name string) slog.Handler {
	return slogHandler{h: h.h.WithGroup(name)}
}
