package reqlog

import (
	"math/rand/v2"
	"strings"
)

// MaxRequestIDLen is the longest incoming request id that is kept.
const MaxRequestIDLen = 128

// requestIDLen is the length of a generated request id: 128 random bits in
// lowercase hex.
const requestIDLen = 32

// maxTraceStateLen is the longest tracestate passed on. The W3C spec asks
// for at least 512 characters to be propagated.
const maxTraceStateLen = 512

// SanitizeRequestID reports whether id is sane enough to log and echo as a
// request id, and returns it if so. A sane id has 1 to MaxRequestIDLen
// characters from A–Z, a–z, 0–9 and "-_.:+/=@" (UUIDs, ULIDs, hex and
// base64 ids pass); anything else — newlines, quotes, control characters,
// spaces, non-ASCII, 10 kB — is refused, never repaired, so that a refused id
// is replaced rather than written in part.
func SanitizeRequestID(id string) (string, bool) {
	if len(id) == 0 || len(id) > MaxRequestIDLen {
		return "", false
	}
	for i := 0; i < len(id); i++ {
		if !idChar(id[i]) {
			return "", false
		}
	}
	return id, true
}

func idChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("-_.:+/=@", c) >= 0
}

// NewRequestID returns a new random request id: 32 lowercase hex digits.
func NewRequestID() string {
	var b [requestIDLen]byte
	fillHex(b[:])
	return string(b[:])
}

// fillHex fills b with random lowercase hex digits. Request and span ids
// need to be unique, not secret: math/rand/v2's runtime-seeded generator is
// enough, and it does not make a system call.
func fillHex(b []byte) {
	const hexDigits = "0123456789abcdef"
	for i := 0; i < len(b); i += 16 {
		r := rand.Uint64()
		for j := i; j < i+16 && j < len(b); j++ {
			b[j] = hexDigits[r&0xf]
			r >>= 4
		}
	}
}

// newSpanID returns a new random span id: 16 lowercase hex digits, not all
// zero (the W3C spec makes an all-zero parent-id invalid).
func newSpanID() string {
	var b [16]byte
	for {
		fillHex(b[:])
		if !allZero(string(b[:])) {
			return string(b[:])
		}
	}
}

// ParseTraceParent returns the trace id, parent span id and trace flags of
// a W3C Trace Context traceparent header ("00-<32 hex>-<16 hex>-<2 hex>"),
// and false if h is not a valid one. The returned strings are substrings
// of h.
func ParseTraceParent(h string) (traceID, spanID, flags string, ok bool) {
	// version "-" trace-id "-" parent-id "-" flags; later versions may
	// append "-"-separated fields, version 00 may not.
	if len(h) < 55 || h[2] != '-' || h[35] != '-' || h[52] != '-' {
		return "", "", "", false
	}
	version, traceID, spanID, flags := h[:2], h[3:35], h[36:52], h[53:55]
	if !lowerHex(version) || version == "ff" || !lowerHex(traceID) || !lowerHex(spanID) || !lowerHex(flags) {
		return "", "", "", false
	}
	if version == "00" && len(h) != 55 || version != "00" && len(h) > 55 && h[55] != '-' {
		return "", "", "", false
	}
	if allZero(traceID) || allZero(spanID) {
		return "", "", "", false
	}
	return traceID, spanID, flags, true
}

// TraceParent returns the version-00 traceparent header of a call to the
// next service: the same trace id, a new parent id (spanID), and of the
// flags only "sampled", the one flag version 00 defines (the spec asks for
// the others to be sent as zero).
func TraceParent(traceID, spanID, flags string) string {
	sampled := "00"
	if len(flags) == 2 && strings.IndexByte("13579bdf", flags[1]) >= 0 {
		sampled = "01"
	}
	return "00-" + traceID + "-" + spanID + "-" + sampled
}

// SanitizeTraceState returns h, the tracestate header that came with a
// valid traceparent, if it is safe to pass on: printable ASCII, at most
// maxTraceStateLen characters. Otherwise it returns "": the header is
// dropped, never repaired.
func SanitizeTraceState(h string) string {
	if len(h) > maxTraceStateLen {
		return ""
	}
	for i := 0; i < len(h); i++ {
		if h[i] < 0x20 || h[i] > 0x7e {
			return ""
		}
	}
	return h
}

func lowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func allZero(s string) bool {
	return strings.Trim(s, "0") == ""
}
