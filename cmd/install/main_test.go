package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// seed creates a source directory holding the named files, each with its
// name as content.
func seed(t *testing.T, names ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "subdir"), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestRun(t *testing.T) {
	tests := []struct {
		name      string
		args      func(from, dest string) []string
		wantCode  int
		wantFiles []string // in dest, after the run
		wantErr   string   // substring of stderr
	}{
		{
			name:      "all files",
			args:      func(from, dest string) []string { return []string{"--from", from, dest} },
			wantFiles: []string{"prestop", "probe", "warmup"},
		},
		{
			name: "named files, dest created",
			args: func(from, dest string) []string {
				return []string{"--from", from, filepath.Join(dest, "a", "b"), "probe"}
			},
			wantFiles: []string{"a"},
		},
		{
			name:     "missing dest",
			args:     func(from, dest string) []string { return []string{"--from", from} },
			wantCode: exitUsage,
			wantErr:  "install: missing DEST directory",
		},
		{
			name:     "name is a path",
			args:     func(from, dest string) []string { return []string{"--from", from, dest, "../etc/passwd"} },
			wantCode: exitUsage,
			wantErr:  "want a file name",
		},
		{
			name:     "unknown flag",
			args:     func(from, dest string) []string { return []string{"--nope", dest} },
			wantCode: exitUsage,
			wantErr:  "flag provided but not defined",
		},
		{
			name:     "no such name",
			args:     func(from, dest string) []string { return []string{"--from", from, dest, "curl"} },
			wantCode: exitFailed,
			wantErr:  "curl: no such file",
		},
		{
			name:     "a directory is not a binary",
			args:     func(from, dest string) []string { return []string{"--from", from, dest, "subdir"} },
			wantCode: exitFailed,
			wantErr:  "not a regular file",
		},
		{
			name:     "version",
			args:     func(from, dest string) []string { return []string{"--version"} },
			wantCode: exitOK,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			from, dest := seed(t, "probe", "warmup", "prestop"), t.TempDir()
			var stdout, stderr bytes.Buffer
			code := run(tt.args(from, dest), &stdout, &stderr)
			if code != tt.wantCode {
				t.Errorf("got exit code %d, want %d (stderr %q)", code, tt.wantCode, stderr.String())
			}
			if !strings.Contains(stderr.String(), tt.wantErr) {
				t.Errorf("got stderr %q, want it to contain %q", stderr.String(), tt.wantErr)
			}
			if tt.wantFiles == nil {
				return
			}
			var got []string
			entries, err := os.ReadDir(dest)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range entries {
				got = append(got, e.Name())
			}
			if strings.Join(got, ",") != strings.Join(tt.wantFiles, ",") {
				t.Errorf("got files %v in DEST, want %v", got, tt.wantFiles)
			}
		})
	}
}

// TestInstallReplaces checks the copies are executable and that a second
// run (a retried init container) replaces them and leaves no temporaries.
func TestInstallReplaces(t *testing.T) {
	from, dest := seed(t, "probe"), t.TempDir()
	var stdout, stderr bytes.Buffer
	for i, content := range []string{"one", "two"} {
		if err := os.WriteFile(filepath.Join(from, "probe"), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if code := run([]string{"--from", from, dest, "probe"}, &stdout, &stderr); code != exitOK {
			t.Fatalf("run %d: got exit code %d, want 0 (stderr %q)", i, code, stderr.String())
		}
		b, err := os.ReadFile(filepath.Join(dest, "probe"))
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != content {
			t.Errorf("run %d: got content %q, want %q", i, b, content)
		}
		fi, err := os.Stat(filepath.Join(dest, "probe"))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o755 {
			t.Errorf("run %d: got mode %v, want 0755", i, fi.Mode().Perm())
		}
	}
	entries, _ := os.ReadDir(dest)
	if len(entries) != 1 {
		t.Errorf("got %d entries in DEST, want 1 (no temporaries left)", len(entries))
	}
}
