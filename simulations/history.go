package simulations

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"

	"github.com/passflow/passflow/models"
	"github.com/passflow/passflow/models/judge"
	"github.com/passflow/passflow/target"
)

// History returns n observations of a simulated target as its passes would
// have recorded them, for benchmarks and experiments with a long history:
// each metric from the target's response surface with relative noise (the
// standard error of a canary window), half of the configurations spread
// over the space and half near the current one (the trust region keeps most
// passes close to it), each with a standard error per metric and its pass's
// ID. The same spec, n, noise and seed give the same history.
func History(spec target.Spec, n int, noise float64, seed uint64) ([]models.Observation, error) {
	sim := spec.Telemetry.Simulator
	if sim == nil {
		return nil, errors.New("simulations: history: the target's telemetry is not the simulator")
	}
	model, err := NewModel(sim.Model, spec.Params, sim.Seed)
	if err != nil {
		return nil, fmt.Errorf("simulations: history: %w", err)
	}
	center, err := spec.Params.ToUnit(spec.Params.Current())
	if err != nil {
		return nil, fmt.Errorf("simulations: history: %w", err)
	}
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	out := make([]models.Observation, 0, n)
	for i := range n {
		u := make([]float64, len(center))
		for d := range u {
			if i%2 == 0 {
				u[d] = rng.Float64()
			} else {
				u[d] = min(1, max(0, center[d]+0.1*rng.NormFloat64()))
			}
		}
		cfg := spec.Params.FromUnit(u)
		truth, err := model.Truth(cfg)
		if err != nil {
			return nil, fmt.Errorf("simulations: history: %w", err)
		}
		o := models.Observation{Config: cfg, Constraints: map[string]float64{}, Uncertainty: map[string]float64{},
			Source: fmt.Sprintf("pass/%s/%d", spec.Name, i+1)}
		for _, m := range spec.Metrics() {
			v := truth[m] * (1 + noise*rng.NormFloat64())
			if m == spec.Objective.Metric {
				o.Objective = v
			} else {
				o.Constraints[m] = v
			}
			o.Uncertainty[m] = math.Abs(truth[m]) * noise
		}
		// Labels as passes record them: a third of the passes rolled back
		// at their first stage on a guardrail, with a reason as long as an
		// observation keeps, the rest promoted.
		o.Verdict, o.Stage, o.Percent, o.Reasons = judge.VerdictPass, 3, 100, []string{"all 3 stages passed"}
		if i%3 == 2 && len(spec.Constraints) > 0 {
			c := spec.Constraints[0]
			o.Verdict, o.Stage, o.Percent, o.Violated = judge.VerdictFail, 1, 5, []string{c.Metric}
			o.Reasons = []string{fmt.Sprintf("aborted early; %s slo breach: 12 of 16 samples with %s; e-value 4.2e+03 vs 150%s",
				c.Metric, c, strings.Repeat(" ", 120))}
		}
		out = append(out, o)
	}
	return out, nil
}
