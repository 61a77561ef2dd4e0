package main

import (
	"fmt"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
)

// workload is an object that makes Pods: its Pod template and how many.
type workload struct {
	obj      *object
	spec     *corev1.PodSpec
	specPath string            // "spec.template.spec"
	labels   map[string]string // the Pods' labels
	replicas int32             // -1: unknown (a DaemonSet runs one per node)
	serves   bool              // long-running: hooks and Services apply (not a Job)
}

// asWorkload returns the Pod template of o, if o makes Pods.
func asWorkload(o *object, def defaults) (*workload, bool) {
	w := &workload{obj: o, specPath: "spec.template.spec", serves: true}
	replicas := func(r *int32) int32 {
		if r == nil {
			return def.Replicas
		}
		return *r
	}
	switch v := o.typed.(type) {
	case *appsv1.Deployment:
		w.spec, w.labels, w.replicas = &v.Spec.Template.Spec, v.Spec.Template.Labels, replicas(v.Spec.Replicas)
	case *appsv1.StatefulSet:
		w.spec, w.labels, w.replicas = &v.Spec.Template.Spec, v.Spec.Template.Labels, replicas(v.Spec.Replicas)
	case *appsv1.ReplicaSet:
		w.spec, w.labels, w.replicas = &v.Spec.Template.Spec, v.Spec.Template.Labels, replicas(v.Spec.Replicas)
	case *appsv1.DaemonSet:
		w.spec, w.labels, w.replicas = &v.Spec.Template.Spec, v.Spec.Template.Labels, -1
	case *corev1.Pod:
		w.spec, w.labels, w.replicas, w.specPath = &v.Spec, v.Labels, 1, "spec"
	case *batchv1.Job:
		w.spec, w.labels, w.replicas, w.serves = &v.Spec.Template.Spec, v.Spec.Template.Labels, -1, false
	case *batchv1.CronJob:
		w.spec, w.labels, w.replicas, w.serves = &v.Spec.JobTemplate.Spec.Template.Spec, v.Spec.JobTemplate.Spec.Template.Labels, -1, false
		w.specPath = "spec.jobTemplate.spec.template.spec"
	default:
		return nil, false
	}
	return w, true
}

// gracePeriod is the Pod's terminationGracePeriodSeconds.
func (w *workload) gracePeriod(def defaults) time.Duration {
	if g := w.spec.TerminationGracePeriodSeconds; g != nil {
		return time.Duration(*g) * time.Second
	}
	return def.GracePeriod
}

// containerPath is the path of container i, or of init container i.
func (w *workload) containerPath(i int, init bool) string {
	if init {
		return fmt.Sprintf("%s.initContainers[%d]", w.specPath, i)
	}
	return fmt.Sprintf("%s.containers[%d]", w.specPath, i)
}

// budget is the worst case of a container's termination, from the start of
// preStop to the exit of the process, against the Pod's grace period.
type budget struct {
	PreStop   time.Duration // preStop's sleep (or the whole hook when it only sleeps)
	Notify    time.Duration // prestop --notify's --timeout, when it notifies
	Idle      time.Duration // prestop --until-idle's --max, when it waits
	Delay     time.Duration // LIFECYCLE_SHUTDOWN_DELAY (package lifecycle apps)
	Drain     time.Duration // LIFECYCLE_DRAIN_TIMEOUT (package lifecycle apps)
	Margin    time.Duration // LIFECYCLE_MARGIN
	Grace     time.Duration // terminationGracePeriodSeconds
	Told      time.Duration // graceEnv: the grace period the app checks its own budget against (0: unset or not valid)
	Lifecycle bool          // the app runs package lifecycle: its delay and drain count
	Notifies  bool          // prestop --notify: the app starts draining in preStop
	WaitsIdle bool          // prestop --until-idle: it polls the app's /drainz
	Known     bool          // the preStop's duration is known (podlife's prestop, sleep)
	HasHook   bool          // a preStop hook exists
}

// Total is the sum the grace period must hold.
func (b budget) Total() time.Duration {
	return b.PreStop + b.Notify + b.Idle + b.Delay + b.Drain + b.Margin
}

// containerBudget computes the budget of container c with its environment.
// An app counts as running package lifecycle when a LIFECYCLE_* variable is
// set or its preStop tells it to drain or waits on its /drainz; for any other app only the preStop
// and the margin count, since its own shutdown is unknown.
func containerBudget(c *corev1.Container, env map[string]string, grace time.Duration, def defaults, bad *[]badSetting) budget {
	b := budget{Grace: grace}
	if lc := c.Lifecycle; lc != nil && lc.PreStop != nil {
		b.HasHook = true
		h := lc.PreStop
		switch {
		case h.Sleep != nil:
			b.PreStop, b.Known = time.Duration(h.Sleep.Seconds)*time.Second, true
		case h.Exec != nil:
			if t, ok := podlifeTool(h.Exec.Command, env); ok && t.name == "prestop" {
				b.Known = true
				b.PreStop = t.duration("sleep", 0, bad)
				if t.has("notify") {
					b.Notifies = true
					b.Notify = t.duration("timeout", def.PrestopTimeout, bad)
				}
				if t.has("until-idle") {
					b.WaitsIdle = true
					b.Idle = t.duration("max", def.PrestopMax, bad)
				}
			} else if d, ok := execSleep(h.Exec.Command); ok {
				b.PreStop, b.Known = d, true
			}
		}
	}
	for k := range env {
		if len(k) > len("LIFECYCLE_") && k[:len("LIFECYCLE_")] == "LIFECYCLE_" {
			b.Lifecycle = true
			break
		}
	}
	b.Lifecycle = b.Lifecycle || b.Notifies || b.WaitsIdle
	b.Margin = envDuration(env, "LIFECYCLE_MARGIN", def.Margin, bad)
	if b.Lifecycle {
		checkLifecycleEnv(env, bad)
		// LIFECYCLE_SHUTDOWN_DELAY=0 (or below) turns the delay off.
		b.Delay = max(envDuration(env, "LIFECYCLE_SHUTDOWN_DELAY", def.ShutdownDelay, bad), 0)
		b.Drain = envDuration(env, "LIFECYCLE_DRAIN_TIMEOUT", def.DrainTimeout, bad)
		// An explicit LIFECYCLE_SHUTDOWN_TIMEOUT cuts the delay and the drain.
		if st := envDuration(env, "LIFECYCLE_SHUTDOWN_TIMEOUT", 0, bad); st > 0 && st < b.Delay+b.Drain {
			b.Drain = max(st-b.Delay, 0)
			b.Delay = min(b.Delay, st)
		}
		b.Told = max(envDuration(env, graceEnv, 0, bad), 0) // 0 or below: refused by checkLifecycleEnv
		// The others are not in the sum, but the app parses them at start too.
		for _, k := range []string{"HOOK_TIMEOUT", "CHECK_TIMEOUT", "PRESTOP"} {
			envDuration(env, "LIFECYCLE_"+k, 0, bad)
		}
	}
	return b
}

// graceEnv tells package lifecycle its Pod's terminationGracePeriodSeconds,
// which it cannot read, for the budget check at start.
const graceEnv = "LIFECYCLE_TERMINATION_GRACE_PERIOD"

// lifecycleTimeouts are package lifecycle's durations that refuse an
// explicit 0 (their zero would silently mean the default) and any negative
// value: the app does not start.
func lifecycleTimeouts() []string {
	return []string{"DRAIN_TIMEOUT", "HOOK_TIMEOUT", "CHECK_TIMEOUT", "SHUTDOWN_TIMEOUT", "TERMINATION_GRACE_PERIOD", "MARGIN", "PRESTOP"}
}

// checkLifecycleEnv reports the LIFECYCLE_* values package lifecycle
// refuses at start.
func checkLifecycleEnv(env map[string]string, bad *[]badSetting) {
	for _, k := range lifecycleTimeouts() {
		key := "LIFECYCLE_" + k
		v := env[key]
		d, err := time.ParseDuration(v)
		switch {
		case v == "" || err != nil:
			continue // unset, or reported as not a duration by containerBudget
		case d < 0:
			*bad = append(*bad, badSetting{what: key, value: v, fix: "is negative: want > 0"})
		case d == 0 && k != "PRESTOP":
			*bad = append(*bad, badSetting{what: key, value: v, fix: "is 0: want > 0, or unset it for the default"})
		}
	}
}

// terms spells the budget's sum: "preStop 5s + notify 2s + … = 34s".
func (b budget) terms() string {
	var parts []string
	if b.HasHook {
		parts = append(parts, "preStop "+b.PreStop.String())
	}
	if b.Notifies {
		parts = append(parts, "notify timeout "+b.Notify.String())
	}
	if b.Idle > 0 {
		parts = append(parts, "until-idle max "+b.Idle.String())
	}
	if b.Lifecycle {
		parts = append(parts, "shutdown delay "+b.Delay.String(), "drain "+b.Drain.String())
	}
	parts = append(parts, "margin "+b.Margin.String())
	return strings.Join(parts, " + ") + " = " + b.Total().String()
}
