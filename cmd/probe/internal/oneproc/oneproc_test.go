package oneproc

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
)

// TestMain lets the test binary report the GOMAXPROCS its init left, for
// TestOneP's children.
func TestMain(m *testing.M) {
	if os.Getenv("ONEPROC_REPORT") == "1" {
		fmt.Print(runtime.GOMAXPROCS(0))
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestOneP runs this test binary afresh with and without the GOMAXPROCS
// variable and reads what the init function left: 1 without it, the
// variable's number with it. (Without the variable the check can fail only
// where the runtime would choose more than one P; it says so otherwise.)
func TestOneP(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		env  string // "" = GOMAXPROCS unset
		want string
	}{
		{"", "1"},
		{"3", "3"},
	} {
		cmd := exec.Command(os.Args[0])
		cmd.Env = append(withoutGOMAXPROCS(os.Environ()), "ONEPROC_REPORT=1")
		if tt.env != "" {
			cmd.Env = append(cmd.Env, "GOMAXPROCS="+tt.env)
		}
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("GOMAXPROCS=%q: %v", tt.env, err)
		}
		if got := string(out); got != tt.want {
			t.Errorf("GOMAXPROCS=%q: got %s Ps after init, want %s", tt.env, got, tt.want)
		}
	}
	if runtime.NumCPU() == 1 {
		t.Log("one CPU here: the unset case would pass without the init function too")
	}
}

func withoutGOMAXPROCS(env []string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, "GOMAXPROCS=") {
			out = append(out, kv)
		}
	}
	return out
}
