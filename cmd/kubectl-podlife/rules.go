package main

// Severities, lowest first.
const (
	severityWarning = "warning"
	severityError   = "error"
)

func severityRank(s string) int {
	if s == severityError {
		return 2
	}
	return 1
}

// rule is one check of lint: its id, severity, what it checks and where the
// practice comes from. docs/kubectl-podlife.md has the same table.
type rule struct {
	ID       string
	Severity string
	Summary  string // one line: what goes wrong
	Source   string // the seed's section (Japanese notes) or a Kubernetes page
	HelpURI  string
}

const (
	ruleStrict            = "strict-decode"
	ruleBudget            = "termination-budget"
	ruleGrace             = "grace-period-mismatch"
	ruleReadiness         = "readiness-slower-than-delay"
	ruleLivenessReadiness = "liveness-is-readiness"
	ruleExecTimeout       = "exec-probe-timeout"
	rulePostStart         = "poststart-unbounded"
	rulePreStop           = "prestop-missing"
	rulePDB               = "pdb-blocks-drain"
	ruleImage             = "image-not-pinned"
	ruleNonRoot           = "run-as-non-root"
	ruleReadOnlyRoot      = "read-only-root-filesystem"
	ruleRequests          = "resource-requests"
	ruleSetting           = "invalid-setting"
	ruleConfigRef         = "config-ref-missing"
)

const docsBase = "https://github.com/podlife/podlife/blob/main/docs/kubectl-podlife.md#"

// rules returns every rule, in the order of the docs.
func rules() []rule {
	r := []rule{
		{ruleStrict, severityError, "a field the API server does not know (misspelt or misplaced) or a key written twice: the setting is lost or the apply rejected",
			"Kubernetes: API concepts, field validation (https://kubernetes.io/docs/reference/using-api/api-concepts/#field-validation)", ""},
		{ruleBudget, severityError, "preStop + notify timeout + shutdown delay + drain + margin exceeds terminationGracePeriodSeconds: kubelet sends SIGKILL mid-drain",
			"seed: Podの安定稼働のためのプラクティス, Podの停止; Kubernetes: Pod lifecycle, termination of Pods (https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/#pod-termination)", ""},
		{ruleGrace, severityError, "LIFECYCLE_TERMINATION_GRACE_PERIOD is not the Pod's terminationGracePeriodSeconds: the app checks its shutdown budget at start against the wrong grace period",
			"podlife docs/lifecycle.md: the budget check at start, LIFECYCLE_TERMINATION_GRACE_PERIOD; Kubernetes: Pod lifecycle, termination of Pods", ""},
		{ruleReadiness, severityError, "an app on package lifecycle that is not told to drain (no prestop --notify) keeps passing readiness for periodSeconds × failureThreshold, longer than its shutdown delay",
			"seed: ヘルスチェック (Readiness Probe), Podの停止; Kubernetes: Pod lifecycle, termination of Pods", ""},
		{ruleLivenessReadiness, severityWarning, "the liveness probe checks exactly what the readiness probe checks: a slow dependency restarts every Pod instead of taking it out of the Service",
			"seed: Liveness Probeの設定; Kubernetes: Configure Liveness, Readiness and Startup Probes (https://kubernetes.io/docs/tasks/configure-pod-container/configure-liveness-readiness-startup-probes/)", ""},
		{ruleExecTimeout, severityError, "an exec probe's timeoutSeconds is not above the tool's own --timeout: kubelet kills the probe first and its one-line reason is lost",
			"Kubernetes: Configure Probes, timeoutSeconds (https://kubernetes.io/docs/tasks/configure-pod-container/configure-liveness-readiness-startup-probes/#configure-probes)", ""},
		{rulePostStart, severityError, "a postStart exec hook with no bound: kubelet puts no timeout on it, and the container is not Running (no probes, no traffic) until it returns",
			"seed: Pod Start Lifecycle Hook; Kubernetes: Container Lifecycle Hooks, hook handler execution (https://kubernetes.io/docs/concepts/containers/container-lifecycle-hooks/#hook-handler-execution)", ""},
		{rulePreStop, severityError, "a workload behind a Service has no preStop hook: SIGTERM races the endpoint's removal from kube-proxy and load balancers, and requests fail",
			"seed: Podの停止, Podの安定稼働のためのプラクティス; Kubernetes: Pod lifecycle, termination of Pods", ""},
		{rulePDB, severityError, "a PodDisruptionBudget that allows no disruption for the replicas it selects: every node drain and cluster upgrade blocks",
			"seed: その他Podが停止する場合と対策; Kubernetes: Specifying a Disruption Budget (https://kubernetes.io/docs/tasks/run-application/configure-pdb/)", ""},
		{ruleImage, severityWarning, "an image with no tag or :latest (and a pull policy that pulls): Pods of one Deployment run different code, and a rollback does not roll back",
			"Kubernetes: Images, image pull policy (https://kubernetes.io/docs/concepts/containers/images/#image-pull-policy)", ""},
		{ruleNonRoot, severityWarning, "the container may run as root: runAsNonRoot is not set in its or the Pod's securityContext",
			"seed: Dockerfileのベストプラクティス (非rootユーザーで実行する); Kubernetes: Configure a Security Context (https://kubernetes.io/docs/tasks/configure-pod-container/security-context/)", ""},
		{ruleReadOnlyRoot, severityWarning, "the container's root filesystem is writable: readOnlyRootFilesystem is not true",
			"Kubernetes: Configure a Security Context (https://kubernetes.io/docs/tasks/configure-pod-container/security-context/)", ""},
		{ruleRequests, severityWarning, "the container has no CPU or no memory request: the scheduler places it blind, and it is evicted first under pressure",
			"seed: Podのresource管理とチューニング; Kubernetes: Resource Management for Pods and Containers (https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/)", ""},
		{ruleSetting, severityError, "a LIFECYCLE_*, PROBE_*, WARMUP_* or PRESTOP_* value, or a flag of a podlife binary, that does not parse: the app or the hook exits 2 at start",
			"podlife docs/cli.md: exit codes, every flag is also a variable", ""},
		{ruleConfigRef, severityWarning, "a ConfigMap or Secret the container reads is not in the input, so its LIFECYCLE_*/PROBE_*/WARMUP_*/PRESTOP_* settings are unknown and defaults were assumed",
			"seed: ConfigMap, Secret; Kubernetes: ConfigMaps (https://kubernetes.io/docs/concepts/configuration/configmap/)", ""},
	}
	for i := range r {
		r[i].HelpURI = docsBase + r[i].ID
	}
	return r
}

// finding is one thing a user should change.
type finding struct {
	Rule      string `json:"rule"`
	Severity  string `json:"severity"`
	Message   string `json:"message"`
	File      string `json:"file"`
	Document  int    `json:"document"`
	Line      int    `json:"line"`
	Kind      string `json:"kind"`
	Name      string `json:"name"`
	Namespace string `json:"namespace,omitempty"`
	Container string `json:"container,omitempty"`
	Source    string `json:"source"`
}
