package reqlog

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/rs/zerolog"
)

type coded struct{ code string }

func (c coded) Error() string     { return "failed: " + c.code }
func (c coded) ErrorCode() string { return c.code }

func TestStartFinish(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	c := NewCore(zerolog.New(&out), func() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) })
	ctx, s := Start(c, context.Background(), Info{RequestID: "job-7", UserID: "cron",
		TraceParent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"})
	if From(ctx) != s {
		t.Fatal("got a context that does not carry its Scope")
	}
	From(ctx).SetError(errors.Join(errors.New("3 of 10 failed"), coded{"PARTIAL"}))
	s.Finish(zerolog.WarnLevel).Str("queue", "emails").Msg("job done")
	var line map[string]any
	if err := json.Unmarshal(out.Bytes(), &line); err != nil {
		t.Fatalf("got %q, want one JSON line: %v", out.String(), err)
	}
	for k, v := range map[string]any{KeyRequestID: "job-7", KeyUserID: "cron", KeyErrorCode: "PARTIAL",
		KeyErrorMessage: "3 of 10 failed\nfailed: PARTIAL", "queue": "emails", "level": "warn",
		KeyTraceID: "4bf92f3577b34da6a3ce929d0e0e4736", KeySpanID: "00f067aa0ba902b7",
		KeyTimestamp: "2026-01-01T00:00:00.000000000Z", KeyDuration: float64(0)} {
		if line[k] != v {
			t.Errorf("got %s=%v, want %v", k, line[k], v)
		}
	}
}

// TestOutgoing checks what a Scope passes on: the request id always, and
// the trace context only when it came with a valid traceparent; each call
// gets a new parent id.
func TestOutgoing(t *testing.T) {
	t.Parallel()
	const trace, span = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	c := NewCore(zerolog.Nop(), time.Now)
	tests := []struct {
		name      string
		info      Info
		wantID    string
		wantTrace bool
		wantState string
	}{
		{"no trace", Info{RequestID: "r1", TraceState: "k=v"}, "r1", false, ""},
		{"trace", Info{RequestID: "r1", TraceParent: "00-" + trace + "-" + span + "-01", TraceState: "k=v"}, "r1", true, "k=v"},
		{"bad trace", Info{RequestID: "r1", TraceParent: "00-" + trace + "-" + span + "-01-x", TraceState: "k=v"}, "r1", false, ""},
		{"hostile state", Info{RequestID: "r1", TraceParent: "00-" + trace + "-" + span + "-01", TraceState: "k=v\r\nX: 1"}, "r1", true, ""},
	}
	for _, tt := range tests {
		_, s := Start(c, context.Background(), tt.info)
		id, tp1, ts := s.Outgoing()
		_, tp2, _ := s.Outgoing()
		if id != tt.wantID || ts != tt.wantState {
			t.Errorf("%s: got id %q, tracestate %q, want %q, %q", tt.name, id, ts, tt.wantID, tt.wantState)
		}
		if !tt.wantTrace {
			if tp1 != "" {
				t.Errorf("%s: got traceparent %q, want none", tt.name, tp1)
			}
			continue
		}
		gotTrace, gotSpan, flags, ok := ParseTraceParent(tp1)
		_, gotSpan2, _, _ := ParseTraceParent(tp2)
		if !ok || gotTrace != trace || flags != "01" || gotSpan == span || gotSpan2 == gotSpan {
			t.Errorf("%s: got traceparents %q, %q, want trace %s, flags 01, a new parent id each", tt.name, tp1, tp2, trace)
		}
	}
	var nilScope *Scope
	if id, tp, ts := nilScope.Outgoing(); id+tp+ts != "" {
		t.Errorf("nil Scope: got %q %q %q, want nothing", id, tp, ts)
	}
}

type linked struct{ Link }

func TestCoreOf(t *testing.T) {
	t.Parallel()
	c := NewCore(zerolog.Nop(), time.Now)
	if got := CoreOf(&linked{NewLink(c)}); got != c {
		t.Errorf("got %p, want the linked Core %p", got, c)
	}
	if got := CoreOf(struct{}{}); got != nil {
		t.Errorf("got %p for a value without a Link, want nil", got)
	}
}

// TestClipKeepsRunesWhole: a value cut at the limit ends on a whole rune,
// so a path of multi-byte characters is logged as valid UTF-8, not with a
// broken last character.
func TestClipKeepsRunesWhole(t *testing.T) {
	t.Parallel()
	for _, s := range []string{
		strings.Repeat("é", maxFieldLen),       // 2 bytes each: the limit falls on a rune start
		"x" + strings.Repeat("é", maxFieldLen), // ... and here inside one
		strings.Repeat("日本", maxFieldLen),      // 3 bytes each
		strings.Repeat("a", maxFieldLen+5),
	} {
		got := Clip(s)
		if len(got) > maxFieldLen || len(got) < maxFieldLen-utf8.UTFMax {
			t.Errorf("Clip of %d bytes: %d bytes, want at most %d and at least %d", len(s), len(got), maxFieldLen, maxFieldLen-utf8.UTFMax)
		}
		if !utf8.ValidString(got) {
			t.Errorf("Clip of %d bytes of %q...: not valid UTF-8 at its end: % x", len(s), s[:4], got[len(got)-4:])
		}
		if !strings.HasPrefix(s, got) {
			t.Errorf("Clip of %q...: not a prefix", s[:4])
		}
	}
	if got := Clip("short/é"); got != "short/é" {
		t.Errorf("Clip(short) = %q", got)
	}
}
