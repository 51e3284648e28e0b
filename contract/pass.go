package contract

import (
	"hash/fnv"
	"math"
	"slices"
	"time"

	"github.com/passflow/passflow/models"
	"github.com/passflow/passflow/models/judge"
	"github.com/passflow/passflow/target"
)

// Summary condenses a metric's samples over a window. N is 0 when there was
// no data; the other fields are then meaningless (never read them as zeros).
type Summary struct {
	N    int     `json:"n"`
	Mean float64 `json:"mean"`
	SD   float64 `json:"sd"`
	P50  float64 `json:"p50"`
	P95  float64 `json:"p95"`
}

// SE is the standard error of the mean, 0 with fewer than two samples.
func (s Summary) SE() float64 {
	if s.N < 2 {
		return 0
	}
	return s.SD / math.Sqrt(float64(s.N))
}

// Measured returns what sums measured of cfg as an observation: the mean
// and standard error of spec's objective and of each guardrail that has
// data, and nothing else (no source, no labels). objective reports whether
// the objective had data; without it the observation's Objective is 0.
func Measured(spec target.Spec, cfg models.Config, sums map[string]Summary) (o models.Observation, objective bool) {
	o = models.Observation{Config: cfg, Constraints: map[string]float64{}, Uncertainty: map[string]float64{}}
	if s := sums[spec.Objective.Metric]; s.N > 0 {
		o.Objective, o.Uncertainty[spec.Objective.Metric], objective = s.Mean, s.SE(), true
	}
	for _, c := range spec.Constraints {
		if s := sums[c.Metric]; s.N > 0 {
			o.Constraints[c.Metric], o.Uncertainty[c.Metric] = s.Mean, s.SE()
		}
	}
	return o, objective
}

// AnalyzeInput asks for the baseline of a target before a pass changes it.
type AnalyzeInput struct {
	PassID string      `json:"pass_id"`
	Target target.Spec `json:"target"`
	// BaselineSince is when the configuration the baseline runs took it
	// over: the end of the last pass that promoted it or of the restore
	// that put it back; zero when unknown. Analyze looks for a broken
	// guardrail only since then: before it, the baseline's telemetry is
	// another configuration's.
	BaselineSince time.Time `json:"baseline_since,omitzero"`
}

// AnalyzeResult is the baseline: the configuration the service runs, its SLIs
// over the look-back window, the error budget, the wait each stage needs, and
// whether it is safe to change anything.
type AnalyzeResult struct {
	Baseline models.Config      `json:"baseline"`
	From     time.Time          `json:"from"`
	To       time.Time          `json:"to"`
	SLIs     map[string]Summary `json:"slis"`
	// Budget is the error-budget analysis, when the target has a budget.
	Budget *models.Analysis `json:"budget,omitempty"`
	// VerifyFor is each stage's wait: canary.verify_for, extended up to
	// canary.max_verify_for when the baseline's noise needs more samples for
	// the judge; EnoughSamples is false when the cap cut it short.
	VerifyFor     time.Duration `json:"verify_for"`
	SamplesNeeded int           `json:"samples_needed"`
	EnoughSamples bool          `json:"enough_samples"`
	Skip          bool          `json:"skip"`
	Reason        string        `json:"reason,omitempty"`
	// Breaking lists the guardrails the baseline is over its limit on, with
	// confidence, over the window read (judge.SLOs), and BreakingWhy
	// the evidence, one line each: the pass is then a repair.
	Breaking    []string `json:"breaking,omitempty"`
	BreakingWhy []string `json:"breaking_why,omitempty"`
}

// ProposeInput asks for one candidate around the incumbent.
type ProposeInput struct {
	PassID    string        `json:"pass_id"`
	Target    target.Spec   `json:"target"`
	Incumbent models.Config `json:"incumbent"`
	// IncumbentSLIs is what Analyze measured of the incumbent; it is told to
	// the optimizer as one more observation.
	IncumbentSLIs map[string]Summary `json:"incumbent_slis,omitempty"`
	// History is the target's observations, oldest first, as its tuner
	// keeps them.
	History []models.Observation `json:"history,omitempty"`
	Seed    uint64               `json:"seed"`
	// Breaking lists the guardrails Analyze found the incumbent breaking:
	// when set, the pass is a repair (bo.Options.Repair), and the
	// incumbent's observation is labeled with them.
	Breaking []string `json:"breaking,omitempty"`
}

// ProposeResult is the candidate and how far it moves.
type ProposeResult struct {
	Suggestion         models.Suggestion `json:"suggestion"`
	Optimizer          string            `json:"optimizer"`
	History            int               `json:"history"`
	Step               float64           `json:"step"`
	CategoricalChanges int               `json:"categorical_changes"`
	// Resolution is what the canary can decide, as the optimizer was told.
	Resolution *models.Resolution `json:"resolution,omitempty"`
	// NoSafe is set, with Reason, when no candidate is safe enough to try,
	// or none is predicted to gain what a canary can show.
	NoSafe bool   `json:"no_safe,omitempty"`
	Reason string `json:"reason,omitempty"`
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

// ChangeResult says when the change took effect and what it replaced.
type ChangeResult struct {
	At time.Time `json:"at"`
	// Replaced is the configuration the changed cohort ran before, and
	// ReplacedPercent the canary's share of the traffic before an apply or
	// a revert (see Actuator.Change): a pass records them beside the stage,
	// and the stage's undo restores them.
	Replaced        models.Config `json:"replaced,omitempty"`
	ReplacedPercent float64       `json:"replaced_percent,omitempty"`
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
	// Repair is set in a repair pass (AnalyzeResult.Breaking): the stage is
	// judged on the guardrails and the opted-in rules only
	// (target.Spec.RepairJudge), and the deciding stage asks, instead of a
	// gain, that the baseline beside the canary is still shown to break a
	// guardrail.
	Repair bool `json:"repair,omitempty"`
	// Bake is set on a bake's looks and verification (target.Spec.BakeFor).
	// A look reads the last BakeHour of the window and watches the
	// guardrails and the opted-in rules, not the objective: an hour's
	// change of it is not the day's. The verification judges the window
	// [From, To) an hour at a time (judge.Bake).
	Bake bool `json:"bake,omitempty"`
}

// BakeHour is the window a bake is judged in (target.Spec.BakeFor), and
// the span its looks read: the load moves little within an hour, and a day
// holds enough hours to see its cycle.
const BakeHour = time.Hour

// BakeLookEvery is how often a bake is looked at (or the target's
// check_every, when longer): a bake lasts most of a day, and its looks
// read the last BakeHour.
const BakeLookEvery = 10 * time.Minute

// Judgement is a stage's verdict with its evidence.
type Judgement struct {
	// Verdict is pass, marginal or fail; only pass lets the rollout go on.
	Verdict  string             `json:"verdict"`
	Reasons  []string           `json:"reasons,omitempty"`
	Canary   map[string]Summary `json:"canary"`
	Baseline map[string]Summary `json:"baseline,omitempty"`
	// BaselineWindow is "same" when the baseline was read over the stage's
	// window, "reference" when the pre-pass window stood in for it.
	BaselineWindow string `json:"baseline_window,omitempty"`
	// Judge is the relative rules' verdict at the end of the wait (nil when
	// no rule applied); Sequential the look's evidence during it; SLOs each
	// guardrail judged against its limit at the end of the wait.
	Judge      *judge.Verdict          `json:"judge,omitempty"`
	Sequential *judge.SequentialResult `json:"sequential,omitempty"`
	SLOs       []judge.SLOVerdict      `json:"slos,omitempty"`
	// BaselineSLOs, at the deciding stage of a repair, are the guardrails
	// judged on the baseline beside the canary.
	BaselineSLOs []judge.SLOVerdict `json:"baseline_slos,omitempty"`
	// Failed lists the metrics that failed the stage: a guardrail broken or
	// without data, a relative rule not passed.
	Failed []string `json:"failed,omitempty"`
	// Violated lists the guardrails the canary was shown to break: over
	// the limit with confidence at the end of the wait, or by the
	// sequential check during it.
	Violated []string `json:"violated,omitempty"`
	// Undecided lists what the window could not decide yet, and a longer
	// wait may: guardrails inside their limit but not shown inside their
	// margin (or over it but not shown over), and, at the deciding stage,
	// the objective when its estimate gains but the gain is not shown.
	Undecided []string `json:"undecided,omitempty"`
	// ObjectiveWorse is set when the objective was shown worse than the
	// baseline.
	ObjectiveWorse bool `json:"objective_worse,omitempty"`
	// Bake is the bake's verdict, on a bake's verification.
	Bake *judge.BakeVerdict `json:"bake,omitempty"`
}

// Fail lists metric among those that failed the stage, once.
func (j *Judgement) Fail(metric string) {
	if !slices.Contains(j.Failed, metric) {
		j.Failed = append(j.Failed, metric)
	}
}

// Violate lists guardrail metric as shown broken, and failed, once.
func (j *Judgement) Violate(metric string) {
	j.Fail(metric)
	if !slices.Contains(j.Violated, metric) {
		j.Violated = append(j.Violated, metric)
	}
}

// RecordInput is what a pass leaves behind: its audit event, and the measured
// observation for the optimizer's history (nil when nothing was measured).
type RecordInput struct {
	Event       AuditEvent          `json:"event"`
	Observation *models.Observation `json:"observation,omitempty"`
}

// Seed derives a pass's optimizer seed from its ID, so a retried propose
// asks the same question and gets the same answer.
func Seed(passID string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(passID))
	return h.Sum64()
}

// AuditEvent is what a pass reports when it ends: the Record activity logs
// and counts it. The target's audit of record is its tuner's.
type AuditEvent struct {
	Time      time.Time      `json:"time"`
	PassID    string         `json:"pass_id"`
	Target    string         `json:"target"`
	Trigger   string         `json:"trigger,omitempty"`
	Outcome   string         `json:"outcome"`
	Reason    string         `json:"reason,omitempty"`
	Baseline  models.Config  `json:"baseline,omitempty"`
	Candidate models.Config  `json:"candidate,omitempty"`
	RiskBand  models.Band    `json:"risk_band,omitempty"`
	Stages    int            `json:"stages_passed"`
	Reverted  int            `json:"stages_reverted"`
	Measured  map[string]any `json:"measured,omitempty"`
}
