package simulations

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/passflow/passflow/models"
	"github.com/passflow/passflow/target"
)

// modelWorldStart is when a ModelWorld's first pass is requested: a fixed
// date, so that campaigns repeat, at 13:00 UTC (mid-day traffic).
var modelWorldStart = time.Date(2026, 6, 1, 13, 0, 0, 0, time.UTC)

// The defaults of a ModelWorld.
const (
	// ModelWorldEvery is the time between two passes of a ModelWorld: one a
	// day, as a nightly schedule would run them.
	ModelWorldEvery = 24 * time.Hour
	// ModelWorldAnswerAfter is how long a ModelWorld's operator takes to
	// approve.
	ModelWorldAnswerAfter = 10 * time.Minute
)

// ModelWorldOption changes a ModelWorld's defaults.
type ModelWorldOption func(*modelWorld)

// WithName names the world (default: the target's name).
func WithName(name string) ModelWorldOption { return func(w *modelWorld) { w.name = name } }

// WithStart sets when the first pass is requested.
func WithStart(t time.Time) ModelWorldOption { return func(w *modelWorld) { w.start = t } }

// WithPassEvery sets the time between two pass requests.
func WithPassEvery(d time.Duration) ModelWorldOption { return func(w *modelWorld) { w.every = d } }

// WithOperator sets how the simulated operator answers approvals.
func WithOperator(op Operator) ModelWorldOption { return func(w *modelWorld) { w.op = op } }

// ModelWorld returns a World over the built-in response surface that spec's
// simulator names (e.g. "web"), its shape fixed by the simulator's seed:
//
//   - the truth is the model's, the same at every time (no drift, no daily
//     cycle): a guardrail's worst hour of any day is its value;
//   - the optimum is Model.Optimum under the spec's objective and guardrails,
//     computed once;
//   - the service is NewService(spec); its noise is a function of the
//     spec's simulator seed and the sample times, so campaigns with
//     different seeds see the same noise and differ by their optimizer's
//     seeds only (Activities.SeedSalt);
//   - the operator approves after ModelWorldAnswerAfter, as the spec's first
//     approver;
//   - passes are requested every ModelWorldEvery (a day) from 2026-06-01
//     13:00 UTC.
//
// A spec whose telemetry is not the simulator, or whose model cannot be
// built, gives a world whose NewService, Truth and Optimum return the error.
func ModelWorld(spec target.Spec, opts ...ModelWorldOption) World {
	w := &modelWorld{spec: spec, name: spec.Name, start: modelWorldStart, every: ModelWorldEvery,
		op: Operator{Answer: AnswerApprove, After: ModelWorldAnswerAfter}}
	if len(spec.Risk.Approvers) > 0 {
		w.op.Approver = spec.Risk.Approvers[0]
	}
	for _, o := range opts {
		o(w)
	}
	return w
}

// modelWorld is the World of ModelWorld.
type modelWorld struct {
	spec  target.Spec
	name  string
	start time.Time
	every time.Duration
	op    Operator

	once    sync.Once
	model   *Model
	err     error
	optOnce sync.Once
	opt     models.Config
	optT    Truth
	optErr  error
}

var _ World = (*modelWorld)(nil)

func (w *modelWorld) Name() string             { return w.name }
func (w *modelWorld) Target() target.Spec      { return w.spec }
func (w *modelWorld) Operator() Operator       { return w.op }
func (w *modelWorld) Start() time.Time         { return w.start }
func (w *modelWorld) PassEvery() time.Duration { return w.every }

// load builds the model once.
func (w *modelWorld) load() (*Model, error) {
	w.once.Do(func() {
		sim := w.spec.Telemetry.Simulator
		if sim == nil {
			w.err = fmt.Errorf("simulations: model world %s: the target's telemetry is not the simulator", w.name)
			return
		}
		w.model, w.err = NewModel(sim.Model, w.spec.Params, sim.Seed)
		if w.err != nil {
			w.err = fmt.Errorf("simulations: model world %s: %w", w.name, w.err)
		}
	})
	return w.model, w.err
}

// NewService returns the spec's simulated service on the clock now; seed
// is not used (see ModelWorld).
func (w *modelWorld) NewService(seed uint64, now func() time.Time) (SimulatedService, error) {
	if _, err := w.load(); err != nil {
		return nil, err
	}
	s, err := NewService(w.spec, Options{Now: now})
	if err != nil {
		return nil, fmt.Errorf("simulations: model world %s: %w", w.name, err)
	}
	return s, nil
}

// Truth returns the model's values of cfg: the same at every time and seed.
func (w *modelWorld) Truth(cfg models.Config, at time.Time, seed uint64) (Truth, error) {
	m, err := w.load()
	if err != nil {
		return Truth{}, err
	}
	vals, err := m.Truth(cfg)
	if err != nil {
		return Truth{}, fmt.Errorf("simulations: model world %s: %w", w.name, err)
	}
	return w.truthOf(vals)
}

// truthOf picks the objective and the guardrails out of a model's values.
func (w *modelWorld) truthOf(vals map[string]float64) (Truth, error) {
	obj, ok := vals[w.spec.Objective.Metric]
	if !ok {
		return Truth{}, fmt.Errorf("simulations: model world %s: the model has no metric %q (objective)", w.name, w.spec.Objective.Metric)
	}
	t := Truth{Objective: obj, Guardrails: make(map[string]float64, len(w.spec.Constraints))}
	for _, c := range w.spec.Constraints {
		v, ok := vals[c.Metric]
		if !ok {
			return Truth{}, fmt.Errorf("simulations: model world %s: the model has no metric %q (guardrail)", w.name, c.Metric)
		}
		t.Guardrails[c.Metric] = v
	}
	return t, nil
}

// Optimum returns the model's constrained optimum, the same at every time
// and seed; it is searched once (Model.Optimum takes a fraction of a
// second) and kept.
func (w *modelWorld) Optimum(at time.Time, seed uint64) (models.Config, Truth, error) {
	w.optOnce.Do(func() {
		m, err := w.load()
		if err != nil {
			w.optErr = err
			return
		}
		o, err := m.Optimum(w.spec.Objective.Metric, w.spec.Objective.Goal, w.spec.Constraints)
		if err != nil {
			w.optErr = fmt.Errorf("simulations: model world %s: %w", w.name, err)
			return
		}
		if !o.Feasible {
			w.optErr = errors.New("simulations: model world " + w.name + ": no configuration keeps every guardrail")
			return
		}
		w.opt = o.Config
		w.optT, w.optErr = w.truthOf(o.Values)
	})
	if w.optErr != nil {
		return nil, Truth{}, w.optErr
	}
	return w.opt.Clone(), cloneTruth(w.optT), nil
}

func cloneTruth(t Truth) Truth {
	g := make(map[string]float64, len(t.Guardrails))
	for k, v := range t.Guardrails {
		g[k] = v
	}
	return Truth{Objective: t.Objective, Guardrails: g}
}
