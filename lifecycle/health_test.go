package lifecycle_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/podlife/podlife/lifecycle"
)

// probe serves one request to h and returns status and body.
func probe(h http.Handler, method, target, remote string) (int, string) {
	req := httptest.NewRequest(method, target, nil)
	if remote != "" {
		req.RemoteAddr = remote
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

func TestHealthThroughThePhases(t *testing.T) {
	t.Parallel()
	l := newLifecycle(t, lifecycle.Config{Signals: make(chan os.Signal)})
	release := make(chan struct{})
	l.AddStartupTask("warm-cache", func(ctx context.Context) error {
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	var dbDown atomic.Bool
	l.AddReadinessCheck("db", func(context.Context) error {
		if dbDown.Load() {
			return errors.New("connection refused")
		}
		return nil
	})
	h := l.Handler()
	cancel, r := start(t, l)

	type want struct {
		path   string
		status int
		body   string // substring
	}
	check := func(stage string, wants ...want) {
		t.Helper()
		for _, w := range wants {
			status, body := probe(h, http.MethodGet, w.path, "")
			if status != w.status || !strings.Contains(body, w.body) {
				t.Errorf("%s: GET %s: got %d %q, want %d containing %q", stage, w.path, status, body, w.status, w.body)
			}
		}
	}

	eventually(t, "phase starting", func() bool { return l.PhaseName() == "starting" })
	check("starting",
		want{"/livez", 200, "ok"},
		want{"/startupz", 503, "[-]task:warm-cache failed: reason withheld\nstartupz check failed\n"},
		want{"/startupz?verbose", 503, "[-]task:warm-cache failed: not finished"},
		want{"/readyz", 503, "[-]startup failed: reason withheld"},
		want{"/drainz", 200, `{"draining":false,"inflight":0}`},
	)

	close(release)
	isClosed(t, "serving", l.Serving())
	check("serving",
		want{"/livez", 200, "ok"},
		want{"/startupz", 200, "ok"},
		want{"/startupz?verbose", 200, "[+]ping ok\n[+]task:warm-cache ok\nstartupz check passed\n"},
		want{"/readyz", 200, "ok"},
		want{"/readyz?verbose", 200, "[+]ping ok\n[+]startup ok\n[+]shutdown ok\n[+]db ok\nreadyz check passed\n"},
	)

	dbDown.Store(true)
	check("db down",
		want{"/readyz", 503, "[-]db failed: reason withheld"},
		want{"/readyz?verbose", 503, "[-]db failed: connection refused"},
		want{"/livez", 200, "ok"},
	)
	dbDown.Store(false)

	l.Drain()
	check("draining",
		want{"/readyz?verbose", 503, "[-]shutdown failed: draining"},
		want{"/livez", 200, "ok"},
		want{"/startupz", 200, "ok"},
		want{"/drainz", 200, `{"draining":true,"inflight":0}`},
	)
	if got := l.PhaseName(); got != "draining" {
		t.Errorf("got phase %v after Drain, want draining", got)
	}
	if r.returned() {
		t.Error("Run returned after Drain, want it to keep serving until a signal")
	}
	cancel()
	if err := r.wait(t); err != nil {
		t.Errorf("Run: %v", err)
	}
	if got := l.PhaseName(); got != "stopped" {
		t.Errorf("got phase %v after Run, want stopped", got)
	}
}

func TestDrainz(t *testing.T) {
	t.Parallel()
	tests := []struct {
		method, remote string
		wantStatus     int
		wantDraining   bool
	}{
		{http.MethodGet, "10.1.2.3:4000", 200, false},
		{http.MethodHead, "10.1.2.3:4000", 200, false},
		{http.MethodPost, "10.1.2.3:4000", 403, false},
		{http.MethodPost, "[2001:db8::1]:80", 403, false},
		{http.MethodPut, "127.0.0.1:4000", 405, false},
		{http.MethodPost, "127.0.0.1:4000", 202, true},
		{http.MethodPost, "[::1]:4000", 202, true},
		{http.MethodPost, "@", 202, true}, // unix socket peer
	}
	for _, tt := range tests {
		t.Run(tt.method+" from "+tt.remote, func(t *testing.T) {
			t.Parallel()
			l := newLifecycle(t, lifecycle.Config{})
			status, body := probe(l.Handler(), tt.method, "/drainz", tt.remote)
			if status != tt.wantStatus {
				t.Errorf("got status %d, want %d (%q)", status, tt.wantStatus, body)
			}
			if draining(l) != tt.wantDraining {
				t.Errorf("got draining %v, want %v", draining(l), tt.wantDraining)
			}
			if tt.wantStatus == 202 && body != "{\"draining\":true,\"inflight\":0}\n" {
				t.Errorf("got body %q, want the drain state", body)
			}
		})
	}
}

func TestWatchdogFailsLiveness(t *testing.T) {
	t.Parallel()
	l := newLifecycle(t, lifecycle.Config{})
	fresh := l.Watchdog("worker", time.Hour)
	stale := l.Watchdog("stuck", 20*time.Millisecond)
	fresh.Beat()
	h := l.Handler()

	eventually(t, "stale watchdog fails /livez", func() bool {
		status, _ := probe(h, http.MethodGet, "/livez", "")
		return status == 503
	})
	status, body := probe(h, http.MethodGet, "/livez?verbose", "")
	if status != 503 || !strings.Contains(body, "[+]watchdog:worker ok\n") ||
		!strings.Contains(body, "[-]watchdog:stuck failed: last beat") {
		t.Errorf("got %d %q, want 503 listing worker ok and stuck failed", status, body)
	}
	stale.Beat()
	// The beat may already be stale again on a slow machine: only check the
	// state that cannot race, after draining.
	l.Drain()
	if status, body := probe(h, http.MethodGet, "/livez", ""); status != 200 {
		t.Errorf("while draining: got %d %q, want 200: liveness stays green during shutdown", status, body)
	}
}

func TestWatchdogDuplicateNamePanics(t *testing.T) {
	t.Parallel()
	l := newLifecycle(t, lifecycle.Config{})
	l.Watchdog("w", time.Second)
	defer func() {
		if recover() == nil {
			t.Error("got no panic for a duplicate watchdog name, want one")
		}
	}()
	l.Watchdog("w", time.Second)
}

func TestMiddleware(t *testing.T) {
	t.Parallel()
	l := newLifecycle(t, lifecycle.Config{})
	entered := make(chan struct{})
	release := make(chan struct{})
	h := l.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-release
	}))
	done := make(chan *httptest.ResponseRecorder)
	serve := func() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
		done <- rec
	}
	go serve()
	go serve()
	<-entered
	<-entered
	if got := l.InFlight(); got != 2 {
		t.Errorf("got %d in flight, want 2", got)
	}
	_, body := probe(l.Handler(), "GET", "/drainz", "")
	if body != "{\"draining\":false,\"inflight\":2}\n" {
		t.Errorf("got /drainz %q, want inflight 2", body)
	}
	release <- struct{}{}
	if rec := <-done; rec.Header().Get("Connection") != "" {
		t.Errorf("got Connection %q before draining, want none", rec.Header().Get("Connection"))
	}
	l.Drain()
	release <- struct{}{}
	<-done
	if got := l.InFlight(); got != 0 {
		t.Errorf("got %d in flight, want 0", got)
	}

	// A request that starts while draining is told to close.
	go serve()
	<-entered
	release <- struct{}{}
	if rec := <-done; rec.Header().Get("Connection") != "close" {
		t.Errorf("got Connection %q while draining, want close", rec.Header().Get("Connection"))
	}
}
