package oneline

import (
	"errors"
	"fmt"
	"os"
	"testing"
	"unicode/utf8"
)

func TestClip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		max  int
		want string
	}{
		{"ok", 10, "ok"},
		{"a\nb\r\nc\td\x7f", 0, "a b  c d "},
		{"abcdef", 3, "abc…"},
		{"héllo", 2, "h…"}, // "é" is two bytes: never cut inside it
		{"héllo", 3, "hé…"},
		{"日本語", 4, "日…"},
		{"bad \xff byte", 0, "bad \uFFFD byte"},
		{"exact", 5, "exact"},
	}
	for _, tt := range tests {
		got := Clip(tt.in, tt.max)
		if got != tt.want {
			t.Errorf("Clip(%q, %d): got %q, want %q", tt.in, tt.max, got, tt.want)
		}
		if !utf8.ValidString(got) {
			t.Errorf("Clip(%q, %d): got invalid UTF-8 %q", tt.in, tt.max, got)
		}
	}
}

func TestPathError(t *testing.T) {
	t.Parallel()
	_, err := os.Open("/nonexistent/ca.pem")
	if got, want := PathError(err), "/nonexistent/ca.pem: no such file or directory"; got != want {
		t.Errorf("PathError(open error): got %q, want %q", got, want)
	}
	wrapped := fmt.Errorf("reading: %w", err)
	if got, want := PathError(wrapped), "/nonexistent/ca.pem: no such file or directory"; got != want {
		t.Errorf("PathError(wrapped): got %q, want %q", got, want)
	}
	if got, want := PathError(errors.New("plain")), "plain"; got != want {
		t.Errorf("PathError(plain): got %q, want %q", got, want)
	}
}
