package kube

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/podlife/podlife/e2e/kube/cluster"
)

// plainImage is the app with no podlife in it: cmd/plainhttp alone on
// scratch (testdata/plain-app.yaml runs it).
const plainImage = "podlife.local/plainhttp:e2e"

// testInjectRollout: testdata/plain-app.yaml — a plain net/http server
// (cmd/plainhttp: Shutdown at SIGTERM, no delay, no preStop) behind a
// Service — loses requests when rolled under injectLoad, which shows the
// load can fail; the same manifest piped through `kubectl-podlife inject`
// (init-container delivery of the toolkit image, warm-up) and applied, the
// same rollout loses none.
func testInjectRollout(t *testing.T, e *env) {
	ns := e.namespace(t, "inject")
	dir := t.TempDir()
	e.importPlainImage(t, dir)
	plugin := filepath.Join(dir, "kubectl-podlife")
	build := exec.Command("go", "build", "-o", plugin, ".")
	build.Dir = filepath.Join(e.repo, "cmd/kubectl-podlife")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building cmd/kubectl-podlife: %v\n%s", err, out)
	}
	manifest, err := os.ReadFile("testdata/plain-app.yaml")
	if err != nil {
		t.Fatal(err)
	}
	applyYAML := func(what string, b []byte) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := e.c.KubectlIn(ctx, b, "apply", "-n", ns, "-f", "-"); err != nil {
			t.Fatalf("kubectl apply of %s: %v", what, err)
		}
	}
	const deploy = "plain-app"
	applyYAML("testdata/plain-app.yaml", manifest)
	e.rollout(t, ns, deploy)
	if hooks := e.kubectl(t, "get", "deployment", deploy, "-n", ns, "-o",
		"jsonpath={.spec.template.spec.initContainers}{.spec.template.spec.containers[*].lifecycle}"); hooks != "" {
		t.Fatalf("the plain Deployment already has init containers or hooks: %s", hooks)
	}
	// A Service just made: kube-proxy's rules for it can lag the rollout,
	// and a refusal then would be counted against the rollout.
	e.serviceAnswers(t, ns, deploy)
	before := e.restartUnder(t, ns, deploy, deploy, injectLoad)
	t.Logf("figure: rollout of the plain app, no podlife: %d failed of %d\n%s", before.failed(), before.total(), before.report())

	// kubectl podlife inject -f - | kubectl apply -f -
	var injected, stderr bytes.Buffer
	inject := exec.Command(plugin, "inject", "-f", "-", "--delivery", "init-container", "--image", toolkitImage,
		"--warmup", "http://127.0.0.1:8080/hello")
	inject.Stdin = bytes.NewReader(manifest)
	inject.Stdout, inject.Stderr = &injected, &stderr
	if err := inject.Run(); err != nil {
		t.Fatalf("kubectl-podlife inject: %v\n%s", err, stderr.String())
	}
	applyYAML("the injected manifest", injected.Bytes())
	e.rollout(t, ns, deploy)
	e.eventually(t, "only injected Pods of "+deploy, 3*time.Minute, func() error {
		ps := e.pods(t, ns, "app.kubernetes.io/name="+deploy)
		for _, p := range ps {
			if p.Metadata.DeletionTimestamp != nil {
				return fmt.Errorf("%s terminating", p.Metadata.Name)
			}
		}
		if len(ps) != 3 {
			return fmt.Errorf("%d Pods", len(ps))
		}
		return nil
	})
	preStop := e.kubectl(t, "get", "deployment", deploy, "-n", ns, "-o",
		"jsonpath={.spec.template.spec.containers[0].lifecycle.preStop.exec.command}")
	if !strings.Contains(preStop, "/podlife-bin/prestop") {
		t.Fatalf("after inject, the preStop hook is %q, want /podlife-bin/prestop", preStop)
	}
	e.serviceAnswers(t, ns, deploy)
	after := e.restartUnder(t, ns, deploy, deploy, injectLoad)
	t.Logf("figure: rollout of the same app after kubectl podlife inject: %d failed of %d\n%s", after.failed(), after.total(), after.report())
	if before.failed() == 0 {
		t.Errorf("rollout of the plain app: 0 failed requests, want > 0: the load cannot tell podlife from its absence")
	}
	if after.failed() != 0 {
		t.Errorf("rollout after kubectl podlife inject: %d failed requests, want 0", after.failed())
	}
}

// injectLoad is standardLoad without its gRPC clients (the plain app
// speaks only HTTP) and without its keep-alive POSTs. A plain app's
// Shutdown at SIGTERM closes the keep-alive connections idle at that
// instant, and a POST a client sends on one just then is lost: the client
// cannot retry it (RFC 9112 §9.3.1), while the keep-alive GETs of the load
// are retried by net/http's client. No preStop hook can remove that race
// (seen here: EOF on a connection reused after 101 ms idle, within a
// millisecond of the app's "shutting down"); the app has to retire its
// connections while it drains, as package lifecycle does — RollingUpdate
// holds that for POSTs.
func injectLoad(ip string) loadConfig {
	cfg := standardLoad(ip, "plain-app", false)
	cfg.Post = 0
	return cfg
}

// importPlainImage builds cmd/plainhttp into dir and imports it into the
// node as plainImage: the binary alone on scratch, as ko would build it.
func (e *env) importPlainImage(t *testing.T, dir string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	bin := filepath.Join(dir, "plainhttp")
	build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, "./cmd/plainhttp")
	build.Dir = filepath.Join(e.repo, "e2e/kube")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building cmd/plainhttp: %v\n%s", err, out)
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.c.ImportImage(ctx, plainImage, []cluster.File{{Path: "/app/plainhttp", Data: data, Mode: 0o755}},
		cluster.ImageConfig{User: "65532:65532", Entrypoint: []string{"/app/plainhttp"}}); err != nil {
		t.Fatal(err)
	}
}

// serviceAnswers waits until 30 requests in a row, each on a new
// connection, get 200 from GET /hello through the Service's ClusterIP.
func (e *env) serviceAnswers(t *testing.T, ns, svc string) {
	t.Helper()
	url := "http://" + e.clusterIP(t, ns, svc) + "/hello"
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil}}
	defer client.CloseIdleConnections()
	e.eventually(t, "service "+svc+" answering 30 requests in a row", time.Minute, func() error {
		for i := range 30 {
			resp, err := client.Get(url)
			if err != nil {
				return fmt.Errorf("request %d: %v", i+1, err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("request %d: status %d", i+1, resp.StatusCode)
			}
		}
		return nil
	})
}

// killings places kubelet's Killing events of ns (the start of a
// container's stop: preStop, then SIGTERM) since a load run's start, in
// seconds into the run, so that a failure's time can be read against them.
func (e *env) killings(t *testing.T, ns string, start time.Time) string {
	t.Helper()
	out := e.kubectl(t, "get", "events", "-n", ns, "--field-selector", "reason=Killing", "-o", "json")
	var list struct {
		Items []struct {
			InvolvedObject struct {
				Name string `json:"name"`
			} `json:"involvedObject"`
			FirstTimestamp time.Time `json:"firstTimestamp"`
			EventTime      time.Time `json:"eventTime"`
		} `json:"items"`
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatal(err)
	}
	type killing struct {
		at   time.Time
		name string
	}
	var ks []killing
	for _, ev := range list.Items {
		ts := ev.FirstTimestamp
		if ts.IsZero() {
			ts = ev.EventTime
		}
		if !ts.Before(start.Truncate(time.Second)) {
			ks = append(ks, killing{ts, ev.InvolvedObject.Name})
		}
	}
	sort.Slice(ks, func(i, j int) bool { return ks[i].at.Before(ks[j].at) })
	var at []string
	for _, k := range ks {
		at = append(at, fmt.Sprintf("+%.0fs %s", k.at.Sub(start).Seconds(), k.name))
	}
	return strings.Join(at, ", ")
}
