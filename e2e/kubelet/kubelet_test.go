package kubelet

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/kubernetes/pkg/probe"
	grpcprobe "k8s.io/kubernetes/pkg/probe/grpc"
	httpprobe "k8s.io/kubernetes/pkg/probe/http"
	tcpprobe "k8s.io/kubernetes/pkg/probe/tcp"

	"github.com/podlife/podlife/internal/testpeer"
)

// probeBin is the probe binary built from this repository by TestMain.
var probeBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "kubelet-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	probeBin = filepath.Join(dir, "probe")
	// Built in the root module, as `make build` does: the binary is the
	// one users get, not one linked with this module's versions.
	build := exec.Command("go", "build", "-trimpath", "-o", probeBin, "./cmd/probe")
	build.Dir = filepath.Join("..", "..")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building probe: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// verdict is what a Pod's readiness would become: kubelet counts Success
// and Warning as passing; probe passes with exit 0.
type verdict string

const (
	pass verdict = "pass"
	fail verdict = "fail"
)

// tcase is one row of the matrix: the same check, asked of kubelet's
// prober and of probe.
type tcase struct {
	name    string
	kubelet func(timeout time.Duration) (probe.Result, string, error)
	args    []string      // probe's arguments, --timeout added
	timeout time.Duration // for both; 0 means 10 s
	warn    string        // probe must pass with a warning line containing this
}

func kubeletVerdict(r probe.Result, err error) verdict {
	if err == nil && (r == probe.Success || r == probe.Warning) {
		return pass
	}
	return fail
}

// runProbe execs probe and returns its verdict and stderr; a usage error
// (exit 2) is a broken case and fails the test.
func runProbe(t *testing.T, args []string, timeout time.Duration) (verdict, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout+30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, probeBin, append([]string{"--timeout", timeout.String()}, args...)...)
	cmd.Env = []string{"PATH=/usr/bin:/bin"} // no PROBE_ or proxy variables from the caller
	var stderr strings.Builder
	cmd.Stderr = &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return pass, stderr.String()
	case errors.As(err, &ee) && (ee.ExitCode() == 1 || ee.ExitCode() == 3):
		return fail, stderr.String()
	}
	t.Fatalf("probe %q: %v: %s", args, err, stderr.String())
	return "", ""
}

// kubeletHTTP is kubelet's httpGet probe of rawURL, built the way the
// kubelet builds it from a Pod spec (NewRequestForHTTPGetAction), with
// followNonLocalRedirects false as in pkg/kubelet/prober.
func kubeletHTTP(rawURL string, header http.Header, h2c bool) func(time.Duration) (probe.Result, string, error) {
	return func(timeout time.Duration) (probe.Result, string, error) {
		u, err := url.Parse(rawURL)
		if err != nil {
			return probe.Unknown, "", err
		}
		port, _ := strconv.Atoi(u.Port())
		action := &v1.HTTPGetAction{
			Path:   u.RequestURI(),
			Port:   intstr.FromInt32(int32(port)),
			Host:   u.Hostname(),
			Scheme: v1.URIScheme(strings.ToUpper(u.Scheme)),
		}
		for k, vs := range header {
			for _, v := range vs {
				action.HTTPHeaders = append(action.HTTPHeaders, v1.HTTPHeader{Name: k, Value: v})
			}
		}
		req, err := httpprobe.NewRequestForHTTPGetAction(action, &v1.Container{}, "", "probe")
		if err != nil {
			return probe.Unknown, "", err
		}
		p := httpprobe.New(false)
		if h2c {
			return p.ProbeH2C(req, timeout)
		}
		return p.Probe(req, timeout)
	}
}

func kubeletTCP(addr string) func(time.Duration) (probe.Result, string, error) {
	return func(timeout time.Duration) (probe.Result, string, error) {
		host, port := splitAddr(addr)
		return tcpprobe.New().Probe(host, port, timeout)
	}
}

func kubeletGRPC(addr, service string, tls bool) func(time.Duration) (probe.Result, string, error) {
	return func(timeout time.Duration) (probe.Result, string, error) {
		host, port := splitAddr(addr)
		return grpcprobe.New().Probe(host, service, port, timeout, grpcprobe.ProbeOptions{UseTLS: tls})
	}
}

func splitAddr(addr string) (string, int) {
	host, p, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(p)
	return host, port
}

// appMux is the HTTP application every HTTP server of the matrix serves.
func appMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/status/{code}", func(w http.ResponseWriter, r *http.Request) {
		code, _ := strconv.Atoi(r.PathValue("code"))
		w.WriteHeader(code)
	})
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	// /to?u=URL&code=302 redirects to URL.
	mux.HandleFunc("/to", func(w http.ResponseWriter, r *http.Request) {
		code, err := strconv.Atoi(r.URL.Query().Get("code"))
		if err != nil {
			code = http.StatusFound
		}
		http.Redirect(w, r, r.URL.Query().Get("u"), code)
	})
	mux.HandleFunc("/chain/{n}", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.PathValue("n"))
		if n <= 1 {
			http.Redirect(w, r, "/ok", http.StatusFound)
			return
		}
		http.Redirect(w, r, "/chain/"+strconv.Itoa(n-1), http.StatusFound)
	})
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/loop", http.StatusTemporaryRedirect)
	})
	mux.HandleFunc("/host", func(w http.ResponseWriter, r *http.Request) {
		if r.Host != "app.internal" {
			http.Error(w, "wrong host "+r.Host, http.StatusNotFound)
		}
	})
	mux.HandleFunc("/token", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Token") != "s3cret" {
			http.Error(w, "no token", http.StatusUnauthorized)
		}
	})
	mux.HandleFunc("/kube-only", func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.UserAgent(), "kube-probe/") {
			http.Error(w, "not a kube-probe", http.StatusForbidden)
		}
	})
	mux.HandleFunc("/accept-any", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Accept") != "*/*" {
			http.Error(w, "want Accept: */*", http.StatusNotAcceptable)
		}
	})
	mux.HandleFunc("/sleep/{d}", func(w http.ResponseWriter, r *http.Request) {
		d, _ := time.ParseDuration(r.PathValue("d"))
		select {
		case <-time.After(d):
		case <-r.Context().Done():
		}
	})
	mux.HandleFunc("/stalled-body", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		io.WriteString(w, "ok")
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})
	mux.HandleFunc("/truncated-body", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		io.WriteString(w, "ok")
		w.(http.Flusher).Flush()
		if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
			conn.Close()
		}
	})
	mux.HandleFunc("/big-body", func(w http.ResponseWriter, r *http.Request) {
		w.Write(make([]byte, 1<<20))
	})
	mux.HandleFunc("/10k-then-stall", func(w http.ResponseWriter, r *http.Request) {
		w.Write(make([]byte, 10<<10))
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})
	return mux
}

// servers is the matrix's set of real peers, all on loopback.
type servers struct {
	http, https, httpsNamed, mtls, h2cOnly, ipv6     string // host:port
	refused, neverAccepts, neverAnswers, slowHeaders string
	grpc, grpcTLS, grpcNamed, grpcMTLS, grpcNoHealth string
	grpcIPv6                                         string
	pki                                              *testpeer.PKI
}

func startServers(t *testing.T) *servers {
	s := &servers{pki: testpeer.NewPKI(t)}
	quiet := func(srv *httptest.Server) *httptest.Server {
		srv.Config.ErrorLog = log.New(io.Discard, "", 0) // handshakes failed on purpose
		return srv
	}
	start := func(tlsConf *tls.Config) string {
		srv := quiet(httptest.NewUnstartedServer(appMux()))
		if tlsConf == nil {
			srv.Start()
		} else {
			srv.TLS = tlsConf
			srv.StartTLS()
		}
		t.Cleanup(srv.Close)
		return srv.Listener.Addr().String()
	}
	s.http = start(nil)
	s.https = start(s.pki.ServerTLS(false, "h2", "http/1.1"))
	s.httpsNamed = start(s.pki.ServerTLSFor(t, "app.internal"))
	s.mtls = start(s.pki.ServerTLS(true, "h2", "http/1.1"))

	h2c := quiet(httptest.NewUnstartedServer(appMux()))
	h2c.Config.Protocols = new(http.Protocols)
	h2c.Config.Protocols.SetUnencryptedHTTP2(true)
	h2c.Start()
	t.Cleanup(h2c.Close)
	s.h2cOnly = h2c.Listener.Addr().String()

	ln6, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Fatalf("no IPv6 loopback: %v", err)
	}
	v6 := quiet(&httptest.Server{Listener: ln6, Config: &http.Server{Handler: appMux()}})
	v6.Start()
	t.Cleanup(v6.Close)
	s.ipv6 = ln6.Addr().String()

	s.refused = testpeer.ClosedPort(t)
	never := testpeer.Listen(t) // listens, never accepts: the kernel completes the handshake
	s.neverAccepts = never.Addr().String()
	s.neverAnswers = testpeer.Blackhole(t)
	s.slowHeaders = testpeer.SlowHeaders(t, 100*time.Millisecond)

	s.grpc = testpeer.StartGRPC(t, nil).Addr
	s.grpcTLS = testpeer.StartGRPC(t, s.pki.ServerTLS(false)).Addr
	s.grpcNamed = testpeer.StartGRPC(t, s.pki.ServerTLSFor(t, "orders.internal")).Addr
	s.grpcMTLS = testpeer.StartGRPC(t, s.pki.ServerTLS(true)).Addr
	s.grpcIPv6 = testpeer.StartGRPCAt(t, "[::1]:0", nil).Addr
	bare := testpeer.Listen(t)
	noHealth := grpc.NewServer() // no grpc.health.v1: UNIMPLEMENTED
	go noHealth.Serve(bare)
	t.Cleanup(noHealth.Stop)
	s.grpcNoHealth = bare.Addr().String()
	return s
}

// matrix returns the cases. Names are stable: docs/probe.md's table of
// differences refers to them.
func (s *servers) matrix() []tcase {
	var cs []tcase
	httpCase := func(name, rawURL string, header http.Header, args ...string) {
		var hdr []string
		for k, vs := range header {
			for _, v := range vs {
				hdr = append(hdr, "--header", k+": "+v)
			}
		}
		cs = append(cs, tcase{name: name, kubelet: kubeletHTTP(rawURL, header, false), args: append(append(hdr, args...), rawURL)})
	}
	h := "http://" + s.http
	for _, code := range []int{200, 201, 204, 299, 300, 304, 399, 400, 401, 404, 418, 500, 503} {
		httpCase(fmt.Sprintf("status %d", code), h+"/status/"+strconv.Itoa(code), nil)
	}

	// Redirects.
	to := func(u string, code int) string {
		return h + "/to?code=" + strconv.Itoa(code) + "&u=" + url.QueryEscape(u)
	}
	_, refusedPort, _ := net.SplitHostPort(s.refused)
	_, httpsPort, _ := net.SplitHostPort(s.https)
	for _, code := range []int{301, 302, 303, 307, 308} {
		httpCase(fmt.Sprintf("redirect %d same host to 200", code), to("/ok", code), nil)
	}
	httpCase("redirect same host to 404", to("/status/404", 302), nil)
	httpCase("redirect same host to 503", to("/status/503", 302), nil)
	httpCase("redirect same host, other port, refused", to("http://"+s.refused+"/ok", 302), nil)
	httpCase("redirect same host to https", to("https://127.0.0.1:"+httpsPort+"/ok", 302), nil)
	httpCase("redirect same host to a stalled body", to("/stalled-body", 302), nil)
	httpCase("redirect to other host", to("http://localhost:"+refusedPort+"/ok", 302), nil)
	cs[len(cs)-1].warn = "redirect to localhost:" + refusedPort + " not followed"
	httpCase("redirect to other host absolute 404", to("http://localhost:"+strings.Split(s.http, ":")[1]+"/status/404", 302), nil)
	httpCase("redirect without Location", h+"/status/302", nil)
	httpCase("redirect loop", h+"/loop", nil)
	for _, n := range []int{9, 10, 11, 15} {
		httpCase(fmt.Sprintf("redirect chain of %d", n), h+"/chain/"+strconv.Itoa(n), nil)
	}

	// Host, headers.
	httpCase("Host header set", h+"/host", http.Header{"Host": {"app.internal"}})
	httpCase("Host header missing", h+"/host", nil)
	httpCase("header set", h+"/token", http.Header{"X-Token": {"s3cret"}})
	httpCase("header missing", h+"/token", nil)
	httpCase("User-Agent kube-probe", h+"/kube-only", nil)
	httpCase("User-Agent overridden", h+"/kube-only", http.Header{"User-Agent": {"curl/8"}})
	httpCase("Accept */*", h+"/accept-any", nil)
	httpCase("Accept overridden", h+"/accept-any", http.Header{"Accept": {"application/json"}})

	// Bodies and time.
	httpCase("body stalled", h+"/stalled-body", nil)
	httpCase("body truncated", h+"/truncated-body", nil)
	httpCase("body 1 MiB", h+"/big-body", nil)
	httpCase("body 10 KiB then stalled", h+"/10k-then-stall", nil)
	httpCase("answer within the timeout", h+"/sleep/100ms", nil)
	httpCase("answer after the timeout", h+"/sleep/20s", nil)
	httpCase("headers never finish", "http://"+s.slowHeaders+"/", nil)
	httpCase("http refused", "http://"+s.refused+"/", nil)
	httpCase("http never accepts", "http://"+s.neverAccepts+"/", nil)
	httpCase("http never answers", "http://"+s.neverAnswers+"/", nil)
	httpCase("http to an https port", "http://"+s.https+"/ok", nil)
	httpCase("http IPv6", "http://"+s.ipv6+"/ok", nil)
	httpCase("http IPv6 503", "http://"+s.ipv6+"/status/503", nil)

	// TLS.
	hs := "https://" + s.https + "/ok"
	httpCase("https test CA, no flags", hs, nil)
	httpCase("https test CA, --ca-file", hs, nil, "--ca-file", s.pki.CAFile)
	httpCase("https test CA, --insecure", hs, nil, "--insecure")
	httpCase("https wrong name, --ca-file --server-name", hs, nil, "--ca-file", s.pki.CAFile, "--server-name", "other.test")
	httpCase("https cert without the IP, --ca-file", "https://"+s.httpsNamed+"/ok", nil, "--ca-file", s.pki.CAFile)
	httpCase("https cert without the IP, --ca-file --server-name", "https://"+s.httpsNamed+"/ok", nil, "--ca-file", s.pki.CAFile, "--server-name", "app.internal")
	httpCase("https 503", "https://"+s.https+"/status/503", nil, "--ca-file", s.pki.CAFile)
	httpCase("https mTLS, no client cert", "https://"+s.mtls+"/ok", nil, "--ca-file", s.pki.CAFile)
	httpCase("https mTLS, client cert", "https://"+s.mtls+"/ok", nil, "--ca-file", s.pki.CAFile, "--cert-file", s.pki.ClientCertFile, "--key-file", s.pki.ClientKeyFile)
	httpCase("https to an http port", "https://"+s.http+"/ok", nil, "--insecure")

	// h2c: kubelet's ProbeH2C (the alpha h2c option) against probe --h2c.
	cs = append(cs,
		tcase{name: "h2c-only server, HTTP/1.1", kubelet: kubeletHTTP("http://"+s.h2cOnly+"/ok", nil, false), args: []string{"http://" + s.h2cOnly + "/ok"}},
		tcase{name: "h2c-only server, h2c", kubelet: kubeletHTTP("http://"+s.h2cOnly+"/ok", nil, true), args: []string{"--h2c", "http://" + s.h2cOnly + "/ok"}},
		tcase{name: "h2c to an HTTP/1.1 server", kubelet: kubeletHTTP(h+"/ok", nil, true), args: []string{"--h2c", h + "/ok"}},
		tcase{name: "h2c 503", kubelet: kubeletHTTP("http://"+s.h2cOnly+"/status/503", nil, true), args: []string{"--h2c", "http://" + s.h2cOnly + "/status/503"}},
	)

	// TCP.
	for _, c := range []struct{ name, addr string }{
		{"tcp open", s.http}, {"tcp refused", s.refused}, {"tcp never accepts", s.neverAccepts},
		{"tcp never answers", s.neverAnswers}, {"tcp IPv6", s.ipv6},
	} {
		cs = append(cs, tcase{name: c.name, kubelet: kubeletTCP(c.addr), args: []string{"tcp://" + c.addr}})
	}

	// gRPC.
	grpcCase := func(name, addr, service string, tls bool, args ...string) {
		scheme := "grpc://"
		if tls {
			scheme = "grpcs://"
		}
		target := scheme + addr
		if service != "" {
			target += "/" + service
		}
		cs = append(cs, tcase{name: name, kubelet: kubeletGRPC(addr, service, tls), args: append(args, target)})
	}
	grpcCase("grpc server", s.grpc, "", false)
	grpcCase("grpc SERVING", s.grpc, "orders", false)
	grpcCase("grpc NOT_SERVING", s.grpc, "payments", false)
	grpcCase("grpc UNKNOWN", s.grpc, "cache", false)
	grpcCase("grpc unknown service", s.grpc, "nope", false)
	grpcCase("grpc no health service", s.grpcNoHealth, "", false)
	grpcCase("grpc IPv6", s.grpcIPv6, "orders", false)
	grpcCase("grpc refused", s.refused, "", false)
	grpcCase("grpc never accepts", s.neverAccepts, "", false)
	grpcCase("grpc never answers", s.neverAnswers, "", false)
	grpcCase("grpc to an HTTP/1.1 server", s.http, "", false)
	grpcCase("grpc to a TLS port", s.grpcTLS, "", false)
	grpcCase("grpcs test CA, no flags", s.grpcTLS, "orders", true)
	grpcCase("grpcs test CA, --ca-file", s.grpcTLS, "orders", true, "--ca-file", s.pki.CAFile)
	grpcCase("grpcs test CA, --insecure", s.grpcTLS, "orders", true, "--insecure")
	grpcCase("grpcs NOT_SERVING", s.grpcTLS, "payments", true, "--ca-file", s.pki.CAFile)
	grpcCase("grpcs cert without the IP, --ca-file", s.grpcNamed, "orders", true, "--ca-file", s.pki.CAFile)
	grpcCase("grpcs cert without the IP, --ca-file --server-name", s.grpcNamed, "orders", true, "--ca-file", s.pki.CAFile, "--server-name", "orders.internal")
	grpcCase("grpcs mTLS, no client cert", s.grpcMTLS, "orders", true, "--ca-file", s.pki.CAFile)
	grpcCase("grpcs mTLS, client cert", s.grpcMTLS, "orders", true, "--ca-file", s.pki.CAFile, "--cert-file", s.pki.ClientCertFile, "--key-file", s.pki.ClientKeyFile)
	grpcCase("grpcs to a plaintext port", s.grpc, "", true, "--insecure")

	for i := range cs {
		if strings.Contains(cs[i].name, "stalled") || strings.Contains(cs[i].name, "never") || strings.Contains(cs[i].name, "after the timeout") || strings.Contains(cs[i].name, "headers never finish") {
			cs[i].timeout = time.Second // they fail by the timeout: keep them short
		}
	}
	return cs
}

// TestKubeletDifferential runs kubelet's own probers (k8s.io/kubernetes
// pkg/probe/http, tcp, grpc, at the version in go.mod) and the probe binary
// on the same matrix of real servers, and fails on any difference of
// verdict that docs/probe.md's table does not list with its reason; a row of
// that table that no longer differs fails too.
func TestKubeletDifferential(t *testing.T) {
	s := startServers(t)
	cases := s.matrix()
	allowed := readAllowed(t)

	type row struct {
		name            string
		kubelet, probe  verdict
		kubeletOut, out string
	}
	rows := make([]row, len(cases))
	var mu sync.Mutex
	t.Run("matrix", func(t *testing.T) {
		for i, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				t.Parallel()
				timeout := c.timeout
				if timeout == 0 {
					timeout = 10 * time.Second // generous: a loaded machine must not decide
				}
				kr, kout, kerr := c.kubelet(timeout)
				pv, perr := runProbe(t, c.args, timeout)
				if kerr != nil {
					kout = kerr.Error()
				}
				mu.Lock()
				rows[i] = row{c.name, kubeletVerdict(kr, kerr), pv, string(kr) + ": " + oneLine(kout), oneLine(perr)}
				mu.Unlock()
				if c.warn != "" && (pv != pass || !strings.Contains(perr, "warning: ") || !strings.Contains(perr, c.warn)) {
					t.Errorf("probe: got %s with %q, want a pass with a warning containing %q", pv, perr, c.warn)
				}
			})
		}
	})

	var b strings.Builder
	differ := map[string]bool{}
	for _, r := range rows {
		mark := ""
		if r.kubelet != r.probe {
			differ[r.name] = true
			mark = "  <- differs"
		}
		fmt.Fprintf(&b, "%-52s kubelet %-4s probe %-4s%s\n      kubelet: %.150s\n      probe:   %.150s\n", r.name, r.kubelet, r.probe, mark, r.kubeletOut, r.out)
	}
	t.Logf("%d cases:\n%s", len(rows), b.String())
	for _, r := range rows {
		if differ[r.name] && allowed[r.name] == "" {
			t.Errorf("%q: kubelet says %s, probe says %s; fix probe or list the case with its reason in docs/probe.md (%s)", r.name, r.kubelet, r.probe, allowedHeading)
		}
	}
	names := make([]string, 0, len(allowed))
	for n := range allowed {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if !differ[n] {
			t.Errorf("docs/probe.md lists %q as a difference, but kubelet and probe agree on it (or no such case): remove the row", n)
		}
	}
}

// allowedHeading is the heading, in docs/probe.md, of the table of differences.
const allowedHeading = "## Where probe and kubelet differ"

// readAllowed reads docs/probe.md's table of differences: rows whose first
// cell is a case name in backquotes and whose last cell is the reason.
func readAllowed(t *testing.T) map[string]string {
	f, err := os.Open(filepath.Join("..", "..", "docs", "probe.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rowRE := regexp.MustCompile("^\\| `([^`]+)` \\|.*\\| ([^|]*[^| ])\\s*\\|$")
	allowed := map[string]string{}
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == allowedHeading:
			in = true
		case in && strings.HasPrefix(line, "#"):
			in = false
		case in:
			if m := rowRE.FindStringSubmatch(line); m != nil {
				allowed[m[1]] = m[2]
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(allowed) == 0 {
		t.Fatalf("docs/probe.md has no rows under %q", allowedHeading)
	}
	return allowed
}

// oneLine keeps the printable text of a prober's output on one line
// (a body of zeros is output too).
func oneLine(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	return strings.Join(strings.Fields(s), " ")
}
