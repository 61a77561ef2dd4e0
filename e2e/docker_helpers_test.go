package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/podlife/podlife/internal/ciskip"
)

// TestMain removes the images the Docker tests built.
func TestMain(m *testing.M) {
	code := m.Run()
	if built.toolkit != "" {
		exec.Command("docker", "rmi", "-f", built.service, built.toolkit).Run()
	}
	os.Exit(code)
}

// runID makes the names of this run's images and containers unique.
var runID = func() string {
	b := make([]byte, 4)
	rand.Read(b)
	return hex.EncodeToString(b)
}()

// built holds the images images/build.sh built for this run, once.
var built struct {
	once             sync.Once
	toolkit, service string
	err              error
}

// requireDocker skips t where no Docker engine answers, and fails it
// there in CI (see ciskip).
func requireDocker(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "docker", "info").CombinedOutput(); err != nil {
		ciskip.Skipf(t, "Docker end-to-end test: no Docker engine, `docker info` failed (%v): %s", err, firstLine(out))
	}
}

// dockerImages builds the toolkit and the example service image with
// images/build.sh — what `make image` runs: binaries built on this machine,
// FROM scratch, no pull — and returns their tags.
func dockerImages(t *testing.T) (toolkit, service string) {
	t.Helper()
	requireDocker(t)
	built.once.Do(func() {
		toolkit, service := "podlife-e2e-"+runID+":toolkit", "podlife-e2e-"+runID+":service"
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "bash", filepath.Join(repoRoot(t), "images", "build.sh"),
			"--tag", toolkit, "--service-tag", service)
		cmd.Env = append(os.Environ(), "VERSION=e2e-"+runID)
		out, err := cmd.CombinedOutput()
		built.toolkit, built.service = toolkit, service
		if err != nil {
			built.err = fmt.Errorf("images/build.sh: %v\n%s", err, out)
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.toolkit, built.service
}

// docker runs the docker CLI and returns its trimmed stdout.
func docker(ctx context.Context, args ...string) (string, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("docker %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(stdout.String()), nil
}

// mustDocker is docker, failing t on error, bounded so that it does not hang.
func mustDocker(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := docker(ctx, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// runContainer starts a detached container named after the test and
// removes it when the test ends. args go before the image; cmd after it.
func runContainer(t *testing.T, name string, args []string, image string, cmd ...string) string {
	t.Helper()
	full := "podlife-e2e-" + runID + "-" + name
	t.Cleanup(func() { exec.Command("docker", "rm", "-f", "-v", full).Run() })
	run := append([]string{"run", "-d", "--name", full}, args...)
	mustDocker(t, append(append(run, image), cmd...)...)
	return full
}

// hardened are the docker run options of a locked-down Pod: read-only
// root filesystem, non-root, no capabilities, no privilege escalation.
var hardened = []string{"--read-only", "--user", "65532:65532", "--cap-drop", "ALL", "--security-opt", "no-new-privileges"}

// waitHealthy waits until Docker's HEALTHCHECK (an exec of probe) reports
// the container healthy.
func waitHealthy(t *testing.T, container string) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second) // does not hang
	for {
		status := mustDocker(t, "inspect", "-f", "{{.State.Health.Status}}", container)
		if status == "healthy" {
			return
		}
		if time.Now().After(deadline) {
			logs, _ := docker(context.Background(), "logs", container)
			t.Fatalf("%s: health %q, want healthy\n%s", container, status, logs)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// publishedAddr returns the 127.0.0.1 address of the container's port.
func publishedAddr(t *testing.T, container, port string) string {
	t.Helper()
	out := mustDocker(t, "port", container, port)
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "127.0.0.1:") {
			return l
		}
	}
	t.Fatalf("docker port %s %s: got %q, want a 127.0.0.1 address", container, port, out)
	return ""
}

func firstLine(b []byte) string {
	s, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	return s
}
