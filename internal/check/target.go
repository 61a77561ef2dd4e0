package check

import (
	"net"
	"net/url"
	"strconv"
	"strings"
)

// Scheme is a target's protocol, parsed once from its URL (case does not
// matter: GRPCS:// is grpcs). Decisions about a target read its Scheme,
// never the raw text.
type Scheme string

// The schemes a target may have.
const (
	SchemeHTTP  Scheme = "http"
	SchemeHTTPS Scheme = "https"
	SchemeTCP   Scheme = "tcp"
	SchemeGRPC  Scheme = "grpc"
	SchemeGRPCS Scheme = "grpcs"
	SchemeUnix  Scheme = "unix"
	SchemeFile  Scheme = "file"
)

// TLS reports whether the scheme speaks TLS: https and grpcs.
func (s Scheme) TLS() bool { return s == SchemeHTTPS || s == SchemeGRPCS }

// HTTP reports whether the scheme is http or https.
func (s Scheme) HTTP() bool { return s == SchemeHTTP || s == SchemeHTTPS }

// GRPC reports whether the scheme is grpc or grpcs.
func (s Scheme) GRPC() bool { return s == SchemeGRPC || s == SchemeGRPCS }

// Target is a parsed target URL. The scheme picks the protocol:
// http, https, tcp, grpc, grpcs, unix or file. Print a Target with
// String, never Raw: String hides credentials and secret query values.
type Target struct {
	// Raw is the target as given; it is what requests are sent to. Do
	// not print it: print String().
	Raw string
	// Scheme is the parsed, lower-cased scheme.
	Scheme Scheme
	// Host is host:port for network targets, with the scheme's default
	// port filled in for http and https. A grpc(s) target may leave out
	// its port, which means nothing over --unix-socket; Host is then the
	// host alone and Port is "".
	Host string
	// Port is the port of a network target, "" when a grpc(s) target
	// left it out.
	Port string
	// Path is the URL path for http(s), the socket path for unix and the
	// file path for file.
	Path string
	// Service is the gRPC service name for grpc(s) targets ("" = the
	// server as a whole); for a gRPC method target it is the whole
	// "package.Service/Method".
	Service string
	// URL is the parsed URL.
	URL *url.URL
}

// String returns the target as given with its secrets redacted (see
// Redact): the form for messages, logs and Pod events.
func (t Target) String() string { return Redact(t.Raw) }

// Schemes lists the schemes ParseTarget accepts, for messages.
const Schemes = "http, https, tcp, grpc, grpcs, unix, file"

// ParseTarget parses and validates a target URL. Its errors are
// *ConfigError values naming the target (redacted) and what would be
// right.
func ParseTarget(raw string) (Target, error) {
	t := Target{Raw: raw}
	if raw == "" {
		return t, configErr("", "\"\"", "empty target; want a URL such as http://127.0.0.1:8080/healthz")
	}
	if strings.ContainsAny(raw, " \t\r\n") {
		return t, targetErr(strconv.Quote(raw), "a target must not contain white space")
	}
	i := strings.Index(raw, "://")
	if i <= 0 {
		return t, targetErr(redactNoScheme(raw), "missing scheme; want one of %s, e.g. tcp://127.0.0.1:5432", Schemes)
	}
	t.Scheme = Scheme(strings.ToLower(raw[:i]))
	u, err := url.Parse(raw)
	if err != nil {
		return t, targetErr(raw, "malformed URL: %s", shortURLError(err))
	}
	t.URL = u
	if u.User != nil {
		return t, targetErr(raw, "credentials in the URL are not supported (they would show in the Pod spec and its events); send them with --header 'Authorization: …'")
	}
	switch t.Scheme {
	case SchemeHTTP, SchemeHTTPS:
		def := "80"
		if t.Scheme == SchemeHTTPS {
			def = "443"
		}
		if t.Host, t.Port, err = hostPort(raw, u, def, false); err != nil {
			return t, err
		}
		t.Path = u.EscapedPath()
		if t.Path == "" {
			t.Path = "/"
		}
	case SchemeTCP:
		if t.Host, t.Port, err = hostPort(raw, u, "", false); err != nil {
			return t, err
		}
		if u.Path != "" && u.Path != "/" || u.RawQuery != "" {
			return t, targetErr(raw, "a tcp target has no path or query; want tcp://host:port")
		}
	case SchemeGRPC, SchemeGRPCS:
		// No port is fine here: over --unix-socket it means nothing.
		// Options.validate requires one otherwise.
		if t.Host, t.Port, err = hostPort(raw, u, "", true); err != nil {
			return t, err
		}
		if u.RawQuery != "" {
			return t, targetErr(raw, "a grpc target has no query; want grpc://host:port[/service]")
		}
		t.Service = strings.TrimPrefix(u.Path, "/")
	case SchemeUnix, SchemeFile:
		if u.Host != "" {
			return t, targetErr(raw, "want three slashes and an absolute path, e.g. %s:///run/app.sock", t.Scheme)
		}
		if u.Path == "" || !strings.HasPrefix(u.Path, "/") {
			return t, targetErr(raw, "want an absolute path, e.g. %s:///run/app.sock", t.Scheme)
		}
		if u.RawQuery != "" || u.Fragment != "" {
			return t, targetErr(raw, "a %s target has no query or fragment", t.Scheme)
		}
		t.Path = u.Path
	default:
		return t, targetErr(raw, "unknown scheme %q; want one of %s", t.Scheme, Schemes)
	}
	return t, nil
}

// targetErr is a *ConfigError about the target raw, redacted.
func targetErr(raw, format string, args ...any) error {
	err := configErr("", Redact(raw), format, args...).(*ConfigError)
	err.Msg = Redact(err.Msg)
	return err
}

// hostPort returns the host:port of u and its port; defPort fills a
// missing port. With no default, a missing port is an error unless
// optional, and then host alone is returned.
func hostPort(raw string, u *url.URL, defPort string, optional bool) (hostport, port string, err error) {
	host := u.Hostname()
	if host == "" {
		return "", "", targetErr(raw, "missing host; want %s://host:port", strings.ToLower(u.Scheme))
	}
	port = u.Port()
	if port == "" {
		switch {
		case defPort != "":
			port = defPort
		case optional:
			return u.Host, "", nil
		default:
			return "", "", targetErr(raw, "missing port; want %s://%s:PORT", strings.ToLower(u.Scheme), u.Host)
		}
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return "", "", targetErr(raw, "port %q out of range; want 1-65535", port)
	}
	return net.JoinHostPort(host, port), port, nil
}

func shortURLError(err error) string {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err.Error()
	}
	return err.Error()
}

// Redact hides the secrets of every URL in the text s, so that a target
// can be printed where anyone may read it (Pod events, logs):
//   - credentials: "user:password@" becomes "user:xxxxx@", as
//     url.URL.Redacted writes it, and a user alone (often a token, as in
//     https://TOKEN@host) becomes "xxxxx@";
//   - query values whose name looks secret (it contains token, secret,
//     passw, pwd, key, sig, auth or cred, in any case) become "xxxxx":
//     ?access_token=abc&x=1 becomes ?access_token=xxxxx&x=1.
//
// It works on text, so that a URL too malformed to parse, or one inside a
// longer message, is redacted too. What is sent is never changed.
func Redact(s string) string {
	if !strings.Contains(s, "://") {
		return s
	}
	var b strings.Builder
	for {
		i := strings.Index(s, "://")
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		i += len("://")
		b.WriteString(s[:i])
		s = s[i:]
		end := strings.IndexAny(s, " \t\r\n\"'<>`")
		if end < 0 {
			end = len(s)
		}
		// Punctuation that ends a URL in a message ("URL: reason") is
		// not part of its last query value.
		u := strings.TrimRight(s[:end], ":,;)")
		b.WriteString(redactURL(u))
		s = s[len(u):]
	}
}

// redactNoScheme is Redact for a target written without its scheme
// ("admin:s3cret@host:8080/x", "//admin:s3cret@host"), in which Redact
// finds no URL: what stands where the authority would is redacted all the
// same.
func redactNoScheme(raw string) string {
	rest := strings.TrimLeft(raw, "/")
	return raw[:len(raw)-len(rest)] + redactURL(rest)
}

// redactURL redacts one URL after its "scheme://".
func redactURL(u string) string {
	auth := strings.IndexAny(u, "/?#")
	if auth < 0 {
		auth = len(u)
	}
	var b strings.Builder
	if at := strings.LastIndexByte(u[:auth], '@'); at >= 0 {
		if user, _, ok := strings.Cut(u[:at], ":"); ok {
			b.WriteString(user + ":xxxxx")
		} else {
			b.WriteString("xxxxx")
		}
		u = u[at:]
		auth -= at
	}
	q := strings.IndexByte(u[auth:], '?')
	if q < 0 {
		b.WriteString(u)
		return b.String()
	}
	q += auth + 1
	b.WriteString(u[:q])
	query, frag := u[q:], ""
	if h := strings.IndexByte(query, '#'); h >= 0 {
		query, frag = query[:h], query[h:]
	}
	for i, p := range strings.Split(query, "&") {
		if i > 0 {
			b.WriteByte('&')
		}
		name, _, hasValue := strings.Cut(p, "=")
		if hasValue && secretName(name) {
			b.WriteString(name + "=xxxxx")
		} else {
			b.WriteString(p)
		}
	}
	b.WriteString(frag)
	return b.String()
}

// secretName reports whether a query parameter's name looks like it
// carries a secret.
func secretName(name string) bool {
	name = strings.ToLower(name)
	for _, w := range [...]string{"token", "secret", "passw", "pwd", "key", "sig", "auth", "cred"} {
		if strings.Contains(name, w) {
			return true
		}
	}
	return false
}

// IsLoopback reports whether host (a host name or IP, no port) is a
// loopback address or "localhost". It is podlife's one loopback test:
// proxies are never used for loopback targets, and the test peers listen
// only on loopback.
func IsLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
