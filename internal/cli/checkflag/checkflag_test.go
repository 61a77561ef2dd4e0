package checkflag

import (
	"errors"
	"flag"
	"fmt"
	"testing"
	"time"

	"github.com/podlife/podlife/internal/check"
	"github.com/podlife/podlife/internal/cli"
)

func TestEnvThenFlags(t *testing.T) {
	t.Parallel()
	type opts struct {
		Timeout time.Duration `env:"TIMEOUT"`
		CheckFlags
	}
	environ := map[string]string{"X_TIMEOUT": "3s", "X_HEADER": "A: 1\nB: 2", "X_STATUS": "204"}
	for _, tt := range []struct {
		args    []string
		timeout time.Duration
		hdr     string
		status  string
	}{
		{args: nil, timeout: 3 * time.Second, hdr: "[A: 1 B: 2]", status: "204"},
		{args: []string{"--timeout", "1s", "--header", "C: 3", "--status", "200"}, timeout: time.Second, hdr: "[C: 3]", status: "200"},
	} {
		var o opts
		if err := cli.ParseEnv(&o, "X_", environ); err != nil {
			t.Fatal(err)
		}
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.DurationVar(&o.Timeout, "timeout", o.Timeout, "")
		o.CheckFlags.Register(fs)
		if _, err := cli.Parse(fs, tt.args); err != nil {
			t.Fatal(err)
		}
		if o.Timeout != tt.timeout || fmt.Sprint(o.Header) != tt.hdr || o.Status != tt.status {
			t.Errorf("args %q: got %v %s %s, want %v %s %s", tt.args, o.Timeout, fmt.Sprint(o.Header), o.Status, tt.timeout, tt.hdr, tt.status)
		}
	}
}

func TestFlagsOptions(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		c    CheckFlags
		flag string
	}{
		{CheckFlags{Method: "GE T"}, "method"},
		{CheckFlags{ConnFlags: ConnFlags{Header: []string{"nocolon"}}}, "header"},
		{CheckFlags{ConnFlags: ConnFlags{Header: []string{"Bad Name: v"}}}, "header"},
		{CheckFlags{Status: "2xx-"}, "status"},
		{CheckFlags{BodyRegexp: "("}, "body-regexp"},
	} {
		_, err := tt.c.Options()
		var ce *check.ConfigError
		if !errors.As(err, &ce) || ce.Flag != tt.flag {
			t.Errorf("%+v: got %v, want a config error for --%s", tt.c, err, tt.flag)
		}
	}
	// "" is what a YAML block scalar's final newline leaves in PROBE_HEADER.
	o, err := (&CheckFlags{ConnFlags: ConnFlags{Header: []string{"x-a: 1", "X-A: 2", "Host: h", ""}, Insecure: true}, Status: "2xx"}).Options()
	if err != nil {
		t.Fatal(err)
	}
	if got := o.Header["X-A"]; len(got) != 2 || !o.Status.Match(204) || !o.TLS.InsecureSkipVerify {
		t.Errorf("got %+v, want two X-A values, 2xx, insecure", o)
	}
}
