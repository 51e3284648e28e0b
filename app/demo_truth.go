package app

import (
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"

	"github.com/passflow/passflow/models"
	"github.com/passflow/passflow/simulations"
	"github.com/passflow/passflow/target"
	"github.com/passflow/passflow/workflows"
)

// demoTruth reads the demo's simulated service from outside: the true,
// noise-free value of its objective and guardrails at a configuration, and
// the true constrained optimum, which no pass ever sees.
type demoTruth struct {
	spec    target.Spec
	model   *simulations.Model
	optimum simulations.Optimum
}

func newDemoTruth(spec target.Spec) (*demoTruth, error) {
	sim := spec.Telemetry.Simulator
	if sim == nil {
		return nil, fmt.Errorf("demo target %s: expected simulator telemetry", spec.Name)
	}
	m, err := simulations.NewModel(sim.Model, spec.Params, sim.Seed)
	if err != nil {
		return nil, fmt.Errorf("demo target %s: %w", spec.Name, err)
	}
	opt, err := m.Optimum(spec.Objective.Metric, spec.Objective.Goal, spec.Constraints)
	if err != nil {
		return nil, fmt.Errorf("demo target %s: optimum: %w", spec.Name, err)
	}
	return &demoTruth{spec: spec, model: m, optimum: opt}, nil
}

// gap is the relative gap of cfg's true objective to the optimum's.
func (d *demoTruth) gap(cfg models.Config) (value, gap float64) {
	t, err := d.model.Truth(cfg)
	if err != nil {
		return 0, 0
	}
	value = t[d.spec.Objective.Metric]
	best := d.optimum.Objective
	gap = (value - best) / math.Abs(best)
	if d.spec.Objective.Goal == models.Maximize {
		gap = -gap
	}
	return value, gap
}

// describe sums cfg up in truth: its objective, its gap to the optimum and
// its guardrails against their limits.
func (d *demoTruth) describe(cfg models.Config) string {
	t, err := d.model.Truth(cfg)
	if err != nil {
		return err.Error()
	}
	value, gap := d.gap(cfg)
	parts := []string{fmt.Sprintf("true %s %.3f (%.1f%% from the optimum %.3f)", d.spec.Objective.Metric, value, 100*gap, d.optimum.Objective)}
	for _, c := range d.spec.Constraints {
		parts = append(parts, fmt.Sprintf("%s %.4g (%s)", c.Metric, t[c.Metric], c))
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
	v, g := d.gap(start)
	fmt.Fprintf(w, "start\t\t\t\t%.3f\t%.1f%%\n", v, 100*g)
	for _, r := range rows {
		approval := "-"
		if r.approved != nil {
			approval = "rejected by " + r.approved.Approver
			if r.approved.Approved {
				approval = "approved by " + r.approved.Approver
			}
		}
		v, g := d.gap(r.config)
		fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%.3f\t%.1f%%\n", r.pass, strings.ReplaceAll(string(r.outcome), "_", " "), approval, orDash(r.change), v, 100*g)
	}
	w.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
