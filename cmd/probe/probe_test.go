package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/podlife/podlife/internal/check"
	"github.com/podlife/podlife/internal/cli"
	"github.com/podlife/podlife/internal/testpeer"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"probe": main,
	})
}

// TestScripts runs the scripts in testdata: the probe binary as a user
// (or kubelet) runs it, against real peers started by the commands below.
func TestScripts(t *testing.T) {
	t.Parallel()
	testscript.Run(t, testscript.Params{
		Dir: "testdata",
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"serve": cmdServe,
			"exits": testpeer.Exits,
		},
	})
}

// TestEveryFlagIsAnEnvVar keeps flags and PROBE_ variables in step.
func TestEveryFlagIsAnEnvVar(t *testing.T) {
	t.Parallel()
	var o options
	if bad := cli.EnvMismatch(o.flagSet(), &o, "PROBE_"); len(bad) > 0 {
		t.Errorf("flags and environment variables differ: %v", bad)
	}
}

// scriptT adapts a testscript to testpeer.T.
type scriptT struct{ ts *testscript.TestScript }

func (s scriptT) Helper()            {}
func (s scriptT) Fatal(args ...any)  { s.ts.Fatalf("%s", fmt.Sprint(args...)) }
func (s scriptT) Cleanup(f func())   { s.ts.Defer(f) }
func (s scriptT) TempDir() string    { return s.ts.MkAbs(".") }
func (s scriptT) Setenv(k, v string) { s.ts.Setenv(k, v) }

// cmdServe starts a peer for the rest of the script and stores its
// address in an environment variable:
//
//	serve http VAR      HTTP: /ok 200 "ok", /fail 503, /slow never answers
//	serve https VAR     HTTPS with a test CA; writes $WORK/ca.pem
//	serve grpc VAR      grpc-go health: orders SERVING, payments NOT_SERVING
//	serve blackhole VAR accepts and never answers
//	serve closed VAR    a port nothing listens on
//	serve unix VAR      HTTP over a unix socket: VAR is the socket path
//	serve grpcs VAR     grpc-go health over TLS; writes $WORK/ca.pem
//	serve grpc-unix VAR grpc-go health on a unix socket: VAR is its path
func cmdServe(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: serve KIND VAR")
	}
	t := scriptT{ts}
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	mux.HandleFunc("/fail", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", 503) })
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(30 * time.Second):
		}
	})
	var addr string
	switch args[0] {
	case "http", "https", "unix":
		srv := &http.Server{Handler: mux}
		var ln net.Listener
		var err error
		if args[0] == "unix" {
			addr = filepath.Join(testpeer.TempDir(t), "app.sock")
			ln, err = net.Listen("unix", addr)
		} else {
			ln, err = net.Listen("tcp", "127.0.0.1:0")
			addr = ln.Addr().String()
		}
		if err != nil {
			ts.Fatalf("%v", err)
		}
		if args[0] == "https" {
			pki := testpeer.NewPKI(t)
			ca, err := os.ReadFile(pki.CAFile)
			ts.Check(err)
			ts.Check(os.WriteFile(ts.MkAbs("ca.pem"), ca, 0o600))
			srv.TLSConfig = pki.ServerTLS(false)
			go srv.ServeTLS(ln, "", "")
		} else {
			go srv.Serve(ln)
		}
		ts.Defer(func() { srv.Close() })
	case "grpc":
		addr = testpeer.StartGRPC(t, nil).Addr
	case "grpcs":
		pki := testpeer.NewPKI(t)
		ca, err := os.ReadFile(pki.CAFile)
		ts.Check(err)
		ts.Check(os.WriteFile(ts.MkAbs("ca.pem"), ca, 0o600))
		addr = testpeer.StartGRPC(t, pki.ServerTLS(false)).Addr
	case "grpc-unix":
		addr = filepath.Join(testpeer.TempDir(t), "grpc.sock")
		ln, err := net.Listen("unix", addr)
		ts.Check(err)
		srv := grpc.NewServer()
		hs := health.NewServer()
		hs.SetServingStatus("orders", healthpb.HealthCheckResponse_SERVING)
		hs.SetServingStatus("payments", healthpb.HealthCheckResponse_NOT_SERVING)
		healthpb.RegisterHealthServer(srv, hs)
		go srv.Serve(ln)
		ts.Defer(srv.Stop)
	case "blackhole":
		addr = testpeer.Blackhole(t)
	case "closed":
		addr = testpeer.ClosedPort(t)
	default:
		ts.Fatalf("serve: unknown kind %q", args[0])
	}
	ts.Setenv(args[1], addr)
}

// stuck is a check that ignores its context, as os.Stat on a hung NFS
// mount does.
type stuck struct{ release chan struct{} }

func (s stuck) Check(context.Context) error { <-s.release; return nil }
func (s stuck) Target() string              { return "file:///mnt/hung/heartbeat" }

// TestRunChecksBoundsStragglers: the whole call ends by --timeout even
// when a check ignores its context, and that check reads as a timeout.
func TestRunChecksBoundsStragglers(t *testing.T) {
	t.Parallel()
	s := stuck{release: make(chan struct{})}
	defer close(s.release)
	ok, err := check.New("file://"+os.Args[0], check.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	done := make(chan []error, 1)
	go func() { done <- runChecks(ctx, []check.Checker{ok, s}) }()
	select {
	case errs := <-done:
		if errs[0] != nil {
			t.Errorf("healthy check: got %v, want nil", errs[0])
		}
		if check.KindOf(errs[1]) != check.Unreachable || !strings.Contains(errs[1].Error(), "timeout") {
			t.Errorf("stuck check: got %v, want an unreachable timeout", errs[1])
		}
	case <-time.After(30 * time.Second):
		t.Fatal("runChecks did not return: a stuck check held the probe past its deadline")
	}
}
