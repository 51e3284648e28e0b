package app

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/passflow/passflow/models"
	"github.com/passflow/passflow/simulations"
	"github.com/passflow/passflow/simulations/campaign"
	"github.com/passflow/passflow/target"
	"github.com/passflow/passflow/workflows"
)

// demoTruth reads the demo's simulated service from outside, as a campaign
// does (simulations.ModelWorld): the true, noise-free values of its
// objective and guardrails at a configuration, and the true constrained
// optimum, which no pass ever sees.
type demoTruth struct {
	spec    target.Spec
	world   simulations.World
	optimum simulations.Truth
}

func newDemoTruth(spec target.Spec) (*demoTruth, error) {
	w := simulations.ModelWorld(spec)
	_, opt, err := w.Optimum(time.Time{}, 0) // a model world is the same at every time and seed
	if err != nil {
		return nil, fmt.Errorf("demo target %s: optimum: %w", spec.Name, err)
	}
	return &demoTruth{spec: spec, world: w, optimum: opt}, nil
}

// truth returns cfg's true values and its objective's gap to the optimum.
func (d *demoTruth) truth(cfg models.Config) (simulations.Truth, float64, error) {
	t, err := d.world.Truth(cfg, time.Time{}, 0)
	if err != nil {
		return t, 0, err
	}
	return t, campaign.Gap(d.spec.Objective.Goal, t.Objective, d.optimum.Objective), nil
}

// describe sums cfg up in truth: its objective, its gap to the optimum and
// its guardrails against their limits.
func (d *demoTruth) describe(cfg models.Config) string {
	t, gap, err := d.truth(cfg)
	if err != nil {
		return err.Error()
	}
	parts := []string{fmt.Sprintf("true %s %.3f (%.1f%% from the optimum %.3f)", d.spec.Objective.Metric, t.Objective, 100*gap, d.optimum.Objective)}
	for _, c := range d.spec.Constraints {
		parts = append(parts, fmt.Sprintf("%s %.4g (%s)", c.Metric, t.Guardrails[c.Metric], c))
	}
	return strings.Join(parts, ", ")
}

type demoRow struct {
	pass     int
	outcome  workflows.Outcome
	approved *workflows.Approval
	change   string
	config   models.Config
}

// table prints the demo's passes: what each decided and where it left the
// service, in truth.
func (d *demoTruth) table(out io.Writer, start models.Config, rows []demoRow) {
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintf(w, "pass\toutcome\tapproval\tmeasured change\ttrue %s\tgap to optimum\n", d.spec.Objective.Metric)
	t, g, _ := d.truth(start)
	fmt.Fprintf(w, "start\t\t\t\t%.3f\t%.1f%%\n", t.Objective, 100*g)
	for _, r := range rows {
		approval := "-"
		if r.approved != nil {
			approval = "rejected by " + r.approved.Approver
			if r.approved.Approved {
				approval = "approved by " + r.approved.Approver
			}
		}
		t, g, _ := d.truth(r.config)
		fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%.3f\t%.1f%%\n", r.pass, strings.ReplaceAll(string(r.outcome), "_", " "), approval, orDash(r.change), t.Objective, 100*g)
	}
	w.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
