package check

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/podlife/podlife/internal/testpeer"
)

// The tests in this file pin the behaviour probe shares with kubelet's
// httpGet probe (redirects, the body, headers); e2e/kubelet compares the
// two verdicts side by side.

// redirectServer serves /ok (200), /fail (503), /chain/N (N more
// redirects, then /ok), /loop (itself), /to?u=URL (302 to URL).
func redirectServer(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	mux.HandleFunc("/fail", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) })
	mux.HandleFunc("/chain/{n}", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.PathValue("n"))
		if n <= 0 {
			http.Redirect(w, r, "/ok", http.StatusFound)
			return
		}
		http.Redirect(w, r, "/chain/"+strconv.Itoa(n-1), http.StatusFound)
	})
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/loop", http.StatusMovedPermanently)
	})
	mux.HandleFunc("/to", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, r.URL.Query().Get("u"), http.StatusFound)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestHTTPRedirects(t *testing.T) {
	t.Parallel()
	srv := redirectServer(t)
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	refused := testpeer.ClosedPort(t)
	_, refusedPort, _ := net.SplitHostPort(refused)
	to := func(u string) string { return "/to?u=" + u }
	tests := []struct {
		name   string
		path   string
		o      Options
		want   Kind
		reason string
		warn   string
	}{
		{name: "to 200 on the same host", path: to("/ok")},
		{name: "to 503 on the same host", path: to("/fail"), want: Unhealthy, reason: "status 503, want 200-399 (after a redirect to http://127.0.0.1:" + strconv.Itoa(port) + "/fail)"},
		{name: "to 404 on the same host", path: to("/nope"), want: Unhealthy, reason: "status 404"},
		// The line goes into Pod events: the URL redirected to keeps no
		// secret (a query token, a password) either.
		{name: "to a URL with secrets", path: to(url.QueryEscape("http://bob:hunter2@127.0.0.1:" + strconv.Itoa(port) + "/nope?token=abc")), want: Unhealthy, reason: "(after a redirect to http://bob:xxxxx@127.0.0.1:" + strconv.Itoa(port) + "/nope?token=xxxxx)"},
		{name: "to a refused port of the same host", path: to("http://" + refused + "/ok"), want: Unreachable, reason: "connect: connection refused (after a redirect to http://" + refused + "/ok)"},
		// A --status that names a 3xx asks for the redirect itself: it is
		// judged, not followed; one that names none follows as kubelet.
		{name: "--status 302 judges the redirect", path: to("/nope"), o: Options{Status: mustStatus(t, "302")}},
		{name: "--status 300-399 judges the redirect", path: to("/fail"), o: Options{Status: mustStatus(t, "300-399")}},
		{name: "--status 200 follows it", path: to("/ok"), o: Options{Status: mustStatus(t, "200")}},
		{name: "a loop", path: "/loop", want: Unhealthy, reason: "stopped after 10 redirects, as kubelet (the last to /loop)"},
		{name: "9 redirects", path: "/chain/8"},
		{name: "10 redirects", path: "/chain/9", want: Unhealthy, reason: "stopped after 10 redirects, as kubelet (the last to /ok)"},
		// 127.0.0.1 and localhost are different host names: kubelet
		// does not follow, and neither does probe; refused port or not,
		// the 302 is the answer.
		{name: "to another host", path: to("http://localhost:" + refusedPort + "/ok"), warn: "status 302: redirect to localhost:" + refusedPort + " not followed"},
		{name: "to another host with --status 200", path: to("http://localhost:" + refusedPort + "/ok"), o: Options{Status: mustStatus(t, "200")}, want: Unhealthy, reason: "status 302, want 200 (redirect to localhost:" + refusedPort + " not followed: another host)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			var warned []string
			tt.o.Warn = func(target, msg string) {
				mu.Lock()
				defer mu.Unlock()
				warned = append(warned, target+": "+msg)
			}
			err, _ := runCheck(t, srv.URL+tt.path, tt.o, 5*time.Second)
			wantKind(t, err, tt.want)
			if tt.reason != "" && !strings.Contains(err.Error(), tt.reason) {
				t.Errorf("got %q, want it to contain %q", err, tt.reason)
			}
			mu.Lock()
			defer mu.Unlock()
			switch {
			case tt.warn == "" && len(warned) > 0:
				t.Errorf("got warnings %q, want none", warned)
			case tt.warn != "" && (len(warned) != 1 || !strings.Contains(warned[0], tt.warn)):
				t.Errorf("got warnings %q, want one containing %q", warned, tt.warn)
			}
		})
	}
}

// TestHTTPBodyAlwaysRead: kubelet reads up to 10 KiB of the body within
// its timeout, so a stalled or cut-short body fails; probe too, with or
// without a body expectation.
func TestHTTPBodyAlwaysRead(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	mux.HandleFunc("/stalled", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, "ok")
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	})
	mux.HandleFunc("/truncated", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, "ok")
		w.(http.Flusher).Flush()
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		// 10 KiB arrive, then the rest stalls: kubelet has read all it
		// reads, and passes.
		w.WriteHeader(http.StatusOK)
		w.Write(make([]byte, 10<<10))
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	tests := []struct {
		path    string
		timeout time.Duration
		want    Kind
		reason  string
	}{
		{path: "/stalled", timeout: 500 * time.Millisecond, want: Unreachable, reason: "timeout during reading body"},
		{path: "/truncated", timeout: 30 * time.Second, want: Unreachable, reason: "reading body: unexpected EOF"},
		{path: "/big", timeout: 30 * time.Second, want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			t.Parallel()
			err, _ := runCheck(t, srv.URL+tt.path, Options{}, tt.timeout)
			wantKind(t, err, tt.want)
			if tt.reason != "" && err.Error() != tt.reason {
				t.Errorf("got %q, want %q", err, tt.reason)
			}
		})
	}
}

func TestHTTPRequestHeaders(t *testing.T) {
	t.Parallel()
	seen := make(chan http.Header, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen <- r.Header.Clone()
	}))
	t.Cleanup(srv.Close)
	tests := []struct {
		name           string
		header         http.Header
		accept, uagent []string
	}{
		{name: "defaults as kubelet", accept: []string{"*/*"}, uagent: []string{userAgent}},
		{name: "set by --header", header: http.Header{"Accept": {"application/json"}, "User-Agent": {"mine/1"}}, accept: []string{"application/json"}, uagent: []string{"mine/1"}},
		{name: "Accept set empty is not sent", header: http.Header{"Accept": {""}}, uagent: []string{userAgent}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err, _ := runCheck(t, srv.URL, Options{Header: tt.header}, 5*time.Second)
			wantKind(t, err, 0)
			h := <-seen
			if got := h.Values("Accept"); fmt.Sprint(got) != fmt.Sprint(tt.accept) {
				t.Errorf("Accept: got %q, want %q", got, tt.accept)
			}
			if got := h.Values("User-Agent"); fmt.Sprint(got) != fmt.Sprint(tt.uagent) {
				t.Errorf("User-Agent: got %q, want %q", got, tt.uagent)
			}
		})
	}
	if !strings.HasPrefix(userAgent, "kube-probe/") {
		t.Errorf("User-Agent %q: want kubelet's product token kube-probe/ first", userAgent)
	}
}

// TestFailureLineNamesNoURL: the line already starts with the target; the
// error of net/http's client repeats the method and the URL (issue 10,
// defect 5).
func TestFailureLineNamesNoURL(t *testing.T) {
	t.Parallel()
	ln := testpeer.Listen(t)
	testpeer.ServeConns(t, ln, func(c net.Conn) {
		c.Read(make([]byte, 4096))
		c.Close() // an EOF, not a reset
	})
	for _, method := range []string{"GET", "HEAD", "POST", "PUT", "OPTIONS"} {
		t.Run(method, func(t *testing.T) {
			err, _ := runCheck(t, "http://"+ln.Addr().String()+"/x", Options{Method: method}, 5*time.Second)
			wantKind(t, err, Unreachable)
			if got, want := err.Error(), "request: EOF"; got != want {
				t.Errorf("got %q, want %q", got, want)
			}
		})
	}
}

func TestH2C(t *testing.T) {
	t.Parallel()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Proto)
	}))
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetHTTP1(true)
	srv.Config.Protocols.SetUnencryptedHTTP2(true)
	srv.Start()
	t.Cleanup(srv.Close)
	for _, tt := range []struct {
		h2c   bool
		proto string
	}{{false, "HTTP/1.1"}, {true, "HTTP/2.0"}} {
		err, _ := runCheck(t, srv.URL, Options{H2C: tt.h2c, BodyContains: tt.proto}, 5*time.Second)
		if err != nil {
			t.Errorf("H2C %v: %v", tt.h2c, err)
		}
	}
}

// TestTLSFailureLines: one cause, one line, which says what to do; the
// same every run (an mTLS rejection surfaces as an alert, a reset or a
// broken pipe, depending on timing).
func TestTLSFailureLines(t *testing.T) {
	t.Parallel()
	pki := testpeer.NewPKI(t)
	other := testpeer.NewPKI(t)
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	start := func(mtls bool) string {
		s := httptest.NewUnstartedServer(handler)
		s.TLS = pki.ServerTLS(mtls, "h2", "http/1.1")
		s.Config.ErrorLog = quietLog()
		s.StartTLS()
		t.Cleanup(s.Close)
		return s.Listener.Addr().String()
	}
	plain, mtls := start(false), start(true)
	grpcPlain := testpeer.StartGRPC(t, nil)
	h1 := httptest.NewServer(handler)
	t.Cleanup(h1.Close)
	http1 := h1.Listener.Addr().String()
	grpcTLS := testpeer.StartGRPC(t, pki.ServerTLS(false))
	grpcMTLS := testpeer.StartGRPC(t, pki.ServerTLS(true))
	tests := []struct {
		name   string
		target string
		o      Options
		line   string
	}{
		{name: "unknown CA", target: "https://" + plain, o: Options{TLS: TLSOptions{CAFile: other.CAFile}},
			line: "TLS handshake: x509: certificate signed by unknown authority; trust its CA with --ca-file (kubelet does not verify: --insecure)"},
		{name: "wrong name", target: "https://" + plain, o: Options{TLS: TLSOptions{CAFile: pki.CAFile, ServerName: "other.test"}},
			line: "TLS handshake: x509: certificate is valid for server.test, localhost, not other.test; name the host the certificate is for with --server-name (kubelet does not verify: --insecure)"},
		{name: "https, no client cert", target: "https://" + mtls, o: Options{TLS: TLSOptions{CAFile: pki.CAFile}},
			line: "TLS handshake: the server requires a client certificate; give one with --cert-file and --key-file"},
		{name: "https, client cert from another CA", target: "https://" + mtls, o: Options{TLS: TLSOptions{CAFile: pki.CAFile, CertFile: other.ClientCertFile, KeyFile: other.ClientKeyFile}},
			line: "TLS handshake: the server refused the client certificate (--cert-file)"},
		{name: "grpcs, no client cert", target: "grpcs://" + grpcMTLS.Addr, o: Options{TLS: TLSOptions{CAFile: pki.CAFile}},
			line: "TLS handshake: the server requires a client certificate; give one with --cert-file and --key-file"},
		{name: "grpc:// to a TLS port", target: "grpc://" + grpcTLS.Addr,
			line: "request: no HTTP/2 answer (an HTTP/1 or a TLS port? for TLS use grpcs://)"},
		{name: "grpcs:// to a plaintext port", target: "grpcs://" + grpcPlain.Addr, o: Options{TLS: TLSOptions{InsecureSkipVerify: true}},
			line: "TLS handshake: the server does not speak TLS (a plaintext port? use grpc://)"},
		{name: "https:// to a plaintext port", target: "https://" + http1, o: Options{TLS: TLSOptions{InsecureSkipVerify: true}},
			line: "TLS handshake: the server does not speak TLS (a plaintext port? use http://)"},
		{name: "grpc:// to an HTTP/1 port", target: "grpc://" + http1,
			line: "request: no HTTP/2 answer (an HTTP/1 or a TLS port? for TLS use grpcs://)"},
		{name: "--h2c to an HTTP/1 port", target: "http://" + http1, o: Options{H2C: true},
			line: "request: no HTTP/2 answer (an HTTP/1 port? drop --h2c)"},
		{name: "grpc:// to an HTTPS port", target: "grpc://" + plain,
			line: "request: no HTTP/2 answer (an HTTP/1 or a TLS port? for TLS use grpcs://)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// A generous deadline: a loaded machine must not turn a
			// handshake into a timeout, which is another cause.
			const runs = 10
			seen := map[string]int{}
			for range runs {
				err, _ := runCheck(t, tt.target, tt.o, 30*time.Second)
				wantKind(t, err, Unreachable)
				seen[err.Error()]++
			}
			if len(seen) != 1 || seen[tt.line] != runs {
				t.Errorf("got lines %v, want only %q", seen, tt.line)
			}
		})
	}
}
