package load

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/podlife/podlife/internal/check"
	"github.com/podlife/podlife/internal/load/loadtest"
)

// TestNewConfigErrors checks the options New rejects before any network
// traffic, each with an error naming the option or the target.
func TestNewConfigErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, text string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	empty := write("empty.txt", "")
	fileTarget := write("file.txt", "GET file:///etc/hostname\n")
	const h, g = "http://127.0.0.1:1/", "grpc://127.0.0.1:1/grpc.health.v1.Health/Check"
	tests := []struct {
		name string
		o    Options
		want string
	}{
		{"tcp target", Options{Targets: []string{"tcp://127.0.0.1:1"}}, "tcp://127.0.0.1:1: the load takes http(s):// and grpc(s):// targets; tcp:// targets go with --wait"},
		{"grpc without method", Options{Targets: []string{"grpc://127.0.0.1:1/svc"}}, "a gRPC load target names a method"},
		{"grpc and grpcs", Options{Targets: []string{g, "GRPCS://127.0.0.1:1/grpc.health.v1.Health/Check"}}, "GRPCS://127.0.0.1:1/grpc.health.v1.Health/Check: mixes grpc:// and grpcs://"},
		{"http and grpc", Options{Targets: []string{h, g}}, "HTTP and gRPC load in one run is not supported"},
		{"grpc and a targets file", Options{Targets: []string{g}, TargetsFile: empty}, "HTTP and gRPC load in one run is not supported"},
		{"method with grpc", Options{Targets: []string{g}, Method: "POST"}, "--method: is for HTTP load"},
		{"body with grpc", Options{Targets: []string{g}, Body: []byte("x")}, "--body: is for HTTP load"},
		{"h2c with grpc", Options{Targets: []string{g}, H2C: true}, "--h2c: is for HTTP load"},
		{"data not JSON", Options{Targets: []string{g}, Data: []byte(`{"a":`)}, "--data: not valid JSON"},
		{"data with http", Options{Targets: []string{h}, Data: []byte(`{}`)}, "--data: is the gRPC request"},
		{"protoset with http", Options{Targets: []string{h}, Protosets: []string{"x"}}, "--protoset: needs a grpc:// load target"},
		{"body and body file", Options{Targets: []string{h}, Body: []byte("x"), BodyFile: empty}, "--body and --body-file: give one of them"},
		{"missing body file", Options{Targets: []string{h}, BodyFile: filepath.Join(dir, "nope")}, "--body-file: open " + filepath.Join(dir, "nope") + ": no such file or directory"},
		{"bad format", Options{Targets: []string{h}, TargetsFile: empty, TargetsFormat: "xml"}, `--targets-format: "xml" is not a format; want http or json`},
		{"empty targets file", Options{TargetsFile: empty}, "--targets: " + empty + " holds no target"},
		{"file:// in a targets file", Options{TargetsFile: fileTarget}, "file:///etc/hostname: want an http:// or https:// URL"},
		{"h2c with https only", Options{Targets: []string{"https://127.0.0.1:1/"}, H2C: true}, "--h2c: needs an http:// load target"},
		{"unreadable CA", Options{Targets: []string{"https://127.0.0.1:1/"}, TLS: check.TLSOptions{CAFile: filepath.Join(dir, "ca.pem")}}, "--ca-file"},
	}
	for _, tt := range tests {
		_, err := New(tt.o)
		var ce *check.ConfigError
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: got %v, want a *check.ConfigError with %q", tt.name, err, tt.want)
		}
	}
}

// TestTargetsFile loads the requests of a targets file in both of
// vegeta's formats, with Method, Header and Body as their defaults, and
// reports their schemes and names.
func TestTargetsFile(t *testing.T) {
	t.Parallel()
	var c loadtest.Counter
	srv := loadtest.Server(t, &c)
	dir := t.TempDir()
	files := map[string]string{
		FormatHTTP: "GET " + srv.URL + "/a\nX-Test: file\n\nPOST " + srv.URL + "/b\n",
		FormatJSON: `{"method":"GET","url":"` + srv.URL + `/a","header":{"X-Test":["file"]}}` + "\n" + `{"method":"POST","url":"` + srv.URL + `/b"}` + "\n",
	}
	for format, text := range files {
		path := filepath.Join(dir, format)
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		l, err := New(Options{Targets: []string{srv.URL + "/c"}, TargetsFile: path, TargetsFormat: format,
			Header: http.Header{"X-Test": {"default"}}, Body: []byte("b")})
		if err != nil {
			t.Fatalf("%s: %v", format, err)
		}
		want := []string{srv.URL + "/c", "GET " + srv.URL + "/a", "POST " + srv.URL + "/b"}
		if got := l.Targets(); !slices.Equal(got, want) {
			t.Errorf("%s: got targets %q, want %q", format, got, want)
		}
		if got := l.Schemes(); !slices.Equal(got, []check.Scheme{check.SchemeHTTP}) {
			t.Errorf("%s: got schemes %q, want [http]", format, got)
		}
	}
	l, err := New(Options{TargetsFile: filepath.Join(dir, FormatHTTP)})
	if err != nil {
		t.Fatal(err)
	}
	s, err := l.Run(t.Context(), Plan{Requests: 4, Concurrency: 1})
	if err != nil || s.Successes != 4 {
		t.Fatalf("got %d successes (%v), want 4", s.Successes, err)
	}
	if c.Path("/a") != 2 || c.Path("/b") != 2 {
		t.Errorf("got %d on /a, %d on /b, want 2 each", c.Path("/a"), c.Path("/b"))
	}
	if got := strings.Join(c.First(), " "); got != "GET file  "+strings.TrimPrefix(srv.URL, "http://") {
		t.Errorf("first request: got %q, want GET with the file's header", got)
	}
}
