package kube

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// testPostStartWarmup: the postStart warmup ran before the container was
// Ready, and its summary is in `kubectl logs` (--log-to-pid1). Figures:
// Pod start-to-Ready with the shipped warm-up and without it.
func testPostStartWarmup(t *testing.T, e *env) {
	ns := e.namespace(t, "warmup")
	e.apply(t, ns, "config.yaml", "deployment.yaml")
	nowarm := e.variant(t, "deployment.yaml", "", "podlife-nowarmup")
	delete(container(nowarm, "service")["lifecycle"].(map[string]any), "postStart")
	e.applyObject(t, ns, nowarm)
	e.rollout(t, ns, "podlife-example")
	e.rollout(t, ns, "podlife-nowarmup")

	var with, without []time.Duration
	for _, p := range e.pods(t, ns, "app.kubernetes.io/name=podlife-example") {
		ready, readyAt := p.ready()
		if !ready {
			t.Fatalf("%s not Ready after its rollout", p.Metadata.Name)
		}
		logs := e.logs(t, ns, p.Metadata.Name, "-c", "service")
		i := find(logs, "warm-up done", "phase", "summary")
		if i < 0 {
			t.Fatalf("%s: no warm-up summary in kubectl logs; got %d lines", p.Metadata.Name, len(logs))
		}
		s := logs[i]
		if s.Fields["ok"] != true || s.Fields["requests"].(float64) < 1 {
			t.Errorf("%s: warm-up summary %s, want ok with requests", p.Metadata.Name, s.Raw)
		}
		// Ready's transition time has whole seconds: the summary must not
		// come after the second the container became Ready.
		if s.Time.Truncate(time.Second).After(readyAt) {
			t.Errorf("%s: warm-up summary at %v, after Ready at %v", p.Metadata.Name, s.Time, readyAt)
		}
		with = append(with, readyAt.Sub(p.Metadata.CreationTimestamp))
		t.Logf("%s: warm-up %v ms, %v requests, summary %v, Ready %v", p.Metadata.Name, s.Fields["elapsed_ms"], s.Fields["requests"], s.Time.Format(time.StampMilli), readyAt.Format(time.Stamp))
	}
	for _, p := range e.pods(t, ns, "app.kubernetes.io/name=podlife-nowarmup") {
		_, readyAt := p.ready()
		without = append(without, readyAt.Sub(p.Metadata.CreationTimestamp))
	}
	t.Logf("figure: Pod start-to-Ready (creation to Ready, whole seconds): with warm-up %v, without %v", with, without)
}

// testWarmupFailsOpen: a warm-up that cannot reach the app (its targets
// on a port nothing listens on) fails open: the Pod still starts and gets
// Ready, and the summary says why the warm-up did nothing.
func testWarmupFailsOpen(t *testing.T, e *env) {
	ns := e.namespace(t, "warmup-open")
	e.apply(t, ns, "config.yaml")
	dep := e.variant(t, "deployment.yaml", "", "podlife-unreachable")
	dep["spec"].(map[string]any)["replicas"] = 1
	ctr := container(dep, "service")
	cmd := ctr["lifecycle"].(map[string]any)["postStart"].(map[string]any)["exec"].(map[string]any)["command"].([]any)
	for i, a := range cmd {
		cmd[i] = strings.ReplaceAll(a.(string), "127.0.0.1:8080", "127.0.0.1:8081")
	}
	setEnv(ctr, "WARMUP_TIMEOUT", "5s")
	e.applyObject(t, ns, dep)
	p := e.onePod(t, ns, "podlife-unreachable")
	if n := p.Status.ContainerStatuses[0].RestartCount; n != 0 {
		t.Errorf("restartCount %d, want 0: a failed warm-up must not kill the container", n)
	}
	logs := e.logs(t, ns, p.Metadata.Name, "-c", "service")
	i := find(logs, "warm-up done", "phase", "summary")
	if i < 0 {
		t.Fatalf("no warm-up summary in kubectl logs")
	}
	if logs[i].Fields["ok"] != false || logs[i].Fields["problem"] == nil {
		t.Errorf("warm-up summary %s, want ok=false with a problem", logs[i].Raw)
	}
	t.Logf("fail-open summary: %s", logs[i].Raw)
}

// testReadinessDrainEvent: the exec readiness probe /podlife/probe
// passes; when the app drains (POST /drainz from inside the Pod, as
// prestop sends it) the probe's one-line reason is in the Pod's events.
func testReadinessDrainEvent(t *testing.T, e *env) {
	ns := e.namespace(t, "readiness")
	e.apply(t, ns, "config.yaml", "deployment.yaml")
	p := e.onePod(t, ns, "podlife-example")
	for _, ev := range e.events(t, ns, p.Metadata.Name) {
		if strings.Contains(ev, "Readiness probe failed") {
			t.Errorf("before the drain: %q", ev)
		}
	}
	e.kubectl(t, "exec", "-n", ns, p.Metadata.Name, "-c", "service", "--",
		"/podlife/prestop", "--notify=http://127.0.0.1:8080/drainz", "--sleep=0s")
	const want = "Readiness probe failed: probe: http://127.0.0.1:8080/readyz: status 503"
	var got string
	e.eventually(t, "a readiness event naming /readyz", 60*time.Second, func() error {
		for _, ev := range e.events(t, ns, p.Metadata.Name) {
			if strings.Contains(ev, want) {
				got = ev
				return nil
			}
		}
		return fmt.Errorf("events: %q", e.events(t, ns, p.Metadata.Name))
	})
	// One short line per failing target (the probe checks two), each
	// naming its target: what kubectl describe shows.
	lines := strings.Split(strings.TrimSpace(got[strings.Index(got, "probe:"):]), "\n")
	if len(lines) > 2 {
		t.Errorf("probe's reason: %d lines for 2 targets: %q", len(lines), lines)
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, "probe: http://127.0.0.1:8080/readyz: ") && !strings.HasPrefix(l, "probe: grpc://127.0.0.1:9090: ") {
			t.Errorf("probe's reason line %q names no target of the probe", l)
		}
	}
	t.Logf("event: %s", got)
	e.eventually(t, "the Pod not Ready", 30*time.Second, func() error {
		for _, q := range e.pods(t, ns, "app.kubernetes.io/name=podlife-example") {
			if q.Metadata.Name == p.Metadata.Name {
				if ok, _ := q.ready(); ok {
					return fmt.Errorf("still Ready")
				}
			}
		}
		return nil
	})
}

// testLivenessWatchdogRestart: a stalled background loop (POST /stall)
// stops the watchdog's heartbeat, /livez fails, and kubelet restarts the
// container.
func testLivenessWatchdogRestart(t *testing.T, e *env) {
	ns := e.namespace(t, "liveness")
	e.apply(t, ns, "config.yaml", "deployment.yaml")
	p := e.onePod(t, ns, "podlife-example")
	before := p.Status.ContainerStatuses[0].RestartCount
	e.kubectl(t, "exec", "-n", ns, p.Metadata.Name, "-c", "service", "--",
		"/podlife/probe", "--method=POST", "http://127.0.0.1:8080/stall")
	e.eventually(t, "a container restart", 3*time.Minute, func() error {
		for _, q := range e.pods(t, ns, "app.kubernetes.io/name=podlife-example") {
			if q.Metadata.Name == p.Metadata.Name {
				if n := q.Status.ContainerStatuses[0].RestartCount; n > before {
					return nil
				}
			}
		}
		return fmt.Errorf("restartCount still %d", before)
	})
	var liveness string
	for _, ev := range e.events(t, ns, p.Metadata.Name) {
		if strings.Contains(ev, "Liveness probe failed") {
			liveness = ev
		}
	}
	if liveness == "" {
		t.Errorf("no liveness failure in the events: %q", e.events(t, ns, p.Metadata.Name))
	}
	t.Logf("event: %s", liveness)
}

// testPreStopBeforeSIGTERM: deleting a Pod runs prestop --notify first
// (the app logs the drain), then SIGTERM (the app logs the signal), and
// the container exits 0 within its grace period.
func testPreStopBeforeSIGTERM(t *testing.T, e *env) {
	ns := e.namespace(t, "prestop")
	e.apply(t, ns, "config.yaml", "deployment.yaml")
	p := e.onePod(t, ns, "podlife-example")
	r := e.deleteAndWatch(t, ns, p.Metadata.Name, 90*time.Second)
	drain := find(r.Logs, "lifecycle: draining")
	sig := find(r.Logs, "lifecycle: shutdown", "trigger", "signal terminated")
	stopped := find(r.Logs, "lifecycle: stopped")
	if drain < 0 || sig < 0 || drain > sig {
		t.Errorf("log lines: drain at %d, SIGTERM at %d; want the drain (preStop's --notify) first", drain, sig)
	}
	if stopped < 0 {
		t.Errorf("no \"lifecycle: stopped\" line: the shutdown did not finish")
	}
	term := r.Status.State.Terminated
	took := term.FinishedAt.Sub(r.DeletedAt.Truncate(time.Second))
	if term.ExitCode != 0 {
		t.Errorf("exit code %d (%s), want 0", term.ExitCode, term.Reason)
	}
	if took > 45*time.Second {
		t.Errorf("terminated %v after the delete, want within the 45s grace period", took)
	}
	if drain >= 0 && sig >= 0 {
		t.Logf("drain at %v, SIGTERM at %v, exit %d after %v", r.Logs[drain].Time.Format(time.StampMilli), r.Logs[sig].Time.Format(time.StampMilli), term.ExitCode, took)
	}
}

// testBudgetSIGKILL: a Pod whose grace period (6s) is shorter than
// preStop 5s + shutdown delay 10s + drain: lifecycle's start-up budget
// check says so in the log, and kubelet kills it with SIGKILL (exit 137):
// SIGTERM comes after the 5s preStop, kubelet allows at least 2s more, and
// the app is still in its shutdown delay (it ends 10s after the drain
// began, at the start of preStop).
func testBudgetSIGKILL(t *testing.T, e *env) {
	ns := e.namespace(t, "budget")
	e.apply(t, ns, "config.yaml")
	dep := e.variant(t, "deployment.yaml", "", "podlife-short-grace")
	dep["spec"].(map[string]any)["replicas"] = 1
	podSpec(dep)["terminationGracePeriodSeconds"] = 6
	setEnv(container(dep, "service"), "LIFECYCLE_TERMINATION_GRACE_PERIOD", "6s")
	e.applyObject(t, ns, dep)
	p := e.onePod(t, ns, "podlife-short-grace")
	logs := e.logs(t, ns, p.Metadata.Name, "-c", "service")
	i := -1
	for j, l := range logs {
		if strings.HasPrefix(l.Message, "lifecycle: shutdown budget exceeds the termination grace period") {
			i = j
		}
	}
	if i < 0 {
		t.Errorf("no budget warning at start-up in kubectl logs")
	} else {
		t.Logf("budget check: %s", logs[i].Raw)
	}
	r := e.deleteAndWatch(t, ns, p.Metadata.Name, 60*time.Second)
	term := r.Status.State.Terminated
	if term.ExitCode != 137 {
		t.Errorf("exit code %d (%s), want 137 (SIGKILL at the end of the grace period)", term.ExitCode, term.Reason)
	}
	t.Logf("terminated: exit %d (%s) %v after the delete", term.ExitCode, term.Reason, term.FinishedAt.Sub(r.DeletedAt.Truncate(time.Second)))
	if find(r.Logs, "lifecycle: stopped") >= 0 {
		t.Errorf("the shutdown finished (\"lifecycle: stopped\"): the grace period was not too short after all")
	}
}
