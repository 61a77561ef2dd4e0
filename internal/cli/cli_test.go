package cli

import (
	"errors"
	"flag"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/podlife/podlife/internal/check"
)

func TestParseInterspersed(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args    []string
		pos     []string
		timeout time.Duration
		hdr     []string
		err     string
	}{
		{args: []string{"a", "--timeout", "1s", "b"}, pos: []string{"a", "b"}, timeout: time.Second},
		{args: []string{"-timeout=2s", "a"}, pos: []string{"a"}, timeout: 2 * time.Second},
		{args: []string{"--header", "A: 1", "x", "--header", "B: 2"}, pos: []string{"x"}, hdr: []string{"A: 1", "B: 2"}},
		{args: []string{"a", "--", "--timeout", "b"}, pos: []string{"a", "--timeout", "b"}},
		{args: []string{"--bogus"}, err: "unknown flag --bogus"},
		{args: []string{"a", "--timeout"}, err: "--timeout needs a value"},
		{args: []string{"--timeout", "fast"}, err: `--timeout: invalid value "fast": want a duration such as 800ms, 2s or 1m30s`},
		{args: []string{"--n", "x"}, err: `--n: invalid value "x": want a whole number`},
	}
	for _, tt := range tests {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		var timeout time.Duration
		var hdr []string
		fs.DurationVar(&timeout, "timeout", 0, "")
		fs.Int("n", 0, "")
		fs.Var(NewList(&hdr), "header", "")
		pos, err := Parse(fs, tt.args)
		if tt.err != "" {
			var ue *UsageError
			if !errors.As(err, &ue) || err.Error() != tt.err {
				t.Errorf("Parse(%q): got error %v, want usage error %q", tt.args, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("Parse(%q): %v", tt.args, err)
		}
		if fmt.Sprint(pos) != fmt.Sprint(tt.pos) || timeout != tt.timeout || fmt.Sprint(hdr) != fmt.Sprint(tt.hdr) {
			t.Errorf("Parse(%q): got %q %v %q, want %q %v %q", tt.args, pos, timeout, hdr, tt.pos, tt.timeout, tt.hdr)
		}
	}
}

func TestEnvThenFlags(t *testing.T) {
	t.Parallel()
	type opts struct {
		Timeout time.Duration `env:"TIMEOUT"`
		CheckFlags
	}
	environ := map[string]string{"X_TIMEOUT": "3s", "X_HEADER": "A: 1\nB: 2", "X_STATUS": "204"}
	for _, tt := range []struct {
		args    []string
		timeout time.Duration
		hdr     string
		status  string
	}{
		{args: nil, timeout: 3 * time.Second, hdr: "[A: 1 B: 2]", status: "204"},
		{args: []string{"--timeout", "1s", "--header", "C: 3", "--status", "200"}, timeout: time.Second, hdr: "[C: 3]", status: "200"},
	} {
		var o opts
		if err := ParseEnv(&o, "X_", environ); err != nil {
			t.Fatal(err)
		}
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.DurationVar(&o.Timeout, "timeout", o.Timeout, "")
		o.CheckFlags.Register(fs)
		if _, err := Parse(fs, tt.args); err != nil {
			t.Fatal(err)
		}
		if o.Timeout != tt.timeout || fmt.Sprint(o.Header) != tt.hdr || o.Status != tt.status {
			t.Errorf("args %q: got %v %s %s, want %v %s %s", tt.args, o.Timeout, fmt.Sprint(o.Header), o.Status, tt.timeout, tt.hdr, tt.status)
		}
	}
}

func TestParseEnvErrors(t *testing.T) {
	t.Parallel()
	type opts struct {
		Timeout time.Duration `env:"TIMEOUT"`
		CheckFlags
	}
	for env, want := range map[string]string{
		"TIMEOUT":  `P_TIMEOUT="x": want a duration`,
		"MAX_AGE":  `P_MAX_AGE="x": want a duration`,
		"INSECURE": `P_INSECURE="x": want true or false`,
	} {
		var o opts
		err := ParseEnv(&o, "P_", map[string]string{"P_" + env: "x"})
		var ue *UsageError
		if !errors.As(err, &ue) || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("P_%s=x: got %v, want a usage error starting %q", env, err, want)
		}
	}
}

func TestExitCode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err  error
		want int
	}{
		{nil, ExitOK},
		{flag.ErrHelp, ExitOK},
		{Usagef("x"), ExitUsage},
		{&check.ConfigError{Flag: "status"}, ExitUsage},
		{fmt.Errorf("wrapped: %w", &check.Error{Kind: check.Unhealthy}), ExitUnhealthy},
		{&check.Error{Kind: check.Unreachable}, ExitUnreachable},
		{&ExitError{Code: 3}, 3},
		{errors.New("other"), ExitUnhealthy},
	}
	for _, tt := range tests {
		if got := ExitCode(tt.err); got != tt.want {
			t.Errorf("ExitCode(%v): got %d, want %d", tt.err, got, tt.want)
		}
	}
}

func TestCheckFlagsOptions(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		c    CheckFlags
		flag string
	}{
		{CheckFlags{Method: "GE T"}, "method"},
		{CheckFlags{ConnFlags: ConnFlags{Header: []string{"nocolon"}}}, "header"},
		{CheckFlags{ConnFlags: ConnFlags{Header: []string{"Bad Name: v"}}}, "header"},
		{CheckFlags{Status: "2xx-"}, "status"},
		{CheckFlags{BodyRegexp: "("}, "body-regexp"},
	} {
		_, err := tt.c.Options()
		var ce *check.ConfigError
		if !errors.As(err, &ce) || ce.Flag != tt.flag {
			t.Errorf("%+v: got %v, want a config error for --%s", tt.c, err, tt.flag)
		}
	}
	// "" is what a YAML block scalar's final newline leaves in PROBE_HEADER.
	o, err := (&CheckFlags{ConnFlags: ConnFlags{Header: []string{"x-a: 1", "X-A: 2", "Host: h", ""}, Insecure: true}, Status: "2xx"}).Options()
	if err != nil {
		t.Fatal(err)
	}
	if got := o.Header["X-A"]; len(got) != 2 || !o.Status.Match(204) || !o.TLS.InsecureSkipVerify {
		t.Errorf("got %+v, want two X-A values, 2xx, insecure", o)
	}
}

func TestReport(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		err  error
		out  string
		code int
	}{
		{nil, "", 0},
		{flag.ErrHelp, "", 0},
		{&ExitError{Code: 3}, "", 3},
		{Usagef("--x: bad\nvalue"), "t: --x: bad value\n", 2},
	} {
		var b strings.Builder
		if code := Report("t", tt.err, &b); code != tt.code || b.String() != tt.out {
			t.Errorf("Report(%v): got %d %q, want %d %q", tt.err, code, b.String(), tt.code, tt.out)
		}
	}
}
