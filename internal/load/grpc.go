package load

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
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

// GRPCTarget is one gRPC method to call.
type GRPCTarget struct {
	// Raw is the target as given, for messages.
	Raw string
	// Addr is host:port.
	Addr string
	// Method is "package.Service/Method".
	Method string
}

// GRPCConfig configures gRPC load.
type GRPCConfig struct {
	// Targets are the methods to call, round-robin.
	Targets []GRPCTarget
	// TLS, when set, makes the calls over TLS (grpcs://).
	TLS *tls.Config
	// Authority overrides the :authority of the calls.
	Authority string
	// Header is request metadata, "Name: value" each.
	Header []string
	// Data is the request message as JSON; empty means an empty
	// message.
	Data []byte
	// Protosets are files of FileDescriptorSet to take descriptors
	// from; none means server reflection.
	Protosets []string
	// UseProxy honors the proxy environment variables, never for
	// loopback targets.
	UseProxy bool
	// RequestTimeout bounds each call; 0 means DefaultRequestTimeout.
	RequestTimeout time.Duration
}

// GRPC is prepared gRPC load: connections and resolved methods.
type GRPC struct {
	c       GRPCConfig
	conns   map[string]*grpc.ClientConn
	sources []grpcurl.DescriptorSource // per target, local once resolved
	files   grpcurl.DescriptorSource   // from the protosets, if any
}

// NewGRPC checks c and prepares the load without touching the network.
// With protosets, each method and the request data are checked against
// them at once. Its errors are *check.ConfigError values naming the flag
// or the target.
func NewGRPC(c GRPCConfig) (*GRPC, error) {
	g := &GRPC{c: c, conns: map[string]*grpc.ClientConn{}, sources: make([]grpcurl.DescriptorSource, len(c.Targets))}
	if len(c.Protosets) > 0 {
		src, err := grpcurl.DescriptorSourceFromProtoSets(c.Protosets...)
		if err != nil {
			return nil, &check.ConfigError{Flag: "protoset", Msg: err.Error()}
		}
		g.files = src
		for i, t := range c.Targets {
			if g.sources[i], err = g.resolve(src, t); err != nil {
				return nil, err
			}
		}
	}
	for _, t := range c.Targets {
		if g.conns[t.Addr] != nil {
			continue
		}
		cc, err := grpc.NewClient(t.Addr, g.dialOptions(t.Addr)...)
		if err != nil {
			g.Close()
			return nil, &check.ConfigError{Target: t.Raw, Msg: err.Error()}
		}
		g.conns[t.Addr] = cc
	}
	return g, nil
}

func (g *GRPC) dialOptions(addr string) []grpc.DialOption {
	creds := insecure.NewCredentials()
	if g.c.TLS != nil {
		creds = credentials.NewTLS(g.c.TLS)
	}
	opts := []grpc.DialOption{grpc.WithTransportCredentials(creds), grpc.WithUserAgent("podlife-warmup")}
	if g.c.Authority != "" {
		opts = append(opts, grpc.WithAuthority(g.c.Authority))
	}
	host, _, _ := net.SplitHostPort(addr)
	if !g.c.UseProxy || check.IsLoopback(host) {
		opts = append(opts, grpc.WithNoProxy())
	}
	return opts
}

// Close closes the connections; calling it again does nothing.
func (g *GRPC) Close() {
	for _, cc := range g.conns {
		cc.Close()
	}
	clear(g.conns)
}

// Resolve looks every method up once, by server reflection unless
// protosets were given, each lookup within RequestTimeout, and checks the request data against its input
// type. A method or service the server does not have, a server without
// reflection and bad data are *check.ConfigError values; a server that
// cannot be reached is any other error.
func (g *GRPC) Resolve(ctx context.Context) error {
	if g.files != nil {
		return nil
	}
	for i, t := range g.c.Targets {
		src, err := g.lookup(ctx, t)
		if err != nil {
			return err
		}
		g.sources[i] = src
	}
	return nil
}

// lookup resolves t by server reflection within RequestTimeout, so that
// a server that accepts connections and never answers costs one request
// timeout, not the whole run.
func (g *GRPC) lookup(ctx context.Context, t GRPCTarget) (grpcurl.DescriptorSource, error) {
	ctx, cancel := context.WithTimeout(ctx, cmp(g.c.RequestTimeout, DefaultRequestTimeout))
	defer cancel()
	ref := grpcreflect.NewClientAuto(ctx, g.conns[t.Addr])
	defer ref.Reset()
	return g.resolve(grpcurl.DescriptorSourceFromServer(ctx, ref), t)
}

// resolve finds t's method in src and returns a local descriptor source
// holding its file, so that calls during the load never go back to the
// server for descriptors.
func (g *GRPC) resolve(src grpcurl.DescriptorSource, t GRPCTarget) (grpcurl.DescriptorSource, error) {
	svc, mth, _ := strings.Cut(t.Method, "/")
	d, err := src.FindSymbol(svc)
	switch {
	case errors.Is(err, grpcurl.ErrReflectionNotSupported):
		return nil, &check.ConfigError{Target: t.Raw, Msg: "the server does not support reflection; give its descriptors with --protoset"}
	case err != nil && isUnreachable(err):
		return nil, fmt.Errorf("%s: reflection: %w", t.Raw, err)
	case err != nil:
		return nil, &check.ConfigError{Target: t.Raw, Msg: fmt.Sprintf("no service %q%s", svc, known(src))}
	}
	sd, ok := d.(*desc.ServiceDescriptor)
	if !ok {
		return nil, &check.ConfigError{Target: t.Raw, Msg: fmt.Sprintf("%q is not a service%s", svc, known(src))}
	}
	md := sd.FindMethodByName(mth)
	if md == nil {
		var names []string
		for _, m := range sd.GetMethods() {
			names = append(names, m.GetName())
		}
		return nil, &check.ConfigError{Target: t.Raw, Msg: fmt.Sprintf("service %s has no method %q; it has %s", svc, mth, strings.Join(names, ", "))}
	}
	local, err := grpcurl.DescriptorSourceFromFileDescriptors(sd.GetFile())
	if err != nil {
		return nil, &check.ConfigError{Target: t.Raw, Msg: err.Error()}
	}
	msg := dynamic.NewMessage(md.GetInputType())
	if err := supplier(local, g.c.Data)(msg); err != nil && !errors.Is(err, io.EOF) {
		return nil, &check.ConfigError{Flag: "data", Target: t.Raw, Msg: fmt.Sprintf("not a %s: %v", md.GetInputType().GetFullyQualifiedName(), err)}
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

// Run sends the load of plan, calling the methods round-robin through
// grpcurl.InvokeRPC, and returns its summary. Call Resolve first.
func (g *GRPC) Run(ctx context.Context, plan Plan) Summary {
	timeout := cmp(g.c.RequestTimeout, DefaultRequestTimeout)
	n := uint64(len(g.c.Targets))
	return drive(ctx, plan, true, func(ctx context.Context, seq uint64) (int, bool, string) {
		i := seq % n
		t := g.c.Targets[i]
		cctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		var h handler
		err := grpcurl.InvokeRPC(cctx, g.sources[i], g.conns[t.Addr], t.Method, g.c.Header, &h, supplier(g.sources[i], g.c.Data))
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
	})
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
