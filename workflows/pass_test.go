package workflows_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/passflow/passflow/contract"
	"github.com/passflow/passflow/models"
	"github.com/passflow/passflow/target"
	"github.com/passflow/passflow/workers"
	"github.com/passflow/passflow/workflows"
)

func ptr[T any](v T) *T { return &v }

// testSpec is a three-stage target with 30-minute waits and 10-minute looks.
func testSpec() target.Spec {
	return target.Spec{
		Name: "checkout", Tier: models.TierStandard,
		Params: models.Space{
			{Name: "threads", Type: models.Int, Min: 4, Max: 256, Log: true, Current: ptr(models.Num(32))},
			{Name: "gc", Type: models.Categorical, Choices: []string{"a", "b"}, Current: ptr(models.Str("a"))},
		},
		Objective:   target.Objective{Metric: "cost", Goal: models.Minimize},
		Constraints: []models.Constraint{{Metric: "latency", Max: ptr(200.0)}},
		Canary: target.Canary{
			Stages: []float64{5, 25, 100}, VerifyFor: model.Duration(30 * time.Minute),
			CheckEvery: model.Duration(10 * time.Minute), Tolerance: 0.05,
		},
		Risk: target.Risk{
			ApprovalFrom: models.BandHigh, Approvers: []string{"alice"},
			ApprovalTimeout: model.Duration(24 * time.Hour), MaxStep: 0.25, Delta: 0.05,
		},
	}
}

// fakes stand in for every activity and log what the pass asked of them.
type fakes struct {
	mu        sync.Mutex
	calls     []string // "apply <key>", "revert <key>", "promote <key>", "record <outcome>"
	skip      string   // analyze asks to skip with this reason
	step      float64  // the candidate's step from the incumbent
	failStage int      // verify fails at this stage
	abortAt   [2]int   // check fails at stage [0], look [1]
	applyErr  int      // apply fails for good at this stage
	breaking  []string // analyze finds the baseline breaking these guardrails
	// predicted and incumbent, when set, are the models' predictions at the
	// candidate and at the incumbent that propose returns.
	predicted, incumbent *models.Prediction
	// prior is a canary running before the pass, at priorPercent: the
	// first stage's apply replaces it.
	prior        models.Config
	priorPercent float64
	// unsaid: the actuator names what it replaced but not the share.
	unsaid   bool
	record   *contract.RecordInput
	analyzed []contract.AnalyzeInput
	proposed contract.ProposeInput
	windows  []contract.WindowInput // every check's and verification's input
}

func (f *fakes) log(s string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, s)
}

func (f *fakes) register(env *testsuite.TestWorkflowEnvironment) {
	incumbent := models.Config{"threads": models.Num(32), "gc": models.Str("a")}
	candidate := models.Config{"threads": models.Num(40), "gc": models.Str("a")}
	looks := map[int]int{}
	reg := func(name string, fn any) {
		env.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: name})
	}
	reg(contract.AnalyzeName, func(ctx context.Context, in contract.AnalyzeInput) (contract.AnalyzeResult, error) {
		f.mu.Lock()
		f.analyzed = append(f.analyzed, in)
		f.mu.Unlock()
		return contract.AnalyzeResult{Baseline: incumbent, Skip: f.skip != "", Reason: f.skip,
			SLIs: map[string]contract.Summary{"cost": {N: 60, Mean: 1}}, Breaking: f.breaking}, nil
	})
	reg(contract.ProposeName, func(ctx context.Context, in contract.ProposeInput) (contract.ProposeResult, error) {
		f.mu.Lock()
		f.proposed = in
		f.mu.Unlock()
		return contract.ProposeResult{Suggestion: models.Suggestion{Config: candidate, Why: "fake", Prediction: f.predicted, Incumbent: f.incumbent},
			Optimizer: "fake", Step: f.step}, nil
	})
	reg(contract.ApplyName, func(ctx context.Context, in contract.ChangeInput) (contract.ChangeResult, error) {
		if in.Stage == f.applyErr {
			return contract.ChangeResult{}, temporal.NewNonRetryableApplicationError("actuator refused", contract.ErrTypeInvalidChange, nil)
		}
		f.log("apply " + in.Key)
		switch {
		case in.Stage == 1:
			return contract.ChangeResult{Replaced: f.prior, ReplacedPercent: f.priorPercent}, nil
		case f.unsaid:
			return contract.ChangeResult{Replaced: candidate}, nil
		}
		return contract.ChangeResult{Replaced: candidate, ReplacedPercent: in.Target.Canary.Stages[in.Stage-2]}, nil
	})
	reg(contract.RevertName, func(ctx context.Context, in contract.ChangeInput) (contract.ChangeResult, error) {
		if in.Config.String() != candidate.String() {
			f.log(fmt.Sprintf("revert %s to %g%% on %s", in.Key, in.Percent, in.Config))
		} else {
			f.log(fmt.Sprintf("revert %s to %g%%", in.Key, in.Percent))
		}
		return contract.ChangeResult{}, nil
	})
	reg(contract.PromoteName, func(ctx context.Context, in contract.ChangeInput) (contract.ChangeResult, error) {
		f.log("promote " + in.Key)
		return contract.ChangeResult{}, nil
	})
	judgement := func(verdict string) contract.Judgement {
		return contract.Judgement{Verdict: verdict,
			Canary:   map[string]contract.Summary{"cost": {N: 60, Mean: 0.9}, "latency": {N: 60, Mean: 150}},
			Baseline: map[string]contract.Summary{"cost": {N: 60, Mean: 1}, "latency": {N: 60, Mean: 140}}}
	}
	reg(contract.CheckName, func(ctx context.Context, in contract.WindowInput) (contract.Judgement, error) {
		f.mu.Lock()
		f.windows = append(f.windows, in)
		looks[in.Stage]++
		n := looks[in.Stage]
		f.mu.Unlock()
		if in.Stage == f.abortAt[0] && n >= f.abortAt[1] {
			return judgement(contract.VerdictFail), nil
		}
		return judgement(contract.VerdictPass), nil
	})
	// The 100% stage runs later in the day, at another load: its means
	// differ, and the observation must not take them.
	verdict := func(in contract.WindowInput, v string) contract.Judgement {
		j := judgement(v)
		if in.Stage == 3 {
			j.Canary = map[string]contract.Summary{"cost": {N: 60, Mean: 1.2}, "latency": {N: 60, Mean: 300}}
		}
		return j
	}
	reg(contract.VerifyName, func(ctx context.Context, in contract.WindowInput) (contract.Judgement, error) {
		f.mu.Lock()
		f.windows = append(f.windows, in)
		f.mu.Unlock()
		if in.Stage == f.failStage {
			j := verdict(in, contract.VerdictFail)
			j.Reasons, j.Failed, j.Violated = []string{"latency too high"}, []string{"latency"}, []string{"latency"}
			return j, nil
		}
		return verdict(in, contract.VerdictPass), nil
	})
	reg(contract.RecordName, func(ctx context.Context, in contract.RecordInput) error {
		f.mu.Lock()
		f.record = &in
		f.mu.Unlock()
		f.log("record " + in.Event.Outcome)
		return nil
	})
}

func newEnv(t *testing.T, f *fakes) *testsuite.TestWorkflowEnvironment {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	workers.RegisterWorkflows(env)
	f.register(env)
	return env
}

func run(t *testing.T, env *testsuite.TestWorkflowEnvironment, spec target.Spec) (workflows.PassStatus, error) {
	t.Helper()
	env.ExecuteWorkflow(workflows.PassWorkflowName, workflows.PassInput{PassID: "p1", Target: spec, Trigger: "test"})
	if !env.IsWorkflowCompleted() {
		t.Fatal("workflow did not complete")
	}
	v, err := env.QueryWorkflow(workflows.StatusQuery)
	if err != nil {
		t.Fatalf("status query: %v", err)
	}
	var st workflows.PassStatus
	if err := v.Get(&st); err != nil {
		t.Fatal(err)
	}
	return st, env.GetWorkflowError()
}

var applyAll = []string{"apply p1/stage-1", "apply p1/stage-2", "apply p1/stage-3"}

func TestPassPromotes(t *testing.T) {
	f := &fakes{step: 0.05}
	env := newEnv(t, f)
	st, err := run(t, env, testSpec())
	if err != nil {
		t.Fatalf("workflow error: %v", err)
	}
	if st.Outcome != workflows.OutcomePromoted || st.Step != workflows.StepDone {
		t.Fatalf("outcome %q at step %q, want promoted at done (reason %q)", st.Outcome, st.Step, st.Reason)
	}
	want := append(slices.Clone(applyAll), "promote p1/promote", "record promoted")
	if !slices.Equal(f.calls, want) {
		t.Errorf("calls\n got %q\nwant %q", f.calls, want)
	}
	for _, s := range st.Stages {
		if s.Verdict != contract.VerdictPass || s.Checks != 2 {
			t.Errorf("stage %d: verdict %q after %d checks, want pass after 2", s.Index, s.Verdict, s.Checks)
		}
	}
	if st.Change == nil || *st.Change > -0.09 || *st.Change < -0.11 {
		t.Errorf("measured change %v, want -0.10", st.Change)
	}
	// The deciding stage's values (25%, beside the baseline), the 100%
	// stage's verdict.
	if o := f.record.Observation; o == nil || o.Objective != 0.9 || o.Constraints["latency"] != 150 || o.Failed ||
		o.Stage != 3 || o.Verdict != contract.VerdictPass {
		t.Errorf("recorded observation %+v, want the deciding stage's objective 0.9 and latency 150, stage 3's verdict pass", f.record)
	}
}

// TestPassRepairs: a baseline that Analyze finds breaking a guardrail makes
// the pass a repair: the optimizer is told which guardrails, every look and
// verification judges as a repair, and the promotion says what it repaired.
// A pass whose baseline keeps its guardrails is no repair.
func TestPassRepairs(t *testing.T) {
	f := &fakes{step: 0.05, breaking: []string{"latency"}}
	st, err := run(t, newEnv(t, f), testSpec())
	if err != nil {
		t.Fatalf("workflow error: %v", err)
	}
	if st.Outcome != workflows.OutcomePromoted || !strings.HasPrefix(st.Reason, "repaired latency") || !slices.Equal(st.Repair, []string{"latency"}) {
		t.Fatalf("outcome %q (%q), repair %v; want promoted as a repair of latency", st.Outcome, st.Reason, st.Repair)
	}
	if !slices.Equal(f.proposed.Breaking, []string{"latency"}) {
		t.Errorf("propose was told the baseline breaks %v, want [latency]", f.proposed.Breaking)
	}
	if len(f.windows) == 0 {
		t.Fatal("no stage was judged")
	}
	for _, w := range f.windows {
		if !w.Repair {
			t.Errorf("stage %d was judged as no repair", w.Stage)
		}
	}
	// The broken baseline's reading beside the deciding stage's canary is
	// kept, values only.
	b := st.BaselineObservation
	if b == nil {
		t.Fatal("a repair kept no reading of its broken baseline")
	}
	incumbent := models.Config{"threads": models.Num(32), "gc": models.Str("a")}
	if !b.Baseline || b.Config.String() != incumbent.String() || b.Objective != 1 || b.Constraints["latency"] != 140 ||
		b.Stage != 2 || b.Source != "p1/baseline" || b.Verdict != "" || b.LabeledInfeasible() {
		t.Errorf("baseline observation %+v, want the incumbent's reading at stage 2 (cost 1, latency 140), unlabeled", *b)
	}

	f = &fakes{step: 0.05}
	st, err = run(t, newEnv(t, f), testSpec())
	if err != nil || st.Outcome != workflows.OutcomePromoted || strings.Contains(st.Reason, "repair") || st.Repair != nil {
		t.Fatalf("a healthy baseline: outcome %q (%q), repair %v, error %v; want a plain promotion", st.Outcome, st.Reason, st.Repair, err)
	}
	if st.BaselineObservation != nil {
		t.Errorf("a healthy baseline's reading was kept: %+v", *st.BaselineObservation)
	}
	for _, w := range f.windows {
		if w.Repair {
			t.Errorf("stage %d of a healthy baseline's pass was judged as a repair", w.Stage)
		}
	}
}

// TestPassStepsBack: a candidate more likely than not to break a guardrail
// is forbidden, except in a repair when the models believe it likelier to
// keep every guardrail than the baseline Analyze shows breaking one (a
// step back, high risk).
func TestPassStepsBack(t *testing.T) {
	spec := testSpec()
	spec.Risk.ApprovalFrom = models.BandForbidden // high goes on without an approval
	for _, tc := range []struct {
		name      string
		breaking  []string
		incumbent float64 // the models' P(every guardrail holds) at the incumbent; the candidate's is 0.3
		want      workflows.Outcome
	}{
		{"a repair's step back", []string{"latency"}, 0.05, workflows.OutcomePromoted},
		{"no repair", nil, 0.05, workflows.OutcomeSkipped},
		{"a repair whose baseline the models believe likelier to hold", []string{"latency"}, 0.4, workflows.OutcomeSkipped},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakes{step: 0.05, breaking: tc.breaking,
				predicted: &models.Prediction{PAllFeasible: 0.3}, incumbent: &models.Prediction{PAllFeasible: tc.incumbent}}
			st, err := run(t, newEnv(t, f), spec)
			if err != nil {
				t.Fatalf("workflow error: %v", err)
			}
			if st.Outcome != tc.want || st.Risk == nil {
				t.Fatalf("outcome %q (%q), risk %v; want %q", st.Outcome, st.Reason, st.Risk, tc.want)
			}
			if tc.want == workflows.OutcomeSkipped && (st.Risk.Band != models.BandForbidden || !strings.HasPrefix(st.Reason, "risk band forbidden")) {
				t.Errorf("skipped as %q at risk %v, want forbidden by the risk band", st.Reason, st.Risk)
			}
			if tc.want == workflows.OutcomePromoted && (st.Risk.Band != models.BandHigh || !strings.Contains(st.Risk.String(), "step back")) {
				t.Errorf("risk %v, want high, as a repair's step back", st.Risk)
			}
		})
	}
}

func TestPassFailingStageCompensatesInReverse(t *testing.T) {
	for stage := 1; stage <= 3; stage++ {
		t.Run(fmt.Sprintf("stage-%d", stage), func(t *testing.T) {
			f := &fakes{step: 0.05, failStage: stage}
			st, err := run(t, newEnv(t, f), testSpec())
			if err != nil {
				t.Fatalf("workflow error: %v", err)
			}
			if st.Outcome != workflows.OutcomeRolledBack {
				t.Fatalf("outcome %q, want rolled_back", st.Outcome)
			}
			want := slices.Clone(applyAll[:stage])
			percents := []float64{0, 5, 25}
			for k := stage; k >= 1; k-- {
				want = append(want, fmt.Sprintf("revert p1/undo-stage-%d to %g%%", k, percents[k-1]))
			}
			want = append(want, "record rolled_back")
			if !slices.Equal(f.calls, want) {
				t.Errorf("calls\n got %q\nwant %q", f.calls, want)
			}
			if len(st.Compensations) != stage {
				t.Errorf("%d compensations in status, want %d", len(st.Compensations), stage)
			}
			// Observations are measurements: the values as measured (latency
			// 150, objective 0.9), and apart, the label of the broken guardrail.
			if o := f.record.Observation; o == nil || o.Failed || o.Constraints["latency"] != 150 || o.Objective != 0.9 ||
				!slices.Equal(o.Violated, []string{"latency"}) || o.Verdict != contract.VerdictFail || o.Stage != stage {
				t.Errorf("a candidate rolled back on latency must be recorded with its measured latency 150 and objective 0.9, "+
					"latency labeled violated at stage %d, got %+v", stage, o)
			}
		})
	}
}

// TestPassRestoresTheCanaryBeforeIt: a canary ran before the pass; the
// first stage replaced it, and the undo brings it back, as it was.
func TestPassRestoresTheCanaryBeforeIt(t *testing.T) {
	prior := models.Config{"threads": models.Num(24), "gc": models.Str("b")}
	f := &fakes{step: 0.05, failStage: 2, prior: prior, priorPercent: 10}
	st, err := run(t, newEnv(t, f), testSpec())
	if err != nil || st.Outcome != workflows.OutcomeRolledBack {
		t.Fatalf("outcome %q, %v; want rolled_back", st.Outcome, err)
	}
	want := []string{"apply p1/stage-1", "apply p1/stage-2",
		"revert p1/undo-stage-2 to 5%", "revert p1/undo-stage-1 to 10% on gc=b threads=24", "record rolled_back"}
	if !slices.Equal(f.calls, want) {
		t.Errorf("calls\n got %q\nwant %q", f.calls, want)
	}
	if s := st.Stages[0]; s.Replaced.String() != prior.String() || s.ReplacedPercent != 10 {
		t.Errorf("stage 1 replaced %s at %g%%, want %s at 10%%", s.Replaced, s.ReplacedPercent, prior)
	}
	if len(st.Compensations) != 2 || st.Compensations[1].Restore.String() != prior.String() || st.Compensations[1].ToPercent != 10 {
		t.Errorf("compensations %+v: want the last to restore %s at 10%%", st.Compensations, prior)
	}
	trail := workflows.Trail(st)
	if !slices.ContainsFunc(trail, func(e workflows.AuditEntry) bool {
		return e.Event == "compensation" && strings.Contains(e.Detail, "5% back to 10% on the canary it replaced, done")
	}) {
		t.Errorf("the audit trail does not say the canary before the pass came back: %+v", trail)
	}
}

// TestPassUndoWithoutTheShare: an actuator that names what a stage
// replaced but not its share gets the step back to the previous stage's
// share of the candidate.
func TestPassUndoWithoutTheShare(t *testing.T) {
	f := &fakes{step: 0.05, failStage: 3, unsaid: true}
	if st, err := run(t, newEnv(t, f), testSpec()); err != nil || st.Outcome != workflows.OutcomeRolledBack {
		t.Fatalf("outcome %q, %v; want rolled_back", st.Outcome, err)
	}
	want := append(slices.Clone(applyAll), "revert p1/undo-stage-3 to 25%", "revert p1/undo-stage-2 to 5%", "revert p1/undo-stage-1 to 0%", "record rolled_back")
	if !slices.Equal(f.calls, want) {
		t.Errorf("calls\n got %q\nwant %q", f.calls, want)
	}
}

func TestPassEarlyAbortOnCheck(t *testing.T) {
	f := &fakes{step: 0.05, abortAt: [2]int{2, 1}}
	st, err := run(t, newEnv(t, f), testSpec())
	if err != nil {
		t.Fatal(err)
	}
	if st.Outcome != workflows.OutcomeRolledBack || st.Stages[1].Checks != 1 || st.Stages[1].Verdict != contract.VerdictFail {
		t.Fatalf("outcome %q, stage 2 %+v; want rolled back after one look", st.Outcome, st.Stages[1])
	}
	want := []string{"apply p1/stage-1", "apply p1/stage-2", "revert p1/undo-stage-2 to 5%", "revert p1/undo-stage-1 to 0%", "record rolled_back"}
	if !slices.Equal(f.calls, want) {
		t.Errorf("calls\n got %q\nwant %q", f.calls, want)
	}
}

func TestPassCancelDuringWaitRollsBack(t *testing.T) {
	f := &fakes{step: 0.05}
	env := newEnv(t, f)
	// Stage 1 waits 30 minutes, stage 2 starts after; cancel 45 minutes in.
	env.RegisterDelayedCallback(env.CancelWorkflow, 45*time.Minute)
	st, err := run(t, env, testSpec())
	var canceled *temporal.CanceledError
	if !errors.As(err, &canceled) {
		t.Fatalf("workflow error %v, want cancelled", err)
	}
	if st.Outcome != workflows.OutcomeRolledBack {
		t.Fatalf("outcome %q, want rolled_back", st.Outcome)
	}
	want := []string{"apply p1/stage-1", "apply p1/stage-2", "revert p1/undo-stage-2 to 5%", "revert p1/undo-stage-1 to 0%", "record rolled_back"}
	if !slices.Equal(f.calls, want) {
		t.Errorf("calls\n got %q\nwant %q", f.calls, want)
	}
}

// answer is one approval sent as an update at an hour into the pass, and
// the refusal's error type it must get ("" for an accepted answer).
type answer struct {
	at      time.Duration
	a       workflows.Approval
	refused string
}

func TestPassApproval(t *testing.T) {
	yes := func(who string) workflows.Approval {
		return workflows.Approval{Approver: who, Approved: true, Reason: "ok"}
	}
	promoted := append(slices.Clone(applyAll), "promote p1/promote", "record promoted")
	tests := []struct {
		name      string
		approvers []string
		quorum    int
		answers   []answer
		outcome   workflows.Outcome
		reason    string
		calls     []string
	}{
		{name: "timeout rejects with nothing applied", outcome: workflows.OutcomeRejected,
			reason: "no approval within 24h0m0s", calls: []string{"record rejected"}},
		{name: "rejection", answers: []answer{{at: time.Hour, a: workflows.Approval{Approver: "alice", Reason: "freeze"}}},
			outcome: workflows.OutcomeRejected, reason: "rejected by alice: freeze", calls: []string{"record rejected"}},
		{name: "a non-approver is refused, an approver approves", answers: []answer{
			{at: time.Hour, a: yes("mallory"), refused: workflows.ErrTypeNotApprover},
			{at: 2 * time.Hour, a: yes("alice")}},
			outcome: workflows.OutcomePromoted, calls: promoted},
		{name: "malformed answers are refused", answers: []answer{
			{at: time.Hour, a: yes(" alice"), refused: workflows.ErrTypeBadApproval},
			{at: time.Hour, a: workflows.Approval{Approver: "alice", Approved: true, Reason: strings.Repeat("x", 2000)}, refused: workflows.ErrTypeBadApproval},
			{at: 2 * time.Hour, a: yes("alice")}},
			outcome: workflows.OutcomePromoted, calls: promoted},
		{name: "an answer after the decision is refused", answers: []answer{
			{at: time.Hour, a: yes("alice")},
			{at: time.Hour + time.Minute, a: yes("alice"), refused: workflows.ErrTypeNotWaiting}},
			outcome: workflows.OutcomePromoted, calls: promoted},
		{name: "quorum 2 needs two distinct approvers", approvers: []string{"alice", "bob"}, quorum: 2, answers: []answer{
			{at: time.Hour, a: yes("alice")},
			{at: 2 * time.Hour, a: yes("alice"), refused: workflows.ErrTypeAlreadyAnswered},
			{at: 3 * time.Hour, a: yes("bob")}},
			outcome: workflows.OutcomePromoted, calls: promoted},
		{name: "quorum 2 with one approval times out with nothing applied", approvers: []string{"alice", "bob"}, quorum: 2,
			answers: []answer{{at: time.Hour, a: yes("alice")}},
			outcome: workflows.OutcomeRejected, reason: "no quorum (1 of 2 approvals) within 24h0m0s", calls: []string{"record rejected"}},
		{name: "one rejection rejects a quorum", approvers: []string{"alice", "bob"}, quorum: 2, answers: []answer{
			{at: time.Hour, a: yes("alice")},
			{at: 2 * time.Hour, a: workflows.Approval{Approver: "bob", Reason: "not tonight"}}},
			outcome: workflows.OutcomeRejected, reason: "rejected by bob: not tonight", calls: []string{"record rejected"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakes{step: 0.24} // 96% of max_step: high band
			env := newEnv(t, f)
			spec := testSpec()
			if tt.approvers != nil {
				spec.Risk.Approvers, spec.Risk.Quorum = tt.approvers, tt.quorum
			}
			got := make([]string, len(tt.answers))
			for i, an := range tt.answers {
				env.RegisterDelayedCallback(func() {
					env.UpdateWorkflow(workflows.ApprovalUpdate, fmt.Sprint(i), &testsuite.TestUpdateCallback{
						OnAccept: func() {},
						OnReject: func(err error) {
							var ae *temporal.ApplicationError
							if errors.As(err, &ae) {
								got[i] = ae.Type()
							} else {
								got[i] = err.Error()
							}
						},
						OnComplete: func(any, error) {},
					}, an.a)
				}, an.at)
			}
			st, err := run(t, env, spec)
			if err != nil {
				t.Fatal(err)
			}
			if st.Risk == nil || st.Risk.Band != models.BandHigh {
				t.Fatalf("risk %+v, want high", st.Risk)
			}
			if st.Outcome != tt.outcome || (tt.reason != "" && st.Reason != tt.reason) {
				t.Fatalf("outcome %q (%s), want %q (%s)", st.Outcome, st.Reason, tt.outcome, tt.reason)
			}
			for i, an := range tt.answers {
				if got[i] != an.refused {
					t.Errorf("answer %d (%+v): refused %q, want %q", i, an.a, got[i], an.refused)
				}
			}
			if !slices.Equal(f.calls, tt.calls) {
				t.Errorf("calls\n got %q\nwant %q", f.calls, tt.calls)
			}
			accepted := 0
			for _, an := range tt.answers {
				if an.refused == "" {
					accepted++
				}
			}
			if len(st.Approvals) != accepted || st.ApprovalRequest == nil || st.ApprovalRequest.Quorum != max(tt.quorum, 1) {
				t.Errorf("approvals %+v, request %+v: want the %d accepted answers and the quorum", st.Approvals, st.ApprovalRequest, accepted)
			}
		})
	}
}

// An answer to a pass that never asks is refused and changes nothing.
func TestPassRefusesAnswersWhenNotAsking(t *testing.T) {
	f := &fakes{step: 0.05} // low band: no approval
	env := newEnv(t, f)
	var refused error
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(workflows.ApprovalUpdate, "1", &testsuite.TestUpdateCallback{
			OnAccept: func() {}, OnReject: func(err error) { refused = err }, OnComplete: func(any, error) {},
		}, workflows.Approval{Approver: "alice", Approved: true})
	}, 10*time.Minute)
	st, err := run(t, env, testSpec())
	if err != nil {
		t.Fatal(err)
	}
	var ae *temporal.ApplicationError
	if !errors.As(refused, &ae) || ae.Type() != workflows.ErrTypeNotWaiting {
		t.Fatalf("refusal %v, want %s", refused, workflows.ErrTypeNotWaiting)
	}
	if st.Outcome != workflows.OutcomePromoted || len(st.Approvals) != 0 || st.ApprovalRequest != nil {
		t.Errorf("outcome %q, approvals %+v, request %+v: want promoted with no approval", st.Outcome, st.Approvals, st.ApprovalRequest)
	}
}

func TestPassSkipsOnAnalyze(t *testing.T) {
	f := &fakes{step: 0.05, skip: "no telemetry for [latency]"}
	st, err := run(t, newEnv(t, f), testSpec())
	if err != nil {
		t.Fatal(err)
	}
	if st.Outcome != workflows.OutcomeSkipped || st.Reason != f.skip {
		t.Fatalf("outcome %q (%q), want skipped", st.Outcome, st.Reason)
	}
	if !slices.Equal(f.calls, []string{"record skipped"}) {
		t.Errorf("calls %q, want only the record", f.calls)
	}
}

func TestPassApplyFailureUndoesWhatMayHaveApplied(t *testing.T) {
	f := &fakes{step: 0.05, applyErr: 2}
	st, err := run(t, newEnv(t, f), testSpec())
	if err == nil {
		t.Fatal("want the pass to fail")
	}
	if st.Outcome != workflows.OutcomeFailed {
		t.Fatalf("outcome %q, want failed", st.Outcome)
	}
	want := []string{"apply p1/stage-1", "revert p1/undo-stage-2 to 5%", "revert p1/undo-stage-1 to 0%", "record failed"}
	if !slices.Equal(f.calls, want) {
		t.Errorf("calls\n got %q\nwant %q", f.calls, want)
	}
}
