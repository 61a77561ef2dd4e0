package check

import (
	"context"
	"crypto/tls"
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// grpcPeer is a real grpc-go server with the standard health service.
type grpcPeer struct {
	addr   string
	health *health.Server
	srv    *grpc.Server
	seen   chan metadata.MD
}

// startGRPC starts a grpc-go health server on loopback; tlsConf nil means
// plaintext (h2c).
func startGRPC(t *testing.T, tlsConf *tls.Config) *grpcPeer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &grpcPeer{addr: ln.Addr().String(), health: health.NewServer(), seen: make(chan metadata.MD, 16)}
	opts := []grpc.ServerOption{grpc.UnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		md, _ := metadata.FromIncomingContext(ctx)
		select {
		case p.seen <- md:
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
	p.srv = grpc.NewServer(opts...)
	healthpb.RegisterHealthServer(p.srv, p.health)
	p.health.SetServingStatus("orders", healthpb.HealthCheckResponse_SERVING)
	p.health.SetServingStatus("payments", healthpb.HealthCheckResponse_NOT_SERVING)
	p.health.SetServingStatus("cache", healthpb.HealthCheckResponse_UNKNOWN)
	go p.srv.Serve(ln)
	t.Cleanup(p.srv.Stop)
	return p
}

func TestGRPCHealth(t *testing.T) {
	t.Parallel()
	p := startGRPC(t, nil)
	tests := []struct {
		name    string
		service string
		o       Options
		want    Kind
		reason  string
	}{
		{name: "server as a whole", service: "", want: 0},
		{name: "SERVING service", service: "/orders", want: 0},
		{name: "NOT_SERVING service", service: "/payments", want: Unhealthy, reason: "NOT_SERVING"},
		{name: "UNKNOWN service status", service: "/cache", want: Unhealthy, reason: "UNKNOWN"},
		{name: "unknown service", service: "/nope", want: Unhealthy, reason: "NOT_FOUND"},
		{name: "error status with message", service: "/orders", o: Options{Header: map[string][]string{"X-Deny": {"1"}}}, want: Unhealthy, reason: "PERMISSION_DENIED: denied by test"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err, _ := runCheck(t, "grpc://"+p.addr+tt.service, tt.o, 5*time.Second)
			wantKind(t, err, tt.want)
			if tt.reason != "" && !strings.Contains(err.Error(), tt.reason) {
				t.Errorf("got %q, want it to contain %q", err, tt.reason)
			}
		})
	}
}

func TestGRPCMetadataAndAuthority(t *testing.T) {
	t.Parallel()
	p := startGRPC(t, nil)
	o := Options{Header: map[string][]string{"X-Tenant": {"blue"}}, Authority: "orders.internal"}
	err, _ := runCheck(t, "grpc://"+p.addr+"/orders", o, 5*time.Second)
	wantKind(t, err, 0)
	md := <-p.seen
	if got := md.Get("x-tenant"); len(got) != 1 || got[0] != "blue" {
		t.Errorf("metadata x-tenant: got %q, want [blue]", got)
	}
	if got := md.Get(":authority"); len(got) != 1 || got[0] != "orders.internal" {
		t.Errorf(":authority: got %q, want [orders.internal]", got)
	}
}

func TestGRPCStatusChanges(t *testing.T) {
	t.Parallel()
	p := startGRPC(t, nil)
	target := "grpc://" + p.addr + "/orders"
	err, _ := runCheck(t, target, Options{}, 5*time.Second)
	wantKind(t, err, 0)
	p.health.Shutdown() // what a draining server does at SIGTERM
	err, _ = runCheck(t, target, Options{}, 5*time.Second)
	wantKind(t, err, Unhealthy)
	p.srv.Stop()
	err, _ = runCheck(t, target, Options{}, 5*time.Second)
	wantKind(t, err, Unreachable)
}

func TestGRPCS(t *testing.T) {
	t.Parallel()
	pki := newPKI(t)
	other := newPKI(t)
	p := startGRPC(t, pki.serverTLS(false))
	m := startGRPC(t, pki.serverTLS(true))
	tests := []struct {
		name string
		addr string
		o    Options
		want Kind
	}{
		{name: "right CA", addr: p.addr, o: Options{TLS: TLSOptions{CAFile: pki.CAFile}}},
		{name: "wrong CA", addr: p.addr, o: Options{TLS: TLSOptions{CAFile: other.CAFile}}, want: Unreachable},
		{name: "insecure", addr: p.addr, o: Options{TLS: TLSOptions{InsecureSkipVerify: true}}},
		{name: "mTLS", addr: m.addr, o: Options{TLS: TLSOptions{CAFile: pki.CAFile, CertFile: pki.ClientCertFile, KeyFile: pki.ClientKeyFile}}},
		{name: "mTLS without a client cert", addr: m.addr, o: Options{TLS: TLSOptions{CAFile: pki.CAFile}}, want: Unreachable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err, _ := runCheck(t, "grpcs://"+tt.addr+"/orders", tt.o, 5*time.Second)
			wantKind(t, err, tt.want)
		})
	}
	t.Run("grpc:// against a TLS server", func(t *testing.T) {
		err, _ := runCheck(t, "grpc://"+p.addr, Options{}, 2*time.Second)
		wantKind(t, err, Unreachable)
	})
}

func TestGRPCMisbehavingPeers(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ name, addr string }{
		{"accepts and never answers", blackhole(t)},
		{"resets", resetter(t)},
		{"refuses", closedPort(t)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			const timeout = 300 * time.Millisecond
			err, took := runCheck(t, "grpc://"+tt.addr, Options{}, timeout)
			wantKind(t, err, Unreachable)
			if took > timeout+5*time.Second {
				t.Errorf("took %v with a %v deadline", took, timeout)
			}
		})
	}
}

func TestParseHealthResponse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      []byte
		want    uint64
		wantErr bool
	}{
		{name: "SERVING", in: []byte{0, 0, 0, 0, 2, 0x08, 1}, want: 1},
		{name: "empty message is UNKNOWN", in: []byte{0, 0, 0, 0, 0}, want: 0},
		{name: "unknown field skipped", in: []byte{0, 0, 0, 0, 5, 0x12, 1, 'x', 0x08, 2}, want: 2},
		{name: "short", in: []byte{0, 0}, wantErr: true},
		{name: "compressed", in: []byte{1, 0, 0, 0, 0}, wantErr: true},
		{name: "length mismatch", in: []byte{0, 0, 0, 0, 9, 0x08, 1}, wantErr: true},
		{name: "truncated varint", in: []byte{0, 0, 0, 0, 2, 0x08, 0x80}, wantErr: true},
	}
	for _, tt := range tests {
		got, err := parseHealthResponse(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("%s: got %d, %v; want %d, error %v", tt.name, got, err, tt.want, tt.wantErr)
		}
	}
}
