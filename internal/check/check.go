// Package check is the one implementation of every health check podlife
// knows: HTTP(S), TCP, gRPC health (h2c and TLS), unix sockets and files.
// The probe binary, warmup's wait phase and prestop all build on it.
//
// A check is built once from a target URL and Options with New, which
// reports every configuration problem before anything touches the network,
// and is then run as often as needed with Check. Check returns nil when the
// target is healthy, and otherwise an *Error whose Kind says whether the
// target answered and failed the expectation (Unhealthy) or could not be
// reached at all (Unreachable).
package check

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// Kind classifies a failed check.
type Kind int

const (
	// Unhealthy means the target answered and the answer failed the
	// expectation: a bad status, a body that did not match, NOT_SERVING,
	// a stale heartbeat file.
	Unhealthy Kind = iota + 1
	// Unreachable means no answer could be had: connection refused, DNS
	// failure, TLS handshake failure, timeout, a missing socket.
	Unreachable
)

// String returns "unhealthy" or "unreachable".
func (k Kind) String() string {
	switch k {
	case Unhealthy:
		return "unhealthy"
	case Unreachable:
		return "unreachable"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Error is the error a failed check returns. Its message is the short,
// single-line reason that is meant to end up in a Pod's events.
type Error struct {
	// Kind says whether the target answered.
	Kind Kind
	// Reason is a short human-readable reason, such as "NOT_SERVING" or
	// "status 503, want 200-399".
	Reason string
	// Err is the underlying error, if any.
	Err error
}

// Error returns the reason.
func (e *Error) Error() string { return e.Reason }

// ExitCode returns the podlife binaries' exit code for e: 1 for
// Unhealthy, 3 for Unreachable (internal/cli names them).
func (e *Error) ExitCode() int {
	if e.Kind == Unhealthy {
		return 1
	}
	return 3
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// KindOf returns the Kind of err: the Kind of an *Error in its chain, and
// Unreachable for any other non-nil error. It returns 0 for nil.
func KindOf(err error) Kind {
	if err == nil {
		return 0
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return Unreachable
}

func unhealthy(format string, args ...any) error {
	return &Error{Kind: Unhealthy, Reason: fmt.Sprintf(format, args...)}
}

// unreachable wraps a transport error, describing a deadline as a timeout
// so that the reason reads the same whichever step ran out of time.
func unreachable(ctx context.Context, step string, err error) error {
	if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) || isTimeout(err) {
		return &Error{Kind: Unreachable, Reason: "timeout during " + step, Err: err}
	}
	return &Error{Kind: Unreachable, Reason: step + ": " + shortNetError(err), Err: err}
}

// Options configures a check. The zero value is useful: GET, status
// 200-399, system CA pool, no proxy.
type Options struct {
	// Method is the HTTP method; "" means GET.
	Method string
	// Header is sent with HTTP requests; for gRPC it is sent as request
	// metadata. A "Host" entry overrides the Host header / :authority.
	Header http.Header
	// Body is the HTTP request body.
	Body []byte
	// Status is the set of HTTP statuses that pass; empty means 200-399.
	Status StatusSet
	// BodyContains, when set, must occur in the HTTP response body.
	BodyContains string
	// BodyRegexp, when set, must match the HTTP response body.
	BodyRegexp *regexp.Regexp
	// MaxBody bounds how much of a response body is read. The body is
	// always read, within the deadline, so that a stalled or truncated
	// body fails as under kubelet; 0 means kubelet's 10 KiB, or 64 KiB
	// with BodyContains or BodyRegexp.
	MaxBody int64
	// H2C makes http:// targets speak cleartext HTTP/2 with prior
	// knowledge (kubelet's h2c probes); https:// negotiates HTTP/2 by
	// itself.
	H2C bool
	// Warn, when set, is called for a check that passes with a warning:
	// an HTTP redirect to another host, which is not followed (as
	// kubelet). target is the Checker's Target.
	Warn func(target, msg string)
	// TLS configures https:// and grpcs:// targets.
	TLS TLSOptions
	// Authority overrides the HTTP Host header or the gRPC :authority.
	Authority string
	// UnixSocket, for http(s):// and grpc(s):// targets, sends the request
	// over this unix socket instead of TCP (like curl --unix-socket); the
	// target's host:port is then only the Host / :authority.
	UnixSocket string
	// HTTPPath, for unix:// targets, turns the connect check into an HTTP
	// GET of this path over the socket.
	HTTPPath string
	// MaxAge, for file:// targets, is the largest age of the file's
	// modification time that passes; 0 means existence is enough.
	MaxAge time.Duration
	// UseProxy makes HTTP checks honor the proxy environment variables
	// (HTTP_PROXY, HTTPS_PROXY, NO_PROXY). Off by default: a probe talks
	// to its own Pod. Loopback targets never use a proxy.
	UseProxy bool
	// Now returns the current time for file age checks; nil means
	// time.Now.
	Now func() time.Time
}

// Checker runs one check against one target.
type Checker interface {
	// Check returns nil when the target is healthy. It honors ctx's
	// deadline at every step.
	Check(ctx context.Context) error
	// Target returns the target as given, with its secrets redacted
	// (Target.String): it is what messages and logs print.
	Target() string
}

// New parses target and returns a Checker for it. It returns a
// *ConfigError for an unknown scheme, a malformed target, or options that
// do not fit the target (TLS options on a plain-text target, an unreadable
// CA file, ...), before any network traffic.
func New(target string, o Options) (Checker, error) {
	t, err := ParseTarget(target)
	if err != nil {
		return nil, err
	}
	return NewFor(t, o)
}

// NewFor is New for a target already parsed with ParseTarget, for callers
// that look at the targets first (their schemes, for Unused).
func NewFor(t Target, o Options) (Checker, error) {
	if err := o.validate(t); err != nil {
		return nil, err
	}
	switch t.Scheme {
	case "http", "https":
		return newHTTP(t, o)
	case "grpc", "grpcs":
		return newGRPC(t, o)
	case "tcp":
		return &tcpCheck{t: t}, nil
	case "unix":
		if o.HTTPPath != "" {
			return newHTTP(t, o)
		}
		return &unixCheck{t: t}, nil
	case "file":
		return &fileCheck{t: t, maxAge: o.MaxAge, now: o.Now}, nil
	}
	return nil, configErr("", t.String(), "unknown scheme %q", t.Scheme)
}

// ConfigError reports a target or option that cannot work. The CLI maps it
// to exit code 2.
type ConfigError struct {
	// Flag names the option at fault, without dashes; "" when the target
	// itself is at fault.
	Flag string
	// Target is the target concerned, if any.
	Target string
	// Msg says what is wrong and what would be right.
	Msg string
}

// Error formats the error naming the flag or the target.
func (e *ConfigError) Error() string {
	switch {
	case e.Flag != "" && e.Target != "":
		return fmt.Sprintf("--%s: %s (target %s)", e.Flag, e.Msg, Redact(e.Target))
	case e.Flag != "":
		return fmt.Sprintf("--%s: %s", e.Flag, e.Msg)
	case e.Target != "":
		return fmt.Sprintf("%s: %s", Redact(e.Target), e.Msg)
	}
	return e.Msg
}

// ExitCode returns 2, the podlife binaries' exit code for a usage or
// configuration error (internal/cli names it).
func (e *ConfigError) ExitCode() int { return 2 }

func configErr(flag, target, format string, args ...any) error {
	return &ConfigError{Flag: flag, Target: target, Msg: fmt.Sprintf(format, args...)}
}

// validate checks that o is consistent in itself. Options that do not
// apply to t's kind are ignored: one set of options serves every target
// of a call (probe https://… tcp://… with --ca-file); Unused reports an
// option that applies to none of them.
func (o *Options) validate(t Target) error {
	if (o.TLS.CertFile == "") != (o.TLS.KeyFile == "") {
		if o.TLS.CertFile == "" {
			return configErr("key-file", "", "needs --cert-file too")
		}
		return configErr("cert-file", "", "needs --key-file too")
	}
	if o.MaxAge < 0 {
		return configErr("max-age", "", "must not be negative")
	}
	if t.Scheme.GRPC() && t.Port == "" && o.UnixSocket == "" {
		return configErr("", t.String(), "missing port; want %s://%s:PORT (only --unix-socket makes the port unneeded)", t.Scheme, t.Host)
	}
	if t.Scheme == SchemeUnix && o.HTTPPath != "" {
		if _, err := url.Parse("http://localhost/" + strings.TrimPrefix(o.HTTPPath, "/")); err != nil {
			return configErr("http-path", "", "bad path %q; want e.g. /healthz", o.HTTPPath)
		}
	}
	return nil
}

// Unused returns a *ConfigError naming the first option of o that applies
// to none of the given schemes (such as "https", "tcp"), and what it
// needs; nil when every option set applies to some target. Commands call
// it with the schemes of all their targets, so that --insecure with only
// http:// targets is an error while probe --ca-file ca.pem https://… tcp://…
// is not.
func Unused(o Options, schemes ...Scheme) error {
	has := func(want ...Scheme) bool {
		for _, s := range schemes {
			for _, w := range want {
				if s == w {
					return true
				}
			}
		}
		return false
	}
	httpLike := has("http", "https") || (o.HTTPPath != "" && has("unix"))
	for _, r := range []struct {
		flag string
		set  bool
		ok   bool
		need string
	}{
		{"insecure", o.TLS.InsecureSkipVerify, has("https", "grpcs"), "an https:// or grpcs:// target"},
		{"ca-file", o.TLS.CAFile != "", has("https", "grpcs"), "an https:// or grpcs:// target"},
		{"cert-file", o.TLS.CertFile != "", has("https", "grpcs"), "an https:// or grpcs:// target"},
		{"server-name", o.TLS.ServerName != "", has("https", "grpcs"), "an https:// or grpcs:// target"},
		{"unix-socket", o.UnixSocket != "", has("http", "https", "grpc", "grpcs"), "an http(s):// or grpc(s):// target (for a plain connect use unix:///path)"},
		{"http-path", o.HTTPPath != "", has("unix"), "a unix:// target (put the path in the URL of an http:// target)"},
		{"max-age", o.MaxAge > 0, has("file"), "a file:// target"},
		{"h2c", o.H2C, has("http"), "an http:// target (https:// negotiates HTTP/2 by itself; grpc:// is always HTTP/2)"},
		{"method", o.Method != "", httpLike, "an HTTP target"},
		{"body", o.Body != nil, httpLike, "an HTTP target"},
		{"status", len(o.Status.ranges) > 0, httpLike, "an HTTP target"},
		{"body-contains", o.BodyContains != "", httpLike, "an HTTP target"},
		{"body-regexp", o.BodyRegexp != nil, httpLike, "an HTTP target"},
		{"authority", o.Authority != "", httpLike || has("grpc", "grpcs"), "an HTTP or gRPC target"},
		{"header", len(o.Header) > 0, httpLike || has("grpc", "grpcs"), "an HTTP or gRPC target"},
	} {
		if r.set && !r.ok {
			return configErr(r.flag, "", "applies to no target here; it needs %s", r.need)
		}
	}
	return nil
}
