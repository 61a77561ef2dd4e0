package main

import "time"

// defaults are the values the rules assume for a setting that the
// manifests leave out: Kubernetes' own defaults, and those of podlife's
// binaries and of package lifecycle, read from their code. This is the one
// place they are written down in kubectl-podlife; docs/kubectl-podlife.md
// lists them, and a change to one of the tools must be made here too.
type defaults struct {
	// Kubernetes (PodSpec, Probe).
	GracePeriod      time.Duration // terminationGracePeriodSeconds: 30
	ProbeTimeout     time.Duration // probe timeoutSeconds: 1
	ProbePeriod      int32         // probe periodSeconds: 10
	FailureThreshold int32         // probe failureThreshold: 3
	Replicas         int32         // Deployment, StatefulSet, ReplicaSet replicas: 1

	// package lifecycle (lifecycle/config.go, DefaultConfig and the envDefault tags).
	ShutdownDelay time.Duration // LIFECYCLE_SHUTDOWN_DELAY
	DrainTimeout  time.Duration // LIFECYCLE_DRAIN_TIMEOUT
	Margin        time.Duration // LIFECYCLE_MARGIN

	// The binaries (cmd/probe, cmd/prestop, cmd/warmup).
	ProbeToolTimeout time.Duration // probe --timeout, PROBE_TIMEOUT
	PrestopTimeout   time.Duration // prestop --timeout, PRESTOP_TIMEOUT: bounds --notify
	PrestopMax       time.Duration // prestop --max, PRESTOP_MAX: bounds --until-idle
	WarmupTimeout    time.Duration // warmup --timeout, WARMUP_TIMEOUT: bounds the whole postStart
}

// assumedDefaults returns the defaults the rules use.
func assumedDefaults() defaults {
	return defaults{
		GracePeriod:      30 * time.Second,
		ProbeTimeout:     1 * time.Second,
		ProbePeriod:      10,
		FailureThreshold: 3,
		Replicas:         1,

		ShutdownDelay: 5 * time.Second,
		DrainTimeout:  15 * time.Second,
		Margin:        2 * time.Second,

		ProbeToolTimeout: 800 * time.Millisecond,
		PrestopTimeout:   2 * time.Second,
		PrestopMax:       20 * time.Second,
		WarmupTimeout:    2 * time.Minute,
	}
}

// What inject writes: a preStop sleep that covers the endpoint's
// propagation through kube-proxy, ingress and cloud load balancers, and a
// warm-up that is bounded well inside a startup probe's patience.
const (
	injectSleep         = 5 * time.Second
	injectWarmupTimeout = 60 * time.Second
	injectRequests      = 1000
)
