package load

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/fullstorydev/grpcurl"
	"github.com/golang/protobuf/proto" //nolint:staticcheck // grpcurl's API is written in it
	"github.com/jhump/protoreflect/desc"
	"github.com/jhump/protoreflect/dynamic"
	"github.com/jhump/protoreflect/grpcreflect"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/podlife/podlife/internal/check"
)

// grpcEngine sends gRPC load through grpcurl: connections and resolved
// methods.
type grpcEngine struct {
	methods    []grpcTarget // round-robin
	tls        *tls.Config  // for grpcs://; nil: plaintext
	authority  string
	header     []string // "Name: value" each
	data       []byte   // the request, JSON
	unixSocket string   // dial this instead of the targets' host:port
	useProxy   bool
	timeout    time.Duration              // per call and per lookup
	files      grpcurl.DescriptorSource   // from the protosets, if any
	sources    []grpcurl.DescriptorSource // per method, local once resolved
	conns      map[string]*grpc.ClientConn
}

// newGRPC prepares the gRPC load of ts without touching the network.
// With protosets, each method and the request data are checked against
// them at once.
func newGRPC(o Options, ts *targets) (*grpcEngine, error) {
	e := &grpcEngine{
		methods:    ts.methods,
		authority:  o.Authority,
		header:     headerLines(o.Header),
		data:       o.Data,
		unixSocket: o.UnixSocket,
		useProxy:   o.UseProxy,
		timeout:    cmp(o.RequestTimeout, DefaultRequestTimeout),
		sources:    make([]grpcurl.DescriptorSource, len(ts.methods)),
		conns:      map[string]*grpc.ClientConn{},
	}
	if ts.tls {
		tc, err := o.TLS.Config("")
		if err != nil {
			return nil, err
		}
		e.tls = tc
	}
	if len(o.Protosets) > 0 {
		src, err := grpcurl.DescriptorSourceFromProtoSets(o.Protosets...)
		if err != nil {
			return nil, &check.ConfigError{Flag: "protoset", Msg: err.Error()}
		}
		e.files = src
		for i, t := range e.methods {
			if e.sources[i], err = e.resolve(src, t); err != nil {
				return nil, err
			}
		}
	}
	return e, nil
}

// headerLines renders h as grpcurl's "Name: value" lines, in key order.
func headerLines(h http.Header) []string {
	var lines []string
	for _, k := range slices.Sorted(maps.Keys(h)) {
		for _, v := range h[k] {
			lines = append(lines, k+": "+v)
		}
	}
	return lines
}

// open connects (lazily: grpc-go dials on the first call) and, unless
// protosets were given, looks every method up by server reflection, each
// lookup within the request timeout, checking the request data against
// its input type. A method or service the server does not have, a
// server without reflection and bad data are *check.ConfigError values;
// a server that cannot be reached is any other error.
func (e *grpcEngine) open(ctx context.Context) error {
	for _, t := range e.methods {
		if e.conns[t.addr] != nil {
			continue
		}
		cc, err := grpc.NewClient(t.addr, e.dialOptions(t.addr)...)
		if err != nil {
			return &check.ConfigError{Target: t.raw, Msg: err.Error()}
		}
		e.conns[t.addr] = cc
	}
	if e.files != nil {
		return nil
	}
	for i, t := range e.methods {
		src, err := e.lookup(ctx, t)
		if err != nil {
			return err
		}
		e.sources[i] = src
	}
	return nil
}

func (e *grpcEngine) dialOptions(addr string) []grpc.DialOption {
	creds := insecure.NewCredentials()
	if e.tls != nil {
		creds = credentials.NewTLS(e.tls)
	}
	opts := []grpc.DialOption{grpc.WithTransportCredentials(creds), grpc.WithUserAgent("podlife-warmup")}
	if e.authority != "" {
		opts = append(opts, grpc.WithAuthority(e.authority))
	}
	if e.unixSocket != "" {
		socket := e.unixSocket
		return append(opts, grpc.WithNoProxy(), grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		}))
	}
	host, _, _ := net.SplitHostPort(addr)
	if !e.useProxy || check.IsLoopback(host) {
		opts = append(opts, grpc.WithNoProxy())
	}
	return opts
}

// close closes the connections.
func (e *grpcEngine) close() {
	for _, cc := range e.conns {
		cc.Close()
	}
	clear(e.conns)
}

// lookup resolves t by server reflection within RequestTimeout, so that
// a server that accepts connections and never answers costs one request
// timeout, not the whole run.
func (e *grpcEngine) lookup(ctx context.Context, t grpcTarget) (grpcurl.DescriptorSource, error) {
	ctx, cancel := context.WithTimeout(ctx, e.timeout)
	defer cancel()
	ref := grpcreflect.NewClientAuto(ctx, e.conns[t.addr])
	defer ref.Reset()
	return e.resolve(grpcurl.DescriptorSourceFromServer(ctx, ref), t)
}

// resolve finds t's method in src and returns a local descriptor source
// holding its file, so that calls during the load never go back to the
// server for descriptors.
func (e *grpcEngine) resolve(src grpcurl.DescriptorSource, t grpcTarget) (grpcurl.DescriptorSource, error) {
	svc, mth, _ := strings.Cut(t.method, "/")
	d, err := src.FindSymbol(svc)
	switch {
	case errors.Is(err, grpcurl.ErrReflectionNotSupported):
		return nil, &check.ConfigError{Target: t.raw, Msg: "the server does not support reflection; give its descriptors with --protoset"}
	case err != nil && isUnreachable(err):
		return nil, fmt.Errorf("%s: reflection: %w", t.raw, err)
	case err != nil:
		return nil, &check.ConfigError{Target: t.raw, Msg: fmt.Sprintf("no service %q%s", svc, known(src))}
	}
	sd, ok := d.(*desc.ServiceDescriptor)
	if !ok {
		return nil, &check.ConfigError{Target: t.raw, Msg: fmt.Sprintf("%q is not a service%s", svc, known(src))}
	}
	md := sd.FindMethodByName(mth)
	if md == nil {
		var names []string
		for _, m := range sd.GetMethods() {
			names = append(names, m.GetName())
		}
		return nil, &check.ConfigError{Target: t.raw, Msg: fmt.Sprintf("service %s has no method %q; it has %s", svc, mth, strings.Join(names, ", "))}
	}
	local, err := grpcurl.DescriptorSourceFromFileDescriptors(sd.GetFile())
	if err != nil {
		return nil, &check.ConfigError{Target: t.raw, Msg: err.Error()}
	}
	msg := dynamic.NewMessage(md.GetInputType())
	if err := supplier(local, e.data)(msg); err != nil && !errors.Is(err, io.EOF) {
		return nil, &check.ConfigError{Flag: "data", Target: t.raw, Msg: fmt.Sprintf("not a %s: %v", md.GetInputType().GetFullyQualifiedName(), err)}
	}
	return local, nil
}

// known lists the services of src for a message, when it can.
func known(src grpcurl.DescriptorSource) string {
	svcs, err := src.ListServices()
	if err != nil || len(svcs) == 0 {
		return ""
	}
	sort.Strings(svcs)
	return "; the server has " + strings.Join(svcs, ", ")
}

// isUnreachable reports whether err means the server could not be asked.
func isUnreachable(err error) bool {
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded, codes.Canceled:
		return true
	}
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// supplier returns a grpcurl request supplier that parses data as JSON.
func supplier(src grpcurl.DescriptorSource, data []byte) grpcurl.RequestSupplier {
	p := grpcurl.NewJSONRequestParser(bytes.NewReader(data), grpcurl.AnyResolverFromDescriptorSource(src))
	return p.Next
}

// send calls the methods round-robin through grpcurl.InvokeRPC.
func (e *grpcEngine) send(ctx, pctx context.Context, p *pacer, workers int, rec recordFunc) {
	n := uint64(len(e.methods))
	drive(ctx, pctx, p, workers, func(ctx context.Context, seq uint64) (int, bool, string) {
		i := seq % n
		t := e.methods[i]
		cctx, cancel := context.WithTimeout(ctx, e.timeout)
		defer cancel()
		var h handler
		err := grpcurl.InvokeRPC(cctx, e.sources[i], e.conns[t.addr], t.method, e.header, &h, supplier(e.sources[i], e.data))
		switch {
		case ctx.Err() != nil:
			return -1, false, "cancelled" // not counted
		case err != nil:
			return -1, false, err.Error()
		case !h.done:
			return -1, false, "no status"
		case h.status.Code() == codes.Unavailable && strings.HasPrefix(h.status.Message(), "connection error"):
			return -1, false, h.status.Message()
		}
		// A nil status (OK) answers Code and Message too.
		return int(h.status.Code()), h.status.Code() == codes.OK, ""
	}, rec)
}

// handler is a grpcurl.InvocationEventHandler that keeps only the
// status; grpcurl passes a nil *status.Status for OK.
type handler struct {
	status *status.Status
	done   bool
}

func (*handler) OnResolveMethod(*desc.MethodDescriptor) {}
func (*handler) OnSendHeaders(metadata.MD)              {}
func (*handler) OnReceiveHeaders(metadata.MD)           {}
func (*handler) OnReceiveResponse(proto.Message)        {}
func (h *handler) OnReceiveTrailers(s *status.Status, _ metadata.MD) {
	h.status, h.done = s, true
}
