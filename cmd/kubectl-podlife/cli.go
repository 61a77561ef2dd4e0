package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// Exit codes.
const (
	// exitOK: no finding at or above --fail-on; inject printed its output.
	exitOK = 0
	// exitFindings: lint found something at or above --fail-on.
	exitFindings = 1
	// exitUsage: a bad command line, or input that cannot be read or decoded.
	exitUsage = 2
)

const usageText = `usage: kubectl podlife lint   [-f FILE|DIR|-]... [-R] [-o text|json|sarif] [--fail-on warning|error]
       kubectl podlife inject [-f FILE|DIR|-]... [-R] [--delivery init-container|image-volume|image]
                              [--image REF] [--warmup URL]... [--notify URL] [--ready TARGET]...
       kubectl podlife rules | version

lint    checks Kubernetes manifests (multi-document YAML or JSON: kubectl, Kustomize,
        helm template output) for lifecycle mistakes. Exit 0 clean, 1 findings at or
        above --fail-on, 2 usage error or unreadable input.
inject  prints the same objects with podlife wired in: the binaries delivered, a
        bounded warm-up as postStart, prestop as preStop, the grace period raised to
        fit. Running it twice changes nothing.
rules   lists the rules of lint.`

// usageError is a bad command line: exit 2, with a hint.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// errFindings is lint's verdict: findings at or above --fail-on.
var errFindings = errors.New("findings")

// run is the real entry point; it returns the exit code.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	err := dispatch(args, stdin, stdout, stderr)
	var ue *usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.Is(err, errFindings):
		return exitFindings
	}
	// A usage error, an *inputError naming the file and the document, or a
	// failed write of the output: one line, exit 2.
	fmt.Fprintf(stderr, "kubectl-podlife: %s\n", oneLine(err.Error()))
	if errors.As(err, &ue) {
		fmt.Fprintln(stderr, "hint: kubectl podlife --help")
	}
	return exitUsage
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func dispatch(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usagef("no command; want lint, inject, rules or version")
	}
	switch cmd, rest := args[0], args[1:]; cmd {
	case "lint":
		return runLint(rest, stdin, stdout)
	case "inject":
		return runInject(rest, stdin, stdout, stderr)
	case "rules":
		if len(rest) > 0 {
			return usagef("rules takes no argument, got %q", rest[0])
		}
		for _, r := range rules() {
			fmt.Fprintf(stdout, "%-28s %-8s %s\n", r.ID, r.Severity, r.Summary)
		}
		return nil
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, "kubectl-podlife", buildVersion())
		return nil
	case "help", "-h", "-help", "--help":
		fmt.Fprintln(stdout, usageText)
		return nil
	default:
		return usagef("unknown command %q; want lint, inject, rules or version", cmd)
	}
}

// list is a repeatable string flag.
type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(v string) error { *l = append(*l, v); return nil }

// inputFlags are the flags that say what to read, as kubectl spells them.
type inputFlags struct {
	files     list
	recursive bool
}

func (f *inputFlags) register(fs *flag.FlagSet) {
	fs.Var(&f.files, "f", "a manifest `FILE`, a DIR of them, or - for stdin; repeatable")
	fs.Var(&f.files, "filename", "same as -f")
	fs.BoolVar(&f.recursive, "R", false, "walk the directories given with -f recursively")
	fs.BoolVar(&f.recursive, "recursive", false, "same as -R")
}

// parse parses a subcommand's flags; "--help" prints its usage.
func parse(fs *flag.FlagSet, args []string, stdout io.Writer) error {
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(stdout, usageText)
		fmt.Fprintf(stdout, "\nFlags of %s:\n", fs.Name())
		fs.SetOutput(stdout)
		fs.PrintDefaults()
		return err
	}
	if err != nil {
		return usagef("%s: %v", fs.Name(), err)
	}
	if fs.NArg() > 0 {
		return usagef("%s: unexpected argument %q; give files with -f", fs.Name(), fs.Arg(0))
	}
	return nil
}

func (f *inputFlags) read(stdin io.Reader) ([]*object, int, error) {
	if len(f.files) == 0 {
		return nil, 0, usagef("no input; want -f FILE, -f DIR or -f - for stdin")
	}
	docs, err := readInputs(f.files, f.recursive, stdin)
	if err != nil {
		return nil, 0, err
	}
	objs, err := decodeObjects(docs)
	return objs, len(docs), err
}

func runLint(args []string, stdin io.Reader, stdout io.Writer) error {
	fs := flag.NewFlagSet("lint", flag.ContinueOnError)
	var in inputFlags
	in.register(fs)
	output := fs.String("o", "text", "output `format`: text, json or sarif")
	fs.StringVar(output, "output", "text", "same as -o")
	failOn := fs.String("fail-on", severityWarning, "exit 1 on findings of this `severity` or worse: warning or error")
	if err := parse(fs, args, stdout); err != nil {
		return err
	}
	switch *output {
	case "text", "json", "sarif":
	default:
		return usagef("-o %q: want text, json or sarif", *output)
	}
	if *failOn != severityWarning && *failOn != severityError {
		return usagef("--fail-on %q: want warning or error", *failOn)
	}
	objs, _, err := in.read(stdin)
	if err != nil {
		return err
	}
	findings := lint(objs, assumedDefaults())
	switch *output {
	case "json":
		err = writeJSON(stdout, findings, len(objs))
	case "sarif":
		err = writeSARIF(stdout, findings, buildVersion())
	default:
		err = writeText(stdout, findings, len(objs))
	}
	if err != nil {
		return err
	}
	for _, f := range findings {
		if severityRank(f.Severity) >= severityRank(*failOn) {
			return errFindings
		}
	}
	return nil
}
