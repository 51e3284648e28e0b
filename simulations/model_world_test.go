package simulations_test

import (
	"context"
	"testing"
	"time"

	"github.com/passflow/passflow/models"
	"github.com/passflow/passflow/simulations"
	"github.com/passflow/passflow/target"
)

func modelWorldSpec(t *testing.T) target.Spec {
	t.Helper()
	s, err := target.Parse("mw.yaml", []byte(`
name: mw
params:
  - {name: worker_threads, type: int, min: 4, max: 256, log: true, current: 32}
  - {name: cache_ttl_s, type: float, min: 1, max: 3600, log: true, current: 60}
  - {name: gc_mode, type: categorical, choices: [throughput, low-latency], current: throughput}
objective: {metric: cost_per_request, goal: minimize}
constraints: [{metric: latency_p95_ms, max: 250}, {metric: error_rate, max: 0.01}]
telemetry: {simulator: {model: web, seed: 7}}
actuator: {simulator: {}}
risk: {approvers: [alice, bob]}
`))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestModelWorldIsTheModel(t *testing.T) {
	spec := modelWorldSpec(t)
	w := simulations.ModelWorld(spec)
	model, err := simulations.NewModel("web", spec.Params, 7)
	if err != nil {
		t.Fatal(err)
	}
	if w.Name() != "mw" || w.Start().Hour() != 13 || w.Start().Location() != time.UTC || w.PassEvery() != 24*time.Hour {
		t.Errorf("name %q, start %s, every %s; want mw, 13:00 UTC, 24h", w.Name(), w.Start(), w.PassEvery())
	}
	if op := w.Operator(); op != (simulations.Operator{Answer: simulations.AnswerApprove, After: 10 * time.Minute, Approver: "alice"}) {
		t.Errorf("operator %+v, want alice approving after 10m", op)
	}

	// The truth is the model's, whatever the day and the seed.
	cfg := spec.Params.Current()
	want, err := model.Truth(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, at := range []time.Time{w.Start(), w.Start().Add(100 * 24 * time.Hour)} {
		for _, seed := range []uint64{1, 2} {
			got, err := w.Truth(cfg, at, seed)
			if err != nil {
				t.Fatal(err)
			}
			if got.Objective != want["cost_per_request"] || len(got.Guardrails) != 2 ||
				got.Guardrails["latency_p95_ms"] != want["latency_p95_ms"] || got.Guardrails["error_rate"] != want["error_rate"] {
				t.Errorf("truth at %s seed %d = %+v, want the model's %v", at, seed, got, want)
			}
		}
	}

	// The optimum is Model.Optimum's, feasible, and no worse than the start.
	opt, ot, err := w.Optimum(w.Start(), 1)
	if err != nil {
		t.Fatal(err)
	}
	mo, err := model.Optimum("cost_per_request", models.Minimize, spec.Constraints)
	if err != nil {
		t.Fatal(err)
	}
	if !opt.Equal(mo.Config) || ot.Objective != mo.Objective || ot.Objective > want["cost_per_request"] {
		t.Errorf("optimum %s (%v), want the model's %s (%v), below the current %v", opt, ot.Objective, mo.Config, mo.Objective, want["cost_per_request"])
	}
	if ot.Guardrails["latency_p95_ms"] > 250 || ot.Guardrails["error_rate"] > 0.01 {
		t.Errorf("optimum's guardrails %v break the limits", ot.Guardrails)
	}

	// The service runs the spec's current configuration on the given clock.
	now := w.Start()
	svc, err := w.NewService(1, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	base, err := svc.Baseline(context.Background())
	if err != nil || !base.Equal(cfg) {
		t.Errorf("baseline %s (%v), want %s", base, err, cfg)
	}
}

func TestModelWorldOptionsAndErrors(t *testing.T) {
	spec := modelWorldSpec(t)
	start := time.Date(2027, 1, 1, 9, 0, 0, 0, time.UTC)
	op := simulations.Operator{Answer: simulations.AnswerTimeout}
	w := simulations.ModelWorld(spec, simulations.WithName("x"), simulations.WithStart(start),
		simulations.WithPassEvery(time.Hour), simulations.WithOperator(op))
	if w.Name() != "x" || !w.Start().Equal(start) || w.PassEvery() != time.Hour || w.Operator() != op {
		t.Errorf("options not applied: %s %s %s %+v", w.Name(), w.Start(), w.PassEvery(), w.Operator())
	}

	spec.Telemetry.Simulator = nil
	bad := simulations.ModelWorld(spec)
	if _, err := bad.Truth(spec.Params.Current(), start, 1); err == nil {
		t.Error("truth of a world without a simulator: no error")
	}
	if _, _, err := bad.Optimum(start, 1); err == nil {
		t.Error("optimum of a world without a simulator: no error")
	}
	if _, err := bad.NewService(1, time.Now); err == nil {
		t.Error("service of a world without a simulator: no error")
	}
}
