package envconf

import (
	"errors"
	"slices"
	"testing"
	"time"
)

type Group struct {
	Path string `env:"PATH"`
}

type opts struct {
	Timeout time.Duration `env:"TIMEOUT" envDefault:"2s"`
	Count   int           `env:"COUNT"`
	Skip    string        `env:"-"`
	Inner   Group         `envPrefix:"INNER_"`
	Group
	hidden Group
}

func TestParse(t *testing.T) {
	t.Parallel()
	vars := map[string]string{"X_TIMEOUT": "", "X_COUNT": "3", "X_INNER_PATH": "/a", "X_PATH": "/b", "X_SKIP": "no"}
	var o opts
	if err := Parse(&o, "X_", func(k string) string { return vars[k] }); err != nil {
		t.Fatal(err)
	}
	if o.Timeout != 2*time.Second || o.Count != 3 || o.Inner.Path != "/a" || o.Path != "/b" || o.Skip != "" {
		t.Errorf("got %+v, want timeout 2s (the default: empty is unset), count 3, inner /a, path /b, skip empty", o)
	}
}

func TestParseErrorNamesTheVariable(t *testing.T) {
	t.Parallel()
	for key, want := range map[string]string{"X_TIMEOUT": "X_TIMEOUT", "X_COUNT": "X_COUNT"} {
		var o opts
		err := Parse(&o, "X_", func(k string) string { return map[string]string{key: "soon"}[k] })
		var e *Error
		if !errors.As(err, &e) || e.Key != want || e.Value != "soon" {
			t.Errorf("%s=soon: got %v, want an *Error for %s with its value", key, err, want)
		}
	}
}

func TestKeys(t *testing.T) {
	t.Parallel()
	got := Keys(&opts{}, "X_")
	want := []string{"X_TIMEOUT", "X_COUNT", "X_INNER_PATH", "X_PATH"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}
