package simulations_test

import (
	"fmt"
	"time"

	"github.com/passflow/passflow/simulations"
)

// A worker pool: each worker is paid for, and the latency climbs the
// 1/(1−ρ) knee as the peak load fills the workers.
const queueScenario = `
name: worker-pool
target:
  params:
    - {name: workers, type: int, min: 1, max: 64, current: 24}
  objective: {metric: cost, goal: minimize}
  constraints:
    - {metric: latency_ms, max: 45}
  risk: {approvers: [alice]}
load: {base: 1, diurnal: 0.5, peak_hour: 14}
vars:
  rho: min(8 * load / workers, 0.99)
metrics:
  latency_ms: {expr: 10 / (1 - rho), noise: 0.1}
  cost: {expr: workers, noise: 0.05}
schedule: {start: "2026-01-05T14:00:00Z"}
`

func ExampleParseScenario() {
	s, err := simulations.ParseScenario("worker-pool.yaml", []byte(queueScenario))
	if err != nil {
		fmt.Println(err)
		return
	}
	start := s.Target().Params.Current()
	now, _ := s.Truth(start, s.Start(), 1)
	fmt.Printf("now:     %s cost %.0f, latency %.0f ms at the worst hour\n", start, now.Objective, now.Guardrails["latency_ms"])
	best, truth, _ := s.Optimum(s.Start(), 1)
	fmt.Printf("optimum: %s cost %.0f, latency %.0f ms at the worst hour\n", best, truth.Objective, truth.Guardrails["latency_ms"])
	for _, h := range []time.Duration{2, 14} {
		v, _ := s.Values(best, s.Start().Truncate(24*time.Hour).Add(h*time.Hour))
		fmt.Printf("at %02d:00: load %.1f, latency %.1f ms\n", h, s.Load().At(s.Start().Truncate(24*time.Hour).Add(h*time.Hour)), v["latency_ms"])
	}
	// Output:
	// now:     workers=24 cost 24, latency 20 ms at the worst hour
	// optimum: workers=16 cost 16, latency 40 ms at the worst hour
	// at 02:00: load 0.5, latency 13.3 ms
	// at 14:00: load 1.5, latency 40.0 ms
}

func ExampleBuiltinScenarios() {
	for _, name := range simulations.BuiltinScenarios() {
		s, _ := simulations.BuiltinScenario(name)
		spec := s.Target()
		fmt.Printf("%-18s %-22s %d guardrails, passes at %s\n", name, spec.Objective.Metric, len(spec.Constraints), s.Start().Format("15:04"))
	}
	// Output:
	// autoscaler         cost_per_hour          1 guardrails, passes at 06:00
	// cache              cost_per_1k_requests   3 guardrails, passes at 13:00
	// k8s-rightsizing    cost_per_pod_hour      3 guardrails, passes at 13:00
	// ml-batching        cost_per_1k_inferences 3 guardrails, passes at 13:00
	// serverless-memory  cost_per_invocation    3 guardrails, passes at 13:00
	// web-api            cost_per_request       3 guardrails, passes at 13:00
}
