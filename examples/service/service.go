package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"

	"github.com/podlife/podlife/lifecycle"
	"github.com/podlife/podlife/lifecycle/grpcinflight"
	"github.com/podlife/podlife/logging"
	"github.com/podlife/podlife/logging/grpclog"
)

// maxSleep bounds /hello?sleep=.
const maxSleep = 30 * time.Second

// run is the service: it returns when the lifecycle has shut down. environ
// is the environment, KEY=VALUE entries as os.Environ returns them.
func run(ctx context.Context, args, environ []string, stdout, stderr io.Writer) error {
	getenv := lookup(environ)
	o, err := parseOptions(args, getenv, stderr)
	if err != nil {
		return err
	}
	lc, err := logging.ConfigFromEnv(getenv)
	if err != nil {
		return usageError{err}
	}
	lc.Output = stdout
	lc.UserID = userID
	logger := logging.New(lc)
	// One pipeline for everything: the access lines, the handlers' lines
	// and lifecycle's shutdown steps, all with the service fields.
	log := logger.Slog()
	cfg, err := lifecycle.ConfigFromEnv(environ)
	if err != nil {
		return usageError{err}
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	cfg.Logger = log
	cfg.Registry = reg
	l, err := lifecycle.New(cfg)
	if err != nil {
		return err
	}

	s := &service{
		log:   log,
		l:     l,
		cache: newColdCache(o.coldKeys, o.coldCost),
		helloDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "example_hello_duration_seconds",
			Help:    "Time to answer /hello, by cache result (hit, miss, none).",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
		}, []string{"cache"}),
	}
	reg.MustRegister(s.helloDuration)

	ln, err := net.Listen("tcp", o.httpAddr)
	if err != nil {
		return err
	}
	app := http.NewServeMux()
	app.HandleFunc("GET /hello", s.hello)
	app.HandleFunc("GET /fail", s.fail)
	app.HandleFunc("POST /stall", s.stall)
	root := http.NewServeMux()
	// Every app request gets one access line, even one that lifecycle's
	// middleware sees while draining; the in-flight count is inside it.
	root.Handle("/", logger.Middleware(l.Middleware(app)))
	// Health and metrics stay out of the in-flight count: a preStop hook
	// polling GET /drainz until inflight is 0 must not count itself. They
	// get no access lines either: kubelet probes every few seconds would
	// bury the app's lines.
	probes := l.Handler()
	for _, p := range []string{"/livez", "/readyz", "/startupz", "/drainz"} {
		root.Handle(p, probes)
	}
	root.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	l.AddHTTPServer(&http.Server{
		Handler:           root,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}, ln)
	addrs := []any{slog.String("http_addr", ln.Addr().String())}

	if o.grpcAddr != "" {
		gln, err := net.Listen("tcp", o.grpcAddr)
		if err != nil {
			ln.Close()
			return err
		}
		// Logging outermost, as for HTTP: interceptors chain in order.
		lo := grpclog.Options{UserID: grpcUserID}
		gs := grpc.NewServer(append([]grpc.ServerOption{
			grpc.ChainUnaryInterceptor(skipProbes(grpclog.UnaryServerInterceptor(logger, lo))),
			grpc.ChainStreamInterceptor(grpclog.StreamServerInterceptor(logger, lo)),
		}, grpcinflight.ServerOptions(l)...)...)
		hs := health.NewServer()
		healthpb.RegisterHealthServer(gs, hs)
		l.AddGRPCServer(gs, gln)
		l.AddHealthServer(hs)
		addrs = append(addrs, slog.String("grpc_addr", gln.Addr().String()))
	}

	l.AddStartupTask("init", func(ctx context.Context) error {
		t := time.NewTimer(o.startupDelay)
		defer t.Stop()
		select {
		case <-t.C:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})

	// A background loop proving its progress to /livez, for the life of
	// the service: stopped after the servers have drained.
	heartbeat := l.Watchdog("janitor", o.watchdogAge)
	l.AddWorker("janitor", func(ctx context.Context) error {
		s.janitor(ctx, heartbeat, max(o.watchdogAge/4, time.Millisecond))
		return nil
	})
	// The lifecycle's signals, for whoever needs to know: here, two log
	// lines an operator looks for.
	l.AddWorker("announce", func(ctx context.Context) error {
		select {
		case <-l.Serving():
			log.Info("serving: startup finished")
		case <-ctx.Done():
			return nil
		}
		select {
		case <-l.Draining():
			log.Info("draining: readiness fails, requests still served", slog.Int64("inflight", l.InFlight()))
		case <-ctx.Done():
		}
		return nil
	})

	log.Info("listening", addrs...)
	return l.Run(ctx)
}

// lookup returns a getenv over environ.
func lookup(environ []string) func(string) string {
	m := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return func(k string) string { return m[k] }
}

// userID is who sent r: the example's stand-in for authentication, which
// trusts an X-User-ID header; a real service takes it from a verified
// token. The name is in canonical form, which Header.Get looks up without
// allocating.
func userID(r *http.Request) string { return r.Header.Get("X-User-Id") }

// grpcUserID is userID for gRPC: the x-user-id metadata.
func grpcUserID(ctx context.Context) string {
	if v := metadata.ValueFromIncomingContext(ctx, "x-user-id"); len(v) > 0 {
		return v[0]
	}
	return ""
}

// probeMethod is the gRPC method that readiness probes call (the podlife
// probe, kubelet's grpc probe): like the HTTP probes, it gets no access line.
const probeMethod = "/grpc.health.v1.Health/Check"

// skipProbes calls logged for every method but probeMethod, which it serves
// unlogged.
func skipProbes(logged grpc.UnaryServerInterceptor) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if info.FullMethod == probeMethod {
			return handler(ctx, req)
		}
		return logged(ctx, req, info, handler)
	}
}

// service holds the handlers' state.
type service struct {
	log           *slog.Logger
	l             *lifecycle.Lifecycle
	cache         *coldCache
	helloDuration *prometheus.HistogramVec
	stalled       atomic.Bool // set by POST /stall: the janitor stops making progress
}

// hello answers "hello, NAME". ?key=K uses the simulated cache for K (cold
// the first time); ?sleep=D takes D longer (at most 30s), for drain demos.
func (s *service) hello(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	q := r.URL.Query()
	if v := q.Get("sleep"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 || d > maxSleep {
			writeError(w, r, http.StatusBadRequest, "BAD_SLEEP", fmt.Sprintf("sleep=%q: want a duration within [0, %v]", v, maxSleep))
			return
		}
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return
		}
	}
	result := "none"
	var tag string
	if key := q.Get("key"); key != "" || s.cache.enabled() {
		if key == "" {
			key = s.cache.nextKey()
		}
		v, hit := s.cache.get(key)
		result = "miss"
		if hit {
			result = "hit"
		}
		tag = hex.EncodeToString(v[:4])
		w.Header().Set("X-Cache", result)
	}
	name := q.Get("name")
	if name == "" {
		name = "world"
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if tag != "" {
		fmt.Fprintf(w, "hello, %s (%s)\n", name, tag)
	} else {
		fmt.Fprintf(w, "hello, %s\n", name)
	}
	s.helloDuration.WithLabelValues(result).Observe(time.Since(start).Seconds())
}

// fail answers 500 with the error code DEMO_FAILURE, which the access line
// carries as error.code.
func (s *service) fail(w http.ResponseWriter, r *http.Request) {
	writeError(w, r, http.StatusInternalServerError, "DEMO_FAILURE", "this endpoint always fails")
}

// stall makes the janitor loop deadlock, so that /livez fails after the
// watchdog's max age and kubelet restarts the container. Loopback only.
func (s *service) stall(w http.ResponseWriter, r *http.Request) {
	host, _, _ := net.SplitHostPort(r.RemoteAddr)
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		writeError(w, r, http.StatusForbidden, "FORBIDDEN", "POST /stall is accepted from loopback only")
		return
	}
	if s.stalled.CompareAndSwap(false, true) {
		s.log.WarnContext(r.Context(), "janitor stalled on request: /livez will fail after the watchdog's max age")
	}
	w.WriteHeader(http.StatusAccepted)
}

// janitor is a periodic loop that beats the heartbeat on every round.
func (s *service) janitor(ctx context.Context, hb *lifecycle.Heartbeat, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		hb.Beat()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if s.stalled.Load() {
			// Stuck, as a deadlocked loop would be, but still ending at
			// shutdown.
			for ctx.Err() == nil && s.stalled.Load() {
				time.Sleep(every)
			}
			return
		}
	}
}

// writeError writes {"error":{"code":CODE,"message":MSG}} with status and
// an X-Error-Code header, and records code and msg for r's access line
// (error.code, error.message).
func writeError(w http.ResponseWriter, r *http.Request, status int, code, msg string) {
	logging.SetError(r.Context(), &logging.Error{Code: code, Status: status, Err: errors.New(msg)})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Error-Code", code)
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": code, "message": msg}})
}
