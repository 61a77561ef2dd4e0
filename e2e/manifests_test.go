package e2e

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// loadExamples decodes every manifest under examples/kubernetes.
func loadExamples(t *testing.T) []object {
	t.Helper()
	dir := filepath.Join(repoRoot(t), "examples", "kubernetes")
	var objs []object
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || (filepath.Ext(p) != ".yaml" && filepath.Ext(p) != ".yml") {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		o, err := decodeManifests(rel, data)
		objs = append(objs, o...)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

// TestManifests decodes every example manifest strictly into k8s.io/api
// types, lints the lifecycle budget of every Pod template, and checks the
// wiring between the objects.
func TestManifests(t *testing.T) {
	objs := loadExamples(t)
	for _, err := range lintManifests(objs) {
		t.Error(err)
	}
	kinds := map[string]int{}
	var deployments []*appsv1.Deployment
	for _, o := range objs {
		switch v := o.obj.(type) {
		case *appsv1.Deployment:
			kinds["Deployment"]++
			deployments = append(deployments, v)
		case *corev1.Service:
			kinds["Service"]++
		case *corev1.ConfigMap:
			kinds["ConfigMap"]++
		case *corev1.Secret:
			kinds["Secret"]++
		case *policyv1.PodDisruptionBudget:
			kinds["PodDisruptionBudget"]++
		}
	}
	for _, k := range []string{"Deployment", "Service", "ConfigMap", "Secret", "PodDisruptionBudget"} {
		if kinds[k] == 0 {
			t.Errorf("got no %s among the examples, want at least one", k)
		}
	}

	// matching returns the Deployments whose Pods sel selects.
	matching := func(sel labels.Selector) []string {
		var names []string
		for _, d := range deployments {
			if sel.Matches(labels.Set(d.Spec.Template.Labels)) {
				names = append(names, d.Name)
			}
		}
		slices.Sort(names)
		return names
	}
	for _, o := range objs {
		switch v := o.obj.(type) {
		case *corev1.Service:
			if got := matching(labels.SelectorFromSet(v.Spec.Selector)); len(got) == 0 {
				t.Errorf("%s: Service %s selects no Deployment's Pods", o.source, v.Name)
			}
		case *policyv1.PodDisruptionBudget:
			sel, err := metav1LabelSelector(v)
			if err != nil {
				t.Fatal(err)
			}
			if got := matching(sel); len(got) == 0 {
				t.Errorf("%s: PodDisruptionBudget %s selects no Deployment's Pods", o.source, v.Name)
			}
		case *appsv1.Deployment:
			sel, err := metav1SelectorOf(v)
			if err != nil {
				t.Fatalf("%s: %v", o.source, err)
			}
			if got := matching(sel); len(got) != 1 {
				t.Errorf("%s: Deployment %s's selector matches the Pods of %v, want only its own", o.source, v.Name, got)
			}
			checkWiring(t, o.source, v)
		}
	}

	// The strategies of the seed: Blue/Green switches one Service between
	// two Deployments; canary puts two Deployments behind one Service.
	byName := map[string]*corev1.Service{}
	for _, o := range objs {
		if s, ok := o.obj.(*corev1.Service); ok {
			byName[s.Name] = s
		}
	}
	for _, tt := range []struct {
		service string
		want    string
	}{
		{"podlife-bluegreen", "podlife-bluegreen-blue"},
		{"podlife-bluegreen-preview", "podlife-bluegreen-green"},
		{"podlife-canary", "podlife-canary-canary,podlife-canary-stable"},
	} {
		s, ok := byName[tt.service]
		if !ok {
			t.Errorf("no Service %s", tt.service)
			continue
		}
		if got := strings.Join(matching(labels.SelectorFromSet(s.Spec.Selector)), ","); got != tt.want {
			t.Errorf("Service %s selects the Pods of %q, want %q", tt.service, got, tt.want)
		}
	}
}

// checkWiring fails t unless d wires every podlife piece: the three probes,
// postStart warmup, preStop prestop, resources, a non-root read-only
// container, and podlife binaries delivered by the image, an init
// container or an image volume.
func checkWiring(t *testing.T, source string, d *appsv1.Deployment) {
	t.Helper()
	spec := d.Spec.Template.Spec
	c := spec.Containers[0]
	fail := func(format string, args ...any) {
		t.Helper()
		t.Errorf("%s: Deployment %s: "+format, append([]any{source, d.Name}, args...)...)
	}
	if c.StartupProbe == nil || c.LivenessProbe == nil || c.ReadinessProbe == nil {
		fail("want startup, liveness and readiness probes")
	}
	if c.Lifecycle == nil || c.Lifecycle.PostStart == nil || c.Lifecycle.PostStart.Exec == nil ||
		!strings.HasSuffix(c.Lifecycle.PostStart.Exec.Command[0], "/warmup") {
		fail("want a postStart exec of warmup")
	}
	if c.Resources.Requests.Cpu().IsZero() || c.Resources.Limits.Memory().IsZero() {
		fail("want CPU requests and a memory limit")
	}
	sc := c.SecurityContext
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		fail("want readOnlyRootFilesystem")
	}
	if psc := spec.SecurityContext; psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot {
		fail("want runAsNonRoot")
	}
	dir := filepath.Dir(c.Lifecycle.PreStop.Exec.Command[0])
	switch {
	case strings.HasPrefix(c.Image, "ghcr.io/podlife/podlife-example-service"):
		if dir != "/podlife" {
			fail("got the binaries in %s, want /podlife (COPY --from in the image)", dir)
		}
	case len(spec.InitContainers) > 0:
		ic := spec.InitContainers[0]
		if ic.Command[0] != "/podlife/install" || len(ic.Command) < 2 || ic.Command[1] != dir {
			fail("init container %q, want /podlife/install %s", ic.Command, dir)
		}
		if len(spec.Volumes) == 0 || spec.Volumes[0].EmptyDir == nil {
			fail("want an emptyDir for the binaries")
		}
	default:
		if len(spec.Volumes) == 0 || spec.Volumes[0].Image == nil || !strings.HasPrefix(spec.Volumes[0].Image.Reference, "ghcr.io/podlife/podlife:") {
			fail("want podlife in the image, an init container or an image volume")
		}
	}
}

func metav1SelectorOf(d *appsv1.Deployment) (labels.Selector, error) {
	return metav1LabelSelectorAsSelector(d.Spec.Selector)
}

func metav1LabelSelector(p *policyv1.PodDisruptionBudget) (labels.Selector, error) {
	return metav1LabelSelectorAsSelector(p.Spec.Selector)
}

// TestLintFails shows the lint can fail: each case breaks the example
// Deployment (or its configuration) in one way and names the error it must
// produce.
func TestLintFails(t *testing.T) {
	root := repoRoot(t)
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(root, "examples", "kubernetes", name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	deployment, config := read("deployment.yaml"), read("config.yaml")
	tests := []struct {
		name       string
		deployment [2]string // old, new in deployment.yaml
		config     [2]string // old, new in config.yaml
		want       string    // a substring of one error
	}{
		{
			name:       "unknown field",
			deployment: [2]string{"terminationGracePeriodSeconds: 45", "terminationGracePeriod: 45"},
			want:       `unknown field "terminationGracePeriod"`,
		},
		{
			name:       "wrong type",
			deployment: [2]string{"replicas: 3", "replicas: three"},
			want:       "cannot unmarshal string",
		},
		{
			name:       "duplicate key",
			deployment: [2]string{"  replicas: 3\n", "  replicas: 3\n  replicas: 4\n"},
			want:       `key "replicas" already set`,
		},
		{
			name:       "grace period too short",
			deployment: [2]string{"terminationGracePeriodSeconds: 45", "terminationGracePeriodSeconds: 30"},
			config:     [2]string{`LIFECYCLE_TERMINATION_GRACE_PERIOD: "45s"`, `LIFECYCLE_TERMINATION_GRACE_PERIOD: "30s"`},
			want:       "= 34s, want < terminationGracePeriodSeconds 30s",
		},
		{
			name:   "drain outgrows the budget",
			config: [2]string{`LIFECYCLE_DRAIN_TIMEOUT: "15s"`, `LIFECYCLE_DRAIN_TIMEOUT: "30s"`},
			want:   "drain 30s + margin 2s = 49s, want < terminationGracePeriodSeconds 45s",
		},
		{
			name:       "preStop outgrows the budget",
			deployment: [2]string{"--sleep=5s", "--sleep=25s"},
			config:     [2]string{`LIFECYCLE_PRESTOP: "5s"`, `LIFECYCLE_PRESTOP: "25s"`},
			want:       "budget: preStop 27s",
		},
		{
			name:       "readiness notices draining too late",
			deployment: [2]string{"periodSeconds: 2\n            timeoutSeconds: 1\n            failureThreshold: 2", "periodSeconds: 5\n            timeoutSeconds: 1\n            failureThreshold: 3"},
			want:       "readiness: periodSeconds 5 × failureThreshold 3 = 15s, want ≤ shutdown delay 10s",
		},
		{
			name:   "shutdown delay shorter than readiness",
			config: [2]string{`LIFECYCLE_SHUTDOWN_DELAY: "10s"`, `LIFECYCLE_SHUTDOWN_DELAY: "3s"`},
			want:   "= 4s, want ≤ shutdown delay 3s",
		},
		{
			name:       "exec probe timeout flag at timeoutSeconds",
			deployment: [2]string{"- /podlife/probe\n", "- /podlife/probe\n                - --timeout=1s\n"},
			want:       "readinessProbe: probe --timeout 1s, want below timeoutSeconds 1s",
		},
		{
			name:   "exec probe timeout from the ConfigMap above timeoutSeconds",
			config: [2]string{`PROBE_TIMEOUT: "800ms"`, `PROBE_TIMEOUT: "2s"`},
			want:   "readinessProbe: probe --timeout 2s, want below timeoutSeconds 1s",
		},
		{
			name:       "grace period the service does not know",
			deployment: [2]string{"terminationGracePeriodSeconds: 45", "terminationGracePeriodSeconds: 60"},
			want:       "LIFECYCLE_TERMINATION_GRACE_PERIOD=45s, but terminationGracePeriodSeconds is 1m0s",
		},
		{
			name:       "preStop the service does not know",
			deployment: [2]string{"--sleep=5s", "--sleep=3s"},
			want:       "LIFECYCLE_PRESTOP=5s, but the preStop hook takes 3s",
		},
		{
			name:       "waiting until idle takes --max at worst",
			deployment: [2]string{"- --sleep=5s\n", "- --sleep=5s\n                  - --until-idle=http://127.0.0.1:8080/drainz\n"},
			want:       "budget: preStop 27s",
		},
		{
			name:       "no preStop",
			deployment: [2]string{"            preStop:\n              exec:\n                command:\n                  - /podlife/prestop\n                  - --notify=http://127.0.0.1:8080/drainz\n                  - --sleep=5s\n", ""},
			want:       "no preStop hook",
		},
		{
			name:       "postStart aimed at the Pod IP",
			deployment: [2]string{"--wait=http://127.0.0.1:8080/startupz", "--wait=http://$(POD_IP):8080/startupz"},
			want:       "postStart: target http://$(POD_IP):8080/startupz: want 127.0.0.1",
		},
		{
			name:       "missing ConfigMap",
			deployment: [2]string{"configMapRef:\n                name: podlife-example", "configMapRef:\n                name: podlife-exampel"},
			want:       `envFrom: no ConfigMap "podlife-exampel"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d, c := deployment, config
			for _, r := range []struct {
				s    *string
				edit [2]string
			}{{&d, tt.deployment}, {&c, tt.config}} {
				if r.edit[0] == "" {
					continue
				}
				if !strings.Contains(*r.s, r.edit[0]) {
					t.Fatalf("the example no longer contains %q: update this case", r.edit[0])
				}
				*r.s = strings.Replace(*r.s, r.edit[0], r.edit[1], 1)
			}
			var errs []error
			objs, err := decodeManifests("config.yaml", []byte(c))
			if err == nil {
				var more []object
				more, err = decodeManifests("deployment.yaml", []byte(d))
				objs = append(objs, more...)
			}
			if err != nil {
				errs = append(errs, err)
			} else {
				errs = lintManifests(objs)
			}
			if len(errs) == 0 {
				t.Fatalf("got no error, want one containing %q", tt.want)
			}
			if !strings.Contains(errors.Join(errs...).Error(), tt.want) {
				t.Errorf("got errors %q, want one containing %q", errors.Join(errs...), tt.want)
			}
		})
	}

	// And the unbroken pair passes, so the cases above fail for their edit.
	objs, err := decodeManifests("config.yaml", []byte(config))
	if err != nil {
		t.Fatal(err)
	}
	more, err := decodeManifests("deployment.yaml", []byte(deployment))
	if err != nil {
		t.Fatal(err)
	}
	if errs := lintManifests(append(objs, more...)); len(errs) > 0 {
		t.Errorf("got errors %q on the unbroken example, want none", errors.Join(errs...))
	}
}
