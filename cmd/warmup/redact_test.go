package main

import (
	"errors"
	"testing"

	"github.com/podlife/podlife/internal/check"
	"github.com/podlife/podlife/internal/cli"
)

// The redaction itself is check.Redact's (TestRedact in internal/check).

func TestRedactErrorKeepsExitCode(t *testing.T) {
	t.Parallel()
	err := redactError(&check.ConfigError{Target: "http://u:secret@h/?token=t", Msg: "credentials in the URL are not supported"})
	if got, want := err.Error(), "http://u:xxxxx@h/?token=xxxxx: credentials in the URL are not supported"; got != want {
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
