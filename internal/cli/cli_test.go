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
		{args: []string{"--v=maybe"}, err: `--v: invalid value "maybe": want true or false`},
	}
	for _, tt := range tests {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		var timeout time.Duration
		var hdr []string
		fs.DurationVar(&timeout, "timeout", 0, "")
		fs.Int("n", 0, "")
		fs.Bool("v", false, "")
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

func TestParseEnvErrors(t *testing.T) {
	t.Parallel()
	type opts struct {
		Timeout  time.Duration `env:"TIMEOUT"`
		MaxAge   time.Duration `env:"MAX_AGE"`
		Insecure bool          `env:"INSECURE"`
		Header   []string      `env:"HEADER" envSeparator:"\n"`
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
		{WithCode(ExitUnhealthy, errors.New("strict")), ExitUnhealthy},
		{errors.New("other"), ExitUnhealthy},
		{errors.Join(&check.Error{Kind: check.Unhealthy}, fmt.Errorf("t: %w", &check.Error{Kind: check.Unreachable})), ExitUnreachable},
		{errors.Join(&check.Error{Kind: check.Unhealthy}, errors.New("x")), ExitUnhealthy},
		{ErrDone, ExitOK},
	}
	for _, tt := range tests {
		if got := ExitCode(tt.err); got != tt.want {
			t.Errorf("ExitCode(%v): got %d, want %d", tt.err, got, tt.want)
		}
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
		{ErrDone, "", 0},
		{Usagef("--x: bad\nvalue"), "t: --x: bad value\n", 2},
		{errors.Join(
			fmt.Errorf("http://a/: %w", &check.Error{Kind: check.Unhealthy, Reason: "status 503"}),
			fmt.Errorf("tcp://b:1: %w", &check.Error{Kind: check.Unreachable, Reason: "connect: connection refused"}),
		), "t: http://a/: status 503\nt: tcp://b:1: connect: connection refused\n", 3},
		{WithCode(ExitUnhealthy, errors.New("cannot write --ready-file (--strict)")), "t: cannot write --ready-file (--strict)\n", 1},
	} {
		var b strings.Builder
		if code := Report("t", tt.err, &b); code != tt.code || b.String() != tt.out {
			t.Errorf("Report(%v): got %d %q, want %d %q", tt.err, code, b.String(), tt.code, tt.out)
		}
	}
}

func TestGiven(t *testing.T) {
	t.Parallel()
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.Duration("max", 20*time.Second, "")
	fs.Duration("interval", time.Second, "")
	fs.Duration("sleep", 0, "")
	fs.Duration("timeout", 0, "")
	// --max given explicitly with its default value still counts as given.
	if _, err := Parse(fs, []string{"--max", "20s"}); err != nil {
		t.Fatal(err)
	}
	given := Given(fs, "P_", map[string]string{"P_INTERVAL": "1s", "P_MAX": "5s", "P_TIMEOUT": ""})
	for name, want := range map[string]string{"max": "--max", "interval": "P_INTERVAL", "sleep": "", "timeout": ""} {
		if got := given(name); got != want {
			t.Errorf("given(%q): got %q, want %q", name, got, want)
		}
	}
}
