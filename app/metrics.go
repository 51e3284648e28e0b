package app

import (
	"context"
	"io"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/uber-go/tally/v4"
	tallyprom "github.com/uber-go/tally/v4/prometheus"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdktally "go.temporal.io/sdk/contrib/tally"
	"go.temporal.io/sdk/converter"

	"github.com/passflow/passflow/workflows"
)

// metricsRegistry is the registry /metrics serves: the Go and process
// collectors, and the SDK's client and worker metrics (temporal_*) through
// its tally handler, reported into the same registry. close stops the
// SDK's reporting.
func metricsRegistry() (reg *prometheus.Registry, sdk client.MetricsHandler, close io.Closer) {
	reg = prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	scope, closer := tally.NewRootScope(tally.ScopeOptions{
		CachedReporter:  tallyprom.NewReporter(tallyprom.Options{Registerer: reg}),
		Separator:       tallyprom.DefaultSeparator,
		SanitizeOptions: &tallyprom.DefaultSanitizerOpts,
	}, time.Second)
	return reg, sdktally.NewMetricsHandler(sdktally.NewPrometheusNamingScope(scope)), closer
}

// passCollector reports the passes in flight by step and those waiting for
// an approval, from Temporal's visibility, read at most every passCacheFor.
type passCollector struct {
	c        client.Client
	inFlight *prometheus.Desc
	waiting  *prometheus.Desc

	mu    sync.Mutex
	at    time.Time
	steps map[string]int
}

// passCacheFor bounds how often a scrape lists the running passes.
const passCacheFor = 5 * time.Second

func newPassCollector(c client.Client) *passCollector {
	return &passCollector{c: c,
		inFlight: prometheus.NewDesc("passflow_passes_in_flight", "Passes running, by step (analyze … canary-N … record).", []string{"step"}, nil),
		waiting:  prometheus.NewDesc("passflow_passes_waiting_for_approval", "Passes waiting for an approval.", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (p *passCollector) Describe(ch chan<- *prometheus.Desc) { ch <- p.inFlight; ch <- p.waiting }

// Collect implements prometheus.Collector; when visibility cannot be read,
// the series are left out rather than reported as zero.
func (p *passCollector) Collect(ch chan<- prometheus.Metric) {
	steps, ok := p.read()
	if !ok {
		return
	}
	for step, n := range steps {
		ch <- prometheus.MustNewConstMetric(p.inFlight, prometheus.GaugeValue, float64(n), step)
	}
	ch <- prometheus.MustNewConstMetric(p.waiting, prometheus.GaugeValue, float64(steps[string(workflows.StepApproval)]))
}

func (p *passCollector) read() (map[string]int, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.steps != nil && time.Since(p.at) < passCacheFor {
		return p.steps, true
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	steps := map[string]int{}
	var token []byte
	for {
		resp, err := p.c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{NextPageToken: token,
			Query: "WorkflowType = '" + workflows.PassWorkflowName + "' AND ExecutionStatus = 'Running'"})
		if err != nil {
			return nil, false
		}
		for _, e := range resp.GetExecutions() {
			step := "unknown"
			if pl, ok := e.GetSearchAttributes().GetIndexedFields()[workflows.StepKey.GetName()]; ok {
				_ = converter.GetDefaultDataConverter().FromPayload(pl, &step)
			}
			steps[step]++
		}
		if token = resp.GetNextPageToken(); len(token) == 0 {
			break
		}
	}
	p.steps, p.at = steps, time.Now()
	return steps, true
}
