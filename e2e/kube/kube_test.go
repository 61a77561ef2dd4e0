package kube

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/podlife/podlife/e2e/kube/cluster"
)

// Image names the manifests use, and the stand-in for the ko:// reference
// of the delivery examples (the example service alone, no podlife inside).
const (
	toolkitImage = "ghcr.io/podlife/podlife:dev"
	serviceImage = "ghcr.io/podlife/podlife-example-service:dev"
	koService    = "ko://github.com/podlife/podlife/examples/service"
	koStandIn    = "ko.local/podlife/examples/service:e2e"
)

// env is what every test of the suite gets: a ready cluster with the
// project's images loaded, and the repository it tests.
type env struct {
	c    *cluster.Cluster
	repo string
}

// suite lists the tests run against the one cluster, in order. A test added
// here gets a ready cluster (e.c.Kubeconfig, e.c.Kubectl, e.c.LoadDockerImages,
// e.c.ImportImage) and a namespace of its own from e.namespace.
func suite() []struct {
	name string
	run  func(*testing.T, *env)
} {
	return []struct {
		name string
		run  func(*testing.T, *env)
	}{
		{"RollingUpdate", testRollingUpdate},
		{"InjectRollout", testInjectRollout},
		{"PostStartWarmup", testPostStartWarmup},
		{"WarmupFailsOpen", testWarmupFailsOpen},
		{"ReadinessDrainEvent", testReadinessDrainEvent},
		{"LivenessWatchdogRestart", testLivenessWatchdogRestart},
		{"PreStopBeforeSIGTERM", testPreStopBeforeSIGTERM},
		{"BudgetSIGKILL", testBudgetSIGKILL},
		{"BlueGreen", testBlueGreen},
		{"Canary", testCanary},
		{"DeliveryInitContainer", testDeliveryInitContainer},
		{"DeliveryImageVolume", testDeliveryImageVolume},
	}
}

// TestKube starts the cluster once, runs the suite, and tears it down,
// also on failure and on SIGINT/SIGTERM. Where no cluster can run (not
// Linux, not root, no Docker engine) it skips with one line; with CI=true
// it fails instead.
func TestKube(t *testing.T) {
	if why := cluster.Unsupported(); why != "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("e2e-kube cannot run in CI: %s", why)
		}
		t.Skipf("e2e-kube skipped: %s (it needs root on Linux with a Docker engine)", why)
	}
	start := time.Now()
	repo := repoRoot(t)
	bin := os.Getenv("PODLIFE_KUBE_BIN")
	if bin == "" {
		out, err := exec.Command("bash", filepath.Join(repo, "e2e/kube/build.sh")).Output()
		if err != nil {
			t.Fatalf("e2e/kube/build.sh: %v", err)
		}
		bin = strings.TrimSpace(string(out))
	}
	if os.Getenv("PODLIFE_KUBE_IMAGES_BUILT") != "1" {
		buildImages(t, repo)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	c, err := cluster.Start(ctx, cluster.Options{
		BinDir:   bin,
		WorkDir:  os.Getenv("PODLIFE_KUBE_WORK"),
		KeepWork: os.Getenv("PODLIFE_KUBE_KEEP") == "1",
		Logf:     t.Logf,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, n := range []string{"kubelet", "containerd"} {
				t.Logf("%s log tail:\n%s", n, c.LogTail(n, 15))
			}
		}
		if err := c.Stop(); err != nil {
			t.Errorf("teardown: %v", err)
		}
		t.Logf("figure: harness total %v", time.Since(start).Round(time.Second))
	})
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		s, ok := <-sig
		if !ok {
			return
		}
		fmt.Fprintf(os.Stderr, "e2e-kube: %v: tearing the cluster down\n", s)
		c.Stop()
		os.Exit(1)
	}()
	defer signal.Stop(sig)
	t.Logf("figure: cluster start %v (apiserver %v, node Ready %v)", c.Timings["total"].Round(time.Millisecond),
		c.Timings["apiserver"].Round(time.Millisecond), c.Timings["node"].Round(time.Millisecond))

	e := &env{c: c, repo: repo}
	e.loadImages(t, ctx)
	only := os.Getenv("PODLIFE_KUBE_RUN")
	for _, tc := range suite() {
		if only != "" && !strings.Contains(","+only+",", ","+tc.name+",") {
			continue
		}
		t.Run(tc.name, func(t *testing.T) { tc.run(t, e) })
	}
	t.Logf("figure: cluster memory (RSS of every process it started, Pods included) %d MiB", c.RSS()>>20)
}

func repoRoot(t *testing.T) string {
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	if _, err := os.Stat(filepath.Join(root, "examples/kubernetes/deployment.yaml")); err != nil {
		t.Fatalf("repository root not found from %s: %v", file, err)
	}
	abs, _ := filepath.Abs(root)
	return abs
}

// buildImages builds the toolkit and example service images into the
// Docker engine with images/build.sh (what `make image` runs, plus the
// service), under the Docker lock.
func buildImages(t *testing.T, repo string) {
	cmd := exec.Command("flock", cluster.DockerLock, "bash", filepath.Join(repo, "images/build.sh"), "--service-tag", serviceImage)
	cmd.Dir = repo
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("images/build.sh: %v\n%s", err, out)
	}
}

// loadImages puts the project's images into the node: the toolkit and the
// service (tagged :v1 and :v2 for Blue/Green and canary, the same build),
// and the stand-in for the delivery examples' ko:// image: the example
// service binary alone on scratch, as ko would build it (no /podlife).
func (e *env) loadImages(t *testing.T, ctx context.Context) {
	t0 := time.Now()
	if err := e.c.LoadDockerImages(ctx, toolkitImage, serviceImage); err != nil {
		t.Fatal(err)
	}
	for _, tag := range []string{"v1", "v2"} {
		if err := e.c.TagImage(ctx, serviceImage, strings.TrimSuffix(serviceImage, ":dev")+":"+tag); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	build := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", filepath.Join(dir, "service"), "./examples/service")
	build.Dir = e.repo
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building examples/service: %v\n%s", err, out)
	}
	data, err := os.ReadFile(filepath.Join(dir, "service"))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.c.ImportImage(ctx, koStandIn, []cluster.File{{Path: "/app/service", Data: data, Mode: 0o755}},
		cluster.ImageConfig{User: "65532:65532", Entrypoint: []string{"/app/service"}}); err != nil {
		t.Fatal(err)
	}
	t.Logf("figure: images loaded in %v", time.Since(t0).Round(time.Millisecond))
}

// kubectl runs kubectl, failing t on error.
func (e *env) kubectl(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := e.c.Kubectl(ctx, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// namespace makes a namespace for t, deleted (without waiting) at its end,
// and waits for its default service account.
func (e *env) namespace(t *testing.T, name string) string {
	t.Helper()
	e.kubectl(t, "create", "namespace", name)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		// Pods first with no grace, so the next test starts on a quiet node.
		e.c.Kubectl(ctx, "delete", "deployments,pods", "--all", "-n", name, "--grace-period=0", "--force", "--wait=true")
		e.c.Kubectl(ctx, "delete", "namespace", name, "--wait=false")
	})
	e.eventually(t, "service account default in "+name, time.Minute, func() error {
		_, err := e.c.Kubectl(context.Background(), "get", "serviceaccount", "default", "-n", name)
		return err
	})
	return name
}

// manifest is a file under examples/kubernetes, with the delivery
// examples' ko:// reference replaced by the image loaded for it: the only
// change the suite makes to a shipped manifest.
func (e *env) manifest(t *testing.T, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(e.repo, "examples/kubernetes", rel))
	if err != nil {
		t.Fatal(err)
	}
	return []byte(strings.ReplaceAll(string(b), koService, koStandIn))
}

// apply applies shipped manifests into ns.
func (e *env) apply(t *testing.T, ns string, rels ...string) {
	t.Helper()
	for _, rel := range rels {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		_, err := e.c.KubectlIn(ctx, e.manifest(t, rel), "apply", "-n", ns, "-f", "-")
		cancel()
		if err != nil {
			t.Fatalf("apply %s: %v", rel, err)
		}
	}
}

// applyObject applies one object given as a Go value (JSON).
func (e *env) applyObject(t *testing.T, ns string, obj any) {
	t.Helper()
	b, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := e.c.KubectlIn(ctx, b, "apply", "-n", ns, "-f", "-"); err != nil {
		t.Fatal(err)
	}
}

// object decodes a shipped manifest (one document, or the named one of
// several) into generic JSON, through kubectl.
func (e *env) object(t *testing.T, rel, name string) map[string]any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := e.c.KubectlIn(ctx, e.manifest(t, rel), "create", "--dry-run=client", "-o", "json", "-f", "-")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	if doc["kind"] == "List" {
		for _, it := range doc["items"].([]any) {
			m := it.(map[string]any)
			if m["metadata"].(map[string]any)["name"] == name {
				delete(m["metadata"].(map[string]any), "namespace")
				return m
			}
		}
		t.Fatalf("%s has no object named %s", rel, name)
	}
	delete(doc["metadata"].(map[string]any), "namespace") // kubectl filled in "default"
	return doc
}

// rollout waits for a Deployment's rollout to finish.
func (e *env) rollout(t *testing.T, ns, deploy string) {
	t.Helper()
	e.kubectl(t, "rollout", "status", "-n", ns, "deployment/"+deploy, "--timeout=240s")
}

// eventually polls f every 500 ms until it returns nil or limit passes.
func (e *env) eventually(t *testing.T, what string, limit time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v: %v", what, limit, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// pod is the part of a Pod the tests read.
type pod struct {
	Metadata struct {
		Name              string            `json:"name"`
		Labels            map[string]string `json:"labels"`
		DeletionTimestamp *time.Time        `json:"deletionTimestamp"`
		CreationTimestamp time.Time         `json:"creationTimestamp"`
	} `json:"metadata"`
	Status struct {
		PodIP      string `json:"podIP"`
		Conditions []struct {
			Type               string    `json:"type"`
			Status             string    `json:"status"`
			LastTransitionTime time.Time `json:"lastTransitionTime"`
		} `json:"conditions"`
		ContainerStatuses []containerStatus `json:"containerStatuses"`
	} `json:"status"`
}

type containerStatus struct {
	Name         string `json:"name"`
	Ready        bool   `json:"ready"`
	RestartCount int    `json:"restartCount"`
	State        struct {
		Running *struct {
			StartedAt time.Time `json:"startedAt"`
		} `json:"running"`
		Terminated *terminated `json:"terminated"`
	} `json:"state"`
	LastState struct {
		Terminated *terminated `json:"terminated"`
	} `json:"lastState"`
}

type terminated struct {
	ExitCode   int       `json:"exitCode"`
	Signal     int       `json:"signal"`
	Reason     string    `json:"reason"`
	StartedAt  time.Time `json:"startedAt"`
	FinishedAt time.Time `json:"finishedAt"`
}

func (p pod) ready() (bool, time.Time) {
	for _, c := range p.Status.Conditions {
		if c.Type == "Ready" {
			return c.Status == "True", c.LastTransitionTime
		}
	}
	return false, time.Time{}
}

// pods lists the Pods of ns matching selector.
func (e *env) pods(t *testing.T, ns, selector string) []pod {
	t.Helper()
	out := e.kubectl(t, "get", "pods", "-n", ns, "-l", selector, "-o", "json")
	var list struct {
		Items []pod `json:"items"`
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatal(err)
	}
	return list.Items
}

// clusterIP is a Service's ClusterIP.
func (e *env) clusterIP(t *testing.T, ns, svc string) string {
	t.Helper()
	return strings.TrimSpace(e.kubectl(t, "get", "service", svc, "-n", ns, "-o", "jsonpath={.spec.clusterIP}"))
}

// logLine is a JSON log line of the example service, warmup or prestop.
type logLine struct {
	Time    time.Time      `json:"timestamp"`
	Message string         `json:"message"`
	Msg     string         `json:"msg"`
	Fields  map[string]any `json:"-"`
	Raw     string         `json:"-"`
}

// logs is a container's log (kubectl logs), parsed line by line.
func (e *env) logs(t *testing.T, ns, podName string, extra ...string) []logLine {
	t.Helper()
	out := e.kubectl(t, append([]string{"logs", "-n", ns, podName}, extra...)...)
	return parseLogs(out)
}

func parseLogs(out string) []logLine {
	var lines []logLine
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var l logLine
		raw := sc.Text()
		if json.Unmarshal([]byte(raw), &l) != nil {
			l = logLine{}
		}
		json.Unmarshal([]byte(raw), &l.Fields)
		l.Raw = raw
		if l.Message == "" {
			l.Message = l.Msg
		}
		lines = append(lines, l)
	}
	return lines
}

// events are the messages of the events about a Pod.
func (e *env) events(t *testing.T, ns, podName string) []string {
	t.Helper()
	out := e.kubectl(t, "get", "events", "-n", ns, "--field-selector", "involvedObject.name="+podName, "-o", "jsonpath={range .items[*]}{.reason}: {.message}{\"\\x00\"}{end}")
	var msgs []string
	for _, m := range strings.Split(out, "\x00") {
		if m != "" {
			msgs = append(msgs, m)
		}
	}
	return msgs
}
