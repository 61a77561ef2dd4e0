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
	"regexp"
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
	// MaxBody bounds how much of a response body is read for matching;
	// 0 means 64 KiB.
	MaxBody int64
	// TLS configures https:// and grpcs:// targets.
	TLS TLSOptions
	// Authority overrides the HTTP Host header or the gRPC :authority.
	Authority string
	// UnixSocket, for http:// targets, sends the request over this unix
	// socket instead of TCP (like curl --unix-socket).
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
	// Target returns the target as given.
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
	return nil, configErr("", target, "unknown scheme %q", t.Scheme)
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
		return fmt.Sprintf("--%s: %s (target %s)", e.Flag, e.Msg, e.Target)
	case e.Flag != "":
		return fmt.Sprintf("--%s: %s", e.Flag, e.Msg)
	case e.Target != "":
		return fmt.Sprintf("%s: %s", e.Target, e.Msg)
	}
	return e.Msg
}

func configErr(flag, target, format string, args ...any) error {
	return &ConfigError{Flag: flag, Target: target, Msg: fmt.Sprintf(format, args...)}
}

func (o *Options) validate(t Target) error {
	tlsScheme := t.Scheme == "https" || t.Scheme == "grpcs"
	if !tlsScheme {
		switch {
		case o.TLS.InsecureSkipVerify:
			return configErr("insecure", t.Raw, "needs an https:// or grpcs:// target")
		case o.TLS.CAFile != "":
			return configErr("ca-file", t.Raw, "needs an https:// or grpcs:// target")
		case o.TLS.CertFile != "":
			return configErr("cert-file", t.Raw, "needs an https:// or grpcs:// target")
		case o.TLS.ServerName != "":
			return configErr("server-name", t.Raw, "needs an https:// or grpcs:// target")
		}
	}
	if (o.TLS.CertFile == "") != (o.TLS.KeyFile == "") {
		if o.TLS.CertFile == "" {
			return configErr("key-file", t.Raw, "needs --cert-file too")
		}
		return configErr("cert-file", t.Raw, "needs --key-file too")
	}
	if o.UnixSocket != "" && t.Scheme != "http" && t.Scheme != "https" {
		return configErr("unix-socket", t.Raw, "works with http:// and https:// targets; for a plain connect use unix:///path")
	}
	if o.HTTPPath != "" && t.Scheme != "unix" {
		return configErr("http-path", t.Raw, "works with unix:// targets; put the path in the URL of an http:// target")
	}
	if o.MaxAge < 0 {
		return configErr("max-age", t.Raw, "must not be negative")
	}
	if o.MaxAge > 0 && t.Scheme != "file" {
		return configErr("max-age", t.Raw, "works with file:// targets")
	}
	return nil
}
