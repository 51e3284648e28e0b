package contract_test

import (
	"testing"

	"github.com/passflow/passflow/contract"
	"github.com/passflow/passflow/models"
	"github.com/passflow/passflow/target"
)

// TestMeasured: an observation holds what was measured and nothing else: a
// guardrail without data is left out, and without the objective's data
// objective is false and no objective is made up.
func TestMeasured(t *testing.T) {
	lim := 200.0
	spec := target.Spec{Objective: target.Objective{Metric: "cost"},
		Constraints: []models.Constraint{{Metric: "latency", Max: &lim}, {Metric: "errors", Max: &lim}}}
	cfg := models.Config{"threads": models.Num(32)}
	o, ok := contract.Measured(spec, cfg, map[string]contract.Summary{
		"cost": {N: 4, Mean: 1, SD: 0.2}, "latency": {N: 4, Mean: 150, SD: 10}, "errors": {}})
	if !ok || o.Objective != 1 || o.Uncertainty["cost"] != 0.1 || o.Constraints["latency"] != 150 || o.Uncertainty["latency"] != 5 {
		t.Errorf("measured %+v (objective %v), want cost 1 ± 0.1 and latency 150 ± 5", o, ok)
	}
	if _, has := o.Constraints["errors"]; has || o.Config.String() != cfg.String() || o.Source != "" || o.LabeledInfeasible() {
		t.Errorf("measured %+v, want no errors value, the configuration, no source and no labels", o)
	}
	o, ok = contract.Measured(spec, cfg, map[string]contract.Summary{"latency": {N: 4, Mean: 150, SD: 10}})
	if ok || o.Objective != 0 || o.Constraints["latency"] != 150 {
		t.Errorf("without the objective's data: %+v (objective %v), want objective false, no objective, latency kept", o, ok)
	}
}
