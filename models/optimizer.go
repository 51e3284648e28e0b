package models

import (
	"errors"
	"fmt"
	"math"
)

// Goal says which way the objective should move.
type Goal string

// The two goals.
const (
	Minimize Goal = "minimize"
	Maximize Goal = "maximize"
)

// Constraint is an SLO guardrail on a measured metric: the metric must stay at
// or below Max and at or above Min, whichever are set.
type Constraint struct {
	Metric string   `yaml:"metric" json:"metric"`
	Max    *float64 `yaml:"max,omitempty" json:"max,omitempty"`
	Min    *float64 `yaml:"min,omitempty" json:"min,omitempty"`
	// Margin keeps promotions that far inside the limits, relative to each
	// limit's magnitude ("10%": a candidate is promoted only when it is
	// shown to stay under 0.9·max). Zero promotes up to the limit.
	Margin Percent `yaml:"margin,omitempty" json:"margin,omitempty"`
}

// Lines returns the limits pulled in by the margin: a value is inside the
// guardrail's margin when lo ≤ value ≤ hi. An unset bound is infinite.
func (c Constraint) Lines() (lo, hi float64) {
	lo, hi = math.Inf(-1), math.Inf(1)
	m := math.Abs(float64(c.Margin))
	if c.Max != nil {
		hi = *c.Max - m*math.Abs(*c.Max)
	}
	if c.Min != nil {
		lo = *c.Min + m*math.Abs(*c.Min)
	}
	return lo, hi
}

// Headroom returns how far value lies inside c's nearer limit, relative
// to that limit's magnitude (negative past it); +Inf when no limit is set
// or the set ones are 0, where a relative distance means nothing.
func (c Constraint) Headroom(value float64) float64 {
	h := math.Inf(1)
	if c.Max != nil && *c.Max != 0 {
		h = min(h, (*c.Max-value)/math.Abs(*c.Max))
	}
	if c.Min != nil && *c.Min != 0 {
		h = min(h, (value-*c.Min)/math.Abs(*c.Min))
	}
	return h
}

// Holds reports whether value satisfies c. NaN never does.
func (c Constraint) Holds(value float64) bool {
	if math.IsNaN(value) {
		return false
	}
	if c.Max != nil && value > *c.Max {
		return false
	}
	if c.Min != nil && value < *c.Min {
		return false
	}
	return true
}

// String formats c as "latency_p95_ms <= 200".
func (c Constraint) String() string {
	switch {
	case c.Max != nil && c.Min != nil:
		return fmt.Sprintf("%v <= %s <= %v", *c.Min, c.Metric, *c.Max)
	case c.Max != nil:
		return fmt.Sprintf("%s <= %v", c.Metric, *c.Max)
	case c.Min != nil:
		return fmt.Sprintf("%s >= %v", c.Metric, *c.Min)
	}
	return c.Metric
}

// Problem is what an optimizer optimizes: a space, an objective goal and the
// guardrails that a good configuration must respect.
type Problem struct {
	Space       Space
	Goal        Goal
	Constraints []Constraint
	// Objective names the objective's metric, the key of its standard error
	// in Observation.Uncertainty; optional.
	Objective string
}

// Observation is one evaluated configuration: what was measured of it, and,
// apart, what the judge concluded. Values are measurements only, never made
// up: a guardrail the judge showed broken is a label (Violated), its value
// the measured mean. A failed evaluation (nothing could be measured) has
// Failed set and counts as infeasible.
type Observation struct {
	Config Config `json:"config"`
	// Objective and Constraints are the measured means (the canary's, at
	// the last stage reached, for a pass's candidate).
	Objective   float64            `json:"objective"`
	Constraints map[string]float64 `json:"constraints,omitempty"`
	Failed      bool               `json:"failed,omitempty"`
	// Uncertainty is the standard error of each measured value (objective
	// and constraint metrics, by metric name), when known.
	Uncertainty map[string]float64 `json:"uncertainty,omitempty"`
	// Source names where the observation came from, e.g. a pass ID.
	Source string `json:"source,omitempty"`
	// Baseline marks a reading of the configuration a canary was compared
	// with, measured beside it in the stage of Stage and Percent: a
	// configuration already tried, measured again, not a trial of its own.
	Baseline bool `json:"baseline,omitempty"`

	// The judge's labels, for a candidate measured in a canary stage.
	// Verdict is the stage's verdict (pass, marginal or fail), Stage and
	// Percent the stage the values were measured in.
	Verdict string  `json:"verdict,omitempty"`
	Stage   int     `json:"stage,omitempty"`
	Percent float64 `json:"percent,omitempty"`
	// Violated lists the guardrails the canary was shown to break: the
	// configuration counts as infeasible whatever its means.
	Violated []string `json:"violated,omitempty"`
	// ObjectiveWorse is set when the objective was shown worse than the
	// baseline's.
	ObjectiveWorse bool `json:"objective_worse,omitempty"`
	// Reasons say why the stage ended as it did.
	Reasons []string `json:"reasons,omitempty"`
	// Baked is set when the verdict is a bake's (target canary.bake_for):
	// judged over the load cycle, not over the stage's hour.
	Baked bool `json:"baked,omitempty"`
}

// LabeledInfeasible reports whether o is labeled infeasible whatever its
// values: not measured, or shown to break a guardrail.
func (o Observation) LabeledInfeasible() bool { return o.Failed || len(o.Violated) > 0 }

// Feasible reports whether o satisfies every constraint of p, and was not
// shown to break one.
func (p Problem) Feasible(o Observation) bool {
	if o.LabeledInfeasible() || math.IsNaN(o.Objective) {
		return false
	}
	for _, c := range p.Constraints {
		v, ok := o.Constraints[c.Metric]
		if !ok || !c.Holds(v) {
			return false
		}
	}
	return true
}

// Better reports whether objective a is better than b under the goal.
func (p Problem) Better(a, b float64) bool {
	if p.Goal == Maximize {
		return a > b
	}
	return a < b
}

// Prediction is what a model believes about a suggestion before it is tried.
type Prediction struct {
	Mean float64 `json:"mean"`
	SD   float64 `json:"sd"`
	// PFeasible is the probability, per constraint metric, that the guardrail holds.
	PFeasible map[string]float64 `json:"p_feasible,omitempty"`
	// PAllFeasible is the probability that every guardrail holds.
	PAllFeasible float64 `json:"p_all_feasible"`
}

// Suggestion is a configuration an optimizer proposes to evaluate next.
type Suggestion struct {
	Config Config `json:"config"`
	// Prediction is nil when the optimizer has no model (the baseline).
	Prediction *Prediction `json:"prediction,omitempty"`
	// LengthScales, when the optimizer has a model, are the fitted length
	// scales per parameter: short ones mark the knobs that matter.
	LengthScales map[string]float64 `json:"length_scales,omitempty"`
	// Why says in a few words how the suggestion was chosen.
	Why string `json:"why,omitempty"`
	// Incumbent, for a repair's step back (bo.Options.Repair), is the
	// prediction at the incumbent the suggestion was judged against: its
	// chance of keeping every guardrail is what the candidate's beats.
	Incumbent *Prediction `json:"incumbent,omitempty"`
}

// TrustRegion bounds a live pass's proposals: only configurations within
// MaxStep (see Space.Step) of Incumbent, and, for optimizers with a model,
// only those believed to satisfy every guardrail with probability at least
// 1 − Delta. bo.Optimizer adds rules of its own: a categorical switch, and
// an integer knob's one-value move past MaxStep, move alone, and a move no
// model has data for stays within twice the incumbent's headroom (see
// blindFactor).
type TrustRegion struct {
	Incumbent Config
	MaxStep   float64
	Delta     float64
}

// ErrNoSafeCandidate is returned by Ask when no configuration inside the trust
// region is believed safe enough to try.
var ErrNoSafeCandidate = errors.New("models: no candidate inside the trust region is believed safe")

// ErrNoGain is returned by Ask in safe mode when the safe candidates are
// predicted to gain less than bo.Options.MinGain: none is worth a canary.
var ErrNoGain = errors.New("models: no safe candidate is worth a canary")

// Optimizer proposes configurations and learns from their measurements. It is
// used ask/tell: Tell it what has been measured, Ask it for n suggestions.
type Optimizer interface {
	Tell(obs ...Observation) error
	Ask(n int) ([]Suggestion, error)
}

// Best returns the best feasible observation, or the best observation overall
// when none is feasible; ok is false when there is nothing to choose from.
func (p Problem) Best(obs []Observation) (best Observation, ok bool) {
	found, feasible := false, false
	for _, o := range obs {
		if o.Failed || math.IsNaN(o.Objective) {
			continue
		}
		f := p.Feasible(o)
		switch {
		case !found, f && !feasible, f == feasible && p.Better(o.Objective, best.Objective):
			best, found, feasible = o, true, f
		}
	}
	return best, found
}
