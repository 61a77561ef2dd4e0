// Package cli is the command-line plumbing the podlife binaries share:
// exit codes, the one error path (Report: print, then map to an exit
// code), flags that also read environment variables (flags win),
// interspersed flag parsing and the version string. It does not import
// internal/check (and so not net/http), so that install stays small; the
// check flags are in the checkflag subpackage.
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

	"github.com/podlife/podlife/internal/oneline"
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

// ExitCode returns ExitUsage.
func (e *UsageError) ExitCode() int { return ExitUsage }

// Usagef returns a *UsageError with a formatted message.
func Usagef(format string, args ...any) error {
	return &UsageError{Msg: fmt.Sprintf(format, args...)}
}

// WithCode returns err with the exit code code, for a failure that is
// neither a check's nor a usage error (warmup --strict). Report prints it
// like any other error.
func WithCode(code int, err error) error { return &codeError{code: code, err: err} }

type codeError struct {
	code int
	err  error
}

func (e *codeError) Error() string { return e.err.Error() }
func (e *codeError) Unwrap() error { return e.err }
func (e *codeError) ExitCode() int { return e.code }

// ErrDone is returned by ParseCommand after --help or --version: the
// command has done what was asked. It exits 0 and prints nothing more.
var ErrDone = errors.New("done")

// ExitCode maps an error returned by a command's run function to its exit
// code: nil, ErrDone and flag.ErrHelp are 0; an error with an ExitCode()
// int method in its chain has that code (a *UsageError 2, WithCode's
// code; internal/check's *Error 1 or 3 and *ConfigError 2); an error
// joined from several (errors.Join: one per failed target) has the
// highest of theirs, so that 3 (unreachable) outranks 1 (unhealthy); any
// other error is 1.
func ExitCode(err error) int {
	switch {
	case err == nil, errors.Is(err, ErrDone), errors.Is(err, flag.ErrHelp):
		return ExitOK
	}
	if errs := joined(err); errs != nil {
		code := ExitOK
		for _, e := range errs {
			code = max(code, ExitCode(e))
		}
		return code
	}
	var c interface{ ExitCode() int }
	if errors.As(err, &c) {
		return c.ExitCode()
	}
	return ExitUnhealthy
}

// joined returns the errors err was joined from, if it was.
func joined(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return nil
}

// RunFunc is the real entry point of a command.
type RunFunc func(ctx context.Context, args []string, stdout, stderr io.Writer) error

// Main runs run with os.Args and a context cancelled by SIGTERM or SIGINT,
// and returns Report's exit code for main to pass to os.Exit.
func Main(name string, run RunFunc) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	return Report(name, run(ctx, os.Args[1:], os.Stdout, os.Stderr), os.Stderr)
}

// Report is a command's one error path: it writes err on stderr, one line
// "name: message" per error it was joined from (one per failed target),
// each kept on one line, and returns the exit code (ExitCode). nil,
// ErrDone and flag.ErrHelp print nothing.
func Report(name string, err error, stderr io.Writer) int {
	if err != nil && !errors.Is(err, ErrDone) && !errors.Is(err, flag.ErrHelp) {
		writeLines(stderr, name, err)
	}
	return ExitCode(err)
}

func writeLines(w io.Writer, name string, err error) {
	if errs := joined(err); errs != nil {
		for _, e := range errs {
			writeLines(w, name, e)
		}
		return
	}
	fmt.Fprintf(w, "%s: %s\n", name, oneline.Clip(err.Error(), 0))
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
	// invalid boolean value "x" for -name: cause (a bool flag given =x)
	if rest, ok := strings.CutPrefix(msg, "invalid boolean value "); ok {
		if i := strings.Index(rest, " for -"); i >= 0 {
			name, _, _ := strings.Cut(rest[i+len(" for -"):], ": ")
			return Usagef("%s: invalid value %s: want true or false", dashed(name), rest[:i])
		}
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
	if g, ok := f.Value.(flag.Getter); ok {
		return wantValue(g.Get(), cause)
	}
	return cause
}

// wantValue says what a value of v's type looks like, for the errors of
// flags and of environment variables alike; cause when it cannot say.
func wantValue(v any, cause string) string {
	switch v.(type) {
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
