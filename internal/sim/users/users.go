// Package users plays the users of a Service during a rolling update,
// for the demo and the end-to-end tests; with package tcplb, which plays
// kube-proxy, it makes internal/sim, the cluster these run against.
// Clients send GET requests to a loopback URL until stopped, and the
// Traffic counts what was served and what failed.
//
// A keep-alive client holds one connection of its own and reuses it, as
// browsers and most services do; it opens another only when the server
// closes it. A new-connection client opens a connection for every request:
// the steady stream of new connections that finds a backend which has
// stopped listening while a load balancer still routes to it.
//
// The traffic is bounded in count (MaxRequests) and in time (MaxDuration
// and the context), and it connects to loopback addresses only.
package users

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/podlife/podlife/internal/check"
)

// Defaults of a Config's zero fields.
const (
	DefaultPause       = 5 * time.Millisecond
	DefaultMaxRequests = 200_000
	DefaultMaxDuration = 2 * time.Minute
	DefaultTimeout     = 10 * time.Second
)

// MaxErrors is the number of error texts a Result keeps: those of the first
// failures.
const MaxErrors = 5

// Config describes the users and their bounds.
type Config struct {
	// URL is where the GETs go: http:// and a loopback host (127.0.0.0/8,
	// ::1 or localhost).
	URL string
	// Clients is the number of keep-alive clients.
	Clients int
	// NewConns is the number of clients that open a new connection for
	// each request.
	NewConns int
	// Pause is each client's wait between two requests; DefaultPause if
	// zero.
	Pause time.Duration
	// MaxRequests bounds the number of requests of all clients together;
	// DefaultMaxRequests if zero.
	MaxRequests int64
	// MaxDuration bounds the time the traffic runs; DefaultMaxDuration if
	// zero.
	MaxDuration time.Duration
	// Timeout bounds each request; DefaultTimeout if zero.
	Timeout time.Duration
}

// validate reports the first problem of c.
func (c Config) validate() error {
	u, err := url.Parse(c.URL)
	if err != nil {
		return fmt.Errorf("users: %w", err)
	}
	if u.Scheme != "http" {
		return fmt.Errorf("users: URL %q: want an http:// URL", c.URL)
	}
	if !check.IsLoopback(u.Hostname()) {
		return fmt.Errorf("users: URL %q: want a loopback host (127.0.0.1, ::1, localhost)", c.URL)
	}
	switch {
	case c.Clients < 0 || c.NewConns < 0:
		return fmt.Errorf("users: %d clients and %d new-connection clients: want no negative count", c.Clients, c.NewConns)
	case c.Clients+c.NewConns == 0:
		return errors.New("users: no client: want Clients or NewConns above 0")
	case c.Pause < 0 || c.MaxRequests < 0 || c.MaxDuration < 0 || c.Timeout < 0:
		return errors.New("users: want no negative Pause, MaxRequests, MaxDuration or Timeout")
	}
	return nil
}

// withDefaults returns c with its zero bounds set to the defaults.
func (c Config) withDefaults() Config {
	c.Pause = cmp.Or(c.Pause, DefaultPause)
	c.MaxRequests = cmp.Or(c.MaxRequests, DefaultMaxRequests)
	c.MaxDuration = cmp.Or(c.MaxDuration, DefaultMaxDuration)
	c.Timeout = cmp.Or(c.Timeout, DefaultTimeout)
	return c
}

// Result is the outcome of the traffic so far.
type Result struct {
	// Served counts the requests answered 200 OK.
	Served int64
	// Failed counts the others: a connection refused or reset, a timeout,
	// any other status (redirects are not followed). Requests cut short
	// by Stop, the context or MaxDuration are not counted at all.
	Failed int64
	// Errors holds the texts of the first failures, MaxErrors at most.
	Errors []string
}

// String sums r up in a line: "120 served, 2 failed (first: …)".
func (r Result) String() string {
	s := fmt.Sprintf("%d served, %d failed", r.Served, r.Failed)
	if len(r.Errors) > 0 {
		s += " (first: " + r.Errors[0] + ")"
	}
	return s
}

// Traffic is the running requests of the users. Its methods are safe for concurrent use.
type Traffic struct {
	cancel  context.CancelFunc
	done    chan struct{}
	running atomic.Int32 // clients not yet ended; the last one closes done
	tickets atomic.Int64 // requests started, against MaxRequests
	max     int64

	mu  sync.Mutex
	res Result
}

// Start checks c and starts its clients. They run until Stop, the end of
// ctx, MaxDuration or MaxRequests, whichever comes first.
func Start(ctx context.Context, c Config) (*Traffic, error) {
	if err := c.validate(); err != nil {
		return nil, err
	}
	c = c.withDefaults()
	ctx, cancel := context.WithTimeout(ctx, c.MaxDuration)
	l := &Traffic{cancel: cancel, done: make(chan struct{}), max: c.MaxRequests}
	n := c.Clients + c.NewConns
	l.running.Store(int32(n))
	for i := range n {
		tr := transport(i < c.Clients, c.Timeout)
		client := &http.Client{
			Transport: tr,
			Timeout:   c.Timeout,
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		}
		go func() {
			defer l.end()
			defer tr.CloseIdleConnections()
			l.run(ctx, client, c.URL, c.Pause)
		}()
	}
	return l, nil
}

// transport returns the transport of one client: one connection reused, or
// a new connection for each request; no proxy; loopback addresses only.
func transport(keepAlive bool, timeout time.Duration) *http.Transport {
	d := &net.Dialer{Timeout: timeout, Control: loopbackOnly}
	return &http.Transport{
		Proxy:               nil,
		DialContext:         d.DialContext,
		DisableKeepAlives:   !keepAlive,
		MaxIdleConnsPerHost: 1,
	}
}

// loopbackOnly refuses to connect to an address that is not a loopback
// one, whatever a host name resolved to.
func loopbackOnly(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	if net.ParseIP(host) == nil || !check.IsLoopback(host) {
		return fmt.Errorf("users: %s is not a loopback address", address)
	}
	return nil
}

// run is one client: a request, a pause, and again, while the traffic lasts.
func (l *Traffic) run(ctx context.Context, c *http.Client, url string, pause time.Duration) {
	t := time.NewTimer(pause)
	defer t.Stop()
	for ctx.Err() == nil && l.tickets.Add(1) <= l.max {
		l.request(ctx, c, url)
		t.Reset(pause)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
	}
}

// request sends one GET and records its outcome.
func (l *Traffic) request(ctx context.Context, c *http.Client, url string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err == nil {
		var resp *http.Response
		if resp, err = c.Do(req); err == nil {
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if err == nil && resp.StatusCode != http.StatusOK {
				err = fmt.Errorf("GET %s: %s", url, resp.Status)
			}
		}
	}
	if err != nil && ctx.Err() != nil {
		return // cut short by the end of the traffic: no verdict on the server
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		l.res.Failed++
		if len(l.res.Errors) < MaxErrors {
			l.res.Errors = append(l.res.Errors, err.Error())
		}
		return
	}
	l.res.Served++
}

// end records the end of a client; the last one ends the traffic.
func (l *Traffic) end() {
	if l.running.Add(-1) == 0 {
		l.cancel()
		close(l.done)
	}
}

// Result returns the outcome so far.
func (l *Traffic) Result() Result {
	l.mu.Lock()
	defer l.mu.Unlock()
	r := l.res
	r.Errors = slices.Clone(r.Errors)
	return r
}

// Done is closed once every client has ended and closed its connections.
func (l *Traffic) Done() <-chan struct{} { return l.done }

// Stop ends the traffic, waits for its clients to end and close their
// connections, and returns the outcome. Stopping stopped traffic returns
// the same outcome.
func (l *Traffic) Stop() Result {
	l.cancel()
	<-l.done
	return l.Result()
}
