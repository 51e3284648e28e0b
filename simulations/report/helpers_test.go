package report

import (
	"math"
	"time"

	"github.com/passflow/passflow/models"
	"github.com/passflow/passflow/simulations"
	"github.com/passflow/passflow/simulations/campaign"
)

// campaignSpec describes a synthetic campaign: a smooth approach from
// start to the optimum, canary stages of 5%, 25% and 50% for 30 minutes
// each, and whatever the test overrides afterwards.
type campaignSpec struct {
	scenario string
	policy   campaign.Policy
	seed     uint64
	passes   int
	goal     models.Goal
	limits   []models.Constraint
	optimum  float64
	start    float64
	// rate is how much of the gap each pass closes.
	rate float64
}

var day0 = time.Date(2025, 3, 3, 9, 0, 0, 0, time.UTC)

func ptr[T any](v T) *T { return &v }

// synth builds the campaign spec describes; every figure follows from it.
func synth(spec campaignSpec) campaign.Result {
	r := campaign.Result{
		Scenario:   spec.scenario,
		Policy:     spec.policy,
		Seed:       spec.seed,
		Goal:       spec.goal,
		Limits:     spec.limits,
		Objective:  "cost",
		Initial:    spec.start,
		InitialGap: relGap(spec.start, spec.optimum, spec.goal),
	}
	guardrails := func(v float64) map[string]float64 {
		g := map[string]float64{}
		for i, c := range spec.limits {
			switch {
			case c.Max != nil:
				g[c.Metric] = *c.Max * (0.7 + 0.02*float64(i) + 0.3*math.Abs(v-spec.optimum)/math.Max(1, math.Abs(spec.start-spec.optimum)))
			case c.Min != nil:
				g[c.Metric] = *c.Min * (1.01 - 0.005*math.Abs(v-spec.optimum)/math.Max(1, math.Abs(spec.start-spec.optimum)))
			}
		}
		return g
	}
	cur := spec.start
	var reach *int
	for i := range spec.passes {
		at := day0.Add(time.Duration(i) * 24 * time.Hour)
		prev := cur
		cur = spec.optimum + (cur-spec.optimum)*(1-spec.rate)
		p := campaign.Pass{
			N:              i + 1,
			ID:             "pass-" + string(rune('a'+i%26)),
			At:             at,
			Outcome:        "promoted",
			BaselineTruth:  &simulations.Truth{Objective: prev, Guardrails: guardrails(prev)},
			Candidate:      models.Config{"x": models.Num(cur)},
			CandidateTruth: &simulations.Truth{Objective: cur, Guardrails: guardrails(cur)},
			Incumbent:      models.Config{"x": models.Num(cur)},
			IncumbentTruth: simulations.Truth{Objective: cur, Guardrails: guardrails(cur)},
			Optimum:        spec.optimum,
			Gap:            relGap(cur, spec.optimum, spec.goal),
		}
		for j, pct := range []float64{5, 25, 50} {
			from := at.Add(time.Duration(j) * 30 * time.Minute)
			p.Stages = append(p.Stages, campaign.Stage{Percent: pct, From: from, To: from.Add(30 * time.Minute), Verdict: "pass", Breach: 0.8})
		}
		if reach == nil && p.Gap <= 0.05 {
			reach = ptr(i + 1)
		}
		r.Passes = append(r.Passes, p)
	}
	r.Summary = campaign.Summary{
		Scenario:           spec.scenario,
		Policy:             spec.policy,
		Seed:               spec.seed,
		Passes:             spec.passes,
		FinalGap:           relGap(cur, spec.optimum, spec.goal),
		PassesToWithin5Pct: reach,
		Promotions:         spec.passes,
		WorstBreach:        0.8,
		WallS:              1.5 + float64(spec.seed),
	}
	return r
}

func relGap(v, opt float64, goal models.Goal) float64 {
	if goal == models.Maximize {
		return (opt - v) / math.Abs(opt)
	}
	return (v - opt) / math.Abs(opt)
}

// rollBack turns pass i of r into a rollback of a candidate whose stage j
// truly breached a guardrail: the incumbent stays what it was.
func rollBack(r *campaign.Result, i, j int, breach float64) {
	p := &r.Passes[i]
	p.Outcome = "rolled_back"
	if i > 0 {
		prev := r.Passes[i-1]
		p.Incumbent, p.IncumbentTruth, p.Gap = prev.Incumbent, prev.IncumbentTruth, prev.Gap
	} else {
		p.IncumbentTruth = *p.BaselineTruth
	}
	p.Stages = p.Stages[:j+1]
	p.Stages[j].Breach = breach
	p.Stages[j].Verdict = "fail"
	r.Summary.Rollbacks++
	r.Summary.Promotions--
	r.Summary.ViolatingStages++
	r.Summary.WorstBreach = math.Max(r.Summary.WorstBreach, breach)
}

// noCandidate turns pass i of r into a pass that proposed nothing.
func noCandidate(r *campaign.Result, i int) {
	p := &r.Passes[i]
	p.Outcome = "skipped"
	p.Candidate, p.CandidateTruth, p.Stages = nil, nil, nil
	if i > 0 {
		prev := r.Passes[i-1]
		p.Incumbent, p.IncumbentTruth, p.Gap = prev.Incumbent, prev.IncumbentTruth, prev.Gap
	}
	r.Summary.Skipped++
	r.Summary.Promotions--
}

// goldenInput is the small synthetic campaign set of testdata/report.md:
// two scenarios, a minimize one with max limits and three policies (one
// campaign cut short, one with NaN values, a pass without candidate, a
// rollback with a breaching stage), and a maximize one with a min limit, a
// single seed and a policy of an unknown name.
func goldenInput() []campaign.Result {
	webLimits := []models.Constraint{
		{Metric: "latency_p95_ms", Max: ptr(200.0)},
		{Metric: "error_rate", Max: ptr(0.01)},
	}
	web := func(p campaign.Policy, seed uint64, rate float64) campaign.Result {
		return synth(campaignSpec{scenario: "web-api", policy: p, seed: seed, passes: 8, goal: models.Minimize,
			limits: webLimits, optimum: 100, start: 140 + 5*float64(seed), rate: rate})
	}
	var out []campaign.Result
	for seed := uint64(1); seed <= 3; seed++ {
		gp := web(campaign.PolicyGP, seed, 0.35+0.05*float64(seed))
		switch seed {
		case 1:
			rollBack(&gp, 2, 1, 1.25)
		case 2:
			gp.Summary.FinalGap = math.NaN()
			gp.Passes[4].IncumbentTruth.Objective = math.Inf(1)
		}
		out = append(out, gp)
		rnd := web(campaign.PolicyRandom, seed, 0.1)
		if seed == 3 {
			rnd.Passes = rnd.Passes[:5]
			rnd.Summary.Passes = 5
		}
		noCandidate(&rnd, 1)
		out = append(out, rnd)
	}
	hold := web(campaign.PolicyHold, 1, 0)
	for i := range hold.Passes {
		noCandidate(&hold, i)
	}
	out = append(out, hold)

	batchLimits := []models.Constraint{{Metric: "availability", Min: ptr(0.99)}}
	for _, p := range []campaign.Policy{"bo-ucb", campaign.PolicyGP} {
		out = append(out, synth(campaignSpec{scenario: "batch-2", policy: p, seed: 7, passes: 4, goal: models.Maximize,
			limits: batchLimits, optimum: 50, start: 30, rate: 0.6}))
	}
	return out
}
