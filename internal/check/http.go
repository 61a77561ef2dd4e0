package check

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
)

// TLSOptions configures TLS for https:// and grpcs:// targets.
type TLSOptions struct {
	// CAFile is a PEM bundle of CAs to trust instead of the system pool.
	CAFile string
	// CertFile and KeyFile are a PEM client certificate and key (mTLS).
	CertFile, KeyFile string
	// ServerName overrides the name verified in the server's certificate
	// and sent in SNI.
	ServerName string
	// InsecureSkipVerify skips verification of the server's certificate.
	InsecureSkipVerify bool
}

// Config builds the *tls.Config for host, the name verified and sent in
// SNI when ServerName is empty. warmup's load phase uses it so that load
// and checks share one TLS setup. Its errors are *ConfigError values
// naming the flag.
func (o TLSOptions) Config(host string) (*tls.Config, error) {
	c := &tls.Config{
		ServerName:         o.ServerName,
		InsecureSkipVerify: o.InsecureSkipVerify, //nolint:gosec // explicit opt-in (--insecure)
		MinVersion:         tls.VersionTLS12,
	}
	if c.ServerName == "" {
		c.ServerName = host
	}
	if o.CAFile != "" {
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, configErr("ca-file", "", "cannot read CA file: %s", shortPathError(err))
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, configErr("ca-file", "", "%s holds no PEM certificate", o.CAFile)
		}
		c.RootCAs = pool
	}
	if o.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(o.CertFile, o.KeyFile)
		if err != nil {
			return nil, configErr("cert-file", "", "cannot load client certificate and key: %s", shortPathError(err))
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c, nil
}

// transport builds the HTTP transport every HTTP-based check uses: no
// connection reuse across checks (a probe makes one request), no proxy
// unless asked for and never for loopback, dialing over a unix socket when
// socket is set.
func transport(t Target, o Options, socket string, tlsConf *tls.Config) *http.Transport {
	tr := &http.Transport{
		TLSClientConfig:    tlsConf,
		DisableKeepAlives:  true,
		DisableCompression: true,
		ForceAttemptHTTP2:  tlsConf != nil,
	}
	if o.UseProxy && socket == "" {
		tr.Proxy = func(r *http.Request) (*url.URL, error) {
			if IsLoopback(r.URL.Hostname()) {
				return nil, nil
			}
			return http.ProxyFromEnvironment(r)
		}
	}
	var d net.Dialer
	if socket != "" {
		tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			return d.DialContext(ctx, "unix", socket)
		}
	} else {
		tr.DialContext = d.DialContext
	}
	return tr
}

type httpCheck struct {
	t      Target
	o      Options
	url    string
	client *http.Client
}

func newHTTP(t Target, o Options) (Checker, error) {
	c := &httpCheck{t: t, o: o}
	var tlsConf *tls.Config
	socket := o.UnixSocket
	switch t.Scheme {
	case "https":
		host, _, _ := net.SplitHostPort(t.Host)
		conf, err := o.TLS.Config(host)
		if err != nil {
			return nil, err
		}
		tlsConf = conf
		c.url = t.Raw
	case "unix":
		socket = t.Path
		p := o.HTTPPath
		if !strings.HasPrefix(p, "/") {
			p = "/" + p
		}
		c.url = "http://localhost" + p
	default:
		c.url = t.Raw
	}
	method := o.Method
	if method == "" {
		method = http.MethodGet
	}
	c.o.Method = method
	// Build one request now so that a bad method or URL is a config error.
	if _, err := http.NewRequest(method, c.url, nil); err != nil {
		return nil, configErr("method", t.Raw, "%v", err)
	}
	c.client = &http.Client{
		Transport: transport(t, o, socket, tlsConf),
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse // a redirect is an answer (3xx)
		},
	}
	return c, nil
}

func (c *httpCheck) Target() string { return c.t.Raw }

func (c *httpCheck) Check(ctx context.Context) error {
	var body io.Reader
	if c.o.Body != nil {
		body = bytes.NewReader(c.o.Body)
	}
	req, err := http.NewRequestWithContext(ctx, c.o.Method, c.url, body)
	if err != nil {
		return &Error{Kind: Unreachable, Reason: err.Error(), Err: err}
	}
	c.o.applyHeaders(req)
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", "podlife-probe")
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return unreachable(ctx, requestStep(err), err)
	}
	defer resp.Body.Close()
	if !c.o.Status.Match(resp.StatusCode) {
		return unhealthy("status %d, want %s", resp.StatusCode, c.o.Status)
	}
	if c.o.BodyContains == "" && c.o.BodyRegexp == nil {
		return nil
	}
	limit := c.o.MaxBody
	if limit <= 0 {
		limit = 64 << 10
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit))
	if err != nil {
		return unreachable(ctx, "reading body", err)
	}
	if c.o.BodyContains != "" && !bytes.Contains(b, []byte(c.o.BodyContains)) {
		return unhealthy("status %d, body does not contain %q", resp.StatusCode, c.o.BodyContains)
	}
	if c.o.BodyRegexp != nil && !c.o.BodyRegexp.Match(b) {
		return unhealthy("status %d, body does not match /%s/", resp.StatusCode, c.o.BodyRegexp)
	}
	return nil
}

// applyHeaders sets o's headers on req; a Host header, and Authority
// over it, set the Host (for HTTP/2, :authority).
func (o *Options) applyHeaders(req *http.Request) {
	for k, vs := range o.Header {
		if strings.EqualFold(k, "Host") {
			req.Host = vs[0]
			continue
		}
		req.Header[k] = vs
	}
	if o.Authority != "" {
		req.Host = o.Authority
	}
}

// requestStep names the step of an HTTP round trip that failed.
func requestStep(err error) string {
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Op == "dial" {
		return "connect"
	}
	var certErr *tls.CertificateVerificationError
	var recErr tls.RecordHeaderError
	if errors.As(err, &certErr) || errors.As(err, &recErr) || strings.Contains(err.Error(), "tls: ") ||
		strings.Contains(err.Error(), "HTTP response to HTTPS client") {
		return "TLS handshake"
	}
	return "request"
}

// shortNetError drops the noise Go's net errors carry ("dial tcp
// 127.0.0.1:1: connect: ") and keeps the cause.
func shortNetError(err error) string {
	var certErr *tls.CertificateVerificationError
	if errors.As(err, &certErr) {
		return certErr.Err.Error()
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		if dnsErr.IsNotFound {
			return fmt.Sprintf("no such host %s", dnsErr.Name)
		}
		return dnsErr.Error()
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Err != nil {
		err = opErr.Err
		var se *os.SyscallError
		if errors.As(err, &se) {
			return se.Err.Error()
		}
	}
	s := err.Error()
	if i := strings.LastIndex(s, ": "); i >= 0 && strings.HasPrefix(s, "Get ") || i >= 0 && strings.HasPrefix(s, "Post ") {
		s = s[i+2:]
	}
	return s
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func shortPathError(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Path + ": " + pe.Err.Error()
	}
	return err.Error()
}
