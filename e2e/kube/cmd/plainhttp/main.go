// Command plainhttp is the "app with no podlife in it" of the e2e/kube
// suite's InjectRollout test: a plain net/http server on :8080 that answers
// every path with 200 "hello" (any method), and on SIGTERM calls
// http.Server.Shutdown at once — the usual Go idiom: the listener closes,
// in-flight requests finish, idle keep-alive connections close — with no
// shutdown delay and no readiness change. Built static, FROM scratch.
package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	srv := &http.Server{
		Addr: ":8080",
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			fmt.Fprintln(w, "hello")
		}),
		ReadHeaderTimeout: 10 * time.Second,
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	done := make(chan error, 1)
	go func() { done <- srv.ListenAndServe() }()
	fmt.Fprintln(os.Stderr, "plainhttp: listening on :8080")
	select {
	case err := <-done:
		fmt.Fprintf(os.Stderr, "plainhttp: %v\n", err)
		os.Exit(1)
	case s := <-sig:
		fmt.Fprintf(os.Stderr, "plainhttp: %v: shutting down\n", s)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintf(os.Stderr, "plainhttp: shutdown: %v\n", err)
		os.Exit(1)
	}
	fmt.Fprintln(os.Stderr, "plainhttp: stopped")
}
