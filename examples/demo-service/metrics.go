package main

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// The metrics, every one labelled by cohort ("baseline" or "canary"). A
// target reads them with these PromQL queries ({{.Cohort}} and {{.Window}}
// are filled in by passflow, e.g. "canary" and "5m"):
//
//	cost_per_request: sum(rate(demo_cost_units_total{cohort="{{.Cohort}}"}[{{.Window}}])) / sum(rate(demo_requests_total{cohort="{{.Cohort}}"}[{{.Window}}]))
//	latency_p95_ms:   1000 * histogram_quantile(0.95, sum by (le) (rate(demo_request_duration_seconds_bucket{cohort="{{.Cohort}}"}[{{.Window}}])))
//	error_rate:       sum(rate(demo_requests_total{cohort="{{.Cohort}}",code=~"5.."}[{{.Window}}])) / sum(rate(demo_requests_total{cohort="{{.Cohort}}"}[{{.Window}}]))
//
// and, for a human watching the cache:
//
//	stale share of answers: sum(rate(demo_cache_stale_hits_total{cohort="X"}[W])) / sum(rate(demo_requests_total{cohort="X",code="200"}[W]))
//	hit ratio:              sum(rate(demo_cache_hits_total{cohort="X"}[W])) / sum(rate(demo_requests_total{cohort="X",code="200"}[W]))
//
// Every series of both cohorts exists from the start (at 0), so a rate over
// a canary's first window counts its first requests.
type metrics struct {
	requests      *prometheus.CounterVec   // cohort, code
	duration      *prometheus.HistogramVec // cohort
	cost          *prometheus.CounterVec
	hits          *prometheus.CounterVec
	stale         *prometheus.CounterVec
	backendCalls  *prometheus.CounterVec
	compute       *prometheus.CounterVec
	pauses        *prometheus.CounterVec
	busy          *prometheus.GaugeVec
	waiting       *prometheus.GaugeVec
	canaryPercent prometheus.Gauge
	configInfo    *prometheus.GaugeVec // cohort, worker_threads, cache_ttl_s, gc_mode
}

// durationBuckets resolve a p95 from 1 ms to 2.5 s within about 10%, with
// a bound at the demo target's 250 ms guardrail.
var durationBuckets = []float64{
	.001, .002, .003, .005, .0075, .01, .015, .02, .025, .03, .035, .04, .045, .05,
	.055, .06, .065, .07, .075, .08, .09, .1, .11, .12, .13, .14, .15, .165, .18, .2,
	.225, .25, .275, .3, .35, .4, .45, .5, .6, .7, .8, .9, 1, 1.1, 1.25, 1.5, 1.75, 2, 2.5,
}

// Codes a request ends with: 499 is nginx's "client closed request", the
// caller gone before the answer.
var requestCodes = []int{200, 499, 502, 503}

func newMetrics(reg prometheus.Registerer) *metrics {
	cohort := []string{"cohort"}
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "demo_requests_total", Help: "Requests answered, by cohort and HTTP status code.",
		}, []string{"cohort", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "demo_request_duration_seconds", Help: "Time from a request's arrival to its answer, queueing for a worker included.",
			Buckets: durationBuckets,
		}, cohort),
		cost: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "demo_cost_units_total",
			Help: "Cost accrued: reserved worker threads (1 unit per thread-second, scaled by the cohort's traffic share), backend calls (0.5 each) and compute (100 per CPU-second).",
		}, cohort),
		hits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "demo_cache_hits_total", Help: "Requests answered from the cache (stale hits included).",
		}, cohort),
		stale: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "demo_cache_stale_hits_total", Help: "Cache hits whose value had changed at the backend since it was cached.",
		}, cohort),
		backendCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "demo_backend_calls_total", Help: "Calls to the (simulated) backend: the cache's misses.",
		}, cohort),
		compute: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "demo_compute_seconds_total", Help: "Time spent computing (rendering, hashing, collecting), as measured.",
		}, cohort),
		pauses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "demo_gc_pauses_total", Help: "Stop-the-cohort collections of the throughput gc_mode.",
		}, cohort),
		busy: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "demo_workers_busy", Help: "Workers serving a request.",
		}, cohort),
		waiting: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "demo_queue_length", Help: "Requests waiting for a worker.",
		}, cohort),
		canaryPercent: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "demo_canary_percent", Help: "The share of the traffic the canary gets, in percent (0: no canary).",
		}),
		configInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "demo_config_info", Help: "The configuration each cohort runs (1 for the current one; no canary series when there is no canary).",
		}, []string{"cohort", knobThreads, knobTTL, knobGCMode}),
	}
	reg.MustRegister(m.requests, m.duration, m.cost, m.hits, m.stale, m.backendCalls, m.compute, m.pauses,
		m.busy, m.waiting, m.canaryPercent, m.configInfo)
	for _, c := range []string{cohortBaseline, cohortCanary} {
		for _, code := range requestCodes {
			m.requests.WithLabelValues(c, strconv.Itoa(code))
		}
		m.duration.WithLabelValues(c)
		for _, v := range []*prometheus.CounterVec{m.cost, m.hits, m.stale, m.backendCalls, m.compute, m.pauses} {
			v.WithLabelValues(c)
		}
	}
	return m
}

// setConfig records what cohort runs; nil removes its series.
func (m *metrics) setConfig(cohort string, c *Config) {
	m.configInfo.DeletePartialMatch(prometheus.Labels{"cohort": cohort})
	if c != nil {
		m.configInfo.WithLabelValues(cohort, strconv.Itoa(c.WorkerThreads), formatTTL(c.CacheTTL), c.GCMode).Set(1)
	}
}

// newRegistry returns a registry with the Go and process collectors.
func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}
