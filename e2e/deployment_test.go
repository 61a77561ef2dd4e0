package e2e

import (
	"fmt"
	"maps"
	"net/url"
	"path"
	"slices"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// checkDeployment checks the first container of an example Deployment:
//
//   - it wires every podlife piece: the three probes, a postStart exec of
//     warmup, a preStop exec of prestop, a memory limit, and the binaries
//     delivered by the image, an init container or an image volume;
//   - the service is told what the Pod spec says, for the shutdown budget it
//     checks at start: LIFECYCLE_TERMINATION_GRACE_PERIOD is
//     terminationGracePeriodSeconds, LIFECYCLE_PRESTOP is the preStop's
//     length (its --sleep, and --max with --until-idle);
//   - readiness periodSeconds × failureThreshold ≤ LIFECYCLE_SHUTDOWN_DELAY,
//     although the examples' preStop notifies the service: a drain the
//     service starts itself, when a server or a worker fails, has no preStop
//     before it;
//   - the targets of hooks and exec probes, in flags or in the variables of
//     the binaries, are on loopback.
//
// kubectl-podlife lint has no rule for the last three, but for a
// LIFECYCLE_TERMINATION_GRACE_PERIOD that is set (grace-period-mismatch): it
// asks the readiness bound only of an app whose preStop does not notify it.
func checkDeployment(d *appsv1.Deployment, configMaps map[string]map[string]string) []error {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	spec := &d.Spec.Template.Spec
	if len(spec.Containers) == 0 {
		return []error{fmt.Errorf("no container")}
	}
	c := &spec.Containers[0]

	if c.StartupProbe == nil || c.LivenessProbe == nil || c.ReadinessProbe == nil {
		fail("want startup, liveness and readiness probes")
	}
	var postStart, preStop []string
	if lc := c.Lifecycle; lc != nil && lc.PostStart != nil && lc.PostStart.Exec != nil {
		postStart = lc.PostStart.Exec.Command
	}
	if lc := c.Lifecycle; lc != nil && lc.PreStop != nil && lc.PreStop.Exec != nil {
		preStop = lc.PreStop.Exec.Command
	}
	if len(postStart) == 0 || path.Base(postStart[0]) != "warmup" {
		fail("want a postStart exec of warmup")
	}
	if len(preStop) == 0 || path.Base(preStop[0]) != "prestop" {
		fail("want a preStop exec of prestop")
		return errs
	}
	if c.Resources.Limits.Memory().IsZero() {
		fail("want a memory limit")
	}
	dir := path.Dir(preStop[0])
	switch {
	case strings.HasPrefix(c.Image, "ghcr.io/podlife/podlife-example-service"):
		if dir != "/podlife" {
			fail("got the binaries in %s, want /podlife (COPY --from in the image)", dir)
		}
	case len(spec.InitContainers) > 0:
		if ic := spec.InitContainers[0]; !slices.Equal(ic.Command, []string{"/podlife/install", dir}) {
			fail("init container %q, want [/podlife/install %s]", ic.Command, dir)
		}
		if len(spec.Volumes) == 0 || spec.Volumes[0].EmptyDir == nil {
			fail("want an emptyDir for the binaries")
		}
	default:
		if len(spec.Volumes) == 0 || spec.Volumes[0].Image == nil || !strings.HasPrefix(spec.Volumes[0].Image.Reference, "ghcr.io/podlife/podlife:") {
			fail("want podlife in the image, an init container or an image volume")
		}
	}

	env := map[string]string{}
	for _, from := range c.EnvFrom {
		if from.ConfigMapRef != nil {
			for k, v := range configMaps[from.ConfigMapRef.Name] {
				env[from.Prefix+k] = v
			}
		}
	}
	for _, e := range c.Env {
		if e.ValueFrom == nil {
			env[e.Name] = e.Value
		}
	}
	// setting reads a duration the example must set; false if it is
	// missing or does not parse, which it reports.
	setting := func(what, v string) (time.Duration, bool) {
		if v == "" {
			fail("want %s set", what)
			return 0, false
		}
		d, err := time.ParseDuration(v)
		if err != nil {
			fail("%s=%q: %v", what, v, err)
		}
		return d, err == nil
	}

	grace := 30 * time.Second // the Kubernetes default
	if g := spec.TerminationGracePeriodSeconds; g != nil {
		grace = time.Duration(*g) * time.Second
	}
	if told, ok := setting("LIFECYCLE_TERMINATION_GRACE_PERIOD", env["LIFECYCLE_TERMINATION_GRACE_PERIOD"]); ok && told != grace {
		fail("LIFECYCLE_TERMINATION_GRACE_PERIOD=%v, but terminationGracePeriodSeconds is %v", told, grace)
	}
	takes, known := setting("prestop --sleep", flagValue(preStop, "sleep"))
	if flagValue(preStop, "until-idle") != "" {
		idle, ok := setting("prestop --max (with --until-idle)", flagValue(preStop, "max"))
		takes, known = takes+idle, known && ok
	}
	if told, ok := setting("LIFECYCLE_PRESTOP", env["LIFECYCLE_PRESTOP"]); ok && known && told != takes {
		fail("LIFECYCLE_PRESTOP=%v, but the preStop hook takes %v", told, takes)
	}
	if r := c.ReadinessProbe; r != nil {
		period, failures := r.PeriodSeconds, r.FailureThreshold
		if period == 0 {
			period = 10 // the Kubernetes default
		}
		if failures == 0 {
			failures = 3 // the Kubernetes default
		}
		notice := time.Duration(period*failures) * time.Second
		if delay, ok := setting("LIFECYCLE_SHUTDOWN_DELAY", env["LIFECYCLE_SHUTDOWN_DELAY"]); ok && notice > delay {
			fail("readiness: periodSeconds %d × failureThreshold %d = %v, want ≤ shutdown delay %v (LIFECYCLE_SHUTDOWN_DELAY)",
				period, failures, notice, delay)
		}
	}

	errs = append(errs, loopback("postStart", postStart)...)
	errs = append(errs, loopback("preStop", preStop)...)
	for _, p := range []struct {
		name  string
		probe *corev1.Probe
	}{{"startupProbe", c.StartupProbe}, {"livenessProbe", c.LivenessProbe}, {"readinessProbe", c.ReadinessProbe}} {
		if p.probe != nil && p.probe.Exec != nil {
			errs = append(errs, loopback(p.name, p.probe.Exec.Command)...)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(env)) {
		if strings.HasPrefix(k, "WARMUP_") || strings.HasPrefix(k, "PROBE_") || strings.HasPrefix(k, "PRESTOP_") {
			errs = append(errs, loopback(k, strings.Fields(env[k]))...)
		}
	}
	return errs
}

// flagValue returns the value of the last --name=V of a command line, or "".
func flagValue(cmd []string, name string) string {
	v := ""
	for _, arg := range cmd {
		if s, ok := strings.CutPrefix(arg, "--"+name+"="); ok {
			v = s
		}
	}
	return v
}

// loopback fails every URL among args (an argument, or a flag's value)
// whose host is not the loopback interface: hooks and exec probes run in
// the container, and the Pod IP is not set while postStart runs. A command
// name has no "://", so args may be a whole command line.
func loopback(where string, args []string) []error {
	var errs []error
	for _, arg := range args {
		if strings.HasPrefix(arg, "-") {
			_, arg, _ = strings.Cut(arg, "=")
		}
		if !strings.Contains(arg, "://") {
			continue
		}
		u, err := url.Parse(arg)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("%s: target %q: %v", where, arg, err))
		case u.Scheme == "unix" || u.Scheme == "file":
		case u.Hostname() != "127.0.0.1" && u.Hostname() != "localhost" && u.Hostname() != "::1":
			errs = append(errs, fmt.Errorf("%s: target %s: want 127.0.0.1 (hooks and exec probes run inside the container; the Pod IP is not set yet during postStart)", where, arg))
		}
	}
	return errs
}
