package check

import (
	"bytes"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/podlife/podlife/internal/testpeer"
)

func TestGRPCHealth(t *testing.T) {
	t.Parallel()
	p := testpeer.StartGRPC(t, nil)
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
			err, _ := runCheck(t, "grpc://"+p.Addr+tt.service, tt.o, 5*time.Second)
			wantKind(t, err, tt.want)
			if tt.reason != "" && !strings.Contains(err.Error(), tt.reason) {
				t.Errorf("got %q, want it to contain %q", err, tt.reason)
			}
		})
	}
}

func TestGRPCMetadataAndAuthority(t *testing.T) {
	t.Parallel()
	p := testpeer.StartGRPC(t, nil)
	o := Options{Header: map[string][]string{"X-Tenant": {"blue"}}, Authority: "orders.internal"}
	err, _ := runCheck(t, "grpc://"+p.Addr+"/orders", o, 5*time.Second)
	wantKind(t, err, 0)
	md := <-p.Seen
	if got := md.Get("x-tenant"); len(got) != 1 || got[0] != "blue" {
		t.Errorf("metadata x-tenant: got %q, want [blue]", got)
	}
	if got := md.Get(":authority"); len(got) != 1 || got[0] != "orders.internal" {
		t.Errorf(":authority: got %q, want [orders.internal]", got)
	}
}

func TestGRPCStatusChanges(t *testing.T) {
	t.Parallel()
	p := testpeer.StartGRPC(t, nil)
	target := "grpc://" + p.Addr + "/orders"
	err, _ := runCheck(t, target, Options{}, 5*time.Second)
	wantKind(t, err, 0)
	p.Health.Shutdown() // what a draining server does at SIGTERM
	err, _ = runCheck(t, target, Options{}, 5*time.Second)
	wantKind(t, err, Unhealthy)
	p.Server.Stop()
	err, _ = runCheck(t, target, Options{}, 5*time.Second)
	wantKind(t, err, Unreachable)
}

func TestGRPCS(t *testing.T) {
	t.Parallel()
	pki := testpeer.NewPKI(t)
	other := testpeer.NewPKI(t)
	p := testpeer.StartGRPC(t, pki.ServerTLS(false))
	m := testpeer.StartGRPC(t, pki.ServerTLS(true))
	tests := []struct {
		name string
		addr string
		o    Options
		want Kind
	}{
		{name: "right CA", addr: p.Addr, o: Options{TLS: TLSOptions{CAFile: pki.CAFile}}},
		{name: "wrong CA", addr: p.Addr, o: Options{TLS: TLSOptions{CAFile: other.CAFile}}, want: Unreachable},
		{name: "insecure", addr: p.Addr, o: Options{TLS: TLSOptions{InsecureSkipVerify: true}}},
		{name: "mTLS", addr: m.Addr, o: Options{TLS: TLSOptions{CAFile: pki.CAFile, CertFile: pki.ClientCertFile, KeyFile: pki.ClientKeyFile}}},
		{name: "mTLS without a client cert", addr: m.Addr, o: Options{TLS: TLSOptions{CAFile: pki.CAFile}}, want: Unreachable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err, _ := runCheck(t, "grpcs://"+tt.addr+"/orders", tt.o, 5*time.Second)
			wantKind(t, err, tt.want)
		})
	}
	t.Run("grpc:// against a TLS server", func(t *testing.T) {
		err, _ := runCheck(t, "grpc://"+p.Addr, Options{}, 2*time.Second)
		wantKind(t, err, Unreachable)
	})
}

func TestGRPCMisbehavingPeers(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ name, addr string }{
		{"accepts and never answers", testpeer.Blackhole(t)},
		{"resets", testpeer.Resetter(t)},
		{"refuses", testpeer.ClosedPort(t)},
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

// TestHealthWireFormat checks the hand-written encoding against protowire
// and the real generated message types.
func TestHealthWireFormat(t *testing.T) {
	t.Parallel()
	for _, svc := range []string{"", "orders", strings.Repeat("s", 300)} {
		want, err := proto.Marshal(&healthpb.HealthCheckRequest{Service: svc})
		if err != nil {
			t.Fatal(err)
		}
		if got := healthRequest(svc); !bytes.Equal(got, want) {
			t.Errorf("healthRequest(%q): got %x, want %x", svc, got, want)
		}
	}
	for _, st := range []healthpb.HealthCheckResponse_ServingStatus{0, 1, 2, 3} {
		msg, err := proto.Marshal(&healthpb.HealthCheckResponse{Status: st})
		if err != nil {
			t.Fatal(err)
		}
		// An unknown field after it, as a newer server might send.
		msg = protowire.AppendTag(msg, 7, protowire.BytesType)
		msg = protowire.AppendString(msg, "future")
		frame := append([]byte{0, 0, 0, 0, byte(len(msg))}, msg...)
		got, err := parseHealthResponse(frame)
		if err != nil || got != uint64(st) {
			t.Errorf("status %v: got %d, %v; want %d", st, got, err, st)
		}
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
		{name: "fixed fields skipped", in: []byte{0, 0, 0, 0, 16, 0x19, 1, 2, 3, 4, 5, 6, 7, 8, 0x25, 1, 2, 3, 4, 0x08, 1}, want: 1},
		{name: "bytes field too long", in: []byte{0, 0, 0, 0, 3, 0x12, 9, 'x'}, wantErr: true},
		{name: "group wire type", in: []byte{0, 0, 0, 0, 1, 0x0b}, wantErr: true},
		{name: "field number zero", in: []byte{0, 0, 0, 0, 2, 0x00, 1}, wantErr: true},
	}
	for _, tt := range tests {
		got, err := parseHealthResponse(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("%s: got %d, %v; want %d, error %v", tt.name, got, err, tt.want, tt.wantErr)
		}
	}
}

// FuzzParseHealthResponse checks that no server answer makes the decoder
// panic or read out of bounds.
func FuzzParseHealthResponse(f *testing.F) {
	for _, b := range [][]byte{
		{0, 0, 0, 0, 2, 0x08, 1}, {0, 0, 0, 0, 0}, {0, 0, 0, 0, 3, 0x12, 9, 'x'},
		{0, 0, 0, 0, 1, 0x0b}, {0, 0, 0, 0, 5, 0x12, 1, 'x', 0x08, 2}, {1}, nil,
	} {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		parseHealthResponse(b)
	})
}

// TestGRPCOverUnixSocket: the native gRPC probe cannot reach a server
// that listens only on a unix socket; probe --unix-socket can.
func TestGRPCOverUnixSocket(t *testing.T) {
	t.Parallel()
	sock := filepath.Join(testpeer.TempDir(t), "grpc.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	hs := health.NewServer()
	hs.SetServingStatus("orders", healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(srv, hs)
	go srv.Serve(ln)
	t.Cleanup(srv.Stop)
	err, _ = runCheck(t, "grpc://localhost:1/orders", Options{UnixSocket: sock}, 5*time.Second)
	wantKind(t, err, 0)
	err, _ = runCheck(t, "grpc://localhost:1/nope", Options{UnixSocket: sock}, 5*time.Second)
	wantKind(t, err, Unhealthy)
}

// TestGRPCUserAgent: --header User-Agent is sent, not overwritten (issue
// 10, defect 7); without it, kubelet's product token is.
func TestGRPCUserAgent(t *testing.T) {
	t.Parallel()
	p := testpeer.StartGRPC(t, nil)
	for _, tt := range []struct {
		header map[string][]string
		want   string
	}{
		{nil, userAgent},
		{map[string][]string{"User-Agent": {"mine/1"}}, "mine/1"},
	} {
		err, _ := runCheck(t, "grpc://"+p.Addr+"/orders", Options{Header: tt.header}, 5*time.Second)
		wantKind(t, err, 0)
		md := <-p.Seen
		if got := md.Get("user-agent"); len(got) != 1 || got[0] != tt.want {
			t.Errorf("user-agent: got %q, want [%q]", got, tt.want)
		}
	}
}
