package lifecycle

import (
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metric names, all on the registry passed in Config.Registry;
// docs/lifecycle.md lists them.
const (
	metricPhase          = "podlife_lifecycle_phase"                           // gauge{phase}: 1 for the current phase
	metricPhaseDuration  = "podlife_lifecycle_phase_duration_seconds"          // gauge{phase}: time spent in each finished phase
	metricInFlight       = "podlife_lifecycle_inflight_requests"               // gauge: requests in flight
	metricDrained        = "podlife_lifecycle_drained_requests_total"          // counter: requests that ended while draining
	metricForcedStops    = "podlife_lifecycle_forced_stops_total"              // counter{server="http"|"grpc"|"conn"}: drains cut at DrainTimeout
	metricHookTimeouts   = "podlife_lifecycle_hook_timeouts_total"             // counter{hook}: hooks abandoned at HookTimeout
	metricHookPanics     = "podlife_lifecycle_hook_panics_total"               // counter{hook}: hooks, workers and checks that panicked
	metricBudgetOverrun  = "podlife_lifecycle_shutdown_budget_overrun_seconds" // gauge: worst-case shutdown minus the grace period, 0 if it fits
	metricWatchdogAge    = "podlife_lifecycle_watchdog_age_seconds"            // gauge{watchdog}: time since the last Beat
	metricWatchdogMaxAge = "podlife_lifecycle_watchdog_max_age_seconds"        // gauge{watchdog}: the age that fails liveness
)

// phase is a step of the lifecycle, named in logs and metrics.
type phase int32

// The phases, in order.
const (
	phaseStarting phase = iota // servers listening, startup tasks running
	phaseServing               // startup finished; ready unless a check fails
	phaseDraining              // readiness failing, shutdown delay and pre-shutdown hooks
	phaseStopping              // servers draining, then workers stopping
	phaseCleanup               // cleanup hooks running
	phaseStopped               // Run returned
)

func (p phase) String() string {
	switch p {
	case phaseStarting:
		return "starting"
	case phaseServing:
		return "serving"
	case phaseDraining:
		return "draining"
	case phaseStopping:
		return "stopping"
	case phaseCleanup:
		return "cleanup"
	case phaseStopped:
		return "stopped"
	}
	return fmt.Sprintf("phase(%d)", int32(p))
}

type metrics struct {
	phase         *prometheus.GaugeVec
	phaseDuration *prometheus.GaugeVec
	forcedStops   *prometheus.CounterVec
	hookTimeouts  *prometheus.CounterVec
	hookPanics    *prometheus.CounterVec
	budgetOverrun prometheus.Gauge
}

// newMetrics creates the metrics and registers them on reg when reg is not nil.
func newMetrics(l *Lifecycle, reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		phase: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: metricPhase, Help: "1 for the current lifecycle phase, 0 for the others.",
		}, []string{"phase"}),
		phaseDuration: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: metricPhaseDuration, Help: "Time spent in each finished lifecycle phase.",
		}, []string{"phase"}),
		forcedStops: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metricForcedStops, Help: "Servers closed or stopped, and hijacked connections closed, because their drain hit the drain timeout.",
		}, []string{"server"}),
		hookTimeouts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metricHookTimeouts, Help: "Hooks and workers abandoned at their deadline.",
		}, []string{"hook"}),
		hookPanics: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metricHookPanics, Help: "Hooks, workers, startup tasks and readiness checks that panicked (recovered).",
		}, []string{"hook"}),
		budgetOverrun: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: metricBudgetOverrun, Help: "Worst-case shutdown duration minus the termination grace period; above 0, kubelet will SIGKILL before the shutdown ends.",
		}),
	}
	for p := phaseStarting; p <= phaseStopped; p++ {
		m.phase.WithLabelValues(p.String())
	}
	for _, s := range []string{"http", "grpc", "conn"} {
		m.forcedStops.WithLabelValues(s)
	}
	if reg == nil {
		return m, nil
	}
	cs := []prometheus.Collector{
		m.phase, m.phaseDuration, m.forcedStops, m.hookTimeouts, m.hookPanics, m.budgetOverrun,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: metricInFlight, Help: "Requests in flight.",
		}, func() float64 { return float64(l.inflight.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: metricDrained, Help: "Requests that ended after draining began.",
		}, func() float64 { return float64(l.drained.Load()) }),
		watchdogCollector{l: l},
	}
	var errs []error
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, errors.Join(errors.New("lifecycle: registering metrics"), err)
	}
	return m, nil
}

func (m *metrics) setPhase(prev, next phase, d time.Duration) {
	if prev != next {
		m.phaseDuration.WithLabelValues(prev.String()).Set(d.Seconds())
	}
	m.phase.WithLabelValues(prev.String()).Set(0)
	m.phase.WithLabelValues(next.String()).Set(1)
}

var (
	watchdogAgeDesc = prometheus.NewDesc(metricWatchdogAge,
		"Time since the last heartbeat of each watchdog.", []string{"watchdog"}, nil)
	watchdogMaxAgeDesc = prometheus.NewDesc(metricWatchdogMaxAge,
		"Heartbeat age above which each watchdog fails liveness.", []string{"watchdog"}, nil)
)

// watchdogCollector reports the heartbeats registered at scrape time.
type watchdogCollector struct{ l *Lifecycle }

func (c watchdogCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- watchdogAgeDesc
	ch <- watchdogMaxAgeDesc
}

func (c watchdogCollector) Collect(ch chan<- prometheus.Metric) {
	for _, h := range *c.l.watchdogs.Load() {
		ch <- prometheus.MustNewConstMetric(watchdogAgeDesc, prometheus.GaugeValue, h.age().Seconds(), h.name)
		ch <- prometheus.MustNewConstMetric(watchdogMaxAgeDesc, prometheus.GaugeValue, h.maxAge.Seconds(), h.name)
	}
}
