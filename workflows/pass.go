package workflows

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/passflow/passflow/contract"
	"github.com/passflow/passflow/models"
	"github.com/passflow/passflow/target"
)

// Stable names of the pass workflow and its handlers.
const (
	PassWorkflowName = "passflow.OptimizationPass"
	StatusQuery      = "status"
	// ApprovalSignal answered approvals before ApprovalUpdate; only passes
	// that asked for an approval before it existed still take it.
	ApprovalSignal = "approval"
)

// Search attributes the pass keeps current, so passes can be listed by
// target, step, outcome and risk band.
var (
	TargetKey   = temporal.NewSearchAttributeKeyKeyword("PassflowTarget")
	StepKey     = temporal.NewSearchAttributeKeyKeyword("PassflowStep")
	OutcomeKey  = temporal.NewSearchAttributeKeyKeyword("PassflowOutcome")
	RiskBandKey = temporal.NewSearchAttributeKeyKeyword("PassflowRiskBand")
)

// SearchAttributeNames lists the custom search attributes a namespace must
// have for passes to run.
var SearchAttributeNames = []string{"PassflowTarget", "PassflowStep", "PassflowOutcome", "PassflowRiskBand"}

// Step is where a pass is.
type Step string

// The steps of a pass, in order.
const (
	StepAnalyze    Step = "analyze"
	StepPropose    Step = "propose"
	StepAssess     Step = "assess"
	StepApproval   Step = "approval"
	StepCanary     Step = "canary"
	StepPromote    Step = "promote"
	StepCompensate Step = "compensate"
	StepRecord     Step = "record"
	StepDone       Step = "done"
)

// Outcome is how a pass ended.
type Outcome string

// The outcomes of a pass.
const (
	OutcomePromoted   Outcome = "promoted"
	OutcomeRolledBack Outcome = "rolled_back"
	OutcomeRejected   Outcome = "rejected"
	OutcomeSkipped    Outcome = "skipped"
	OutcomeCancelled  Outcome = "cancelled"
	OutcomeFailed     Outcome = "failed"
	// OutcomeAbandoned is a pass that ended without its own cleanup
	// (terminated, timed out); its tuner restored the last promoted
	// configuration.
	OutcomeAbandoned Outcome = "abandoned"
)

// Decided reports whether a pass with this outcome reached a decision (as
// opposed to failing to run).
func (o Outcome) Decided() bool { return o != "" && o != OutcomeFailed && o != OutcomeAbandoned }

// ErrTypePassFailed is the type of the error a pass that could not run
// fails with; its details are the pass's final PassStatus.
const ErrTypePassFailed = "PassFailed"

// PassInput starts one pass. The target's tuner starts it, with the spec it
// registered and the target's observation history.
type PassInput struct {
	PassID  string      `json:"pass_id"`
	Target  target.Spec `json:"target"`
	Trigger Trigger     `json:"trigger"`
	// RequestedBy is who or what asked for the pass.
	RequestedBy string `json:"requested_by,omitempty"`
	// History is the target's observations, oldest first: the optimizer's
	// warm start.
	History []models.Observation `json:"history,omitempty"`
	// Requests are the requests the pass serves, as the tuner took them.
	Requests []PassRequest `json:"requests,omitempty"`
	// BaselineSince is when the baseline's configuration took it over, as
	// the tuner recorded it (TunerState.BaselineSince); zero when unknown.
	BaselineSince time.Time `json:"baseline_since,omitzero"`
}

// StageStatus is one canary stage as the pass sees it.
type StageStatus struct {
	Index   int     `json:"index"`
	Percent float64 `json:"percent"`
	Applied bool    `json:"applied"`
	// Replaced is what the canary cohort ran before this stage's apply, and
	// ReplacedPercent its share of the traffic then, as the actuator
	// reported them (none when there was no canary). The stage's undo
	// restores them: a canary that ran before the pass comes back.
	Replaced        models.Config `json:"replaced,omitempty"`
	ReplacedPercent float64       `json:"replaced_percent,omitempty"`
	// Checks counts the periodic guardrail checks made during the wait.
	Checks    int                 `json:"checks"`
	Verdict   string              `json:"verdict,omitempty"`
	Reasons   []string            `json:"reasons,omitempty"`
	Judgement *contract.Judgement `json:"judgement,omitempty"`
	From      time.Time           `json:"from,omitzero"`
	To        time.Time           `json:"to,omitzero"`
	// BakeFrom is when the stage's bake began (target.Spec.BakeFor), zero
	// without one; the bake ends at To, and Verdict, Reasons and Judgement
	// are then the bake's.
	BakeFrom time.Time `json:"bake_from,omitzero"`
}

// Compensation is one undo the pass ran.
type Compensation struct {
	Stage       int     `json:"stage"`
	FromPercent float64 `json:"from_percent"`
	ToPercent   float64 `json:"to_percent"`
	// Restore is the configuration the canary runs again at ToPercent when
	// the stage replaced another than the candidate (a canary that ran
	// before the pass). Empty, the canary keeps the candidate, or is
	// removed at 0%.
	Restore models.Config `json:"restore,omitempty"`
	Key     string        `json:"key"`
	Done    bool          `json:"done"`
	Error   string        `json:"error,omitempty"`
}

// PassStatus is everything a pass has decided so far; the status query
// returns it and the workflow returns it when it ends.
type PassStatus struct {
	ID          string                      `json:"id"`
	Target      string                      `json:"target"`
	Trigger     Trigger                     `json:"trigger"`
	RequestedBy string                      `json:"requested_by,omitempty"`
	Step        Step                        `json:"step"`
	Started     time.Time                   `json:"started"`
	Baseline    models.Config               `json:"baseline,omitempty"`
	SLIs        map[string]contract.Summary `json:"slis,omitempty"`
	Candidate   models.Config               `json:"candidate,omitempty"`
	Optimizer   string                      `json:"optimizer,omitempty"`
	Prediction  *models.Prediction          `json:"prediction,omitempty"`
	Why         string                      `json:"why,omitempty"`
	Risk        *models.Risk                `json:"risk,omitempty"`
	// ApprovalRequest is set once the pass asks for an approval.
	ApprovalRequest *ApprovalRequest `json:"approval_request,omitempty"`
	// Approvals are the answers the pass took, in order.
	Approvals []Approval `json:"approvals,omitempty"`
	// Approval is the answer that decided: the one that reached the quorum,
	// or the rejection.
	Approval *Approval `json:"approval,omitempty"`
	// Ignored are answers from non-approvers, which passes that took
	// approvals as signals kept; updates refuse them instead.
	Ignored       []Approval     `json:"ignored_approvals,omitempty"`
	Stages        []StageStatus  `json:"stages"`
	Compensations []Compensation `json:"compensations,omitempty"`
	Outcome       Outcome        `json:"outcome,omitempty"`
	Reason        string         `json:"reason,omitempty"`
	// Change is the measured relative change of the objective, canary over
	// baseline, at the last stage verified (e.g. -0.08 is 8% lower).
	Change *float64 `json:"change,omitempty"`
	// Observation is what the pass measured of its candidate, handed back to
	// the tuner's history; nil when nothing was measured.
	Observation *models.Observation `json:"observation,omitempty"`
	// BaselineObservation, in a repair, is what the stage of Observation
	// measured of the broken baseline beside the candidate, handed back to
	// the tuner's history after it; nil otherwise.
	BaselineObservation *models.Observation `json:"baseline_observation,omitempty"`
	// Repair, when set, makes the pass a repair: Analyze found the baseline
	// over these guardrails' limits with confidence (one line of evidence
	// each). A repair proposes the best configuration believed to keep every
	// guardrail, whatever its objective, and is promoted only while the
	// baseline beside it still breaks one.
	Repair []string `json:"repair,omitempty"`
	// Alerts are the alerts delivered to the pass, with what it did.
	Alerts []AlertNote `json:"alerts,omitempty"`
	// Hold is set while the pass holds its canary for a freeze.
	Hold  *Hold     `json:"hold,omitempty"`
	Ended time.Time `json:"ended,omitzero"`
}

// AlertNote is an alert a pass received and what it did about it.
type AlertNote struct {
	Alert    Alert     `json:"alert"`
	Received time.Time `json:"received"`
	// Aborted is true when the alert rolled the canary back.
	Aborted bool   `json:"aborted"`
	Why     string `json:"why"`
}

// Hold is a canary held for a freeze.
type Hold struct {
	Why   string    `json:"why"`
	Since time.Time `json:"since"`
	Until time.Time `json:"until"`
}

// maxAlertNotes bounds the alerts a pass keeps in its status.
const maxAlertNotes = 20

// pass is one run of the OptimizationPass workflow.
type pass struct {
	in     PassInput
	st     PassStatus
	undo   []Compensation // the compensation stack, last applied last
	ref    contract.AnalyzeResult
	alerts workflow.ReceiveChannel
	// breaking lists the guardrails the baseline broke at analyze: the pass
	// is a repair when it is not empty.
	breaking  []string
	approvals approvals
}

// OptimizationPass runs one pass: analyze, propose, assess risk, wait for an
// approval when the band needs one, roll out the canary stages with a timed
// verification each, then promote, or undo every applied stage; finally it
// records the outcome and the measured observation.
//
// A cancelled pass compensates, records, and ends as cancelled. A pass that
// cannot run (an activity fails for good) compensates, records, and fails.
func OptimizationPass(ctx workflow.Context, in PassInput) (PassStatus, error) {
	p := &pass{in: in, st: PassStatus{
		ID: in.PassID, Target: in.Target.Name, Trigger: in.Trigger, RequestedBy: in.RequestedBy,
		Started: workflow.Now(ctx), Stages: []StageStatus{},
	}, alerts: workflow.GetSignalChannel(ctx, AlertSignal)}
	for i, pct := range in.Target.Canary.Stages {
		p.st.Stages = append(p.st.Stages, StageStatus{Index: i + 1, Percent: pct})
	}
	if err := workflow.SetQueryHandler(ctx, StatusQuery, func() (PassStatus, error) { return p.st, nil }); err != nil {
		return p.st, err
	}
	p.approvals.p = p
	if err := p.approvals.register(ctx); err != nil {
		return p.st, err
	}
	_ = workflow.UpsertTypedSearchAttributes(ctx, TargetKey.ValueSet(in.Target.Name))

	err := p.run(ctx)
	cancelled := errors.Is(ctx.Err(), workflow.ErrCanceled) || temporal.IsCanceledError(err)

	// Everything from here runs even when the pass was cancelled.
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	if len(p.undo) > 0 {
		p.compensate(dctx)
	}
	switch {
	case cancelled && len(p.st.Compensations) > 0:
		p.end(OutcomeRolledBack, "cancelled by an operator; applied stages undone")
	case cancelled:
		p.end(OutcomeCancelled, "cancelled by an operator before anything was applied")
	case err != nil && len(p.st.Compensations) > 0:
		p.end(OutcomeFailed, fmt.Sprintf("%v; applied stages undone", err))
	case err != nil:
		p.end(OutcomeFailed, err.Error())
	}
	p.record(dctx)
	switch p.st.Outcome {
	case OutcomePromoted:
		p.notify(dctx, target.EventPromoted)
	case OutcomeRolledBack:
		p.notify(dctx, target.EventRolledBack)
	}
	p.setStep(dctx, StepDone)
	p.st.Ended = workflow.Now(dctx)

	// The status rides in the error's details, so the tuner gets the
	// pass's record and observation whichever way it ended.
	switch {
	case cancelled:
		return p.st, temporal.NewCanceledError(p.st)
	case p.st.Outcome == OutcomeFailed:
		return p.st, temporal.NewNonRetryableApplicationError(p.st.Reason, ErrTypePassFailed, err, p.st)
	}
	return p.st, nil
}

// run takes the pass up to its decision. It returns an error only when the
// pass cannot go on (an activity failed for good, or it was cancelled); every
// decision it reaches is in p.st.Outcome.
func (p *pass) run(ctx workflow.Context) error {
	spec := p.in.Target

	p.setStep(ctx, StepAnalyze)
	var an contract.AnalyzeResult
	if err := workflow.ExecuteActivity(readCtx(ctx, "analyze "+spec.Name), contract.AnalyzeName,
		contract.AnalyzeInput{PassID: p.in.PassID, Target: spec, BaselineSince: p.in.BaselineSince}).Get(ctx, &an); err != nil {
		return fmt.Errorf("analyze: %w", err)
	}
	p.ref, p.st.Baseline, p.st.SLIs = an, an.Baseline, an.SLIs
	if an.Skip {
		p.end(OutcomeSkipped, an.Reason)
		return nil
	}
	// A baseline that breaks a guardrail makes the pass a repair. Passes
	// recorded before repairs existed never saw a breaking baseline.
	if len(an.Breaking) > 0 && workflow.GetVersion(ctx, "repair", workflow.DefaultVersion, 1) == 1 {
		p.breaking, p.st.Repair = an.Breaking, an.BreakingWhy
		if len(p.st.Repair) == 0 {
			p.st.Repair = an.Breaking
		}
	}

	p.setStep(ctx, StepPropose)
	var pr contract.ProposeResult
	if err := workflow.ExecuteActivity(proposeCtx(ctx), contract.ProposeName, contract.ProposeInput{
		PassID: p.in.PassID, Target: spec, Incumbent: an.Baseline, IncumbentSLIs: an.SLIs,
		History: p.in.History, Seed: contract.Seed(p.in.PassID), Breaking: p.breaking,
	}).Get(ctx, &pr); err != nil {
		return fmt.Errorf("propose: %w", err)
	}
	p.st.Optimizer = pr.Optimizer
	if pr.NoSafe {
		p.end(OutcomeSkipped, "no safe candidate: "+pr.Reason)
		return nil
	}
	cand := pr.Suggestion.Config
	p.st.Candidate, p.st.Prediction, p.st.Why = cand, pr.Suggestion.Prediction, pr.Suggestion.Why

	p.setStep(ctx, StepAssess)
	pViolation := nan()
	if pr.Suggestion.Prediction != nil {
		pViolation = 1 - pr.Suggestion.Prediction.PAllFeasible
	}
	budget := nan()
	if an.Budget != nil {
		budget = an.Budget.BudgetRemaining // known: Analyze skips passes whose budget it cannot read
	}
	baseViolation := nan()
	if inc := pr.Suggestion.Incumbent; inc != nil {
		baseViolation = 1 - inc.PAllFeasible
	}
	risk := models.AssessRisk(models.RiskInput{
		Step: pr.Step, CategoricalChanges: pr.CategoricalChanges, MaxStep: spec.Risk.MaxStep,
		PViolation: pViolation, Tier: spec.Tier, BudgetRemaining: budget,
		Repair: len(p.breaking) > 0, BaselinePViolation: baseViolation,
	})
	p.st.Risk = &risk
	_ = workflow.UpsertTypedSearchAttributes(ctx, RiskBandKey.ValueSet(string(risk.Band)))
	if risk.Band == models.BandForbidden {
		p.end(OutcomeSkipped, "risk band forbidden: "+risk.String())
		return nil
	}
	if spec.Risk.ApprovalFrom != models.BandForbidden && risk.Band.AtLeast(spec.Risk.ApprovalFrom) {
		approved, err := p.awaitApproval(ctx)
		if err != nil || !approved {
			return err
		}
	}

	p.setStep(ctx, StepCanary)
	prev := 0.0
	for i := range p.st.Stages {
		if ok, err := p.freezeGate(ctx, i); err != nil || !ok {
			return err
		}
		ok, err := p.stage(ctx, i, prev)
		if err != nil {
			return err
		}
		if !ok {
			p.end(OutcomeRolledBack, fmt.Sprintf("stage %d (%g%%) failed: %s", i+1,
				p.st.Stages[i].Percent, strings.Join(p.st.Stages[i].Reasons, "; ")))
			return nil
		}
		prev = p.st.Stages[i].Percent
	}

	p.setStep(ctx, StepPromote)
	if err := workflow.ExecuteActivity(writeCtx(ctx, "promote "+cand.String()), contract.PromoteName, contract.ChangeInput{
		PassID: p.in.PassID, Target: spec, Key: p.in.PassID + "/promote", Config: cand, Percent: 100,
	}).Get(ctx, nil); err != nil {
		return fmt.Errorf("promote: %w", err)
	}
	p.undo = nil // promotion is the commit point: nothing left to undo
	why := fmt.Sprintf("all %d stages passed", len(p.st.Stages))
	if len(p.breaking) > 0 {
		why = fmt.Sprintf("repaired %s: %s", strings.Join(p.breaking, ", "), why)
	}
	p.end(OutcomePromoted, why)
	return nil
}

// stage applies stage i, waits its verification window with periodic
// guardrail checks, and verifies it. ok is false when the stage failed.
func (p *pass) stage(ctx workflow.Context, i int, prevPercent float64) (ok bool, err error) {
	spec := p.in.Target
	s := &p.st.Stages[i]
	key := fmt.Sprintf("%s/stage-%d", p.in.PassID, s.Index)
	change := contract.ChangeInput{
		PassID: p.in.PassID, Target: spec, Key: key, Stage: s.Index,
		Config: p.st.Candidate, Percent: s.Percent,
	}
	// The undo is pushed before the apply: an apply that timed out may still
	// have taken effect, and undoing a change that never happened is a no-op.
	// Until the apply says what it replaced, the undo steps back to the
	// previous stage's share of the candidate.
	p.undo = append(p.undo, Compensation{
		Stage: s.Index, FromPercent: s.Percent, ToPercent: prevPercent,
		Key: fmt.Sprintf("%s/undo-stage-%d", p.in.PassID, s.Index),
	})
	var applied contract.ChangeResult
	if err := workflow.ExecuteActivity(writeCtx(ctx, fmt.Sprintf("apply stage %d: %g%%", s.Index, s.Percent)),
		contract.ApplyName, change).Get(ctx, &applied); err != nil {
		return false, fmt.Errorf("apply stage %d: %w", s.Index, err)
	}
	s.Applied, s.Replaced, s.ReplacedPercent = true, applied.Replaced, applied.ReplacedPercent
	// The undo restores what the apply replaced, when the actuator told
	// all of it: no canary, or a canary and its share (an answer without
	// the share keeps the step back). So the first stage's undo brings back
	// a canary that ran before the pass.
	if u := &p.undo[len(p.undo)-1]; applied.Replaced == nil || applied.ReplacedPercent > 0 {
		u.ToPercent, u.Restore = applied.ReplacedPercent, nil
		if applied.Replaced != nil && !applied.Replaced.Equal(p.st.Candidate) {
			u.Restore = applied.Replaced
		}
	}
	s.From = workflow.Now(ctx)
	p.upsertStep(ctx, fmt.Sprintf("%s-%d", StepCanary, s.Index))
	// Passes recorded before the canary signal existed replay without it.
	if i == 0 && workflow.GetVersion(ctx, "canary-signal", workflow.DefaultVersion, 1) == 1 {
		p.tellTuner(ctx, s.From)
	}

	window := contract.WindowInput{
		Target: spec, Stage: s.Index, Percent: s.Percent, From: s.From,
		ReferenceFrom: p.ref.From, ReferenceTo: p.ref.To, Repair: len(p.breaking) > 0,
	}
	verifyFor, every := spec.VerifyFor(), spec.CheckEvery()
	if p.ref.VerifyFor > verifyFor {
		verifyFor = p.ref.VerifyFor // extended so the judge gets the samples it needs
	}
	if ok, err := p.wait(ctx, s, &window, verifyFor, every); err != nil || !ok {
		return false, err
	}
	j, err := p.verify(ctx, s, &window)
	if err != nil {
		return false, err
	}
	// A guardrail the window could not decide gets more time, up to
	// canary.max_verify_for: a longer window narrows its interval. Passes
	// recorded before the SLO judge never had an undecided guardrail.
	if len(j.Undecided) > 0 && j.Verdict == contract.VerdictMarginal &&
		workflow.GetVersion(ctx, "slo-extend", workflow.DefaultVersion, 1) == 1 {
		for limit := max(spec.MaxVerifyFor(), verifyFor); len(j.Undecided) > 0 && j.Verdict == contract.VerdictMarginal; {
			elapsed := workflow.Now(ctx).Sub(s.From)
			if elapsed >= limit {
				j.Reasons = append(j.Reasons, fmt.Sprintf("still undecided after the longest wait, max_verify_for %s", limit))
				s.Reasons = j.Reasons
				break
			}
			// A guardrail is looked at again every quarter window; a gain
			// once, at the cap: every extra look at the objective would be
			// one more chance for noise to pass as a gain.
			more := min(max(verifyFor/4, every), limit-elapsed)
			if slices.Contains(j.Undecided, spec.Objective.Metric) {
				more = limit - elapsed
			}
			if ok, err := p.wait(ctx, s, &window, more, every); err != nil || !ok {
				return false, err
			}
			if j, err = p.verify(ctx, s, &window); err != nil {
				return false, err
			}
		}
	}
	p.observe(j, s)
	if a := p.pendingAlert(ctx); a != nil {
		p.alertFails(ctx, s, *a)
		return false, nil
	}
	// Passes recorded before bakes existed never baked.
	if j.Verdict == contract.VerdictPass && s.Index == spec.DecidingStage() && spec.BakeFor() > 0 &&
		workflow.GetVersion(ctx, "bake", workflow.DefaultVersion, 1) == 1 {
		return p.bake(ctx, s, window)
	}
	// Only a pass goes on: a marginal stage is not evidence enough to put
	// more traffic on the candidate.
	return j.Verdict == contract.VerdictPass, nil
}

// bake keeps the deciding stage s running for canary.bake_for after it
// passed, looking at its last hour every BakeLookEvery, and judges it
// again over the whole bake an hour at a time (contract.WindowInput.Bake).
// ok is false when the bake failed or was marginal. The observation keeps
// the stage's own means, the ones every other pass measured at its hour of
// the day, and takes the bake's verdict (Baked). When the bake showed the
// objective worse, the objective becomes the incumbent's as analyze read it
// (the value the models compare candidates with) moved by the bake's
// change: the stage's hour said better, and the models would come back.
func (p *pass) bake(ctx workflow.Context, s *StageStatus, window contract.WindowInput) (ok bool, err error) {
	spec := p.in.Target
	measured := p.st.Observation
	s.BakeFrom = workflow.Now(ctx)
	w := window
	w.From, w.Bake = s.BakeFrom, true
	ok, err = p.wait(ctx, s, &w, spec.BakeFor(), max(spec.CheckEvery(), contract.BakeLookEvery))
	if err != nil {
		return false, err
	}
	if ok {
		j, err := p.verify(ctx, s, &w)
		if err != nil {
			return false, err
		}
		ok = j.Verdict == contract.VerdictPass
		if a := p.pendingAlert(ctx); a != nil {
			p.alertFails(ctx, s, *a)
			ok = false
		}
	}
	if measured == nil || s.Judgement == nil {
		return ok, nil
	}
	o := *measured
	o.Uncertainty = maps.Clone(measured.Uncertainty)
	o.Verdict, o.Violated, o.ObjectiveWorse = s.Verdict, slices.Clone(s.Judgement.Violated), s.Judgement.ObjectiveWorse
	o.Reasons = briefReasons(s.Reasons)
	o.Baked = s.Judgement.Bake != nil
	obj := spec.Objective.Metric
	if b := s.Judgement.Bake; b != nil && s.Judgement.ObjectiveWorse && b.Hours > 0 && p.st.SLIs[obj].N > 0 {
		base := p.st.SLIs[obj]
		o.Objective = base.Mean * (1 + b.Change)
		o.Uncertainty[obj] = math.Hypot(base.SE()*(1+b.Change), base.Mean*b.SE)
		ch := b.Change
		p.st.Change = &ch
	}
	p.st.Observation = &o
	return ok, nil
}

// wait waits d on stage s with a guardrail look every `every` (the last
// look is the verification that follows the wait). ok is false when the
// stage failed during the wait: a look aborted it, or an alert did.
func (p *pass) wait(ctx workflow.Context, s *StageStatus, window *contract.WindowInput, d, every time.Duration) (ok bool, err error) {
	looks := int((d + every - 1) / every)
	for elapsed, look := time.Duration(0), 1; elapsed < d; look++ {
		step := min(every, d-elapsed)
		a, err := p.sleep(ctx, step, fmt.Sprintf("verify stage %d (%g%%): look %d of %d", s.Index, s.Percent, look, looks))
		if err != nil {
			return false, err
		}
		if a != nil {
			p.alertFails(ctx, s, *a)
			return false, nil
		}
		elapsed += step
		if elapsed >= d {
			break // the verification looks at everything
		}
		window.To = workflow.Now(ctx)
		var j contract.Judgement
		if err := workflow.ExecuteActivity(readCtx(ctx, fmt.Sprintf("check stage %d", s.Index)),
			contract.CheckName, *window).Get(ctx, &j); err != nil {
			return false, fmt.Errorf("check stage %d: %w", s.Index, err)
		}
		s.Checks++
		if j.Verdict == contract.VerdictFail {
			s.Verdict, s.Reasons, s.Judgement, s.To = contract.VerdictFail, append([]string{"aborted early"}, j.Reasons...), &j, window.To
			p.observe(j, s)
			return false, nil
		}
	}
	return true, nil
}

// verify judges stage s on its window up to now and keeps the judgement.
func (p *pass) verify(ctx workflow.Context, s *StageStatus, window *contract.WindowInput) (contract.Judgement, error) {
	window.To = workflow.Now(ctx)
	s.To = window.To
	var j contract.Judgement
	if err := workflow.ExecuteActivity(readCtx(ctx, fmt.Sprintf("verify stage %d", s.Index)),
		contract.VerifyName, *window).Get(ctx, &j); err != nil {
		return j, fmt.Errorf("verify stage %d: %w", s.Index, err)
	}
	s.Verdict, s.Reasons, s.Judgement = j.Verdict, j.Reasons, &j
	return j, nil
}

// tellTuner tells the pass's tuner, when it has one, that its canary is
// applied since at: alerts that start from then on are delivered to it.
func (p *pass) tellTuner(ctx workflow.Context, at time.Time) {
	parent := workflow.GetInfo(ctx).ParentWorkflowExecution
	if parent == nil {
		return
	}
	err := workflow.SignalExternalWorkflow(ctx, parent.ID, "", CanarySignal, CanaryStarted{PassID: p.in.PassID, At: at}).Get(ctx, nil)
	if err != nil {
		workflow.GetLogger(ctx).Warn("tell the tuner the canary started", "tuner", parent.ID, "error", err)
	}
}

// sleep waits d on a durable timer. An alert that may concern the pass's
// change cuts the wait short and is returned; other alerts are noted.
func (p *pass) sleep(ctx workflow.Context, d time.Duration, summary string) (*Alert, error) {
	tctx, cancelTimer := workflow.WithCancel(ctx)
	defer cancelTimer()
	timer := workflow.NewTimerWithOptions(tctx, d, workflow.TimerOptions{Summary: summary})
	for {
		var (
			a     Alert
			fired bool
			err   error
		)
		sel := workflow.NewSelector(ctx)
		sel.AddFuture(timer, func(f workflow.Future) { fired, err = true, f.Get(ctx, nil) })
		sel.AddReceive(p.alerts, func(c workflow.ReceiveChannel, _ bool) { c.Receive(ctx, &a) })
		sel.Select(ctx)
		if fired {
			return nil, err
		}
		if p.aborts(ctx, a) {
			return &a, nil
		}
	}
}

// pendingAlert takes the alerts that arrived while the pass was busy and
// returns the first that aborts it.
func (p *pass) pendingAlert(ctx workflow.Context) *Alert {
	for {
		var a Alert
		if !p.alerts.ReceiveAsync(&a) {
			return nil
		}
		if p.aborts(ctx, a) {
			return &a
		}
	}
}

// aborts decides whether an alert rolls the canary back, and notes it: it
// does when the canary is applied and the alert started after the first
// stage was (the change may be what made it fire); an alert that fired
// before any change is noted only.
func (p *pass) aborts(ctx workflow.Context, a Alert) bool {
	note := AlertNote{Alert: a, Received: workflow.Now(ctx)}
	first := p.st.Stages[0].From // zero until stage 1 is applied
	switch {
	case !p.st.Stages[0].Applied:
		note.Why = "no canary applied yet: noted"
	case !a.StartsAt.IsZero() && a.StartsAt.Before(first):
		note.Why = "started before the first stage was applied: noted"
	default:
		note.Aborted, note.Why = true, "started after the canary was applied: the stage fails and the canary rolls back"
	}
	if len(p.st.Alerts) < maxAlertNotes {
		p.st.Alerts = append(p.st.Alerts, note)
	}
	return note.Aborted
}

// alertFails fails stage s on an alert.
func (p *pass) alertFails(ctx workflow.Context, s *StageStatus, a Alert) {
	s.Verdict, s.To = contract.VerdictFail, workflow.Now(ctx)
	s.Reasons = []string{a.String() + " during the stage"}
}

// freezeGate holds the canary before stage i while the target's freeze
// lasts, or ends the pass, as the target's freeze says. ok is false when the
// pass ends here.
func (p *pass) freezeGate(ctx workflow.Context, i int) (ok bool, err error) {
	f := p.in.Target.Triggers.Freeze
	for {
		now := workflow.Now(ctx)
		frozen, until, why := f.At(now)
		if !frozen {
			p.st.Hold = nil
			return true, nil
		}
		if f.OnCanary == target.FreezeRollback {
			if i == 0 {
				p.end(OutcomeSkipped, fmt.Sprintf("the freeze %s began before the first stage", why))
			} else {
				p.end(OutcomeRolledBack, fmt.Sprintf("the freeze %s began after stage %d; the canary rolls back, as the target says", why, i))
			}
			return false, nil
		}
		p.st.Hold = &Hold{Why: why, Since: now, Until: until}
		a, err := p.sleep(ctx, until.Sub(now), fmt.Sprintf("hold before stage %d for the freeze %s until %s", i+1, why,
			until.UTC().Format(time.RFC3339)))
		if err != nil {
			return false, err
		}
		if a != nil {
			p.end(OutcomeRolledBack, fmt.Sprintf("%s while the canary was held for a freeze", a))
			return false, nil
		}
	}
}

// observe keeps the latest canary measurement of stage s as the pass's
// observation: the canary's means with their standard errors, as measured,
// and apart, the stage's verdict and why (the guardrails shown broken, the
// objective shown worse). Nothing is made up: a guardrail without data is
// left out of the values (and fails the stage); without canary data for the
// objective the observation is a failure.
//
// A stage past the deciding stage (100%, judged against the window read
// before the pass) adds its verdict and why, not its values: it runs later
// in the day than every other pass's measured stages, and a service's
// metrics follow its load through the day, so its means would not compare
// with the rest of the history. A failure there is in the labels.
//
// In a repair, the stage's reading of the baseline beside the canary is
// kept too (baselineObservation).
func (p *pass) observe(j contract.Judgement, s *StageStatus) {
	spec := p.in.Target
	o, measured := contract.Measured(spec, p.st.Candidate, j.Canary)
	if prev := p.st.Observation; prev != nil && !prev.Failed && s.Index > spec.DecidingStage() {
		o.Objective, o.Constraints, o.Uncertainty, measured = prev.Objective, prev.Constraints, prev.Uncertainty, true
	} else {
		p.st.BaselineObservation = p.baselineObservation(j, s)
		if b := j.Baseline[spec.Objective.Metric]; b.N > 0 && measured && b.Mean != 0 {
			ch := o.Objective/b.Mean - 1
			p.st.Change = &ch
		}
	}
	o.Source, o.Failed = p.in.PassID, !measured
	o.Verdict, o.Stage, o.Percent = j.Verdict, s.Index, s.Percent
	o.Violated, o.ObjectiveWorse, o.Reasons = slices.Clone(j.Violated), j.ObjectiveWorse, briefReasons(s.Reasons)
	p.st.Observation = &o
}

// baselineObservation is, in a repair, the broken baseline as stage s
// measured it beside the canary (j.Baseline): its values only, the judge's
// verdict being the candidate's. Nil outside a repair, or without the
// objective's data.
//
// The history keeps a configuration as its canary measured it, on the day
// it was tried; the configuration a repair leaves is by then measured
// broken (the day's load, a deploy, drift), and without this reading the
// models go on believing the old one. web-api's incumbent of 26 threads
// was in the history at a p99 of 223 ms, measured before a deploy made the
// tail 25% slower; the repair left it at about 350 ms, and the next pass,
// still believing 223 ms, stepped to 25 threads: a guardrail 43.5× past
// its limit at 5% of the traffic. A healthy baseline's reading is not
// kept: read beside every canary, it made the loop bolder and more often
// broken (BENCHMARKS.md, seventh session).
func (p *pass) baselineObservation(j contract.Judgement, s *StageStatus) *models.Observation {
	if len(p.breaking) == 0 || p.st.Baseline == nil {
		return nil
	}
	o, measured := contract.Measured(p.in.Target, p.st.Baseline.Clone(), j.Baseline)
	if !measured {
		return nil
	}
	o.Source, o.Baseline, o.Stage, o.Percent = p.in.PassID+"/baseline", true, s.Index, s.Percent
	return &o
}

// An observation keeps at most maxObsReasons reasons of at most
// maxObsReason bytes each: the tuner carries hundreds of observations in
// every pass's input and its continue-as-new state, and the stage's full
// reasons are in the pass's status.
const (
	maxObsReasons = 3
	maxObsReason  = 200
)

// briefReasons returns the reasons an observation keeps.
func briefReasons(rs []string) []string {
	out := make([]string, 0, min(len(rs), maxObsReasons))
	for _, r := range rs[:min(len(rs), maxObsReasons)] {
		if len(r) > maxObsReason {
			r = strings.ToValidUTF8(r[:maxObsReason], "") + "…"
		}
		out = append(out, r)
	}
	return out
}

// compensate undoes the applied stages in reverse order. It keeps going past
// an undo that fails for good, so as much as possible is restored, and
// reports each in the status.
func (p *pass) compensate(ctx workflow.Context) {
	p.setStep(ctx, StepCompensate)
	for k := len(p.undo) - 1; k >= 0; k-- {
		c := p.undo[k]
		config, what := p.st.Candidate, fmt.Sprintf("undo stage %d: %g%% → %g%%", c.Stage, c.FromPercent, c.ToPercent)
		if c.Restore != nil {
			config, what = c.Restore, fmt.Sprintf("undo stage %d: %g%% → %g%% on the canary it replaced", c.Stage, c.FromPercent, c.ToPercent)
		}
		err := workflow.ExecuteActivity(undoCtx(ctx, what),
			contract.RevertName, contract.ChangeInput{
				PassID: p.in.PassID, Target: p.in.Target, Key: c.Key, Stage: c.Stage,
				Config: config, Percent: c.ToPercent,
			}).Get(ctx, nil)
		c.Done = err == nil
		if err != nil {
			c.Error = err.Error()
		}
		p.st.Compensations = append(p.st.Compensations, c)
	}
	p.undo = nil
}

// record leaves the audit event and the observation. A record that fails is
// logged, not fatal: the decision has been carried out already.
func (p *pass) record(ctx workflow.Context) {
	p.setStep(ctx, StepRecord)
	passed, reverted := 0, 0
	for _, s := range p.st.Stages {
		if s.Verdict == contract.VerdictPass {
			passed++
		}
	}
	for _, c := range p.st.Compensations {
		if c.Done {
			reverted++
		}
	}
	ev := contract.AuditEvent{
		Time: workflow.Now(ctx), PassID: p.in.PassID, Target: p.in.Target.Name, Trigger: string(p.in.Trigger),
		Outcome: string(p.st.Outcome), Reason: p.st.Reason, Baseline: p.st.Baseline,
		Candidate: p.st.Candidate, Stages: passed, Reverted: reverted,
	}
	if p.st.Risk != nil {
		ev.RiskBand = p.st.Risk.Band
	}
	if p.st.Change != nil {
		ev.Measured = map[string]any{"objective_change": *p.st.Change}
	}
	err := workflow.ExecuteActivity(writeCtx(ctx, "record "+string(p.st.Outcome)), contract.RecordName,
		contract.RecordInput{Event: ev, Observation: p.st.Observation}).Get(ctx, nil)
	if err != nil {
		workflow.GetLogger(ctx).Error("record failed", "pass", p.in.PassID, "error", err)
	}
}

func (p *pass) end(o Outcome, reason string) {
	if p.st.Outcome != "" && o == OutcomeFailed {
		return // a decision already reached stands
	}
	p.st.Outcome, p.st.Reason = o, reason
}

func (p *pass) setStep(ctx workflow.Context, s Step) {
	p.st.Step = s
	p.upsertStep(ctx, string(s))
}

func (p *pass) upsertStep(ctx workflow.Context, s string) {
	upd := []temporal.SearchAttributeUpdate{StepKey.ValueSet(s)}
	if p.st.Outcome != "" {
		upd = append(upd, OutcomeKey.ValueSet(string(p.st.Outcome)))
	}
	if err := workflow.UpsertTypedSearchAttributes(ctx, upd...); err != nil {
		workflow.GetLogger(ctx).Warn("upsert search attributes", "error", err)
	}
}
