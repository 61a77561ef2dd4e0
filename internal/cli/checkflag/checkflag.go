// Package checkflag defines the command-line flags that configure
// internal/check (headers, TLS, expectations, ...), shared by probe,
// prestop and warmup, and turns them into check.Options.
package checkflag

import (
	"flag"
	"fmt"
	"net/http"
	"net/textproto"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/podlife/podlife/internal/check"
	"github.com/podlife/podlife/internal/cli"
)

// ConnFlags are the flags that say how to reach a target: headers, TLS,
// authority, unix socket, proxy. prestop uses them alone; CheckFlags adds
// the expectations.
type ConnFlags struct {
	Header     []string `env:"HEADER" envSeparator:"\n"`
	CAFile     string   `env:"CA_FILE"`
	CertFile   string   `env:"CERT_FILE"`
	KeyFile    string   `env:"KEY_FILE"`
	ServerName string   `env:"SERVER_NAME"`
	Insecure   bool     `env:"INSECURE"`
	Authority  string   `env:"AUTHORITY"`
	UnixSocket string   `env:"UNIX_SOCKET"`
	UseProxy   bool     `env:"USE_PROXY"`
}

// CheckFlags are the flags that configure internal/check, shared by probe
// and warmup (for its --wait targets). Embed it in a command's options
// struct so that caarlos0/env fills it from the same prefix.
type CheckFlags struct {
	Method       string        `env:"METHOD"`
	Body         string        `env:"BODY"`
	Status       string        `env:"STATUS"`
	BodyContains string        `env:"BODY_CONTAINS"`
	BodyRegexp   string        `env:"BODY_REGEXP"`
	HTTPPath     string        `env:"HTTP_PATH"`
	MaxAge       time.Duration `env:"MAX_AGE"`
	ConnFlags
}

// Register defines the flags on fs, with the current field values (from
// the environment) as defaults.
func (c *CheckFlags) Register(fs *flag.FlagSet) {
	fs.StringVar(&c.Method, "method", c.Method, "HTTP `method` (default GET)")
	fs.StringVar(&c.Body, "body", c.Body, "HTTP request `body`")
	fs.StringVar(&c.Status, "status", c.Status, "HTTP statuses that pass: codes, ranges, classes, e.g. `200,204,300-399` or 2xx (default 200-399)")
	fs.StringVar(&c.BodyContains, "body-contains", c.BodyContains, "the HTTP response body must contain this `text`")
	fs.StringVar(&c.BodyRegexp, "body-regexp", c.BodyRegexp, "the HTTP response body must match this `regexp` (RE2 syntax)")
	fs.StringVar(&c.HTTPPath, "http-path", c.HTTPPath, "for unix:// targets: GET this `path` over the socket instead of only connecting")
	fs.DurationVar(&c.MaxAge, "max-age", c.MaxAge, "for file:// targets: the file must have been modified within this `duration`")
	c.ConnFlags.Register(fs)
}

// Register defines the connection flags on fs, with the current field
// values (from the environment) as defaults, for http(s):// and grpc(s)://
// targets.
func (c *ConnFlags) Register(fs *flag.FlagSet) { c.register(fs, true) }

// RegisterHTTP is Register for a command whose targets are only
// http(s):// (prestop): the same flags, their help without gRPC.
func (c *ConnFlags) RegisterHTTP(fs *flag.FlagSet) { c.register(fs, false) }

func (c *ConnFlags) register(fs *flag.FlagSet, grpc bool) {
	say := func(withGRPC, httpOnly string) string {
		if grpc {
			return withGRPC
		}
		return httpOnly
	}
	fs.Var(cli.NewList(&c.Header), "header", say("request header or gRPC metadata `Name: value`; repeatable (env: one per line)",
		"request header `Name: value`; repeatable (env: one per line)"))
	fs.StringVar(&c.CAFile, "ca-file", c.CAFile, say("PEM `file` of CAs to trust for https:// and grpcs:// (default: system pool)",
		"PEM `file` of CAs to trust for https:// (default: system pool)"))
	fs.StringVar(&c.CertFile, "cert-file", c.CertFile, "PEM client certificate `file` for mTLS (with --key-file)")
	fs.StringVar(&c.KeyFile, "key-file", c.KeyFile, "PEM client key `file` for mTLS (with --cert-file)")
	fs.StringVar(&c.ServerName, "server-name", c.ServerName, "`name` to verify in the server certificate and send in SNI")
	fs.BoolVar(&c.Insecure, "insecure", c.Insecure, say("skip verification of the server certificate (https://, grpcs:// only)",
		"skip verification of the server certificate (https:// only)"))
	fs.StringVar(&c.Authority, "authority", c.Authority, say("override the HTTP Host header or the gRPC :authority with `host`",
		"override the HTTP Host header with `host`"))
	fs.StringVar(&c.UnixSocket, "unix-socket", c.UnixSocket, say("send http(s):// and grpc(s):// requests over this unix socket `path` (like curl)",
		"send http(s):// requests over this unix socket `path` (like curl)"))
	fs.BoolVar(&c.UseProxy, "use-proxy", c.UseProxy, "honor HTTP_PROXY/HTTPS_PROXY/NO_PROXY (never for loopback targets)")
}

// Options converts the connection flags into check.Options. Errors are
// *check.ConfigError values naming the flag.
func (c *ConnFlags) Options() (check.Options, error) {
	o := check.Options{
		TLS: check.TLSOptions{
			CAFile:             c.CAFile,
			CertFile:           c.CertFile,
			KeyFile:            c.KeyFile,
			ServerName:         c.ServerName,
			InsecureSkipVerify: c.Insecure,
		},
		Authority:  c.Authority,
		UnixSocket: c.UnixSocket,
		UseProxy:   c.UseProxy,
	}
	if c.Authority != "" && !validAuthority(c.Authority) {
		return o, &check.ConfigError{Flag: "authority", Msg: fmt.Sprintf("%q is not a host[:port]; want e.g. app.example.com or app.example.com:8443", c.Authority)}
	}
	h, err := ParseHeaders(c.Header)
	if err != nil {
		return o, &check.ConfigError{Flag: "header", Msg: err.Error()}
	}
	o.Header = h
	return o, nil
}

// validAuthority reports whether a is a host[:port] that can be sent as
// a Host header or a :authority: no white space, control characters,
// path, query, fragment or user information.
func validAuthority(a string) bool {
	if strings.ContainsAny(a, "/?#@\\") {
		return false
	}
	for _, r := range a {
		if r <= ' ' || r == 0x7f {
			return false
		}
	}
	u, err := url.Parse("//" + a)
	return err == nil && u.Host == a && u.Hostname() != ""
}

// Options converts the flags into check.Options. Errors are
// *check.ConfigError values naming the flag.
func (c *CheckFlags) Options() (check.Options, error) {
	o, err := c.ConnFlags.Options()
	if err != nil {
		return o, err
	}
	o.Method = c.Method
	o.BodyContains = c.BodyContains
	o.HTTPPath = c.HTTPPath
	o.MaxAge = c.MaxAge
	if c.Method != "" && !validToken(c.Method) {
		return o, &check.ConfigError{Flag: "method", Msg: fmt.Sprintf("%q is not an HTTP method; want e.g. GET, HEAD or POST", c.Method)}
	}
	if c.Body != "" {
		o.Body = []byte(c.Body)
	}
	if c.Status != "" {
		s, err := check.ParseStatusSet(c.Status)
		if err != nil {
			return o, &check.ConfigError{Flag: "status", Msg: err.Error()}
		}
		o.Status = s
	}
	if c.BodyRegexp != "" {
		re, err := regexp.Compile(c.BodyRegexp)
		if err != nil {
			return o, &check.ConfigError{Flag: "body-regexp", Msg: fmt.Sprintf("bad regexp: %v", err)}
		}
		o.BodyRegexp = re
	}
	return o, nil
}

// ParseHeaders parses "Name: value" lines into a header. Blank lines are
// skipped and an empty value is allowed; a missing colon or a bad name is
// an error.
func ParseHeaders(lines []string) (http.Header, error) {
	if len(lines) == 0 {
		return nil, nil
	}
	h := make(http.Header, len(lines))
	for _, l := range lines {
		if strings.TrimSpace(l) == "" {
			continue // a YAML block scalar ends its value with a newline
		}
		name, value, ok := strings.Cut(l, ":")
		name = strings.TrimSpace(name)
		if !ok || name == "" || !validToken(name) {
			return nil, fmt.Errorf("bad header %q; want \"Name: value\"", l)
		}
		value = strings.TrimSpace(value)
		if strings.ContainsAny(value, "\r\n\x00") {
			return nil, fmt.Errorf("bad header %q: control characters in the value", name)
		}
		h.Add(textproto.CanonicalMIMEHeaderKey(name), value)
	}
	return h, nil
}

// validToken reports whether s is an RFC 9110 token (method, header name).
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}
