package e2e

import (
	"debug/buildinfo"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// repoRoot is the root of the podlife repository (the parent of e2e/).
func repoRoot(t testing.TB) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("no go.mod in %s: %v", root, err)
	}
	return root
}

// checkReleaseBinary fails t unless the file at path is a static, stripped
// Linux executable built with CGO_ENABLED=0 and -trimpath.
func checkReleaseBinary(t *testing.T, path string) {
	t.Helper()
	name := filepath.Base(path)
	f, err := elf.Open(path)
	if err != nil {
		t.Errorf("%s: not an ELF executable: %v", name, err)
		return
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("%s: has a PT_INTERP program header (dynamically linked), want static", name)
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("%s: got imported libraries %v, want none", name, libs)
	}
	if f.Section(".symtab") != nil {
		t.Errorf("%s: has a .symtab section, want stripped (-ldflags -s)", name)
	}
	bi, err := buildinfo.ReadFile(path)
	if err != nil {
		t.Errorf("%s: no Go build info: %v", name, err)
		return
	}
	settings := map[string]string{}
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	for key, want := range map[string]string{"CGO_ENABLED": "0", "-trimpath": "true", "GOOS": "linux"} {
		if got := settings[key]; got != want {
			t.Errorf("%s: got build setting %s=%q, want %q", name, key, got, want)
		}
	}
	// -trimpath keeps -ldflags out of the build info: the version stamp is
	// checked by running the binary (see checkVersion).
}

// hostCanRun reports whether a linux/GOARCH binary can run on this host.
func hostCanRun(goarch string) bool {
	return runtime.GOOS == "linux" && runtime.GOARCH == goarch
}

// checkVersion runs path --version, where the host can, and fails t unless
// it prints "NAME VERSION" with a stamped version (not "devel").
func checkVersion(t *testing.T, path, goarch string) {
	t.Helper()
	if !hostCanRun(goarch) {
		t.Logf("cannot run linux/%s binaries here: version stamp not checked", goarch)
		return
	}
	name := filepath.Base(path)
	got, err := exec.Command(path, "--version").Output()
	if err != nil {
		t.Errorf("%s --version: %v", name, err)
		return
	}
	if !strings.HasPrefix(string(got), name+" ") || strings.Contains(string(got), "devel") {
		t.Errorf("got %s --version %q, want %q with a stamped version", name, got, name+" VERSION")
	}
}
