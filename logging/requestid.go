package logging

import (
	"math/rand/v2"
	"strings"
)

// MaxRequestIDLen is the longest incoming request id that is kept.
const MaxRequestIDLen = 128

// requestIDLen is the length of a generated request id: 128 random bits in
// lowercase hex.
const requestIDLen = 32

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
	fillRequestID(&b)
	return string(b[:])
}

// fillRequestID writes a new request id into b. Request ids need to be
// unique, not secret: math/rand/v2's runtime-seeded generator is enough, and
// it does not make a system call.
func fillRequestID(b *[requestIDLen]byte) {
	const hexDigits = "0123456789abcdef"
	for i := 0; i < requestIDLen; i += 16 {
		r := rand.Uint64()
		for j := range 16 {
			b[i+j] = hexDigits[r&0xf]
			r >>= 4
		}
	}
}

// ParseTraceParent returns the trace id and parent span id of a W3C Trace
// Context traceparent header ("00-<32 hex>-<16 hex>-<2 hex>"), and false if
// h is not a valid one. The returned strings are substrings of h.
func ParseTraceParent(h string) (traceID, spanID string, ok bool) {
	// version "-" trace-id "-" parent-id "-" flags; later versions may
	// append "-"-separated fields, version 00 may not.
	if len(h) < 55 || h[2] != '-' || h[35] != '-' || h[52] != '-' {
		return "", "", false
	}
	version, traceID, spanID, flags := h[:2], h[3:35], h[36:52], h[53:55]
	if !lowerHex(version) || version == "ff" || !lowerHex(traceID) || !lowerHex(spanID) || !lowerHex(flags) {
		return "", "", false
	}
	if version == "00" && len(h) != 55 || version != "00" && len(h) > 55 && h[55] != '-' {
		return "", "", false
	}
	if allZero(traceID) || allZero(spanID) {
		return "", "", false
	}
	return traceID, spanID, true
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
