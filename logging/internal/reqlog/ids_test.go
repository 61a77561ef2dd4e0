package reqlog

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSanitizeRequestID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want bool
	}{
		{"r1", true},
		{"5f0c1c1e-8a4b-4b7e-9a57-1f1b0c6f5e2d", true},
		{"Root=1-5759e988-bd862e3fe1be46a994272793", true},
		{"a+b/c=d_e.f:g@h", true},
		{strings.Repeat("x", MaxRequestIDLen), true},
		{strings.Repeat("x", MaxRequestIDLen+1), false},
		{"", false},
		{"a b", false},
		{"a\nb", false},
		{"a\"b", false},
		{"a\\b", false},
		{"a\x00b", false},
		{"é", false},
		{"a;b", false},
		{"<script>", false},
	}
	for _, tt := range tests {
		got, ok := SanitizeRequestID(tt.in)
		if ok != tt.want || ok && got != tt.in || !ok && got != "" {
			t.Errorf("SanitizeRequestID(%.40q) = %q, %v, want ok=%v", tt.in, got, ok, tt.want)
		}
	}
}

// FuzzSanitizeRequestID checks that whatever comes in, what is kept is
// short, plain ASCII that needs no escaping in JSON, and is the input.
func FuzzSanitizeRequestID(f *testing.F) {
	for _, s := range []string{"r1", "", "a\nb", "\"", strings.Repeat("a", 200), "ü", "a\x00", "abc-DEF_0.9:+/=@", "{\"k\":1}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, ok := SanitizeRequestID(in)
		if !ok {
			if got != "" {
				t.Fatalf("refused %q but returned %q", in, got)
			}
			return
		}
		if got != in || len(got) == 0 || len(got) > MaxRequestIDLen || !utf8.ValidString(got) {
			t.Fatalf("kept %q as %q", in, got)
		}
		b, _ := json.Marshal(got)
		if string(b) != `"`+got+`"` {
			t.Fatalf("kept %q, which JSON escapes as %s", got, b)
		}
		for _, c := range []byte(got) {
			if c <= ' ' || c >= 0x7f || c == '"' || c == '\\' || c == ',' || c == ';' {
				t.Fatalf("kept %q with byte %q", got, c)
			}
		}
	})
}

func TestNewRequestID(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 1000 {
		id := NewRequestID()
		if _, ok := SanitizeRequestID(id); !ok || len(id) != 32 || seen[id] {
			t.Fatalf("got id %q, want 32 fresh hex digits", id)
		}
		seen[id] = true
	}
}

func TestParseTraceParent(t *testing.T) {
	t.Parallel()
	const trace, span = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	tests := []struct {
		in     string
		wantOK bool
	}{
		{"00-" + trace + "-" + span + "-01", true},
		{"00-" + trace + "-" + span + "-00", true},
		{"01-" + trace + "-" + span + "-01-future", true},
		{"01-" + trace + "-" + span + "-01", true},
		{"00-" + trace + "-" + span + "-01-extra", false}, // version 00 has no extra fields
		{"01-" + trace + "-" + span + "-01x", false},
		{"ff-" + trace + "-" + span + "-01", false},
		{"00-" + strings.ToUpper(trace) + "-" + span + "-01", false},
		{"00-00000000000000000000000000000000-" + span + "-01", false},
		{"00-" + trace + "-0000000000000000-01", false},
		{"00-" + trace + "-" + span, false},
		{"", false},
		{"00-" + trace[:31] + "\"-" + span + "-01", false},
	}
	for _, tt := range tests {
		gotTrace, gotSpan, _, ok := ParseTraceParent(tt.in)
		if ok != tt.wantOK {
			t.Errorf("ParseTraceParent(%q): got ok=%v, want %v", tt.in, ok, tt.wantOK)
			continue
		}
		if ok && (gotTrace != trace || gotSpan != span) {
			t.Errorf("ParseTraceParent(%q) = %q, %q, want %q, %q", tt.in, gotTrace, gotSpan, trace, span)
		}
	}
}

func TestTraceParent(t *testing.T) {
	t.Parallel()
	const trace, span = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	for _, tt := range []struct{ flags, want string }{
		{"01", "00-" + trace + "-" + span + "-01"},
		{"00", "00-" + trace + "-" + span + "-00"},
		{"03", "00-" + trace + "-" + span + "-01"}, // only "sampled" is defined in version 00
		{"fe", "00-" + trace + "-" + span + "-00"},
	} {
		got := TraceParent(trace, span, tt.flags)
		if got != tt.want {
			t.Errorf("TraceParent(flags %s) = %q, want %q", tt.flags, got, tt.want)
		}
		if _, _, _, ok := ParseTraceParent(got); !ok {
			t.Errorf("TraceParent(flags %s) = %q, which ParseTraceParent refuses", tt.flags, got)
		}
	}
}

func TestNewSpanID(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 1000 {
		id := newSpanID()
		if len(id) != 16 || !lowerHex(id) || allZero(id) || seen[id] {
			t.Fatalf("got span id %q, want 16 fresh lowercase hex digits, not all zero", id)
		}
		seen[id] = true
	}
}

func TestSanitizeTraceState(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ in, want string }{
		{"", ""},
		{"vendor=abc,other=1", "vendor=abc,other=1"},
		{"a=b\r\nX-Evil: 1", ""},
		{"a=\x00", ""},
		{"a=\u00e9", ""},
		{"a=b\tc", ""},
		{"a=\x7f", ""},
		{strings.Repeat("k=v,", 128), strings.Repeat("k=v,", 128)},
		{strings.Repeat("k=v,", 129), ""},
	} {
		if got := SanitizeTraceState(tt.in); got != tt.want {
			t.Errorf("SanitizeTraceState(%.40q) = %.40q, want %.40q", tt.in, got, tt.want)
		}
	}
}
