package campaign

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/passflow/passflow/models"
	"github.com/passflow/passflow/simulations"
	"github.com/passflow/passflow/target"
	"github.com/passflow/passflow/workflows"
)

// demoSpec is the demo target with 30-minute stages (DemoWorld's).
func demoSpec(t *testing.T) target.Spec {
	t.Helper()
	w, err := DemoWorld()
	if err != nil {
		t.Fatal(err)
	}
	return w.Target()
}

// world is the demo target, changed by change, as a ModelWorld.
func world(t *testing.T, change func(*target.Spec), opts ...simulations.ModelWorldOption) simulations.World {
	t.Helper()
	spec := demoSpec(t)
	if change != nil {
		change(&spec)
	}
	if p := target.Validate(&spec); len(p) > 0 {
		t.Fatalf("test spec: %v", p)
	}
	return simulations.ModelWorld(spec, opts...)
}

func run(t *testing.T, w simulations.World, opts Options) Result {
	t.Helper()
	res, err := Run(context.Background(), w, opts)
	if err != nil {
		t.Fatal(err)
	}
	checkConsistent(t, w, res)
	return res
}

// checkConsistent checks a campaign's records against each other, the
// spec, and the world's truth, recomputing every figure independently.
func checkConsistent(t *testing.T, w simulations.World, res Result) {
	t.Helper()
	spec := w.Target()
	start, every := w.Start(), w.PassEvery()
	truthOf := func(cfg models.Config, at time.Time) simulations.Truth {
		tr, err := w.Truth(cfg, at, res.Seed)
		if err != nil {
			t.Fatal(err)
		}
		return tr
	}
	// breaks reports whether a truth breaks a max limit of the spec (the
	// demo's guardrails are max limits), and by how much at worst.
	worst := func(tr simulations.Truth) float64 {
		r := 0.0
		for _, c := range spec.Constraints {
			if c.Max == nil || c.Min != nil {
				t.Fatalf("the oracle knows max limits only, got %+v", c)
			}
			r = math.Max(r, tr.Guardrails[c.Metric] / *c.Max)
		}
		return r
	}
	_, opt, err := w.Optimum(start, res.Seed)
	if err != nil {
		t.Fatal(err)
	}
	if spec.Objective.Goal != models.Minimize {
		t.Fatal("the oracle knows minimize only")
	}
	gap := func(v float64) float64 { return (v - opt.Objective) / opt.Objective }

	if res.Summary.Passes != len(res.Passes) {
		t.Errorf("summary counts %d passes, the record %d", res.Summary.Passes, len(res.Passes))
	}
	incumbent := spec.Params.Current()
	if math.Abs(res.InitialGap-gap(truthOf(incumbent, start).Objective)) > 1e-12 {
		t.Errorf("initial gap %v, want %v", res.InitialGap, gap(truthOf(incumbent, start).Objective))
	}
	prevEnd := start
	asked := 0
	for i, p := range res.Passes {
		if p.N != i+1 || p.ID != workflows.PassID(spec.Name, i+1) {
			t.Errorf("pass %d is numbered %d, ID %q", i+1, p.N, p.ID)
		}
		if p.At.Before(prevEnd) || p.Ended.Before(p.At) || p.At.Sub(start)%every != 0 {
			t.Errorf("pass %d from %s to %s: want it on a schedule tick after the previous pass ended (%s)", p.N, p.At, p.Ended, prevEnd)
		}
		prevEnd = p.Ended
		if !p.Baseline.Equal(incumbent) {
			t.Errorf("pass %d started from %s, want the previous incumbent %s", p.N, p.Baseline, incumbent)
		}
		switch workflows.Outcome(p.Outcome) {
		case workflows.OutcomePromoted:
			if !p.Incumbent.Equal(p.Candidate) {
				t.Errorf("pass %d promoted %s but the service runs %s", p.N, p.Candidate, p.Incumbent)
			}
		default:
			if !p.Incumbent.Equal(p.Baseline) {
				t.Errorf("pass %d (%s) changed the incumbent from %s to %s", p.N, p.Outcome, p.Baseline, p.Incumbent)
			}
		}
		incumbent = p.Incumbent

		inc := truthOf(p.Incumbent, p.At)
		if math.Abs(p.IncumbentBreach-worst(inc)) > 1e-12 {
			t.Errorf("pass %d: incumbent breach %v, want %v", p.N, p.IncumbentBreach, worst(inc))
		}
		if p.IncumbentTruth.Objective != inc.Objective || math.Abs(p.Gap-gap(inc.Objective)) > 1e-12 || p.Optimum != opt.Objective {
			t.Errorf("pass %d: incumbent truth %v gap %v optimum %v, want %v, %v, %v", p.N, p.IncumbentTruth.Objective, p.Gap,
				p.Optimum, inc.Objective, gap(inc.Objective), opt.Objective)
		}
		// Stages: a prefix of the spec's, in order, inside the pass.
		if len(p.Stages) > len(spec.Canary.Stages) {
			t.Errorf("pass %d ran %d stages", p.N, len(p.Stages))
		}
		for j, s := range p.Stages {
			if s.Percent != spec.Canary.Stages[j] || s.From.Before(p.At) || !s.To.After(s.From) || s.To.After(p.Ended) ||
				(j > 0 && s.From.Before(p.Stages[j-1].To)) {
				t.Errorf("pass %d stage %d: %g%% from %s to %s, pass from %s to %s", p.N, j+1, s.Percent, s.From, s.To, p.At, p.Ended)
			}
			if want := worst(truthOf(p.Candidate, s.From)); math.Abs(s.Breach-want) > 1e-12 {
				t.Errorf("pass %d stage %d: breach %v, want %v", p.N, j+1, s.Breach, want)
			}
		}
		// Labels, from the truth.
		var slo, worse, falseRb bool
		if p.Candidate != nil {
			cand, base := truthOf(p.Candidate, p.At), truthOf(p.Baseline, p.At)
			if p.CandidateTruth == nil || p.CandidateTruth.Objective != cand.Objective {
				t.Errorf("pass %d: candidate truth %v, want %v", p.N, p.CandidateTruth, cand)
			}
			if p.Why == "" {
				t.Errorf("pass %d: no why for candidate %s", p.N, p.Candidate)
			}
			if want := cand.Objective/base.Objective - 1; p.TrueChange == nil || math.Abs(*p.TrueChange-want) > 1e-12 {
				t.Errorf("pass %d: true change %v, want %v", p.N, p.TrueChange, want)
			}
			safe := worst(cand) <= 1
			switch workflows.Outcome(p.Outcome) {
			case workflows.OutcomePromoted:
				slo, worse = !safe, cand.Objective > base.Objective*(1+1e-9)
			case workflows.OutcomeRolledBack:
				falseRb = safe && cand.Objective < base.Objective*(1-1e-9)
			}
		} else if len(p.Stages) > 0 {
			t.Errorf("pass %d ran stages without a candidate", p.N)
		}
		if p.SLOViolatingPromotion != slo || p.WorsePromotion != worse || p.FalseRollback != falseRb {
			t.Errorf("pass %d (%s): labels %v %v %v, want %v %v %v", p.N, p.Outcome,
				p.SLOViolatingPromotion, p.WorsePromotion, p.FalseRollback, slo, worse, falseRb)
		}
		// The operator: asked exactly when the band needs an approval, an
		// answer only to a pass that asked.
		band := models.Band(p.RiskBand)
		need := p.RiskBand != "" && band != models.BandForbidden && spec.Risk.ApprovalFrom != models.BandForbidden &&
			band.AtLeast(spec.Risk.ApprovalFrom)
		if p.ApprovalAsked != need {
			t.Errorf("pass %d (risk %q, approval from %s): approval asked %v, want %v", p.N, p.RiskBand, spec.Risk.ApprovalFrom, p.ApprovalAsked, need)
		}
		if p.Answer != "" && !p.ApprovalAsked {
			t.Errorf("pass %d was answered %q without asking", p.N, p.Answer)
		}
		if p.ApprovalAsked {
			asked++
		}
	}
	if res.Summary.ApprovalsAsked != asked {
		t.Errorf("summary: %d approvals asked, the passes %d", res.Summary.ApprovalsAsked, asked)
	}
}

// TestCampaignIsConsistentAndRepeatable runs the GP policy on the demo
// target: the records are consistent with the truth, the same seed repeats
// the campaign exactly, another seed is another optimizer run.
func TestCampaignIsConsistentAndRepeatable(t *testing.T) {
	t.Parallel()
	w := world(t, nil)
	a := run(t, w, Options{Passes: 4, Seed: 1})
	again := run(t, w, Options{Passes: 4, Seed: 1})
	other := run(t, w, Options{Passes: 4, Seed: 2})
	t.Logf("seed 1: %+v (%s)", a.Summary, a.Wall)

	a.Summary.WallS, again.Summary.WallS = 0, 0
	ja, _ := json.Marshal(a)
	jagain, _ := json.Marshal(again)
	if string(ja) != string(jagain) {
		t.Errorf("the same seed gave another campaign:\n%s\n%s", ja, jagain)
	}
	differ := false
	for i := range a.Passes {
		differ = differ || !a.Passes[i].Candidate.Equal(other.Passes[i].Candidate)
	}
	if !differ {
		t.Error("seeds 1 and 2 proposed the same candidates: the seed does not reach the optimizer")
	}
	if a.Scenario != w.Target().Name || a.Policy != PolicyGP || a.Objective != "cost_per_request" || len(a.Limits) != 2 {
		t.Errorf("result header %s %s %s %v", a.Scenario, a.Policy, a.Objective, a.Limits)
	}
}

// TestOperator runs passes that all need an approval (approval_from: low,
// one stage to keep them short), with each answer of the operator, and
// passes that never need one.
func TestOperator(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		from      models.Band
		op        simulations.Operator
		outcome   workflows.Outcome // of every pass that asked
		reason    string
		answer    string
		minLength time.Duration // of every pass that asked
	}{
		{"approve", models.BandLow, simulations.Operator{Answer: simulations.AnswerApprove, After: 10 * time.Minute, Approver: "alice"},
			"", "", simulations.AnswerApprove, 10 * time.Minute},
		{"reject", models.BandLow, simulations.Operator{Answer: simulations.AnswerReject, After: 5 * time.Minute, Approver: "bob"},
			workflows.OutcomeRejected, "rejected by bob", simulations.AnswerReject, 5 * time.Minute},
		{"timeout", models.BandLow, simulations.Operator{Answer: simulations.AnswerTimeout},
			workflows.OutcomeRejected, "no approval within 1h", "", time.Hour},
		{"never asked", models.BandForbidden, simulations.Operator{Answer: simulations.AnswerApprove, After: time.Minute, Approver: "alice"},
			"", "", "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := world(t, func(s *target.Spec) {
				s.Risk.ApprovalFrom = tc.from
				s.Canary.Stages = []float64{100}
			}, simulations.WithOperator(tc.op))
			res := run(t, w, Options{Passes: 3, Seed: 3})
			asked := 0
			for _, p := range res.Passes {
				if !p.ApprovalAsked {
					continue
				}
				asked++
				if tc.outcome != "" && (p.Outcome != string(tc.outcome) || !strings.Contains(p.Reason, tc.reason)) {
					t.Errorf("pass %d: %s (%s), want %s (%s)", p.N, p.Outcome, p.Reason, tc.outcome, tc.reason)
				}
				if tc.outcome == "" && p.Outcome == string(workflows.OutcomeRejected) {
					t.Errorf("pass %d rejected (%s), want approved", p.N, p.Reason)
				}
				if p.Answer != tc.answer {
					t.Errorf("pass %d answered %q, want %q", p.N, p.Answer, tc.answer)
				}
				if d := p.Ended.Sub(p.At); d < tc.minLength {
					t.Errorf("pass %d took %s, want at least the operator's %s", p.N, d, tc.minLength)
				}
			}
			switch {
			case tc.from == models.BandForbidden && asked > 0:
				t.Errorf("%d passes asked for an approval with approval_from forbidden", asked)
			case tc.from != models.BandForbidden && asked == 0:
				t.Errorf("no pass asked for an approval with approval_from %s: %+v", tc.from, res.Summary)
			}
		})
	}
}

// instantWorld is a ModelWorld that also tells true values at an instant,
// and records when it was asked.
type instantModelWorld struct {
	simulations.World
	asked []time.Time
}

func (w *instantModelWorld) Values(cfg models.Config, at time.Time) (map[string]float64, error) {
	w.asked = append(w.asked, at)
	tr, err := w.Truth(cfg, at, 0)
	return tr.Guardrails, err
}

// TestStageBreachAlongTheStage: a world that tells true values at an
// instant is read along each stage, from its start to its end.
func TestStageBreachAlongTheStage(t *testing.T) {
	t.Parallel()
	w := &instantModelWorld{World: world(t, func(s *target.Spec) { s.Risk.ApprovalFrom = models.BandForbidden })}
	res := run(t, w, Options{Passes: 2, Seed: 1})
	stages := 0
	for _, p := range res.Passes {
		for _, s := range p.Stages {
			stages++
			if !slices.ContainsFunc(w.asked, s.From.Equal) || !slices.ContainsFunc(w.asked, s.To.Equal) {
				t.Errorf("pass %d stage %g%%: the world was not asked at its start %s and end %s", p.N, s.Percent, s.From, s.To)
			}
		}
	}
	if stages == 0 || len(w.asked) < 2*stages {
		t.Errorf("%d stages, the world asked %d times", stages, len(w.asked))
	}
}

func TestHoldNeverChangesTheIncumbent(t *testing.T) {
	t.Parallel()
	w := world(t, nil)
	res := run(t, w, Options{Passes: 3, Seed: 1, Policy: PolicyHold})
	initial := w.Target().Params.Current()
	for _, p := range res.Passes {
		if p.Outcome != string(workflows.OutcomeSkipped) || !strings.Contains(p.Reason, HoldReason) || p.Optimizer != "hold" ||
			p.Candidate != nil || len(p.Stages) > 0 || p.ApprovalAsked || !p.Incumbent.Equal(initial) {
			t.Errorf("pass %d: %s (%s) by %q, candidate %s, %d stages, incumbent %s; want skipped, nothing tried, %s kept",
				p.N, p.Outcome, p.Reason, p.Optimizer, p.Candidate, len(p.Stages), p.Incumbent, initial)
		}
	}
	if s := res.Summary; s.FinalGap != res.InitialGap || s.Skipped != 3 || s.Promotions+s.Rollbacks != 0 {
		t.Errorf("summary %+v, want 3 skipped at the initial gap %v", s, res.InitialGap)
	}
}

func TestRandomStaysInTheTrustRegion(t *testing.T) {
	t.Parallel()
	w := world(t, nil)
	spec := w.Target()
	res := run(t, w, Options{Passes: 3, Seed: 1, Policy: PolicyRandom})
	for _, p := range res.Passes {
		if p.Candidate == nil || p.Optimizer != "random" {
			t.Errorf("pass %d: candidate %s by %q, want a random one", p.N, p.Candidate, p.Optimizer)
			continue
		}
		step, cats, err := spec.Params.Step(p.Baseline, p.Candidate)
		if err != nil || step > spec.Risk.MaxStep+1e-12 || cats > 1 {
			t.Errorf("pass %d: %s is %v (%d switches) from %s, want within %v and at most one switch (%v)",
				p.N, p.Candidate, step, cats, p.Baseline, spec.Risk.MaxStep, err)
		}
	}
}

// TestRandomInRegion draws many candidates around incumbents in the middle
// and at the edges of the demo's space: every one is valid, within the
// trust region, switches at most one categorical knob, and the draws cover
// the region (both sides of each numeric knob, switching or not).
func TestRandomInRegion(t *testing.T) {
	space := demoSpec(t).Params
	const maxStep = 0.25
	rng := rand.New(rand.NewPCG(1, 2))
	for _, inc := range []models.Config{
		space.Current(),
		{"worker_threads": models.Num(4), "cache_ttl_s": models.Num(3600), "gc_mode": models.Str("low-latency")},
		{"worker_threads": models.Num(5), "cache_ttl_s": models.Num(1.5), "gc_mode": models.Str("throughput")},
	} {
		below, above := map[string]int{}, map[string]int{}
		switched := 0
		const n = 2000
		for range n {
			c := RandomInRegion(space, inc, maxStep, rng)
			if err := space.CheckConfig(c); err != nil {
				t.Fatalf("around %s: %s is invalid: %v", inc, c, err)
			}
			step, cats, err := space.Step(inc, c)
			if err != nil || step > maxStep*(1+1e-9) || cats > 1 {
				t.Fatalf("around %s: %s is %v away with %d switches (%v)", inc, c, step, cats, err)
			}
			switched += cats
			for _, p := range space {
				if p.Type == models.Categorical {
					continue
				}
				switch d := c[p.Name].Float() - inc[p.Name].Float(); {
				case d < 0:
					below[p.Name]++
				case d > 0:
					above[p.Name]++
				}
			}
		}
		// One switch among two choices: no switch or the switch, half each.
		if switched < n*4/10 || switched > n*6/10 {
			t.Errorf("around %s: %d of %d draws switched gc_mode, want about half", inc, switched, n)
		}
		for _, p := range space {
			if p.Type == models.Categorical {
				continue
			}
			u, _ := p.ToUnit(inc[p.Name])
			if (u > 0.01 && below[p.Name] == 0) || (u < 0.99 && above[p.Name] == 0) {
				t.Errorf("around %s: %s moved down %d and up %d times, want both where there is room", inc, p.Name, below[p.Name], above[p.Name])
			}
		}
	}
}

func TestRunStopsWhenCancelled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	res, err := Run(ctx, world(t, nil), Options{Passes: 5, Seed: 1, Policy: PolicyHold, Progress: func(p Pass) {
		if p.N == 1 {
			cancel()
		}
	}})
	if !errors.Is(err, context.Canceled) || len(res.Passes) != 1 {
		t.Errorf("cancelled after pass 1: %d passes, %v; want 1 and context.Canceled", len(res.Passes), err)
	}
}

func TestRunRefusesBadOptions(t *testing.T) {
	w := world(t, nil)
	for _, o := range []Options{{Passes: -1}, {Policy: "greedy"}} {
		if _, err := Run(context.Background(), w, o); err == nil {
			t.Errorf("options %+v: no error", o)
		}
	}
	bad := world(t, nil, simulations.WithPassEvery(0))
	if _, err := Run(context.Background(), bad, Options{Passes: 1}); err == nil || !strings.Contains(err.Error(), "pass interval") {
		t.Errorf("a world without a pass interval: %v", err)
	}
}

func TestRunAllKeepsTheOrderOfTheJobs(t *testing.T) {
	t.Parallel()
	w := world(t, nil)
	jobs := Jobs([]simulations.World{w}, []Policy{PolicyHold}, Seeds(3))
	var last BatchProgress
	res, err := RunAll(context.Background(), jobs, BatchOptions{Passes: 2, Parallel: 2, Progress: func(p BatchProgress) { last = p }})
	if err != nil {
		t.Fatal(err)
	}
	var seeds []uint64
	for _, r := range res {
		seeds = append(seeds, r.Seed)
	}
	if !slices.Equal(seeds, []uint64{1, 2, 3}) {
		t.Errorf("results of seeds %v, want 1 2 3", seeds)
	}
	if last.Passes != 6 || last.TotalPasses != 6 || last.Campaigns != 3 || last.TotalCampaigns != 3 {
		t.Errorf("last progress %+v, want 6 of 6 passes and 3 of 3 campaigns", last)
	}
}
