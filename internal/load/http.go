package load

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/podlife/podlife/internal/check"
)

// httpEngine sends HTTP load through a vegeta Attacker.
type httpEngine struct {
	requests    []vegeta.Target // round-robin
	tls         *tls.Config     // for https:// targets
	http2       bool            // negotiate HTTP/2 over TLS
	h2c         bool            // cleartext HTTP/2 with prior knowledge
	multiplexed bool            // the load may run over HTTP/2
	unixSocket  string
	useProxy    bool
	timeout     time.Duration // per request
}

// newHTTP prepares the HTTP load of ts.
func newHTTP(o Options, ts *targets) (*httpEngine, error) {
	e := &httpEngine{
		requests:   ts.http,
		http2:      o.HTTP2,
		h2c:        o.H2C,
		unixSocket: o.UnixSocket,
		useProxy:   o.UseProxy,
		timeout:    cmp(o.RequestTimeout, DefaultRequestTimeout),
	}
	// h2c is HTTP/2 on every http:// target; with HTTP2, https://
	// targets negotiate it.
	e.multiplexed = o.H2C || o.HTTP2 && slices.Contains(ts.schemes, "https")
	if ts.tls {
		tc, err := o.TLS.Config("")
		if err != nil {
			return nil, err
		}
		e.tls = tc
	}
	return e, nil
}

func (e *httpEngine) open(context.Context) error { return nil }

func (e *httpEngine) close() {}

// send runs a vegeta Attacker with workers workers and p as its pacer.
func (e *httpEngine) send(ctx, pctx context.Context, p *pacer, workers int, rec recordFunc) {
	conns := &connSet{conns: map[*trackedConn]struct{}{}}
	defer context.AfterFunc(ctx, conns.closeAll)()
	client := &http.Client{
		Transport: e.transport(workers, conns),
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse // a redirect is an answer
		},
	}
	// Over HTTP/1.1 a connection carries one request at a time, so its
	// deadline bounds the request, at no cost per request. HTTP/2
	// multiplexes: a connection's deadline would be pushed back by the
	// other requests and, when it fires, fail them all. There,
	// Client.Timeout bounds each request, for a context and a timer
	// apiece.
	if e.multiplexed {
		client.Timeout = e.timeout
	} else {
		conns.timeout = e.timeout
	}
	defer client.CloseIdleConnections()
	// Only options that do not reach into the transport: Client replaces
	// vegeta's, and vegeta's transport options would type-assert it.
	atk := vegeta.NewAttacker(
		vegeta.Client(client),
		vegeta.Workers(uint64(workers)),
		vegeta.MaxWorkers(uint64(workers)),
		vegeta.MaxBody(0), // never keep response bodies
	)
	// Stop unblocks vegeta's loop when every worker is busy; the pacer
	// sees pctx itself.
	defer context.AfterFunc(pctx, func() { atk.Stop() })()
	for res := range atk.Attack(vegeta.NewStaticTargeter(e.requests...), p, 0, "") {
		code := -1
		if res.Code != 0 {
			code = int(res.Code)
		}
		ok := res.Code >= 200 && res.Code < 400 && res.Error == ""
		rec(res.Timestamp, res.Latency, code, ok, res.Error)
	}
}

func cmp(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// transport builds the HTTP transport of the load: connections reused
// across requests (conc idle ones per host), no compression, no proxy
// unless asked for and never for loopback, HTTP/2 and h2c through
// http.Protocols (vegeta's H2C option swaps the transport out), every
// connection tracked in conns so that the end of the load can abort the
// requests in flight (vegeta builds its requests without a context).
func (e *httpEngine) transport(conc int, conns *connSet) *http.Transport {
	timeout := e.timeout
	d := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}
	network, socket := "tcp", ""
	if e.unixSocket != "" {
		network, socket = "unix", e.unixSocket
	}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
			if socket != "" {
				addr = socket
			}
			return conns.dial(ctx, d, network, addr)
		},
		TLSClientConfig:     e.tls.Clone(), // the transport edits NextProtos
		MaxIdleConnsPerHost: conc,
		DisableCompression:  true,
		TLSHandshakeTimeout: timeout,
		Protocols:           new(http.Protocols),
	}
	switch {
	case e.h2c:
		tr.Protocols.SetUnencryptedHTTP2(true)
		tr.Protocols.SetHTTP2(true)
	case e.http2:
		tr.Protocols.SetHTTP1(true)
		tr.Protocols.SetHTTP2(true)
	default:
		tr.Protocols.SetHTTP1(true)
	}
	if e.useProxy && socket == "" {
		tr.Proxy = func(r *http.Request) (*url.URL, error) {
			if check.IsLoopback(r.URL.Hostname()) {
				return nil, nil
			}
			return http.ProxyFromEnvironment(r)
		}
	}
	return tr
}

// errLoadEnded is the error of a dial after the end of the load.
var errLoadEnded = errors.New("load ended")

// connSet tracks the open connections of a load, so that closeAll can
// abort every request in flight at once, at no cost per request. With a
// timeout, its connections also bound each HTTP/1.1 request: every write
// of a request pushes the connection's deadline timeout ahead, so an
// answer that takes longer fails with a timeout.
type connSet struct {
	timeout time.Duration // 0: no deadlines
	mu      sync.Mutex
	conns   map[*trackedConn]struct{}
	closed  bool
}

func (s *connSet) dial(ctx context.Context, d *net.Dialer, network, addr string) (net.Conn, error) {
	conn, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	tc := &trackedConn{Conn: conn, set: s}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		conn.Close()
		return nil, errLoadEnded
	}
	s.conns[tc] = struct{}{}
	return tc, nil
}

func (s *connSet) closeAll() {
	s.mu.Lock()
	s.closed = true
	conns := s.conns
	s.conns = nil
	s.mu.Unlock()
	for c := range conns {
		c.Conn.Close()
	}
}

func (s *connSet) remove(c *trackedConn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// trackedConn leaves its connSet when closed, and pushes its deadline
// ahead on each write when the set has a timeout.
type trackedConn struct {
	net.Conn
	set  *connSet
	once sync.Once
}

func (c *trackedConn) Write(p []byte) (int, error) {
	if c.set.timeout > 0 {
		if err := c.Conn.SetDeadline(time.Now().Add(c.set.timeout)); err != nil {
			return 0, err
		}
	}
	return c.Conn.Write(p)
}

func (c *trackedConn) Close() error {
	c.once.Do(func() { c.set.remove(c) })
	return c.Conn.Close()
}
