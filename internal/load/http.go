package load

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/podlife/podlife/internal/check"
)

// HTTPConfig configures HTTP load.
type HTTPConfig struct {
	// Targets are the requests to send, round-robin.
	Targets []vegeta.Target
	// TLS configures https:// targets; nil means the system defaults.
	TLS *tls.Config
	// HTTP2 negotiates HTTP/2 with https:// targets (ALPN); otherwise
	// HTTP/1.1 only.
	HTTP2 bool
	// H2C sends http:// requests as cleartext HTTP/2 with prior
	// knowledge.
	H2C bool
	// UnixSocket, when set, carries every request over this unix socket.
	UnixSocket string
	// UseProxy honors the proxy environment variables, never for
	// loopback targets.
	UseProxy bool
	// RequestTimeout bounds each request; 0 means 10 s.
	RequestTimeout time.Duration
}

// DefaultRequestTimeout is the bound on one request when none is given.
const DefaultRequestTimeout = 10 * time.Second

// RunHTTP sends the load of plan to the targets of c through a vegeta
// Attacker and returns its summary. It returns when the plan is done or
// ctx ends; requests in flight when ctx ends are aborted and not
// counted.
func RunHTTP(ctx context.Context, c HTTPConfig, plan Plan) Summary {
	conc := plan.workers()
	timeout := cmp(c.RequestTimeout, DefaultRequestTimeout)
	conns := &connSet{conns: map[*trackedConn]struct{}{}}
	defer context.AfterFunc(ctx, conns.closeAll)()
	client := &http.Client{
		Transport: c.transport(conc, conns),
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
	if c.multiplexed() {
		client.Timeout = timeout
	} else {
		conns.timeout = timeout
	}
	defer client.CloseIdleConnections()
	// Only options that do not reach into the transport: Client replaces
	// vegeta's, and vegeta's transport options would type-assert it.
	atk := vegeta.NewAttacker(
		vegeta.Client(client),
		vegeta.Workers(uint64(conc)),
		vegeta.MaxWorkers(uint64(conc)),
		vegeta.MaxBody(0), // never keep response bodies
	)

	pctx, stopPacing := plan.pacing(ctx)
	defer stopPacing()
	// Stop unblocks vegeta's loop when every worker is busy; the pacer
	// sees pctx itself.
	defer context.AfterFunc(pctx, func() { atk.Stop() })()

	rec := newRecorder(plan.Warm, false)
	warm := false
	began := time.Now()
	results := atk.Attack(vegeta.NewStaticTargeter(c.Targets...), newPacer(pctx, plan), 0, "")
	for res := range results {
		if res.Code == 0 && ctx.Err() != nil {
			continue // aborted by us, not by the target
		}
		code := -1
		if res.Code != 0 {
			code = int(res.Code)
		}
		ok := res.Code >= 200 && res.Code < 400 && res.Error == ""
		if rec.record(res.Timestamp, res.Latency, code, ok, res.Error) && !warm {
			warm = true
			stopPacing()
		}
	}
	return rec.summary(stopReason(ctx, pctx, warm), time.Since(began))
}

// multiplexed reports whether the load may run over HTTP/2: with h2c, or
// with HTTP2 and an https:// target.
func (c HTTPConfig) multiplexed() bool {
	if c.H2C {
		return true
	}
	if !c.HTTP2 {
		return false
	}
	for _, t := range c.Targets {
		if len(t.URL) >= len("https:") && strings.EqualFold(t.URL[:len("https:")], "https:") {
			return true
		}
	}
	return false
}

// stopReason tells why a load ended, from its contexts.
func stopReason(ctx, pctx context.Context, warm bool) Stop {
	switch {
	case ctx.Err() != nil:
		return StopCancelled
	case warm:
		return StopWarm
	case errors.Is(pctx.Err(), context.DeadlineExceeded):
		return StopDuration
	}
	return StopRequests
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
func (c HTTPConfig) transport(conc int, conns *connSet) *http.Transport {
	timeout := cmp(c.RequestTimeout, DefaultRequestTimeout)
	d := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}
	network, socket := "tcp", ""
	if c.UnixSocket != "" {
		network, socket = "unix", c.UnixSocket
	}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
			if socket != "" {
				addr = socket
			}
			return conns.dial(ctx, d, network, addr)
		},
		TLSClientConfig:     c.TLS.Clone(), // the transport edits NextProtos
		MaxIdleConnsPerHost: conc,
		DisableCompression:  true,
		TLSHandshakeTimeout: timeout,
		Protocols:           new(http.Protocols),
	}
	switch {
	case c.H2C:
		tr.Protocols.SetUnencryptedHTTP2(true)
		tr.Protocols.SetHTTP2(true)
	case c.HTTP2:
		tr.Protocols.SetHTTP1(true)
		tr.Protocols.SetHTTP2(true)
	default:
		tr.Protocols.SetHTTP1(true)
	}
	if c.UseProxy && socket == "" {
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
