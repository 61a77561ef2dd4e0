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
	"sync/atomic"
	"syscall"

	"github.com/podlife/podlife/internal/oneline"
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
			return nil, configErr("ca-file", "", "cannot read CA file: %s", oneline.PathError(err))
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
			return nil, configErr("cert-file", "", "cannot load client certificate and key: %s", oneline.PathError(err))
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c, nil
}

// transport builds the HTTP transport every HTTP-based check uses: no
// connection reuse across checks (a probe makes one request), no proxy
// unless asked for and never for loopback, dialing over a unix socket when
// socket is set. Every connection reports to the check's note (see
// noteFrom), which the failure line reads.
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
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if socket != "" {
			network, addr = "unix", socket
		}
		conn, err := d.DialContext(ctx, network, addr)
		if n := noteFrom(ctx); n != nil && err == nil {
			return &notedConn{Conn: conn, n: n}, nil
		}
		return conn, err
	}
	if tlsConf != nil {
		// Note whether the server asked for a client certificate: an
		// mTLS rejection then gets one line, whichever way it shows
		// (alert, reset, broken pipe).
		certs := tlsConf.Certificates
		tlsConf.Certificates = nil
		tlsConf.GetClientCertificate = func(cri *tls.CertificateRequestInfo) (*tls.Certificate, error) {
			if n := noteFrom(cri.Context()); n != nil {
				n.certRequested.Store(true)
			}
			if len(certs) > 0 {
				return &certs[0], nil
			}
			return new(tls.Certificate), nil
		}
	}
	return tr
}

// note records what the connections of one check saw, so that one cause
// gives one failure line.
type note struct {
	certRequested atomic.Bool  // the server asked for a client certificate
	read          atomic.Int64 // bytes read from the server
	first         atomic.Int32 // the first byte read, +1 (0: none)
}

type noteKey struct{}

func withNote(ctx context.Context) (context.Context, *note) {
	n := new(note)
	return context.WithValue(ctx, noteKey{}, n), n
}

func noteFrom(ctx context.Context) *note {
	n, _ := ctx.Value(noteKey{}).(*note)
	return n
}

// notedConn counts what is read from the server.
type notedConn struct {
	net.Conn
	n *note
}

func (c *notedConn) Read(p []byte) (int, error) {
	k, err := c.Conn.Read(p)
	if k > 0 && c.n.read.Add(int64(k)) == int64(k) {
		c.n.first.Store(int32(p[0]) + 1)
	}
	return k, err
}

// kubeletBody is how much of a body kubelet reads (10 KiB); probe reads
// as much, within the deadline, so that a stalled or truncated body fails
// as it does under kubelet.
const kubeletBody = 10 << 10

// maxRedirects is kubelet's (and net/http's) bound on a redirect chain.
const maxRedirects = 10

// errTooManyRedirects stops a redirect chain.
var errTooManyRedirects = errors.New("redirect chain too long")

// userAgent is sent unless --header sets one: kubelet's product token, so
// that endpoints which answer (or skip logging for) kube-probe treat probe
// alike, with a comment that says who is calling.
const userAgent = "kube-probe/1.37 (podlife)"

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
	tr := transport(t, o, socket, tlsConf)
	if o.H2C && t.Scheme == SchemeHTTP {
		var p http.Protocols
		p.SetUnencryptedHTTP2(true)
		tr.Protocols = &p
	}
	judgeRedirect := o.Status.namesRedirect()
	c.client = &http.Client{
		Transport: tr,
		// Redirects as kubelet: followed on the same host name (any
		// port or scheme), at most 10; one to another host ends the
		// chain and its 3xx is the answer. A --status that names a 3xx
		// asks for the redirect itself: it is never followed.
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if judgeRedirect || req.URL.Hostname() != via[0].URL.Hostname() {
				return http.ErrUseLastResponse
			}
			if len(via) >= maxRedirects {
				return errTooManyRedirects
			}
			return nil
		},
	}
	return c, nil
}

func (c *httpCheck) Target() string { return c.t.String() }

func (c *httpCheck) Check(ctx context.Context) error {
	var body io.Reader
	if c.o.Body != nil {
		body = bytes.NewReader(c.o.Body)
	}
	ctx, n := withNote(ctx)
	req, err := http.NewRequestWithContext(ctx, c.o.Method, c.url, body)
	if err != nil {
		return &Error{Kind: Unreachable, Reason: err.Error(), Err: err}
	}
	c.o.applyHeaders(req)
	if _, ok := req.Header["User-Agent"]; !ok {
		req.Header.Set("User-Agent", userAgent)
	}
	// Accept as kubelet: */* unless set; set empty, it is not sent.
	if v, ok := req.Header["Accept"]; !ok {
		req.Header.Set("Accept", "*/*")
	} else if len(v) == 0 || v[0] == "" {
		req.Header.Del("Accept")
	}
	resp, err := c.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) && errors.Is(err, errTooManyRedirects) {
			return &Error{Kind: Unhealthy, Reason: fmt.Sprintf("stopped after %d redirects, as kubelet (the last to %s)", maxRedirects, oneline.Clip(ue.URL, 120)), Err: err}
		}
		return failed(ctx, c.t.Scheme, &c.o, n, err, c.url)
	}
	defer resp.Body.Close()
	if !c.o.Status.Match(resp.StatusCode) {
		reason := fmt.Sprintf("status %d, want %s", resp.StatusCode, c.o.Status)
		if loc := otherHost(resp); loc != "" {
			reason += " (redirect to " + loc + " not followed: another host)"
		}
		return unhealthy("%s", reason+redirected(resp, c.url))
	}
	limit := c.o.MaxBody
	match := c.o.BodyContains != "" || c.o.BodyRegexp != nil
	switch {
	case limit > 0:
	case match:
		limit = 64 << 10
	default:
		limit = kubeletBody
	}
	var b []byte
	if match {
		b, err = io.ReadAll(io.LimitReader(resp.Body, limit))
	} else {
		_, err = io.Copy(io.Discard, io.LimitReader(resp.Body, limit))
	}
	if err != nil {
		e := unreachable(ctx, "reading body", err).(*Error)
		e.Reason += redirected(resp, c.url)
		return e
	}
	if c.o.BodyContains != "" && !bytes.Contains(b, []byte(c.o.BodyContains)) {
		return unhealthy("status %d, body does not contain %q", resp.StatusCode, c.o.BodyContains)
	}
	if c.o.BodyRegexp != nil && !c.o.BodyRegexp.Match(b) {
		return unhealthy("status %d, body does not match /%s/", resp.StatusCode, c.o.BodyRegexp)
	}
	if loc := otherHost(resp); loc != "" && c.o.Warn != nil {
		c.o.Warn(c.t.Raw, fmt.Sprintf("status %d: redirect to %s not followed (another host), passing as kubelet does", resp.StatusCode, loc))
	}
	return nil
}

// failed turns a failed round trip to url into the check's error, with
// one line per cause.
func failed(ctx context.Context, scheme Scheme, o *Options, n *note, err error, url string) error {
	e := unreachable(ctx, requestStep(err), err).(*Error)
	if !strings.HasPrefix(e.Reason, "timeout") {
		if hint := failureHint(scheme, o, n, err); hint != "" {
			e.Reason = hint
		}
	}
	e.Reason += redirectedTo(err, url)
	return e
}

// otherHost returns the host of a redirect that was not followed because
// it leads to another host, "" for any other response.
func otherHost(resp *http.Response) string {
	if resp.StatusCode < 300 || resp.StatusCode > 399 {
		return ""
	}
	loc, err := resp.Location()
	if err != nil || loc.Hostname() == resp.Request.URL.Hostname() {
		return ""
	}
	return oneline.Clip(loc.Host, 100)
}

// redirected says where the final response came from when a redirect was
// followed.
func redirected(resp *http.Response, first string) string {
	if u := resp.Request.URL; u.String() != first {
		return " (after a redirect to " + oneline.Clip(Redact(u.String()), 120) + ")"
	}
	return ""
}

// redirectedTo is redirected for a round trip that failed.
func redirectedTo(err error, first string) string {
	var ue *url.Error
	if !errors.As(err, &ue) || ue.URL == first {
		return ""
	}
	if u, perr := url.Parse(ue.URL); perr == nil {
		return " (after a redirect to " + oneline.Clip(Redact(u.String()), 120) + ")"
	}
	return " (after a redirect)"
}

// failureHint returns the one line for a failure whose cause is known
// from what the connection saw, whatever error it surfaced as: a TLS
// verification failure (with what to do), a client certificate the
// server wanted or refused, TLS spoken to a plaintext port and the other
// way round, HTTP/1 where HTTP/2 was expected.
func failureHint(scheme Scheme, o *Options, n *note, err error) string {
	var certErr *tls.CertificateVerificationError
	if errors.As(err, &certErr) {
		msg := certErr.Err.Error()
		var uaErr x509.UnknownAuthorityError
		if errors.As(certErr.Err, &uaErr) {
			msg = "x509: certificate signed by unknown authority" // without Go's guesses why
		}
		if scheme == SchemeHTTP { // TLS after a redirect to https://
			return "TLS handshake: " + msg + "; probe the https:// URL itself, with --ca-file (kubelet does not verify: --insecure)"
		}
		return "TLS handshake: " + msg + "; " + verifyHint(certErr.Err)
	}
	closed := isClosed(err)
	if n.certRequested.Load() && (closed || strings.Contains(err.Error(), "tls: ")) {
		if o.TLS.CertFile == "" {
			return "TLS handshake: the server requires a client certificate; give one with --cert-file and --key-file"
		}
		return "TLS handshake: the server refused the client certificate (--cert-file)"
	}
	var recErr tls.RecordHeaderError
	if errors.As(err, &recErr) || strings.Contains(err.Error(), "server gave HTTP response to HTTPS client") {
		return "TLS handshake: the server does not speak TLS (a plaintext port? use " + strings.TrimSuffix(string(scheme), "s") + "://)"
	}
	if scheme == SchemeGRPC || scheme == SchemeHTTP && o.H2C {
		// An HTTP/1 server answers "HTTP/1.1 400" and closes, a TLS
		// server sends an alert or closes; which one arrives before a
		// reset is timing, so both get one line.
		first := n.first.Load() - 1
		if first == 'H' || first == 0x15 || first == 0x16 || closed && n.read.Load() == 0 {
			if scheme == SchemeHTTP {
				return "request: no HTTP/2 answer (an HTTP/1 port? drop --h2c)"
			}
			return "request: no HTTP/2 answer (an HTTP/1 or a TLS port? for TLS use grpcs://)"
		}
	}
	return ""
}

// verifyHint says what to do about a certificate that did not verify.
func verifyHint(err error) string {
	var hostErr x509.HostnameError
	if errors.As(err, &hostErr) {
		return "name the host the certificate is for with --server-name (kubelet does not verify: --insecure)"
	}
	return "trust its CA with --ca-file (kubelet does not verify: --insecure)"
}

// isClosed reports whether err says the peer closed or reset the
// connection. net/http's HTTP/2 client sometimes reports only that its
// connection could not be set up, the cause lost: the same thing here.
func isClosed(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		strings.Contains(err.Error(), "client conn could not be established")
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
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // its Op and URL repeat what the line says already
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Err != nil {
		err = opErr.Err
		var se *os.SyscallError
		if errors.As(err, &se) {
			return se.Err.Error()
		}
	}
	return err.Error()
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
