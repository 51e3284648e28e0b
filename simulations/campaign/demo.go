package campaign

import (
	"fmt"
	"io"
	"math"
	"text/tabwriter"
	"time"

	"github.com/passflow/passflow/examples"
	"github.com/passflow/passflow/simulations"
	"github.com/passflow/passflow/target"
)

// The demo world's canary timing: what a real service wants (the demo
// target's own seconds suit a live demo, not days of simulated passes).
const (
	DemoVerifyFor  = 30 * time.Minute
	DemoCheckEvery = time.Minute
)

// DemoName is the name of the demo world among the scenarios.
const DemoName = "demo"

// DemoWorld returns the demo target (examples/targets/demo.yaml) as a
// ModelWorld named "demo", with 30-minute stages checked every minute.
func DemoWorld() (simulations.World, error) {
	spec, err := target.Parse("examples/targets/demo.yaml", examples.DemoTarget)
	if err != nil {
		return nil, fmt.Errorf("campaign: demo world: %w", err)
	}
	spec.Canary.VerifyFor = target.Duration(DemoVerifyFor)
	spec.Canary.CheckEvery = target.Duration(DemoCheckEvery)
	spec.Canary.MaxVerifyFor = target.Duration(2 * DemoVerifyFor)
	return simulations.ModelWorld(spec, simulations.WithName(DemoName)), nil
}

// PrintTable prints one line per campaign: its figures.
func PrintTable(w io.Writer, results []Result) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\tpolicy\tseed\tpasses\tfinal gap\tto ≤5%\tpromoted\trolled back\tfalse rb\tSLO-viol. prom.\tworse prom.\tbreaking stages\tworst breach\tbroken incumbent\tapprovals\twall\t")
	for _, r := range results {
		s := r.Summary
		to := "never"
		if s.PassesToWithin5Pct != nil {
			to = fmt.Sprint(*s.PassesToWithin5Pct)
		}
		final := pct(s.FinalGap)
		if n := len(r.Passes); n > 0 && r.Passes[n-1].IncumbentBreach > 1 {
			final = pct(math.Inf(1)) // a gap means nothing past an SLO
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%.2f\t%d\t%d\t%.1fs\t\n",
			s.Scenario, s.Policy, s.Seed, s.Passes, final, to, s.Promotions, s.Rollbacks, s.FalseRollbacks,
			s.SLOViolatingPromotions, s.WorsePromotions, s.ViolatingStages, s.WorstBreach, s.IncumbentViolations, s.ApprovalsAsked, s.WallS)
	}
	tw.Flush()
}

// pct formats a share or a gap as a percentage; an infinite gap (GapAt of
// an incumbent that breaks a guardrail) as "SLO broken".
func pct(x float64) string {
	if math.IsInf(x, 1) {
		return "SLO broken"
	}
	return fmt.Sprintf("%.1f%%", 100*x)
}
