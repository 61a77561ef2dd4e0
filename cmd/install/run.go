package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/podlife/podlife/internal/cli"
	"github.com/podlife/podlife/internal/oneline"
)

const synopsis = `
usage: install [--from DIR] [--verbose] DEST [NAME...]

Copies the podlife binaries (every regular file of --from, or only the NAMEs)
into DEST, executable, each replaced atomically. For init containers that
deliver podlife into an emptyDir of an image with no shell and no cp.

Exit codes: 0 copied, 1 a copy failed, 2 usage error (a --from with nothing to copy too).`

// options are install's flags and arguments.
type options struct {
	from    string
	verbose bool
	dest    string
	names   []string
}

// run copies the files; cli.Report prints its error and maps it to the
// exit code: a usage error 2, a failed copy 1.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o options
	fs := flag.NewFlagSet("install", flag.ContinueOnError)
	fs.StringVar(&o.from, "from", "", "`directory` to copy from (default: the directory of this executable)")
	fs.BoolVar(&o.verbose, "verbose", false, "print a line per copied file")
	rest, err := cli.ParseCommand(fs, args, stdout, cli.Usage{Name: "install", Synopsis: synopsis, Version: version})
	if err != nil {
		return err
	}
	if err := o.validate(rest); err != nil {
		return err
	}
	return o.install(ctx, stdout)
}

// validate is install's one check of its options and arguments.
func (o *options) validate(rest []string) error {
	if len(rest) < 1 {
		return cli.Usagef("missing DEST directory; want install [--from DIR] DEST [NAME...]")
	}
	o.dest, o.names = rest[0], rest[1:]
	for _, n := range o.names {
		if n == "" || strings.ContainsRune(n, '/') || n == "." || n == ".." {
			return cli.Usagef("NAME %q: want a file name, not a path", n)
		}
	}
	if o.from == "" {
		exe, err := os.Executable()
		if err != nil {
			return cli.Usagef("--from: cannot find my own directory (%v); give --from DIR", err)
		}
		o.from = filepath.Dir(exe)
	}
	return nil
}

func (o *options) install(ctx context.Context, stdout io.Writer) error {
	names := o.names
	if len(names) == 0 {
		entries, err := os.ReadDir(o.from)
		if err != nil {
			return cli.Usagef("--from: %s", oneline.PathError(err))
		}
		for _, e := range entries {
			if e.Type().IsRegular() {
				names = append(names, e.Name())
			}
		}
		if len(names) == 0 {
			return cli.Usagef("--from: %s: no files to copy", o.from)
		}
	}
	if err := os.MkdirAll(o.dest, 0o755); err != nil {
		return fmt.Errorf("DEST: %s", oneline.PathError(err))
	}
	for _, n := range names {
		if err := ctx.Err(); err != nil {
			return err
		}
		src, dst := filepath.Join(o.from, n), filepath.Join(o.dest, n)
		if err := copyFile(src, dst); err != nil {
			return err
		}
		if o.verbose {
			fmt.Fprintf(stdout, "install: %s -> %s\n", src, dst)
		}
	}
	return nil
}

// copyFile copies src to dst through a temporary file in dst's directory,
// mode 0755, and renames it into place. Its errors read "path: cause".
func copyFile(src, dst string) (err error) {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("%s", oneline.PathError(err))
	}
	defer in.Close()
	if fi, err := in.Stat(); err != nil {
		return fmt.Errorf("%s", oneline.PathError(err))
	} else if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s: not a regular file", src)
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".tmp-*")
	if err != nil {
		return fmt.Errorf("%s", oneline.PathError(err))
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err := io.Copy(tmp, in); err != nil {
		return fmt.Errorf("copy %s: %s", src, oneline.PathError(err))
	}
	if err := tmp.Chmod(0o755); err != nil {
		return fmt.Errorf("%s", oneline.PathError(err))
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("%s", oneline.PathError(err))
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return fmt.Errorf("%s", oneline.PathError(err))
	}
	return nil
}
