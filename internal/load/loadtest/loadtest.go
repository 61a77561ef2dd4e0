// Package loadtest holds the real peers the tests of warmup and its load
// engine talk to, besides internal/testpeer's: a counting HTTP handler, a
// grpc-go server with the health service with or without reflection,
// counting calls, and a protoset of its descriptors. Only tests import
// it.
package loadtest

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/podlife/podlife/internal/testpeer"
)

// Counter is an HTTP handler that counts what it gets and answers
// "hello, warm-up" with the status Status picks (200 when nil).
type Counter struct {
	// Status returns the status of the n-th request (from 1).
	Status func(n int64) int
	// InFlight, when set, receives a value as each request arrives.
	InFlight chan struct{}
	// Block, when set, makes every request wait for it (or for the
	// client to go away) before answering.
	Block chan struct{}

	n      atomic.Int64
	mu     sync.Mutex
	paths  map[string]int
	protos map[int]int
	first  []string
}

// ServeHTTP counts the request and answers it.
func (c *Counter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := c.n.Add(1)
	body, _ := io.ReadAll(r.Body)
	c.mu.Lock()
	if c.paths == nil {
		c.paths, c.protos = map[string]int{}, map[int]int{}
	}
	c.paths[r.URL.Path]++
	c.protos[r.ProtoMajor]++
	if c.first == nil {
		c.first = []string{r.Method, r.Header.Get("X-Test"), string(body), r.Host}
	}
	c.mu.Unlock()
	if c.InFlight != nil {
		select {
		case c.InFlight <- struct{}{}:
		default:
		}
	}
	if c.Block != nil {
		select {
		case <-c.Block:
		case <-r.Context().Done():
			return
		}
	}
	code := http.StatusOK
	if c.Status != nil {
		code = c.Status(n)
	}
	w.WriteHeader(code)
	io.WriteString(w, "hello, warm-up\n")
}

// N returns the number of requests received.
func (c *Counter) N() int64 { return c.n.Load() }

// Path returns the number of requests received for path.
func (c *Counter) Path(path string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.paths[path]
}

// Proto returns the number of requests received in HTTP/major.
func (c *Counter) Proto(major int) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.protos[major]
}

// First returns the method, X-Test header, body and Host of the first
// request.
func (c *Counter) First() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.first
}

// Server starts an HTTP server on 127.0.0.1 with h, closed at the end of
// the test.
func Server(t testpeer.T, h http.Handler) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s
}

// TLSServer starts an HTTPS server (HTTP/2 enabled) on 127.0.0.1 with h
// and the PKI's server certificate.
func TLSServer(t testpeer.T, h http.Handler, pki *testpeer.PKI) *httptest.Server {
	t.Helper()
	s := httptest.NewUnstartedServer(h)
	s.EnableHTTP2 = true
	s.TLS = &tls.Config{Certificates: []tls.Certificate{pki.Server}}
	s.StartTLS()
	t.Cleanup(s.Close)
	return s
}

// HealthCheck is the method the gRPC tests load.
const HealthCheck = "grpc.health.v1.Health/Check"

// GRPCPeer is a grpc-go server with the health service ("app" is
// SERVING), counting calls to Check.
type GRPCPeer struct {
	// Addr is the server's 127.0.0.1:port, or its unix socket.
	Addr  string
	calls atomic.Int64
}

// Calls returns the number of Check calls received.
func (p *GRPCPeer) Calls() int64 { return p.calls.Load() }

// NewGRPCPeer starts a GRPCPeer on 127.0.0.1, with server reflection or
// without, over TLS when cert is set; it stops at the end of the test.
func NewGRPCPeer(t testpeer.T, withReflection bool, cert *tls.Certificate) *GRPCPeer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return serveGRPC(t, ln, withReflection, cert)
}

// NewUnixGRPCPeer starts a GRPCPeer with server reflection, in plain
// text, on the unix socket sock; Addr is sock. It stops at the end of
// the test.
func NewUnixGRPCPeer(t testpeer.T, sock string) *GRPCPeer {
	t.Helper()
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	return serveGRPC(t, ln, true, nil)
}

func serveGRPC(t testpeer.T, ln net.Listener, withReflection bool, cert *tls.Certificate) *GRPCPeer {
	p := &GRPCPeer{}
	opts := []grpc.ServerOption{grpc.UnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		if info.FullMethod == "/"+HealthCheck {
			p.calls.Add(1)
		}
		return h(ctx, req)
	})}
	if cert != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{*cert}})))
	}
	s := grpc.NewServer(opts...)
	hs := health.NewServer()
	hs.SetServingStatus("app", healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(s, hs)
	if withReflection {
		reflection.Register(s)
	}
	go s.Serve(ln)
	t.Cleanup(s.Stop)
	p.Addr = ln.Addr().String()
	return p
}

// Protoset writes the descriptors of grpc-go's health service as a
// protoset file, as protoc --descriptor_set_out would, and returns its
// path.
func Protoset(t testpeer.T) string {
	t.Helper()
	fds := &descriptorpb.FileDescriptorSet{File: []*descriptorpb.FileDescriptorProto{
		protodesc.ToFileDescriptorProto(healthpb.File_grpc_health_v1_health_proto),
	}}
	b, err := proto.Marshal(fds)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(testpeer.TempDir(t), "health.protoset")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
