package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/podlife/podlife/internal/sim/tcplb"
	"github.com/podlife/podlife/internal/sim/users"
)

// TestDockerToolkitImage inspects the toolkit image `make image` builds:
// non-root, labelled, nothing but the static binaries.
func TestDockerToolkitImage(t *testing.T) {
	toolkit, _ := dockerImages(t)
	var cfg struct {
		User       string
		Labels     map[string]string
		Entrypoint []string
		Cmd        []string
	}
	if err := json.Unmarshal([]byte(mustDocker(t, "image", "inspect", "-f", "{{json .Config}}", toolkit)), &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.User != "65532:65532" {
		t.Errorf("got user %q, want 65532:65532", cfg.User)
	}
	for label, want := range map[string]string{
		"org.opencontainers.image.title":   "podlife",
		"org.opencontainers.image.source":  "https://github.com/podlife/podlife",
		"org.opencontainers.image.version": "e2e-" + runID,
	} {
		if got := cfg.Labels[label]; got != want {
			t.Errorf("got label %s=%q, want %q", label, got, want)
		}
	}
	// One layer: FROM scratch and one COPY.
	if layers := mustDocker(t, "image", "inspect", "-f", "{{len .RootFS.Layers}}", toolkit); layers != "1" {
		t.Errorf("got %s layers, want 1 (scratch + the binaries)", layers)
	}

	// The files: docker create + docker cp, as a user would look.
	c := "podlife-e2e-" + runID + "-toolkit-files"
	mustDocker(t, "create", "--name", c, toolkit)
	t.Cleanup(func() { exec.Command("docker", "rm", "-f", c).Run() })
	dir := t.TempDir()
	mustDocker(t, "cp", c+":/podlife", dir)
	entries, err := os.ReadDir(filepath.Join(dir, "podlife"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if got, want := strings.Join(names, ","), "install,prestop,probe,warmup"; got != want {
		t.Errorf("got /podlife/{%s}, want {%s}", got, want)
	}
	arch := mustDocker(t, "image", "inspect", "-f", "{{.Architecture}}", toolkit)
	for _, n := range names {
		file := filepath.Join(dir, "podlife", n)
		checkReleaseBinary(t, file)
		checkVersion(t, file, arch)
	}

	// No shell: an exec that needs one fails, the binaries run.
	if _, err := docker(context.Background(), "run", "--rm", toolkit, "/bin/sh", "-c", "true"); err == nil {
		t.Error("got /bin/sh running in the toolkit image, want no shell")
	}
	if out := mustDocker(t, "run", "--rm", "--read-only", toolkit); !strings.HasPrefix(out, "probe e2e-"+runID) {
		t.Errorf("got default command output %q, want probe's version", out)
	}
}

// TestDockerInitContainerDelivery delivers the binaries the way the init
// container of examples/kubernetes/delivery does: /podlife/install copies
// them into a shared directory (an emptyDir: world-writable), and an app
// image without podlife, a shell or cp runs them from there.
func TestDockerInitContainerDelivery(t *testing.T) {
	toolkit, service := dockerImages(t)
	shared := t.TempDir()
	if err := os.Chmod(shared, 0o777); err != nil { // an emptyDir's mode
		t.Fatal(err)
	}
	// The init container.
	out := mustDocker(t, append(append([]string{"run", "--rm"}, hardened...),
		"-v", shared+":/podlife-bin", toolkit, "/podlife/install", "--verbose", "/podlife-bin")...)
	for _, n := range []string{"probe", "warmup", "prestop"} {
		if !strings.Contains(out, "/podlife-bin/"+n) {
			t.Errorf("got install output %q, want it to copy %s", out, n)
		}
	}

	// An app image with no podlife: the service binary alone on scratch.
	bare := "podlife-e2e-" + runID + ":bare"
	ctx := t.TempDir()
	c := "podlife-e2e-" + runID + "-bare-src"
	mustDocker(t, "create", "--name", c, service)
	mustDocker(t, "cp", c+":/app/service", filepath.Join(ctx, "service"))
	mustDocker(t, "rm", c)
	if err := os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte("FROM scratch\nCOPY service /app/service\nUSER 65532:65532\nENTRYPOINT [\"/app/service\"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	build := exec.Command("docker", "build", "-q", "-t", bare, ctx)
	build.Env = append(os.Environ(), "DOCKER_BUILDKIT=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("docker build: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command("docker", "rmi", "-f", bare).Run() })

	app := runContainer(t, "init-app", append(hardened, "-v", shared+":/podlife-bin:ro"), bare)
	// The readiness probe of the manifest, as kubelet execs it.
	deadline := time.Now().Add(60 * time.Second)
	for {
		_, err := docker(context.Background(), "exec", app, "/podlife-bin/probe", "http://127.0.0.1:8080/readyz")
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the delivered probe never passed: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if _, err := docker(context.Background(), "exec", app, "/podlife/probe", "--version"); err == nil {
		t.Error("got /podlife/probe in the bare image, want podlife only where the init container put it")
	}
}

// TestDockerServiceHooks runs the example service image read-only and
// non-root, waits for its HEALTHCHECK (an exec of probe) to pass, and runs
// warmup with docker exec — the same CRI exec path kubelet uses for a
// postStart hook — with its log going to PID 1's stdout.
func TestDockerServiceHooks(t *testing.T) {
	_, service := dockerImages(t)
	c := runContainer(t, "hooks", append(hardened, "-p", "127.0.0.1::8080", "-e", "COLD_KEYS=100"), service)
	if u := mustDocker(t, "inspect", "-f", "{{.Config.User}}", c); u != "65532:65532" {
		t.Errorf("got user %q, want 65532:65532", u)
	}
	waitHealthy(t, c)

	out := mustDocker(t, "exec", c, "/podlife/warmup",
		"--wait", "http://127.0.0.1:8080/startupz", "--requests", "500", "--strict", "--log-to-pid1",
		"http://127.0.0.1:8080/hello")
	var summary struct {
		Phase     string `json:"phase"`
		Requests  int    `json:"requests"`
		Successes int    `json:"successes"`
	}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var line = summary
		if json.Unmarshal(sc.Bytes(), &line) == nil && line.Phase == "summary" {
			summary = line
		}
	}
	if summary.Phase != "summary" || summary.Requests != 500 || summary.Successes != 500 {
		t.Errorf("got warmup summary %+v, want 500 requests, 500 successes\n%s", summary, out)
	}
	// --log-to-pid1: what kubectl logs would show.
	logs := mustDocker(t, "logs", c)
	if !strings.Contains(logs, `"phase":"summary"`) {
		t.Errorf("got container logs without warmup's summary; want it there (--log-to-pid1)\n%s", logs)
	}
	// A read-only root: the service and the hooks wrote nothing to it.
	if diff := mustDocker(t, "diff", c); diff != "" {
		t.Errorf("got changes to the container's filesystem %q, want none", diff)
	}
}

// rolloutLag is how long the balancer (kube-proxy) keeps routing new
// connections to a deleted container.
const rolloutLag = 1500 * time.Millisecond

// startRollout starts two service containers with env (NAME=value
// variables) behind a balancer, and load through it: keep-alive clients,
// spread over both containers, and a client opening a new connection per
// request. It returns the container to replace and its address, once both
// have served load for a second.
func startRollout(t *testing.T, name string, env ...string) (lb *tcplb.Balancer, load *users.Traffic, old, oldAddr string) {
	t.Helper()
	_, service := dockerImages(t)
	args := append(append([]string{}, hardened...), "-p", "127.0.0.1::8080")
	for _, e := range env {
		args = append(args, "-e", e)
	}
	old = runContainer(t, name+"-old", args, service)
	next := runContainer(t, name+"-new", args, service)
	waitHealthy(t, old)
	waitHealthy(t, next)
	oldAddr = publishedAddr(t, old, "8080")

	lb, err := tcplb.New(oldAddr, publishedAddr(t, next, "8080"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lb.Close() })
	load, err = users.Start(context.Background(), users.Config{
		URL:         "http://" + lb.Addr() + "/hello",
		Clients:     4,
		NewConns:    1,
		MaxDuration: time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { load.Stop() }) // before lb.Close
	time.Sleep(time.Second)           // load on both containers
	return lb, load, old, oldAddr
}

// TestDockerGracefulStop replaces one of two service containers under load
// the way Kubernetes deletes a Pod: the balancer (kube-proxy) drops its
// endpoint only after a lag, while `docker exec prestop` runs the preStop
// hook and `docker stop` sends SIGTERM (SIGKILL after the grace period).
// No request may fail, and the container must exit 0, not be killed.
// TestDockerStopWithoutDelayFails is its control.
func TestDockerGracefulStop(t *testing.T) {
	lb, load, old, oldAddr := startRollout(t, "stop",
		"LIFECYCLE_SHUTDOWN_DELAY=4s", "LIFECYCLE_DRAIN_TIMEOUT=5s",
		"LIFECYCLE_PRESTOP=2s", "LIFECYCLE_TERMINATION_GRACE_PERIOD=30s")

	dropped := lb.RemoveAfter(oldAddr, rolloutLag)
	mustDocker(t, "exec", old, "/podlife/prestop", "--notify", "http://127.0.0.1:8080/drainz", "--sleep", "2s")
	mustDocker(t, "stop", "-t", "30", old)
	<-dropped
	time.Sleep(time.Second) // the new container alone
	res := load.Stop()

	if code := mustDocker(t, "inspect", "-f", "{{.State.ExitCode}}", old); code != "0" {
		logs, _ := docker(context.Background(), "logs", old)
		t.Errorf("got exit code %s after docker stop, want 0 (a graceful exit, not SIGKILL)\n%s", code, logs)
	}
	t.Log(res)
	if res.Served == 0 {
		t.Error("got no request served, want load throughout")
	}
	if res.Failed != 0 {
		t.Errorf("got %d failed requests %q, want 0", res.Failed, res.Errors)
	}
}

// TestDockerStopWithoutDelayFails is TestDockerGracefulStop without
// podlife's part: no preStop hook and no shutdown delay, so the service
// stops listening at SIGTERM, and the balancer drops the container only
// after the lag. It proves that the zero above is not the load's blindness:
// here requests must fail. The lag runs from the container's exit, so that
// the balancer certainly routes to a stopped container for all of it, and
// the client opening a new connection per request certainly meets it there
// (a connection refused, reset by the balancer).
func TestDockerStopWithoutDelayFails(t *testing.T) {
	lb, load, old, oldAddr := startRollout(t, "nodelay",
		"LIFECYCLE_SHUTDOWN_DELAY=0", "LIFECYCLE_DRAIN_TIMEOUT=5s",
		"LIFECYCLE_PRESTOP=0", "LIFECYCLE_TERMINATION_GRACE_PERIOD=30s")

	mustDocker(t, "stop", "-t", "30", old) // SIGTERM at once: no preStop hook
	<-lb.RemoveAfter(oldAddr, rolloutLag)
	time.Sleep(500 * time.Millisecond) // the new container alone
	res := load.Stop()

	t.Log(res)
	if res.Served == 0 {
		t.Error("got no request served, want load throughout")
	}
	if res.Failed == 0 {
		t.Error("got 0 failed requests without preStop hook and shutdown delay, want some: the test cannot tell a drop")
	}
}
