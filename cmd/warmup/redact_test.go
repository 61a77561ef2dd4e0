package main

import (
	"errors"
	"testing"

	"github.com/podlife/podlife/internal/check"
	"github.com/podlife/podlife/internal/cli"
)

func TestRedactURLs(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"http://127.0.0.1:8080/", "http://127.0.0.1:8080/"},
		{"http://user:secret@127.0.0.1/x", "http://user:xxxxx@127.0.0.1/x"},
		{"https://TOKEN@host", "https://xxxxx@host"},
		{"http://user:secret@[::1/: malformed URL", "http://user:xxxxx@[::1/: malformed URL"},
		{`a "http://u:p@h/" and grpc://v:q@h:1/a.B/C`, `a "http://u:xxxxx@h/" and grpc://v:xxxxx@h:1/a.B/C`},
		{"http://h/path@x", "http://h/path@x"},
		{"http://h?q=a@b", "http://h?q=a@b"},
		{"no url here: a@b", "no url here: a@b"},
	}
	for _, tt := range tests {
		if got := redactURLs(tt.in); got != tt.want {
			t.Errorf("redactURLs(%q): got %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestRedactErrorKeepsExitCode(t *testing.T) {
	t.Parallel()
	err := redactError(&check.ConfigError{Target: "http://u:secret@h/", Msg: "credentials in the URL are not supported"})
	if got, want := err.Error(), "http://u:xxxxx@h/: credentials in the URL are not supported"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	var ce *check.ConfigError
	if !errors.As(err, &ce) || cli.ExitCode(err) != cli.ExitUsage {
		t.Errorf("got exit %d, want %d with the *check.ConfigError kept", cli.ExitCode(err), cli.ExitUsage)
	}
	if redactError(nil) != nil {
		t.Error("redactError(nil): got an error, want nil")
	}
}
