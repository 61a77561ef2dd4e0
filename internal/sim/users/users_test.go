package users_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/podlife/podlife/internal/sim/users"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// server is a loopback HTTP server that counts the connections it accepts.
type server struct {
	*httptest.Server
	conns atomic.Int64
}

func newServer(t *testing.T, h http.HandlerFunc) *server {
	s := &server{Server: httptest.NewUnstartedServer(h)}
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.conns.Add(1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

func hello(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("hello\n")) }

// finish waits for the load to end by itself, as it must within its bounds.
func finish(t *testing.T, l *users.Traffic) users.Result {
	t.Helper()
	select {
	case <-l.Done():
	case <-time.After(30 * time.Second):
		l.Stop()
		t.Fatal("the load did not end at MaxRequests")
	}
	return l.Stop()
}

// TestServed runs bounded loads against a server that answers every
// request: all are served, keep-alive clients hold one connection each,
// new-connection clients open one per request.
func TestServed(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name              string
		clients, newConns int
		max               int64
		wantConns         int64 // -1: not exactly known
	}{
		{"keep-alive", 3, 0, 60, 3},
		{"new connections", 0, 2, 40, 40},
		{"both", 2, 1, 60, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newServer(t, hello)
			l, err := users.Start(context.Background(), users.Config{
				URL: s.URL + "/hello", Clients: tt.clients, NewConns: tt.newConns,
				Pause: time.Millisecond, MaxRequests: tt.max,
			})
			if err != nil {
				t.Fatal(err)
			}
			r := finish(t, l)
			if r.Served != tt.max || r.Failed != 0 || len(r.Errors) != 0 {
				t.Errorf("got %v, errors %q; want %d served, 0 failed", r, r.Errors, tt.max)
			}
			if got := s.conns.Load(); tt.wantConns >= 0 && got != tt.wantConns {
				t.Errorf("got %d connections, want %d", got, tt.wantConns)
			}
			if got := s.conns.Load(); tt.wantConns < 0 && got <= int64(tt.clients) {
				t.Errorf("got %d connections, want more than the %d of the keep-alive clients", got, tt.clients)
			}
		})
	}
}

// TestFailuresCounted is the control: against a server that fails every
// request, every request is counted as failed, with the first errors'
// texts.
func TestFailuresCounted(t *testing.T) {
	t.Parallel()
	// dropping accepts each connection and closes it at once.
	dropping := func(t *testing.T) string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
		t.Cleanup(func() { ln.Close(); <-done })
		return "http://" + ln.Addr().String() + "/hello"
	}
	// refusing is an address where nothing listens any more.
	refusing := func(t *testing.T) string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ln.Close()
		return "http://" + ln.Addr().String() + "/hello"
	}
	status := func(code int) func(t *testing.T) string {
		return func(t *testing.T) string {
			return newServer(t, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(code) }).URL + "/hello"
		}
	}
	redirect := func(t *testing.T) string {
		return newServer(t, func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "http://192.0.2.1/hello", http.StatusFound)
		}).URL + "/hello"
	}
	tests := []struct {
		name    string
		url     func(t *testing.T) string
		wantErr []string // one of
	}{
		{"connections closed at once", dropping, []string{"server closed", "EOF", "reset by peer"}},
		{"connections refused", refusing, []string{"connection refused"}},
		{"503", status(http.StatusServiceUnavailable), []string{"503 Service Unavailable"}},
		{"redirect off loopback, not followed", redirect, []string{"302 Found"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			const max = 30
			l, err := users.Start(context.Background(), users.Config{
				URL: tt.url(t), Clients: 2, NewConns: 1, Pause: time.Millisecond, MaxRequests: max,
			})
			if err != nil {
				t.Fatal(err)
			}
			r := finish(t, l)
			if r.Served != 0 || r.Failed != max {
				t.Errorf("got %v, want 0 served, %d failed", r, max)
			}
			if len(r.Errors) != users.MaxErrors {
				t.Errorf("got %d error texts, want %d", len(r.Errors), users.MaxErrors)
			}
			for _, e := range r.Errors {
				if !slices.ContainsFunc(tt.wantErr, func(w string) bool { return strings.Contains(e, w) }) {
					t.Errorf("got error %q, want it to contain one of %q", e, tt.wantErr)
				}
			}
		})
	}
}

// TestStop stops a load whose requests hang: Stop returns, and the
// requests it cut short are not failures.
func TestStop(t *testing.T) {
	t.Parallel()
	var started atomic.Int64
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		started.Add(1)
		<-r.Context().Done() // until the client goes away
	})
	l, err := users.Start(context.Background(), users.Config{URL: s.URL, Clients: 2, NewConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	for started.Load() < 4 {
		time.Sleep(time.Millisecond)
	}
	if r := l.Stop(); r.Served != 0 || r.Failed != 0 {
		t.Errorf("got %v after Stop, want 0 served, 0 failed", r)
	}
	if r := l.Stop(); r.Served != 0 || r.Failed != 0 {
		t.Errorf("got %v from a second Stop, want 0 served, 0 failed", r)
	}
}

// TestBoundedInTime ends loads at MaxDuration and at the end of their
// context, with the requests under way not counted as failures.
func TestBoundedInTime(t *testing.T) {
	t.Parallel()
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			<-r.Context().Done()
			return
		}
		hello(w, r)
	})
	expired, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	tests := []struct {
		name string
		ctx  context.Context
		cfg  users.Config
	}{
		{"MaxDuration", context.Background(), users.Config{URL: s.URL, Clients: 2, MaxDuration: 100 * time.Millisecond}},
		{"context", expired, users.Config{URL: s.URL, NewConns: 2}},
		{"hanging requests", context.Background(), users.Config{URL: s.URL + "/slow", Clients: 2, MaxDuration: 100 * time.Millisecond}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := users.Start(tt.ctx, tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			select {
			case <-l.Done():
			case <-time.After(30 * time.Second):
				l.Stop()
				t.Fatal("the load did not end by itself")
			}
			if r := l.Result(); r.Failed != 0 {
				t.Errorf("got %v, want 0 failed", r)
			}
		})
	}
}

// TestConfig rejects what is not a loopback HTTP load.
func TestConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		cfg     users.Config
		wantErr string
	}{
		{users.Config{URL: "http://example.com/", Clients: 1}, "want a loopback host"},
		{users.Config{URL: "http://10.0.0.1:8080/", Clients: 1}, "want a loopback host"},
		{users.Config{URL: "http://127.0.0.1.nip.io/", Clients: 1}, "want a loopback host"},
		{users.Config{URL: "https://127.0.0.1/", Clients: 1}, "want an http:// URL"},
		{users.Config{URL: "ftp://127.0.0.1/", Clients: 1}, "want an http:// URL"},
		{users.Config{URL: "http://127.0.0.1/"}, "no client"},
		{users.Config{URL: "http://127.0.0.1/", Clients: -1, NewConns: 2}, "no negative count"},
		{users.Config{URL: "http://127.0.0.1/", Clients: 1, Pause: -time.Second}, "no negative"},
	}
	for _, tt := range tests {
		l, err := users.Start(context.Background(), tt.cfg)
		if err == nil {
			l.Stop()
			t.Errorf("Start(%+v): got no error, want %q", tt.cfg, tt.wantErr)
			continue
		}
		if !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("Start(%+v): got error %q, want %q", tt.cfg, err, tt.wantErr)
		}
	}
	// localhost and ::1 are loopback.
	for _, url := range []string{"http://localhost:1/", "http://[::1]:1/"} {
		l, err := users.Start(context.Background(), users.Config{URL: url, Clients: 1, MaxRequests: 1})
		if err != nil {
			t.Errorf("Start(%s): %v, want no error", url, err)
			continue
		}
		l.Stop()
	}
}
