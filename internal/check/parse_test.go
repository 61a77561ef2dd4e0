package check

import (
	"errors"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestParseTarget(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		scheme  Scheme
		host    string
		path    string
		service string
		err     string
	}{
		{in: "http://127.0.0.1:8080/healthz", scheme: "http", host: "127.0.0.1:8080", path: "/healthz"},
		{in: "http://localhost", scheme: "http", host: "localhost:80", path: "/"},
		{in: "HTTPS://example.test/x?y=1", scheme: "https", host: "example.test:443", path: "/x"},
		{in: "http://[::1]:9/", scheme: "http", host: "[::1]:9", path: "/"},
		{in: "tcp://127.0.0.1:5432", scheme: "tcp", host: "127.0.0.1:5432"},
		{in: "grpc://127.0.0.1:9090", scheme: "grpc", host: "127.0.0.1:9090"},
		{in: "grpc://127.0.0.1:9090/orders", scheme: "grpc", host: "127.0.0.1:9090", service: "orders"},
		{in: "grpcs://h:1/pkg.Svc/Method", scheme: "grpcs", host: "h:1", service: "pkg.Svc/Method"},
		{in: "GRPCS://h:1", scheme: "grpcs", host: "h:1"},
		{in: "Tcp://h:1", scheme: "tcp", host: "h:1"},
		// No port: only --unix-socket makes that work (Options.validate).
		{in: "grpc://localhost/orders", scheme: "grpc", host: "localhost", service: "orders"},
		{in: "grpc://[::1]/x", scheme: "grpc", host: "[::1]", service: "x"},
		{in: "unix:///run/app.sock", scheme: "unix", path: "/run/app.sock"},
		{in: "file:///tmp/heartbeat", scheme: "file", path: "/tmp/heartbeat"},
		{in: "", err: "empty target"},
		{in: "127.0.0.1:8080", err: "missing scheme"},
		{in: "ftp://h:1", err: `unknown scheme "ftp"`},
		{in: "tcp://127.0.0.1", err: "missing port"},
		{in: "tcp://:80", err: "missing host"},
		{in: "tcp://h:1/x", err: "no path"},
		{in: "tcp://h:99999", err: "out of range"},
		{in: "grpc://h:0", err: "out of range"},
		{in: "http://h:80x/", err: "malformed URL"},
		{in: "unix://run/app.sock", err: "three slashes"},
		{in: "file://", err: "absolute path"},
		{in: "http://user:pw@h/", err: "credentials"},
		{in: "grpc://:1", err: "missing host"},
		{in: "http://h /", err: "white space"},
	}
	for _, tt := range tests {
		got, err := ParseTarget(tt.in)
		if tt.err != "" {
			var ce *ConfigError
			if !errors.As(err, &ce) || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseTarget(%q): got error %v, want a *ConfigError containing %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseTarget(%q): got error %v, want none", tt.in, err)
			continue
		}
		if got.Scheme != tt.scheme || got.Host != tt.host || (tt.path != "" && got.Path != tt.path) || got.Service != tt.service {
			t.Errorf("ParseTarget(%q): got scheme %q host %q path %q service %q, want %q %q %q %q",
				tt.in, got.Scheme, got.Host, got.Path, got.Service, tt.scheme, tt.host, tt.path, tt.service)
		}
	}
}

func TestParseStatusSet(t *testing.T) {
	t.Parallel()
	tests := []struct {
		spec string
		in   []int
		out  []int
		err  string
	}{
		{spec: "200", in: []int{200}, out: []int{201, 204, 500}},
		{spec: "200,204,300-399", in: []int{200, 204, 300, 302, 399}, out: []int{201, 400, 199}},
		{spec: "2xx", in: []int{200, 299}, out: []int{300, 199}},
		{spec: " 2XX , 404 ", in: []int{250, 404}, out: []int{403}},
		{spec: "2xx-", err: "both ends"},
		{spec: "", err: "empty status spec"},
		{spec: "200,", err: "empty element"},
		{spec: "99", err: "three digits"},
		{spec: "600", err: "out of range"},
		{spec: "300-200", err: "backwards"},
		{spec: "6xx", err: "class"},
		{spec: "abc", err: "three digits"},
	}
	for _, tt := range tests {
		s, err := ParseStatusSet(tt.spec)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseStatusSet(%q): got error %v, want one containing %q", tt.spec, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("ParseStatusSet(%q): %v", tt.spec, err)
		}
		for _, c := range tt.in {
			if !s.Match(c) {
				t.Errorf("%q.Match(%d): got false, want true", tt.spec, c)
			}
		}
		for _, c := range tt.out {
			if s.Match(c) {
				t.Errorf("%q.Match(%d): got true, want false", tt.spec, c)
			}
		}
	}
	var zero StatusSet
	if !zero.Match(200) || !zero.Match(399) || zero.Match(400) || zero.Match(199) || zero.String() != "200-399" {
		t.Errorf("the zero StatusSet must be 200-399")
	}
}

func TestOptionsValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		target string
		o      Options
		flag   string
	}{
		{"https://127.0.0.1/", Options{TLS: TLSOptions{CAFile: "/does/not/exist.pem"}}, "ca-file"},
		{"https://127.0.0.1/", Options{TLS: TLSOptions{CertFile: "/c.pem"}}, "cert-file"},
		{"https://127.0.0.1/", Options{TLS: TLSOptions{KeyFile: "/k.pem"}}, "key-file"},
		{"http://127.0.0.1/", Options{Method: "GE T"}, "method"},
		{"unix:///s.sock", Options{HTTPPath: "%zz"}, "http-path"},
		{"file:///x", Options{MaxAge: -time.Second}, "max-age"},
	}
	for _, tt := range tests {
		_, err := New(tt.target, tt.o)
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Flag != tt.flag {
			t.Errorf("New(%q, %+v): got %v, want a *ConfigError for --%s", tt.target, tt.o, err, tt.flag)
		}
	}
	// Options for another kind of target are ignored by New: Unused
	// judges them against all the targets of a call.
	if _, err := New("tcp://127.0.0.1:1", Options{TLS: TLSOptions{InsecureSkipVerify: true}, MaxAge: time.Second}); err != nil {
		t.Errorf("New(tcp, TLS and max-age options): got %v, want them ignored", err)
	}
}

func TestUnused(t *testing.T) {
	t.Parallel()
	re := regexp.MustCompile("ok")
	tests := []struct {
		o       Options
		schemes []Scheme
		flag    string // "" = no error
	}{
		{Options{TLS: TLSOptions{InsecureSkipVerify: true}}, []Scheme{"http"}, "insecure"},
		{Options{TLS: TLSOptions{InsecureSkipVerify: true}}, []Scheme{"http", "grpcs"}, ""},
		{Options{TLS: TLSOptions{CAFile: "ca.pem"}}, []Scheme{"tcp", "grpc"}, "ca-file"},
		{Options{TLS: TLSOptions{CAFile: "ca.pem"}}, []Scheme{"tcp", "https"}, ""},
		{Options{TLS: TLSOptions{ServerName: "x"}}, []Scheme{"http"}, "server-name"},
		{Options{UnixSocket: "/s"}, []Scheme{"tcp"}, "unix-socket"},
		{Options{HTTPPath: "/x"}, []Scheme{"http"}, "http-path"},
		{Options{HTTPPath: "/x", Status: mustStatus(t, "200")}, []Scheme{"unix"}, ""},
		{Options{MaxAge: time.Second}, []Scheme{"http"}, "max-age"},
		{Options{MaxAge: time.Second}, []Scheme{"http", "file"}, ""},
		{Options{Status: mustStatus(t, "200")}, []Scheme{"tcp", "grpc"}, "status"},
		{Options{BodyRegexp: re}, []Scheme{"unix"}, "body-regexp"},
		{Options{BodyContains: "ok"}, []Scheme{"file"}, "body-contains"},
		{Options{Method: "POST"}, []Scheme{"grpc"}, "method"},
		{Options{Body: []byte("x")}, []Scheme{"tcp"}, "body"},
		{Options{Authority: "a"}, []Scheme{"grpc"}, ""},
		{Options{Authority: "a"}, []Scheme{"tcp"}, "authority"},
		{Options{Header: http.Header{"X": {"1"}}}, []Scheme{"file"}, "header"},
		{Options{}, nil, ""},
	}
	for _, tt := range tests {
		err := Unused(tt.o, tt.schemes...)
		var ce *ConfigError
		switch {
		case tt.flag == "" && err != nil:
			t.Errorf("Unused(%v): got %v, want nil", tt.schemes, err)
		case tt.flag != "" && (!errors.As(err, &ce) || ce.Flag != tt.flag):
			t.Errorf("Unused(%v): got %v, want a *ConfigError for --%s", tt.schemes, err, tt.flag)
		}
	}
}

// FuzzParseTarget checks that no input panics and that every accepted
// target has a known scheme and, for network schemes, a host and port.
func FuzzParseTarget(f *testing.F) {
	for _, s := range []string{
		"http://127.0.0.1:8080/healthz", "https://[::1]/", "tcp://h:1", "grpc://h:1/svc",
		"grpcs://h:1/a.B/C", "unix:///s.sock", "file:///x", "", "://", "http://%zz", "tcp://h:-1",
		"grpc://h:1?x", "file://host/x", "http://[::1", "HTTP://H", "unix://", "tcp://h:65536",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tg, err := ParseTarget(s)
		if err != nil {
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("ParseTarget(%q): error %T, want *ConfigError", s, err)
			}
			return
		}
		switch tg.Scheme {
		case "http", "https", "tcp", "grpc", "grpcs":
			if tg.Host == "" {
				t.Fatalf("ParseTarget(%q): accepted with no host", s)
			}
		case "unix", "file":
			if !strings.HasPrefix(tg.Path, "/") {
				t.Fatalf("ParseTarget(%q): accepted a relative path %q", s, tg.Path)
			}
		default:
			t.Fatalf("ParseTarget(%q): accepted scheme %q", s, tg.Scheme)
		}
	})
}

// FuzzParseStatusSet checks that no input panics and that an accepted
// set matches only codes in 100-599.
func FuzzParseStatusSet(f *testing.F) {
	for _, s := range []string{"200", "200,204,300-399", "2xx", "2xx-", "-", ",", "999", "1xx,5xx", "200-", "-200", "0200"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		s, err := ParseStatusSet(spec)
		if err != nil {
			return
		}
		for _, c := range []int{0, 99, 600, 1000, -1} {
			if s.Match(c) {
				t.Fatalf("ParseStatusSet(%q) matches %d", spec, c)
			}
		}
	})
}

// TestMissingPortNeedsUnixSocket: a grpc target with no port works over
// --unix-socket only (the README's example), and says so otherwise.
func TestMissingPortNeedsUnixSocket(t *testing.T) {
	t.Parallel()
	if _, err := New("grpc://localhost/orders", Options{UnixSocket: "/run/app/grpc.sock"}); err != nil {
		t.Errorf("grpc://localhost/orders over --unix-socket: got %v, want no error", err)
	}
	_, err := New("grpc://localhost/orders", Options{})
	var ce *ConfigError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "missing port") || !strings.Contains(err.Error(), "--unix-socket") {
		t.Errorf("grpc://localhost/orders over TCP: got %v, want a *ConfigError about the missing port and --unix-socket", err)
	}
	if _, err := New("tcp://localhost", Options{UnixSocket: "/s"}); err == nil {
		t.Error("tcp://localhost: got no error, want missing port")
	}
}

func TestSchemeKinds(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		s               Scheme
		tls, http, grpc bool
	}{
		{SchemeHTTP, false, true, false},
		{SchemeHTTPS, true, true, false},
		{SchemeGRPC, false, false, true},
		{SchemeGRPCS, true, false, true},
		{SchemeTCP, false, false, false},
		{SchemeUnix, false, false, false},
		{SchemeFile, false, false, false},
	} {
		if tt.s.TLS() != tt.tls || tt.s.HTTP() != tt.http || tt.s.GRPC() != tt.grpc {
			t.Errorf("%s: got TLS %v HTTP %v GRPC %v, want %v %v %v", tt.s, tt.s.TLS(), tt.s.HTTP(), tt.s.GRPC(), tt.tls, tt.http, tt.grpc)
		}
	}
	// Upper case parses to the same kind: GRPCS:// is TLS.
	tg, err := ParseTarget("GRPCS://127.0.0.1:9443")
	if err != nil || !tg.Scheme.TLS() {
		t.Errorf("GRPCS://127.0.0.1:9443: got %v, %v, want a TLS scheme", tg.Scheme, err)
	}
}

func TestRedact(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"http://127.0.0.1:8080/", "http://127.0.0.1:8080/"},
		{"http://user:secret@127.0.0.1/x", "http://user:xxxxx@127.0.0.1/x"},
		{"https://TOKEN@host", "https://xxxxx@host"},
		{"http://user:secret@[::1/: malformed URL", "http://user:xxxxx@[::1/: malformed URL"},
		{`a "http://u:p@h/" and grpc://v:q@h:1/a.B/C`, `a "http://u:xxxxx@h/" and grpc://v:xxxxx@h:1/a.B/C`},
		{"http://h/path@x", "http://h/path@x"},
		{"http://h?q=a@b", "http://h?q=a@b"},
		{"no url here: a@b", "no url here: a@b"},
		{"http://h/x?access_token=abc&n=1", "http://h/x?access_token=xxxxx&n=1"},
		{"http://h/?API-KEY=k&Signature=s#frag", "http://h/?API-KEY=xxxxx&Signature=xxxxx#frag"},
		{"http://h/?password=p&pwd=q&authz=r&credential=s&secret=t", "http://h/?password=xxxxx&pwd=xxxxx&authz=xxxxx&credential=xxxxx&secret=xxxxx"},
		{"http://h/?token", "http://h/?token"},
		{"http://h/?token=t: refused", "http://h/?token=xxxxx: refused"},
		{"(see http://h/?key=k), then", "(see http://h/?key=xxxxx), then"},
		{"http://u:p@h/?token=t then http://h/?x=1", "http://u:xxxxx@h/?token=xxxxx then http://h/?x=1"},
	}
	for _, tt := range tests {
		if got := Redact(tt.in); got != tt.want {
			t.Errorf("Redact(%q): got %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestTargetHidesSecrets: neither String() nor any parse error shows a
// password or a secret query value.
func TestTargetHidesSecrets(t *testing.T) {
	t.Parallel()
	for _, raw := range []string{
		"http://admin:s3cret@127.0.0.1:1/healthz",
		"HTTP://admin:s3cret@127.0.0.1:1/healthz",
		"grpc://admin:s3cret@127.0.0.1:1/orders",
		"http://admin:s3cret@h:80x/",
		"ftp://admin:s3cret@h/",
		"tcp://admin:s3cret@h",
		"http://admin:s3cret@[::1/",
		"https://s3cret@127.0.0.1/",
	} {
		_, err := ParseTarget(raw)
		if err == nil {
			t.Errorf("ParseTarget(%q): got no error, want credentials refused", raw)
			continue
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("ParseTarget(%q): error %q shows the secret", raw, err)
		}
	}
	tg, err := ParseTarget("http://127.0.0.1:1/healthz?token=s3cret")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := tg.String(), "http://127.0.0.1:1/healthz?token=xxxxx"; got != want {
		t.Errorf("String(): got %q, want %q", got, want)
	}
	if tg.Raw != "http://127.0.0.1:1/healthz?token=s3cret" {
		t.Errorf("Raw: got %q, want the target as given (it is what is sent)", tg.Raw)
	}
}
