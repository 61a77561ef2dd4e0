package lifecycle_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/podlife/podlife/lifecycle"
)

func Example() {
	// In a real main: cfg, err := lifecycle.ConfigFromEnv(nil), and no
	// Signals field, so that SIGTERM and SIGINT are caught.
	cfg, err := lifecycle.ConfigFromEnv([]string{"LIFECYCLE_SHUTDOWN_DELAY=10ms"})
	if err != nil {
		fmt.Println(err)
		return
	}
	sigs := make(chan os.Signal, 1)
	cfg.Signals = sigs
	cfg.Logger = slog.New(slog.DiscardHandler)
	cfg.Registry = prometheus.NewRegistry()
	l, err := lifecycle.New(cfg)
	if err != nil {
		fmt.Println(err)
		return
	}

	mux := http.NewServeMux()
	mux.Handle("/", l.Handler()) // /livez /readyz /startupz /drainz, not counted in flight
	mux.Handle("/hello", l.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello\n")
	})))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	l.AddHTTPServer(&http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}, ln)
	l.AddStartupTask("warm-cache", func(ctx context.Context) error { return nil })
	// A background loop for the life of the service, proving its progress
	// to /livez; stopped after the servers have drained.
	hb := l.Watchdog("janitor", time.Minute)
	l.AddWorker("janitor", func(ctx context.Context) error {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			hb.Beat()
			select {
			case <-ctx.Done():
				fmt.Println("janitor stopped")
				return nil
			case <-t.C:
			}
		}
	})
	// Runs when draining begins, during the shutdown delay: the servers
	// drain and the workers stop only after it has returned.
	l.AddPreShutdownHook("deregister", func(ctx context.Context) error { fmt.Println("deregistered"); return nil })
	l.AddCleanup("database", func(ctx context.Context) error { fmt.Println("close database"); return nil })
	l.AddCleanup("tracer", func(ctx context.Context) error { fmt.Println("flush tracer"); return nil })

	done := make(chan error)
	go func() { done <- l.Run(context.Background()) }()

	<-l.Serving() // every startup task has returned nil
	base := "http://" + ln.Addr().String()
	for _, path := range []string{"/hello", "/readyz"} {
		resp, err := http.Get(base + path)
		if err != nil {
			fmt.Println(err)
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Printf("%s %d %s\n", path, resp.StatusCode, body)
	}

	sigs <- syscall.SIGTERM     // what kubelet sends
	fmt.Println("run:", <-done) // workers stop, then cleanup runs last registered first
	// Output:
	// /hello 200 hello
	//
	// /readyz 200 ok
	// deregistered
	// janitor stopped
	// flush tracer
	// close database
	// run: <nil>
}
