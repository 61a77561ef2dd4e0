package main

import (
	"fmt"
	"path"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// linter holds what the rules look up across objects.
type linter struct {
	def       defaults
	rules     map[string]rule
	objs      []*object
	cs        configSource
	workloads []*workload
	services  []*corev1.Service
}

// lint runs every rule on objs and returns the findings, in input order.
func lint(objs []*object, def defaults) []finding {
	l := &linter{def: def, rules: map[string]rule{}, objs: objs, cs: newConfigSource(objs)}
	for _, r := range rules() {
		l.rules[r.ID] = r
	}
	for _, o := range objs {
		if w, ok := asWorkload(o, def); ok {
			l.workloads = append(l.workloads, w)
		}
		if s, ok := o.typed.(*corev1.Service); ok {
			l.services = append(l.services, s)
		}
	}
	var all []finding
	for _, o := range objs {
		var fs []finding
		add := func(rule, container, path, format string, args ...any) {
			r := l.rules[rule]
			fs = append(fs, finding{
				Rule: rule, Severity: r.Severity, Message: fmt.Sprintf(format, args...),
				File: displayName(o.doc.file), Document: o.doc.index, Line: o.line(path),
				Kind: o.kind, Name: o.name, Namespace: o.namespace, Container: container, Source: r.Source,
			})
		}
		for _, p := range o.strict {
			add(ruleStrict, "", p.path, "%s: %s", p.msg, p.fix)
			if p.line > 0 {
				fs[len(fs)-1].Line = o.doc.absLine(p.line)
			}
		}
		if w, ok := asWorkload(o, def); ok {
			l.workload(w, add)
		}
		if pdb, ok := o.typed.(*policyv1.PodDisruptionBudget); ok {
			l.pdb(pdb, add)
		}
		slices.SortStableFunc(fs, func(a, b finding) int { return a.Line - b.Line })
		all = append(all, fs...)
	}
	return all
}

// addFunc records a finding on the object being linted.
type addFunc func(rule, container, path, format string, args ...any)

func (l *linter) workload(w *workload, add addFunc) {
	grace := w.gracePeriod(l.def)
	behind := l.serviceOf(w)
	for i := range w.spec.InitContainers {
		c := &w.spec.InitContainers[i]
		l.hygiene(w, c, w.containerPath(i, true), add)
	}
	for i := range w.spec.Containers {
		c := &w.spec.Containers[i]
		cpath := w.containerPath(i, false)
		l.hygiene(w, c, cpath, add)
		env, from, missing := l.cs.environment(w.obj.namespace, c, cpath)
		for _, m := range missing {
			add(ruleConfigRef, c.Name, m.path, "%s is not in the input: pass it with -f too, so its settings are read (defaults assumed)", m.what)
		}
		var bad []badSetting
		b := containerBudget(c, env, grace, l.def, &bad)
		if w.serves {
			l.termination(w, c, cpath, b, behind, add)
		}
		l.toldGrace(w, c, cpath, env, from, b, add)
		l.probes(c, cpath, env, b, &bad, add)
		l.postStart(c, cpath, add)
		for _, s := range slices.CompactFunc(bad, func(a, b badSetting) bool { return a == b }) {
			fix := "is not a duration: write it like 5s, 800ms or 1m30s"
			if s.fix != "" {
				fix = s.fix
			}
			add(ruleSetting, c.Name, cpath, "%s=%q %s (the app or the hook that reads it exits 2)", s.what, s.value, fix)
		}
	}
	for i, v := range w.spec.Volumes {
		if v.Image != nil && notPinned(v.Image.Reference, v.Image.PullPolicy) {
			add(ruleImage, "", fmt.Sprintf("%s.volumes[%d].image.reference", w.specPath, i),
				"image volume %q has no version tag: pin a tag or a digest (%s)", v.Image.Reference, pinExample(v.Image.Reference))
		}
	}
}

// serviceOf returns the name of a Service in the input that selects w's Pods.
func (l *linter) serviceOf(w *workload) string {
	if !w.serves {
		return ""
	}
	for _, s := range l.services {
		if len(s.Spec.Selector) == 0 || s.Namespace != w.obj.namespace {
			continue
		}
		if labels.SelectorFromSet(s.Spec.Selector).Matches(labels.Set(w.labels)) {
			return s.Name
		}
	}
	return ""
}

func (l *linter) termination(w *workload, c *corev1.Container, cpath string, b budget, behind string, add addFunc) {
	if behind != "" && !b.HasHook && (len(c.Ports) > 0 || len(w.spec.Containers) == 1) {
		add(rulePreStop, c.Name, cpath, "no preStop hook, and Service %q routes to this Pod: add one that waits while the endpoint is removed, e.g. exec [prestop, --sleep=5s] or sleep: {seconds: 5} (kubectl podlife inject adds it)", behind)
	}
	if (b.HasHook || b.Lifecycle) && b.Total() > b.Grace {
		dflt := ""
		if w.spec.TerminationGracePeriodSeconds == nil {
			dflt = " (the default)"
		}
		add(ruleBudget, c.Name, w.specPath+".terminationGracePeriodSeconds",
			"%s exceeds terminationGracePeriodSeconds %d%s: raise it to %d, or shorten the hook, the delay or the drain",
			b.terms(), int64(b.Grace/time.Second), dflt, ceilSeconds(b.Total()))
	}
}

// toldGrace checks that what package lifecycle is told of the grace period
// is the grace period: the app cannot read its Pod spec.
func (l *linter) toldGrace(w *workload, c *corev1.Container, cpath string, env map[string]string, from map[string]origin, b budget, add addFunc) {
	if b.Told == 0 || b.Told == b.Grace {
		return // unset, or refused by invalid-setting
	}
	at, where, dflt := w.specPath+".terminationGracePeriodSeconds", "", ""
	if w.spec.TerminationGracePeriodSeconds == nil {
		at, dflt = from[graceEnv].path, " (the default)"
	}
	if what := from[graceEnv].what; what != "" {
		where = " (from " + what + ")"
	}
	add(ruleGrace, c.Name, at,
		"%s is %s%s but terminationGracePeriodSeconds is %d%s: set them equal, so that the app's start-up budget check checks the real grace period",
		graceEnv, env[graceEnv], where, int64(b.Grace/time.Second), dflt)
}

func ceilSeconds(d time.Duration) int64 { return int64((d + time.Second - 1) / time.Second) }

func (l *linter) probes(c *corev1.Container, cpath string, env map[string]string, b budget, bad *[]badSetting, add addFunc) {
	if r := c.ReadinessProbe; r != nil && b.Lifecycle && !b.Notifies {
		period, failures := orDefault(r.PeriodSeconds, l.def.ProbePeriod), orDefault(r.FailureThreshold, l.def.FailureThreshold)
		if notice := time.Duration(period*failures) * time.Second; notice > b.Delay {
			add(ruleReadiness, c.Name, cpath+".readinessProbe",
				"readiness fails %v (periodSeconds %d × failureThreshold %d) after SIGTERM, later than the shutdown delay %v ends: tell the app to drain in preStop (prestop --notify=http://127.0.0.1:PORT/drainz), or make periodSeconds × failureThreshold ≤ %v",
				notice, period, failures, b.Delay, b.Delay)
		}
	}
	if lp, rp := c.LivenessProbe, c.ReadinessProbe; lp != nil && rp != nil {
		if what, same := sameCheck(c, lp.ProbeHandler, rp.ProbeHandler); same {
			add(ruleLivenessReadiness, c.Name, cpath+".livenessProbe",
				"livenessProbe checks the same %s as readinessProbe: point it at a check that fails only when a restart helps (a deadlock, e.g. package lifecycle's /livez)", what)
		}
	}
	for _, p := range []struct {
		name  string
		probe *corev1.Probe
	}{{"startupProbe", c.StartupProbe}, {"livenessProbe", c.LivenessProbe}, {"readinessProbe", c.ReadinessProbe}} {
		if p.probe == nil || p.probe.Exec == nil {
			continue
		}
		t, ok := podlifeTool(p.probe.Exec.Command, env)
		if !ok || t.name != "probe" {
			continue
		}
		own := t.duration("timeout", l.def.ProbeToolTimeout, bad)
		limit := time.Duration(orDefault(p.probe.TimeoutSeconds, int32(l.def.ProbeTimeout/time.Second))) * time.Second
		if own >= limit {
			add(ruleExecTimeout, c.Name, cpath+"."+p.name,
				"%s: probe's own timeout %v is not below timeoutSeconds %d: set timeoutSeconds: %d, or probe --timeout below %v",
				p.name, own, int64(limit/time.Second), int64(own/time.Second)+1, limit)
		}
	}
}

func orDefault(v, def int32) int32 {
	if v == 0 {
		return def
	}
	return v
}

// sameCheck reports whether two probe handlers check the same thing, and
// names it.
func sameCheck(c *corev1.Container, a, b corev1.ProbeHandler) (string, bool) {
	switch {
	case a.HTTPGet != nil && b.HTTPGet != nil:
		ga, gb := a.HTTPGet, b.HTTPGet
		if ga.Path == gb.Path && portNumber(c, ga.Port) == portNumber(c, gb.Port) && ga.Host == gb.Host && ga.Scheme == gb.Scheme {
			return fmt.Sprintf("endpoint (GET %s on port %s)", cmpOr(ga.Path, "/"), ga.Port.String()), true
		}
	case a.TCPSocket != nil && b.TCPSocket != nil:
		if portNumber(c, a.TCPSocket.Port) == portNumber(c, b.TCPSocket.Port) && a.TCPSocket.Host == b.TCPSocket.Host {
			return fmt.Sprintf("port (TCP %s)", a.TCPSocket.Port.String()), true
		}
	case a.GRPC != nil && b.GRPC != nil:
		if a.GRPC.Port == b.GRPC.Port && ptrString(a.GRPC.Service) == ptrString(b.GRPC.Service) {
			return fmt.Sprintf("gRPC health service (port %d)", a.GRPC.Port), true
		}
	case a.Exec != nil && b.Exec != nil:
		if slices.Equal(a.Exec.Command, b.Exec.Command) {
			return "command", true
		}
	}
	return "", false
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func ptrString(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// portNumber resolves a named port against the container's ports.
func portNumber(c *corev1.Container, p intstr.IntOrString) string {
	if p.Type == intstr.String {
		for _, cp := range c.Ports {
			if cp.Name == p.StrVal {
				return fmt.Sprint(cp.ContainerPort)
			}
		}
	}
	return p.String()
}

func (l *linter) postStart(c *corev1.Container, cpath string, add addFunc) {
	if c.Lifecycle == nil || c.Lifecycle.PostStart == nil || c.Lifecycle.PostStart.Exec == nil {
		return
	}
	cmd := c.Lifecycle.PostStart.Exec.Command
	if t, ok := podlifeTool(cmd, nil); ok && t.name == "warmup" {
		return // bounded by --timeout (WARMUP_TIMEOUT), and fail-open
	}
	if _, ok := execSleep(cmd); ok || (len(cmd) > 0 && path.Base(cmd[0]) == "timeout") {
		return
	}
	add(rulePostStart, c.Name, cpath+".lifecycle.postStart",
		"postStart exec %s has no bound: use podlife's warmup (bounded by --timeout, fail-open) or wrap the command in `timeout 60`", quoteCmd(cmd))
}

func quoteCmd(cmd []string) string {
	s := strings.Join(cmd, " ")
	if len(s) > 60 {
		s = s[:57] + "..."
	}
	return fmt.Sprintf("%q", s)
}

// hygiene checks what every container should have, init containers too.
func (l *linter) hygiene(w *workload, c *corev1.Container, cpath string, add addFunc) {
	if notPinned(c.Image, c.ImagePullPolicy) {
		add(ruleImage, c.Name, cpath+".image", "image %q has no version tag: pin a tag or a digest (%s)", c.Image, pinExample(c.Image))
	}
	sc, psc := c.SecurityContext, w.spec.SecurityContext
	nonRoot := psc != nil && psc.RunAsNonRoot != nil && *psc.RunAsNonRoot
	if sc != nil && sc.RunAsNonRoot != nil {
		nonRoot = *sc.RunAsNonRoot
	}
	if !nonRoot {
		add(ruleNonRoot, c.Name, cpath+".securityContext", "runAsNonRoot is not true: set securityContext.runAsNonRoot: true (and runAsUser to a non-zero id if the image names no user)")
	}
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		add(ruleReadOnlyRoot, c.Name, cpath+".securityContext", "the root filesystem is writable: set securityContext.readOnlyRootFilesystem: true (mount an emptyDir where the app writes)")
	}
	var missing []string
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		_, req := c.Resources.Requests[r]
		_, lim := c.Resources.Limits[r] // a limit alone makes the request equal to it
		if !req && !lim {
			missing = append(missing, string(r))
		}
	}
	if len(missing) > 0 {
		add(ruleRequests, c.Name, cpath+".resources", "no %s request: set resources.requests.%s", strings.Join(missing, " or "), strings.Join(missing, " and resources.requests."))
	}
}

// notPinned reports whether image names no tag or :latest and is pulled
// (a policy of Never never pulls, so it cannot drift). References that a
// tool resolves first (ko://…) or templates are left alone.
func notPinned(image string, policy corev1.PullPolicy) bool {
	if image == "" || policy == corev1.PullNever || strings.Contains(image, "://") || strings.ContainsAny(image, "${}") {
		return false
	}
	if strings.Contains(image, "@") {
		return false // a digest
	}
	name := image[strings.LastIndexByte(image, '/')+1:]
	i := strings.LastIndexByte(name, ':')
	return i < 0 || name[i+1:] == "latest"
}

func pinExample(image string) string {
	name := image
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		if j := strings.LastIndexByte(name[i:], ':'); j >= 0 {
			name = name[:i+j]
		}
	} else if j := strings.LastIndexByte(name, ':'); j >= 0 {
		name = name[:j]
	}
	return name + ":1.2.3 or " + name + "@sha256:…"
}

// pdb checks that a disruption budget lets at least one Pod go.
func (l *linter) pdb(p *policyv1.PodDisruptionBudget, add addFunc) {
	sel, err := metav1.LabelSelectorAsSelector(p.Spec.Selector)
	if err != nil || p.Spec.Selector == nil {
		return
	}
	total, known, names := int32(0), true, []string(nil)
	for _, w := range l.workloads {
		if !w.serves || w.obj.namespace != p.Namespace || !sel.Matches(labels.Set(w.labels)) {
			continue
		}
		names = append(names, w.obj.ref())
		if w.replicas < 0 {
			known = false
			continue
		}
		total += w.replicas
	}
	if len(names) == 0 || (known && total == 0) {
		return // nothing to evict
	}
	of := fmt.Sprintf("%d Pods of %s", total, strings.Join(names, ", "))
	switch {
	case p.Spec.MaxUnavailable != nil:
		n := int(total)
		if !known {
			n = 100 // any number of Pods: only 0 and 0% block for sure
		}
		if v, err := intstr.GetScaledValueFromIntOrPercent(p.Spec.MaxUnavailable, n, true); err == nil && v <= 0 {
			add(rulePDB, "", "spec.maxUnavailable", "maxUnavailable %s lets no Pod be evicted: every node drain blocks; set maxUnavailable: 1", p.Spec.MaxUnavailable.String())
		}
	case p.Spec.MinAvailable != nil && known:
		if v, err := intstr.GetScaledValueFromIntOrPercent(p.Spec.MinAvailable, int(total), true); err == nil && v >= int(total) {
			add(rulePDB, "", "spec.minAvailable", "minAvailable %s of the %s lets no Pod be evicted: every node drain blocks; use maxUnavailable: 1 (or more replicas than minAvailable)", p.Spec.MinAvailable.String(), of)
		}
	case p.Spec.MinAvailable != nil && p.Spec.MinAvailable.Type == intstr.String && p.Spec.MinAvailable.StrVal == "100%":
		add(rulePDB, "", "spec.minAvailable", "minAvailable 100%% lets no Pod be evicted: every node drain blocks; use maxUnavailable: 1")
	}
}
