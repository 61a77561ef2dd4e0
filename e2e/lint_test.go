package e2e

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"path"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// This file is the manifest lint: strict decoding into k8s.io/api types and
// the lifecycle budget of every Pod template. manifests_test.go runs it on
// examples/kubernetes and on a table of deliberately broken manifests.

// object is a decoded manifest and where it came from.
type object struct {
	source string // file name and document index
	obj    any    // *appsv1.Deployment, *corev1.Service, …
}

// newObject returns a pointer to the k8s.io/api type of apiVersion and kind,
// for the kinds the examples use.
func newObject(apiVersion, kind string) (any, bool) {
	switch apiVersion + " " + kind {
	case "apps/v1 Deployment":
		return &appsv1.Deployment{}, true
	case "v1 Service":
		return &corev1.Service{}, true
	case "v1 ConfigMap":
		return &corev1.ConfigMap{}, true
	case "v1 Secret":
		return &corev1.Secret{}, true
	case "policy/v1 PodDisruptionBudget":
		return &policyv1.PodDisruptionBudget{}, true
	}
	return nil, false
}

// decodeManifests splits data into YAML documents and decodes each strictly:
// an unknown field, a duplicate key or a value of the wrong type fails.
func decodeManifests(source string, data []byte) ([]object, error) {
	var objs []object
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for i := 0; ; i++ {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return objs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", source, err)
		}
		src := fmt.Sprintf("%s#%d", source, i)
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal(doc, &tm); err != nil {
			return nil, fmt.Errorf("%s: %w", src, err)
		}
		if tm.Kind == "" && len(bytes.TrimSpace(stripComments(doc))) == 0 {
			continue // an empty document
		}
		obj, ok := newObject(tm.APIVersion, tm.Kind)
		if !ok {
			return nil, fmt.Errorf("%s: unexpected apiVersion %q kind %q", src, tm.APIVersion, tm.Kind)
		}
		if err := yaml.UnmarshalStrict(doc, obj); err != nil {
			return nil, fmt.Errorf("%s: %s %w", src, tm.Kind, err)
		}
		objs = append(objs, object{src, obj})
	}
}

func stripComments(doc []byte) []byte {
	var out []byte
	for line := range bytes.Lines(doc) {
		if !bytes.HasPrefix(bytes.TrimSpace(line), []byte("#")) {
			out = append(out, line...)
		}
	}
	return out
}

// Defaults of the tools, as their documentation states them.
const (
	defaultGrace            = 30 * time.Second       // terminationGracePeriodSeconds
	defaultProbeTimeout     = 800 * time.Millisecond // probe --timeout
	defaultShutdownDelay    = 5 * time.Second        // LIFECYCLE_SHUTDOWN_DELAY
	defaultDrainTimeout     = 15 * time.Second       // LIFECYCLE_DRAIN_TIMEOUT
	defaultMargin           = 2 * time.Second        // LIFECYCLE_MARGIN
	defaultProbePeriod      = 10                     // periodSeconds
	defaultFailureThreshold = 3                      // failureThreshold
	defaultTimeoutSeconds   = 1                      // timeoutSeconds
	defaultPrestopTimeout   = 2 * time.Second        // prestop --timeout (bounds --notify)
	defaultPrestopMax       = 20 * time.Second       // prestop --max (bounds --until-idle)
)

// lintManifests checks every Pod template among objs; ConfigMaps among objs
// resolve envFrom and configMapKeyRef.
func lintManifests(objs []object) []error {
	configMaps := map[string]*corev1.ConfigMap{}
	for _, o := range objs {
		if cm, ok := o.obj.(*corev1.ConfigMap); ok {
			configMaps[cm.Name] = cm
		}
	}
	var errs []error
	for _, o := range objs {
		d, ok := o.obj.(*appsv1.Deployment)
		if !ok {
			continue
		}
		for _, c := range d.Spec.Template.Spec.Containers {
			for _, err := range lintContainer(&d.Spec.Template.Spec, &c, configMaps) {
				errs = append(errs, fmt.Errorf("%s: Deployment %s: container %s: %w", o.source, d.Name, c.Name, err))
			}
		}
	}
	return errs
}

// lintContainer checks the lifecycle budget of one container:
//
//   - preStop + shutdown delay + drain + margin < terminationGracePeriodSeconds,
//     preStop at its worst: prestop's --notify timeout + --sleep + --max
//   - readiness periodSeconds × failureThreshold ≤ shutdown delay
//   - each exec probe's own --timeout (or PROBE_TIMEOUT) < its timeoutSeconds
//   - LIFECYCLE_TERMINATION_GRACE_PERIOD and LIFECYCLE_PRESTOP, where set,
//     say what the Pod spec says
//   - hooks and exec probes target loopback (the Pod IP is not known to a
//     postStart hook)
func lintContainer(spec *corev1.PodSpec, c *corev1.Container, configMaps map[string]*corev1.ConfigMap) []error {
	var errs []error
	env, err := containerEnv(c, configMaps)
	if err != nil {
		return []error{err}
	}
	dur := func(name string, def time.Duration) time.Duration {
		v, ok := env[name]
		if !ok {
			return def
		}
		d, err := time.ParseDuration(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s=%q: %v", name, v, err))
		}
		return d
	}
	grace := defaultGrace
	if spec.TerminationGracePeriodSeconds != nil {
		grace = time.Duration(*spec.TerminationGracePeriodSeconds) * time.Second
	}
	delay := dur("LIFECYCLE_SHUTDOWN_DELAY", defaultShutdownDelay)
	drain := dur("LIFECYCLE_DRAIN_TIMEOUT", defaultDrainTimeout)
	margin := dur("LIFECYCLE_MARGIN", defaultMargin)

	var preStop, nominal time.Duration // worst case; without the notify timeout
	lc := c.Lifecycle
	switch {
	case lc == nil || lc.PreStop == nil:
		errs = append(errs, errors.New("no preStop hook: SIGTERM would race the endpoint's removal"))
	case lc.PreStop.Sleep != nil:
		preStop = time.Duration(lc.PreStop.Sleep.Seconds) * time.Second
		nominal = preStop
	case lc.PreStop.Exec != nil:
		cmd := lc.PreStop.Exec.Command
		if len(cmd) == 0 || path.Base(cmd[0]) != "prestop" {
			errs = append(errs, fmt.Errorf("preStop exec %q: want podlife's prestop (its duration is known)", cmd))
			break
		}
		// In order: --notify (bounded by --timeout), --sleep, --until-idle
		// (bounded by --max); the lint takes each step's worst case.
		a := execArgs{cmd, env, "PRESTOP_"}
		preStop = a.duration("sleep", 0, &errs)
		if len(a.values("until-idle")) > 0 {
			preStop += a.duration("max", defaultPrestopMax, &errs)
		}
		nominal = preStop
		if len(a.values("notify")) > 0 {
			preStop += a.duration("timeout", defaultPrestopTimeout, &errs)
		}
		errs = append(errs, checkLoopback("preStop", a.targets("notify", "until-idle"))...)
	}
	if total := preStop + delay + drain + margin; total >= grace {
		errs = append(errs, fmt.Errorf("budget: preStop %v + shutdown delay %v + drain %v + margin %v = %v, want < terminationGracePeriodSeconds %v",
			preStop, delay, drain, margin, total, grace))
	}
	if v, ok := env["LIFECYCLE_TERMINATION_GRACE_PERIOD"]; ok {
		if d := dur("LIFECYCLE_TERMINATION_GRACE_PERIOD", 0); d != grace && d != 0 {
			errs = append(errs, fmt.Errorf("LIFECYCLE_TERMINATION_GRACE_PERIOD=%s, but terminationGracePeriodSeconds is %v", v, grace))
		}
	}
	if v, ok := env["LIFECYCLE_PRESTOP"]; ok {
		if d := dur("LIFECYCLE_PRESTOP", 0); d != nominal {
			errs = append(errs, fmt.Errorf("LIFECYCLE_PRESTOP=%s, but the preStop hook takes %v", v, nominal))
		}
	}

	if r := c.ReadinessProbe; r == nil {
		errs = append(errs, errors.New("no readinessProbe"))
	} else {
		period, failures := orDefault(r.PeriodSeconds, defaultProbePeriod), orDefault(r.FailureThreshold, defaultFailureThreshold)
		if notice := time.Duration(period*failures) * time.Second; notice > delay {
			errs = append(errs, fmt.Errorf("readiness: periodSeconds %d × failureThreshold %d = %v, want ≤ shutdown delay %v (LIFECYCLE_SHUTDOWN_DELAY)",
				period, failures, notice, delay))
		}
	}
	for _, p := range []struct {
		name  string
		probe *corev1.Probe
	}{{"startupProbe", c.StartupProbe}, {"livenessProbe", c.LivenessProbe}, {"readinessProbe", c.ReadinessProbe}} {
		if p.probe == nil || p.probe.Exec == nil {
			continue
		}
		cmd := p.probe.Exec.Command
		if len(cmd) == 0 || path.Base(cmd[0]) != "probe" {
			continue
		}
		a := execArgs{cmd, env, "PROBE_"}
		timeout := a.duration("timeout", defaultProbeTimeout, &errs)
		limit := time.Duration(orDefault(p.probe.TimeoutSeconds, defaultTimeoutSeconds)) * time.Second
		if timeout >= limit {
			errs = append(errs, fmt.Errorf("%s: probe --timeout %v, want below timeoutSeconds %v (kubelet kills the probe at timeoutSeconds, and the reason is lost)",
				p.name, timeout, limit))
		}
		errs = append(errs, checkLoopback(p.name, a.positional())...)
	}
	if lc != nil && lc.PostStart != nil && lc.PostStart.Exec != nil {
		cmd := lc.PostStart.Exec.Command
		if len(cmd) > 0 && path.Base(cmd[0]) == "warmup" {
			a := execArgs{cmd, env, "WARMUP_"}
			errs = append(errs, checkLoopback("postStart", append(a.targets("wait"), a.positional()...))...)
		}
	}
	return errs
}

func orDefault(v, def int32) int32 {
	if v == 0 {
		return def
	}
	return v
}

// containerEnv resolves the container's environment: envFrom ConfigMaps,
// then env (values and configMapKeyRef; Secrets are known to exist only).
func containerEnv(c *corev1.Container, configMaps map[string]*corev1.ConfigMap) (map[string]string, error) {
	env := map[string]string{}
	for _, from := range c.EnvFrom {
		if from.ConfigMapRef == nil {
			continue
		}
		cm, ok := configMaps[from.ConfigMapRef.Name]
		if !ok {
			return nil, fmt.Errorf("envFrom: no ConfigMap %q among the manifests", from.ConfigMapRef.Name)
		}
		for k, v := range cm.Data {
			env[from.Prefix+k] = v
		}
	}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			env[e.Name] = e.Value
		case e.ValueFrom.ConfigMapKeyRef != nil:
			ref := e.ValueFrom.ConfigMapKeyRef
			cm, ok := configMaps[ref.Name]
			if !ok {
				return nil, fmt.Errorf("env %s: no ConfigMap %q among the manifests", e.Name, ref.Name)
			}
			v, ok := cm.Data[ref.Key]
			if !ok {
				return nil, fmt.Errorf("env %s: ConfigMap %q has no key %q", e.Name, ref.Name, ref.Key)
			}
			env[e.Name] = v
		default:
			env[e.Name] = "(from " + e.Name + ")"
		}
	}
	return env, nil
}

// execArgs reads a podlife command line the way the binaries do: a flag
// (--name=v, --name v, -name v) wins over the PREFIX_NAME variable.
type execArgs struct {
	cmd    []string
	env    map[string]string
	prefix string
}

// values returns every value of flag name, or the variable's if none.
func (a execArgs) values(name string) []string {
	var vs []string
	args := a.cmd[1:]
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if arg == "--" {
			break
		}
		n := strings.TrimLeft(arg, "-")
		if n == arg {
			continue
		}
		if k, v, ok := strings.Cut(n, "="); ok {
			if k == name {
				vs = append(vs, v)
			}
		} else if n == name && i+1 < len(args) {
			vs = append(vs, args[i+1])
			i++
		}
	}
	if len(vs) == 0 {
		key := a.prefix + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
		if v, ok := a.env[key]; ok {
			vs = strings.Fields(v)
		}
	}
	return vs
}

func (a execArgs) duration(name string, def time.Duration, errs *[]error) time.Duration {
	vs := a.values(name)
	if len(vs) == 0 {
		return def
	}
	d, err := time.ParseDuration(vs[len(vs)-1])
	if err != nil {
		*errs = append(*errs, fmt.Errorf("%s --%s %q: %v", path.Base(a.cmd[0]), name, vs[len(vs)-1], err))
	}
	return d
}

func (a execArgs) targets(names ...string) []string {
	var ts []string
	for _, n := range names {
		ts = append(ts, a.values(n)...)
	}
	return ts
}

// positional returns the arguments that look like target URLs.
func (a execArgs) positional() []string {
	var ts []string
	for _, arg := range a.cmd[1:] {
		if !strings.HasPrefix(arg, "-") && strings.Contains(arg, "://") {
			ts = append(ts, arg)
		}
	}
	return ts
}

// checkLoopback fails every network target that does not name the loopback
// interface.
func checkLoopback(where string, targets []string) []error {
	var errs []error
	for _, t := range targets {
		u, err := url.Parse(t)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: target %q: %v", where, t, err))
			continue
		}
		switch u.Scheme {
		case "unix", "file":
			continue
		}
		switch u.Hostname() {
		case "127.0.0.1", "localhost", "::1":
		default:
			errs = append(errs, fmt.Errorf("%s: target %s: want 127.0.0.1 (hooks and exec probes run inside the container; the Pod IP is not set yet during postStart)", where, t))
		}
	}
	return errs
}

// metav1LabelSelectorAsSelector converts a label selector; nil selects nothing.
func metav1LabelSelectorAsSelector(s *metav1.LabelSelector) (labels.Selector, error) {
	if s == nil {
		return labels.Nothing(), nil
	}
	return metav1.LabelSelectorAsSelector(s)
}
