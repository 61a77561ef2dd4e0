package lifecycle

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metric names, all on the registry passed in Config.Registry.
const (
	MetricPhase          = "podlife_lifecycle_phase"                    // gauge{phase}: 1 for the current phase
	MetricPhaseDuration  = "podlife_lifecycle_phase_duration_seconds"   // gauge{phase}: time spent in each finished phase
	MetricInFlight       = "podlife_lifecycle_inflight_requests"        // gauge: requests in flight
	MetricDrained        = "podlife_lifecycle_drained_requests_total"   // counter: requests that ended while draining
	MetricForcedStops    = "podlife_lifecycle_forced_stops_total"       // counter{server="http"|"grpc"}: drains cut at DrainTimeout
	MetricHookTimeouts   = "podlife_lifecycle_hook_timeouts_total"      // counter{hook}: hooks abandoned at HookTimeout
	MetricWatchdogAge    = "podlife_lifecycle_watchdog_age_seconds"     // gauge{watchdog}: time since the last Beat
	MetricWatchdogMaxAge = "podlife_lifecycle_watchdog_max_age_seconds" // gauge{watchdog}: the age that fails liveness
)

type metrics struct {
	phase         *prometheus.GaugeVec
	phaseDuration *prometheus.GaugeVec
	forcedStops   *prometheus.CounterVec
	hookTimeouts  *prometheus.CounterVec
}

// newMetrics creates the metrics and registers them on reg when reg is not nil.
func newMetrics(l *Lifecycle, reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		phase: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: MetricPhase, Help: "1 for the current lifecycle phase, 0 for the others.",
		}, []string{"phase"}),
		phaseDuration: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: MetricPhaseDuration, Help: "Time spent in each finished lifecycle phase.",
		}, []string{"phase"}),
		forcedStops: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: MetricForcedStops, Help: "Servers closed or stopped because their drain hit the drain timeout.",
		}, []string{"server"}),
		hookTimeouts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: MetricHookTimeouts, Help: "Hooks abandoned at their deadline.",
		}, []string{"hook"}),
	}
	for p := PhaseStarting; p <= PhaseStopped; p++ {
		m.phase.WithLabelValues(p.String())
	}
	for _, s := range []string{"http", "grpc"} {
		m.forcedStops.WithLabelValues(s)
	}
	if reg == nil {
		return m, nil
	}
	cs := []prometheus.Collector{
		m.phase, m.phaseDuration, m.forcedStops, m.hookTimeouts,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: MetricInFlight, Help: "Requests in flight.",
		}, func() float64 { return float64(l.inflight.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: MetricDrained, Help: "Requests that ended after draining began.",
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

func (m *metrics) setPhase(prev, next Phase, d time.Duration) {
	if prev != next {
		m.phaseDuration.WithLabelValues(prev.String()).Set(d.Seconds())
	}
	m.phase.WithLabelValues(prev.String()).Set(0)
	m.phase.WithLabelValues(next.String()).Set(1)
}

var (
	watchdogAgeDesc = prometheus.NewDesc(MetricWatchdogAge,
		"Time since the last heartbeat of each watchdog.", []string{"watchdog"}, nil)
	watchdogMaxAgeDesc = prometheus.NewDesc(MetricWatchdogMaxAge,
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
		ch <- prometheus.MustNewConstMetric(watchdogAgeDesc, prometheus.GaugeValue, h.Age().Seconds(), h.name)
		ch <- prometheus.MustNewConstMetric(watchdogMaxAgeDesc, prometheus.GaugeValue, h.maxAge.Seconds(), h.name)
	}
}
