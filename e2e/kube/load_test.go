package kube

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// loadConfig is the traffic of a run, through a Service's ClusterIP. Every
// client kind that has workers runs; each worker is paced and bounded by
// the run's context.
type loadConfig struct {
	HTTP string // base URL, http://CLUSTERIP:80
	GRPC string // CLUSTERIP:9090, "" for none
	// Keep-alive GET /hello: workers sharing one pool of connections.
	KeepAlive, KeepAliveRate int
	// Keep-alive POSTs with think time, one connection each: the requests
	// a client cannot retry when a keep-alive connection closes under them.
	Post      int
	PostThink time.Duration
	// A new connection per request (kube-proxy picks a Pod per connection).
	NewConn, NewConnRate int
	// gRPC Health/Check, one ClientConn each.
	GRPCClients, GRPCRate int
	// RequestID prefixes every X-Request-ID (the access logs carry it).
	RequestID string
}

// counts are one client kind's results.
type counts struct {
	OK, Failed, NotServing atomic.Int64
	mu                     sync.Mutex
	errs                   map[string]int
	start                  time.Time
	when                   []string // the first failures, at their time into the run
	ids                    []string // the X-Request-ID of the first failed requests
}

func (c *counts) fail(msg string) { c.failDetail(msg, "", "") }

// failDetail counts a failure of kind msg of request id; detail (what the
// connection had been doing) goes with it into the first failures' list.
func (c *counts) failDetail(msg, id, detail string) {
	c.Failed.Add(1)
	c.mu.Lock()
	defer c.mu.Unlock()
	if id != "" && len(c.ids) < 20 {
		c.ids = append(c.ids, id)
	}
	if len(c.when) < 5 {
		w := fmt.Sprintf("%s at +%.3fs", msg, time.Since(c.start).Seconds())
		if detail != "" {
			w += " (" + detail + ")"
		}
		c.when = append(c.when, w)
	}
	if c.errs == nil {
		c.errs = map[string]int{}
	}
	if len(c.errs) < 20 {
		c.errs[msg]++
	} else if _, ok := c.errs[msg]; ok {
		c.errs[msg]++
	}
}

// loadRun is traffic in progress.
type loadRun struct {
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	start   time.Time
	kinds   map[string]*counts
	order   []string
	elapsed time.Duration
}

// startLoad starts the clients of cfg; stop ends them (at the latest when
// limit has passed).
func startLoad(cfg loadConfig, limit time.Duration) *loadRun {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	r := &loadRun{cancel: cancel, start: time.Now(), kinds: map[string]*counts{}}
	kind := func(name string) *counts {
		c := &counts{start: r.start}
		r.kinds[name] = c
		r.order = append(r.order, name)
		return c
	}
	var seq atomic.Int64
	reqID := func() string { return fmt.Sprintf("%s-%d", cfg.RequestID, seq.Add(1)) }
	do := func(c *counts, client *http.Client, method string, okStatus func(int) bool) {
		req, _ := http.NewRequestWithContext(ctx, method, cfg.HTTP+"/hello", nil)
		if method == http.MethodPost {
			req, _ = http.NewRequestWithContext(ctx, method, cfg.HTTP+"/hello", strings.NewReader(`{"order":1}`))
			req.Header.Set("Content-Type", "application/json")
		}
		id := reqID()
		req.Header.Set("X-Request-ID", id)
		// What the connection had been doing, for a failure's report: a
		// POST lost on a reused idle connection is a different fault from
		// one lost on a connection just opened.
		var got httptrace.GotConnInfo
		var local string
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
			GotConn: func(i httptrace.GotConnInfo) {
				got = i
				if i.Conn != nil {
					local = i.Conn.LocalAddr().String()
				}
			},
		}))
		sent := time.Now()
		resp, err := client.Do(req)
		if ctx.Err() != nil {
			return // the run ended mid-request: not the server's doing
		}
		if err != nil {
			conn := "no connection made"
			switch {
			case got.Reused:
				conn = fmt.Sprintf("reused connection %s, idle %s before it", local, got.IdleTime.Round(time.Millisecond))
			case local != "":
				conn = "new connection " + local
			}
			c.failDetail(errorKind(err), id, fmt.Sprintf("request %s, %s after sending, %s", id, time.Since(sent).Round(time.Millisecond), conn))
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if !okStatus(resp.StatusCode) {
			c.fail(fmt.Sprintf("%s: status %d", method, resp.StatusCode))
			return
		}
		c.OK.Add(1)
	}
	paced := func(rate int, f func()) {
		r.wg.Go(func() {
			t := time.NewTicker(time.Second / time.Duration(rate))
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					f()
				}
			}
		})
	}
	if cfg.KeepAlive > 0 {
		c := kind("keep-alive GET")
		client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: cfg.KeepAlive, Proxy: nil}}
		for range cfg.KeepAlive {
			paced(cfg.KeepAliveRate, func() { do(c, client, http.MethodGet, func(s int) bool { return s == 200 }) })
		}
	}
	if cfg.Post > 0 {
		// /hello answers POST with 405 from the app's router: an answer from
		// a live server; what counts is that the request was not lost.
		c := kind("keep-alive POST, think time")
		for range cfg.Post {
			client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 1, Proxy: nil}}
			r.wg.Go(func() {
				for ctx.Err() == nil {
					do(c, client, http.MethodPost, func(s int) bool { return s < 500 })
					select {
					case <-ctx.Done():
					case <-time.After(cfg.PostThink):
					}
				}
			})
		}
	}
	if cfg.NewConn > 0 {
		c := kind("new connection per request")
		client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil}}
		for range cfg.NewConn {
			paced(cfg.NewConnRate, func() { do(c, client, http.MethodGet, func(s int) bool { return s == 200 }) })
		}
	}
	if cfg.GRPC != "" && cfg.GRPCClients > 0 {
		c := kind("gRPC Health/Check")
		for range cfg.GRPCClients {
			conn, err := grpc.NewClient("passthrough:///"+cfg.GRPC, grpc.WithTransportCredentials(insecure.NewCredentials()))
			if err != nil {
				c.fail(err.Error())
				continue
			}
			client := healthpb.NewHealthClient(conn)
			r.wg.Go(func() {
				<-ctx.Done()
				conn.Close()
			})
			paced(cfg.GRPCRate, func() {
				cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
				defer cancel()
				resp, err := client.Check(cctx, &healthpb.HealthCheckRequest{})
				switch {
				case ctx.Err() != nil:
				case err != nil:
					c.fail(errorKind(err))
				case resp.GetStatus() != healthpb.HealthCheckResponse_SERVING:
					// A draining server answering: served, not lost.
					c.NotServing.Add(1)
				default:
					c.OK.Add(1)
				}
			})
		}
	}
	return r
}

// stop ends the run and waits for its clients.
func (r *loadRun) stop() {
	r.cancel()
	r.wg.Wait()
	r.elapsed = time.Since(r.start)
}

func (r *loadRun) failed() int64 {
	var n int64
	for _, c := range r.kinds {
		n += c.Failed.Load()
	}
	return n
}

// failedIDs are the X-Request-IDs of the first failed HTTP requests.
func (r *loadRun) failedIDs() []string {
	var ids []string
	for _, c := range r.kinds {
		c.mu.Lock()
		ids = append(ids, c.ids...)
		c.mu.Unlock()
	}
	return ids
}

func (r *loadRun) total() int64 {
	var n int64
	for _, c := range r.kinds {
		n += c.OK.Load() + c.Failed.Load() + c.NotServing.Load()
	}
	return n
}

// report is one line per client kind: counts, rate and the errors seen.
func (r *loadRun) report() string {
	var b strings.Builder
	for _, k := range r.order {
		c := r.kinds[k]
		n := c.OK.Load() + c.Failed.Load() + c.NotServing.Load()
		fmt.Fprintf(&b, "  %-28s %6d requests (%.0f/s), %d failed", k, n, float64(n)/r.elapsed.Seconds(), c.Failed.Load())
		if ns := c.NotServing.Load(); ns > 0 {
			fmt.Fprintf(&b, ", %d NOT_SERVING answers", ns)
		}
		c.mu.Lock()
		var errs []string
		for e, n := range c.errs {
			errs = append(errs, fmt.Sprintf("%d× %s", n, e))
		}
		c.mu.Unlock()
		sort.Strings(errs)
		if len(errs) > 0 {
			fmt.Fprintf(&b, ": %s (first: %s)", strings.Join(errs, "; "), strings.Join(c.when, ", "))
		}
		b.WriteString("\n")
	}
	return b.String()
}

// errorKind shortens a client error to its cause, without addresses and
// ports, so that like errors count together.
func errorKind(err error) string {
	s := err.Error()
	for _, k := range []string{"connection refused", "connection reset by peer", "EOF", "i/o timeout", "Client.Timeout exceeded",
		"context deadline exceeded", "broken pipe", "no route to host", "server closed idle connection", "Unavailable", "DeadlineExceeded"} {
		if strings.Contains(s, k) {
			return k
		}
	}
	if len(s) > 120 {
		s = s[:120]
	}
	return s
}
