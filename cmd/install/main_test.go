package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/podlife/podlife/internal/cli"
	"github.com/podlife/podlife/internal/testpeer"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"install": main,
	})
}

// TestScripts runs install's real main as an init container does: the
// copies, the usage errors and every exit code.
func TestScripts(t *testing.T) {
	t.Parallel()
	testscript.Run(t, testscript.Params{
		Dir: "testdata",
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exits": testpeer.Exits,
			"mode":  cmdMode,
		},
	})
}

// cmdMode checks a file's permission bits: mode 0755 FILE.
func cmdMode(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: mode PERM FILE")
	}
	fi, err := os.Stat(ts.MkAbs(args[1]))
	ts.Check(err)
	if got := fi.Mode().Perm().String(); got != os.FileMode(parsePerm(ts, args[0])).String() {
		ts.Fatalf("%s: got mode %s, want %s", args[1], got, args[0])
	}
}

func parsePerm(ts *testscript.TestScript, s string) uint32 {
	var p uint32
	for _, c := range s {
		if c < '0' || c > '7' {
			ts.Fatalf("bad mode %q", s)
		}
		p = p*8 + uint32(c-'0')
	}
	return p
}

// TestInstallReplaces checks that a second run (a retried init container)
// replaces the copies and leaves no temporaries.
func TestInstallReplaces(t *testing.T) {
	t.Parallel()
	from, dest := t.TempDir(), t.TempDir()
	for i, content := range []string{"one", "two"} {
		if err := os.WriteFile(filepath.Join(from, "probe"), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		err := run(context.Background(), []string{"--from", from, dest, "probe"}, io.Discard, io.Discard)
		if code := cli.ExitCode(err); code != cli.ExitOK {
			t.Fatalf("run %d: got exit code %d (%v), want 0", i, code, err)
		}
		b, err := os.ReadFile(filepath.Join(dest, "probe"))
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != content {
			t.Errorf("run %d: got content %q, want %q", i, b, content)
		}
	}
	entries, err := os.ReadDir(dest)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("got %d entries in DEST, want 1 (no temporaries left)", len(entries))
	}
}
