package e2e

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// This file checks what is particular to podlife's own examples under
// examples/kubernetes: every document is of a kind these checks know, the
// Services and disruption budgets select the Deployments they are meant for,
// and each Deployment wires every podlife piece and tells the service what
// its Pod spec says (checkDeployment, deployment_test.go). The general rules (strict decoding, the termination
// budget, exec probe timeouts, a missing preStop, a missing ConfigMap,
// security contexts and resource requests) are kubectl-podlife lint's:
// TestExamplesClean in cmd/kubectl-podlife lints this directory with it, and
// its golden archives show each rule failing.

// example is a decoded manifest of examples/kubernetes.
type example struct {
	source string // file and document index
	kind   string
	obj    any // *appsv1.Deployment, *corev1.Service, *corev1.ConfigMap, *corev1.Secret or *policyv1.PodDisruptionBudget
}

// decodeExample decodes each YAML document of a file into its k8s.io/api
// type; a kind the checks below do not know fails, so that an example of a
// new kind comes with checks of its own.
func decodeExample(file string, data []byte) ([]example, error) {
	var out []example
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for i := 0; ; i++ {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		src := fmt.Sprintf("%s#%d", file, i)
		var tm metav1.TypeMeta
		if err == nil {
			err = yaml.Unmarshal(doc, &tm)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", src, err)
		}
		var obj any
		switch tm.APIVersion + " " + tm.Kind {
		case " ":
			continue // only comments
		case "apps/v1 Deployment":
			obj = &appsv1.Deployment{}
		case "v1 Service":
			obj = &corev1.Service{}
		case "v1 ConfigMap":
			obj = &corev1.ConfigMap{}
		case "v1 Secret":
			obj = &corev1.Secret{}
		case "policy/v1 PodDisruptionBudget":
			obj = &policyv1.PodDisruptionBudget{}
		default:
			return nil, fmt.Errorf("%s: unexpected apiVersion %q kind %q", src, tm.APIVersion, tm.Kind)
		}
		if err := yaml.Unmarshal(doc, obj); err != nil {
			return nil, fmt.Errorf("%s: %s: %w", src, tm.Kind, err)
		}
		out = append(out, example{src, tm.Kind, obj})
	}
}

// readExamples returns the manifests under examples/kubernetes, by their
// path relative to it.
func readExamples(t *testing.T) map[string]string {
	t.Helper()
	dir := filepath.Join(repoRoot(t), "examples", "kubernetes")
	files := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || (filepath.Ext(p) != ".yaml" && filepath.Ext(p) != ".yml") {
			return err
		}
		data, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		files[filepath.ToSlash(rel)] = string(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// checkExamples returns every way the manifests fail the checks of this
// file.
func checkExamples(files map[string]string) []error {
	var objs []example
	for _, name := range slices.Sorted(maps.Keys(files)) {
		o, err := decodeExample(name, []byte(files[name]))
		if err != nil {
			return []error{err}
		}
		objs = append(objs, o...)
	}
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	kinds := map[string]int{}
	var deployments []*appsv1.Deployment
	configMaps := map[string]map[string]string{}
	for _, o := range objs {
		switch v := o.obj.(type) {
		case *appsv1.Deployment:
			deployments = append(deployments, v)
		case *corev1.ConfigMap:
			configMaps[v.Name] = v.Data
		}
		kinds[o.kind]++
	}
	for _, k := range []string{"Deployment", "Service", "ConfigMap", "Secret", "PodDisruptionBudget"} {
		if kinds[k] == 0 {
			fail("got no %s among the examples, want at least one", k)
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
	// selector converts a label selector; nil selects nothing.
	selector := func(s *metav1.LabelSelector) labels.Selector {
		if s == nil {
			return labels.Nothing()
		}
		sel, err := metav1.LabelSelectorAsSelector(s)
		if err != nil {
			fail("%v", err)
			return labels.Nothing()
		}
		return sel
	}
	services := map[string]*corev1.Service{}
	for _, o := range objs {
		switch v := o.obj.(type) {
		case *corev1.Service:
			services[v.Name] = v
			if len(matching(labels.SelectorFromSet(v.Spec.Selector))) == 0 {
				fail("%s: Service %s selects no Deployment's Pods", o.source, v.Name)
			}
		case *policyv1.PodDisruptionBudget:
			if len(matching(selector(v.Spec.Selector))) == 0 {
				fail("%s: PodDisruptionBudget %s selects no Deployment's Pods", o.source, v.Name)
			}
		case *appsv1.Deployment:
			if got := matching(selector(v.Spec.Selector)); len(got) != 1 {
				fail("%s: Deployment %s's selector matches the Pods of %v, want only its own", o.source, v.Name, got)
			}
			for _, err := range checkDeployment(v, configMaps) {
				fail("%s: Deployment %s: %w", o.source, v.Name, err)
			}
		}
	}

	// The strategies of the seed: Blue/Green switches one Service between
	// two Deployments; canary puts two Deployments behind one Service.
	for _, tt := range []struct{ service, want string }{
		{"podlife-bluegreen", "podlife-bluegreen-blue"},
		{"podlife-bluegreen-preview", "podlife-bluegreen-green"},
		{"podlife-canary", "podlife-canary-canary,podlife-canary-stable"},
	} {
		s, ok := services[tt.service]
		if !ok {
			fail("no Service %s", tt.service)
			continue
		}
		if got := strings.Join(matching(labels.SelectorFromSet(s.Spec.Selector)), ","); got != tt.want {
			fail("Service %s selects the Pods of %q, want %q", tt.service, got, tt.want)
		}
	}
	return errs
}

// TestManifests runs the checks of this file on examples/kubernetes.
func TestManifests(t *testing.T) {
	t.Parallel()
	for _, err := range checkExamples(readExamples(t)) {
		t.Error(err)
	}
}

// TestManifestsFail shows each check failing: every case breaks one
// example file in one way and names the error it must produce.
func TestManifestsFail(t *testing.T) {
	t.Parallel()
	examples := readExamples(t)
	const (
		preStop   = "            preStop:\n              exec:\n                command:\n                  - /podlife/prestop\n                  - --notify=http://127.0.0.1:8080/drainz\n                  - --sleep=5s\n"
		startup   = "          startupProbe:\n            httpGet:\n              path: /startupz\n              port: http\n            periodSeconds: 1\n            failureThreshold: 60\n"
		readiness = "periodSeconds: 2\n            timeoutSeconds: 1\n            failureThreshold: 2"
	)
	for _, tt := range []struct {
		name, file, old, new string
		want                 string // a substring of one error
	}{
		{"a kind the checks do not know", "service.yaml", "kind: Service", "kind: Ingress", `unexpected apiVersion "v1" kind "Ingress"`},
		{"a document that does not decode", "deployment.yaml", "replicas: 3", "replicas: three", "cannot unmarshal string"},
		{"no Secret among the examples", "config.yaml", "kind: Secret\nmetadata:\n  name: podlife-example\n", "kind: ConfigMap\nmetadata:\n  name: podlife-example-header\n",
			"got no Secret among the examples"},
		{"a Service that selects nothing", "service.yaml", "  selector:\n    app.kubernetes.io/name: podlife-example", "  selector:\n    app.kubernetes.io/name: podlife-exampel",
			"Service podlife-example selects no Deployment's Pods"},
		{"a budget that selects nothing", "pdb.yaml", "matchLabels:\n      app.kubernetes.io/name: podlife-example", "matchLabels:\n      app.kubernetes.io/name: podlife-exampel",
			"PodDisruptionBudget podlife-example selects no Deployment's Pods"},
		{"a Deployment's selector takes the other track's Pods", "canary/deployments.yaml", "      app.kubernetes.io/name: podlife-canary\n      podlife.dev/track: stable\n  template:",
			"      app.kubernetes.io/name: podlife-canary\n  template:", "Deployment podlife-canary-stable's selector matches the Pods of [podlife-canary-canary podlife-canary-stable], want only its own"},
		{"Blue/Green's Service on green", "blue-green/services.yaml", "podlife.dev/slot: blue", "podlife.dev/slot: green",
			`Service podlife-bluegreen selects the Pods of "podlife-bluegreen-green", want "podlife-bluegreen-blue"`},
		{"no startup probe", "deployment.yaml", startup, "", "want startup, liveness and readiness probes"},
		{"no warmup", "deployment.yaml", "- /podlife/warmup", "- /podlife/probe", "want a postStart exec of warmup"},
		{"no preStop", "deployment.yaml", preStop, "", "want a preStop exec of prestop"},
		{"a shell's sleep instead of prestop", "deployment.yaml", preStop, "            preStop:\n              exec:\n                command: [/bin/sh, -c, sleep 5]\n",
			"want a preStop exec of prestop"},
		{"no memory limit", "deployment.yaml", "limits:\n              memory: 128Mi", "limits: {}", "want a memory limit"},
		{"binaries not where the image has them", "deployment.yaml", "- /podlife/prestop", "- /opt/podlife/prestop", "got the binaries in /opt/podlife, want /podlife"},
		{"binaries delivered nowhere", "deployment.yaml", "image: ghcr.io/podlife/podlife-example-service:dev", "image: registry.example/service:1.0.0",
			"want podlife in the image, an init container or an image volume"},
		{"init container installing elsewhere", "delivery/init-container.yaml", `["/podlife/install", "/podlife-bin"]`, `["/podlife/install", "/tmp"]`,
			`init container ["/podlife/install" "/tmp"], want [/podlife/install /podlife-bin]`},
		{"grace period the service does not know", "deployment.yaml", "terminationGracePeriodSeconds: 45", "terminationGracePeriodSeconds: 60",
			"LIFECYCLE_TERMINATION_GRACE_PERIOD=45s, but terminationGracePeriodSeconds is 1m0s"},
		{"grace period not told", "config.yaml", `  LIFECYCLE_TERMINATION_GRACE_PERIOD: "45s"` + "\n", "", "want LIFECYCLE_TERMINATION_GRACE_PERIOD set"},
		{"preStop the service does not know", "deployment.yaml", "--sleep=5s", "--sleep=3s", "LIFECYCLE_PRESTOP=5s, but the preStop hook takes 3s"},
		{"waiting until idle lengthens the preStop", "deployment.yaml", "- --sleep=5s\n", "- --sleep=5s\n                  - --until-idle=http://127.0.0.1:8080/drainz\n                  - --max=10s\n",
			"LIFECYCLE_PRESTOP=5s, but the preStop hook takes 15s"},
		{"readiness notices draining too late", "deployment.yaml", readiness, "periodSeconds: 5\n            timeoutSeconds: 1\n            failureThreshold: 3",
			"readiness: periodSeconds 5 × failureThreshold 3 = 15s, want ≤ shutdown delay 10s"},
		{"shutdown delay shorter than readiness", "config.yaml", `LIFECYCLE_SHUTDOWN_DELAY: "10s"`, `LIFECYCLE_SHUTDOWN_DELAY: "3s"`, "= 4s, want ≤ shutdown delay 3s"},
		{"postStart aimed at the Pod IP", "deployment.yaml", "--wait=http://127.0.0.1:8080/startupz", "--wait=http://$(POD_IP):8080/startupz",
			"postStart: target http://$(POD_IP):8080/startupz: want 127.0.0.1"},
		{"exec readiness aimed at a Service", "deployment.yaml", "- grpc://127.0.0.1:9090", "- grpc://podlife-example:9090", "readinessProbe: target grpc://podlife-example:9090: want 127.0.0.1"},
		{"a hook's target in the ConfigMap", "config.yaml", `PROBE_TIMEOUT: "800ms"`, `PROBE_TIMEOUT: "800ms"` + "\n  PRESTOP_NOTIFY: http://10.0.0.7:8080/drainz",
			"PRESTOP_NOTIFY: target http://10.0.0.7:8080/drainz: want 127.0.0.1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			files := maps.Clone(examples)
			if !strings.Contains(files[tt.file], tt.old) {
				t.Fatalf("%s no longer contains %q: update this case", tt.file, tt.old)
			}
			files[tt.file] = strings.Replace(files[tt.file], tt.old, tt.new, 1)
			errs := errors.Join(checkExamples(files)...)
			if errs == nil {
				t.Fatalf("got no error, want one containing %q", tt.want)
			}
			if !strings.Contains(errs.Error(), tt.want) {
				t.Errorf("got errors %q, want one containing %q", errs, tt.want)
			}
		})
	}
}
