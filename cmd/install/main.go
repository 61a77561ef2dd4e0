// Command install copies the podlife binaries out of the toolkit image into
// a directory, for images that have no shell and no cp: a Kubernetes init
// container runs it with an emptyDir mounted at DIR, and the application
// container then runs /podlife-bin/probe, /podlife-bin/prestop, ….
//
//	install [--from DIR] DEST [NAME...]
//
// With no NAME it copies every regular file of --from (by default the
// directory install itself lives in, /podlife in the image). Each file is
// written to a temporary name in DEST, made executable (0755) and renamed
// into place, so a reader never sees half a binary and a retried init
// container (delivery is at-least-once) simply replaces the files.
//
// Exit codes: 0 copied, 1 a copy failed, 2 usage error.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
)

// Exit codes.
const (
	// exitOK means every file was copied.
	exitOK = 0
	// exitFailed means a file could not be read or written.
	exitFailed = 1
	// exitUsage means the command line is wrong.
	exitUsage = 2
)

// version is set at link time with -X main.version=….
var version string

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// usageError is a command-line error: exit code 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// run is the real entry point; it returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	err := install(args, stdout)
	var ue *usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "install: %s\n", err)
		fmt.Fprintln(stderr, "hint: install [--from DIR] DEST [NAME...]; see install --help")
		return exitUsage
	default:
		fmt.Fprintf(stderr, "install: %s\n", err)
		return exitFailed
	}
}

// options are the parsed command line.
type options struct {
	from    string
	dest    string
	names   []string
	verbose bool
}

func parse(args []string, stdout io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("install", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&o.from, "from", "", "directory to copy from (default: the directory of this executable)")
	fs.BoolVar(&o.verbose, "verbose", false, "print a line per copied file")
	showVersion := fs.Bool("version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, "usage: install [--from DIR] [--verbose] DEST [NAME...]\n\n"+
				"Copies the podlife binaries (every regular file of --from, or only the NAMEs)\n"+
				"into DEST, executable, each replaced atomically. For init containers that\n"+
				"deliver podlife into an emptyDir of an image with no shell and no cp.\n\nFlags:\n")
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			return o, err
		}
		return o, &usageError{err.Error()}
	}
	if *showVersion {
		fmt.Fprintln(stdout, versionString())
		return o, flag.ErrHelp
	}
	if fs.NArg() < 1 {
		return o, &usageError{"missing DEST directory"}
	}
	o.dest, o.names = fs.Arg(0), fs.Args()[1:]
	for _, n := range o.names {
		if n == "" || strings.ContainsRune(n, '/') || n == "." || n == ".." {
			return o, &usageError{fmt.Sprintf("NAME %q: want a file name, not a path", n)}
		}
	}
	if o.from == "" {
		exe, err := os.Executable()
		if err != nil {
			return o, fmt.Errorf("cannot find my own directory (use --from): %w", err)
		}
		o.from = filepath.Dir(exe)
	}
	return o, nil
}

func install(args []string, stdout io.Writer) error {
	o, err := parse(args, stdout)
	if err != nil {
		return err
	}
	names := o.names
	if len(names) == 0 {
		entries, err := os.ReadDir(o.from)
		if err != nil {
			return err
		}
		for _, e := range entries {
			if e.Type().IsRegular() {
				names = append(names, e.Name())
			}
		}
		if len(names) == 0 {
			return fmt.Errorf("%s: no files to copy", o.from)
		}
	}
	if err := os.MkdirAll(o.dest, 0o755); err != nil {
		return err
	}
	for _, n := range names {
		if err := copyFile(filepath.Join(o.from, n), filepath.Join(o.dest, n)); err != nil {
			return err
		}
		if o.verbose {
			fmt.Fprintf(stdout, "install: %s -> %s\n", filepath.Join(o.from, n), filepath.Join(o.dest, n))
		}
	}
	return nil
}

// copyFile copies src to dst through a temporary file in dst's directory,
// mode 0755, and renames it into place.
func copyFile(src, dst string) (err error) {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	if fi, err := in.Stat(); err != nil {
		return err
	} else if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s: not a regular file", src)
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err := io.Copy(tmp, in); err != nil {
		return fmt.Errorf("copy %s: %w", src, err)
	}
	if err := tmp.Chmod(0o755); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), dst)
}

func versionString() string {
	v := version
	if v == "" {
		v = "devel"
		if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v = bi.Main.Version
		}
	}
	return "install " + v
}
