package campaign

import (
	"strings"
	"testing"
	"time"

	"github.com/passflow/passflow/workflows"
)

// fakeResult is a 30-pass campaign whose gap falls linearly from 0.5 to
// final by pass 15, every pass promoted.
func fakeResult(scenario string, p Policy, seed uint64, final float64) Result {
	r := Result{Scenario: scenario, Policy: p, Seed: seed, InitialGap: 0.5, Wall: 3 * time.Second}
	for n := 1; n <= 30; n++ {
		gap := final
		if n < 15 {
			gap = 0.5 + (final-0.5)*float64(n)/15
		}
		r.Passes = append(r.Passes, Pass{N: n, Outcome: string(workflows.OutcomePromoted), Gap: gap,
			Stages: []Stage{{Percent: 100, Breach: 0.8}}})
	}
	r.Summary = summarize(r)
	return r
}

func goalByName(t *testing.T, goals []Goal, prefix string) Goal {
	t.Helper()
	for _, g := range goals {
		if strings.HasPrefix(g.Goal, prefix) {
			return g
		}
	}
	t.Fatalf("no goal %q in %+v", prefix, goals)
	return Goal{}
}

func library(change func(r *Result)) []Result {
	var out []Result
	for _, s := range []string{"s1", "s2", "s3", "s4", "s5", "s6"} {
		for seed := uint64(1); seed <= 5; seed++ {
			for _, p := range Policies() {
				final := map[Policy]float64{PolicyGP: 0.03, PolicyRandom: 0.2, PolicyHold: 0.5}[p]
				r := fakeResult(s, p, seed, final)
				if change != nil {
					change(&r)
					r.Summary = summarize(r)
				}
				out = append(out, r)
			}
		}
	}
	return out
}

func TestGoalsAllMet(t *testing.T) {
	goals := Goals(library(nil), 2*time.Minute)
	for _, g := range goals {
		if !g.Met {
			t.Errorf("goal %q (%s) measured %s: not met", g.Goal, g.Target, g.Measured)
		}
	}
	if !Met(goals) || len(goals) != 10 {
		t.Errorf("%d goals, met %v", len(goals), Met(goals))
	}
	var b strings.Builder
	PrintGoals(&b, goals)
	if !strings.Contains(b.String(), "median gap after pass 15 (GP)") {
		t.Errorf("goals table:\n%s", b.String())
	}
}

func TestGoalsMissed(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(r *Result)
		total  time.Duration
		goal   string
	}{
		{"gap on two scenarios", func(r *Result) {
			if r.Policy == PolicyGP && (r.Scenario == "s1" || r.Scenario == "s2") {
				*r = fakeResult(r.Scenario, r.Policy, r.Seed, 0.08)
			}
		}, time.Minute, "median gap after pass 15"},
		{"an SLO-violating promotion", func(r *Result) {
			if r.Policy == PolicyGP && r.Seed == 3 && r.Scenario == "s4" {
				r.Passes[9].SLOViolatingPromotion = true
			}
		}, time.Minute, "SLO-violating promotions"},
		{"rollbacks", func(r *Result) {
			if r.Policy == PolicyGP {
				for i := 5; i < 11; i++ { // 6 of 25 passes after the fifth: 24%
					r.Passes[i].Outcome = string(workflows.OutcomeRolledBack)
				}
			}
		}, time.Minute, "rollbacks after pass 5"},
		{"false rollbacks", func(r *Result) {
			if r.Policy == PolicyGP {
				for i := 5; i < 7; i++ { // 2 of 25: 8%
					r.Passes[i].Outcome, r.Passes[i].FalseRollback = string(workflows.OutcomeRolledBack), true
				}
			}
		}, time.Minute, "false rollbacks after pass 5"},
		{"a worse promotion", func(r *Result) {
			if r.Policy == PolicyGP && r.Seed == 1 && r.Scenario == "s1" {
				r.Passes[0].WorsePromotion = true
			}
		}, time.Minute, "worse promotions"},
		{"two breaking stages a campaign", func(r *Result) {
			if r.Policy == PolicyGP {
				r.Passes[1].Stages = []Stage{{Breach: 1.1}, {Breach: 1.2}}
			}
		}, time.Minute, "SLO-breaking canary stages"},
		{"a stage 2.5× over", func(r *Result) {
			if r.Policy == PolicyGP && r.Seed == 2 && r.Scenario == "s2" {
				r.Passes[1].Stages = []Stage{{Breach: 2.5}}
			}
		}, time.Minute, "worst true breach"},
		{"random ahead on one scenario", func(r *Result) {
			if r.Policy == PolicyRandom && r.Scenario == "s5" {
				*r = fakeResult(r.Scenario, r.Policy, r.Seed, 0.01)
			}
		}, time.Minute, "GP's median gap"},
		{"a slow campaign", func(r *Result) {
			if r.Seed == 4 && r.Scenario == "s6" && r.Policy == PolicyHold {
				r.Wall = 11 * time.Second
			}
		}, time.Minute, "wall time of the slowest"},
		{"a slow library", nil, 6 * time.Minute, "wall time of the whole run"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			goals := Goals(library(tc.change), tc.total)
			for _, g := range goals {
				missed := strings.HasPrefix(g.Goal, tc.goal)
				if g.Met == missed {
					t.Errorf("goal %q measured %s: met %v, want %v", g.Goal, g.Measured, g.Met, !missed)
				}
			}
			if Met(goals) {
				t.Error("Met: true")
			}
		})
	}
}

func TestGoalsNeedTheirPolicies(t *testing.T) {
	var gpOnly []Result
	for _, r := range library(nil) {
		if r.Policy == PolicyGP {
			gpOnly = append(gpOnly, r)
		}
	}
	g := goalByName(t, Goals(gpOnly, time.Minute), "GP's median gap")
	if g.Met || !strings.Contains(g.Measured, "needs --policy all") {
		t.Errorf("GP ahead without the baselines: %+v, want not measured", g)
	}
	g = goalByName(t, Goals(nil, 0), "SLO-violating promotions")
	if g.Met || g.Measured != "no GP campaign" {
		t.Errorf("no results: %+v, want not met", g)
	}
	// Five of six scenarios are enough.
	one := library(func(r *Result) {
		if r.Policy == PolicyGP && r.Scenario == "s6" {
			*r = fakeResult(r.Scenario, r.Policy, r.Seed, 0.09)
		}
	})
	if g := goalByName(t, Goals(one, time.Minute), "median gap after pass 15"); !g.Met || !strings.HasPrefix(g.Measured, "5 of 6") {
		t.Errorf("5 of 6 scenarios within 5%%: %+v, want met", g)
	}
}
