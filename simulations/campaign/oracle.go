package campaign

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/passflow/passflow/activities"
	"github.com/passflow/passflow/contract"
	"github.com/passflow/passflow/models"
)

// The oracle policy's search: a grid of oracleGrid values of each numeric
// knob across its reach (gridInRegion), and a configuration must keep
// every guardrail for oracleDays days from the pass's: the day it is
// tried and the weeks it may then run, their weekly peaks and the drift
// included. Shorter horizons (1 to 14 days) promote configurations that
// break days later; a longer one (30) gives up more of the objective
// (BENCHMARKS.md, the eighth session's rows).
const (
	oracleGrid = 7
	oracleDays = 21
)

// proposeOracle is the oracle policy's Propose: the configuration inside
// the trust region (at most max_step, as AssessRisk measures it) with the
// best true objective on the pass's day that, by the world's truth, keeps
// every guardrail on that day and the oracleDays−1 after it, and gains at
// least what the deciding stage can show (models.Resolution.MinGain, as
// the GP policy is told) over the running configuration. In a repair (Analyze
// saw the running configuration break a guardrail) it asks no gain: the
// best configuration that keeps every guardrail. With none, the pass
// proposes nothing, as the GP policy's does.
//
// It is a reference, not a rival: it knows what the optimizer must learn,
// so its campaigns measure what the loop's other rules (the trust region,
// what a canary can show, the bake, the approvals) leave attainable.
func (c *campaign) proposeOracle(_ context.Context, in contract.ProposeInput) (contract.ProposeResult, error) {
	spec := in.Target
	if err := spec.Params.CheckConfig(in.Incumbent); err != nil {
		return contract.ProposeResult{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("propose for %s: the running configuration does not fit the target's params: %v", spec.Name, err),
			contract.ErrTypeInvalidTarget, err)
	}
	at := c.env.Now()
	res := activities.Resolution(spec, in.IncumbentSLIs)
	sign := 1.0
	if spec.Objective.Goal == models.Maximize {
		sign = -1
	}
	inc, err := c.truth(in.Incumbent, at)
	if err != nil {
		return contract.ProposeResult{}, err
	}
	repair := len(in.Breaking) > 0
	type scored struct {
		cfg        models.Config
		cost       float64 // the sign-adjusted true objective: smaller is better
		step       float64
		categories int
	}
	var cands []scored
	for _, cfg := range gridInRegion(spec.Params, in.Incumbent, spec.Risk.MaxStep, oracleGrid) {
		if cfg.String() == in.Incumbent.String() {
			continue
		}
		step, cats, err := spec.Params.StepWithin(in.Incumbent, cfg, spec.Risk.MaxStep)
		if err != nil || step > spec.Risk.MaxStep {
			continue
		}
		t, err := c.truth(cfg, at)
		if err != nil {
			return contract.ProposeResult{}, err
		}
		if !repair && Gap(spec.Objective.Goal, t.Objective, inc.Objective) > -res.MinGain {
			continue
		}
		cands = append(cands, scored{cfg, sign * t.Objective, step, cats})
	}
	slices.SortStableFunc(cands, func(a, b scored) int { return cmp.Compare(a.cost, b.cost) })
	for _, s := range cands {
		ok, err := c.keepsLimits(s.cfg, at, spec.Constraints)
		if err != nil {
			return contract.ProposeResult{}, err
		}
		if !ok {
			continue
		}
		return contract.ProposeResult{
			Suggestion: models.Suggestion{Config: s.cfg, Why: fmt.Sprintf(
				"oracle policy: the best true objective within max_step %.3g that truly keeps every guardrail for %d days", spec.Risk.MaxStep, oracleDays)},
			Optimizer: string(PolicyOracle), Step: s.step, CategoricalChanges: s.categories, Resolution: &res,
		}, nil
	}
	why := fmt.Sprintf("oracle policy: no configuration within max_step %.3g truly gains %.2f%% (what a canary can show) and keeps every guardrail for %d days",
		spec.Risk.MaxStep, 100*res.MinGain, oracleDays)
	if repair {
		why = fmt.Sprintf("oracle policy: no configuration within max_step %.3g truly keeps every guardrail for %d days", spec.Risk.MaxStep, oracleDays)
	}
	return contract.ProposeResult{Optimizer: string(PolicyOracle), NoSafe: true, Reason: why, Resolution: &res}, nil
}

// keepsLimits reports whether cfg truly keeps every guardrail of limits
// (Breach at most 1) on the day of at and the oracleDays−1 after it.
func (c *campaign) keepsLimits(cfg models.Config, at time.Time, limits []models.Constraint) (bool, error) {
	for d := range oracleDays {
		t, err := c.truth(cfg, at.Add(time.Duration(d)*24*time.Hour))
		if err != nil {
			return false, err
		}
		if Breach(limits, t) > 1 {
			return false, nil
		}
	}
	return true, nil
}

// gridInRegion returns a grid over the trust region of radius maxStep
// around incumbent (models.Param.Reach): k values of each numeric knob,
// evenly across its reach either way and through its current value
// (integers rounded, repeats dropped), combined with the incumbent's
// categorical choices and with every single switch of one of them, as a
// pass may make at most one. The incumbent is among them.
func gridInRegion(space models.Space, incumbent models.Config, maxStep float64, k int) []models.Config {
	k = max(k, 2)
	axes := make([][]models.Value, len(space))
	for i, p := range space {
		if p.Type == models.Categorical {
			axes[i] = []models.Value{incumbent[p.Name]}
			continue
		}
		u0, err := p.ToUnit(incumbent[p.Name])
		if err != nil {
			axes[i] = []models.Value{incumbent[p.Name]}
			continue
		}
		down, up := p.Reach(u0, maxStep)
		axes[i] = []models.Value{incumbent[p.Name]}
		seen := map[string]bool{incumbent[p.Name].String(): true}
		h := max(k/2, 1)
		for j := 1; j <= h; j++ {
			for _, u := range []float64{u0 - down*float64(j)/float64(h), u0 + up*float64(j)/float64(h)} {
				v := p.FromUnit(math.Min(math.Max(u, 0), 1))
				if s := v.String(); !seen[s] {
					seen[s] = true
					axes[i] = append(axes[i], v)
				}
			}
		}
	}
	var grid []models.Config
	cfg := incumbent.Clone()
	var walk func(i int)
	walk = func(i int) {
		if i == len(space) {
			grid = append(grid, cfg.Clone())
			for _, p := range space {
				if p.Type != models.Categorical {
					continue
				}
				for _, ch := range p.Choices {
					if ch != incumbent[p.Name].String() {
						sw := cfg.Clone()
						sw[p.Name] = models.Str(ch)
						grid = append(grid, sw)
					}
				}
			}
			return
		}
		for _, v := range axes[i] {
			cfg[space[i].Name] = v
			walk(i + 1)
		}
	}
	walk(0)
	return grid
}
