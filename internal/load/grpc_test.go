package load

import (
	"context"
	"crypto/tls"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/podlife/podlife/internal/check"
	"github.com/podlife/podlife/internal/load/loadtest"
	"github.com/podlife/podlife/internal/testpeer"
)

func grpcTarget(addr, method string) GRPCTarget {
	return GRPCTarget{Raw: "grpc://" + addr + "/" + method, Addr: addr, Method: method}
}

// prepare builds and resolves a GRPC load; it fails the test on error.
func prepare(t *testing.T, c GRPCConfig) *GRPC {
	t.Helper()
	g, err := NewGRPC(c)
	if err != nil {
		t.Fatalf("NewGRPC: %v", err)
	}
	t.Cleanup(g.Close)
	if err := g.Resolve(context.Background()); err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	return g
}

func TestGRPCExactCount(t *testing.T) {
	t.Parallel()
	pki := testpeer.NewPKI(t)
	tlsConf, err := check.TLSOptions{CAFile: pki.CAFile}.Config("")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		reflection bool
		protoset   bool
		tls        bool
	}{
		{"reflection", true, false, false},
		{"protoset without reflection", false, true, false},
		{"grpcs with reflection", true, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var cert *tls.Certificate
			if tt.tls {
				cert = &pki.Server
			}
			p := loadtest.NewGRPCPeer(t, tt.reflection, cert)
			c := GRPCConfig{Targets: []GRPCTarget{grpcTarget(p.Addr, loadtest.HealthCheck)}, Data: []byte(`{"service":"app"}`)}
			if tt.protoset {
				c.Protosets = []string{loadtest.Protoset(t)}
			}
			if tt.tls {
				c.TLS = tlsConf
			}
			s := prepare(t, c).Run(context.Background(), Plan{Requests: 200, Concurrency: 8})
			if got := p.Calls(); got != 200 {
				t.Errorf("got %d calls at the server, want exactly 200", got)
			}
			if s.Requests != 200 || s.Codes["OK"] != 200 || s.Successes != 200 {
				t.Errorf("got %d requests, codes %v, errors %v; want 200 OK", s.Requests, s.Codes, s.Errors)
			}
		})
	}
}

// TestGRPCStatuses checks that gRPC status codes are counted by name:
// the health service answers NotFound for an unknown service.
func TestGRPCStatuses(t *testing.T) {
	t.Parallel()
	p := loadtest.NewGRPCPeer(t, true, nil)
	g := prepare(t, GRPCConfig{Targets: []GRPCTarget{grpcTarget(p.Addr, loadtest.HealthCheck)}, Data: []byte(`{"service":"nope"}`)})
	s := g.Run(context.Background(), Plan{Requests: 10, Concurrency: 2})
	if s.Codes["NotFound"] != 10 || s.Successes != 0 {
		t.Errorf("got codes %v and %d successes, want 10 NotFound", s.Codes, s.Successes)
	}
}

func TestGRPCUnreachable(t *testing.T) {
	t.Parallel()
	addr := testpeer.ClosedPort(t)
	g, err := NewGRPC(GRPCConfig{Targets: []GRPCTarget{grpcTarget(addr, loadtest.HealthCheck)}})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	err = g.Resolve(context.Background())
	var ce *check.ConfigError
	if err == nil || errors.As(err, &ce) {
		t.Fatalf("Resolve on a closed port: got %v, want a runtime error, not a config error", err)
	}

	g = prepare(t, GRPCConfig{Targets: []GRPCTarget{grpcTarget(addr, loadtest.HealthCheck)}, Protosets: []string{loadtest.Protoset(t)}})
	s := g.Run(context.Background(), Plan{Requests: 5, Concurrency: 1})
	if s.Requests != 5 || s.Successes != 0 || len(s.Errors) == 0 {
		t.Errorf("got %d requests, %d successes, errors %v; want 5 failed with a connection error", s.Requests, s.Successes, s.Errors)
	}
}

// TestGRPCResolveBlackhole resolves a method on a server that accepts
// connections and never answers: each lookup is bounded by
// RequestTimeout, even when the context has no deadline. (Unbounded, it
// would last until grpc-go gives up connecting, after 20 s, or until the
// whole run's --timeout.)
func TestGRPCResolveBlackhole(t *testing.T) {
	t.Parallel()
	addr := testpeer.Blackhole(t)
	g, err := NewGRPC(GRPCConfig{Targets: []GRPCTarget{grpcTarget(addr, loadtest.HealthCheck)}, RequestTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	done := make(chan error, 1)
	go func() { done <- g.Resolve(context.Background()) }()
	select {
	case err = <-done:
	case <-time.After(15 * time.Second):
		t.Fatal("Resolve still running after 15s with a 300ms RequestTimeout")
	}
	var ce *check.ConfigError
	if err == nil || errors.As(err, &ce) {
		t.Errorf("Resolve on a blackhole: got %v, want a runtime error, not a config error", err)
	}
}

// TestGRPCConfigErrors checks the mistakes that must end in exit 2: a
// method or service the server does not have, a server without
// reflection and no protoset, a protoset that does not parse, data that
// does not fit the request type.
func TestGRPCConfigErrors(t *testing.T) {
	t.Parallel()
	withRefl := loadtest.NewGRPCPeer(t, true, nil)
	noRefl := loadtest.NewGRPCPeer(t, false, nil)
	protoset := loadtest.Protoset(t)
	garbage := filepath.Join(t.TempDir(), "garbage.protoset")
	os.WriteFile(garbage, []byte("this is not a FileDescriptorSet"), 0o600)
	tests := []struct {
		name     string
		c        GRPCConfig
		wantFlag string
		wantMsg  string
	}{
		{"missing method, reflection", GRPCConfig{Targets: []GRPCTarget{grpcTarget(withRefl.Addr, "grpc.health.v1.Health/Nope")}}, "", `no method "Nope"; it has Check, List, Watch`},
		{"missing service, reflection", GRPCConfig{Targets: []GRPCTarget{grpcTarget(withRefl.Addr, "app.v1.Greeter/Hello")}}, "", `no service "app.v1.Greeter"`},
		{"missing method, protoset", GRPCConfig{Targets: []GRPCTarget{grpcTarget(noRefl.Addr, "grpc.health.v1.Health/Nope")}, Protosets: []string{protoset}}, "", `no method "Nope"`},
		{"no reflection", GRPCConfig{Targets: []GRPCTarget{grpcTarget(noRefl.Addr, loadtest.HealthCheck)}}, "", "does not support reflection; give its descriptors with --protoset"},
		{"garbage protoset", GRPCConfig{Targets: []GRPCTarget{grpcTarget(noRefl.Addr, loadtest.HealthCheck)}, Protosets: []string{garbage}}, "protoset", "could not parse"},
		{"missing protoset", GRPCConfig{Targets: []GRPCTarget{grpcTarget(noRefl.Addr, loadtest.HealthCheck)}, Protosets: []string{garbage + ".nope"}}, "protoset", "could not load"},
		{"bad data", GRPCConfig{Targets: []GRPCTarget{grpcTarget(withRefl.Addr, loadtest.HealthCheck)}, Data: []byte(`{"nope":1}`)}, "data", "not a grpc.health.v1.HealthCheckRequest"},
		{"bad data, protoset", GRPCConfig{Targets: []GRPCTarget{grpcTarget(noRefl.Addr, loadtest.HealthCheck)}, Protosets: []string{protoset}, Data: []byte(`{"service":3}`)}, "data", "not a grpc.health.v1.HealthCheckRequest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			g, err := NewGRPC(tt.c)
			if err == nil {
				defer g.Close()
				err = g.Resolve(context.Background())
			}
			var ce *check.ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("got %v, want a *check.ConfigError", err)
			}
			if ce.Flag != tt.wantFlag || !strings.Contains(ce.Error(), tt.wantMsg) {
				t.Errorf("got flag %q, %q; want flag %q and %q", ce.Flag, ce.Error(), tt.wantFlag, tt.wantMsg)
			}
		})
	}
}
