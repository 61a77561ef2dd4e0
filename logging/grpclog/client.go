package grpclog

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/podlife/podlife/logging/internal/reqlog"
)

// UnaryClientInterceptor returns an interceptor that carries the request
// being served on to the called service: on a call whose context comes
// from logging.Middleware or a server interceptor of this package, it adds
// to the outgoing metadata
//   - x-request-id, the request id, so that both services log the same;
//   - when the request came with a valid W3C traceparent, a traceparent
//     with the same trace id and a new parent id, one per call, and the
//     tracestate that came with it.
//
// A key the caller already put in the outgoing metadata is left alone, and
// a call made outside of any request gets nothing: it starts no trace.
// Install it with grpc.WithUnaryInterceptor or grpc.WithChainUnaryInterceptor.
func UnaryClientInterceptor() grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		return invoker(outgoing(ctx), method, req, reply, cc, opts...)
	}
}

// StreamClientInterceptor returns the streaming counterpart of
// UnaryClientInterceptor: it adds the same metadata when the stream opens.
func StreamClientInterceptor() grpc.StreamClientInterceptor {
	return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		return streamer(outgoing(ctx), desc, cc, method, opts...)
	}
}

// outgoing returns ctx with the request's ids added to its outgoing
// metadata, where not already there.
func outgoing(ctx context.Context) context.Context {
	id, traceParent, traceState := reqlog.From(ctx).Outgoing()
	if id == "" {
		return ctx
	}
	md, _ := metadata.FromOutgoingContext(ctx)
	kv := make([]string, 0, 6)
	if len(md.Get(RequestIDKey)) == 0 {
		kv = append(kv, RequestIDKey, id)
	}
	if traceParent != "" && len(md.Get(TraceParentKey)) == 0 {
		kv = append(kv, TraceParentKey, traceParent)
		if traceState != "" && len(md.Get(TraceStateKey)) == 0 {
			kv = append(kv, TraceStateKey, traceState)
		}
	}
	if len(kv) == 0 {
		return ctx
	}
	return metadata.AppendToOutgoingContext(ctx, kv...)
}
