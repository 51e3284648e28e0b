package report

import (
	"bytes"
	"encoding/json"
	"flag"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/passflow/passflow/models"
	"github.com/passflow/passflow/simulations/campaign"
)

var update = flag.Bool("update", false, "rewrite testdata/report.md from the current output")

const golden = "testdata/report.md"

func TestWriteGolden(t *testing.T) {
	dir := t.TempDir()
	if err := Write(dir, goldenInput()); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, MarkdownFile))
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		for i := range max(len(gl), len(wl)) {
			g, w := line(gl, i), line(wl, i)
			if g != w {
				t.Fatalf("report.md differs from %s at line %d:\n got: %s\nwant: %s\n(run go test -update if the change is intended)", golden, i+1, g, w)
			}
		}
	}
}

func line(lines []string, i int) string {
	if i < len(lines) {
		return lines[i]
	}
	return "<end of file>"
}

// TestWriteDeterministic writes the golden input in reverse order and
// expects the same bytes.
func TestWriteDeterministic(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	in := goldenInput()
	if err := Write(a, in); err != nil {
		t.Fatal(err)
	}
	slices.Reverse(in)
	if err := Write(b, in); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{MarkdownFile, SummaryFile} {
		x, _ := os.ReadFile(filepath.Join(a, name))
		y, _ := os.ReadFile(filepath.Join(b, name))
		if len(x) == 0 || !bytes.Equal(x, y) {
			t.Errorf("%s differs between two orders of the same results", name)
		}
	}
}

func TestWriteFigures(t *testing.T) {
	dir := t.TempDir()
	if err := Write(dir, goldenInput()); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		file string
		w, h int
	}{
		{"web-api-objective.png", figureWidth, objectiveHeight},
		{"web-api-guardrails.png", figureWidth, 2 * guardrailPanelHeight},
		{"web-api-canary.png", figureWidth, canaryHeight},
		{"batch-2-objective.png", figureWidth, objectiveHeight},
		{"batch-2-guardrails.png", figureWidth, guardrailPanelHeight},
		{"batch-2-canary.png", figureWidth, canaryHeight},
	} {
		t.Run(tc.file, func(t *testing.T) {
			f, err := os.Open(filepath.Join(dir, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			img, err := png.Decode(f)
			if err != nil {
				t.Fatal(err)
			}
			if b := img.Bounds(); b.Dx() != tc.w || b.Dy() != tc.h {
				t.Errorf("size %dx%d, want %dx%d", b.Dx(), b.Dy(), tc.w, tc.h)
			}
		})
	}
	md, _ := os.ReadFile(filepath.Join(dir, MarkdownFile))
	for _, name := range []string{"web-api-objective.png", "web-api-guardrails.png", "web-api-canary.png"} {
		if !bytes.Contains(md, []byte("]("+name+")")) {
			t.Errorf("report.md does not embed %s", name)
		}
	}
}

// handMade is three gp seeds and four random seeds of one scenario whose
// Summary figures are chosen so that their aggregates are easy to compute
// by hand.
func handMade() []campaign.Result {
	mk := func(p campaign.Policy, seed uint64, s campaign.Summary, initialGap float64, stages ...campaign.Stage) campaign.Result {
		s.Scenario, s.Policy, s.Seed = "hand", p, seed
		pass := campaign.Pass{N: 1, At: day0, Stages: stages}
		r := campaign.Result{Scenario: "hand", Policy: p, Seed: seed, Goal: models.Minimize, Objective: "cost",
			Initial: 10, InitialGap: initialGap, Passes: []campaign.Pass{pass}, Summary: s}
		r.Summary.Passes = len(r.Passes)
		return r
	}
	stage := func(pct, minutes, breach float64) campaign.Stage {
		return campaign.Stage{Percent: pct, From: day0, To: day0.Add(time.Duration(minutes * float64(time.Minute))), Breach: breach}
	}
	return []campaign.Result{
		mk(campaign.PolicyGP, 3, campaign.Summary{FinalGap: 0.30, PassesToWithin5Pct: ptr(5), SLOViolatingPromotions: 2,
			WorsePromotions: 1, Rollbacks: 3, FalseRollbacks: 0, RollbacksAfter5: 0.5, ViolatingStages: 4, WorstBreach: 1.3,
			ApprovalsAsked: 1, Skipped: 2, IncumbentViolations: 4, WallS: 12}, 0.4,
			stage(10, 30, 0.5), stage(50, 60, 1.2)),
		mk(campaign.PolicyGP, 1, campaign.Summary{FinalGap: 0.10, PassesToWithin5Pct: ptr(3), SLOViolatingPromotions: 0,
			WorsePromotions: 1, Rollbacks: 1, FalseRollbacks: 1, RollbacksAfter5: 0, ViolatingStages: 0, WorstBreach: 0.9,
			ApprovalsAsked: 0, Skipped: 0, WallS: math.NaN()}, 0.5,
			stage(10, 30, 0.5)),
		mk(campaign.PolicyGP, 2, campaign.Summary{FinalGap: 0.20, PassesToWithin5Pct: nil, SLOViolatingPromotions: 1,
			WorsePromotions: 0, Rollbacks: 2, FalseRollbacks: 2, RollbacksAfter5: 0.25, ViolatingStages: 1, WorstBreach: 1.1,
			ApprovalsAsked: 3, Skipped: 1, IncumbentViolations: 1, WallS: 10}, 0.6),
		mk(campaign.PolicyRandom, 1, campaign.Summary{FinalGap: 0.4, Rollbacks: 1}, 0.5),
		mk(campaign.PolicyRandom, 2, campaign.Summary{FinalGap: 0.1, Rollbacks: 4}, 0.5),
		mk(campaign.PolicyRandom, 3, campaign.Summary{FinalGap: 0.3, Rollbacks: 2}, 0.5),
		mk(campaign.PolicyRandom, 4, campaign.Summary{FinalGap: 0.2, Rollbacks: 8}, 0.5),
	}
}

// TestAggregateByHand checks a row against figures computed by hand.
func TestAggregateByHand(t *testing.T) {
	rows, err := Aggregate(handMade())
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0].Policy != campaign.PolicyGP || rows[1].Policy != campaign.PolicyRandom {
		t.Fatalf("rows %+v, want gp then random", rows)
	}
	gp, rnd := rows[0], rows[1]
	if !slices.Equal(gp.Seeds, []uint64{1, 2, 3}) {
		t.Errorf("seeds %v, want 1 2 3", gp.Seeds)
	}
	for _, tc := range []struct {
		name string
		got  Stat
		want Stat
	}{
		// Sorted 0.10 0.20 0.30: the middle one.
		{"final gap", gp.FinalGap, Stat{N: 3, Median: 0.20, Min: 0.10, Max: 0.30, Sum: 0.60}},
		{"initial gap", gp.InitialGap, Stat{N: 3, Median: 0.5, Min: 0.4, Max: 0.6, Sum: 1.5}},
		{"slo-violating promotions", gp.SLOViolatingPromotions, Stat{N: 3, Median: 1, Min: 0, Max: 2, Sum: 3}},
		{"worse promotions", gp.WorsePromotions, Stat{N: 3, Median: 1, Min: 0, Max: 1, Sum: 2}},
		{"rollbacks", gp.Rollbacks, Stat{N: 3, Median: 2, Min: 1, Max: 3, Sum: 6}},
		{"false rollbacks", gp.FalseRollbacks, Stat{N: 3, Median: 1, Min: 0, Max: 2, Sum: 3}},
		{"rollbacks after 5", gp.RollbacksAfter5, Stat{N: 3, Median: 0.25, Min: 0, Max: 0.5, Sum: 0.75}},
		{"violating stages", gp.ViolatingStages, Stat{N: 3, Median: 1, Min: 0, Max: 4, Sum: 5}},
		{"worst breach", gp.WorstBreach, Stat{N: 3, Median: 1.1, Min: 0.9, Max: 1.3, Sum: 3.3}},
		{"approvals asked", gp.ApprovalsAsked, Stat{N: 3, Median: 1, Min: 0, Max: 3, Sum: 4}},
		{"skipped", gp.Skipped, Stat{N: 3, Median: 1, Min: 0, Max: 2, Sum: 3}},
		// Sorted 0 1 4.
		{"incumbent violations", gp.IncumbentViolations, Stat{N: 3, Median: 1, Min: 0, Max: 4, Sum: 5}},
		// Seed 1's NaN is left out: the median of 10 and 12 is 11.
		{"wall", gp.WallS, Stat{N: 2, NonFinite: 1, Median: 11, Min: 10, Max: 12, Sum: 22}},
		// Seed 3: 10% for 30 min and 50% for 60 min = 3 + 30; seed 1: 3;
		// seed 2: none.
		{"exposure", gp.Exposure, Stat{N: 3, Median: 3, Min: 0, Max: 33, Sum: 36}},
		{"breach exposure", gp.BreachExposure, Stat{N: 3, Median: 0, Min: 0, Max: 30, Sum: 30}},
		// Four seeds, sorted 1 2 4 8: the mean of the middle two.
		{"random rollbacks", rnd.Rollbacks, Stat{N: 4, Median: 3, Min: 1, Max: 8, Sum: 15}},
		// Sorted 0.1 0.2 0.3 0.4: 0.25.
		{"random final gap", rnd.FinalGap, Stat{N: 4, Median: 0.25, Min: 0.1, Max: 0.4, Sum: 1.0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !statNear(tc.got, tc.want) {
				t.Errorf("got %+v, want %+v", tc.got, tc.want)
			}
		})
	}
	// Passes to within 5%: 3, never, 5 -> sorted 3 5 never: median 5.
	if want := (Reach{N: 3, Never: 1, Median: 5, Min: 3, Max: math.Inf(1)}); gp.PassesToWithin5Pct != want {
		t.Errorf("passes to within 5%%: got %+v, want %+v", gp.PassesToWithin5Pct, want)
	}
	// Random never came within 5%: all four never.
	if r := rnd.PassesToWithin5Pct; r.Never != 4 || !math.IsInf(r.Median, 1) {
		t.Errorf("random passes to within 5%%: got %+v, want never", r)
	}
}

func statNear(a, b Stat) bool {
	near := func(x, y float64) bool { return math.Abs(x-y) <= 1e-12*max(1, math.Abs(y)) }
	return a.N == b.N && a.NonFinite == b.NonFinite && near(a.Median, b.Median) &&
		near(a.Min, b.Min) && near(a.Max, b.Max) && near(a.Sum, b.Sum)
}

// TestWriteTableByHand reads the hand-made input's gp column back from
// report.md and summary.json.
func TestWriteTableByHand(t *testing.T) {
	dir := t.TempDir()
	if err := Write(dir, handMade()); err != nil {
		t.Fatal(err)
	}
	md, _ := os.ReadFile(filepath.Join(dir, MarkdownFile))
	for _, want := range []string{
		"|  | gp | random |",
		"| final gap | 20.0% (10.0%–30.0%) | 25.0% (10.0%–40.0%) |",
		"| passes to within 5% | 5 (3–never, 1 of 3 never) | never |",
		"| SLO-violating promotions (Σ) | 3 | 0 |",
		"| rollbacks | 2 (1–3) | 3 (1–8) |",
		"| rollbacks after pass 5 | 25.0% (0.0%–50.0%) | 0.0% |",
		"| worst breach | 1.10 (0.90–1.30) | 0.00 |",
		"| wall (s) | 11.0 (10.0–12.0) † | 0.0 |",
		"gp seed 1: wall_s is NaN; left out of the table.",
	} {
		if !bytes.Contains(md, []byte(want)) {
			t.Errorf("report.md lacks %q", want)
		}
	}
	js, _ := os.ReadFile(filepath.Join(dir, SummaryFile))
	var rows []struct {
		Policy   string
		FinalGap struct{ N, Median, Min, Max float64 } `json:"final_gap"`
		Reach    struct {
			Never  int
			Median *float64
			Max    *float64
		} `json:"passes_to_within_5pct"`
		WallS struct {
			NonFinite int `json:"non_finite"`
			Median    float64
		} `json:"wall_s"`
	}
	if err := json.Unmarshal(js, &rows); err != nil {
		t.Fatal(err)
	}
	gp := rows[0]
	if gp.Policy != "gp" || gp.FinalGap.Median != 0.2 || gp.FinalGap.Min != 0.1 || gp.FinalGap.Max != 0.3 ||
		gp.Reach.Never != 1 || gp.Reach.Median == nil || *gp.Reach.Median != 5 || gp.Reach.Max != nil ||
		gp.WallS.NonFinite != 1 || gp.WallS.Median != 11 {
		t.Errorf("summary.json gp row: %s", js[:min(len(js), 600)])
	}
	if rows[1].Reach.Median != nil {
		t.Errorf("summary.json random passes_to_within_5pct median should be null (never)")
	}
}

func TestQuantile(t *testing.T) {
	inf := math.Inf(1)
	for _, tc := range []struct {
		xs   []float64
		p    float64
		want float64
	}{
		// R: quantile(c(1,2,3,4), c(.25,.5,.75)) = 1.75 2.5 3.25
		{[]float64{1, 2, 3, 4}, 0.25, 1.75},
		{[]float64{1, 2, 3, 4}, 0.5, 2.5},
		{[]float64{1, 2, 3, 4}, 0.75, 3.25},
		{[]float64{7}, 0.5, 7},
		{[]float64{1, 2, inf}, 0.5, 2},
		{[]float64{1, inf}, 0.5, inf},
		{[]float64{1, 2, inf, inf}, 0.25, 1.75},
	} {
		if got := quantile(tc.xs, tc.p); got != tc.want && !(math.IsInf(got, 1) && math.IsInf(tc.want, 1)) {
			t.Errorf("quantile(%v, %v) = %v, want %v", tc.xs, tc.p, got, tc.want)
		}
	}
}

func TestWriteErrors(t *testing.T) {
	ok := func() campaign.Result {
		return synth(campaignSpec{scenario: "s", policy: campaign.PolicyGP, seed: 1, passes: 2, optimum: 1, start: 2, rate: 0.5})
	}
	for _, tc := range []struct {
		name    string
		results func() []campaign.Result
		want    string
	}{
		{"none", func() []campaign.Result { return nil }, "no results"},
		{"unsafe scenario", func() []campaign.Result { r := ok(); r.Scenario = "../etc"; return []campaign.Result{r} }, `scenario "../etc"`},
		{"upper case", func() []campaign.Result { r := ok(); r.Scenario = "Web"; return []campaign.Result{r} }, `scenario "Web"`},
		{"no policy", func() []campaign.Result { r := ok(); r.Policy = ""; return []campaign.Result{r} }, "policy is empty"},
		{"duplicate", func() []campaign.Result { return []campaign.Result{ok(), ok()} }, "results 0 and 1 are both scenario s, policy gp, seed 1"},
		{"two goals", func() []campaign.Result {
			a, b := ok(), ok()
			b.Seed, b.Goal = 2, models.Maximize
			return []campaign.Result{a, b}
		}, `goal "maximize"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Write(filepath.Join(t.TempDir(), "out"), tc.results())
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "report: ") {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// TestWriteEdgeCases writes inputs that have broken reports before and
// expects a complete report without a panic.
func TestWriteEdgeCases(t *testing.T) {
	base := func(seed uint64) campaign.Result {
		return synth(campaignSpec{scenario: "edge", policy: campaign.PolicyGP, seed: seed, passes: 3,
			limits:  []models.Constraint{{Metric: "m", Max: ptr(1.0), Min: ptr(0.5)}},
			optimum: 1, start: 2, rate: 0.5})
	}
	nan := math.NaN()
	for _, tc := range []struct {
		name   string
		mutate func([]campaign.Result) []campaign.Result
		want   string
	}{
		{"single seed", func(rs []campaign.Result) []campaign.Result { return rs[:1] }, "| seeds | 1 |"},
		{"no passes", func(rs []campaign.Result) []campaign.Result {
			for i := range rs {
				rs[i].Passes, rs[i].Summary.Passes = nil, 0
			}
			return rs
		}, "| passes | 0 |"},
		{"all NaN", func(rs []campaign.Result) []campaign.Result {
			for i := range rs {
				r := &rs[i]
				r.Initial, r.InitialGap = nan, nan
				r.Summary.FinalGap, r.Summary.WallS, r.Summary.WorstBreach, r.Summary.RollbacksAfter5 = nan, math.Inf(-1), nan, nan
				for j := range r.Passes {
					p := &r.Passes[j]
					p.IncumbentTruth.Objective, p.Optimum, p.IncumbentTruth.Guardrails["m"] = nan, nan, math.Inf(1)
					p.BaselineTruth.Guardrails["m"] = nan
					for k := range p.Stages {
						p.Stages[k].Breach, p.Stages[k].Percent = nan, nan
					}
				}
				r.Limits = []models.Constraint{{Metric: "m", Max: ptr(nan)}}
			}
			return rs
		}, "| final gap | n/a † |"},
		{"no limits, no stages", func(rs []campaign.Result) []campaign.Result {
			for i := range rs {
				rs[i].Limits = nil
				for j := range rs[i].Passes {
					rs[i].Passes[j].Stages = nil
					rs[i].Passes[j].IncumbentTruth.Guardrails = nil
				}
			}
			return rs
		}, "No guardrails."},
		{"maximize, different lengths, drifting optimum", func(rs []campaign.Result) []campaign.Result {
			for i := range rs {
				rs[i].Goal = models.Maximize
				for j := range rs[i].Passes {
					rs[i].Passes[j].Optimum = 3 + float64(j)
				}
			}
			rs[0].Passes = rs[0].Passes[:1]
			return rs
		}, "The campaigns have 1 to 3 passes"},
		{"baselines only", func(rs []campaign.Result) []campaign.Result {
			for i := range rs {
				rs[i].Policy = campaign.PolicyHold
				for j := range rs[i].Passes {
					noCandidate(&rs[i], j)
				}
			}
			return rs
		}, "| hold |"},
		{"huge and flat values", func(rs []campaign.Result) []campaign.Result {
			// gonum/plot hangs on an axis range that overflows and panics
			// on a flat one beyond 2^53.
			for i := range rs {
				rs[i].Initial = 1e300
				rs[i].Summary.WallS = 1e308
				for j := range rs[i].Passes {
					p := &rs[i].Passes[j]
					p.IncumbentTruth.Objective, p.Optimum = 1e300, -1e308
					p.IncumbentTruth.Guardrails["m"] = -1e308
					p.BaselineTruth.Guardrails["m"] = 1e308
				}
			}
			return rs
		}, "| wall (s) | 1e+308 |"},
		{"zero-length and reversed stages", func(rs []campaign.Result) []campaign.Result {
			s := &rs[0].Passes[0].Stages[0]
			s.To = s.From.Add(-time.Minute)
			rs[0].Passes[1].Stages[0].To = s.From
			rs[1].Passes[0].Stages[0].From = time.Time{}
			return rs
		}, "has no usable percent or times"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			rs := tc.mutate([]campaign.Result{base(1), base(2), base(3)})
			if err := Write(dir, rs); err != nil {
				t.Fatal(err)
			}
			md, err := os.ReadFile(filepath.Join(dir, MarkdownFile))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(md, []byte(tc.want)) {
				t.Errorf("report.md lacks %q:\n%s", tc.want, md)
			}
			for _, name := range []string{"edge-objective.png", "edge-canary.png"} {
				if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
					t.Error(err)
				}
			}
			if _, err := Aggregate(rs); err != nil {
				t.Error(err)
			}
		})
	}
}
