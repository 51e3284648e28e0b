package campaign

import (
	"math"
	"slices"
	"testing"
	"time"

	"github.com/passflow/passflow/models"
	"github.com/passflow/passflow/simulations"
	"github.com/passflow/passflow/workflows"
)

func ptr[T any](v T) *T { return &v }

func truth(obj float64, guardrails map[string]float64) simulations.Truth {
	return simulations.Truth{Objective: obj, Guardrails: guardrails}
}

// The limits of the hand-made cases: latency ≤ 200, error rate ≤ 0.01,
// throughput ≥ 500.
var testLimits = []models.Constraint{
	{Metric: "latency", Max: ptr(200.0)},
	{Metric: "errors", Max: ptr(0.01)},
	{Metric: "rps", Min: ptr(500.0)},
}

func TestBreach(t *testing.T) {
	for _, tc := range []struct {
		name   string
		limits []models.Constraint
		g      map[string]float64
		want   float64 // worked out by hand
	}{
		{"all under", testLimits, map[string]float64{"latency": 100, "errors": 0.002, "rps": 1000}, 0.5},
		{"at a max", testLimits, map[string]float64{"latency": 200, "errors": 0.002, "rps": 1000}, 1},
		{"past a max", testLimits, map[string]float64{"latency": 300, "errors": 0.002, "rps": 1000}, 1.5},
		{"errors twice the limit", testLimits, map[string]float64{"latency": 100, "errors": 0.02, "rps": 1000}, 2},
		{"under a min", testLimits, map[string]float64{"latency": 100, "errors": 0.002, "rps": 250}, 2},
		{"min at zero value", testLimits, map[string]float64{"latency": 100, "errors": 0.002, "rps": 0}, MaxBreach},
		{"a guardrail not known", testLimits, map[string]float64{"latency": 100, "errors": 0.002}, MaxBreach},
		{"no limits", nil, map[string]float64{"latency": 1e9}, 0},
		{"max limit zero, kept", []models.Constraint{{Metric: "x", Max: ptr(0.0)}}, map[string]float64{"x": -1}, 0},
		{"max limit zero, at it", []models.Constraint{{Metric: "x", Max: ptr(0.0)}}, map[string]float64{"x": 0}, 1},
		{"max limit zero, broken", []models.Constraint{{Metric: "x", Max: ptr(0.0)}}, map[string]float64{"x": 0.1}, MaxBreach},
		{"both bounds", []models.Constraint{{Metric: "x", Min: ptr(10.0), Max: ptr(20.0)}}, map[string]float64{"x": 5}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Breach(tc.limits, truth(0, tc.g))
			if math.Abs(got-tc.want) > 1e-12 {
				t.Errorf("Breach = %v, want %v", got, tc.want)
			}
			if Keeps(tc.limits, truth(0, tc.g)) != (tc.want <= 1) {
				t.Errorf("Keeps = %v, want %v", !(tc.want <= 1), tc.want <= 1)
			}
		})
	}
}

func TestGapAndBetter(t *testing.T) {
	for _, tc := range []struct {
		goal        models.Goal
		v, opt, gap float64
	}{
		{models.Minimize, 1.10, 1.00, 0.10},
		{models.Minimize, 1.00, 1.00, 0},
		{models.Minimize, 0.90, 1.00, -0.10}, // better than the optimum found: breaks a guardrail
		{models.Maximize, 900, 1000, 0.10},
		{models.Maximize, 1100, 1000, -0.10},
		{models.Minimize, 0.5, 0, 0.5}, // absolute at a zero optimum
		{models.Minimize, 1.1, -1.0, 2.1},
	} {
		if got := Gap(tc.goal, tc.v, tc.opt); math.Abs(got-tc.gap) > 1e-12 {
			t.Errorf("Gap(%s, %v, %v) = %v, want %v", tc.goal, tc.v, tc.opt, got, tc.gap)
		}
	}
	for _, tc := range []struct {
		goal models.Goal
		a, b float64
		want bool
	}{
		{models.Minimize, 1, 2, true},
		{models.Minimize, 2, 1, false},
		{models.Minimize, 1, 1, false},
		{models.Minimize, 1, 1 + 1e-12, false}, // rounding, not better
		{models.Maximize, 2, 1, true},
		{models.Maximize, 1, 2, false},
		{"", 1, 2, true}, // the optimizer's default goal is minimize
	} {
		if got := Better(tc.goal, tc.a, tc.b); got != tc.want {
			t.Errorf("Better(%s, %v, %v) = %v, want %v", tc.goal, tc.a, tc.b, got, tc.want)
		}
	}
}

// TestLabels checks the labels on hand-made passes against the rule each
// label states, spelled out case by case.
func TestLabels(t *testing.T) {
	good := map[string]float64{"latency": 150, "errors": 0.001, "rps": 800}
	slow := map[string]float64{"latency": 260, "errors": 0.001, "rps": 800}
	base := truth(1.0, good)
	for _, tc := range []struct {
		name    string
		outcome workflows.Outcome
		cand    simulations.Truth
		want    labels
	}{
		{"promoted, better and safe", workflows.OutcomePromoted, truth(0.9, good), labels{}},
		{"promoted, breaks the latency SLO", workflows.OutcomePromoted, truth(0.8, slow), labels{sloViolating: true}},
		{"promoted, worse", workflows.OutcomePromoted, truth(1.1, good), labels{worse: true}},
		{"promoted, worse and breaking", workflows.OutcomePromoted, truth(1.1, slow), labels{sloViolating: true, worse: true}},
		{"promoted, equal", workflows.OutcomePromoted, truth(1.0, good), labels{}},
		{"rolled back, better and safe", workflows.OutcomeRolledBack, truth(0.9, good), labels{falseRollback: true}},
		{"rolled back, better but breaking", workflows.OutcomeRolledBack, truth(0.9, slow), labels{}},
		{"rolled back, safe but worse", workflows.OutcomeRolledBack, truth(1.2, good), labels{}},
		{"rolled back, equal", workflows.OutcomeRolledBack, truth(1.0, good), labels{}},
		{"rejected, better and safe", workflows.OutcomeRejected, truth(0.9, good), labels{}},
		{"skipped", workflows.OutcomeSkipped, truth(0.5, slow), labels{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := label(models.Minimize, testLimits, tc.outcome, tc.cand, base); got != tc.want {
				t.Errorf("labels %+v, want %+v", got, tc.want)
			}
		})
	}
	// A repair: a costlier candidate that keeps every guardrail in place of
	// a baseline that broke one is a repair, not a worse promotion; one
	// that breaks a guardrail too is neither.
	broken := truth(0.9, slow)
	if got := label(models.Minimize, testLimits, workflows.OutcomePromoted, truth(1.1, good), broken); got != (labels{repair: true}) {
		t.Errorf("repair: %+v, want a repair", got)
	}
	if got := label(models.Minimize, testLimits, workflows.OutcomePromoted, truth(1.1, slow), broken); got != (labels{sloViolating: true, worse: true}) {
		t.Errorf("a breaking candidate for a broken baseline: %+v, want SLO-violating and worse", got)
	}
	// Maximize: a promoted candidate with a lower objective is worse.
	if got := label(models.Maximize, testLimits, workflows.OutcomePromoted, truth(0.9, good), base); got != (labels{worse: true}) {
		t.Errorf("maximize, promoted lower: %+v, want worse", got)
	}
}

func TestSummarize(t *testing.T) {
	pass := func(n int, outcome workflows.Outcome, gap float64, breaches ...float64) Pass {
		p := Pass{N: n, Outcome: string(outcome), Gap: gap}
		for _, b := range breaches {
			p.Stages = append(p.Stages, Stage{Breach: b})
		}
		return p
	}
	r := Result{Scenario: "s", Policy: PolicyGP, Seed: 3, InitialGap: 0.4, Passes: []Pass{
		pass(1, workflows.OutcomePromoted, 0.3, 0.5, 0.6, 0.7),
		pass(2, workflows.OutcomeRolledBack, 0.3, 1.4),
		pass(3, workflows.OutcomeSkipped, 0.3),
		pass(4, workflows.OutcomeRejected, 0.3),
		pass(5, workflows.OutcomePromoted, 0.04, 0.9, 0.9, 0.9),
		pass(6, workflows.OutcomeRolledBack, 0.04, 1.1),
		pass(7, workflows.OutcomeFailed, 0.04),
		pass(8, workflows.OutcomePromoted, 0.06, 0.9, 0.9, 0.9),
	}}
	r.Passes[1].FalseRollback = false
	r.Passes[5].FalseRollback = true
	r.Passes[7].WorsePromotion = true
	r.Passes[4].ApprovalAsked = true
	s := summarize(r)
	want := Summary{Scenario: "s", Policy: PolicyGP, Seed: 3, Passes: 8, FinalGap: 0.06, PassesToWithin5Pct: ptr(5),
		WorsePromotions: 1, Rollbacks: 2, FalseRollbacks: 1, Promotions: 3, Skipped: 1, Rejected: 1, Failed: 1,
		ApprovalsAsked: 1, ViolatingStages: 2, WorstBreach: 1.4, RollbacksAfter5: 1.0 / 3}
	if s.PassesToWithin5Pct == nil || *s.PassesToWithin5Pct != 5 {
		t.Fatalf("passes to within 5%%: %v, want 5", s.PassesToWithin5Pct)
	}
	s.PassesToWithin5Pct, want.PassesToWithin5Pct = nil, nil
	if s != want {
		t.Errorf("summary\n got %+v\nwant %+v", s, want)
	}

	// Never within 5%: nil; within 5% from the start: 0.
	if s := summarize(Result{InitialGap: 0.2, Passes: []Pass{pass(1, workflows.OutcomeSkipped, 0.2)}}); s.PassesToWithin5Pct != nil {
		t.Errorf("never within 5%%: %v, want nil", *s.PassesToWithin5Pct)
	}
	if s := summarize(Result{InitialGap: 0.01}); s.PassesToWithin5Pct == nil || *s.PassesToWithin5Pct != 0 || s.FinalGap != 0.01 {
		t.Errorf("within 5%% from the start: %+v, want 0 passes and the initial gap", s)
	}
	// An incumbent that breaks a guardrail is not within 5%, whatever its gap.
	broken := pass(1, workflows.OutcomeSkipped, -0.02)
	broken.IncumbentBreach = 1.2
	kept := pass(2, workflows.OutcomeSkipped, 0.03)
	kept.IncumbentBreach = 0.9
	s = summarize(Result{InitialGap: 0.01, InitialBreach: 1.1, Passes: []Pass{broken, kept}})
	if s.PassesToWithin5Pct == nil || *s.PassesToWithin5Pct != 2 || s.IncumbentViolations != 1 {
		t.Errorf("breaking incumbents: within 5%% after %v passes, %d violations; want 2 and 1", s.PassesToWithin5Pct, s.IncumbentViolations)
	}
	if g := GapAt(Result{Passes: []Pass{broken, kept}}, 1); !math.IsInf(g, 1) {
		t.Errorf("GapAt a breaking incumbent = %v, want +Inf", g)
	}
	if g := GapAt(Result{Passes: []Pass{broken, kept}}, 5); g != 0.03 {
		t.Errorf("GapAt past the last pass = %v, want the last pass's 0.03", g)
	}
}

func TestBreachInstants(t *testing.T) {
	at := func(hm string) time.Time {
		tm, err := time.Parse("2006-01-02 15:04", hm)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	for _, tc := range []struct {
		from, to string
		stage    []string // breachInstants
		days     []string // dayInstants
	}{
		{"2026-06-01 13:00", "2026-06-01 13:30", []string{"13:00", "13:10", "13:20", "13:30"}, []string{"13:00"}},
		{"2026-06-01 13:00", "2026-06-01 13:25", []string{"13:00", "13:10", "13:20", "13:25"}, []string{"13:00"}},
		{"2026-06-01 13:00", "2026-06-01 13:00", []string{"13:00"}, []string{"13:00"}},
		{"2026-06-01 23:50", "2026-06-02 00:05", []string{"23:50", "00:00", "00:05"}, []string{"23:50", "00:05"}},
	} {
		from, to := at(tc.from), at(tc.to)
		hm := func(ts []time.Time) []string {
			var out []string
			for _, x := range ts {
				out = append(out, x.Format("15:04"))
			}
			return out
		}
		if got := hm(breachInstants(from, to)); !slices.Equal(got, tc.stage) {
			t.Errorf("breachInstants(%s, %s) = %v, want %v", tc.from, tc.to, got, tc.stage)
		}
		if got := hm(dayInstants(from, to)); !slices.Equal(got, tc.days) {
			t.Errorf("dayInstants(%s, %s) = %v, want %v", tc.from, tc.to, got, tc.days)
		}
	}
	// A stage over three days touches each.
	got := dayInstants(at("2026-06-01 23:00"), at("2026-06-03 01:00"))
	if len(got) != 3 || got[1].Day() != 2 || got[2].Day() != 3 {
		t.Errorf("dayInstants over three days = %v", got)
	}
}
