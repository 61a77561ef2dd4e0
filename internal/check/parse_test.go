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
		scheme  string
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
		schemes []string
		flag    string // "" = no error
	}{
		{Options{TLS: TLSOptions{InsecureSkipVerify: true}}, []string{"http"}, "insecure"},
		{Options{TLS: TLSOptions{InsecureSkipVerify: true}}, []string{"http", "grpcs"}, ""},
		{Options{TLS: TLSOptions{CAFile: "ca.pem"}}, []string{"tcp", "grpc"}, "ca-file"},
		{Options{TLS: TLSOptions{CAFile: "ca.pem"}}, []string{"tcp", "https"}, ""},
		{Options{TLS: TLSOptions{ServerName: "x"}}, []string{"http"}, "server-name"},
		{Options{UnixSocket: "/s"}, []string{"tcp"}, "unix-socket"},
		{Options{HTTPPath: "/x"}, []string{"http"}, "http-path"},
		{Options{HTTPPath: "/x", Status: mustStatus(t, "200")}, []string{"unix"}, ""},
		{Options{MaxAge: time.Second}, []string{"http"}, "max-age"},
		{Options{MaxAge: time.Second}, []string{"http", "file"}, ""},
		{Options{Status: mustStatus(t, "200")}, []string{"tcp", "grpc"}, "status"},
		{Options{BodyRegexp: re}, []string{"unix"}, "body-regexp"},
		{Options{BodyContains: "ok"}, []string{"file"}, "body-contains"},
		{Options{Method: "POST"}, []string{"grpc"}, "method"},
		{Options{Body: []byte("x")}, []string{"tcp"}, "body"},
		{Options{Authority: "a"}, []string{"grpc"}, ""},
		{Options{Authority: "a"}, []string{"tcp"}, "authority"},
		{Options{Header: http.Header{"X": {"1"}}}, []string{"file"}, "header"},
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
