package kube

import (
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// standardLoad is the traffic of the rollout tests: keep-alive clients
// (GETs at 200 req/s, POSTs with think time), clients opening a new
// connection per request at 120 req/s (where a missing preStop shows: a
// new connection is balanced to a Pod kube-proxy has not yet removed), and
// gRPC clients.
func standardLoad(ip, requestID string, grpc bool) loadConfig {
	cfg := loadConfig{
		HTTP:      "http://" + ip,
		KeepAlive: 4, KeepAliveRate: 50,
		Post: 2, PostThink: 100 * time.Millisecond,
		NewConn: 4, NewConnRate: 30,
		RequestID: requestID,
	}
	// PODLIFE_KUBE_POSTS=N runs N POST clients instead of 2: a rare race
	// on keep-alive connections shows N/2 times as often.
	if n, _ := strconv.Atoi(os.Getenv("PODLIFE_KUBE_POSTS")); n > 0 {
		cfg.Post = n
	}
	if grpc {
		cfg.GRPC, cfg.GRPCClients, cfg.GRPCRate = ip+":9090", 2, 25
	}
	return cfg
}

// testRollingUpdate restarts examples/kubernetes' Deployment under load
// through its Service's ClusterIP and counts failed requests: 0 with
// podlife. In the same run the control — the same Deployment with no
// preStop hook and LIFECYCLE_SHUTDOWN_DELAY=0s — must fail some, or the
// test proves nothing.
func testRollingUpdate(t *testing.T, e *env) {
	ns := e.namespace(t, "rollout")
	e.apply(t, ns, "config.yaml", "deployment.yaml", "service.yaml", "pdb.yaml")

	dep := e.object(t, "deployment.yaml", "")
	relabel(dep, "podlife-control")
	ctr := container(dep, "service")
	delete(ctr["lifecycle"].(map[string]any), "preStop")
	ctr["env"] = append(ctr["env"].([]any),
		map[string]any{"name": "LIFECYCLE_SHUTDOWN_DELAY", "value": "0s"},
		map[string]any{"name": "LIFECYCLE_PRESTOP", "value": "0s"}) // no hook, nothing to budget for
	e.applyObject(t, ns, dep)
	svc := e.object(t, "service.yaml", "")
	svc["metadata"].(map[string]any)["name"] = "podlife-control"
	svc["metadata"].(map[string]any)["labels"] = map[string]any{"app.kubernetes.io/name": "podlife-control"}
	svc["spec"].(map[string]any)["selector"] = map[string]any{"app.kubernetes.io/name": "podlife-control"}
	e.applyObject(t, ns, svc)

	e.rollout(t, ns, "podlife-example")
	e.rollout(t, ns, "podlife-control")

	t.Logf("figure: cluster memory with 6 Pods (3 + 3 control): %d MiB RSS", e.c.RSS()>>20)
	with := e.restartUnderLoad(t, ns, "podlife-example", "podlife-example")
	control := e.restartUnderLoad(t, ns, "podlife-control", "podlife-control")
	t.Logf("figure: rollout with podlife: %d failed of %d\n%s", with.failed(), with.total(), with.report())
	t.Logf("figure: rollout of the control (no preStop, no shutdown delay): %d failed of %d\n%s", control.failed(), control.total(), control.report())
	if with.failed() != 0 {
		t.Errorf("rolling restart with podlife: %d failed requests, want 0", with.failed())
	}
	if control.failed() == 0 {
		t.Errorf("rolling restart of the control: 0 failed requests, want > 0: the load cannot tell podlife from its absence")
	}
}

// restartUnderLoad runs `kubectl rollout restart` of a Deployment under
// standardLoad to svc, with gRPC, and keeps the load on until every old Pod
// is gone.
func (e *env) restartUnderLoad(t *testing.T, ns, deploy, svc string) *loadRun {
	t.Helper()
	return e.restartUnder(t, ns, deploy, svc, func(ip string) loadConfig { return standardLoad(ip, deploy, true) })
}

// restartUnder is restartUnderLoad with the load that load gives for the
// Service's ClusterIP.
func (e *env) restartUnder(t *testing.T, ns, deploy, svc string, load func(ip string) loadConfig) *loadRun {
	t.Helper()
	sel := "app.kubernetes.io/name=" + deploy
	var old []string
	logs := map[string]func() []byte{}
	for _, p := range e.pods(t, ns, sel) {
		old = append(old, p.Metadata.Name)
		// Followed to the end, so that a failure can be placed against what
		// the old Pods logged while they stopped.
		logs[p.Metadata.Name] = e.stream(t, "logs", "-f", "--timestamps", "--all-containers", "-n", ns, p.Metadata.Name)
	}
	ip := e.clusterIP(t, ns, svc)
	run := startLoad(load(ip), 6*time.Minute)
	time.Sleep(3 * time.Second)
	t.Logf("%s: rollout restart at +%.1fs into the load", deploy, time.Since(run.start).Seconds())
	e.kubectl(t, "rollout", "restart", "-n", ns, "deployment/"+deploy)
	e.rollout(t, ns, deploy)
	e.eventually(t, "the old Pods of "+deploy+" gone", 3*time.Minute, func() error {
		for _, p := range e.pods(t, ns, sel) {
			if slices.Contains(old, p.Metadata.Name) {
				return fmt.Errorf("%s still there", p.Metadata.Name)
			}
		}
		return nil
	})
	time.Sleep(2 * time.Second)
	run.stop()
	if run.failed() > 0 {
		t.Logf("%s: containers stopped (kubelet's Killing events): %s", deploy, e.killings(t, ns, run.start))
		e.placeFailures(t, ns, sel, run, logs)
	}
	return run
}

// placeFailures logs, for a run that lost requests, what each old Pod's
// app logged about its shutdown (in seconds into the load) and which Pod,
// old or new, logged the failed requests' IDs: a request the app answered
// was lost on the way back, one it never logged was lost before it.
func (e *env) placeFailures(t *testing.T, ns, sel string, run *loadRun, old map[string]func() []byte) {
	t.Helper()
	all := map[string][]logLine{}
	for name, stop := range old {
		all[name] = parseTimestamped(string(stop()))
	}
	for _, p := range e.pods(t, ns, sel) {
		if _, ok := all[p.Metadata.Name]; !ok {
			all[p.Metadata.Name] = parseTimestamped(e.kubectl(t, "logs", "--timestamps", "--all-containers", "-n", ns, p.Metadata.Name))
		}
	}
	for _, name := range slices.Sorted(maps.Keys(old)) {
		var phases []string
		for _, l := range all[name] {
			if _, access := l.Fields["http.request.id"]; !access {
				msg := l.Message
				if msg == "" {
					msg = l.Raw
				}
				phases = append(phases, fmt.Sprintf("+%.3fs %s", l.Time.Sub(run.start).Seconds(), msg))
			}
		}
		t.Logf("%s (old): %s", name, strings.Join(phases, "; "))
	}
	for _, id := range run.failedIDs() {
		where := "no Pod logged it"
		for name, lines := range all {
			for _, l := range lines {
				if strings.Contains(l.Raw, `"`+id+`"`) {
					where = fmt.Sprintf("%s logged it at +%.3fs: %s", name, l.Time.Sub(run.start).Seconds(), l.Raw)
				}
			}
		}
		t.Logf("failed request %s: %s", id, where)
	}
}

// relabel renames a Deployment (decoded JSON) and its app.kubernetes.io/name
// label everywhere: metadata, selector, template.
func relabel(dep map[string]any, name string) {
	md := dep["metadata"].(map[string]any)
	md["name"] = name
	spec := dep["spec"].(map[string]any)
	for _, labels := range []any{
		md["labels"],
		spec["selector"].(map[string]any)["matchLabels"],
		spec["template"].(map[string]any)["metadata"].(map[string]any)["labels"],
	} {
		labels.(map[string]any)["app.kubernetes.io/name"] = name
	}
}

// container is the named container of a Deployment (decoded JSON).
func container(dep map[string]any, name string) map[string]any {
	ps := dep["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)
	for _, c := range ps["containers"].([]any) {
		if m := c.(map[string]any); m["name"] == name {
			return m
		}
	}
	panic("no container " + name)
}

// podSpec is a Deployment's Pod template spec (decoded JSON).
func podSpec(dep map[string]any) map[string]any {
	return dep["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)
}

// parseTimestamped parses `kubectl logs --timestamps` output: each line's
// time is kubelet's, the rest is parsed as parseLogs does.
func parseTimestamped(out string) []logLine {
	var lines []logLine
	for _, raw := range strings.Split(out, "\n") {
		ts, rest, ok := strings.Cut(raw, " ")
		if !ok {
			continue
		}
		at, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil {
			continue
		}
		for _, l := range parseLogs(rest) {
			l.Time = at
			lines = append(lines, l)
		}
	}
	return lines
}
