package bo

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"

	"github.com/passflow/passflow/models"
	"github.com/passflow/passflow/models/judge"
)

// Options configure an Optimizer. The zero value is usable.
type Options struct {
	// Seed makes every random choice (initial design, candidates, fit
	// restarts) reproducible: the same seed, space and sequence of Tell and
	// Ask calls give the same suggestions.
	Seed uint64
	// InitialPoints is the size of the initial design (the incumbent, then
	// scrambled Sobol points) proposed before the model takes over. Zero
	// means 2·dimensions+2, at least 5 and at most 20; in safe mode
	// dimensions+1, at least 3 and at most 6, the design's points checked
	// by the safety model from two observations on (the one point before
	// that switches a categorical knob alone, when the space has one).
	InitialPoints int
	// Region, when set, turns on the safe mode of a live pass: every
	// suggestion lies within Region.MaxStep (see Space.Step) of
	// Region.Incumbent, switches at most one categorical parameter, and once
	// a model exists is believed to satisfy every guardrail with probability
	// at least 1 − Region.Delta (0.05 when Delta is zero). When nothing
	// qualifies Ask returns an error wrapping ErrNoSafeCandidate.
	Region *models.TrustRegion
	// Deterministic pins the observation noise near zero, for objectives
	// that return the same value every time they are measured. Otherwise the
	// noise is learned, above a floor (safeNoiseFloor in safe mode, a lower
	// one outside it), and outside safe mode an objective whose learned
	// noise is almost nothing is then modeled as a deterministic one is
	// (see noiseless).
	Deterministic bool
	// Candidates is the number of quasi-random candidates scored per
	// suggestion before the best are refined by gradient ascent. Zero means
	// 2048, fewer once the history is large.
	Candidates int
	// MinGain, in safe mode, is the least relative improvement over the
	// incumbent worth a canary (0.02 for 2%): a model suggestion whose
	// predicted gain plus one predictive standard deviation is below it is
	// not proposed, and when none qualifies Ask returns an error wrapping
	// ErrNoGain. It applies from 2·dimensions+2 trials on (at least 5;
	// observations other than Baseline readings): a model of fewer points
	// is too sure of itself. A gain the canary cannot show is a rollback,
	// or a promotion on luck. Zero proposes any gain.
	MinGain float64
	// Repair, in safe mode, lists the guardrails the incumbent breaks (by
	// metric): the pass's job is then to restore them, at whatever cost. A
	// repair proposes the configuration with the best predicted objective
	// among those believed to keep every guardrail that the models predict
	// further from the broken guardrails' lines than the incumbent, and no
	// nearer any other's: a repair does not spend headroom for objective
	// (MinGain does not apply: the objective may well get worse). When none
	// is, it proposes the one most likely to keep them all, if that is more
	// likely than not; failing that, a step back: the restoring candidate
	// most likely to keep them all, if likelier than the incumbent and at
	// least 1 − models.StepBackMaxViolation (Suggestion.Incumbent holds the
	// incumbent's prediction).
	Repair []string
	// Restarts turns on restart steps outside safe mode: once the best value
	// has stalled, every other suggestion searches outside the incumbent's
	// basin (see restartStep). They help a multimodal objective leave a
	// local optimum (Hartmann6) and cost precision on objectives whose
	// first basin was the right one; off by default.
	Restarts bool
}

// warpDelta sets how strongly the log warp of a noiseless objective expands
// the values near the best seen, as a share of their median distance: 1%
// resolves the last decades of improvement near an optimum without letting
// the warp's curvature dominate far from it.
const warpDelta = 0.01

// defaultDelta is the guardrail risk accepted in safe mode when the trust
// region does not set one.
const defaultDelta = 0.05

// Optimizer is passflow's Bayesian optimizer: a Gaussian-process surrogate
// of the objective and of every guardrail metric, maximizing log expected
// improvement weighted by the probability that the guardrails hold.
//
// Every numeric knob is mapped to [0, 1] (linear or log scale), integers are
// evaluated on their exact grid and categorical knobs through a Hamming
// distance. Each process has a Matérn-5/2 kernel with one length scale per
// knob, a constant mean and learned noise, fitted by maximizing the marginal
// likelihood under priors from several starts. Until something feasible has
// been seen it maximizes the probability of feasibility instead. With
// Options.Restarts, once the best value has stalled, every other
// suggestion is a restart step that searches outside the incumbent's basin
// (see restartStep). Failed evaluations (and NaN or infinite measurements)
// count as infeasible and feed a model of failure.
//
// An Optimizer is not safe for concurrent use.
type Optimizer struct {
	problem models.Problem
	opts    Options
	enc     *encoding
	delta   float64
	inc     []float64 // encoded incumbent of the initial design / region
	incCfg  models.Config

	obs  []models.Observation
	xs   [][]float64
	seen map[string]bool
	// baselines counts the observations marked Baseline (see trials).
	baselines int

	model       *boModel
	modelN      int // len(obs) the model was fitted on
	fits        int
	warmObj     *gpHyper
	warmCons    map[string]*gpHyper
	design      *sobol
	asksSince   int
	hyperN      int         // len(obs) at the last hyperparameter fit
	warmRestart *gpHyper    // hyperparameters of the last restart model
	blind       float64     // blindMove as of this Ask
	measured    []span      // measuredSpans as of this Ask
	rejected    [][]float64 // rejectedSince as of this Ask
	// rawNoise is the noise the last fit of the raw objective learned;
	// noiselessSeen that it judged the objective noiseless (see noiseless).
	rawNoise      *float64
	noiselessSeen bool
	// warmRaw and warmLog warm-start the two fits of scaleByEvidence,
	// logScale its last choice.
	warmRaw, warmLog *gpHyper
	logScale         bool
}

// New returns an optimizer for p. The space must be valid, the
// goal minimize or maximize (empty means minimize), and the trust region, if
// any, must hold a valid incumbent and a max step in (0, 1].
func New(p models.Problem, opts Options) (*Optimizer, error) {
	if errs := p.Validate(); len(errs) > 0 {
		return nil, fmt.Errorf("bo: invalid problem: %w", errors.Join(fieldErrs(errs)...))
	}
	if p.Goal == "" {
		p.Goal = models.Minimize
	}
	if opts.InitialPoints < 0 {
		return nil, fmt.Errorf("bo: initial points must be >= 0, got %d", opts.InitialPoints)
	}
	if opts.Candidates < 0 {
		return nil, fmt.Errorf("bo: candidates must be >= 0, got %d", opts.Candidates)
	}
	o := &Optimizer{
		problem:  p,
		opts:     opts,
		enc:      newEncoding(p.Space),
		seen:     map[string]bool{},
		warmCons: map[string]*gpHyper{},
		design:   newSobol(len(p.Space), opts.Seed^0x6a09e667f3bcc908),
	}
	if o.opts.InitialPoints == 0 {
		o.opts.InitialPoints = min(20, max(5, 2*len(p.Space)+2))
		if opts.Region != nil {
			// A live pass is a day of canaries: the model, safety-checked,
			// takes over after the incumbent and d more points.
			o.opts.InitialPoints = min(6, max(3, len(p.Space)+1))
		}
	}
	if o.opts.Candidates == 0 {
		o.opts.Candidates = 2048
	}
	o.incCfg = p.Space.Current()
	if r := opts.Region; r != nil {
		if err := checkRegion(p.Space, *r); err != nil {
			return nil, err
		}
		o.delta = r.Delta
		if o.delta == 0 {
			o.delta = defaultDelta
		}
		o.incCfg = r.Incumbent.Clone()
	}
	inc, err := o.enc.encode(o.incCfg)
	if err != nil {
		return nil, err
	}
	o.inc = inc
	return o, nil
}

// checkRegion reports what is wrong with r as the trust region of a space:
// an incumbent outside the space, or a radius or confidence out of range.
func checkRegion(s models.Space, r models.TrustRegion) error {
	if err := s.CheckConfig(r.Incumbent); err != nil {
		return fmt.Errorf("bo: trust region incumbent: %w", err)
	}
	if errs := r.Validate(); len(errs) > 0 {
		return fmt.Errorf("bo: trust region: %w", errors.Join(fieldErrs(errs)...))
	}
	return nil
}

func fieldErrs(errs []models.FieldError) []error {
	out := make([]error, len(errs))
	for i, e := range errs {
		out[i] = e
	}
	return out
}

// Tell adds observations to the history. Every configuration must be valid
// for the space; otherwise nothing is added. An observation whose objective
// or a guardrail metric is NaN or infinite is recorded as failed.
func (o *Optimizer) Tell(obs ...models.Observation) error {
	xs := make([][]float64, len(obs))
	clean := make([]models.Observation, len(obs))
	for i, ob := range obs {
		if err := o.problem.Space.CheckConfig(ob.Config); err != nil {
			return fmt.Errorf("bo: tell: observation %d: %w", i, err)
		}
		x, err := o.enc.encode(ob.Config)
		if err != nil {
			return fmt.Errorf("bo: tell: observation %d: %w", i, err)
		}
		xs[i] = x
		ob.Config = ob.Config.Clone()
		if math.IsNaN(ob.Objective) || math.IsInf(ob.Objective, 0) {
			ob.Failed = true
		}
		if ob.Constraints != nil {
			cs := make(map[string]float64, len(ob.Constraints))
			for k, v := range ob.Constraints {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					ob.Failed = true
					continue
				}
				cs[k] = v
			}
			ob.Constraints = cs
		}
		clean[i] = ob
	}
	for i, ob := range clean {
		o.obs = append(o.obs, ob)
		o.xs = append(o.xs, xs[i])
		o.seen[ob.Config.String()] = true
		if ob.Baseline {
			o.baselines++
		}
	}
	if len(obs) > 0 {
		o.asksSince = 0
	}
	return nil
}

// trials counts the observations that tried a configuration: every one but
// the readings of a baseline beside a canary (models.Observation.Baseline).
// The initial design, and the rules that wait for a history of some length,
// count trials.
func (o *Optimizer) trials() int { return len(o.obs) - o.baselines }

// History returns the observations told so far, failed ones marked.
func (o *Optimizer) History() []models.Observation { return slices.Clone(o.obs) }

// Ask returns n new configurations to evaluate, none of them already in the
// history or suggested before. Before the history holds InitialPoints
// trials (see trials) they come from the initial design; afterwards from
// the model, a batch of n by the Kriging believer (each pick is assumed to
// measure what the model predicts before the next is chosen). In safe mode
// Ask returns fewer than n suggestions and an error wrapping
// ErrNoSafeCandidate when no more candidates qualify.
func (o *Optimizer) Ask(n int) ([]models.Suggestion, error) {
	if n < 1 {
		return nil, fmt.Errorf("bo: ask for at least one suggestion, got %d", n)
	}
	rng := rand.New(rand.NewPCG(o.opts.Seed, uint64(len(o.obs))<<16|uint64(o.asksSince)))
	o.asksSince++
	o.blind = o.blindMove()
	o.measured = o.measuredSpans()
	if o.opts.Region != nil {
		o.rejected = o.rejectedSince()
	}
	var out []models.Suggestion
	// In safe mode the design obeys the safety model as soon as one can be
	// fitted (two observations): the design's quasi-random points are where
	// a live service would otherwise meet its cliffs unwarned.
	var safety *boModel
	if o.opts.Region != nil && o.trials() >= safeDesignFrom && o.trials() < o.opts.InitialPoints {
		m, err := o.fit(rng)
		if err != nil {
			return nil, err
		}
		safety = m
	}
	for len(out) < n && o.trials()+len(out) < o.opts.InitialPoints {
		s, ok := o.designPoint(o.trials()+len(out), safety)
		if !ok {
			break
		}
		o.seen[s.Config.String()] = true
		out = append(out, s)
	}
	if len(out) == n {
		return out, nil
	}
	if len(o.obs) == 0 {
		// Nothing to model and the design is exhausted.
		return out, fmt.Errorf("bo: no new configuration left in the initial design")
	}
	m, err := o.fit(rng)
	if err != nil {
		return out, err
	}
	// The model is about to absorb fantasies; refit it next time.
	o.model = nil
	for q := 0; len(out) < n; q++ {
		s, x, err := o.propose(m, rng, o.restartStep(m, len(o.obs)+q))
		if err != nil {
			return out, err
		}
		if n > 1 {
			s.Why += fmt.Sprintf(" (batch pick %d of %d, Kriging believer)", q+1, n-len(out)+q)
		}
		o.seen[s.Config.String()] = true
		out = append(out, s)
		if len(out) < n {
			if err := m.believe(x); err != nil {
				return out, err
			}
		}
	}
	return out, nil
}

// minGainFrom is the number of trials from which Options.MinGain applies
// in d dimensions: 2d+2, at least 5.
func minGainFrom(d int) int { return max(5, 2*d+2) }

// safeDesignFrom is the number of observations from which a safe-mode
// design point must be believed safe: with fewer, no model can be fitted.
const safeDesignFrom = 2

// designPoint returns the k-th point of the initial design: the incumbent,
// then scrambled Sobol points (inside the trust region in safe mode). With a
// safety model, only points it believes keep every guardrail with
// probability at least 1 − δ qualify; ok is false when none does.
func (o *Optimizer) designPoint(k int, safety *boModel) (models.Suggestion, bool) {
	if !o.seen[o.incCfg.String()] {
		return models.Suggestion{Config: o.incCfg.Clone(), Why: "initial design: the incumbent (current configuration)"}, true
	}
	q := make([]float64, o.enc.dim())
	if o.opts.Region != nil && safety == nil {
		// A point no safety model checks moves one knob only: a categorical
		// one (say the architecture) to another choice, the numeric knobs
		// kept. A choice no observation has is one no model can vouch for
		// later, and a switch alone measures its effect cleanly.
		o.design.point(uint64(k), q)
		if c, ok := o.switchPoint(q); ok {
			return models.Suggestion{Config: c, Why: fmt.Sprintf("initial design: point %d of %d switches one categorical knob, the numeric knobs kept",
				k+1, o.opts.InitialPoints)}, true
		}
	}
	b := o.searchBox()
	if o.opts.Region != nil && safety == nil {
		// No model checks this point: an integer knob's one-value move,
		// which may lie far past max_step (one more model instance on a
		// GPU is +50% of its memory), waits until one can.
		b = o.enc.regionBox(o.inc, o.opts.Region.MaxStep, true)
	}
	for idx := uint64(k); idx < uint64(k)+1000; idx++ {
		o.design.point(idx, q)
		u := o.enc.fromUnitCube(q, b)
		c := o.enc.decode(u)
		if o.opts.Region != nil && safety == nil {
			c = o.shrinkBlind(u, b)
		}
		if o.seen[c.String()] || (o.opts.Region != nil && !o.withinRegion(c)) {
			continue
		}
		why := fmt.Sprintf("initial design: scrambled Sobol point %d of %d", k+1, o.opts.InitialPoints)
		if o.opts.Region != nil {
			why += fmt.Sprintf(", within max_step %.3g of the incumbent%s", o.opts.Region.MaxStep, o.spanNote())
		}
		var pred *models.Prediction
		if safety != nil {
			x, err := o.enc.encode(c)
			if err != nil {
				continue
			}
			if pred = safety.prediction(x); pred.PAllFeasible < 1-o.delta {
				continue
			}
			why += fmt.Sprintf(", believed safe (P(guardrails hold) %.3f)", pred.PAllFeasible)
		}
		return models.Suggestion{Config: c, Why: why, Prediction: pred}, true
	}
	return models.Suggestion{}, false
}

// switchPoint returns the incumbent with its first categorical knob that
// has an unseen single switch moved to another choice (the one the design
// coordinate q picks among them); ok is false when there is none.
func (o *Optimizer) switchPoint(q []float64) (models.Config, bool) {
	for i, p := range o.problem.Space {
		if p.Type != models.Categorical {
			continue
		}
		var others []string
		for _, ch := range p.Choices {
			c := o.incCfg.Clone()
			c[p.Name] = models.Str(ch)
			if ch != o.incCfg[p.Name].String() && !o.seen[c.String()] {
				others = append(others, ch)
			}
		}
		if len(others) == 0 {
			continue
		}
		c := o.incCfg.Clone()
		c[p.Name] = models.Str(others[min(int(q[i]*float64(len(others))), len(others)-1)])
		return c, true
	}
	return nil, false
}

func (o *Optimizer) searchBox() box {
	if o.opts.Region != nil {
		return o.enc.regionBox(o.inc, o.opts.Region.MaxStep, false)
	}
	return o.enc.unitBox()
}

// LengthScales returns the fitted length scales of the objective's model by
// parameter name (nil before a model exists). In the unit cube a length
// scale well below 1 marks a knob that matters; categorical knobs compare
// choices, so below 1 means the choice matters.
func (o *Optimizer) LengthScales() map[string]float64 {
	if o.warmObj == nil {
		return nil
	}
	return o.lengthScales(*o.warmObj)
}

func (o *Optimizer) lengthScales(h gpHyper) map[string]float64 {
	ls := make(map[string]float64, len(h.ls))
	for i, p := range o.problem.Space {
		ls[p.Name] = h.ls[i]
	}
	return ls
}

// Recommendation is the optimizer's pick of the best configuration seen.
type Recommendation struct {
	// Observation is the recommended observation, as told.
	Observation models.Observation `json:"observation"`
	// Index is its position in the history (the order of Tell).
	Index int `json:"index"`
	// Prediction is the model's belief at the point, nil without a model.
	Prediction *models.Prediction `json:"prediction,omitempty"`
}

// Recommend returns the best observed configuration by the model's
// posterior mean of the objective, which discounts lucky noisy measurements,
// among the feasible observations if any was feasible (otherwise the best
// by Problem.Best). ok is false when nothing succeeded yet.
func (o *Optimizer) Recommend() (r Recommendation, ok bool) {
	feasible := -1
	var idx []int
	for i, ob := range o.obs {
		if o.problem.Feasible(ob) {
			idx = append(idx, i)
			feasible = i
		}
	}
	if feasible < 0 {
		best, ok := o.problem.Best(o.obs)
		if !ok {
			return r, false
		}
		for i, ob := range o.obs {
			if ob.Config.Equal(best.Config) && ob.Objective == best.Objective {
				return Recommendation{Observation: ob, Index: i}, true
			}
		}
	}
	m, err := o.fit(rand.New(rand.NewPCG(o.opts.Seed, uint64(len(o.obs))<<16|0xffff)))
	if err != nil || m.obj == nil {
		best, _ := o.problem.Best(o.obs)
		i := slices.IndexFunc(o.obs, func(ob models.Observation) bool {
			return ob.Config.Equal(best.Config) && ob.Objective == best.Objective
		})
		return Recommendation{Observation: o.obs[i], Index: i}, true
	}
	xs := make([]float64, 0, len(idx)*o.enc.dim())
	for _, i := range idx {
		xs = append(xs, o.xs[i]...)
	}
	mu, _ := m.obj.predict(xs, len(idx))
	bi := 0
	for j := range idx {
		if mu[j] < mu[bi] {
			bi = j
		}
	}
	i := idx[bi]
	pred := m.prediction(o.xs[i])
	return Recommendation{Observation: o.obs[i], Index: i, Prediction: pred}, true
}

// fit returns the model of the current history, fitting it if the history
// changed since the last fit.
func (o *Optimizer) fit(rng *rand.Rand) (*boModel, error) {
	if o.model != nil && o.modelN == len(o.obs) {
		return o.model, nil
	}
	m, err := o.buildModel(rng)
	if err != nil {
		return nil, err
	}
	o.model, o.modelN = m, len(o.obs)
	o.fits++
	return m, nil
}

// The work a hyperparameter fit gets as the history grows. A fit costs many
// Cholesky factorizations of the kernel matrix; conditioning on new data with
// the last fit's hyperparameters costs one. The figures keep a suggestion
// within BENCHMARKS.md's budgets (50 ms at 100 observations in 6-D, 300 ms at
// 500) while the fit stays as good as a full multi-start fit's on the
// benchmark functions.
const (
	// refitAlwaysUpTo: up to this many observations every new one refits
	// the hyperparameters; a short history's fit moves with each point.
	refitAlwaysUpTo = 60
	// refitDivisor: beyond refitAlwaysUpTo, a refit waits for n/refitDivisor
	// new observations (5% of the history), which keeps the mean cost of a
	// suggestion near the cost of conditioning.
	refitDivisor = 20
	// warmStartsUpTo, warmStartEvery: a warm refit adds one random start
	// while the history is short (the likelihood surface still changes
	// shape), and every warmStartEvery-th fit after that (a chance to leave
	// a local optimum of the likelihood the warm start sits in).
	warmStartsUpTo, warmStartEvery = 40, 5
	// coldStarts is the random starts of a cold fit (besides the default
	// hyperparameters): each live pass starts cold on its whole history.
	coldStarts = 2
	// coldSubset, coldRefineEvals: a cold fit runs its starts on a subset
	// of coldSubset points and refines the winner on all of them for at most
	// coldRefineEvals evaluations; on 100–500 observations its likelihood
	// was within ~1 nat of the full fit's (BENCHMARKS.md, Optimizer).
	coldSubset, coldRefineEvals = 50, 10
	// fitEvals, fitEvalsLong: likelihood evaluations per start, fewer
	// beyond longHistory observations, where each costs an O(n³)
	// factorization.
	fitEvals, fitEvalsLong, longHistory = 80, 40, 100
	// fitPoints caps the points a fit sees (a subset spread over the
	// space), so that a fit's cost stops growing with the history.
	fitPoints = 200
)

// noise is how the fits treat the observation noise: pinned in the
// deterministic mode; otherwise learned above safeNoiseFloor in safe mode,
// above offlineNoiseFloor outside it.
func (o *Optimizer) noise() noiseSpec {
	switch {
	case o.opts.Deterministic:
		return noiseSpec{pinned: true, floor: safeNoiseFloor}
	case o.opts.Region != nil:
		return noiseSpec{floor: safeNoiseFloor}
	}
	return noiseSpec{floor: offlineNoiseFloor}
}

// fitFor chooses the work of a fit on n points.
func (o *Optimizer) fitFor(n int, warm bool) fitSettings {
	s := fitSettings{noise: o.noise(), maxEvals: fitEvals, maxPoints: fitPoints}
	switch {
	case !warm:
		s.starts = coldStarts
		s.subset, s.refineEvals = coldSubset, coldRefineEvals
	case n <= warmStartsUpTo || o.fits%warmStartEvery == 0:
		s.starts = 1
	}
	if n > longHistory {
		s.maxEvals = fitEvalsLong
	}
	return s
}

// hyper returns the hyperparameters of one process: refitted when refit is
// set or there is no previous fit to reuse.
func (o *Optimizer) hyper(x, y []float64, warm *gpHyper, refit bool, rng *rand.Rand) gpHyper {
	return o.hyperCapped(x, y, warm, refit, 0, rng)
}

// hyperCapped is hyper with every categorical knob's length scale fitted
// under catLSMax (none when 0).
func (o *Optimizer) hyperCapped(x, y []float64, warm *gpHyper, refit bool, catLSMax float64, rng *rand.Rand) gpHyper {
	if !refit && warm != nil {
		return warm.clone()
	}
	s := o.fitFor(len(y), warm != nil)
	s.catLSMax = catLSMax
	return fitHyper(o.enc.cat, x, y, warm, s, rng)
}

// buildModel fits the model of the whole history: the objective's process,
// one per guardrail, and, once something failed, the failure indicator's.
// The hyperparameters are refitted on every new observation while the
// history is short, then every n/refitDivisor new observations (fitFor).
func (o *Optimizer) buildModel(rng *rand.Rand) (*boModel, error) {
	n := len(o.obs)
	refit := n <= refitAlwaysUpTo || n-o.hyperN >= n/refitDivisor
	if refit {
		o.hyperN = n
	}
	m := &boModel{enc: o.enc, problem: o.problem, best: math.Inf(1), sign: 1}
	if o.problem.Goal == models.Maximize {
		m.sign = -1
	}
	if err := o.objectiveModel(m, refit, rng); err != nil {
		return nil, err
	}
	for _, c := range o.problem.Constraints {
		cm, err := o.guardrailModel(c, refit, rng)
		if err != nil {
			return nil, err
		}
		m.cons = append(m.cons, cm)
	}
	cm, ok, err := o.failureModel(refit, rng)
	if err != nil {
		return nil, err
	}
	if ok {
		m.cons = append(m.cons, cm)
	}
	return m, nil
}

// objectiveModel fits m's objective on every successful observation, each
// with its measurement's standard error when known (per-point noise), and
// sets the best predicted value among the feasible ones.
func (o *Optimizer) objectiveModel(m *boModel, refit bool, rng *rand.Rand) error {
	var xo, yo, seo []float64
	var feasibleX []float64
	nf := 0
	for i, ob := range o.obs {
		if ob.Failed {
			continue
		}
		xo = append(xo, o.xs[i]...)
		yo = append(yo, m.sign*ob.Objective)
		seo = append(seo, ob.Uncertainty[o.problem.Objective])
		if o.problem.Feasible(ob) {
			feasibleX = append(feasibleX, o.xs[i]...)
			nf++
		}
	}
	if len(yo) == 0 {
		return nil
	}
	var h gpHyper
	switch {
	case o.noiseless(seo) && len(yo) > 2:
		// Model log(y - min + δ): noiseless objectives often span orders
		// of magnitude, and the log scale resolves the basin near the
		// best value instead of the far-away peaks.
		// Only when that makes the values less skewed (a right-skewed
		// objective like Branin's, not a left-skewed one like
		// Hartmann6's), a one-parameter Box–Cox choice.
		if wy, lo, delta := logWarp(yo); math.Abs(skewness(wy)) < math.Abs(skewness(yo)) {
			m.warp, m.wMin, m.wDelta = true, lo, delta
			yo = wy
		}
		h = o.hyper(xo, yo, o.warmObj, refit, rng)
	case o.warpByEvidence(seo):
		var wy []float64
		if h, wy = o.scaleByEvidence(m, xo, yo, refit, rng); m.warp {
			yo = wy
		}
	default:
		h = o.hyper(xo, yo, o.warmObj, refit, rng)
	}
	var se []float64
	if !m.warp {
		se = seo
	}
	g, err := newGP(o.enc.cat, xo, yo, se, h)
	if err != nil {
		return err
	}
	m.obj = g
	o.warmObj = &h
	if !m.warp {
		o.rawNoise = &h.noise
	}
	if nf > 0 {
		mu, _ := g.predict(feasibleX, nf)
		m.best = slices.Min(mu)
		m.feasibleSeen = true
	}
	return nil
}

// logWarp returns log(y − min + δ) of each of ys, with min and δ: δ is
// warpDelta of the distance from the minimum to the median.
func logWarp(ys []float64) (wy []float64, lo, delta float64) {
	srt := slices.Sorted(slices.Values(ys))
	lo, med := srt[0], srt[len(srt)/2]
	delta = max(warpDelta*(med-lo), 1e-12*(1+math.Abs(lo)))
	wy = make([]float64, len(ys))
	for i, v := range ys {
		wy[i] = math.Log(v - lo + delta)
	}
	return wy, lo, delta
}

// scaleByEvidence fits the objective on the raw scale and on the log
// (logWarp), and keeps the scale whose model explains the values better: its
// evidence, the log's counted on the raw values' scale (with its Jacobian,
// −Σ log(y−min+δ)). The scales are compared when the hyperparameters are
// refitted; in between, the last choice stands, as the hyperparameters do.
// When the log is kept it sets m's warp and returns the warped values with
// their hyperparameters; otherwise the raw ones'.
func (o *Optimizer) scaleByEvidence(m *boModel, xo, yo []float64, refit bool, rng *rand.Rand) (gpHyper, []float64) {
	wy, lo, delta := logWarp(yo)
	useLog := o.logScale
	switch {
	case refit || o.warmRaw == nil || o.warmLog == nil:
		hr := o.hyper(xo, yo, o.warmRaw, refit, rng)
		hw := o.hyper(xo, wy, o.warmLog, refit, rng)
		o.warmRaw, o.warmLog, o.rawNoise = &hr, &hw, &hr.noise
		jacobian := 0.0
		for _, w := range wy {
			jacobian -= w
		}
		ns := o.noise()
		useLog = logEvidence(o.enc.cat, xo, wy, hw, ns)+jacobian > logEvidence(o.enc.cat, xo, yo, hr, ns)
		o.logScale = useLog
	}
	if useLog {
		m.warp, m.wMin, m.wDelta = true, lo, delta
		return o.warmLog.clone(), wy
	}
	return o.warmRaw.clone(), nil
}

// warpByEvidence reports whether the objective's scale, raw or log, is
// chosen by the evidence of a model on each: outside safe mode, with the
// noise learned and not judged away, no standard errors given (a log scale
// would change their meaning), and judgeNoiseFrom observations or more.
func (o *Optimizer) warpByEvidence(se []float64) bool {
	return o.opts.Region == nil && !o.opts.Deterministic && !o.noiselessSeen && len(se) >= judgeNoiseFrom && !measuredSE(se)
}

// measuredSE reports whether any observation carries a standard error.
func measuredSE(se []float64) bool {
	return slices.ContainsFunc(se, func(v float64) bool { return v > 0 })
}

// noiselessBelow is the learned noise (a variance in standardized output
// units, an sd of 1% of the outputs' spread) under which an objective
// counts as noiseless, once the history holds judgeNoiseFrom observations.
const (
	noiselessBelow = 1e-4
	judgeNoiseFrom = 10
)

// noiseless reports whether the objective is to be modeled as noiseless,
// which allows the log warp: in the deterministic mode; and outside safe
// mode when no observation carries a standard error and a fit of the raw
// values on judgeNoiseFrom observations or more learned almost no noise (an
// offline objective that is in fact noiseless, as a simulation's is). The
// judgement sticks: a warped fit's noise, on the log scale, says nothing of
// the raw values'. A live service's objective is never judged noiseless.
func (o *Optimizer) noiseless(se []float64) bool {
	switch {
	case o.opts.Deterministic || o.noiselessSeen:
		return true
	case o.opts.Region != nil || o.rawNoise == nil || len(se) < judgeNoiseFrom:
		return false
	case measuredSE(se):
		return false
	}
	o.noiselessSeen = *o.rawNoise < noiselessBelow
	return o.noiselessSeen
}

// guardrailModel fits c's process on every observation that measured its
// metric, with its standard error. A guardrail whose values and limits are
// all positive (latency, error ratio, cost) is modeled on the log scale,
// where knees and cliffs are gentler and noise is closer to constant. The
// lines are the limits pulled in by the constraint's margin: the optimizer
// aims at candidates a canary can promote.
func (o *Optimizer) guardrailModel(c models.Constraint, refit bool, rng *rand.Rand) (conModel, error) {
	cm := conModel{name: c.Metric, lo: math.Inf(-1), hi: math.Inf(1)}
	var xc, yc, sec []float64
	for i, ob := range o.obs {
		if v, ok := ob.Constraints[c.Metric]; ok {
			xc = append(xc, o.xs[i]...)
			yc = append(yc, v)
			sec = append(sec, ob.Uncertainty[c.Metric])
		}
	}
	if len(yc) == 0 {
		return cm, nil
	}
	lineLo, lineHi := c.Lines()
	tf := func(v float64) float64 { return v }
	if logScaled(c, yc) {
		tf = math.Log
		for i, v := range yc {
			sec[i] /= v // the standard error of log v, to first order
			yc[i] = math.Log(v)
		}
	}
	clipPast(c, yc, tf)
	catLSMax := 0.0
	if o.opts.Region != nil {
		catLSMax = maxSafeChoiceLS
	}
	h := o.hyperCapped(xc, yc, o.warmCons[c.Metric], refit, catLSMax, rng)
	g, err := newGP(o.enc.cat, xc, yc, sec, h)
	if err != nil {
		return cm, err
	}
	o.warmCons[c.Metric] = &h
	cm.g = g
	if c.Max != nil {
		cm.hi = (tf(lineHi) - g.ymu) / g.ysd
	}
	if c.Min != nil {
		cm.lo = (tf(lineLo) - g.ymu) / g.ysd
	}
	return cm, nil
}

// failureModel fits the failure indicator, once something failed: an
// evaluation that could not be measured, or a canary the judge showed to
// break a guardrail (a label, whatever the means say). ok is false when
// nothing failed.
func (o *Optimizer) failureModel(refit bool, rng *rand.Rand) (cm conModel, ok bool, err error) {
	if !slices.ContainsFunc(o.obs, models.Observation.LabeledInfeasible) {
		return conModel{}, false, nil
	}
	d := o.enc.dim()
	xf := make([]float64, 0, len(o.obs)*d)
	yf := make([]float64, 0, len(o.obs))
	for i, ob := range o.obs {
		xf = append(xf, o.xs[i]...)
		if ob.LabeledInfeasible() {
			yf = append(yf, 1)
		} else {
			yf = append(yf, 0)
		}
	}
	h := o.hyper(xf, yf, o.warmCons[""], refit, rng)
	g, err := newGP(o.enc.cat, xf, yf, nil, h)
	if err != nil {
		return conModel{}, false, err
	}
	o.warmCons[""] = &h
	// Believed to fail where the indicator's mean passes one half.
	return conModel{g: g, lo: math.Inf(-1), hi: (0.5 - g.ymu) / g.ysd}, true, nil
}

// Scoring a candidate costs O(n²) against n observations (the posterior
// variance), so the candidates shrink as the history grows: at most
// candidateWork/n² of them (all 2048 by default up to ~350 observations,
// 1000 at 500), and never fewer than minCandidates, which still cover a
// trust region's box densely.
const (
	candidateWork = 2.5e8
	minCandidates = 256
)

// propose picks the next suggestion from the model: the best of many
// quasi-random and local candidates by the acquisition, the best few refined
// by projected gradient ascent, none already seen, and in safe mode only
// those inside the trust region believed safe.
func (o *Optimizer) propose(m *boModel, rng *rand.Rand, explore bool) (models.Suggestion, []float64, error) {
	am, centers := m, o.centers(m, localCenters)
	var basin *restartBasin
	if explore {
		if r, ok := o.restartModel(m, rng); ok {
			am, centers, basin = r.model, r.centers, r
		}
	}
	pool := o.scoredPool(am, rng, centers, basin)
	repair, broken := len(o.opts.Repair) > 0, strings.Join(o.opts.Repair, ", ")
	if repair && o.opts.Region != nil && m.obj != nil {
		o.repairOrder(m, &pool)
	}
	cands, pall := pool.cands, pool.pall

	bestP, bestGain := 0.0, math.Inf(-1)
	var incMean float64
	// A model of a few points is too sure of itself to stand between the
	// loop and its next measurement; the gain it predicts counts once the
	// history could fill a design twice over.
	minGain := o.opts.Region != nil && o.opts.MinGain > 0 && m.obj != nil && o.trials() >= minGainFrom(o.enc.dim()) && !repair
	if minGain {
		incMean = m.prediction(o.inc).Mean
	}
	safeSeen := false
	likeliest := -1 // in a repair, the candidate most likely to keep every guardrail
	retreat := -1   // in a repair, the restoring candidate most likely to keep every guardrail
	for _, i := range pool.order {
		c := o.enc.decode(cands[i])
		if o.seen[c.String()] {
			continue
		}
		if o.opts.Region != nil {
			if !o.withinRegion(c) || o.nearRejected(cands[i]) {
				continue
			}
			if pall[i] > bestP {
				bestP, likeliest = pall[i], i
			}
			if pool.restores != nil && pool.restores[i] && (retreat < 0 || pall[i] > pall[retreat]) {
				retreat = i
			}
			if pall[i] < 1-o.delta || (pool.restores != nil && !pool.restores[i]) {
				continue
			}
		}
		safeSeen = true
		x := cands[i]
		s := models.Suggestion{
			Config:     c,
			Prediction: m.prediction(x),
		}
		if minGain {
			gain := o.upperGain(m, x, s.Prediction.Mean, incMean)
			bestGain = max(bestGain, gain)
			if gain < o.opts.MinGain {
				continue
			}
		}
		if m.obj != nil {
			s.LengthScales = o.lengthScales(m.obj.hyp)
		}
		s.Why = m.why()
		if repair {
			s.Why = fmt.Sprintf("repair (the incumbent breaks %s), the best predicted objective believed to keep every guardrail, "+
				"predicted further from the broken lines and no nearer any other: %s", broken, s.Why)
		}
		if basin != nil {
			s.Why = fmt.Sprintf("restart step (no gain above %.2g sd in the last %d evaluations): %s outside the incumbent's basin, on a model of the observations there",
				stallGain, stallEvals, s.Why)
		}
		if o.opts.Region != nil {
			s.Why += fmt.Sprintf("; safe mode: within max_step %.3g of the incumbent%s, P(all guardrails hold) %.3f >= %.3f",
				o.opts.Region.MaxStep, o.spanNote(), pall[i], 1-o.delta)
		}
		return s, x, nil
	}
	if repair && likeliest >= 0 && bestP > 0.5 {
		s := models.Suggestion{Config: o.enc.decode(cands[likeliest]), Prediction: m.prediction(cands[likeliest])}
		s.Why = fmt.Sprintf("repair: the incumbent breaks %s; no candidate within max_step %.3g is believed safe at %.3f and to restore it, "+
			"this one keeps every guardrail with P %.3f, the likeliest: %s", broken, o.opts.Region.MaxStep, 1-o.delta, bestP, m.why())
		return s, cands[likeliest], nil
	}
	if repair && retreat >= 0 {
		// The baseline is shown broken and nothing within reach is likely
		// to keep every line. A step back from the broken lines that the
		// models believe likelier to keep them than the baseline puts the
		// canary's share of the traffic at less risk than the baseline
		// already runs the rest at, and its measurement tells the next
		// pass how far back is enough.
		if inc := m.prediction(o.inc); pall[retreat] > inc.PAllFeasible && pall[retreat] >= 1-models.StepBackMaxViolation {
			s := models.Suggestion{Config: o.enc.decode(cands[retreat]), Prediction: m.prediction(cands[retreat]), Incumbent: inc}
			s.Why = fmt.Sprintf("repair, a step back: the incumbent breaks %s and no candidate within max_step %.3g is likely to keep every guardrail; "+
				"this one is predicted further from the broken lines and no nearer any other, and keeps every guardrail with P %.3f against the incumbent's %.3f: %s",
				broken, o.opts.Region.MaxStep, pall[retreat], inc.PAllFeasible, m.why())
			return s, cands[retreat], nil
		}
	}
	if minGain && safeSeen {
		return models.Suggestion{}, nil, fmt.Errorf("%w: the best safe candidate within max_step %.3g may gain %.2f%% (predicted gain + 1 sd), less than the %.2f%% a canary can show",
			models.ErrNoGain, o.opts.Region.MaxStep, 100*bestGain, 100*o.opts.MinGain)
	}
	if o.opts.Region != nil {
		return models.Suggestion{}, nil, fmt.Errorf("%w: the most likely safe candidate within max_step %.3g%s has P(all guardrails hold) %.3f < %.3f%s",
			models.ErrNoSafeCandidate, o.opts.Region.MaxStep, o.spanNote(), bestP, 1-o.delta, o.unsure(m, cands, likeliest))
	}
	return models.Suggestion{}, nil, errors.New("bo: every candidate configuration was already evaluated")
}

// unsure says, for a pass that found no candidate believed safe, which
// guardrail the likeliest candidate (index i of cands; the incumbent when
// i is negative) is least sure of, and the incumbent's own probabilities
// of keeping every guardrail and that one: an incumbent no surer than its
// neighbours says the guardrail's measurements scatter too widely for a
// canary to show any step kept, not that the region breaks it.
func (o *Optimizer) unsure(m *boModel, cands [][]float64, i int) string {
	inc := m.prediction(o.inc)
	at := inc
	if i >= 0 {
		at = m.prediction(cands[i])
	}
	name, p := "", 2.0
	for _, c := range o.problem.Constraints {
		if q, ok := at.PFeasible[c.Metric]; ok && q < p {
			name, p = c.Metric, q
		}
	}
	if name == "" {
		return fmt.Sprintf("; the incumbent itself: %.3f", inc.PAllFeasible)
	}
	out := fmt.Sprintf("; the incumbent itself: %.3f (%s %.3f)", inc.PAllFeasible, name, inc.PFeasible[name])
	if i < 0 {
		return out
	}
	return fmt.Sprintf(", least sure of %s (%.3f)%s", name, p, out)
}

// How propose searches the acquisition: localCenters points of the history
// seed the local candidates (the best ones, see centers), and the
// refineStarts best candidates are refined by gradient ascent; a refinement
// costs tens of acquisition gradients, so only a few of the best get one.
const localCenters, refineStarts = 5, 8

// pool is propose's candidates with their acquisition values, their
// probabilities of keeping every guardrail, and the order to try them in.
type pool struct {
	cands     [][]float64
	acq, pall []float64
	order     []int
	// restores, in a repair, marks the candidates that restore the broken
	// guardrails (repairOrder); nil otherwise.
	restores []bool
}

// scoredPool draws the candidates (quasi-random over the search box, local
// around centers, and in safe mode the lone moves), scores them with am's
// acquisition, refines the best few, and orders them all by acquisition.
// A restart's basin is left out.
func (o *Optimizer) scoredPool(am *boModel, rng *rand.Rand, centers [][]float64, basin *restartBasin) pool {
	b := o.searchBox()
	nc := o.opts.Candidates
	if n := len(o.obs); n > 0 {
		nc = min(nc, max(minCandidates, int(candidateWork/float64(n*n))))
	}
	cands := o.candidates(rng, b, nc, centers)
	if o.opts.Region != nil {
		cands = append(cands, o.loneMoves()...)
	}
	if basin != nil {
		cands = slices.DeleteFunc(cands, basin.inside)
	}
	acq, pall := am.acquisition(slices.Concat(cands...), len(cands))
	p := pool{cands: cands, acq: acq, pall: pall, order: byAcquisition(acq)}

	var refined [][]float64
	for _, i := range p.order {
		if len(refined) == refineStarts || math.IsInf(acq[i], -1) {
			break
		}
		if o.opts.Region != nil && pall[i] < 1-o.delta {
			continue
		}
		x := am.refine(cands[i], b)
		o.enc.snap(x, b)
		refined = append(refined, x)
	}
	if len(refined) > 0 {
		ra, rp := am.acquisition(slices.Concat(refined...), len(refined))
		p.cands = append(p.cands, refined...)
		p.acq = append(p.acq, ra...)
		p.pall = append(p.pall, rp...)
		p.order = byAcquisition(p.acq)
	}
	return p
}

// byAcquisition returns the indices of acq, highest first, ties in order.
func byAcquisition(acq []float64) []int {
	order := make([]int, len(acq))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return acq[order[a]] > acq[order[b]] })
	return order
}

// repairOrder reorders p for a repair and marks the candidates that
// restore (p.restores): predicted further than the incumbent from the line
// of every guardrail it breaks, and no nearer that of any other. The
// restoring candidates believed safe come first, by their predicted
// objective; the rest follow by their chance of keeping every guardrail.
// The processes model sign·objective and each guardrail on monotone
// scales: their latent means, in one batch, order the candidates as the
// values do.
func (o *Optimizer) repairOrder(m *boModel, p *pool) {
	all := slices.Concat(p.cands...)
	mean, _ := m.obj.predict(all, len(p.cands))
	p.restores = make([]bool, len(p.cands))
	for i := range p.restores {
		p.restores[i] = true
	}
	for _, cm := range m.cons {
		if cm.g == nil || cm.name == "" {
			continue
		}
		headroom := func(v float64) float64 { return min(cm.hi-v, v-cm.lo) }
		mu, _ := cm.g.predict(all, len(p.cands))
		inc, _ := cm.g.predict(o.inc, 1)
		hInc, broken := headroom(inc[0]), slices.Contains(o.opts.Repair, cm.name)
		for i, v := range mu {
			if h := headroom(v); h < hInc || (broken && h <= hInc) {
				p.restores[i] = false
			}
		}
	}
	safe := func(i int) bool { return p.pall[i] >= 1-o.delta && p.restores[i] }
	sort.SliceStable(p.order, func(a, b int) bool {
		ia, ib := p.order[a], p.order[b]
		switch {
		case safe(ia) != safe(ib):
			return safe(ia)
		case safe(ia):
			return mean[ia] < mean[ib]
		}
		return p.pall[ia] > p.pall[ib]
	})
}

// upperGain is the relative gain of x over the incumbent one standard
// deviation up: a candidate the model is unsure of may still be worth a
// canary (the deciding stage shows whether it gained), one it is sure gains
// little is not. The spread is the change's, not the candidate's value's:
// near the incumbent, the two share most of what the model does not know.
func (o *Optimizer) upperGain(m *boModel, x []float64, mean, incMean float64) float64 {
	scale := math.Max(math.Abs(incMean), 1e-12) // a relative gain of an objective at 0 is its absolute one
	gain := (incMean - mean) / scale
	if o.problem.Goal == models.Maximize {
		gain = -gain
	}
	return gain + m.gainSD(x, o.inc)/scale
}

// withinRegion reports whether c is a step the trust region allows from
// the incumbent: every numeric knob within max_step (an integer one to its
// next value), and at most one categorical knob switched, alone.
func (o *Optimizer) withinRegion(c models.Config) bool {
	step, cat, err := o.problem.Space.StepWithin(o.opts.Region.Incumbent, c, o.opts.Region.MaxStep)
	return err == nil && step <= o.opts.Region.MaxStep*(1+1e-9) && (cat == 0 || (cat == 1 && step <= switchStill)) && !o.blindReach(c) && !o.pastMeasured(c)
}

// span is the range of values a numeric knob took in the measured
// history.
type span struct{ lo, hi float64 }

// measuredSpans returns each knob's span over the observations that were
// measured (a failed evaluation measured nothing), by index in the space,
// while the history in safe mode is short (pastMeasured); nil otherwise or
// without any.
func (o *Optimizer) measuredSpans() []span {
	if o.opts.Region == nil || o.trials() >= minGainFrom(o.enc.dim()) {
		return nil
	}
	var out []span
	for _, ob := range o.obs {
		if ob.Failed {
			continue
		}
		if out == nil {
			out = make([]span, len(o.problem.Space))
			for i := range out {
				out[i] = span{math.Inf(1), math.Inf(-1)}
			}
		}
		for i, p := range o.problem.Space {
			if p.Type == models.Categorical {
				continue
			}
			v := ob.Config[p.Name].Float()
			out[i] = span{min(out[i].lo, v), max(out[i].hi, v)}
		}
	}
	return out
}

// nearMeasured reports whether this Ask holds steps near the measured
// values (pastMeasured): a short history in safe mode, and an incumbent
// inside its limits.
func (o *Optimizer) nearMeasured() bool { return o.measured != nil && !math.IsInf(o.blind, 1) }

// spanNote says, while steps are held near the measured values, how near:
// "" otherwise.
func (o *Optimizer) spanNote() string {
	if !o.nearMeasured() {
		return ""
	}
	return fmt.Sprintf(" and within %.3g%% of the values measured so far (a short history)", 100*o.blind)
}

// pastMeasured reports whether c, while the history is short, takes a
// numeric knob further past the span of its measured values than a blind
// move may go (o.blind: twice the incumbent's headroom). Between
// measurements a guardrail's model interpolates; past them it
// extrapolates along whichever knob a few points happened to credit.
// ml-batching's model of two observations that moved the batch and the
// batching delay together put the GPU memory's slope on the delay, and
// believed a batch 22% past any measured one safe: it ran at 9.9× the
// error budget. Past its measured span a knob then moves as a blind one
// does, so a guardrail that follows it at most in proportion ends at most
// its headroom past its limit. From minGainFrom observations on (when the
// predicted gain starts to count too) the models decide alone: held to
// the spans for good, the loop spent its passes on steps too small for a
// canary to show (BENCHMARKS.md).
func (o *Optimizer) pastMeasured(c models.Config) bool {
	if !o.nearMeasured() {
		return false
	}
	for i, p := range o.problem.Space {
		if p.Type == models.Categorical {
			continue
		}
		sp, v := o.measured[i], c[p.Name].Float()
		var r float64
		switch {
		case v > sp.hi:
			r = relChange(p, sp.hi, v)
		case v < sp.lo:
			r = relChange(p, sp.lo, v)
		}
		if r > o.blind {
			return true
		}
	}
	return false
}

// blindFactor bounds a blind move, one that no model has data for: no
// numeric knob may change by a larger share than blindFactor times the
// incumbent's headroom (its smallest relative distance to a guardrail's
// limit). A guardrail that moves at most in proportion to its knobs
// (memory with a batch or a heap, latency with 1/threads short of a knee)
// then ends at most its headroom past its limit: inside 2× the limit, and
// short of the cliffs further out. A factor of 1 keeps such a guardrail
// inside its limit but makes the first measured step too small to fit
// the models on (ml-batching stalled and fell behind random search); 2
// keeps both (BENCHMARKS.md).
const blindFactor = 2

// blindMove returns the largest relative change of a numeric knob that a
// blind move may make: blindFactor times the headroom of the incumbent's
// latest observation. It is +Inf (no bound beyond max_step) without such
// an observation, or when the incumbent is at or past a limit: staying
// put is then no safer than moving.
func (o *Optimizer) blindMove() float64 {
	inc := o.incCfg.String()
	for i := len(o.obs) - 1; i >= 0; i-- {
		ob := o.obs[i]
		if ob.Config.String() != inc || len(ob.Constraints) == 0 {
			continue
		}
		h := math.Inf(1)
		for _, c := range o.problem.Constraints {
			if v, ok := ob.Constraints[c.Metric]; ok {
				h = min(h, c.Headroom(v))
			}
		}
		if !(h > 0) {
			return math.Inf(1)
		}
		return blindFactor * h
	}
	return math.Inf(1)
}

// relMove is the largest relative change of a numeric knob from the
// incumbent to c (of its range, for a knob at 0).
func (o *Optimizer) relMove(c models.Config) float64 {
	r := 0.0
	for _, p := range o.problem.Space {
		if p.Type == models.Categorical {
			continue
		}
		r = max(r, relChange(p, o.incCfg[p.Name].Float(), c[p.Name].Float()))
	}
	return r
}

// relChange is the relative change of numeric knob p from a to b (of its
// range, from 0).
func relChange(p models.Param, a, b float64) float64 {
	if a != 0 {
		return math.Abs(b/a - 1)
	}
	return math.Abs(b-a) / (p.Max - p.Min)
}

// shrinkBlind returns the configuration of u, a blind move inside box b,
// pulled toward the incumbent until it is within o.blind (the incumbent
// itself when rounding keeps every shorter pull past it).
func (o *Optimizer) shrinkBlind(u []float64, b box) models.Config {
	bound := o.blind
	c := o.enc.decode(u)
	if o.relMove(c) <= bound {
		return c
	}
	x := make([]float64, len(u))
	for t := 1.0; t > 1e-3; t *= 0.8 {
		for i := range u {
			x[i] = o.inc[i] + t*(u[i]-o.inc[i])
		}
		o.enc.snap(x, b)
		if c = o.enc.decode(x); o.relMove(c) <= bound {
			return c
		}
	}
	return o.incCfg.Clone()
}

// blindReach reports whether c takes an integer knob's one-value move past
// max_step (Param.Reach) other than alone and within o.blind: no data
// spans such a move (one more model instance on a GPU is +50% of its
// memory), so it measures that knob's effect by itself, as a switch does.
func (o *Optimizer) blindReach(c models.Config) bool {
	for i, p := range o.problem.Space {
		if p.Type != models.Int {
			continue
		}
		u, err := p.ToUnit(c[p.Name])
		if err != nil || !o.pastMaxStep(i, u) {
			continue
		}
		alone := o.incCfg.Clone()
		alone[p.Name] = c[p.Name]
		return alone.String() != c.String() || o.relMove(c) > o.blind
	}
	return false
}

// pastMaxStep reports whether the encoded value u of knob i lies further
// from the incumbent's than max_step: only an integer knob's one-value
// move (Param.Reach) gets there.
func (o *Optimizer) pastMaxStep(i int, u float64) bool {
	return math.Abs(u-o.inc[i]) > o.opts.Region.MaxStep*(1+1e-9)
}

// switchStill is the largest numeric step a candidate that switches a
// categorical knob may take: none (but rounding). A switch moves alone.
const switchStill = 1e-9

// loneMoves returns the moves of one knob alone from the incumbent that
// safe mode allows only alone: each categorical knob switched to each of
// its other choices, and each integer knob taken to its next value either
// side when that lies past max_step (see blindReach). The guardrails'
// models interpolate poorly across choices, and no data spans a one-value
// move past max_step; alone, the move measures its knob's effect cleanly
// (web-api's GC mode switched while its heap and threads were cut: P =
// 0.995 believed, 160× the error budget measured). Random candidates
// almost never keep every other knob exactly, so these are added.
func (o *Optimizer) loneMoves() [][]float64 {
	var out [][]float64
	for i, p := range o.problem.Space {
		switch p.Type {
		case models.Categorical:
			for k := range p.Choices {
				if float64(k) == o.inc[i] {
					continue
				}
				x := slices.Clone(o.inc)
				x[i] = float64(k)
				out = append(out, x)
			}
		case models.Int:
			v := o.incCfg[p.Name].Float()
			for _, w := range []float64{v - 1, v + 1} {
				u, err := p.ToUnit(models.Num(w))
				if w < p.Min || w > p.Max || err != nil || !o.pastMaxStep(i, u) {
					continue
				}
				x := slices.Clone(o.inc)
				x[i] = u
				out = append(out, x)
			}
		}
	}
	return out
}

// candidates returns nc points of the box: a quarter scrambled Sobol points,
// the rest perturbations of the centers (best first) at several scales.
func (o *Optimizer) candidates(rng *rand.Rand, b box, nc int, centers [][]float64) [][]float64 {
	d := o.enc.dim()
	out := make([][]float64, 0, nc)
	sob := newSobol(d, rng.Uint64())
	nglobal := nc / 4
	for _, q := range sob.points(0, nglobal) {
		out = append(out, o.enc.fromUnitCube(q, b))
	}
	if len(centers) == 0 {
		centers = [][]float64{o.inc}
	}
	scales := []float64{0.2, 0.05, 0.01, 0.002, 0.0005}
	pdim := min(1, max(2.0/float64(d), 0.5))
	for len(out) < nc {
		// The best center gets half of the local candidates.
		ci := 0
		if rng.IntN(2) == 1 {
			ci = rng.IntN(len(centers))
		}
		x := slices.Clone(centers[ci])
		s := scales[rng.IntN(len(scales))]
		moved := false
		for i := 0; i < d; i++ {
			if rng.Float64() >= pdim {
				continue
			}
			moved = true
			if o.enc.cat[i] {
				if rng.Float64() < 0.2 {
					k := len(o.problem.Space[i].Choices)
					x[i] = float64(rng.IntN(k))
				}
				continue
			}
			x[i] += s * rng.NormFloat64()
		}
		if !moved {
			i := rng.IntN(d)
			if !o.enc.cat[i] {
				x[i] += s * rng.NormFloat64()
			}
		}
		o.enc.snap(x, b)
		out = append(out, x)
	}
	return out
}

// centers returns up to k observed points to search around: the feasible
// ones with the lowest posterior mean, or failing any feasible, the
// successful ones with the lowest objective.
func (o *Optimizer) centers(m *boModel, k int) [][]float64 {
	type pt struct {
		x []float64
		v float64
		f bool
	}
	var pts []pt
	for i, ob := range o.obs {
		if ob.Failed {
			continue
		}
		pts = append(pts, pt{o.xs[i], m.sign * ob.Objective, o.problem.Feasible(ob)})
	}
	sort.SliceStable(pts, func(a, b int) bool {
		if pts[a].f != pts[b].f {
			return pts[a].f
		}
		return pts[a].v < pts[b].v
	})
	var out [][]float64
	for _, p := range pts {
		if len(out) == k {
			break
		}
		out = append(out, p.x)
	}
	return out
}

// skewness is the sample skewness of y (0 when y is constant).
// pastLimit is how far past a guardrail's limit its model sees values: a
// cliff measured at 250× an error-ratio limit says no more about where the
// limit lies than one at 2×, and left as it is, one such value dominates a
// stationary process fitted to values near the limit (its signal variance
// and noise stretch to fit it). The observation keeps the value as
// measured; only the model clips it.
const pastLimit = 2.0

// clipPast clips the modeled values ys of guardrail c (already mapped by
// tf, the model's scale) at pastLimit times its limits: 2·max, max/2 for a
// positive min (on a linear scale, max + |max| and min − |min|).
func clipPast(c models.Constraint, ys []float64, tf func(float64) float64) {
	hi, lo := math.Inf(1), math.Inf(-1)
	if c.Max != nil {
		hi = *c.Max + (pastLimit-1)*math.Abs(*c.Max)
		if *c.Max > 0 {
			hi = pastLimit * *c.Max
		}
		hi = tf(hi)
	}
	if c.Min != nil {
		lo = *c.Min - (pastLimit-1)*math.Abs(*c.Min)
		if *c.Min > 0 {
			lo = *c.Min / pastLimit
		}
		lo = tf(lo) // positive when tf is the log (see logScaled)
	}
	for i, y := range ys {
		ys[i] = min(max(y, lo), hi)
	}
}

// logScaled reports whether guardrail c is modeled on the log scale: its
// limits and every measured value ys are positive.
func logScaled(c models.Constraint, ys []float64) bool {
	if (c.Max != nil && *c.Max <= 0) || (c.Min != nil && *c.Min <= 0) {
		return false
	}
	lo, hi := c.Lines()
	if (c.Max != nil && hi <= 0) || (c.Min != nil && lo <= 0) {
		return false
	}
	for _, v := range ys {
		if !(v > 0) {
			return false
		}
	}
	return true
}

func skewness(y []float64) float64 {
	zs, _, _ := standardized(y)
	var s float64
	for _, z := range zs {
		s += z * z * z
	}
	return s / float64(len(y))
}

// Restart steps. A noiseless multimodal objective (Hartmann6) often brings the
// model to a local optimum first; expected improvement then refines that
// basin for good, because the model, fitted mostly on it, is confident that
// the rest of the space is worse (it even learns that knobs which do not
// matter there do not matter anywhere). With Options.Restarts, once the
// best value has stalled, every other suggestion is a restart step in the
// manner of TuRBO's
// restarts: it drops the observations of the incumbent's basin (within
// restartRadius length scales of the incumbent), models the rest on its own
// and maximizes expected improvement over the best value outside, away from
// the basin. A better basin found so becomes the incumbent's and the normal
// steps take it over.
const (
	stallEvals    = 5    // observations without a gain that count as a stall
	stallGain     = 0.03 // a gain, in standard deviations of the outputs
	restartRadius = 1.5  // the incumbent's basin, in length scales (at most 1 each)
	restartAfter  = 30   // observations before the first restart step
)

// restartStep says whether the suggestion of a model-based ask, the k-th
// observation, is a restart step: with Options.Restarts, not in safe mode
// (the trust region is the incumbent's neighbourhood), once something
// feasible was seen and restartAfter observations (at least twice the
// initial design) were made, every other suggestion while the best has
// stalled.
func (o *Optimizer) restartStep(m *boModel, k int) bool {
	if !o.opts.Restarts || o.opts.Region != nil || m.obj == nil || !m.feasibleSeen || len(o.obs) < max(restartAfter, 2*o.opts.InitialPoints) || k%2 != 0 {
		return false
	}
	var ys []float64
	for _, ob := range o.obs {
		if !ob.Failed {
			ys = append(ys, m.sign*ob.Objective)
		}
	}
	_, sd := standardize(ys)
	best, last := math.Inf(1), 0
	for i, ob := range o.obs {
		if ob.Failed || !o.problem.Feasible(ob) {
			continue
		}
		v := m.sign * ob.Objective
		if v < best-stallGain*sd {
			last = i
		}
		best = min(best, v)
	}
	return len(o.obs)-1-last >= stallEvals
}

// restartBasin is the model of a restart step and the basin it avoids.
type restartBasin struct {
	model   *boModel
	centers [][]float64 // the best feasible observations outside the basin
	inc     []float64   // the incumbent
	ls      []float64   // the length scales of the basin's metric
}

// inside says whether x is in the incumbent's basin.
func (r *restartBasin) inside(x []float64) bool {
	var s float64
	for i, l := range r.ls {
		t := x[i] - r.inc[i]
		if l == 0 { // categorical
			continue
		}
		s += t * t / (l * l)
	}
	return s < restartRadius*restartRadius
}

// restartModel returns the model of a restart step: the objective's process
// refitted on the successful observations outside the incumbent's basin
// (hyperparameters refitted when the main model's are, warm-started),
// expected improvement measured from the best of them, and the guardrail
// and failure processes of m. ok is false when too few observations lie
// outside the basin.
func (o *Optimizer) restartModel(m *boModel, rng *rand.Rand) (*restartBasin, bool) {
	d := o.enc.dim()
	inc := o.centers(m, 1)
	if len(inc) == 0 {
		return nil, false
	}
	r := &restartBasin{inc: inc[0], ls: make([]float64, d)}
	for i, l := range m.obj.hyp.ls {
		if !o.enc.cat[i] {
			r.ls[i] = min(l, 1)
		}
	}
	type pt struct {
		x []float64
		v float64
	}
	var x, y []float64
	var feasible []pt
	for i, ob := range o.obs {
		if ob.Failed || r.inside(o.xs[i]) {
			continue
		}
		x = append(x, o.xs[i]...)
		y = append(y, m.sign*ob.Objective)
		if o.problem.Feasible(ob) {
			feasible = append(feasible, pt{o.xs[i], m.sign * ob.Objective})
		}
	}
	if len(feasible) < d+2 {
		return nil, false
	}
	refit := o.warmRestart == nil || o.hyperN == len(o.obs)
	h := o.hyper(x, y, o.warmRestart, refit, rng)
	g, err := newGP(o.enc.cat, x, y, nil, h)
	if err != nil {
		return nil, false
	}
	o.warmRestart = &h
	sort.SliceStable(feasible, func(a, b int) bool { return feasible[a].v < feasible[b].v })
	fx := make([]float64, 0, len(feasible)*d)
	for _, p := range feasible {
		fx = append(fx, p.x...)
		if len(r.centers) < 5 {
			r.centers = append(r.centers, p.x)
		}
	}
	mu, _ := g.predict(fx, len(feasible))
	rm := *m
	rm.obj, rm.warp, rm.best = g, false, slices.Min(mu)
	r.model = &rm
	return r, true
}

// rejectedSince returns the encoded configurations a bake showed worse than
// the running configuration since that was last promoted: the canaries of
// the trailing passes that were not promoted whose objective the bake, over
// the load cycle, showed worse than the baseline beside them.
func (o *Optimizer) rejectedSince() [][]float64 {
	var out [][]float64
	for i := len(o.obs) - 1; i >= 0; i-- {
		switch ob := o.obs[i]; {
		case ob.Verdict == "":
			continue // a reading of the incumbent, not a canary
		case ob.Verdict == judge.VerdictPass:
			return out
		case ob.Baked && ob.ObjectiveWorse:
			out = append(out, o.xs[i])
		}
	}
	return out
}

// rejectedRadius is how near a candidate may come to a configuration
// rejectedSince lists, in every numeric knob, as a share of max_step.
const rejectedRadius = 0.5

// nearRejected reports whether x has the categorical choices of a
// configuration rejectedSince lists and every numeric knob within
// rejectedRadius·max_step of it. The bake's verdict on the pair, over a
// whole load cycle, outweighs what the models believe of it: they learn
// from one hour of other days, and their learned noise would let one
// precise rejection count for little, so the same corner of the trust
// region came back pass after pass.
func (o *Optimizer) nearRejected(x []float64) bool {
	r := rejectedRadius * o.opts.Region.MaxStep
	for _, y := range o.rejected {
		near := true
		for i := range x {
			if o.enc.cat[i] {
				near = near && x[i] == y[i]
			} else {
				near = near && math.Abs(x[i]-y[i]) <= r
			}
		}
		if near {
			return true
		}
	}
	return false
}

// maxSafeChoiceLS bounds, in safe mode, the length scale a guardrail's
// model fits for a categorical knob: two choices then share at most about half
// of what the model knows of them (a Matérn 5/2 correlation of 0.52 at
// distance 1). A collector, a runtime or an architecture is another
// mechanism: fitted freely, the choices' length scale grows as long as
// nothing contradicts it, and one choice's observations, measured far
// away, vouched for the other (web-api: ZGC measured once at 48 threads
// was believed safe at 26, where its CPU meets the queueing knee; 36× the
// p95 limit at 5% of the traffic).
const maxSafeChoiceLS = 1.0
