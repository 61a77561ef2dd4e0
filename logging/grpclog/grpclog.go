// Package grpclog logs gRPC calls the way package logging logs HTTP
// requests: one access line per call, with the request id, user id, trace
// ids, error code and duration, plus the RPC service, method and gRPC
// status code. It is a separate package so that HTTP-only programs never
// link grpc-go.
//
// The server interceptors put the call's request state in the handler's
// context, so logging.FromContext, logging.SetError and logging.SetUserID
// work in gRPC handlers as in HTTP ones. The client interceptors carry the
// request id and the W3C trace context of the request being served (HTTP
// or gRPC) on to the next service, as logging.Transport does over HTTP.
package grpclog

import (
	"context"
	"fmt"
	"runtime/debug"
	"strings"

	"github.com/rs/zerolog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/podlife/podlife/logging"
	"github.com/podlife/podlife/logging/internal/reqlog"
)

// Metadata keys read and written by the interceptors.
const (
	// RequestIDKey is the metadata key of the request id, read from the
	// client's metadata (when sane) and sent back in the response header.
	RequestIDKey = "x-request-id"
	// TraceParentKey is the metadata key of the W3C traceparent.
	TraceParentKey = "traceparent"
	// TraceStateKey is the metadata key of the W3C tracestate, passed on
	// with a valid traceparent.
	TraceStateKey = "tracestate"
)

// Options configures the interceptors. The zero value is ready to use.
type Options struct {
	// UserID returns the id of the user who made the call, written as
	// user.id; ctx is the call's incoming context, with its metadata and
	// whatever earlier interceptors added. Nil writes none unless the
	// handler calls logging.SetUserID.
	UserID func(ctx context.Context) string
}

// UnaryServerInterceptor returns an interceptor that logs each unary call
// through l and recovers a panicking handler: the panic is logged with its
// stack and the call fails with codes.Internal.
func UnaryServerInterceptor(l *logging.Logger, o Options) grpc.UnaryServerInterceptor {
	c := reqlog.CoreOf(l)
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
		ctx, s := start(ctx, c, o)
		_ = grpc.SetHeader(ctx, metadata.Pairs(RequestIDKey, s.RequestID()))
		defer func() {
			p := recover()
			err = finish(s, info.FullMethod, err, p)
		}()
		return handler(ctx, req)
	}
}

// StreamServerInterceptor returns an interceptor that logs each streaming
// call through l when it ends, and recovers a panicking handler like
// UnaryServerInterceptor.
func StreamServerInterceptor(l *logging.Logger, o Options) grpc.StreamServerInterceptor {
	c := reqlog.CoreOf(l)
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) (err error) {
		ctx, s := start(ss.Context(), c, o)
		_ = ss.SetHeader(metadata.Pairs(RequestIDKey, s.RequestID()))
		defer func() {
			p := recover()
			err = finish(s, info.FullMethod, err, p)
		}()
		return handler(srv, &stream{ServerStream: ss, ctx: ctx})
	}
}

// stream gives the handler the context that carries the Scope.
type stream struct {
	grpc.ServerStream
	ctx context.Context
}

// Context returns the call's context, carrying its request state.
func (s *stream) Context() context.Context { return s.ctx }

func start(ctx context.Context, c *reqlog.Core, o Options) (context.Context, *reqlog.Scope) {
	md, _ := metadata.FromIncomingContext(ctx)
	info := reqlog.Info{
		RequestID:   first(md.Get(RequestIDKey)),
		TraceParent: first(md.Get(TraceParentKey)),
	}
	if info.TraceParent != "" {
		info.TraceState = strings.Join(md.Get(TraceStateKey), ",")
	}
	ctx, s := reqlog.Start(c, ctx, info)
	if o.UserID != nil {
		s.SetUserID(o.UserID(ctx))
	}
	return ctx, s
}

// finish writes the access line and returns the call's error: err, or
// codes.Internal after a panic p.
func finish(s *reqlog.Scope, fullMethod string, err error, p any) error {
	var stack []byte
	if p != nil {
		stack = debug.Stack()
		s.SetErrorCode(logging.CodePanic)
		if perr, ok := p.(error); ok {
			s.SetError(fmt.Errorf("panic: %w", perr))
		} else {
			s.SetError(fmt.Errorf("panic: %v", p))
		}
		err = status.Error(codes.Internal, "internal error")
	}
	code := status.Code(err)
	if err != nil && p == nil {
		s.SetError(err)
		if c, _ := s.Outcome(); c == "" {
			s.SetErrorCode(code.String())
		}
	}
	e := s.Finish(level(code, p != nil))
	if e == nil {
		return err
	}
	service, method := splitMethod(fullMethod)
	e.Str(logging.FieldRPCSystem, "grpc").
		Str(logging.FieldRPCService, service).
		Str(logging.FieldRPCMethod, method).
		Int(logging.FieldGRPCStatusCode, int(code))
	if stack != nil {
		e.Bytes(logging.FieldErrorStack, stack)
	}
	e.Msg("grpc request")
	return err
}

// level is the level of an access line: error for codes that mean the
// server failed, warn for those that mean the caller did, info for OK.
func level(c codes.Code, panicked bool) zerolog.Level {
	switch {
	case panicked:
		return zerolog.ErrorLevel
	case c == codes.OK:
		return zerolog.InfoLevel
	case c == codes.Canceled, c == codes.InvalidArgument, c == codes.NotFound,
		c == codes.AlreadyExists, c == codes.PermissionDenied, c == codes.Unauthenticated,
		c == codes.FailedPrecondition, c == codes.OutOfRange, c == codes.ResourceExhausted,
		c == codes.Aborted:
		return zerolog.WarnLevel
	}
	return zerolog.ErrorLevel
}

// splitMethod splits "/pkg.Service/Method" into its service and method.
func splitMethod(full string) (service, method string) {
	full = strings.TrimPrefix(full, "/")
	if i := strings.LastIndexByte(full, '/'); i >= 0 {
		return full[:i], full[i+1:]
	}
	return "", full
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}
