package logging

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/podlife/podlife/logging/internal/reqlog"
)

func TestConfigFromEnv(t *testing.T) {
	t.Parallel()
	host := func() (string, error) { return "node-host", nil }
	noHost := func() (string, error) { return "", errors.New("no host name") }
	tests := []struct {
		name    string
		env     map[string]string
		host    func() (string, error)
		want    Config
		wantErr string
	}{
		{"defaults", nil, host, Config{Level: LevelInfo, Format: FormatJSON, InstanceID: "node-host"}, ""},
		{"pod name wins", map[string]string{"POD_NAME": "web-1"}, host, Config{Level: LevelInfo, Format: FormatJSON, InstanceID: "web-1"}, ""},
		{"no host name", nil, noHost, Config{Level: LevelInfo, Format: FormatJSON}, ""},
		{"all set", map[string]string{"LOG_LEVEL": "debug", "LOG_FORMAT": "Console", "SERVICE_NAME": "shop", "OTEL_SERVICE_NAME": "otel", "POD_NAME": "p"}, host,
			Config{Level: LevelDebug, Format: FormatConsole, ServiceName: "shop", InstanceID: "p"}, ""},
		{"otel service name", map[string]string{"OTEL_SERVICE_NAME": "otel"}, host, Config{Level: LevelInfo, Format: FormatJSON, ServiceName: "otel", InstanceID: "node-host"}, ""},
		{"bad level", map[string]string{"LOG_LEVEL": "loud"}, host, Config{}, "LOG_LEVEL"},
		{"bad format", map[string]string{"LOG_FORMAT": "xml"}, host, Config{}, "LOG_FORMAT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if tt.env == nil {
				tt.env = map[string]string{}
			}
			got, err := configFromEnv(func(k string) string { return tt.env[k] }, tt.host)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got error %v, want one mentioning %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Level != tt.want.Level || got.Format != tt.want.Format || got.ServiceName != tt.want.ServiceName || got.InstanceID != tt.want.InstanceID {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestNewLevels(t *testing.T) {
	t.Parallel()
	tests := []struct {
		level     Level
		wantTrace bool
		wantDebug bool
		wantInfo  bool
		wantError bool
	}{
		{0, false, false, true, true},
		{LevelTrace, true, true, true, true},
		{LevelDebug, false, true, true, true},
		{LevelInfo, false, false, true, true},
		{LevelWarn, false, false, false, true},
		{LevelError, false, false, false, true},
		{LevelDisabled, false, false, false, false},
		// Out of range: clamped, so that every Level is usable.
		{-100, true, true, true, true},
		{100, false, false, false, false},
	}
	for _, tt := range tests {
		var buf bytes.Buffer
		zl := New(Config{Level: tt.level, Output: &buf}).Zerolog()
		zl.Trace().Msg("t")
		zl.Debug().Msg("d")
		zl.Info().Msg("i")
		zl.Error().Msg("e")
		for _, w := range []struct {
			msg  string
			want bool
		}{{"t", tt.wantTrace}, {"d", tt.wantDebug}, {"i", tt.wantInfo}, {"e", tt.wantError}} {
			if got := strings.Contains(buf.String(), `"message":"`+w.msg+`"`); got != w.want {
				t.Errorf("level %v: got %q written %v, want %v", tt.level, w.msg, got, w.want)
			}
		}
	}
}

func TestParseLevel(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in      string
		want    Level
		wantErr bool
	}{
		{"", LevelInfo, false},
		{"trace", LevelTrace, false},
		{"debug", LevelDebug, false},
		{"INFO", LevelInfo, false},
		{"warn", LevelWarn, false},
		{"warning", LevelWarn, false},
		{"Error", LevelError, false},
		{"disabled", LevelDisabled, false},
		{"off", LevelDisabled, false},
		{"none", LevelDisabled, false},
		{"verbose", LevelInfo, true},
	} {
		got, err := ParseLevel(tt.in)
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("ParseLevel(%q): got %v, %v, want %v and error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
		if err == nil && tt.in != "" {
			// String gives back a name ParseLevel reads as the same level.
			if back, err := ParseLevel(got.String()); back != got || err != nil {
				t.Errorf("ParseLevel(%q.String()=%q): got %v, %v, want %v", tt.in, got.String(), back, err, got)
			}
		}
	}
	for _, tt := range []struct {
		in      string
		want    Format
		wantErr bool
	}{{"", FormatJSON, false}, {"JSON", FormatJSON, false}, {"console", FormatConsole, false}, {"yaml", FormatJSON, true}} {
		got, err := ParseFormat(tt.in)
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("ParseFormat(%q): got %v, %v, want %v and error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
	var l Level
	if err := l.UnmarshalText([]byte("loud")); err == nil || !strings.Contains(err.Error(), "want trace, debug") {
		t.Errorf("UnmarshalText(loud): got %v, want an error listing the levels", err)
	}
}

// TestLoggersCoexist checks that a Logger keeps no state outside itself:
// two loggers with different settings write their own lines, and zerolog's
// globals are left as they were.
func TestLoggersCoexist(t *testing.T) {
	t.Parallel()
	before := [...]string{zerolog.TimestampFieldName, zerolog.LevelFieldName, zerolog.MessageFieldName, zerolog.TimeFieldFormat}
	beforeLevel := zerolog.GlobalLevel()
	var a, b bytes.Buffer
	la := New(Config{Output: &a, ServiceName: "a", Level: LevelDebug})
	lb := New(Config{Output: &b, ServiceName: "b", Level: LevelError, Format: FormatConsole})
	za, zb := la.Zerolog(), lb.Zerolog()
	za.Debug().Msg("from a")
	zb.Debug().Msg("dropped")
	zb.Error().Msg("from b")
	if got := a.String(); !strings.Contains(got, `"service.name":"a"`) || !strings.Contains(got, `"message":"from a"`) {
		t.Errorf("got %q from logger a, want its JSON line", got)
	}
	if got := b.String(); strings.Contains(got, "dropped") || !strings.Contains(got, "from b") || strings.HasPrefix(got, "{") {
		t.Errorf("got %q from logger b, want one console line", got)
	}
	after := [...]string{zerolog.TimestampFieldName, zerolog.LevelFieldName, zerolog.MessageFieldName, zerolog.TimeFieldFormat}
	if after != before || zerolog.GlobalLevel() != beforeLevel {
		t.Errorf("got zerolog globals %v %v, want unchanged %v %v", after, zerolog.GlobalLevel(), before, beforeLevel)
	}
}

func TestTimestamp(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   time.Time
		want string
	}{
		{time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), "2026-01-02T03:04:05.000000000Z"},
		{time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.UTC), "2026-01-02T03:04:05.123456789Z"},
		{time.Date(2026, 1, 2, 12, 4, 5, 5000, time.FixedZone("JST", 9*3600)), "2026-01-02T03:04:05.000005000Z"},
		{time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), "0001-01-01T00:00:00.000000000Z"},
		{time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC), "9999-12-31T23:59:59.999999999Z"},
		{time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), "10000-01-01T00:00:00.000000000Z"},
	}
	for _, tt := range tests {
		var buf bytes.Buffer
		l := New(Config{Output: &buf, Now: func() time.Time { return tt.in }})
		zl := l.Zerolog()
		zl.Info().Msg("x")
		want := `"timestamp":"` + tt.want + `"`
		if !strings.Contains(buf.String(), want) {
			t.Errorf("got %s, want it to contain %s", buf.String(), want)
		}
	}
}

func TestConsoleFormat(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	l := New(Config{Output: &buf, Format: FormatConsole, ServiceName: "shop",
		Now: func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 6e6, time.UTC) }})
	zl := l.Zerolog()
	zl.Info().Str("k", "v").Msg("hello")
	got := buf.String()
	want := "03:04:05.006 INF hello k=v service.name=shop\n"
	if got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestServiceWiring is the examples/service scenario: with POD_NAME=x, a
// request to /hello with X-Request-ID r1 and X-User-ID u1 gives one line
// with those values, and /fail one with error.code.
func TestServiceWiring(t *testing.T) {
	t.Parallel()
	cfg, err := configFromEnv(func(k string) string { return map[string]string{"POD_NAME": "x"}[k] }, os.Hostname)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cfg.Output = &out
	cfg.UserID = func(r *http.Request) string { return r.Header.Get("X-User-ID") }
	logger := New(cfg)
	mux := http.NewServeMux()
	mux.HandleFunc("/hello", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello\n") })
	mux.Handle("/fail", HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		return &Error{Code: "DEMO_FAILURE", Err: errors.New("asked to fail")}
	}))
	srv := httptest.NewServer(logger.Middleware(mux))
	defer srv.Close()
	for _, tt := range []struct{ path, want string }{
		{"/hello", `"service.instance.id":"x",.*"http.request.id":"r1","user.id":"u1",`},
		{"/fail", `"error.code":"DEMO_FAILURE"`},
	} {
		out.Reset()
		req, _ := http.NewRequest(http.MethodGet, srv.URL+tt.path, nil)
		req.Header.Set("X-Request-ID", "r1")
		req.Header.Set("X-User-ID", "u1")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if n := strings.Count(out.String(), "\n"); n != 1 || !regexp.MustCompile(tt.want).MatchString(out.String()) {
			t.Errorf("%s: got %d lines %s, want one matching %s", tt.path, n, out.String(), tt.want)
		}
	}
}

// TestConfigFromEnvGetenv checks that ConfigFromEnv reads through the
// getenv it is given, not the process environment.
func TestConfigFromEnvGetenv(t *testing.T) {
	t.Parallel()
	vars := map[string]string{"POD_NAME": "p-1", "LOG_LEVEL": "warn", "SERVICE_NAME": "shop"}
	cfg, err := ConfigFromEnv(func(k string) string { return vars[k] })
	if err != nil {
		t.Fatal(err)
	}
	if cfg.InstanceID != "p-1" || cfg.Level != LevelWarn || cfg.ServiceName != "shop" || cfg.Format != FormatJSON {
		t.Errorf("got %+v, want instance p-1, level warn, service shop, format json", cfg)
	}
	if _, err := ConfigFromEnv(func(k string) string { return map[string]string{"LOG_LEVEL": "loud"}[k] }); err == nil {
		t.Errorf("LOG_LEVEL=loud: got no error, want one")
	}
}

// TestFieldsAgree checks that the keys the request state writes are the
// Field constants this package documents.
func TestFieldsAgree(t *testing.T) {
	t.Parallel()
	for _, p := range [][2]string{
		{FieldTimestamp, reqlog.KeyTimestamp},
		{FieldRequestID, reqlog.KeyRequestID},
		{FieldUserID, reqlog.KeyUserID},
		{FieldErrorCode, reqlog.KeyErrorCode},
		{FieldErrorMessage, reqlog.KeyErrorMessage},
		{FieldTraceID, reqlog.KeyTraceID},
		{FieldSpanID, reqlog.KeySpanID},
		{FieldDuration, reqlog.KeyDuration},
		{TimeLayout, reqlog.TimeLayout},
	} {
		if p[0] != p[1] {
			t.Errorf("got %q in package logging, %q in reqlog, want the same", p[0], p[1])
		}
	}
}
