package activities

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"sort"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/passflow/passflow/models"
	"github.com/passflow/passflow/target"
)

// Stable activity names; workflows call activities by these names, never by
// Go function names, so refactoring cannot break running passes.
const (
	AnalyzeName = "passflow.Analyze"
	ProposeName = "passflow.Propose"
	ApplyName   = "passflow.ApplyStage"
	RevertName  = "passflow.RevertStage"
	CheckName   = "passflow.Check"
	VerifyName  = "passflow.Verify"
	PromoteName = "passflow.Promote"
	RecordName  = "passflow.Record"
)

// Error types of non-retryable application errors.
const (
	// ErrTypeInvalidTarget marks a target that cannot be connected or used.
	ErrTypeInvalidTarget = "InvalidTarget"
	// ErrTypeInvalidChange marks a configuration the actuator refuses.
	ErrTypeInvalidChange = "InvalidChange"
)

// Verdicts of a canary stage.
const (
	VerdictPass = "pass"
	VerdictFail = "fail"
)

// Summary condenses a metric's samples over a window. N is 0 when there was
// no data; the other fields are then meaningless (never read them as zeros).
type Summary struct {
	N    int     `json:"n"`
	Mean float64 `json:"mean"`
	P50  float64 `json:"p50"`
	P95  float64 `json:"p95"`
}

func summarize(xs []float64) Summary {
	var clean []float64
	for _, x := range xs {
		if !math.IsNaN(x) && !math.IsInf(x, 0) {
			clean = append(clean, x)
		}
	}
	if len(clean) == 0 {
		return Summary{}
	}
	sort.Float64s(clean)
	sum := 0.0
	for _, x := range clean {
		sum += x
	}
	q := func(p float64) float64 { return clean[int(math.Round(p*float64(len(clean)-1)))] }
	return Summary{N: len(clean), Mean: sum / float64(len(clean)), P50: q(0.5), P95: q(0.95)}
}

// Activities holds the dependencies of every pass activity. Register it with
// Register so each method gets its stable name.
type Activities struct {
	Connector Connector
	Store     Store
	// Metrics, when set, counts what the activities do.
	Metrics *Metrics
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

func (a *Activities) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

func (a *Activities) connect(spec target.Spec) (TelemetrySource, Actuator, error) {
	tel, act, err := a.Connector.Connect(spec)
	if err != nil {
		return nil, nil, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("connect target %s: %v", spec.Name, err), ErrTypeInvalidTarget, err)
	}
	return tel, act, nil
}

func (a *Activities) read(ctx context.Context, tel TelemetrySource, metrics []string, cohort string, from, to time.Time) (map[string]Summary, error) {
	out := make(map[string]Summary, len(metrics))
	for _, m := range metrics {
		xs, err := tel.Samples(ctx, Query{Metric: m, Cohort: cohort, From: from, To: to})
		if err != nil {
			return nil, fmt.Errorf("read %s of cohort %s over [%s, %s): %w",
				m, cohort, from.Format(time.RFC3339), to.Format(time.RFC3339), err)
		}
		out[m] = summarize(xs)
	}
	return out, nil
}

// AnalyzeInput asks for the baseline of a target before a pass changes it.
type AnalyzeInput struct {
	PassID string      `json:"pass_id"`
	Target target.Spec `json:"target"`
}

// AnalyzeResult is the baseline: the configuration the service runs, its SLIs
// over the look-back window, and whether it is safe to change anything.
type AnalyzeResult struct {
	Baseline models.Config      `json:"baseline"`
	From     time.Time          `json:"from"`
	To       time.Time          `json:"to"`
	SLIs     map[string]Summary `json:"slis"`
	// BurnRate is the error-budget burn rate over the window, when the target
	// has an error budget and an error_rate metric.
	BurnRate *float64 `json:"burn_rate,omitempty"`
	Skip     bool     `json:"skip"`
	Reason   string   `json:"reason,omitempty"`
}

// Lookback is how far back Analyze reads the baseline: one verification
// window, and at least a minute.
func Lookback(spec target.Spec) time.Duration { return max(spec.VerifyFor(), time.Minute) }

// Analyze reads the baseline configuration and SLIs. It asks to skip the pass
// when any metric the pass needs has no data, or when the error budget burns
// faster than the target allows.
func (a *Activities) Analyze(ctx context.Context, in AnalyzeInput) (AnalyzeResult, error) {
	tel, act, err := a.connect(in.Target)
	if err != nil {
		return AnalyzeResult{}, err
	}
	base, err := act.Baseline(ctx)
	if err != nil {
		return AnalyzeResult{}, fmt.Errorf("analyze %s: read baseline configuration: %w", in.Target.Name, err)
	}
	to := a.now()
	from := to.Add(-Lookback(in.Target))
	metrics := in.Target.Metrics()
	if eb := in.Target.ErrorBudget; eb != nil && !contains(metrics, "error_rate") {
		metrics = append(metrics, "error_rate")
	}
	slis, err := a.read(ctx, tel, metrics, CohortBaseline, from, to)
	if err != nil {
		return AnalyzeResult{}, fmt.Errorf("analyze %s: %w", in.Target.Name, err)
	}
	res := AnalyzeResult{Baseline: base, From: from, To: to, SLIs: slis}
	var missing []string
	for _, m := range metrics {
		if slis[m].N == 0 {
			missing = append(missing, m)
		}
	}
	if len(missing) > 0 {
		res.Skip, res.Reason = true, fmt.Sprintf("no telemetry for %v over the last %s", missing, to.Sub(from))
		return res, nil
	}
	if eb := in.Target.ErrorBudget; eb != nil {
		burn := slis["error_rate"].Mean / (1 - eb.SLO)
		res.BurnRate = &burn
		if burn > eb.MaxBurnRate {
			res.Skip, res.Reason = true, fmt.Sprintf("error budget burns at %.2fx, above max_burn_rate %.2fx", burn, eb.MaxBurnRate)
		}
	}
	return res, nil
}

// ProposeInput asks for one candidate around the incumbent.
type ProposeInput struct {
	PassID    string        `json:"pass_id"`
	Target    target.Spec   `json:"target"`
	Incumbent models.Config `json:"incumbent"`
	// IncumbentSLIs is what Analyze measured of the incumbent; it is told to
	// the optimizer as one more observation.
	IncumbentSLIs map[string]Summary `json:"incumbent_slis,omitempty"`
	Seed          uint64             `json:"seed"`
}

// ProposeResult is the candidate and how far it moves.
type ProposeResult struct {
	Suggestion         models.Suggestion `json:"suggestion"`
	Optimizer          string            `json:"optimizer"`
	History            int               `json:"history"`
	Step               float64           `json:"step"`
	CategoricalChanges int               `json:"categorical_changes"`
	// NoSafe is set, with Reason, when no candidate is safe enough to try.
	NoSafe bool   `json:"no_safe,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// Propose warm-starts the optimizer with the target's history and asks it for
// one candidate inside the trust region around the incumbent.
func (a *Activities) Propose(ctx context.Context, in ProposeInput) (ProposeResult, error) {
	spec := in.Target
	hist, err := a.Store.Observations(ctx, spec.Name)
	if err != nil {
		return ProposeResult{}, fmt.Errorf("propose for %s: %w", spec.Name, err)
	}
	if err := spec.Params.CheckConfig(in.Incumbent); err != nil {
		return ProposeResult{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("propose for %s: the running configuration does not fit the target's params: %v", spec.Name, err),
			ErrTypeInvalidTarget, err)
	}
	region := &models.TrustRegion{Incumbent: in.Incumbent, MaxStep: spec.Risk.MaxStep, Delta: spec.Risk.Delta}
	opt, name, err := NewOptimizer(spec.Problem(), in.Seed, region)
	if err != nil {
		return ProposeResult{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("propose for %s: %v", spec.Name, err), ErrTypeInvalidTarget, err)
	}
	// Observations of configurations that no longer fit the space (a knob's
	// range changed) are left out rather than failing the pass.
	var usable []models.Observation
	for _, o := range hist {
		if spec.Params.CheckConfig(o.Config) == nil {
			usable = append(usable, o)
		}
	}
	if inc, ok := incumbentObservation(spec, in); ok {
		usable = append(usable, inc)
	}
	if err := opt.Tell(usable...); err != nil {
		return ProposeResult{}, fmt.Errorf("propose for %s: tell history: %w", spec.Name, err)
	}
	res := ProposeResult{Optimizer: name, History: len(usable)}
	sugs, err := opt.Ask(1)
	if errors.Is(err, models.ErrNoSafeCandidate) {
		res.NoSafe, res.Reason = true, err.Error()
		return res, nil
	}
	if err != nil {
		return ProposeResult{}, fmt.Errorf("propose for %s: %w", spec.Name, err)
	}
	if len(sugs) == 0 {
		res.NoSafe, res.Reason = true, "the optimizer has no new configuration to try"
		return res, nil
	}
	res.Suggestion = sugs[0]
	res.Step, res.CategoricalChanges, err = spec.Params.Step(in.Incumbent, sugs[0].Config)
	if err != nil {
		return ProposeResult{}, fmt.Errorf("propose for %s: %w", spec.Name, err)
	}
	activity.GetLogger(ctx).Info("proposed", "target", spec.Name, "candidate", sugs[0].Config.String(), "why", sugs[0].Why)
	return res, nil
}

// incumbentObservation is the incumbent as Analyze measured it, when every
// metric the optimizer models has data.
func incumbentObservation(spec target.Spec, in ProposeInput) (models.Observation, bool) {
	obj, ok := in.IncumbentSLIs[spec.Objective.Metric]
	if !ok || obj.N == 0 {
		return models.Observation{}, false
	}
	o := models.Observation{Config: in.Incumbent, Objective: obj.Mean, Constraints: map[string]float64{},
		Source: in.PassID + "/incumbent"}
	for _, c := range spec.Constraints {
		s, ok := in.IncumbentSLIs[c.Metric]
		if !ok || s.N == 0 {
			return models.Observation{}, false
		}
		o.Constraints[c.Metric] = s.Mean
	}
	return o, true
}

// NewOptimizer returns the optimizer the propose step uses, and its name:
// the Gaussian-process optimizer in safe mode. It is a variable so that a
// simulation can swap in another (e.g. the random-search baseline) in one
// place.
var NewOptimizer = func(p models.Problem, seed uint64, region *models.TrustRegion) (models.Optimizer, string, error) {
	gp, err := models.NewGPOptimizer(p, models.GPOptions{Seed: seed, Region: region})
	return gp, "gaussian-process", err
}

// NewBaselineOptimizer is the random-search baseline, for comparisons.
func NewBaselineOptimizer(p models.Problem, seed uint64, region *models.TrustRegion) (models.Optimizer, string, error) {
	rs, err := models.NewRandomSearch(p, seed, region)
	return rs, "random-search", err
}

// ChangeInput is one actuator change of a pass.
type ChangeInput struct {
	PassID string      `json:"pass_id"`
	Target target.Spec `json:"target"`
	// Key is the idempotency key, "<pass ID>/<step>".
	Key     string        `json:"key"`
	Stage   int           `json:"stage"`
	Config  models.Config `json:"config"`
	Percent float64       `json:"percent"`
}

// ChangeResult says when the change took effect.
type ChangeResult struct {
	At time.Time `json:"at"`
}

// ApplyStage routes the stage's share of the traffic to the candidate.
func (a *Activities) ApplyStage(ctx context.Context, in ChangeInput) (ChangeResult, error) {
	return a.setCanary(ctx, in, "apply stage")
}

// RevertStage undoes a stage: the canary goes back to the previous stage's
// share (0 for the first stage, which removes the canary).
func (a *Activities) RevertStage(ctx context.Context, in ChangeInput) (ChangeResult, error) {
	res, err := a.setCanary(ctx, in, "revert stage")
	if err == nil && a.Metrics != nil {
		a.Metrics.Reverts.Inc()
	}
	return res, err
}

func (a *Activities) setCanary(ctx context.Context, in ChangeInput, op string) (ChangeResult, error) {
	_, act, err := a.connect(in.Target)
	if err != nil {
		return ChangeResult{}, err
	}
	if err := act.SetCanary(ctx, in.Key, in.Config, in.Percent); err != nil {
		return ChangeResult{}, fmt.Errorf("%s %d (%g%%) of %s: %w", op, in.Stage, in.Percent, in.Target.Name, err)
	}
	if a.Metrics != nil && op == "apply stage" {
		a.Metrics.Applies.Inc()
	}
	return ChangeResult{At: a.now()}, nil
}

// Promote makes the candidate the service's baseline.
func (a *Activities) Promote(ctx context.Context, in ChangeInput) (ChangeResult, error) {
	_, act, err := a.connect(in.Target)
	if err != nil {
		return ChangeResult{}, err
	}
	if err := act.Promote(ctx, in.Key, in.Config); err != nil {
		return ChangeResult{}, fmt.Errorf("promote on %s: %w", in.Target.Name, err)
	}
	return ChangeResult{At: a.now()}, nil
}

// WindowInput names a canary stage and the window to judge it on.
type WindowInput struct {
	Target  target.Spec `json:"target"`
	Stage   int         `json:"stage"`
	Percent float64     `json:"percent"`
	From    time.Time   `json:"from"`
	To      time.Time   `json:"to"`
	// ReferenceFrom and ReferenceTo are the pre-pass baseline window, used
	// when the baseline cohort has no traffic (the 100% stage).
	ReferenceFrom time.Time `json:"reference_from"`
	ReferenceTo   time.Time `json:"reference_to"`
}

// Judgement is a stage's verdict with its evidence.
type Judgement struct {
	Verdict  string             `json:"verdict"`
	Reasons  []string           `json:"reasons,omitempty"`
	Canary   map[string]Summary `json:"canary"`
	Baseline map[string]Summary `json:"baseline,omitempty"`
	// BaselineWindow is "same" when the baseline was read over the stage's
	// window, "reference" when the pre-pass window stood in for it.
	BaselineWindow string `json:"baseline_window,omitempty"`
}

// Check is the periodic look during a verification wait: it fails when the
// canary's data so far breaches an absolute guardrail.
func (a *Activities) Check(ctx context.Context, in WindowInput) (Judgement, error) {
	tel, _, err := a.connect(in.Target)
	if err != nil {
		return Judgement{}, err
	}
	var metrics []string
	for _, c := range in.Target.Constraints {
		metrics = append(metrics, c.Metric)
	}
	canary, err := a.read(ctx, tel, metrics, CohortCanary, in.From, in.To)
	if err != nil {
		return Judgement{}, fmt.Errorf("check stage %d of %s: %w", in.Stage, in.Target.Name, err)
	}
	j := Judgement{Verdict: VerdictPass, Canary: canary}
	for _, c := range in.Target.Constraints {
		if s := canary[c.Metric]; s.N > 0 && !c.Holds(s.Mean) {
			j.Verdict = VerdictFail
			j.Reasons = append(j.Reasons, fmt.Sprintf("canary %s mean %.4g breaks %s", c.Metric, s.Mean, c))
		}
	}
	return j, nil
}

// Verify judges a stage at the end of its wait: every metric must have canary
// data (no promotion on missing data), every guardrail must hold on the
// canary's mean, and neither a guardrail metric nor the objective may be
// worse than the baseline by more than the target's tolerance.
func (a *Activities) Verify(ctx context.Context, in WindowInput) (Judgement, error) {
	tel, _, err := a.connect(in.Target)
	if err != nil {
		return Judgement{}, err
	}
	metrics := in.Target.Metrics()
	canary, err := a.read(ctx, tel, metrics, CohortCanary, in.From, in.To)
	if err != nil {
		return Judgement{}, fmt.Errorf("verify stage %d of %s: %w", in.Stage, in.Target.Name, err)
	}
	baseline, err := a.read(ctx, tel, metrics, CohortBaseline, in.From, in.To)
	if err != nil {
		return Judgement{}, fmt.Errorf("verify stage %d of %s: %w", in.Stage, in.Target.Name, err)
	}
	j := Judgement{Verdict: VerdictPass, Canary: canary, Baseline: baseline, BaselineWindow: "same"}
	if noData(baseline) && !in.ReferenceFrom.IsZero() {
		if j.Baseline, err = a.read(ctx, tel, metrics, CohortBaseline, in.ReferenceFrom, in.ReferenceTo); err != nil {
			return Judgement{}, fmt.Errorf("verify stage %d of %s: %w", in.Stage, in.Target.Name, err)
		}
		j.BaselineWindow = "reference"
	}
	fail := func(format string, args ...any) {
		j.Verdict = VerdictFail
		j.Reasons = append(j.Reasons, fmt.Sprintf(format, args...))
	}
	for _, m := range metrics {
		if canary[m].N == 0 {
			fail("no canary data for %s", m)
		}
	}
	tol := in.Target.Canary.Tolerance
	obj := in.Target.Objective
	if cs, bs := canary[obj.Metric], j.Baseline[obj.Metric]; cs.N > 0 && bs.N > 0 {
		// A candidate is rolled out to improve the objective: one that makes
		// it clearly worse is not promoted, however well it keeps the SLOs.
		worse := cs.Mean > bs.Mean*(1+tol)
		if obj.Goal == models.Maximize {
			worse = cs.Mean < bs.Mean*(1-tol)
		}
		if worse {
			fail("canary %s mean %.4g is more than %.0f%% worse than the baseline's %.4g", obj.Metric, cs.Mean, 100*tol, bs.Mean)
		}
	}
	for _, c := range in.Target.Constraints {
		cs, bs := canary[c.Metric], j.Baseline[c.Metric]
		if cs.N == 0 {
			continue
		}
		if !c.Holds(cs.Mean) {
			fail("canary %s mean %.4g breaks %s", c.Metric, cs.Mean, c)
		}
		if bs.N == 0 {
			fail("no baseline data for %s", c.Metric)
			continue
		}
		if c.Max != nil && cs.Mean > bs.Mean*(1+tol) {
			fail("canary %s mean %.4g is more than %.0f%% above the baseline's %.4g", c.Metric, cs.Mean, 100*tol, bs.Mean)
		}
		if c.Min != nil && cs.Mean < bs.Mean*(1-tol) {
			fail("canary %s mean %.4g is more than %.0f%% below the baseline's %.4g", c.Metric, cs.Mean, 100*tol, bs.Mean)
		}
	}
	if a.Metrics != nil {
		a.Metrics.Verdicts.WithLabelValues(j.Verdict).Inc()
	}
	return j, nil
}

func noData(m map[string]Summary) bool {
	for _, s := range m {
		if s.N > 0 {
			return false
		}
	}
	return true
}

// RecordInput is what a pass leaves behind: its audit event, and the measured
// observation for the optimizer's history (nil when nothing was measured).
type RecordInput struct {
	Event       AuditEvent          `json:"event"`
	Observation *models.Observation `json:"observation,omitempty"`
}

// Record appends the audit event and the observation, once per pass.
func (a *Activities) Record(ctx context.Context, in RecordInput) error {
	if in.Observation != nil {
		if err := a.Store.AddObservation(ctx, in.Event.Target, *in.Observation); err != nil {
			return fmt.Errorf("record pass %s: %w", in.Event.PassID, err)
		}
	}
	if in.Event.Time.IsZero() {
		in.Event.Time = a.now()
	}
	if err := a.Store.AddAudit(ctx, in.Event); err != nil {
		return fmt.Errorf("record pass %s: %w", in.Event.PassID, err)
	}
	if a.Metrics != nil {
		a.Metrics.Passes.WithLabelValues(in.Event.Target, in.Event.Outcome).Inc()
	}
	return nil
}

// Seed derives a pass's optimizer seed from its ID, so a retried propose
// asks the same question and gets the same answer.
func Seed(passID string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(passID))
	return h.Sum64()
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}
