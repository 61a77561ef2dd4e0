package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/podlife/podlife/internal/cli"
	"github.com/podlife/podlife/internal/testpeer"
	"github.com/podlife/podlife/lifecycle"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"prestop": main,
	})
}

// TestScripts runs prestop as kubelet would, against a real service built
// on the lifecycle package.
func TestScripts(t *testing.T) {
	t.Parallel()
	var apps appRegistry
	testscript.Run(t, testscript.Params{
		Dir: "testdata",
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"serve-app":  apps.serve,
			"exits":      testpeer.Exits,
			"inflight":   apps.inflight,
			"app-state":  apps.state,
			"serve-busy": serveBusy,
		},
	})
}

func TestEveryFlagIsAnEnvVar(t *testing.T) {
	t.Parallel()
	var o options
	if bad := cli.EnvMismatch(o.flagSet(), &o, "PRESTOP_"); len(bad) > 0 {
		t.Errorf("flags and environment variables differ: %v", bad)
	}
}

// apps holds the services a script started, by variable name.
type app struct {
	lc   *lifecycle.Lifecycle
	addr string
	wg   sync.WaitGroup
}

// appRegistry holds the services the scripts started, by address.
type appRegistry struct{ m sync.Map }

func (r *appRegistry) get(ts *testscript.TestScript, addr string) *app {
	v, ok := r.m.Load(addr)
	if !ok {
		ts.Fatalf("no app at %s", addr)
	}
	return v.(*app)
}

// serve starts a service on lifecycle: /work?ms=N answers after N
// milliseconds and counts as in flight; /drainz, /readyz as lifecycle
// serves them. VAR gets host:port.
func (r *appRegistry) serve(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: serve-app VAR")
	}
	lc, err := lifecycle.New(lifecycle.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ts.Check(err)
	mux := http.NewServeMux()
	mux.Handle("/work", lc.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ms, _ := strconv.Atoi(r.URL.Query().Get("ms"))
		select {
		case <-time.After(time.Duration(ms) * time.Millisecond):
		case <-r.Context().Done():
		}
		io.WriteString(w, "done")
	})))
	mux.Handle("/", lc.Handler())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	ts.Check(err)
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	a := &app{lc: lc, addr: ln.Addr().String()}
	r.m.Store(a.addr, a)
	ts.Defer(func() {
		srv.Close()
		a.wg.Wait()
		r.m.Delete(a.addr)
	})
	ts.Setenv(args[0], a.addr)
}

// inflight starts N requests to /work?ms=MS in the background and waits
// until the service counts them: inflight ADDR N MS.
func (r *appRegistry) inflight(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: inflight ADDR N MS")
	}
	a := r.get(ts, args[0])
	n, _ := strconv.Atoi(args[1])
	before := a.lc.InFlight()
	for i := 0; i < n; i++ {
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+a.addr+"/work?ms="+args[2], nil)
			if resp, err := http.DefaultClient.Do(req); err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
	}
	for deadline := time.Now().Add(10 * time.Second); a.lc.InFlight() < before+int64(n); {
		if time.Now().After(deadline) {
			ts.Fatalf("requests never arrived: %d in flight", a.lc.InFlight())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// state prints "draining=BOOL inflight=N" for the app at ADDR.
func (r *appRegistry) state(ts *testscript.TestScript, neg bool, args []string) {
	a := r.get(ts, args[0])
	draining := false
	select {
	case <-a.lc.Draining():
		draining = true
	default:
	}
	fmt.Fprintf(ts.Stdout(), "draining=%v inflight=%d\n", draining, a.lc.InFlight())
}

// TestInterrupted checks that SIGTERM or SIGINT (a cancelled context) ends
// the sleep at once.
func TestInterrupted(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	var out strings.Builder
	start := time.Now()
	err := run(ctx, []string{"--sleep", "1h"}, &out, io.Discard)
	if err == nil || time.Since(start) > time.Minute {
		t.Fatalf("got %v after %v, want an interruption", err, time.Since(start))
	}
	if !strings.Contains(out.String(), "prestop: interrupted after") {
		t.Errorf("got output %q, want it to say it was interrupted", out.String())
	}
}

// serveBusy starts a /drainz that answers "inflight":1 once and then
// holds every later request until the client gives up: an app that was
// answering when prestop's --max ran out in the middle of a poll.
// VAR gets host:port.
func serveBusy(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: serve-busy VAR")
	}
	var mu sync.Mutex
	answered := false
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		first := !answered
		answered = true
		mu.Unlock()
		if !first {
			select {
			case <-r.Context().Done():
			case <-time.After(30 * time.Second):
			}
			return
		}
		io.WriteString(w, `{"draining":true,"inflight":1}`)
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	ts.Check(err)
	go srv.Serve(ln)
	ts.Defer(func() { srv.Close() })
	ts.Setenv(args[0], ln.Addr().String())
}
