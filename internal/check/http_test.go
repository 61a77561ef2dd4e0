package check

import (
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/podlife/podlife/internal/testpeer"
)

func TestHTTP(t *testing.T) {
	t.Parallel()
	var gotHost, gotMethod, gotBody, gotHeader atomic.Value
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "status: ok\n") })
	mux.HandleFunc("/fail", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "db down", http.StatusServiceUnavailable) })
	mux.HandleFunc("/nocontent", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/elsewhere", http.StatusFound) })
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		gotHost.Store(r.Host)
		gotMethod.Store(r.Method)
		gotBody.Store(string(b))
		gotHeader.Store(r.Header.Get("X-Probe"))
		io.WriteString(w, "echoed")
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	tests := []struct {
		name string
		path string
		o    Options
		want Kind
		msg  string
	}{
		{name: "2xx passes", path: "/ok", want: 0},
		{name: "503 is unhealthy", path: "/fail", want: Unhealthy, msg: "status 503, want 200-399"},
		{name: "a same-host redirect is followed", path: "/redirect", want: Unhealthy, msg: "status 404, want 200-399 (after a redirect to http://"},
		{name: "404 is unhealthy", path: "/missing", want: Unhealthy, msg: "status 404"},
		{name: "status set excludes 204", path: "/nocontent", o: Options{Status: mustStatus(t, "200")}, want: Unhealthy, msg: "want 200"},
		{name: "status set includes 503", path: "/fail", o: Options{Status: mustStatus(t, "200,500-599")}, want: 0},
		{name: "body contains", path: "/ok", o: Options{BodyContains: "ok"}, want: 0},
		{name: "body does not contain", path: "/ok", o: Options{BodyContains: "ready"}, want: Unhealthy, msg: `body does not contain "ready"`},
		{name: "body regexp", path: "/ok", o: Options{BodyRegexp: regexp.MustCompile(`^status: (ok|fine)`)}, want: 0},
		{name: "body regexp fails", path: "/ok", o: Options{BodyRegexp: regexp.MustCompile(`^ready$`)}, want: Unhealthy, msg: "does not match"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err, _ := runCheck(t, srv.URL+tt.path, tt.o, 5*time.Second)
			wantKind(t, err, tt.want)
			if tt.msg != "" && !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("got %q, want it to contain %q", err, tt.msg)
			}
		})
	}

	t.Run("method, headers, body, authority", func(t *testing.T) {
		o := Options{
			Method:    "POST",
			Header:    http.Header{"X-Probe": {"yes"}},
			Body:      []byte(`{"ping":1}`),
			Authority: "app.internal",
		}
		err, _ := runCheck(t, srv.URL+"/echo", o, 5*time.Second)
		wantKind(t, err, 0)
		for _, c := range []struct{ name, got, want string }{
			{"method", gotMethod.Load().(string), "POST"},
			{"body", gotBody.Load().(string), `{"ping":1}`},
			{"header", gotHeader.Load().(string), "yes"},
			{"host", gotHost.Load().(string), "app.internal"},
		} {
			if c.got != c.want {
				t.Errorf("%s: got %q, want %q", c.name, c.got, c.want)
			}
		}
	})
}

// quietLog discards a test server's log of the handshakes the tests make
// fail on purpose.
func quietLog() *log.Logger { return log.New(io.Discard, "", 0) }

func mustStatus(t *testing.T, spec string) StatusSet {
	t.Helper()
	s, err := ParseStatusSet(spec)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestHTTPS(t *testing.T) {
	t.Parallel()
	pki := testpeer.NewPKI(t)
	other := testpeer.NewPKI(t) // a CA that did not sign the server
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "proto=%s", r.Proto)
	})
	plain := httptest.NewUnstartedServer(handler)
	plain.TLS = pki.ServerTLS(false, "h2", "http/1.1")
	plain.Config.ErrorLog = quietLog()
	plain.StartTLS()
	t.Cleanup(plain.Close)
	mtls := httptest.NewUnstartedServer(handler)
	mtls.TLS = pki.ServerTLS(true)
	mtls.Config.ErrorLog = quietLog()
	mtls.StartTLS()
	t.Cleanup(mtls.Close)

	tests := []struct {
		name   string
		url    string
		o      Options
		want   Kind
		reason string
	}{
		{name: "right CA passes", url: plain.URL, o: Options{TLS: TLSOptions{CAFile: pki.CAFile}}},
		{name: "HTTP/2 negotiated", url: plain.URL, o: Options{TLS: TLSOptions{CAFile: pki.CAFile}, BodyContains: "proto=HTTP/2.0"}},
		{name: "server name override", url: plain.URL, o: Options{TLS: TLSOptions{CAFile: pki.CAFile, ServerName: "server.test"}}},
		{name: "wrong server name fails", url: plain.URL, o: Options{TLS: TLSOptions{CAFile: pki.CAFile, ServerName: "other.test"}}, want: Unreachable, reason: "TLS handshake"},
		{name: "wrong CA fails", url: plain.URL, o: Options{TLS: TLSOptions{CAFile: other.CAFile}}, want: Unreachable, reason: "TLS handshake"},
		{name: "system pool fails", url: plain.URL, want: Unreachable, reason: "TLS handshake"},
		{name: "insecure skips verification", url: plain.URL, o: Options{TLS: TLSOptions{InsecureSkipVerify: true}}},
		{name: "mTLS passes", url: mtls.URL, o: Options{TLS: TLSOptions{CAFile: pki.CAFile, CertFile: pki.ClientCertFile, KeyFile: pki.ClientKeyFile}}},
		{name: "mTLS without client cert fails", url: mtls.URL, o: Options{TLS: TLSOptions{CAFile: pki.CAFile}}, want: Unreachable},
		{name: "https to a plain HTTP server fails", url: "https://" + httptest.NewServer(handler).Listener.Addr().String(), o: Options{TLS: TLSOptions{InsecureSkipVerify: true}}, want: Unreachable, reason: "TLS handshake"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err, _ := runCheck(t, tt.url+"/", tt.o, 5*time.Second)
			wantKind(t, err, tt.want)
			if tt.reason != "" && !strings.Contains(err.Error(), tt.reason) {
				t.Errorf("got %q, want it to contain %q", err, tt.reason)
			}
		})
	}
}

func TestHTTPOverUnixSocket(t *testing.T) {
	t.Parallel()
	sock := filepath.Join(testpeer.TempDir(t), "app.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.NotFound(w, r)
			return
		}
		io.WriteString(w, "ok")
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	tests := []struct {
		name   string
		target string
		o      Options
		want   Kind
	}{
		{name: "unix target with http path", target: "unix://" + sock, o: Options{HTTPPath: "/healthz", BodyContains: "ok"}},
		{name: "unix target, wrong path", target: "unix://" + sock, o: Options{HTTPPath: "/nope"}, want: Unhealthy},
		{name: "http target with --unix-socket", target: "http://localhost/healthz", o: Options{UnixSocket: sock}},
		{name: "unix connect only", target: "unix://" + sock},
		{name: "missing socket", target: "unix://" + sock + ".gone", o: Options{HTTPPath: "/healthz"}, want: Unreachable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err, _ := runCheck(t, tt.target, tt.o, 5*time.Second)
			wantKind(t, err, tt.want)
		})
	}
}

// TestHTTPMisbehavingPeers checks that a check returns Unreachable within
// its deadline whatever the peer does. The bound asserted is generous (the
// machine is shared); what matters is that it returns at all.
func TestHTTPMisbehavingPeers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		addr   string
		reason string
	}{
		{name: "accepts and never answers", addr: testpeer.Blackhole(t), reason: "timeout"},
		{name: "resets the connection", addr: testpeer.Resetter(t), reason: "reset"},
		{name: "sends headers slowly", addr: testpeer.SlowHeaders(t, 50*time.Millisecond), reason: "timeout"},
		{name: "refuses", addr: testpeer.ClosedPort(t), reason: "connection refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			const timeout = 300 * time.Millisecond
			err, took := runCheck(t, "http://"+tt.addr+"/healthz", Options{}, timeout)
			wantKind(t, err, Unreachable)
			if !strings.Contains(err.Error(), tt.reason) {
				t.Errorf("got %q, want it to contain %q", err, tt.reason)
			}
			if took > timeout+5*time.Second {
				t.Errorf("took %v with a %v deadline: the deadline was not honored", took, timeout)
			}
		})
	}
}

// TestHTTPSlowBody checks that the deadline also covers reading the body.
func TestHTTPSlowBody(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000")
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	}))
	t.Cleanup(srv.Close)
	err, took := runCheck(t, srv.URL, Options{BodyContains: "ok"}, 300*time.Millisecond)
	wantKind(t, err, Unreachable)
	if took > 5*time.Second {
		t.Errorf("took %v: the body read ignored the deadline", took)
	}
}

// TestHTTPProxyIgnored runs in a child process of its own:
// http.ProxyFromEnvironment reads the proxy variables once per process, so
// a second run in one process (go test -count=2) would test nothing.
func TestHTTPProxyIgnored(t *testing.T) {
	if os.Getenv("PODLIFE_PROXY_CHILD") != "1" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHTTPProxyIgnored$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), "PODLIFE_PROXY_CHILD=1")
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "proxy checks ran") {
			t.Fatalf("child: %v\n%s", err, out)
		}
		return
	}
	var proxied atomic.Int32
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proxied.Add(1)
		w.WriteHeader(http.StatusBadGateway)
	}))
	t.Cleanup(proxy.Close)
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(app.Close)
	// Set before anything in this process reads them.
	t.Setenv("HTTP_PROXY", proxy.URL)
	t.Setenv("http_proxy", proxy.URL)
	t.Setenv("NO_PROXY", "")
	t.Setenv("no_proxy", "")
	// Loopback targets never go through the proxy, with or without
	// UseProxy.
	for _, useProxy := range []bool{false, true} {
		err, _ := runCheck(t, app.URL, Options{UseProxy: useProxy}, 5*time.Second)
		wantKind(t, err, 0)
	}
	if proxied.Load() != 0 {
		t.Errorf("got %d requests through the proxy, want 0", proxied.Load())
	}
	// Control: a non-loopback name goes through the proxy (a loopback
	// server here) only when asked; the proxy's 502 makes it unhealthy.
	err, _ := runCheck(t, "http://app.invalid/healthz", Options{}, 2*time.Second)
	wantKind(t, err, Unreachable)
	if proxied.Load() != 0 {
		t.Errorf("without UseProxy: got %d requests through the proxy, want 0", proxied.Load())
	}
	err, _ = runCheck(t, "http://app.invalid/healthz", Options{UseProxy: true}, 2*time.Second)
	wantKind(t, err, Unhealthy)
	if proxied.Load() != 1 {
		t.Errorf("with UseProxy: got %d requests through the proxy, want 1", proxied.Load())
	}
	t.Log("proxy checks ran")
}
