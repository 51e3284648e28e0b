package campaign

import (
	"strings"
	"testing"
	"time"

	"github.com/passflow/passflow/models"
)

// TestOracleTakesTheTruthsBestStep runs the oracle policy on the demo world
// and checks each candidate against the truth: inside the trust region,
// truly better than its baseline, keeping every guardrail for oracleDays
// days, and no configuration of the region's grid that keeps them so is
// truly better.
func TestOracleTakesTheTruthsBestStep(t *testing.T) {
	t.Parallel()
	w := world(t, nil)
	spec := w.Target()
	res := run(t, w, Options{Passes: 4, Seed: 1, Policy: PolicyOracle})
	keeps := func(cfg models.Config, at time.Time) bool {
		for d := range oracleDays {
			tr, err := w.Truth(cfg, at.Add(time.Duration(d)*24*time.Hour), 1)
			if err != nil || Breach(spec.Constraints, tr) > 1 {
				return false
			}
		}
		return true
	}
	tried := 0
	for _, p := range res.Passes {
		if p.Candidate == nil {
			if !strings.Contains(p.Reason, "oracle policy") {
				t.Errorf("pass %d proposed nothing: %q, want the oracle's reason", p.N, p.Reason)
			}
			continue
		}
		tried++
		if p.Optimizer != string(PolicyOracle) {
			t.Errorf("pass %d: proposed by %q", p.N, p.Optimizer)
		}
		step, cats, err := spec.Params.StepWithin(p.Baseline, p.Candidate, spec.Risk.MaxStep)
		if err != nil || step > spec.Risk.MaxStep || cats > 1 {
			t.Errorf("pass %d: %s is %v (%d switches) from %s, want within max_step %v", p.N, p.Candidate, step, cats, p.Baseline, spec.Risk.MaxStep)
		}
		if !Better(spec.Objective.Goal, p.CandidateTruth.Objective, p.BaselineTruth.Objective) {
			t.Errorf("pass %d: %s is truly %v against the baseline's %v, want better", p.N, p.Candidate, p.CandidateTruth.Objective, p.BaselineTruth.Objective)
		}
		if !keeps(p.Candidate, p.At) {
			t.Errorf("pass %d: %s breaks a guardrail within %d days", p.N, p.Candidate, oracleDays)
		}
		for _, c := range gridInRegion(spec.Params, p.Baseline, spec.Risk.MaxStep, oracleGrid) {
			if s, _, err := spec.Params.StepWithin(p.Baseline, c, spec.Risk.MaxStep); err != nil || s > spec.Risk.MaxStep {
				continue
			}
			tr, err := w.Truth(c, p.At, 1)
			if err == nil && Better(spec.Objective.Goal, tr.Objective, p.CandidateTruth.Objective) && keeps(c, p.At) {
				t.Errorf("pass %d: %s (%v) is truly better than the candidate %s (%v) and keeps every guardrail", p.N, c, tr.Objective, p.Candidate, p.CandidateTruth.Objective)
				break
			}
		}
	}
	if tried == 0 {
		t.Error("the oracle tried nothing in 4 passes")
	}
}

// TestGridInRegion checks the oracle's grid around incumbents in the middle
// and at the edges of the demo's space: the incumbent is in it, every
// point is valid and switches at most one categorical knob, each numeric
// knob moves both ways where it has room, and the grid is the product of
// the knobs' values, once with no switch and once per single switch.
func TestGridInRegion(t *testing.T) {
	space := demoSpec(t).Params
	const maxStep = 0.25
	for _, inc := range []models.Config{
		space.Current(),
		{"worker_threads": models.Num(4), "cache_ttl_s": models.Num(3600), "gc_mode": models.Str("low-latency")},
	} {
		grid := gridInRegion(space, inc, maxStep, 7)
		values := map[string]map[string]bool{}
		below, above := map[string]bool{}, map[string]bool{}
		found := false
		for _, c := range grid {
			if err := space.CheckConfig(c); err != nil {
				t.Fatalf("around %s: %s is invalid: %v", inc, c, err)
			}
			_, cats, err := space.Step(inc, c)
			if err != nil || cats > 1 {
				t.Fatalf("around %s: %s switches %d knobs (%v)", inc, c, cats, err)
			}
			found = found || c.String() == inc.String()
			for _, p := range space {
				if p.Type == models.Categorical {
					continue
				}
				if values[p.Name] == nil {
					values[p.Name] = map[string]bool{}
				}
				values[p.Name][c[p.Name].String()] = true
				below[p.Name] = below[p.Name] || c[p.Name].Float() < inc[p.Name].Float()
				above[p.Name] = above[p.Name] || c[p.Name].Float() > inc[p.Name].Float()
			}
		}
		if !found {
			t.Errorf("around %s: the incumbent is not in the grid", inc)
		}
		want, switches := 1, 0
		for _, p := range space {
			if p.Type == models.Categorical {
				switches += len(p.Choices) - 1
				continue
			}
			want *= len(values[p.Name])
			u, _ := p.ToUnit(inc[p.Name])
			if (u > 0.01 && !below[p.Name]) || (u < 0.99 && !above[p.Name]) {
				t.Errorf("around %s: %s never moves down (%v) or up (%v) where it has room", inc, p.Name, below[p.Name], above[p.Name])
			}
		}
		if want *= 1 + switches; len(grid) != want {
			t.Errorf("around %s: %d points, want %d", inc, len(grid), want)
		}
	}
}
