package testpeer

import (
	"context"
	"crypto/tls"
	"net"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// GRPC is a real grpc-go server with the standard health service.
type GRPC struct {
	// Addr is the server's host:port.
	Addr string
	// Health is the health service; tests change statuses through it.
	Health *health.Server
	// Server is the grpc-go server.
	Server *grpc.Server
	// Seen receives the metadata of recent calls (dropped when full).
	Seen chan metadata.MD
}

// StartGRPC starts a grpc-go health server on loopback; tlsConf nil means
// plaintext (h2c). Services: "orders" SERVING, "payments" NOT_SERVING,
// "cache" UNKNOWN. A call with metadata x-deny fails PERMISSION_DENIED.
func StartGRPC(t T, tlsConf *tls.Config) *GRPC {
	t.Helper()
	return StartGRPCAt(t, "127.0.0.1:0", tlsConf)
}

// StartGRPCAt is StartGRPC listening on addr, such as "[::1]:0".
func StartGRPCAt(t T, addr string, tlsConf *tls.Config) *GRPC {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	p := &GRPC{Addr: ln.Addr().String(), Health: health.NewServer(), Seen: make(chan metadata.MD, 16)}
	opts := []grpc.ServerOption{grpc.UnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		md, _ := metadata.FromIncomingContext(ctx)
		select {
		case p.Seen <- md:
		default:
		}
		if len(md.Get("x-deny")) > 0 {
			return nil, status.Error(codes.PermissionDenied, "denied by\ntest")
		}
		return h(ctx, req)
	})}
	if tlsConf != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(tlsConf)))
	}
	p.Server = grpc.NewServer(opts...)
	healthpb.RegisterHealthServer(p.Server, p.Health)
	p.Health.SetServingStatus("orders", healthpb.HealthCheckResponse_SERVING)
	p.Health.SetServingStatus("payments", healthpb.HealthCheckResponse_NOT_SERVING)
	p.Health.SetServingStatus("cache", healthpb.HealthCheckResponse_UNKNOWN)
	go p.Server.Serve(ln)
	t.Cleanup(p.Server.Stop)
	return p
}
