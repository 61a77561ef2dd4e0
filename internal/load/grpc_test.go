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

// grpcURL returns the target of method at addr, grpc:// or grpcs://.
func grpcURL(scheme, addr, method string) []string {
	return []string{scheme + "://" + addr + "/" + method}
}

// health is the target of the health service's Check at addr.
func health(addr string) []string { return grpcURL("grpc", addr, loadtest.HealthCheck) }

func TestGRPCExactCount(t *testing.T) {
	t.Parallel()
	pki := testpeer.NewPKI(t)
	tests := []struct {
		name       string
		reflection bool
		protoset   bool
		scheme     string
	}{
		{"reflection", true, false, "grpc"},
		{"protoset without reflection", false, true, "grpc"},
		{"grpcs with reflection", true, false, "grpcs"},
		{"GRPCS, the scheme in capitals", true, false, "GRPCS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var cert *tls.Certificate
			if strings.EqualFold(tt.scheme, "grpcs") {
				cert = &pki.Server
			}
			p := loadtest.NewGRPCPeer(t, tt.reflection, cert)
			o := Options{Targets: grpcURL(tt.scheme, p.Addr, loadtest.HealthCheck), Data: []byte(`{"service":"app"}`)}
			if tt.protoset {
				o.Protosets = []string{loadtest.Protoset(t)}
			}
			if cert != nil {
				o.TLS = check.TLSOptions{CAFile: pki.CAFile}
			}
			s := run(t, o, Plan{Requests: 200, Concurrency: 8})
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
	s := run(t, Options{Targets: health(p.Addr), Data: []byte(`{"service":"nope"}`)}, Plan{Requests: 10, Concurrency: 2})
	if s.Codes["NotFound"] != 10 || s.Successes != 0 {
		t.Errorf("got codes %v and %d successes, want 10 NotFound", s.Codes, s.Successes)
	}
}

func TestGRPCUnreachable(t *testing.T) {
	t.Parallel()
	addr := testpeer.ClosedPort(t)
	l, err := New(Options{Targets: health(addr)})
	if err != nil {
		t.Fatal(err)
	}
	s, err := l.Run(context.Background(), Plan{Requests: 5})
	var ce *check.ConfigError
	if err == nil || errors.As(err, &ce) || s.Requests != 0 {
		t.Fatalf("Run on a closed port: got %v after %d requests, want a runtime error, not a config error, before any request", err, s.Requests)
	}

	// With a protoset, nothing is looked up: the calls fail.
	s = run(t, Options{Targets: health(addr), Protosets: []string{loadtest.Protoset(t)}}, Plan{Requests: 5, Concurrency: 1})
	if s.Requests != 5 || s.Successes != 0 || len(s.Errors) == 0 {
		t.Errorf("got %d requests, %d successes, errors %v; want 5 failed with a connection error", s.Requests, s.Successes, s.Errors)
	}
}

// TestGRPCResolveBlackhole runs a load, which first looks the method up, a method on a server that accepts
// connections and never answers: each lookup is bounded by
// RequestTimeout, even when the context has no deadline. (Unbounded, it
// would last until grpc-go gives up connecting, after 20 s, or until the
// whole run's --timeout.)
func TestGRPCResolveBlackhole(t *testing.T) {
	t.Parallel()
	addr := testpeer.Blackhole(t)
	l, err := New(Options{Targets: health(addr), RequestTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := l.Run(context.Background(), Plan{Requests: 1})
		done <- err
	}()
	select {
	case err = <-done:
	case <-time.After(15 * time.Second):
		t.Fatal("Run still looking the method up after 15s with a 300ms RequestTimeout")
	}
	var ce *check.ConfigError
	if err == nil || errors.As(err, &ce) {
		t.Errorf("Run on a blackhole: got %v, want a runtime error, not a config error", err)
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
		o        Options
		wantFlag string
		wantMsg  string
	}{
		{"missing method, reflection", Options{Targets: grpcURL("grpc", withRefl.Addr, "grpc.health.v1.Health/Nope")}, "", `no method "Nope"; it has Check, List, Watch`},
		{"missing service, reflection", Options{Targets: grpcURL("grpc", withRefl.Addr, "app.v1.Greeter/Hello")}, "", `no service "app.v1.Greeter"`},
		{"missing method, protoset", Options{Targets: grpcURL("grpc", noRefl.Addr, "grpc.health.v1.Health/Nope"), Protosets: []string{protoset}}, "", `no method "Nope"`},
		{"no reflection", Options{Targets: health(noRefl.Addr)}, "", "does not support reflection; give its descriptors with --protoset"},
		{"garbage protoset", Options{Targets: health(noRefl.Addr), Protosets: []string{garbage}}, "protoset", "could not parse"},
		{"missing protoset", Options{Targets: health(noRefl.Addr), Protosets: []string{garbage + ".nope"}}, "protoset", "could not load"},
		{"bad data", Options{Targets: health(withRefl.Addr), Data: []byte(`{"nope":1}`)}, "data", "not a grpc.health.v1.HealthCheckRequest"},
		{"bad data, protoset", Options{Targets: health(noRefl.Addr), Protosets: []string{protoset}, Data: []byte(`{"service":3}`)}, "data", "not a grpc.health.v1.HealthCheckRequest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l, err := New(tt.o)
			if err == nil {
				var s Summary
				s, err = l.Run(context.Background(), Plan{Requests: 1})
				if s.Requests != 0 {
					t.Errorf("got %d requests sent, want none", s.Requests)
				}
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
