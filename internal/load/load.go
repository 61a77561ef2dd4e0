// Package load is warmup's load engine: it sends a bounded amount of HTTP
// load through the vegeta library or gRPC load through grpcurl, paced,
// capped and stopped early once the target is warm, and sums the outcome
// up in constant memory, whatever the number of requests.
//
// New checks Options (the targets, a targets file, the request) and
// prepares a Load without touching the network; Run carries a Plan out
// and returns a Summary. HTTP and gRPC load are one Load: the scheme of
// the targets picks the engine, and only this package sees vegeta's and
// grpcurl's types.
package load

import (
	"context"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/podlife/podlife/internal/check"
)

// Options says what to load and how to reach it.
type Options struct {
	// Targets are the URLs to load, round-robin: http:// and https://,
	// or grpc:// and grpcs://host:port/package.Service/Method; not HTTP
	// and gRPC in one load, nor grpc:// and grpcs://.
	Targets []string
	// TargetsFile names a file of more HTTP requests in vegeta's format,
	// TargetsFormat: FormatHTTP ("" too) or FormatJSON. Method, Header
	// and Body are the defaults of its requests.
	TargetsFile   string
	TargetsFormat string
	// Method is the HTTP method; "" means GET.
	Method string
	// Header is sent with each HTTP request, or as gRPC metadata.
	Header http.Header
	// Body is the HTTP request body; BodyFile names a file to read it
	// from instead (not both).
	Body     []byte
	BodyFile string
	// Data is the gRPC request message as JSON; empty means {}.
	Data []byte
	// Protosets are files of FileDescriptorSet to take gRPC descriptors
	// from; none means server reflection.
	Protosets []string
	// TLS configures https:// and grpcs:// targets.
	TLS check.TLSOptions
	// HTTP2 negotiates HTTP/2 with https:// targets (ALPN); otherwise
	// HTTP/1.1 only.
	HTTP2 bool
	// H2C sends http:// requests as cleartext HTTP/2 with prior
	// knowledge.
	H2C bool
	// Authority overrides the HTTP Host header or the gRPC :authority.
	Authority string
	// UnixSocket, when set, carries every request, HTTP or gRPC, over
	// this unix socket; the targets' host:port is then only the Host or
	// :authority.
	UnixSocket string
	// UseProxy honors the proxy environment variables, never for
	// loopback targets.
	UseProxy bool
	// RequestTimeout bounds each request and each gRPC method lookup; 0
	// means DefaultRequestTimeout.
	RequestTimeout time.Duration
}

// DefaultRequestTimeout is the bound on one request when none is given.
const DefaultRequestTimeout = 10 * time.Second

// Load is a load ready to run. A Load runs one Plan at a time.
type Load struct {
	engine  engine
	names   []string       // the targets, for logs
	schemes []check.Scheme // their schemes, each once
	grpc    bool           // count answers by gRPC code name
	clock   clock          // nil: the real one; tests record the schedule with theirs
}

// engine sends one protocol's requests: HTTP through vegeta, gRPC
// through grpcurl. Load.Run owns the plan (pacing, the count, the warm
// condition, the summary); an engine only sends what the pacer lets
// through and reports each result.
type engine interface {
	// open prepares what the load needs from the network, such as the
	// gRPC methods by server reflection. Its errors are
	// *check.ConfigError values when the target cannot be loaded as
	// given, and others when it cannot be reached.
	open(ctx context.Context) error
	// send sends the requests p lets through, with at most workers in
	// flight, until p stops, and reports each result to rec; it
	// returns once all have ended. When pctx (p's context) ends, no new
	// request starts; when ctx ends, those in flight are aborted.
	send(ctx, pctx context.Context, p *pacer, workers int, rec recordFunc)
	// close releases what open and send kept.
	close()
}

// recordFunc takes the result of one request that started at start and
// took latency: code is the HTTP status or gRPC code when there was an
// answer and -1 when there was none, errText then says why; ok marks
// success. It is safe for concurrent use.
type recordFunc func(start time.Time, latency time.Duration, code int, ok bool, errText string)

// New checks o and prepares the load without touching the network: it
// parses every target once, reads the body and targets files, and with
// protosets resolves each gRPC method and checks Data against it. Its
// errors are *check.ConfigError values naming the option (by its flag
// name) or the target.
func New(o Options) (*Load, error) {
	ts, err := parseTargets(o)
	if err != nil {
		return nil, err
	}
	l := &Load{grpc: ts.grpc}
	if ts.grpc {
		l.engine, err = newGRPC(o, ts)
	} else {
		l.engine, err = newHTTP(o, ts)
	}
	if err != nil {
		return nil, err
	}
	l.names = ts.names
	l.schemes = ts.schemes
	return l, nil
}

// Targets returns the load's targets for a log: the URLs as given, and
// "METHOD URL" for the requests of a targets file.
func (l *Load) Targets() []string { return slices.Clone(l.names) }

// Schemes returns the schemes of the load's targets, each once, those of
// a targets file included; a command passes them to check.Unused.
func (l *Load) Schemes() []check.Scheme { return slices.Clone(l.schemes) }

// Run sends the load of plan and returns its summary. It returns when the
// plan is done or ctx ends; requests in flight when ctx ends are aborted
// and not counted. An error means the load could not start (no request
// was sent): a *check.ConfigError when the target cannot be loaded as
// given (a method the server does not have), another error when it
// cannot be reached.
func (l *Load) Run(ctx context.Context, plan Plan) (Summary, error) {
	defer l.engine.close()
	if err := l.engine.open(ctx); err != nil {
		return Summary{}, err
	}
	pctx, stopPacing := plan.pacing(ctx)
	defer stopPacing()
	var (
		mu   sync.Mutex
		rec  = newRecorder(plan.Warm, l.grpc)
		warm bool
	)
	record := func(start time.Time, latency time.Duration, code int, ok bool, errText string) {
		if code < 0 && ctx.Err() != nil {
			return // aborted by us, not by the target
		}
		mu.Lock()
		defer mu.Unlock()
		if rec.record(start, latency, code, ok, errText) && !warm {
			warm = true
			stopPacing()
		}
	}
	began := time.Now()
	l.engine.send(ctx, pctx, newPacer(pctx, plan, l.clock), plan.workers(), record)
	mu.Lock()
	defer mu.Unlock()
	return rec.summary(stopReason(ctx, pctx, warm), time.Since(began)), nil
}
