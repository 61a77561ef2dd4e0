package oneproc

import (
	"os"
	"runtime"
	"testing"
)

// TestOneP checks the effect of the init function: one P, unless the
// environment asked for a number.
func TestOneP(t *testing.T) {
	want := 1
	if os.Getenv("GOMAXPROCS") != "" {
		want = runtime.GOMAXPROCS(0) // whatever the variable said
	}
	if got := runtime.GOMAXPROCS(0); got != want {
		t.Errorf("got GOMAXPROCS %d, want %d", got, want)
	}
}
