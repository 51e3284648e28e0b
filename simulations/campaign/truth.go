package campaign

import (
	"math"

	"github.com/passflow/passflow/models"
	"github.com/passflow/passflow/simulations"
	"github.com/passflow/passflow/workflows"
)

// MaxBreach caps a breach ratio: a guardrail whose true value is at or past
// a limit of zero (or a min limit with a value of zero) breaks it by an
// unbounded ratio, which JSON cannot carry.
const MaxBreach = 1e6

// Near is the relative difference under which two true objective values
// count as equal: a promotion is worse, and a rolled-back candidate better,
// only by more than rounding.
const Near = 1e-9

// Breach returns the largest ratio of a guardrail's true value to its limit
// over limits: value/max for a max limit, min/value for a min limit; above
// 1 breaks the guardrail. A guardrail t does not hold a value for counts as
// broken (MaxBreach); no limits give 0.
func Breach(limits []models.Constraint, t simulations.Truth) float64 {
	worst := 0.0
	for _, c := range limits {
		v, ok := t.Guardrails[c.Metric]
		if !ok || math.IsNaN(v) {
			return MaxBreach
		}
		if c.Max != nil {
			worst = max(worst, overMax(v, *c.Max))
		}
		if c.Min != nil {
			worst = max(worst, underMin(v, *c.Min))
		}
	}
	return worst
}

// overMax returns v/limit for a positive limit (negative values count as
// 0); for a limit at or below 0, where a ratio means nothing: 0 under it, 1
// at it, MaxBreach past it.
func overMax(v, limit float64) float64 {
	switch {
	case limit > 0:
		return min(max(v, 0)/limit, MaxBreach)
	case v < limit:
		return 0
	case v == limit:
		return 1
	}
	return MaxBreach
}

// underMin returns limit/v for a positive limit (MaxBreach for v <= 0);
// for a limit at or below 0: 0 over it, 1 at it, MaxBreach under it.
func underMin(v, limit float64) float64 {
	switch {
	case limit > 0 && v <= 0:
		return MaxBreach
	case limit > 0:
		return min(limit/v, MaxBreach)
	case v > limit:
		return 0
	case v == limit:
		return 1
	}
	return MaxBreach
}

// Keeps reports whether t keeps every guardrail of limits.
func Keeps(limits []models.Constraint, t simulations.Truth) bool { return Breach(limits, t) <= 1 }

// Better reports whether objective value a is better than b under goal, by
// more than Near.
func Better(goal models.Goal, a, b float64) bool {
	d := a - b
	if goal == models.Maximize {
		d = -d
	}
	return d < -Near*math.Max(math.Abs(a), math.Abs(b))
}

// Gap returns the relative gap of objective value v to the optimum opt
// under goal: 0 at the optimum, positive when v is worse, negative when v
// is better (an optimum found by search, or a v that breaks a guardrail).
// It is relative to |opt|, or absolute when opt is 0.
func Gap(goal models.Goal, v, opt float64) float64 {
	d := v - opt
	if goal == models.Maximize {
		d = -d
	}
	if opt == 0 {
		return d
	}
	return d / math.Abs(opt)
}

// labels are a promoted or rolled-back pass's labels against the truth.
type labels struct{ sloViolating, worse, repair, falseRollback bool }

// label labels a pass that ended with outcome, whose candidate's true
// values are cand and whose baseline's (the incumbent a promotion replaces)
// are base:
//   - an SLO-violating promotion promoted a candidate that breaks a
//     guardrail;
//   - a repair promoted a candidate that keeps every guardrail in place of
//     a baseline that breaks one: whatever it costs in objective, it is not
//     a worse promotion (the baseline was no configuration to keep);
//   - a worse promotion promoted a candidate whose objective is worse than
//     the baseline's, and is no repair;
//   - a false rollback rolled back a candidate that keeps every guardrail
//     and whose objective is better than the baseline's.
func label(goal models.Goal, limits []models.Constraint, outcome workflows.Outcome, cand, base simulations.Truth) labels {
	var l labels
	switch outcome {
	case workflows.OutcomePromoted:
		l.sloViolating = !Keeps(limits, cand)
		l.repair = !l.sloViolating && !Keeps(limits, base)
		l.worse = Better(goal, base.Objective, cand.Objective) && !l.repair
	case workflows.OutcomeRolledBack:
		l.falseRollback = Keeps(limits, cand) && Better(goal, cand.Objective, base.Objective)
	}
	return l
}

// summarize computes a campaign's figures from its passes.
func summarize(r Result) Summary {
	s := Summary{Scenario: r.Scenario, Policy: r.Policy, Seed: r.Seed, Passes: len(r.Passes),
		FinalGap: r.InitialGap, WallS: r.Wall.Seconds()}
	if r.InitialGap <= Within && r.InitialBreach <= 1 {
		zero := 0
		s.PassesToWithin5Pct = &zero
	}
	after5, rolledAfter5 := 0, 0
	for _, p := range r.Passes {
		s.FinalGap = p.Gap
		if s.PassesToWithin5Pct == nil && p.Gap <= Within && p.IncumbentBreach <= 1 {
			n := p.N
			s.PassesToWithin5Pct = &n
		}
		if p.IncumbentBreach > 1 {
			s.IncumbentViolations++
		}
		switch workflows.Outcome(p.Outcome) {
		case workflows.OutcomePromoted:
			s.Promotions++
		case workflows.OutcomeRolledBack:
			s.Rollbacks++
		case workflows.OutcomeSkipped:
			s.Skipped++
		case workflows.OutcomeRejected:
			s.Rejected++
		case workflows.OutcomeFailed, workflows.OutcomeAbandoned, workflows.OutcomeCancelled:
			s.Failed++
		}
		if p.SLOViolatingPromotion {
			s.SLOViolatingPromotions++
		}
		if p.WorsePromotion {
			s.WorsePromotions++
		}
		if p.Repair {
			s.Repairs++
		}
		if p.FalseRollback {
			s.FalseRollbacks++
		}
		if p.ApprovalAsked {
			s.ApprovalsAsked++
		}
		for _, st := range p.Stages {
			if st.Breach > 1 {
				s.ViolatingStages++
			}
			s.WorstBreach = max(s.WorstBreach, st.Breach)
		}
		if p.N > warmUp {
			after5++
			if p.Outcome == string(workflows.OutcomeRolledBack) {
				rolledAfter5++
			}
		}
	}
	if after5 > 0 {
		s.RollbacksAfter5 = float64(rolledAfter5) / float64(after5)
	}
	return s
}

// Within is the gap a campaign counts as close to the optimum (5%).
const Within = 0.05

// warmUp is how many first passes the rollback share leaves out: the
// optimizer knows next to nothing during them.
const warmUp = 5
