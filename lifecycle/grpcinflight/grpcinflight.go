// Package grpcinflight counts gRPC requests in flight for a lifecycle.Lifecycle.
//
// It lives apart from package lifecycle so that programs serving only HTTP do
// not link grpc-go.
package grpcinflight

import (
	"context"

	"google.golang.org/grpc"
)

// Tracker counts requests in flight: Track records a start and returns the
// function that records the end. *lifecycle.Lifecycle implements it.
type Tracker interface {
	Track() (done func())
}

// UnaryServerInterceptor counts each unary RPC as in flight until its handler
// returns.
func UnaryServerInterceptor(t Tracker) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		defer t.Track()()
		return handler(ctx, req)
	}
}

// StreamServerInterceptor counts each streaming RPC as in flight until its
// handler returns.
func StreamServerInterceptor(t Tracker) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		defer t.Track()()
		return handler(srv, ss)
	}
}

// ServerOptions returns the options that install both interceptors, to pass
// to grpc.NewServer.
func ServerOptions(t Tracker) []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(UnaryServerInterceptor(t)),
		grpc.ChainStreamInterceptor(StreamServerInterceptor(t)),
	}
}
