package report

import (
	"github.com/passflow/passflow/simulations/campaign"
)

// Row is one scenario × policy of the report: its campaigns' Summary
// fields aggregated over their seeds. summary.json holds the rows in the
// report's order.
type Row struct {
	Scenario string          `json:"scenario"`
	Policy   campaign.Policy `json:"policy"`
	// Seeds are the campaigns' seeds, ascending.
	Seeds []uint64 `json:"seeds"`
	// Passes aggregates Summary.Passes.
	Passes Stat `json:"passes"`
	// InitialGap aggregates Result.InitialGap, the gap at the start.
	InitialGap Stat `json:"initial_gap"`
	// FinalGap aggregates Summary.FinalGap (a fraction: 0.05 is 5%).
	FinalGap Stat `json:"final_gap"`
	// PassesToWithin5Pct aggregates Summary.PassesToWithin5Pct.
	PassesToWithin5Pct Reach `json:"passes_to_within_5pct"`
	// SLOViolatingPromotions, WorsePromotions, Repairs, FalseRollbacks and
	// ViolatingStages aggregate the Summary fields of the same names;
	// the report shows their sums.
	SLOViolatingPromotions Stat `json:"slo_violating_promotions"`
	WorsePromotions        Stat `json:"worse_promotions"`
	Repairs                Stat `json:"repairs"`
	FalseRollbacks         Stat `json:"false_rollbacks"`
	ViolatingStages        Stat `json:"violating_stages"`
	// Promotions, Rollbacks, Rejected, Failed, ApprovalsAsked and Skipped
	// aggregate the Summary fields of the same names.
	Promotions     Stat `json:"promotions"`
	Rollbacks      Stat `json:"rollbacks"`
	Rejected       Stat `json:"rejected"`
	Failed         Stat `json:"failed"`
	ApprovalsAsked Stat `json:"approvals_asked"`
	Skipped        Stat `json:"skipped"`
	// RollbacksAfter5 aggregates Summary.RollbacksAfter5 (a fraction).
	RollbacksAfter5 Stat `json:"rollbacks_after_5"`
	// WorstBreach aggregates Summary.WorstBreach.
	WorstBreach Stat `json:"worst_breach"`
	// IncumbentViolations aggregates Summary.IncumbentViolations: the
	// passes after which the configuration the service runs truly broke a
	// guardrail on the pass's day (drift, a regression, the weekly load),
	// what a user sees whatever the canaries did.
	IncumbentViolations Stat `json:"incumbent_violations"`
	// WallS aggregates Summary.WallS.
	WallS Stat `json:"wall_s"`
	// Exposure is each campaign's canary exposure, computed from its
	// stages: the sum over stages of the canary's traffic share (Percent/100)
	// times the stage's minutes. BreachExposure is the same sum over the
	// stages that truly broke a guardrail (Stage.Breach > 1).
	Exposure       Stat `json:"exposure_min"`
	BreachExposure Stat `json:"breach_exposure_min"`
}

// Aggregate returns the rows of the report Write would write for results:
// one per scenario × policy, scenarios by name, policies gp, random, hold
// and then any other by name. It fails on what Write fails on: no results,
// a scenario name that is not lowercase letters, digits and '-', an empty
// policy, two results for the same scenario, policy and seed, or results
// of one scenario that disagree on its goal or objective.
func Aggregate(results []campaign.Result) ([]Row, error) {
	scenarios, err := groupResults(results)
	if err != nil {
		return nil, err
	}
	var rows []Row
	for _, sc := range scenarios {
		for _, pg := range sc.policies {
			rows = append(rows, aggregate(sc.name, pg))
		}
	}
	return rows, nil
}

// aggregate computes one scenario × policy's row.
func aggregate(scenario string, pg *policyGroup) Row {
	field := func(get func(campaign.Summary) float64) Stat {
		vs := make([]float64, len(pg.results))
		for i, r := range pg.results {
			vs[i] = get(r.Summary)
		}
		return statOf(vs)
	}
	count := func(get func(campaign.Summary) int) Stat {
		return field(func(s campaign.Summary) float64 { return float64(get(s)) })
	}
	initialGap := make([]float64, len(pg.results))
	reach := make([]*int, len(pg.results))
	exposure := make([]float64, len(pg.results))
	breach := make([]float64, len(pg.results))
	for i, r := range pg.results {
		initialGap[i] = r.InitialGap
		reach[i] = r.Summary.PassesToWithin5Pct
		for _, p := range r.Passes {
			all, bad, _ := passExposure(p)
			exposure[i] += all
			breach[i] += bad
		}
	}
	return Row{
		Scenario:               scenario,
		Policy:                 pg.policy,
		Seeds:                  pg.seeds(),
		Passes:                 count(func(s campaign.Summary) int { return s.Passes }),
		InitialGap:             statOf(initialGap),
		FinalGap:               field(func(s campaign.Summary) float64 { return s.FinalGap }),
		PassesToWithin5Pct:     reachOf(reach),
		SLOViolatingPromotions: count(func(s campaign.Summary) int { return s.SLOViolatingPromotions }),
		WorsePromotions:        count(func(s campaign.Summary) int { return s.WorsePromotions }),
		Repairs:                count(func(s campaign.Summary) int { return s.Repairs }),
		FalseRollbacks:         count(func(s campaign.Summary) int { return s.FalseRollbacks }),
		ViolatingStages:        count(func(s campaign.Summary) int { return s.ViolatingStages }),
		Promotions:             count(func(s campaign.Summary) int { return s.Promotions }),
		Rollbacks:              count(func(s campaign.Summary) int { return s.Rollbacks }),
		Rejected:               count(func(s campaign.Summary) int { return s.Rejected }),
		Failed:                 count(func(s campaign.Summary) int { return s.Failed }),
		ApprovalsAsked:         count(func(s campaign.Summary) int { return s.ApprovalsAsked }),
		Skipped:                count(func(s campaign.Summary) int { return s.Skipped }),
		RollbacksAfter5:        field(func(s campaign.Summary) float64 { return s.RollbacksAfter5 }),
		WorstBreach:            field(func(s campaign.Summary) float64 { return s.WorstBreach }),
		IncumbentViolations:    count(func(s campaign.Summary) int { return s.IncumbentViolations }),
		WallS:                  field(func(s campaign.Summary) float64 { return s.WallS }),
		Exposure:               statOf(exposure),
		BreachExposure:         statOf(breach),
	}
}

// stageExposure returns a stage's exposure, its traffic share times its
// minutes, and whether it could be computed: a stage whose percent is not
// a finite number in [0, 100] or whose times are unset or reversed has
// none.
func stageExposure(s campaign.Stage) (float64, bool) {
	if !finite(s.Percent) || s.Percent < 0 || s.Percent > 100 ||
		s.From.IsZero() || s.To.IsZero() || s.To.Before(s.From) {
		return 0, false
	}
	return s.Percent / 100 * s.To.Sub(s.From).Minutes(), true
}

// breached reports whether a stage's candidate truly broke a guardrail.
// A NaN Breach is not a breach (it is noted where it is drawn).
func breached(s campaign.Stage) bool { return s.Breach > 1 }

// passExposure returns a pass's canary exposure, the part of it under a
// candidate that truly broke a guardrail, and how many stages had no
// computable exposure.
func passExposure(p campaign.Pass) (all, bad float64, invalid int) {
	for _, s := range p.Stages {
		e, ok := stageExposure(s)
		if !ok {
			invalid++
			continue
		}
		all += e
		if breached(s) {
			bad += e
		}
	}
	return all, bad, invalid
}
