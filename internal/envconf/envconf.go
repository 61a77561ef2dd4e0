// Package envconf is podlife's one way of reading a struct from
// environment variables: caarlos0/env for the parsing and the envDefault
// tags, a lookup function instead of the process environment (so that
// tests and callers choose what is seen), and errors that name the
// variable. internal/cli, lifecycle and logging use it.
package envconf

import (
	"errors"
	"reflect"
	"strings"

	"github.com/caarlos0/env/v11"
)

// Error is a variable whose value does not parse.
type Error struct {
	// Key is the variable, prefix included.
	Key string
	// Value is its value.
	Value string
	// Type is the type of the field it was parsed into.
	Type reflect.Type
	// Err is the parser's error.
	Err error
}

// Error returns "KEY: cause".
func (e *Error) Error() string { return e.Key + ": " + e.Err.Error() }

// Unwrap returns the parser's error.
func (e *Error) Unwrap() error { return e.Err }

// Parse fills v, a pointer to a struct with `env` tags, from the
// variables prefix+KEY that getenv returns (an empty value counts as
// unset), with the envDefault tags for the others. A parse error is an
// *Error naming the variable.
func Parse(v any, prefix string, getenv func(string) string) error {
	t := reflect.TypeOf(v).Elem()
	m := map[string]string{}
	fieldKeys(t, prefix, func(_ reflect.StructField, key string) {
		if val := getenv(key); val != "" {
			m[key] = val
		}
	})
	err := env.ParseWithOptions(v, env.Options{Prefix: prefix, Environment: m})
	if err == nil {
		return nil
	}
	var agg env.AggregateError
	if errors.As(err, &agg) && len(agg.Errors) > 0 {
		err = agg.Errors[0]
	}
	var pe env.ParseError
	if !errors.As(err, &pe) {
		return err
	}
	key := pe.Name
	fieldKeys(t, prefix, func(f reflect.StructField, k string) {
		if f.Name == pe.Name {
			key = k
		}
	})
	return &Error{Key: key, Value: m[key], Type: pe.Type, Err: pe.Err}
}

// Keys returns the variables v's `env` tags name, prefix included, in
// field order; fields tagged env:"-" have none.
func Keys(v any, prefix string) []string {
	var keys []string
	fieldKeys(reflect.TypeOf(v).Elem(), prefix, func(_ reflect.StructField, key string) {
		keys = append(keys, key)
	})
	return keys
}

// fieldKeys calls fn for every tagged field of t with its variable,
// walking into untagged struct fields (embedded option groups) with their
// envPrefix.
func fieldKeys(t reflect.Type, prefix string, fn func(reflect.StructField, string)) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue // caarlos0/env cannot set it either
		}
		tag, _, _ := strings.Cut(f.Tag.Get("env"), ",")
		switch {
		case f.Type.Kind() == reflect.Struct && tag == "":
			fieldKeys(f.Type, prefix+f.Tag.Get("envPrefix"), fn)
		case tag != "" && tag != "-":
			fn(f, prefix+tag)
		}
	}
}
