package campaign

import (
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// The goals' thresholds (the issue's, for the scenarios × 5 seeds × 30
// passes of the GP policy).
const (
	// GoalPass is the pass at which the gaps are compared.
	GoalPass = 15
	// GoalGap is the median gap to reach by GoalPass...
	GoalGap = 0.05
	// ...on at least GoalScenarioShare of the scenarios (5 of 6).
	GoalScenarioShare = 5.0 / 6
	// GoalRollbacks is the most passes after the first five that may roll
	// back, and GoalFalseRollbacks the most that may roll back a truly
	// better candidate (shares of those passes).
	GoalRollbacks      = 0.20
	GoalFalseRollbacks = 0.05
	// GoalBreakingStages is the most canary stages a campaign (median) may
	// run on a truly SLO-breaking configuration, GoalWorstBreach the largest
	// ratio by which any may break a guardrail.
	GoalBreakingStages = 1
	GoalWorstBreach    = 2.0
	// GoalCampaignWall is the longest a 30-pass campaign may take, and
	// GoalLibraryWall the whole library (every scenario, policy and seed).
	GoalCampaignWall = 10 * time.Second
	GoalLibraryWall  = 5 * time.Minute
	// goalPasses is the length of campaign GoalCampaignWall is about.
	goalPasses = 30
)

// Goal is one goal of the issue measured over a batch of results.
type Goal struct {
	Goal     string `json:"goal"`
	Target   string `json:"target"`
	Measured string `json:"measured"`
	Met      bool   `json:"met"`
}

// Goals evaluates the goals over results and the wall time of the
// run that produced them (0 when unknown). Unless a goal says otherwise it
// is about the GP policy's campaigns, pooled over scenarios and seeds:
//
//   - the median over seeds of the gap after pass 15 (GapAt: an incumbent
//     that breaks a guardrail is infinitely far) is at most 5% on at least
//     5 of 6 scenarios (⌈5n/6⌉ of n);
//   - no SLO-violating promotion; no worse promotion;
//   - of the passes after each campaign's fifth, at most 20% rolled back and
//     at most 5% rolled back a truly better candidate (false rollbacks);
//   - the median campaign ran at most one canary stage on a truly
//     SLO-breaking configuration, and none broke a guardrail by more than 2×;
//   - on every scenario, the GP policy's median gap after pass 15 is below
//     the random and the hold policies' (needs all three policies);
//   - the slowest campaign took at most 10 s for 30 passes (a shorter one is
//     scaled up to 30 passes), whatever its policy;
//   - the whole run took at most 5 minutes.
//
// A goal that results cannot measure (no GP campaign, a policy missing) is
// reported as not met.
func Goals(results []Result, total time.Duration) []Goal {
	gp := byPolicy(results, PolicyGP)
	scen := scenarios(results)
	var goals []Goal
	add := func(goal, target, measured string, met bool) {
		goals = append(goals, Goal{Goal: goal, Target: target, Measured: measured, Met: met})
	}
	const none = "no GP campaign"

	// Gap by pass 15.
	{
		need := int(math.Ceil(GoalScenarioShare*float64(len(scen)) - 1e-9))
		target := fmt.Sprintf("≤ %s on ≥ %d of %d scenarios", pct(GoalGap), need, len(scen))
		ok, worst, worstName := 0, math.Inf(-1), ""
		for _, s := range scen {
			g := medianGapAt(filter(gp, s), GoalPass)
			if math.IsNaN(g) {
				continue
			}
			if g <= GoalGap {
				ok++
			}
			if g > worst {
				worst, worstName = g, s
			}
		}
		m := none
		if len(gp) > 0 {
			m = fmt.Sprintf("%d of %d (worst %s: %s)", ok, len(scen), worstName, pct(worst))
		}
		add(fmt.Sprintf("median gap after pass %d (GP)", GoalPass), target, m, len(gp) > 0 && ok >= need)
	}

	sum := func(f func(Summary) int) int {
		n := 0
		for _, r := range gp {
			n += f(r.Summary)
		}
		return n
	}
	count := func(name string, f func(Summary) int) {
		n := sum(f)
		m := none
		if len(gp) > 0 {
			m = fmt.Sprintf("%d in %d campaigns", n, len(gp))
		}
		add(name, "0", m, len(gp) > 0 && n == 0)
	}
	count("SLO-violating promotions (GP)", func(s Summary) int { return s.SLOViolatingPromotions })

	// Rollbacks after the warm-up.
	{
		passes, rolled, falseRb := 0, 0, 0
		for _, r := range gp {
			for _, p := range r.Passes {
				if p.N <= warmUp {
					continue
				}
				passes++
				if p.Outcome == "rolled_back" {
					rolled++
				}
				if p.FalseRollback {
					falseRb++
				}
			}
		}
		share := func(n int) string {
			if passes == 0 {
				return "no pass after the fifth"
			}
			return fmt.Sprintf("%s (%d of %d)", pct(float64(n)/float64(passes)), n, passes)
		}
		add(fmt.Sprintf("rollbacks after pass %d (GP)", warmUp), "≤ "+pct(GoalRollbacks), share(rolled),
			passes > 0 && float64(rolled) <= GoalRollbacks*float64(passes))
		add(fmt.Sprintf("false rollbacks after pass %d (GP)", warmUp), "≤ "+pct(GoalFalseRollbacks), share(falseRb),
			passes > 0 && float64(falseRb) <= GoalFalseRollbacks*float64(passes))
	}
	count("worse promotions (GP)", func(s Summary) int { return s.WorsePromotions })

	// Canary stages on truly breaking configurations.
	{
		var stages []float64
		worst := 0.0
		for _, r := range gp {
			stages = append(stages, float64(r.Summary.ViolatingStages))
			worst = max(worst, r.Summary.WorstBreach)
		}
		med := median(stages)
		m, w := none, none
		if len(gp) > 0 {
			m = fmt.Sprintf("%g (max %g)", med, slices.Max(stages))
			w = fmt.Sprintf("%.2f×", worst)
		}
		add("SLO-breaking canary stages per campaign, median (GP)", fmt.Sprintf("≤ %d", GoalBreakingStages), m,
			len(gp) > 0 && med <= GoalBreakingStages)
		add("worst true breach of a canary stage (GP)", fmt.Sprintf("≤ %g×", GoalWorstBreach), w,
			len(gp) > 0 && worst <= GoalWorstBreach)
	}

	// GP ahead of the baselines.
	{
		random, hold := byPolicy(results, PolicyRandom), byPolicy(results, PolicyHold)
		ahead, behind := 0, []string{}
		for _, s := range scen {
			g := medianGapAt(filter(gp, s), GoalPass)
			r, h := medianGapAt(filter(random, s), GoalPass), medianGapAt(filter(hold, s), GoalPass)
			if g < r && g < h { // NaN (a policy missing) compares false
				ahead++
			} else {
				behind = append(behind, s)
			}
		}
		m := fmt.Sprintf("%d of %d", ahead, len(scen))
		switch {
		case len(gp) == 0 || len(random) == 0 || len(hold) == 0:
			m = "not measured: needs --policy all"
		case len(behind) > 0:
			m += " (not on " + strings.Join(behind, ", ") + ")"
		}
		add(fmt.Sprintf("GP's median gap after pass %d below random's and hold's", GoalPass), "every scenario", m,
			len(scen) > 0 && ahead == len(scen))
	}

	// Wall time.
	{
		slowest, name, scaled := time.Duration(0), "", false
		for _, r := range results {
			n := len(r.Passes)
			if n == 0 {
				continue
			}
			w := r.Wall
			if n < goalPasses {
				w = w * goalPasses / time.Duration(n)
			}
			if w > slowest {
				slowest, name, scaled = w, fmt.Sprintf("%s/%s/%d", r.Scenario, r.Policy, r.Seed), n < goalPasses
			}
		}
		m := "no campaign"
		if name != "" {
			m = fmt.Sprintf("%.1fs (%s)", slowest.Seconds(), name)
			if scaled {
				m += ", scaled to 30 passes"
			}
		}
		add("wall time of the slowest 30-pass campaign", fmt.Sprintf("≤ %s", GoalCampaignWall), m, name != "" && slowest <= GoalCampaignWall)
		m = "not measured"
		if total > 0 {
			m = fmt.Sprintf("%s for %d campaigns", total.Round(100*time.Millisecond), len(results))
		}
		add("wall time of the whole run", fmt.Sprintf("≤ %s", GoalLibraryWall), m, total > 0 && total <= GoalLibraryWall)
	}
	return goals
}

// Met reports whether every goal is met.
func Met(goals []Goal) bool {
	for _, g := range goals {
		if !g.Met {
			return false
		}
	}
	return len(goals) > 0
}

// PrintGoals prints the goals as a table.
func PrintGoals(w io.Writer, goals []Goal) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "goal\ttarget\tmeasured\tmet")
	for _, g := range goals {
		met := "yes"
		if !g.Met {
			met = "NO"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", g.Goal, g.Target, g.Measured, met)
	}
	tw.Flush()
}

func byPolicy(results []Result, p Policy) []Result {
	var out []Result
	for _, r := range results {
		if r.Policy == p {
			out = append(out, r)
		}
	}
	return out
}

func filter(results []Result, scenario string) []Result {
	var out []Result
	for _, r := range results {
		if r.Scenario == scenario {
			out = append(out, r)
		}
	}
	return out
}

// scenarios returns the scenarios of results, sorted.
func scenarios(results []Result) []string {
	var out []string
	for _, r := range results {
		if !slices.Contains(out, r.Scenario) {
			out = append(out, r.Scenario)
		}
	}
	sort.Strings(out)
	return out
}

// GapAt returns a campaign's gap after pass n (after its last pass when it
// has fewer, its initial gap when it has none); +Inf when the incumbent
// then breaks a guardrail: it is not near a constrained optimum, whatever
// its objective.
func GapAt(r Result, n int) float64 {
	gap, breach := r.InitialGap, r.InitialBreach
	if len(r.Passes) > 0 && n > 0 {
		p := r.Passes[min(n, len(r.Passes))-1]
		gap, breach = p.Gap, p.IncumbentBreach
	}
	if breach > 1 {
		return math.Inf(1)
	}
	return gap
}

// medianGapAt is the median of GapAt over results; NaN for none.
func medianGapAt(results []Result, n int) float64 {
	gaps := make([]float64, len(results))
	for i, r := range results {
		gaps[i] = GapAt(r, n)
	}
	return median(gaps)
}

// median returns the median of xs (the mean of the middle two for an even
// count); NaN for none.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	m := len(s) / 2
	if len(s)%2 == 1 {
		return s[m]
	}
	return (s[m-1] + s[m]) / 2
}
