package cli

import (
	"errors"
	"flag"
	"fmt"
	"reflect"
	"strings"

	"github.com/podlife/podlife/internal/envconf"
)

// Environ returns the process environment as a map, for ParseEnv.
func Environ(environ []string) map[string]string {
	m := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}

// ParseEnv fills opts (a pointer to a struct with `env` tags) from the
// environment through internal/envconf, every key prefixed with prefix
// (such as "PROBE_"). Call it before registering flags whose defaults are
// the filled fields: then a flag on the command line wins over the
// environment. Errors are *UsageError values naming the variable.
func ParseEnv(opts any, prefix string, environ map[string]string) error {
	if !hasPrefixedKey(environ, prefix) {
		return nil // the common case: no variable to parse, no reflection to pay for
	}
	err := envconf.Parse(opts, prefix, func(k string) string { return environ[k] })
	var ee *envconf.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ee):
		return Usagef("%s=%q: %s", ee.Key, ee.Value, wantValue(reflect.Zero(ee.Type).Interface(), ee.Err.Error()))
	}
	return Usagef("environment: %v", err)
}

func hasPrefixedKey(environ map[string]string, prefix string) bool {
	for k := range environ {
		if strings.HasPrefix(k, prefix) {
			return true
		}
	}
	return false
}

// EnvMismatch returns the flags of fs that have no environment variable
// of the same name (prefix + FLAG_NAME) in opts' `env` tags, and the
// variables with no flag, skipping --version. Commands test that it is
// empty, so that the README's promise "every flag is also a variable"
// cannot drift.
func EnvMismatch(fs *flag.FlagSet, opts any, prefix string) []string {
	vars := map[string]bool{}
	for _, k := range envconf.Keys(opts, prefix) {
		vars[k] = true
	}
	var bad []string
	fs.VisitAll(func(f *flag.Flag) {
		if f.Name == "version" {
			return
		}
		key := prefix + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if !vars[key] {
			bad = append(bad, "--"+f.Name+" has no "+key)
		}
		delete(vars, key)
	})
	for k := range vars {
		bad = append(bad, k+" has no flag")
	}
	return bad
}

// List is a repeatable string flag (--header A --header B). Values from
// the environment are replaced, not extended, by the first use on the
// command line.
type List struct {
	p       *[]string
	cmdline bool
}

// NewList returns a List flag value that stores into p; *p holds the
// environment's values, if any.
func NewList(p *[]string) *List { return &List{p: p} }

// String returns the values joined by commas.
func (l *List) String() string {
	if l == nil || l.p == nil {
		return ""
	}
	return strings.Join(*l.p, ",")
}

// Set appends a value, first dropping the environment's.
func (l *List) Set(v string) error {
	if !l.cmdline {
		*l.p = nil
		l.cmdline = true
	}
	*l.p = append(*l.p, v)
	return nil
}

// Get returns the values.
func (l *List) Get() any { return *l.p }

// PrintUsage writes a usage text: the synopsis, then each flag with its
// help, default and environment variable (prefix + FLAG_NAME; none when
// prefix is "": install reads no variable).
func PrintUsage(w interface{ Write([]byte) (int, error) }, fs *flag.FlagSet, synopsis, prefix string) {
	fmt.Fprintln(w, strings.TrimSpace(synopsis))
	if prefix != "" {
		fmt.Fprintln(w, "\nFlags (each also an environment variable; a flag wins):")
	} else {
		fmt.Fprintln(w, "\nFlags:")
	}
	fs.VisitAll(func(f *flag.Flag) {
		if f.Name == "version" {
			fmt.Fprintln(w, "  --version\n      print the version and exit")
			return
		}
		name, usage := flag.UnquoteUsage(f)
		line := "  --" + f.Name
		if name != "" {
			line += " " + name
		}
		fmt.Fprintln(w, line)
		fmt.Fprintf(w, "      %s", usage)
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" && f.DefValue != "0s" {
			fmt.Fprintf(w, " (default %s)", f.DefValue)
		}
		if prefix != "" {
			fmt.Fprintf(w, " [$%s%s]", prefix, strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_")))
		}
		fmt.Fprintln(w)
	})
}

// Given returns, after fs has parsed the command line, how each option
// was given, so that a command can tell "set" from "left at its default"
// without comparing values with defaults: for a flag name it returns
// "--name" when the command line set it, the variable (prefix + NAME)
// when only the environment did (a non-empty value), and "" when neither
// did. Messages name what the user actually wrote.
func Given(fs *flag.FlagSet, prefix string, environ map[string]string) func(name string) string {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	return func(name string) string {
		if set[name] {
			return "--" + name
		}
		key := prefix + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
		if environ[key] != "" {
			return key
		}
		return ""
	}
}
