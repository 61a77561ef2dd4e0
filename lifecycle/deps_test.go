package lifecycle_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoGRPCDependency keeps grpc-go out of programs that serve only HTTP:
// gRPC support goes through interfaces and the grpcinflight subpackage.
func TestNoGRPCDependency(t *testing.T) {
	t.Parallel()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command in PATH")
	}
	out, err := exec.Command(gobin, "list", "-deps", "github.com/podlife/podlife/lifecycle").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.HasPrefix(dep, "google.golang.org/grpc") {
			t.Errorf("lifecycle depends on %s, want no grpc-go", dep)
		}
	}
}
