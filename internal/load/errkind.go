package load

import (
	"strings"

	"github.com/podlife/podlife/internal/check"
	"github.com/podlife/podlife/internal/oneline"
)

// Kinds of errors a Summary counts. Socket and protocol errors are
// counted by kind, not by text: their texts differ per connection (they
// carry the ephemeral local port), so that each connection would count as
// a kind of its own.
const (
	ErrRefused = "connection refused"
	ErrTimeout = "timeout"
	ErrReset   = "connection reset"
	ErrEOF     = "EOF"
	ErrTLS     = "TLS handshake"
	ErrDNS     = "DNS"
)

// errorKind returns the kind of an error text: one of the Err constants,
// or else the text itself, with the local address of a connection
// ("read tcp 127.0.0.1:54321->127.0.0.1:8080") dropped and its length
// bounded. The kinds are tried in order: a DNS lookup that times out is
// a DNS error, a TLS handshake that times out a timeout.
func errorKind(text string) string {
	switch {
	case has(text, "connection refused"):
		return ErrRefused
	case has(text, "no such host", "server misbehaving", "lookup "):
		return ErrDNS
	case has(text, "timeout", "deadline exceeded", "Timeout exceeded"):
		return ErrTimeout
	case has(text, "connection reset", "broken pipe", "forcibly closed"):
		return ErrReset
	case has(text, "tls:", "x509:", "TLS handshake"):
		return ErrTLS
	case has(text, "EOF", "server closed idle connection"):
		return ErrEOF
	}
	return oneline.Clip(check.Redact(dropLocalAddrs(text)), maxErrorLen)
}

// has reports whether text contains any of the fragments.
func has(text string, fragments ...string) bool {
	for _, f := range fragments {
		if strings.Contains(text, f) {
			return true
		}
	}
	return false
}

// dropLocalAddrs removes the local side of "local->remote" address pairs.
func dropLocalAddrs(text string) string {
	for {
		i := strings.Index(text, "->")
		if i < 0 {
			return text
		}
		start := strings.LastIndexByte(text[:i], ' ') + 1
		text = text[:start] + text[i+len("->"):]
	}
}
