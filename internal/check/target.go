package check

import (
	"net"
	"net/url"
	"strconv"
	"strings"
)

// Target is a parsed target URL. The scheme picks the protocol:
// http, https, tcp, grpc, grpcs, unix or file.
type Target struct {
	// Raw is the target as given.
	Raw string
	// Scheme is the lower-cased scheme.
	Scheme string
	// Host is host:port for network targets, with the scheme's default
	// port filled in for http and https.
	Host string
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

// Schemes lists the schemes ParseTarget accepts, for messages.
const Schemes = "http, https, tcp, grpc, grpcs, unix, file"

// ParseTarget parses and validates a target URL. Its errors are
// *ConfigError values naming the target and what would be right.
func ParseTarget(raw string) (Target, error) {
	t := Target{Raw: raw}
	if raw == "" {
		return t, configErr("", "\"\"", "empty target; want a URL such as http://127.0.0.1:8080/healthz")
	}
	if strings.ContainsAny(raw, " \t\r\n") {
		return t, configErr("", strconv.Quote(raw), "a target must not contain white space")
	}
	i := strings.Index(raw, "://")
	if i <= 0 {
		return t, configErr("", raw, "missing scheme; want one of %s, e.g. tcp://127.0.0.1:5432", Schemes)
	}
	t.Scheme = strings.ToLower(raw[:i])
	u, err := url.Parse(raw)
	if err != nil {
		return t, configErr("", raw, "malformed URL: %s", shortURLError(err))
	}
	t.URL = u
	switch t.Scheme {
	case "http", "https":
		host, err := hostPort(raw, u, map[string]string{"http": "80", "https": "443"}[t.Scheme])
		if err != nil {
			return t, err
		}
		t.Host = host
		t.Path = u.EscapedPath()
		if t.Path == "" {
			t.Path = "/"
		}
	case "tcp":
		host, err := hostPort(raw, u, "")
		if err != nil {
			return t, err
		}
		if u.Path != "" && u.Path != "/" || u.RawQuery != "" {
			return t, configErr("", raw, "a tcp target has no path or query; want tcp://host:port")
		}
		t.Host = host
	case "grpc", "grpcs":
		host, err := hostPort(raw, u, "")
		if err != nil {
			return t, err
		}
		if u.RawQuery != "" {
			return t, configErr("", raw, "a grpc target has no query; want grpc://host:port[/service]")
		}
		t.Host = host
		t.Service = strings.TrimPrefix(u.Path, "/")
	case "unix", "file":
		if u.Host != "" {
			return t, configErr("", raw, "want three slashes and an absolute path, e.g. %s:///run/app.sock", t.Scheme)
		}
		if u.Path == "" || !strings.HasPrefix(u.Path, "/") {
			return t, configErr("", raw, "want an absolute path, e.g. %s:///run/app.sock", t.Scheme)
		}
		if u.RawQuery != "" || u.Fragment != "" {
			return t, configErr("", raw, "a %s target has no query or fragment", t.Scheme)
		}
		t.Path = u.Path
	default:
		return t, configErr("", raw, "unknown scheme %q; want one of %s", t.Scheme, Schemes)
	}
	if u.User != nil {
		return t, configErr("", raw, "credentials in the URL are not supported; use --header Authorization:...")
	}
	return t, nil
}

// hostPort returns the host:port of u; defPort fills a missing port, and
// with no default a missing port is an error.
func hostPort(raw string, u *url.URL, defPort string) (string, error) {
	host := u.Hostname()
	if host == "" {
		return "", configErr("", raw, "missing host; want %s://host:port", strings.ToLower(u.Scheme))
	}
	port := u.Port()
	if port == "" {
		if defPort == "" {
			return "", configErr("", raw, "missing port; want %s://%s:PORT", strings.ToLower(u.Scheme), u.Host)
		}
		port = defPort
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return "", configErr("", raw, "port %q out of range; want 1-65535", port)
	}
	return net.JoinHostPort(host, port), nil
}

func shortURLError(err error) string {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err.Error()
	}
	return err.Error()
}

// IsLoopback reports whether host (a host name or IP, no port) is a
// loopback address or "localhost".
func IsLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
