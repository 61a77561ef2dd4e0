package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/podlife/podlife/internal/cli"
	"github.com/podlife/podlife/internal/load/loadtest"
	"github.com/podlife/podlife/internal/testpeer"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"warmup": func() { os.Exit(cli.Main("warmup", run)) },
	})
}

// TestScripts runs the scripts in testdata against the warmup binary.
// Besides testscript's own commands they have:
//
//	httpserver NAME [STATUS|hang]  start a counting HTTP server on 127.0.0.1; $NAME is its URL, $NAME_ADDR its host:port
//	requests NAME N                the server NAME got exactly N requests
//	inflight NAME                  wait (≤ 10 s) until a request reaches the hanging server NAME
//	closedport NAME                $NAME is a 127.0.0.1:port nothing listens on
//	grpcserver NAME [noreflection] start a grpc-go health server; $NAME is its host:port
//	envsubst FILE                  expand $VARS in FILE, in place
//	protoset NAME                  write the health service's descriptors; $NAME is the file
func TestScripts(t *testing.T) {
	t.Parallel()
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata",
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			// The scripts must not inherit a WARMUP_ setting.
			for _, kv := range os.Environ() {
				if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "WARMUP_") {
					env.Setenv(k, "")
				}
			}
			env.Values["servers"] = map[string]*loadtest.Counter{}
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exits":      testpeer.Exits,
			"httpserver": cmdHTTPServer,
			"requests":   cmdRequests,
			"inflight":   cmdInFlight,
			"closedport": func(ts *testscript.TestScript, neg bool, args []string) {
				ts.Setenv(args[0], testpeer.ClosedPort(scriptTB{ts}))
			},
			"grpcserver": func(ts *testscript.TestScript, neg bool, args []string) {
				p := loadtest.NewGRPCPeer(scriptTB{ts}, len(args) < 2 || args[1] != "noreflection", nil)
				ts.Setenv(args[0], p.Addr)
			},
			"envsubst": func(ts *testscript.TestScript, neg bool, args []string) {
				b, err := os.ReadFile(ts.MkAbs(args[0]))
				ts.Check(err)
				ts.Check(os.WriteFile(ts.MkAbs(args[0]), []byte(os.Expand(string(b), ts.Getenv)), 0o600))
			},
			"protoset": func(ts *testscript.TestScript, neg bool, args []string) {
				ts.Setenv(args[0], loadtest.Protoset(scriptTB{ts}))
			},
		},
	})
}

func servers(ts *testscript.TestScript) map[string]*loadtest.Counter {
	return ts.Value("servers").(map[string]*loadtest.Counter)
}

func cmdHTTPServer(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 1 {
		ts.Fatalf("usage: httpserver NAME [STATUS|hang]")
	}
	c := &loadtest.Counter{}
	if len(args) > 1 {
		switch args[1] {
		case "hang":
			c.Block = make(chan struct{})
			c.InFlight = make(chan struct{}, 1)
		default:
			code, err := strconv.Atoi(args[1])
			ts.Check(err)
			c.Status = func(int64) int { return code }
		}
	}
	srv := loadtest.Server(scriptTB{ts}, c)
	if c.Block != nil {
		ts.Defer(func() { close(c.Block) }) // before the server's Close
	}
	servers(ts)[args[0]] = c
	ts.Setenv(args[0], srv.URL)
	ts.Setenv(args[0]+"_ADDR", srv.Listener.Addr().String())
}

func cmdRequests(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: requests NAME N")
	}
	want, err := strconv.ParseInt(args[1], 10, 64)
	ts.Check(err)
	if got := servers(ts)[args[0]].N(); (got == want) == neg {
		ts.Fatalf("server %s: got %d requests, want %d", args[0], got, want)
	}
}

func cmdInFlight(ts *testscript.TestScript, neg bool, args []string) {
	c := servers(ts)[args[0]]
	select {
	case <-c.InFlight:
	case <-time.After(10 * time.Second):
		ts.Fatalf("server %s: no request in flight after 10s", args[0])
	}
}

// scriptTB lets testscript commands start peers: cleanups run at the end
// of the script.
type scriptTB struct{ ts *testscript.TestScript }

func (scriptTB) Helper()             {}
func (s scriptTB) Fatal(args ...any) { s.ts.Fatalf("%s", fmt.Sprint(args...)) }
func (s scriptTB) Cleanup(f func())  { s.ts.Defer(f) }
