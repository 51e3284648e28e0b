package report

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// dagger marks a cell some of whose values were NaN or ±Inf and left out.
const dagger = " †"

// markdown renders report.md.
func markdown(scenarios []*scenarioGroup, rows [][]Row, figs []figures) []byte {
	var b strings.Builder
	campaigns := 0
	for _, sc := range scenarios {
		for _, pg := range sc.policies {
			campaigns += len(pg.results)
		}
	}
	b.WriteString("# passflow simulate: campaign report\n\n")
	fmt.Fprintf(&b, "%s in %s, each measured against its world's ground truth.\n\n",
		plural(campaigns, "campaign", "campaigns"), plural(len(scenarios), "scenario", "scenarios"))
	b.WriteString(howToRead)

	b.WriteString("\n## Scenarios\n\n")
	b.WriteString("| scenario | goal | policies (seeds) | passes |\n| --- | --- | --- | ---: |\n")
	for _, sc := range scenarios {
		var ps []string
		lo, hi := math.MaxInt, 0
		for _, pg := range sc.policies {
			ps = append(ps, fmt.Sprintf("%s (%d)", escape(string(pg.policy)), len(pg.results)))
			for _, r := range pg.results {
				lo, hi = min(lo, len(r.Passes)), max(hi, len(r.Passes))
			}
		}
		fmt.Fprintf(&b, "| [%s](#%s) | %s %s | %s | %s |\n", sc.name, sc.name, goalName(sc), code(axisName(sc.objective, "objective")),
			strings.Join(ps, ", "), intRange(lo, hi))
	}

	for i, sc := range scenarios {
		writeScenario(&b, sc, rows[i], figs[i])
	}
	return []byte(b.String())
}

// howToRead is the report's reading guide.
const howToRead = `## How to read this report

- A **campaign** is one scenario (a simulated world), one policy and one seed, run
  pass after pass. Every figure is the world's ground truth (noise-free values of
  the configurations), never passflow's own estimate.
- **Policies**: ` + "`gp`" + ` is passflow (the Gaussian-process optimizer); ` + "`random`" + `
  proposes a uniformly random candidate in the same trust region through the same
  canary; ` + "`hold`" + ` never changes anything.
- **Cells** read "median (min–max)" over the policy's seeds, a single value when
  the seeds agree. Rows marked Σ are sums over the seeds.
- **final gap**: the final incumbent's relative gap to the true constrained optimum,
  0% at the optimum and positive when worse, whichever the goal; **gap at the start**
  is the same for the configuration the campaign started on.
- **passes to within 5%**: the first pass after which the gap is at most 5%. A seed
  that never got there counts as "never"; the median is "never" when at least half
  the seeds never got there.
- **SLO-violating promotions**: promoted candidates that truly break a guardrail.
  **worse promotions**: promoted candidates that made the true objective worse.
  **false rollbacks**: rolled-back candidates that truly kept every guardrail and
  improved the objective. Any non-zero count here deserves a look.
- **rollbacks after pass 5**: the share of the passes after the fifth that rolled
  back; a loop that has learned the surface rarely rolls back late.
- **violating stages**: canary stages whose candidate truly broke a guardrail;
  **worst breach**: the largest ratio of a guardrail's true value to its limit
  (limit/value for a minimum) that any stage reached; above 1 is a breach.
- **passes on an SLO-breaking incumbent**: the passes after which the configuration
  the service ran truly broke a guardrail on that day, whatever the canaries did: a
  world that moved (drift, a regression, the weekly load) under a configuration
  tuned close to its limit, until a repair.
- **canary exposure**: the sum over stages of the canary's traffic share times the
  stage's minutes, i.e. minutes of full traffic served by candidates;
  **breaching exposure** is the part under candidates that truly broke a guardrail.
- **wall**: the campaign's wall-clock seconds; it measures the machine as much as the loop.
- **Figures**: lines are medians over seeds, shaded bands interquartile ranges (drawn
  where at least 3 seeds reached the pass); x is the pass, 0 the starting
  configuration. When campaigns differ in length, each pass's median is over the
  seeds that reached it.
- Values that are NaN or ±Inf are left out and listed in the scenario's notes (the
  figures also leave out values beyond ±1e300); a cell marked † lost some of its
  values.
`

// writeScenario renders one scenario's section.
func writeScenario(b *strings.Builder, sc *scenarioGroup, rows []Row, f figures) {
	fmt.Fprintf(b, "\n## %s\n\n", sc.name)
	fmt.Fprintf(b, "Goal: %s %s.", goalName(sc), code(axisName(sc.objective, "objective")))
	if len(sc.limits) == 0 {
		b.WriteString(" No guardrails.\n")
	} else {
		var gs []string
		for _, m := range sc.limits {
			gs = append(gs, guardrailText(sc, m))
		}
		fmt.Fprintf(b, " Guardrails: %s.\n", strings.Join(gs, ", "))
	}
	b.WriteString("\n|  |")
	for _, r := range rows {
		fmt.Fprintf(b, " %s |", escape(string(r.Policy)))
	}
	b.WriteString("\n| --- |")
	for range rows {
		b.WriteString(" ---: |")
	}
	b.WriteString("\n")
	for _, line := range tableLines {
		fmt.Fprintf(b, "| %s |", line.name)
		for _, r := range rows {
			fmt.Fprintf(b, " %s |", line.cell(r))
		}
		b.WriteString("\n")
	}
	var seeds []string
	for _, r := range rows {
		seeds = append(seeds, fmt.Sprintf("%s: %s", escape(string(r.Policy)), seedList(r.Seeds)))
	}
	fmt.Fprintf(b, "\nSeeds: %s.\n", strings.Join(seeds, "; "))

	b.WriteString("\n### Figures\n\n")
	fmt.Fprintf(b, "![true objective per pass](%s)\n\n", f.Objective)
	fmt.Fprintf(b, "The incumbent's true %s after each pass against the true optimum (dashed black), median and interquartile band over seeds per policy.\n\n", code(axisName(sc.objective, "objective")))
	if f.Guardrails != "" {
		fmt.Fprintf(b, "![true guardrails per pass](%s)\n\n", f.Guardrails)
		b.WriteString("Each guardrail's true value for the incumbent after each pass (0: the starting configuration, when the campaign recorded it) against its limit (dashed red), median and interquartile band over seeds per policy.\n\n")
	}
	fmt.Fprintf(b, "![canary exposure](%s)\n\n", f.Canary)
	if rep := f.Representative; rep != nil {
		fmt.Fprintf(b, "Top: the canary stages of %s seed %d (the median final gap of its policy), one bar per pass stacking each stage's traffic share × minutes; red stages truly breached a guardrail. ", escape(string(rep.Policy)), rep.Seed)
	}
	b.WriteString("Bottom: cumulative canary exposure per policy (solid: median and interquartile band; dashed: median of the truly breaching part).\n")

	if len(sc.notes) > 0 {
		b.WriteString("\n### Notes\n\n")
		for _, n := range sc.notes {
			fmt.Fprintf(b, "- %s\n", n)
		}
	}
}

// tableLines are the rows of a scenario's table, in order.
var tableLines = []struct {
	name string
	cell func(Row) string
}{
	{"seeds", func(r Row) string { return strconv.Itoa(len(r.Seeds)) }},
	{"passes", func(r Row) string { return cell(r.Passes, fmtCount) }},
	{"gap at the start", func(r Row) string { return cell(r.InitialGap, fmtPercent) }},
	{"final gap", func(r Row) string { return cell(r.FinalGap, fmtPercent) }},
	{"passes to within 5%", func(r Row) string { return reachCell(r.PassesToWithin5Pct) }},
	{"promotions", func(r Row) string { return cell(r.Promotions, fmtCount) }},
	{"SLO-violating promotions (Σ)", func(r Row) string { return sumCell(r.SLOViolatingPromotions, fmtCount) }},
	{"worse promotions (Σ)", func(r Row) string { return sumCell(r.WorsePromotions, fmtCount) }},
	{"repairs (Σ)", func(r Row) string { return sumCell(r.Repairs, fmtCount) }},
	{"rollbacks", func(r Row) string { return cell(r.Rollbacks, fmtCount) }},
	{"false rollbacks (Σ)", func(r Row) string { return sumCell(r.FalseRollbacks, fmtCount) }},
	{"rollbacks after pass 5", func(r Row) string { return cell(r.RollbacksAfter5, fmtPercent) }},
	{"rejected", func(r Row) string { return cell(r.Rejected, fmtCount) }},
	{"failed", func(r Row) string { return cell(r.Failed, fmtCount) }},
	{"approvals asked", func(r Row) string { return cell(r.ApprovalsAsked, fmtCount) }},
	{"passes skipped", func(r Row) string { return cell(r.Skipped, fmtCount) }},
	{"violating stages (Σ)", func(r Row) string { return sumCell(r.ViolatingStages, fmtCount) }},
	{"worst breach", func(r Row) string { return cell(r.WorstBreach, fmtRatio) }},
	{"passes on an SLO-breaking incumbent", func(r Row) string { return cell(r.IncumbentViolations, fmtCount) }},
	{"canary exposure (share × min)", func(r Row) string { return cell(r.Exposure, fmtDecimal) }},
	{"breaching exposure (share × min)", func(r Row) string { return cell(r.BreachExposure, fmtDecimal) }},
	{"wall (s)", func(r Row) string { return cell(r.WallS, fmtDecimal) }},
}

// cell formats s as "median (min–max)", or the median alone when the
// range would read the same.
func cell(s Stat, f func(float64) string) string {
	if s.N == 0 {
		return "n/a" + mark(s)
	}
	out := f(s.Median)
	if lo, hi := f(s.Min), f(s.Max); lo != hi {
		out += " (" + lo + "–" + hi + ")"
	}
	return out + mark(s)
}

// sumCell formats the sum of s.
func sumCell(s Stat, f func(float64) string) string {
	if s.N == 0 {
		return "n/a" + mark(s)
	}
	return f(s.Sum) + mark(s)
}

func mark(s Stat) string {
	if s.NonFinite > 0 {
		return dagger
	}
	return ""
}

// reachCell formats passes-to-within-5%: "4", "4 (2–7)", "4 (2–never, 1 of
// 3 never)", "never (3–never, 2 of 3 never)", "never".
func reachCell(r Reach) string {
	if r.N == 0 {
		return "n/a"
	}
	f := func(v float64) string {
		if math.IsInf(v, 1) {
			return "never"
		}
		return fmtCount(v)
	}
	out := f(r.Median)
	var in []string
	if lo, hi := f(r.Min), f(r.Max); lo != hi {
		in = append(in, lo+"–"+hi)
	}
	if r.Never > 0 && r.Never < r.N {
		in = append(in, fmt.Sprintf("%d of %d never", r.Never, r.N))
	}
	if len(in) > 0 {
		out += " (" + strings.Join(in, ", ") + ")"
	}
	return out
}

// fmtCount formats a count or a median of counts: "3", "2.5".
func fmtCount(v float64) string { return fixed(v, -1) }

// fmtPercent formats a fraction as a percentage with one decimal.
func fmtPercent(v float64) string { return fixed(100*v, 1) + "%" }

// fmtRatio formats a ratio with two decimals.
func fmtRatio(v float64) string { return fixed(v, 2) }

// fmtDecimal formats a quantity with one decimal.
func fmtDecimal(v float64) string { return fixed(v, 1) }

// bigNumber is the magnitude from which a cell switches to four
// significant digits and an exponent, to stay narrow.
const bigNumber = 1e9

// fixed formats v with prec decimals (-1: as many as needed), or with an
// exponent when it is big or infinite.
func fixed(v float64, prec int) string {
	if math.IsInf(v, 0) || math.Abs(v) >= bigNumber {
		return strconv.FormatFloat(v, 'g', 4, 64)
	}
	return clean(strconv.FormatFloat(v, 'f', prec, 64))
}

// formatFloat formats a limit: integers as such, else six significant digits.
func formatFloat(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return clean(strconv.FormatFloat(v, 'f', 0, 64))
	}
	return strconv.FormatFloat(v, 'g', 6, 64)
}

// clean turns a negative zero such as "-0.0" into "0.0".
func clean(s string) string {
	if strings.HasPrefix(s, "-") && strings.Trim(s[1:], "0.") == "" {
		return s[1:]
	}
	return s
}

// guardrailText formats a guardrail's limits: "`latency_ms` ≤ 200",
// "0.99 ≤ `availability`".
func guardrailText(sc *scenarioGroup, m string) string {
	var lo, hi []string
	for _, v := range sc.minima[m] {
		lo = append(lo, formatFloat(v))
	}
	for _, v := range sc.maxima[m] {
		hi = append(hi, formatFloat(v))
	}
	out := code(m)
	if len(lo) > 0 {
		out = strings.Join(lo, " or ") + " ≤ " + out
	}
	if len(hi) > 0 {
		out += " ≤ " + strings.Join(hi, " or ")
	}
	if len(lo)+len(hi) == 0 {
		out += " (no finite limit)"
	}
	return out
}

// goalName names the scenario's goal, minimize when it is unset.
func goalName(sc *scenarioGroup) string {
	if sc.goal == "" {
		return "minimize (goal unset)"
	}
	return escape(string(sc.goal))
}

// seedList formats seeds: "1, 2, 3".
func seedList(seeds []uint64) string {
	out := make([]string, len(seeds))
	for i, s := range seeds {
		out[i] = strconv.FormatUint(s, 10)
	}
	return strings.Join(out, ", ")
}

// intRange formats "30" or "20–30".
func intRange(lo, hi int) string {
	if lo >= hi {
		return strconv.Itoa(hi)
	}
	return strconv.Itoa(lo) + "–" + strconv.Itoa(hi)
}

// plural formats "1 campaign", "3 campaigns".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

// code formats a name as inline code.
func code(s string) string {
	return "`" + strings.NewReplacer("`", "'", "\n", " ", "\r", " ").Replace(s) + "`"
}

// escape makes free text safe in a table cell.
func escape(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ", "\r", " ").Replace(s)
}
