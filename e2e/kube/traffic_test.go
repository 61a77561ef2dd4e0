package kube

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
)

// testBlueGreen: switching the Service's selector from blue to green under
// load (examples/kubernetes/blue-green as shipped) fails 0 requests, and
// afterwards only green Pods get the traffic.
func testBlueGreen(t *testing.T, e *env) {
	ns := e.namespace(t, "bluegreen")
	e.apply(t, ns, "config.yaml", "blue-green/deployments.yaml", "blue-green/services.yaml")
	e.rollout(t, ns, "podlife-bluegreen-blue")
	e.rollout(t, ns, "podlife-bluegreen-green")
	ip := e.clusterIP(t, ns, "podlife-bluegreen")
	run := startLoad(standardLoad(ip, "bg-switch", false), 3*time.Minute)
	time.Sleep(5 * time.Second)
	e.kubectl(t, "patch", "service", "podlife-bluegreen", "-n", ns, "-p", `{"spec":{"selector":{"podlife.dev/slot":"green"}}}`)
	time.Sleep(15 * time.Second)
	run.stop()
	t.Logf("figure: Blue/Green switch under load: %d failed of %d\n%s", run.failed(), run.total(), run.report())
	if run.failed() != 0 {
		t.Errorf("Blue/Green switch: %d failed requests, want 0", run.failed())
	}
	// New connections after the switch reach green only.
	after := startLoad(loadConfig{HTTP: "http://" + ip, NewConn: 2, NewConnRate: 50, RequestID: "bg-after"}, time.Minute)
	time.Sleep(3 * time.Second)
	after.stop()
	shares := e.served(t, ns, "app.kubernetes.io/name=podlife-bluegreen", "podlife.dev/slot", "bg-after-")
	if shares["blue"] != 0 || shares["green"] == 0 {
		t.Errorf("after the switch: requests served by slot %v, want green only", shares)
	}
}

// served counts, per value of label, the access lines whose request id
// starts with prefix in the logs of the Pods matching selector.
func (e *env) served(t *testing.T, ns, selector, label, prefix string) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, p := range e.pods(t, ns, selector) {
		for _, l := range e.logs(t, ns, p.Metadata.Name, "-c", "service") {
			if strings.Contains(l.Raw, `"`+prefix) {
				out[p.Metadata.Labels[label]]++
			}
		}
	}
	return out
}

// testCanary: with examples/kubernetes/canary as shipped (9 stable Pods, 1
// canary) the canary's share of new connections is its share of the Pods,
// 10% ± 5 points; scaled to 7 + 3 as the manifest's comment says, 30% ± 7
// points. (1,000 requests each: the binomial standard deviation is 0.95 and
// 1.45 points, so the tolerances are above 5 of them.)
func testCanary(t *testing.T, e *env) {
	ns := e.namespace(t, "canary")
	e.apply(t, ns, "config.yaml", "canary/deployments.yaml", "canary/service.yaml")
	e.rollout(t, ns, "podlife-canary-stable")
	e.rollout(t, ns, "podlife-canary-canary")
	ip := e.clusterIP(t, ns, "podlife-canary")
	check := func(step string, want, tol float64) {
		run := startLoad(loadConfig{HTTP: "http://" + ip, NewConn: 4, NewConnRate: 25, RequestID: "canary-" + step}, time.Minute)
		time.Sleep(10 * time.Second)
		run.stop()
		if run.failed() != 0 {
			t.Errorf("%s: %d failed requests\n%s", step, run.failed(), run.report())
		}
		s := e.served(t, ns, "app.kubernetes.io/name=podlife-canary", "podlife.dev/track", "canary-"+step+"-")
		n := s["stable"] + s["canary"]
		if n == 0 {
			t.Fatalf("%s: no access lines found", step)
		}
		share := float64(s["canary"]) / float64(n)
		t.Logf("figure: canary %s: %d of %d requests (%.1f%%), want %.0f%% ± %.0f points", step, s["canary"], n, 100*share, 100*want, 100*tol)
		if math.Abs(share-want) > tol {
			t.Errorf("canary %s: share %.3f, want %.2f ± %.2f", step, share, want, tol)
		}
	}
	check("1of10", 0.10, 0.05)
	e.kubectl(t, "scale", "deployment", "podlife-canary-canary", "--replicas=3", "-n", ns)
	e.kubectl(t, "scale", "deployment", "podlife-canary-stable", "--replicas=7", "-n", ns)
	e.rollout(t, ns, "podlife-canary-canary")
	e.rollout(t, ns, "podlife-canary-stable")
	e.eventually(t, "10 Pods, 3 of them canary", 2*time.Minute, func() error {
		ps := e.pods(t, ns, "app.kubernetes.io/name=podlife-canary")
		if len(ps) != 10 {
			return fmt.Errorf("%d Pods", len(ps))
		}
		return nil
	})
	time.Sleep(3 * time.Second) // kube-proxy's rules follow the EndpointSlice
	check("3of10", 0.30, 0.07)
}

// testDeliveryInitContainer: examples/kubernetes/delivery/init-container.yaml
// (its ko:// image replaced by the example service alone on scratch):
// the init container copies the binaries into the emptyDir, and the
// probes and hooks run from there.
func testDeliveryInitContainer(t *testing.T, e *env) {
	ns := e.namespace(t, "delivery")
	e.apply(t, ns, "config.yaml", "delivery/init-container.yaml")
	p := e.onePod(t, ns, "podlife-example-init")
	out := e.kubectl(t, "get", "pod", "-n", ns, p.Metadata.Name, "-o", "jsonpath={.status.initContainerStatuses[0].state.terminated.exitCode}")
	if out != "0" {
		t.Errorf("init container exit code %q, want 0", out)
	}
	// The app image has no podlife of its own: what runs came from the copy.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := e.c.Kubectl(ctx, "exec", "-n", ns, p.Metadata.Name, "-c", "service", "--", "/podlife/probe", "--version"); err == nil {
		t.Errorf("/podlife/probe exists in the app image: the test would not show the delivery")
	}
	v := e.kubectl(t, "exec", "-n", ns, p.Metadata.Name, "-c", "service", "--", "/podlife-bin/probe", "--version")
	logs := e.logs(t, ns, p.Metadata.Name, "-c", "service")
	if i := find(logs, "warm-up done", "phase", "summary"); i < 0 || logs[i].Fields["ok"] != true {
		t.Errorf("no successful warm-up summary from /podlife-bin/warmup in kubectl logs")
	}
	t.Logf("delivered: /podlife-bin/probe --version: %s", strings.TrimSpace(v))
}

// testDeliveryImageVolume: examples/kubernetes/delivery/image-volume.yaml
// needs a runtime with image volumes (containerd ≥ 2.1, CRI-O ≥ 1.31); on
// the node's containerd the test says why it skips.
func testDeliveryImageVolume(t *testing.T, e *env) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	v, err := e.c.RuntimeVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var major, minor int
	fmt.Sscanf(strings.TrimPrefix(v, "v"), "%d.%d", &major, &minor)
	if major < 2 || (major == 2 && minor < 1) {
		t.Skipf("image-volume delivery skipped: the node's containerd %s has no image-volume support (it needs containerd >= 2.1)", v)
	}
	ns := e.namespace(t, "imagevolume")
	e.apply(t, ns, "config.yaml", "delivery/image-volume.yaml")
	e.onePod(t, ns, "podlife-example-imagevolume")
}
