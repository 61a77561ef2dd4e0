package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

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
		},
		Setup: func(env *testscript.Env) error {
			// Proxy variables that would be harmful if honored.
			env.Setenv("HTTP_PROXY", "http://127.0.0.1:1")
			env.Setenv("HTTPS_PROXY", "http://127.0.0.1:1")
			return nil
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
	case "blackhole":
		addr = testpeer.Blackhole(t)
	case "closed":
		addr = testpeer.ClosedPort(t)
	default:
		ts.Fatalf("serve: unknown kind %q", args[0])
	}
	ts.Setenv(args[1], addr)
}
