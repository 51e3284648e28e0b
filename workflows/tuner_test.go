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
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/passflow/passflow/contract"
	"github.com/passflow/passflow/models"
	"github.com/passflow/passflow/target"
	"github.com/passflow/passflow/workflows"
)

// tunerFakes stand in for the pass's activities (fakes) and the tuner's own.
type tunerFakes struct {
	fakes
	tmu        sync.Mutex
	schedules  []contract.ScheduleInput
	failPut    bool // SyncSchedule refuses puts, for good
	reconciled []contract.ReconcileInput
	histories  []int // the history length each propose was given
}

func (f *tunerFakes) register(env *testsuite.TestWorkflowEnvironment) {
	f.fakes.register(env)
	reg := func(name string, fn any) {
		env.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: name})
	}
	reg(contract.SyncScheduleName, func(ctx context.Context, in contract.ScheduleInput) error {
		f.tmu.Lock()
		defer f.tmu.Unlock()
		if f.failPut && !in.Delete {
			return temporal.NewNonRetryableApplicationError("invalid cron", "InvalidArgument", nil)
		}
		f.schedules = append(f.schedules, in)
		return nil
	})
	reg(contract.ReconcileName, func(ctx context.Context, in contract.ReconcileInput) (contract.ChangeResult, error) {
		f.tmu.Lock()
		defer f.tmu.Unlock()
		f.reconciled = append(f.reconciled, in)
		f.log("reconcile " + in.Key + " " + in.Config.String())
		return contract.ChangeResult{}, nil
	})
}

// newTunerEnv returns a test environment with the tuner, a pass workflow
// (the real one when pass is nil) and the fakes.
func newTunerEnv(t *testing.T, f *tunerFakes, pass any) *testsuite.TestWorkflowEnvironment {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	if pass == nil {
		pass = workflows.OptimizationPass
	}
	env.RegisterWorkflowWithOptions(pass, workflow.RegisterOptions{Name: workflows.PassWorkflowName})
	env.RegisterWorkflowWithOptions(workflows.TargetTuner, workflow.RegisterOptions{Name: workflows.TunerWorkflowName})
	f.register(env)
	// The fakes' propose records the history it was given.
	env.RegisterActivityWithOptions(func(ctx context.Context, in contract.ProposeInput) (contract.ProposeResult, error) {
		f.tmu.Lock()
		f.histories = append(f.histories, len(in.History))
		f.tmu.Unlock()
		return contract.ProposeResult{Suggestion: models.Suggestion{
			Config: models.Config{"threads": models.Num(40), "gc": models.Str("a")}, Why: "fake"},
			Optimizer: "fake", Step: f.step}, nil
	}, activity.RegisterOptions{Name: contract.ProposeName})
	return env
}

// tunerSpec is testSpec with low-risk passes (no approval) of 3 × 30 min.
func tunerSpec() target.Spec {
	s := testSpec()
	s.Telemetry = target.Telemetry{Prometheus: &target.Prometheus{URL: "http://127.0.0.1:9090"},
		Queries: map[string]string{"cost": "cost", "latency": "latency"}}
	s.Actuator = target.Actuator{Webhook: &target.Webhook{URL: "http://127.0.0.1:8081/config"}}
	s.Risk.ApprovalFrom = models.BandForbidden
	s.Triggers.Schedule = "0 2 * * *"
	s.Triggers.Cooldown = model.Duration(time.Hour)
	return s
}

// at schedules f at d into the test.
func at(env *testsuite.TestWorkflowEnvironment, d time.Duration, f func()) {
	env.RegisterDelayedCallback(f, d)
}

// update sends an update and keeps its outcome in *reply and *err.
func update[T any](env *testsuite.TestWorkflowEnvironment, name string, arg any, reply *T, err *error) {
	env.UpdateWorkflow(name, "", &testsuite.TestUpdateCallback{
		OnAccept: func() {},
		OnReject: func(e error) { *err = e },
		OnComplete: func(v any, e error) {
			if e != nil {
				*err = e
				return
			}
			if r, ok := v.(T); ok {
				*reply = r
			}
		},
	}, arg)
}

func request(env *testsuite.TestWorkflowEnvironment, trig workflows.Trigger, by string, reply *workflows.RequestReply, err *error) {
	update(env, workflows.RequestPassUpdate, workflows.PassRequest{Trigger: trig, RequestedBy: by}, reply, err)
}

// runTuner registers spec at 0, runs calls, deletes the target at end and
// returns the tuner's final state.
func runTuner(t *testing.T, env *testsuite.TestWorkflowEnvironment, spec target.Spec, in workflows.TunerInput, end time.Duration) workflows.TunerState {
	t.Helper()
	var reg workflows.RegisterResult
	var regErr, delErr error
	at(env, time.Second, func() { update(env, workflows.RegisterUpdate, workflows.RegisterInput{Spec: spec}, &reg, &regErr) })
	var del workflows.DeleteResult
	at(env, end, func() { update(env, workflows.DeleteUpdate, workflows.DeleteInput{By: "test"}, &del, &delErr) })
	if in.Name == "" {
		in.Name = spec.Name
	}
	env.ExecuteWorkflow(workflows.TunerWorkflowName, in)
	if !env.IsWorkflowCompleted() {
		t.Fatal("tuner did not complete")
	}
	if regErr != nil || delErr != nil {
		t.Fatalf("register: %v; delete: %v", regErr, delErr)
	}
	var st workflows.TunerState
	if err := env.GetWorkflowResult(&st); err != nil {
		t.Fatalf("tuner: %v", err)
	}
	return st
}

// TestTunerKeepsARepairsBaselineReading: a repair hands back, after its
// candidate's observation, its reading of the broken baseline, and the
// next pass proposes from both; a healthy pass hands back its candidate's
// alone.
func TestTunerKeepsARepairsBaselineReading(t *testing.T) {
	for _, tc := range []struct {
		name     string
		breaking []string
		want     []string // the history's sources
	}{
		{"a repair", []string{"latency"}, []string{"pass/checkout/1", "pass/checkout/1/baseline"}},
		{"a healthy pass", nil, []string{"pass/checkout/1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &tunerFakes{fakes: fakes{step: 0.05, breaking: tc.breaking}}
			env := newTunerEnv(t, f, nil)
			var reply workflows.RequestReply
			var err error
			at(env, 2*time.Minute, func() { request(env, workflows.TriggerOperator, "alice", &reply, &err) })
			at(env, 4*time.Hour, func() { request(env, workflows.TriggerOperator, "alice", &reply, &err) })
			st := runTuner(t, env, tunerSpec(), workflows.TunerInput{}, 10*time.Hour)
			if err != nil {
				t.Fatalf("request: %v", err)
			}
			var sources []string
			for _, o := range st.History[:min(len(st.History), len(tc.want))] {
				sources = append(sources, o.Source)
			}
			if !slices.Equal(sources, tc.want) {
				t.Errorf("the first pass left %q in the history, want %q", sources, tc.want)
			}
			if len(f.histories) < 2 || f.histories[1] != len(tc.want) {
				t.Errorf("histories given to propose %v, want the second given %d", f.histories, len(tc.want))
			}
		})
	}
}

func TestTunerCoalescesRequestsIntoOneQueuedPass(t *testing.T) {
	f := &tunerFakes{fakes: fakes{step: 0.05}}
	env := newTunerEnv(t, f, nil)
	replies := make([]workflows.RequestReply, 4)
	errs := make([]error, 4)
	for i, by := range []string{"alice", "bob", "carol", "dave"} {
		at(env, time.Duration(2+i)*time.Minute, func() { request(env, workflows.TriggerOperator, by, &replies[i], &errs[i]) })
	}
	st := runTuner(t, env, tunerSpec(), workflows.TunerInput{}, 10*time.Hour)
	for i, err := range errs {
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	want := []workflows.RequestReply{
		{Target: "checkout", PassID: "pass/checkout/1", Status: workflows.ReplyStarted},
		{Target: "checkout", PassID: "pass/checkout/2", Status: workflows.ReplyQueued},
		{Target: "checkout", PassID: "pass/checkout/2", Status: workflows.ReplyCoalesced},
		{Target: "checkout", PassID: "pass/checkout/2", Status: workflows.ReplyCoalesced},
	}
	for i := range want {
		if replies[i].PassID != want[i].PassID || replies[i].Status != want[i].Status {
			t.Errorf("reply %d = %+v, want %s %s", i, replies[i], want[i].Status, want[i].PassID)
		}
	}
	if len(st.Recent) != 2 {
		t.Fatalf("%d passes recorded, want 2: %+v", len(st.Recent), st.Recent)
	}
	second := st.Recent[1]
	if second.ID != "pass/checkout/2" || second.RequestedBy != "bob" || second.Coalesced != 2 || second.Outcome != workflows.OutcomePromoted {
		t.Errorf("second pass %+v, want pass/checkout/2 requested by bob with 2 coalesced, promoted", second)
	}
	// The record's audit tells the pass's story in order, requester first.
	var events []string
	for _, e := range second.Audit() {
		if e.Pass != second.ID {
			t.Errorf("audit entry %+v of another pass", e)
		}
		events = append(events, e.Event)
	}
	if want := []string{"requested", "proposed", "risk", "stage", "stage", "stage", "outcome"}; !slices.Equal(events, want) {
		t.Errorf("audit events %q, want %q", events, want)
	}
	// One pass at a time: the second started after the first ended.
	if !st.Recent[1].Started.After(st.Recent[0].Ended) && !st.Recent[1].Started.Equal(st.Recent[0].Ended) {
		t.Errorf("passes overlap: first ended %s, second started %s", st.Recent[0].Ended, st.Recent[1].Started)
	}
	// Each pass handed its observation back: the second proposed from one.
	if !slices.Equal(f.histories, []int{0, 1}) || len(st.History) != 2 {
		t.Errorf("histories given to propose %v, kept %d; want [0 1] and 2", f.histories, len(st.History))
	}
	if got := st.LastPromoted.String(); got != "gc=a threads=40" {
		t.Errorf("last promoted %s, want the candidate", got)
	}
	// Each pass's analyze looks for broken guardrails only since the
	// baseline took its configuration: unknown for the first, the first's
	// promotion for the second; the second's promotion is the next.
	var since []time.Time
	for _, in := range f.analyzed {
		since = append(since, in.BaselineSince)
	}
	if len(since) != 2 || !since[0].IsZero() || !since[1].Equal(st.Recent[0].Ended) {
		t.Errorf("analyze given baseline_since %v, want zero, then the first promotion's end %s", since, st.Recent[0].Ended)
	}
	if !st.BaselineSince.Equal(st.Recent[1].Ended) {
		t.Errorf("baseline since %s, want the second promotion's end %s", st.BaselineSince, st.Recent[1].Ended)
	}
	// The schedule was put on registration and deleted with the target.
	if len(f.schedules) != 2 || f.schedules[0].Cron != "0 2 * * *" || f.schedules[0].Delete || !f.schedules[1].Delete {
		t.Errorf("schedule calls %+v, want a put of 0 2 * * * then a delete", f.schedules)
	}
}

func TestTunerRefusesRequestsWhenPausedOrUnregistered(t *testing.T) {
	f := &tunerFakes{fakes: fakes{step: 0.05}}
	env := newTunerEnv(t, f, nil)
	var early, paused, resumed workflows.RequestReply
	var earlyErr, pausedErr, resumedErr, pauseErr, resumeErr error
	var pr, rr workflows.PauseResult
	// Before the registration at 1s: not registered.
	at(env, 0, func() { request(env, workflows.TriggerOperator, "alice", &early, &earlyErr) })
	at(env, time.Minute, func() {
		update(env, workflows.PauseUpdate, workflows.PauseInput{Paused: true, By: "alice", Reason: "incident"}, &pr, &pauseErr)
	})
	at(env, 2*time.Minute, func() { request(env, workflows.TriggerSchedule, "schedule", &paused, &pausedErr) })
	at(env, 3*time.Minute, func() { update(env, workflows.PauseUpdate, workflows.PauseInput{Paused: false}, &rr, &resumeErr) })
	at(env, 4*time.Minute, func() { request(env, workflows.TriggerOperator, "bob", &resumed, &resumedErr) })
	st := runTuner(t, env, tunerSpec(), workflows.TunerInput{}, 5*time.Hour)
	if earlyErr == nil || !strings.Contains(earlyErr.Error(), "not registered") {
		t.Errorf("request before registration: %v, want not registered", earlyErr)
	}
	if pauseErr != nil || resumeErr != nil || !pr.Changed || !rr.Changed {
		t.Fatalf("pause %+v %v, resume %+v %v", pr, pauseErr, rr, resumeErr)
	}
	if pausedErr == nil || !strings.Contains(pausedErr.Error(), "paused by alice (incident)") {
		t.Errorf("request while paused: %v, want refused as paused by alice (incident)", pausedErr)
	}
	if resumedErr != nil || resumed.PassID != "pass/checkout/1" {
		t.Errorf("request after resume: %+v %v, want pass/checkout/1", resumed, resumedErr)
	}
	if len(st.Recent) != 1 {
		t.Errorf("%d passes, want 1", len(st.Recent))
	}
	// put on register, paused, resumed, deleted
	if n := len(f.schedules); n != 4 || !f.schedules[1].Paused || f.schedules[2].Paused {
		t.Errorf("schedule calls %+v, want put, pause, resume, delete", f.schedules)
	}
}

func TestTunerAlertCooldownAndDelivery(t *testing.T) {
	f := &tunerFakes{fakes: fakes{step: 0.05}}
	env := newTunerEnv(t, f, nil)
	t0 := env.Now()
	alert := func(startsAt time.Time) workflows.PassRequest {
		return workflows.PassRequest{Trigger: workflows.TriggerAlert, RequestedBy: "alertmanager",
			Alert: &workflows.Alert{Name: "LatencyHigh", Fingerprint: "f1", StartsAt: startsAt}}
	}
	var r1, r2, r3, r4 workflows.RequestReply
	var e1, e2, e3, e4 error
	// 1: an alert firing since before the pass requests pass 1 (started).
	// 2: the same alert sent again once the canary is applied: it started
	// before the canary, so the cooldown coalesces it. 3: a new firing that
	// started 40 minutes in, during the canary: delivered, and the canary
	// rolls back. 4: another one: one delivery is enough, so coalesced.
	at(env, 2*time.Minute, func() { update(env, workflows.RequestPassUpdate, alert(t0), &r1, &e1) })
	at(env, 3*time.Minute, func() { update(env, workflows.RequestPassUpdate, alert(t0), &r2, &e2) })
	at(env, 45*time.Minute, func() { update(env, workflows.RequestPassUpdate, alert(env.Now()), &r3, &e3) })
	at(env, 45*time.Minute+time.Second, func() { update(env, workflows.RequestPassUpdate, alert(env.Now()), &r4, &e4) })
	st := runTuner(t, env, tunerSpec(), workflows.TunerInput{}, 10*time.Hour)
	if e1 != nil || r1.Status != workflows.ReplyStarted {
		t.Fatalf("first alert: %+v %v, want started", r1, e1)
	}
	if e2 == nil || !strings.Contains(e2.Error(), "coalesced") {
		t.Errorf("second alert within the cooldown: %+v %v, want refused as coalesced", r2, e2)
	}
	if e3 != nil || r3.Status != workflows.ReplyDelivered || r3.PassID != "pass/checkout/1" {
		t.Fatalf("alert during the canary: %+v %v, want delivered to pass/checkout/1", r3, e3)
	}
	if e4 == nil || !strings.Contains(e4.Error(), "coalesced") {
		t.Errorf("a second alert during the canary: %+v %v, want refused as coalesced", r4, e4)
	}
	if len(st.Recent) != 1 || st.Recent[0].Outcome != workflows.OutcomeRolledBack || !strings.Contains(st.Recent[0].Reason, "LatencyHigh") {
		t.Fatalf("passes %+v, want one rolled back for the alert", st.Recent)
	}
	want := []string{"apply pass/checkout/1/stage-1", "apply pass/checkout/1/stage-2",
		"revert pass/checkout/1/undo-stage-2 to 5%", "revert pass/checkout/1/undo-stage-1 to 0%", "record rolled_back"}
	if !slices.Equal(f.calls, want) {
		t.Errorf("calls\n got %q\nwant %q", f.calls, want)
	}
}

func TestTunerReconcilesAPassThatEndsWithoutCleanup(t *testing.T) {
	f := &tunerFakes{fakes: fakes{step: 0.05}}
	// A pass that never ends: its run timeout ends it, as the server would,
	// with no compensation of its own.
	env := newTunerEnv(t, f, func(ctx workflow.Context, in workflows.PassInput) (workflows.PassStatus, error) {
		return workflows.PassStatus{}, workflow.Await(ctx, func() bool { return false })
	})
	var r workflows.RequestReply
	var e error
	at(env, 2*time.Minute, func() { request(env, workflows.TriggerOperator, "alice", &r, &e) })
	spec := tunerSpec()
	st := runTuner(t, env, spec, workflows.TunerInput{}, 30*24*time.Hour)
	if e != nil {
		t.Fatal(e)
	}
	if len(f.reconciled) != 1 || f.reconciled[0].Key != "pass/checkout/1/reconcile" {
		t.Fatalf("reconciled %+v, want one restore under pass/checkout/1/reconcile", f.reconciled)
	}
	if got := f.reconciled[0].Config.String(); got != "gc=a threads=32" {
		t.Errorf("restored %s, want the spec's current configuration gc=a threads=32", got)
	}
	rec := st.Recent[0]
	if rec.Outcome != workflows.OutcomeAbandoned || !strings.Contains(rec.Reason, "timed out without its own cleanup") || rec.Reconciled == "" {
		t.Errorf("record %+v, want abandoned, timed out, reconciled", rec)
	}
	// The pass may have promoted before it timed out: the baseline runs
	// the restored configuration from the restore on.
	if !st.BaselineSince.Equal(rec.Ended) {
		t.Errorf("baseline since %s, want the restore's end %s", st.BaselineSince, rec.Ended)
	}
}

func TestTunerContinuesAsNewWithItsHistory(t *testing.T) {
	f := &tunerFakes{fakes: fakes{step: 0.05}}
	env := newTunerEnv(t, f, nil)
	var r1, r2 workflows.RequestReply
	var e1, e2 error
	at(env, 2*time.Minute, func() { request(env, workflows.TriggerOperator, "alice", &r1, &e1) })
	at(env, 3*time.Hour, func() { request(env, workflows.TriggerOperator, "alice", &r2, &e2) })
	at(env, 6*time.Hour, func() { env.SetCurrentHistoryLength(100) }) // past the bound of 50
	var reg workflows.RegisterResult
	var regErr error
	at(env, time.Second, func() {
		update(env, workflows.RegisterUpdate, workflows.RegisterInput{Spec: tunerSpec()}, &reg, &regErr)
	})
	env.ExecuteWorkflow(workflows.TunerWorkflowName, workflows.TunerInput{Name: "checkout",
		Settings: workflows.TunerSettings{MaxEvents: 50, HistoryLimit: 1}})
	var can *workflow.ContinueAsNewError
	if err := env.GetWorkflowError(); !errors.As(err, &can) {
		t.Fatalf("tuner ended with %v, want continue-as-new", err)
	}
	if e1 != nil || e2 != nil || regErr != nil {
		t.Fatal(e1, e2, regErr)
	}
	var next workflows.TunerInput
	if err := decodeCAN(can, &next); err != nil {
		t.Fatal(err)
	}
	st := next.State
	if st == nil || st.Spec == nil || st.Passes != 2 || len(st.Recent) != 2 {
		t.Fatalf("carried state %+v, want the spec and two passes", st)
	}
	if len(st.History) != 1 || st.History[0].Source != "pass/checkout/2" {
		t.Errorf("carried history %+v, want the most recent observation only (limit 1)", st.History)
	}

	// The next run serves a request with the carried history and numbering.
	env2 := newTunerEnv(t, &tunerFakes{fakes: fakes{step: 0.05}}, nil)
	var r3 workflows.RequestReply
	var e3 error
	at(env2, time.Minute, func() { request(env2, workflows.TriggerOperator, "bob", &r3, &e3) })
	var del workflows.DeleteResult
	var delErr error
	at(env2, 5*time.Hour, func() { update(env2, workflows.DeleteUpdate, workflows.DeleteInput{}, &del, &delErr) })
	env2.ExecuteWorkflow(workflows.TunerWorkflowName, next)
	if e3 != nil || r3.PassID != "pass/checkout/3" {
		t.Fatalf("request after continue-as-new: %+v %v, want pass/checkout/3", r3, e3)
	}
}

func TestTunerWaitsOutAFreeze(t *testing.T) {
	for _, policy := range []target.FreezeRequestPolicy{target.FreezeWait, target.FreezeSkip} {
		t.Run(string(policy), func(t *testing.T) {
			f := &tunerFakes{fakes: fakes{step: 0.05}}
			env := newTunerEnv(t, f, nil)
			start := env.Now()
			spec := tunerSpec()
			spec.Triggers.Freeze = &target.Freeze{OnRequest: policy, OnCanary: target.FreezeHold,
				Windows: []target.FreezeWindow{{Name: "release", From: start.Add(time.Minute), To: start.Add(5 * time.Hour)}}}
			var r workflows.RequestReply
			var e error
			at(env, 2*time.Minute, func() { request(env, workflows.TriggerOperator, "alice", &r, &e) })
			st := runTuner(t, env, spec, workflows.TunerInput{}, 12*time.Hour)
			if e != nil {
				t.Fatal(e)
			}
			switch policy {
			case target.FreezeWait:
				if r.Status != workflows.ReplyQueued || !r.NotBefore.Equal(start.Add(5*time.Hour)) {
					t.Errorf("reply %+v, want queued until the freeze ends", r)
				}
				if len(st.Recent) != 1 || st.Recent[0].Started.Before(start.Add(5*time.Hour)) || st.Recent[0].Outcome != workflows.OutcomePromoted {
					t.Errorf("passes %+v, want one promoted, started when the freeze ended", st.Recent)
				}
			case target.FreezeSkip:
				if r.Status != workflows.ReplySkipped || r.PassID != "" {
					t.Errorf("reply %+v, want skipped", r)
				}
				if len(f.calls) != 0 {
					t.Errorf("calls %q, want none", f.calls)
				}
			}
		})
	}
}

func TestPassHoldsItsCanaryForAFreeze(t *testing.T) {
	for _, policy := range []target.FreezeCanaryPolicy{target.FreezeHold, target.FreezeRollback} {
		t.Run(string(policy), func(t *testing.T) {
			f := &fakes{step: 0.05}
			env := newEnv(t, f)
			start := env.Now()
			spec := testSpec()
			// The freeze begins during stage 1's 30-minute wait.
			spec.Triggers.Freeze = &target.Freeze{OnRequest: target.FreezeWait, OnCanary: policy,
				Windows: []target.FreezeWindow{{Name: "release", From: start.Add(20 * time.Minute), To: start.Add(3 * time.Hour)}}}
			st, err := run(t, env, spec)
			if err != nil {
				t.Fatal(err)
			}
			switch policy {
			case target.FreezeHold:
				if st.Outcome != workflows.OutcomePromoted || st.Stages[1].From.Before(start.Add(3*time.Hour)) {
					t.Errorf("outcome %s, stage 2 from %s; want promoted with stage 2 after the freeze", st.Outcome, st.Stages[1].From)
				}
			case target.FreezeRollback:
				want := []string{"apply p1/stage-1", "revert p1/undo-stage-1 to 0%", "record rolled_back"}
				if st.Outcome != workflows.OutcomeRolledBack || !slices.Equal(f.calls, want) {
					t.Errorf("outcome %s (%s), calls %q; want rolled back after stage 1", st.Outcome, st.Reason, f.calls)
				}
			}
		})
	}
}

func decodeCAN(can *workflow.ContinueAsNewError, out *workflows.TunerInput) error {
	if can.WorkflowType == nil || can.WorkflowType.Name != workflows.TunerWorkflowName {
		return fmt.Errorf("continue-as-new to %v, want %s", can.WorkflowType, workflows.TunerWorkflowName)
	}
	return converter.GetDefaultDataConverter().FromPayloads(can.Input, out)
}

// TestTunerBoundsTheRequestsAQueuedPassTakes: past 50 requests joined to the
// queued pass, a request is refused as coalesced, which writes nothing to
// the tuner's history.
func TestTunerBoundsTheRequestsAQueuedPassTakes(t *testing.T) {
	f := &tunerFakes{fakes: fakes{step: 0.05}}
	env := newTunerEnv(t, f, nil)
	const n = 60
	replies := make([]workflows.RequestReply, n)
	errs := make([]error, n)
	for i := range n {
		at(env, 2*time.Minute+time.Duration(i)*time.Second, func() { request(env, workflows.TriggerOperator, "op", &replies[i], &errs[i]) })
	}
	st := runTuner(t, env, tunerSpec(), workflows.TunerInput{}, 10*time.Hour)
	refused := 0
	for _, err := range errs {
		if err != nil && strings.Contains(err.Error(), "coalesced into the queued pass pass/checkout/2") {
			refused++
		}
	}
	// 1 started, 1 queued, 50 joined the queued pass, 8 refused.
	if refused != n-52 || len(st.Recent) != 2 || st.Recent[1].Coalesced != 50 {
		t.Errorf("%d refused, passes %+v; want %d refused and the queued pass with 50 coalesced", refused, st.Recent, n-52)
	}
}

// TestTunerRegistrationThatCannotPutItsScheduleChangesNothing: the schedule
// is put before the spec is taken, so a refused schedule leaves the
// registered spec, its version and the schedule as they were.
func TestTunerRegistrationThatCannotPutItsScheduleChangesNothing(t *testing.T) {
	f := &tunerFakes{fakes: fakes{step: 0.05}}
	env := newTunerEnv(t, f, nil)
	changed := tunerSpec()
	changed.Triggers.Schedule = "30 3 * * *"
	var res workflows.RegisterResult
	var err error
	at(env, time.Minute, func() {
		f.tmu.Lock()
		f.failPut = true
		f.tmu.Unlock()
		update(env, workflows.RegisterUpdate, workflows.RegisterInput{Spec: changed}, &res, &err)
	})
	st := runTuner(t, env, tunerSpec(), workflows.TunerInput{}, time.Hour)
	if err == nil || !strings.Contains(err.Error(), "sync schedule schedule/checkout") {
		t.Fatalf("register with a schedule that cannot be put: %+v %v, want an error naming the schedule", res, err)
	}
	if st.SpecVersion != 1 || st.Spec.Triggers.Schedule != "0 2 * * *" {
		t.Errorf("spec v%d with schedule %q, want v1 with 0 2 * * * unchanged", st.SpecVersion, st.Spec.Triggers.Schedule)
	}
}
