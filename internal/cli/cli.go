// Package cli is the command-line plumbing the podlife binaries share:
// exit codes, the error-to-exit-code mapping, flags that also read
// environment variables (flags win), interspersed flag parsing and the
// version string.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/podlife/podlife/internal/check"
)

// Exit codes shared by the podlife binaries.
const (
	// ExitOK means success: every target healthy, the warm-up or the
	// pre-stop sequence done.
	ExitOK = 0
	// ExitUnhealthy means a target answered and the answer failed the
	// expectation (or, for warmup --strict, the warm-up failed).
	ExitUnhealthy = 1
	// ExitUsage means the command line or the environment is wrong.
	ExitUsage = 2
	// ExitUnreachable means a target could not be reached: refused,
	// DNS, TLS handshake, timeout.
	ExitUnreachable = 3
)

// UsageError is a command-line or configuration error: exit code 2.
type UsageError struct{ Msg string }

// Error returns the message.
func (e *UsageError) Error() string { return e.Msg }

// Usagef returns a *UsageError with a formatted message.
func Usagef(format string, args ...any) error {
	return &UsageError{Msg: fmt.Sprintf(format, args...)}
}

// ExitError carries an exit code for an error whose lines have already
// been written; Main prints nothing more for it.
type ExitError struct{ Code int }

// Error describes the exit code.
func (e *ExitError) Error() string { return fmt.Sprintf("exit status %d", e.Code) }

// ErrDone is returned by ParseCommand after --help or --version: the
// command has done what was asked. It exits 0 and prints nothing more.
var ErrDone = errors.New("done")

// ExitCode maps an error returned by a command's run function to its exit
// code: nil, ErrDone and flag.ErrHelp are 0, usage and configuration errors 2, an
// *ExitError its code, a check error 1 or 3, anything else 1.
func ExitCode(err error) int {
	var ue *UsageError
	var ce *check.ConfigError
	var ee *ExitError
	switch {
	case err == nil, errors.Is(err, ErrDone), errors.Is(err, flag.ErrHelp):
		return ExitOK
	case errors.As(err, &ee):
		return ee.Code
	case errors.As(err, &ue), errors.As(err, &ce):
		return ExitUsage
	}
	var cerr *check.Error
	if errors.As(err, &cerr) {
		if cerr.Kind == check.Unreachable {
			return ExitUnreachable
		}
		return ExitUnhealthy
	}
	return ExitUnhealthy
}

// RunFunc is the real entry point of a command.
type RunFunc func(ctx context.Context, args []string, stdout, stderr io.Writer) error

// Main runs run with os.Args and a context cancelled by SIGTERM or SIGINT,
// prints a returned error as "name: message" on stderr, and returns the
// exit code for main to pass to os.Exit.
func Main(name string, run RunFunc) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	return Report(name, run(ctx, os.Args[1:], os.Stdout, os.Stderr), os.Stderr)
}

// Report writes err as one line "name: message" on stderr, unless it is
// nil, ErrDone, flag.ErrHelp or an *ExitError (whose lines were already
// written), and returns its exit code.
func Report(name string, err error, stderr io.Writer) int {
	var ee *ExitError
	if err != nil && !errors.Is(err, ErrDone) && !errors.Is(err, flag.ErrHelp) && !errors.As(err, &ee) {
		fmt.Fprintf(stderr, "%s: %s\n", name, OneLine(err.Error()))
	}
	return ExitCode(err)
}

// OneLine keeps a message on one line: kubelet shows probe output in the
// Pod's events, and a stray newline there reads as a second failure.
func OneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' {
			return ' '
		}
		return r
	}, s)
}

// Version returns version when it was set at link time (-X main.version=…),
// else the module version from the build info, else "devel".
func Version(version string) string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		v := bi.Main.Version
		if v != "" && v != "(devel)" {
			return v
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				return "devel-" + s.Value[:12]
			}
		}
	}
	return "devel"
}

// Usage describes a command for ParseCommand.
type Usage struct {
	// Name is the command's name, such as "probe".
	Name string
	// Synopsis is the text --help prints before the flags.
	Synopsis string
	// EnvPrefix is the prefix of the command's variables, such as "PROBE_".
	EnvPrefix string
	// Version is the link-time version (main.version), "" if unset.
	Version string
}

// ParseCommand adds --version to fs, parses args with Parse and returns
// the positional arguments. After --help it prints the usage to stdout,
// after --version the version, and returns ErrDone.
func ParseCommand(fs *flag.FlagSet, args []string, stdout io.Writer, u Usage) ([]string, error) {
	var version bool
	fs.BoolVar(&version, "version", false, "print the version and exit")
	pos, err := Parse(fs, args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		PrintUsage(stdout, fs, u.Synopsis, u.EnvPrefix)
		return nil, ErrDone
	case err != nil:
		return nil, err
	case version:
		fmt.Fprintln(stdout, u.Name, Version(u.Version))
		return nil, ErrDone
	}
	return pos, nil
}

// Parse parses args with fs, allowing flags after positional arguments
// (probe TARGET --timeout 1s); "--" ends the flags. It returns the
// positional arguments. Errors are *UsageError values naming the flag;
// -h and --help return flag.ErrHelp.
func Parse(fs *flag.FlagSet, args []string) ([]string, error) {
	fs.SetOutput(io.Discard)
	var rest []string
	for i, a := range args {
		if a == "--" {
			args, rest = args[:i], args[i+1:]
			break
		}
	}
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, flagError(fs, err)
		}
		args = fs.Args()
		if len(args) == 0 {
			return append(pos, rest...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// flagError rewrites the flag package's errors into one line that names
// the flag with two dashes and says what would be right.
func flagError(fs *flag.FlagSet, err error) error {
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: "); ok {
		return Usagef("unknown flag %s", dashed(strings.TrimLeft(name, "-")))
	}
	if name, ok := strings.CutPrefix(msg, "flag needs an argument: "); ok {
		return Usagef("%s needs a value", dashed(strings.TrimLeft(name, "-")))
	}
	// invalid value "x" for flag -name: cause
	if rest, ok := strings.CutPrefix(msg, "invalid value "); ok {
		if i := strings.Index(rest, " for flag -"); i >= 0 {
			val := rest[:i]
			name, cause, _ := strings.Cut(rest[i+len(" for flag -"):], ": ")
			return Usagef("%s: invalid value %s: %s", dashed(name), val, want(fs.Lookup(name), cause))
		}
	}
	return Usagef("%s", msg)
}

// want turns the flag package's "parse error" into what a value of the
// flag's type looks like.
func want(f *flag.Flag, cause string) string {
	if f == nil {
		return cause
	}
	g, ok := f.Value.(flag.Getter)
	if !ok {
		return cause
	}
	switch g.Get().(type) {
	case time.Duration:
		return "want a duration such as 800ms, 2s or 1m30s"
	case bool:
		return "want true or false"
	case int, int64, uint, uint64:
		return "want a whole number"
	case float64:
		return "want a number"
	}
	return cause
}

func dashed(name string) string { return "--" + name }
