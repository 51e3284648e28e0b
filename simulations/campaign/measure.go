package campaign

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/passflow/passflow/models"
	"github.com/passflow/passflow/simulations"
	"github.com/passflow/passflow/workflows"
)

// day is the resolution of the world's truth (World.Truth is per day).
const day = 24 * time.Hour

// truth returns cfg's true values on the day that contains at.
func (c *campaign) truth(cfg models.Config, at time.Time) (simulations.Truth, error) {
	t, err := c.world.Truth(cfg, at, c.opts.Seed)
	if err != nil {
		return simulations.Truth{}, fmt.Errorf("the truth of %s at %s: %w", cfg, at.Format(time.RFC3339), err)
	}
	return t, nil
}

// measure turns pass n's final status into its record against the truth.
// It runs when the pass has ended and before its tuner goes on, so the
// service's baseline is what the pass left.
func (c *campaign) measure(n int, id string, st workflows.PassStatus, perr error) (Pass, error) {
	p := Pass{N: n, ID: id, At: st.Started, Ended: st.Ended, Outcome: string(st.Outcome), Reason: st.Reason,
		Optimizer: st.Optimizer, ApprovalAsked: c.asked[id], Answer: c.answers[id]}
	if st.Step != workflows.StepDone { // ended without its own cleanup; its tuner restores the last promotion
		p.Outcome = string(workflows.OutcomeAbandoned)
		if perr != nil {
			p.Reason = perr.Error()
		}
	}
	if p.At.IsZero() {
		p.At = c.requested[n]
	}
	if p.Ended.IsZero() {
		p.Ended = c.env.Now()
	}
	if st.Risk != nil {
		p.RiskBand = string(st.Risk.Band)
	}
	goal, limits := c.spec.Objective.Goal, c.spec.Constraints

	p.Baseline = st.Baseline
	if p.Baseline == nil { // analyze never ran: the pass started from the last incumbent
		p.Baseline = c.incumbent.Clone()
	}
	base, err := c.truth(p.Baseline, p.At)
	if err != nil {
		return p, err
	}
	p.BaselineTruth = &base
	if err := c.settle(&p); err != nil {
		return p, err
	}

	if st.Candidate != nil {
		cand, err := c.truth(st.Candidate, p.At)
		if err != nil {
			return p, err
		}
		p.Candidate, p.CandidateTruth, p.MeasuredChange = st.Candidate, &cand, st.Change
		p.Why, p.Prediction = st.Why, st.Prediction
		if base.Objective != 0 {
			ch := cand.Objective/base.Objective - 1
			p.TrueChange = &ch
		}
		for _, s := range st.Stages {
			if !s.Applied {
				continue
			}
			stage := Stage{Percent: s.Percent, From: s.From, To: s.To, Verdict: s.Verdict}
			if stage.To.IsZero() {
				stage.To = p.Ended
			}
			if stage.Breach, err = c.breach(st.Candidate, stage.From, stage.To); err != nil {
				return p, err
			}
			p.Stages = append(p.Stages, stage)
		}
		l := label(goal, limits, st.Outcome, cand, base)
		p.SLOViolatingPromotion, p.WorsePromotion, p.Repair, p.FalseRollback = l.sloViolating, l.worse, l.repair, l.falseRollback
	}
	return p, nil
}

// unchanged records request n, which started no pass, as a pass that
// changed nothing.
func (c *campaign) unchanged(n int, at time.Time, why string) (Pass, error) {
	p := Pass{N: n, At: at, Ended: at, Outcome: string(workflows.OutcomeSkipped), Reason: why, Baseline: c.incumbent.Clone()}
	base, err := c.truth(p.Baseline, at)
	if err != nil {
		return p, err
	}
	p.BaselineTruth = &base
	return p, c.settle(&p)
}

// optimum returns the true optimum on the day that contains at. A day on
// which no configuration keeps every guardrail has the least violating one
// as its optimum (the gap is then measured against it).
func (c *campaign) optimum(at time.Time) (simulations.Truth, error) {
	_, opt, err := c.world.Optimum(at, c.opts.Seed)
	if err != nil && !errors.Is(err, simulations.ErrNoFeasible) {
		return simulations.Truth{}, fmt.Errorf("the optimum at %s: %w", at.Format(time.RFC3339), err)
	}
	return opt, nil
}

// settle fills the incumbent the service runs after pass p, its truth, the
// optimum and the gap.
func (c *campaign) settle(p *Pass) error {
	inc, err := c.svc.Baseline(context.Background())
	if err != nil {
		return fmt.Errorf("read the incumbent after pass %d: %w", p.N, err)
	}
	c.incumbent = inc
	if p.IncumbentTruth, err = c.truth(inc, p.At); err != nil {
		return err
	}
	opt, err := c.optimum(p.At)
	if err != nil {
		return err
	}
	p.Incumbent, p.Optimum = inc, opt.Objective
	p.Gap = Gap(c.spec.Objective.Goal, p.IncumbentTruth.Objective, opt.Objective)
	p.IncumbentBreach = Breach(c.spec.Constraints, p.IncumbentTruth)
	return nil
}

// instantWorld is a world that also tells true values at an instant (a
// Scenario does, with its Values): a stage's breach is then measured along
// the stage rather than on its days' worst hours.
type instantWorld interface {
	Values(cfg models.Config, t time.Time) (map[string]float64, error)
}

// breachStep is the spacing of the instants a stage's breach is measured
// at in an instantWorld.
const breachStep = 10 * time.Minute

// breach returns the largest true guardrail-to-limit ratio of cfg while a
// stage ran from from to to: at the instants breachInstants gives when the
// world tells true values at an instant, else at day resolution (the
// worst hour of each day the stage spans, World.Truth's guardrails).
func (c *campaign) breach(cfg models.Config, from, to time.Time) (float64, error) {
	worst := 0.0
	if iw, ok := c.world.(instantWorld); ok {
		for _, at := range breachInstants(from, to) {
			v, err := iw.Values(cfg, at)
			if err != nil {
				return 0, fmt.Errorf("the true values of %s at %s: %w", cfg, at.Format(time.RFC3339), err)
			}
			worst = max(worst, Breach(c.spec.Constraints, simulations.Truth{Guardrails: v}))
		}
		return worst, nil
	}
	for _, at := range dayInstants(from, to) {
		t, err := c.truth(cfg, at)
		if err != nil {
			return 0, err
		}
		worst = max(worst, Breach(c.spec.Constraints, t))
	}
	return worst, nil
}

// breachInstants returns from, every breachStep after it before to, and to.
func breachInstants(from, to time.Time) []time.Time {
	out := []time.Time{from}
	for t := from.Add(breachStep); t.Before(to); t = t.Add(breachStep) {
		out = append(out, t)
	}
	if to.After(from) {
		out = append(out, to)
	}
	return out
}

// dayInstants returns one instant in each day [from, to] touches (UTC
// days): from, from plus whole days before to, and to.
func dayInstants(from, to time.Time) []time.Time {
	out := []time.Time{from}
	for t := from.Add(day); t.Before(to); t = t.Add(day) {
		out = append(out, t)
	}
	if !sameDay(from, to) || len(out) > 1 {
		out = append(out, to)
	}
	return out
}

func sameDay(a, b time.Time) bool {
	ya, ma, da := a.UTC().Date()
	yb, mb, db := b.UTC().Date()
	return ya == yb && ma == mb && da == db
}
