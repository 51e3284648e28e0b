package e2e

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/passflow/passflow/operator"
	"github.com/passflow/passflow/target"
	"github.com/passflow/passflow/workflows"
)

// longSpec is a simulated target whose stages wait an hour, so its pass
// stays in its canary for the length of a test.
func longSpec(t *testing.T, name string) target.Spec {
	t.Helper()
	s, err := target.Parse(name+".yaml", []byte(strings.Replace(apiTarget(name), "verify_for: 2s", "verify_for: 1h", 1)))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// cleanup deletes a target and cancels whatever pass it runs.
func cleanup(t *testing.T, name string) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		st, err := operator.TargetState(ctx, temporalClient, name)
		if err != nil {
			return
		}
		_, _ = operator.Delete(ctx, temporalClient, name, "test", "cleanup")
		if st.Running != nil {
			_ = operator.Cancel(ctx, temporalClient, st.Running.ID)
		}
	})
}

// waitStage waits until stage i (1-based) of pass id is applied.
func waitStage(t *testing.T, id string, i int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	waitFor(t, ctx, func() bool {
		st, err := operator.Status(ctx, temporalClient, id)
		return err == nil && len(st.Stages) >= i && st.Stages[i-1].Applied
	}, "stage applied")
}

// TestConcurrentRequestsOverHTTP sends eight requests for one target at the
// same instant: one pass runs, one is queued, and the six others join the
// queued one (or, when all eight land before the first pass starts, the
// seven others join that one). Before the tuner, eight passes started and fought over one
// canary.
func TestConcurrentRequestsOverHTTP(t *testing.T) {
	const name = "e2e-eight"
	cleanup(t, name)
	ctx := context.Background()
	if _, err := operator.Apply(ctx, temporalClient, longSpec(t, name), t.Name(), t.Name()); err != nil {
		t.Fatal(err)
	}
	const n = 8
	replies := make([]workflows.RequestReply, n)
	var wg sync.WaitGroup
	gate := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-gate
			resp, err := apiHTTP.Post(apiServer.URL+"/v1/targets/"+name+"/passes?by=op", "", nil)
			if err != nil {
				t.Error(err)
				return
			}
			decode(t, resp, http.StatusAccepted, &replies[i])
		})
	}
	close(gate)
	wg.Wait()
	count := map[string]int{}
	ids := map[string]bool{}
	for _, r := range replies {
		count[r.Status]++
		ids[r.PassID] = true
	}
	// A request that comes before the first pass actually starts joins it
	// (as the tuner documents), so on a busy machine all eight can land
	// before it does: one pass, seven coalesced into it.
	if count[workflows.ReplyStarted] == 1 && count[workflows.ReplyCoalesced] == n-1 && len(ids) == 1 {
		st := tunerState(t, name, func(st workflows.TunerState) bool { return st.Running != nil })
		if st.Passes != 1 || st.Queued != nil || st.Running.Coalesced != n-1 {
			t.Fatalf("tuner: %d passes, running %+v, queued %+v; want 1 pass with %d requests coalesced into it",
				st.Passes, st.Running, st.Queued, n-1)
		}
		return
	}
	if count[workflows.ReplyStarted] != 1 || count[workflows.ReplyQueued] != 1 || count[workflows.ReplyCoalesced] != n-2 || len(ids) != 2 {
		t.Fatalf("replies %+v: want 1 started, 1 queued, %d coalesced into it, over 2 passes (or 1 started, %d coalesced into it)",
			replies, n-2, n-1)
	}
	st := tunerState(t, name, func(st workflows.TunerState) bool { return st.Running != nil })
	// A request that came before the first pass actually started joins it;
	// the later ones join the queued pass.
	if st.Passes != 2 || st.Queued == nil || st.Running.Coalesced+st.Queued.Coalesced != n-2 {
		t.Fatalf("tuner: %d passes, running %+v, queued %+v; want 2 passes with %d requests coalesced into them",
			st.Passes, st.Running, st.Queued, n-2)
	}
	// Only the running pass exists as a workflow.
	if _, err := temporalClient.DescribeWorkflowExecution(ctx, st.Queued.ID, ""); err == nil {
		t.Errorf("queued pass %s already runs", st.Queued.ID)
	}
}

// TestTerminatedPassIsReconciled terminates a pass in its canary, as an
// operator or the server (history limit) would: the pass gets no chance to
// undo it, and its tuner restores the last promoted configuration.
func TestTerminatedPassIsReconciled(t *testing.T) {
	const name = "e2e-terminated"
	cleanup(t, name)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s := longSpec(t, name)
	s.Canary.Stages = []float64{5, 25, 100}
	id := requestPass(t, ctx, s)
	waitStage(t, id, 1)
	svc, _ := sims.Service(name)
	if st := svc.State(time.Now()); st.Percent != 5 {
		t.Fatalf("canary at %g%%, want 5%% before the termination", st.Percent)
	}
	if err := temporalClient.TerminateWorkflow(ctx, id, "", "test: terminated mid-canary"); err != nil {
		t.Fatal(err)
	}
	ts := tunerState(t, name, func(st workflows.TunerState) bool { return len(st.Recent) == 1 })
	rec := ts.Recent[0]
	if rec.Outcome != workflows.OutcomeAbandoned || !strings.Contains(rec.Reason, "terminated") || rec.Reconciled == "" {
		t.Fatalf("record %+v: want abandoned, terminated, reconciled", rec)
	}
	st := svc.State(time.Now())
	if st.Percent != 0 || !st.Baseline.Equal(s.Params.Current()) {
		t.Errorf("after the restore: canary %g%%, baseline %s; want no canary and %s", st.Percent, st.Baseline, s.Params.Current())
	}
	if keys := eventsByKey(t, name); keys[id+"/reconcile"] != 1 {
		t.Errorf("applied %v: want the restore once under %s/reconcile", keys, id)
	}
	if *record {
		saveHistory(t, workflows.TunerID(name), filepath.Join("..", "workflows", "testdata", "tuner_reconciled.json"))
	}
}

// TestScheduleFollowsTarget: targets apply creates the target's schedule, a
// changed cron updates it, pause pauses it, a run asks the tuner for a pass
// with trigger schedule, and delete removes it.
func TestScheduleFollowsTarget(t *testing.T) {
	const name = "e2e-schedule"
	cleanup(t, name)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s := longSpec(t, name)
	s.Triggers.Schedule, s.Triggers.Timezone = "0 2 * * *", "Europe/Berlin"
	if res, err := operator.Apply(ctx, temporalClient, s, t.Name(), t.Name()); err != nil || res.Result != workflows.Created {
		t.Fatalf("apply: %+v %v", res, err)
	}
	h := temporalClient.ScheduleClient().GetHandle(ctx, workflows.ScheduleID(name))
	describe := func() *client.ScheduleDescription {
		t.Helper()
		d, err := h.Describe(ctx)
		if err != nil {
			t.Fatalf("describe %s: %v", workflows.ScheduleID(name), err)
		}
		return d
	}
	d := describe()
	if got := d.Schedule.Spec.CronExpressions; len(got) != 1 || got[0] != "0 2 * * *" {
		// The server may return the cron as calendars: check those instead.
		if len(d.Schedule.Spec.Calendars) == 0 {
			t.Errorf("schedule spec %+v, want 0 2 * * *", d.Schedule.Spec)
		}
	}
	if d.Schedule.Spec.TimeZoneName != "Europe/Berlin" {
		t.Errorf("time zone %q, want Europe/Berlin", d.Schedule.Spec.TimeZoneName)
	}
	first := describe().Info.NextActionTimes

	s.Triggers.Schedule = "30 3 * * *"
	if res, err := operator.Apply(ctx, temporalClient, s, t.Name(), t.Name()); err != nil || res.Result != workflows.Updated || res.Version != 2 {
		t.Fatalf("apply a changed cron: %+v %v, want updated to version 2", res, err)
	}
	next := describe().Info.NextActionTimes
	if len(first) == 0 || len(next) == 0 || next[0].Equal(first[0]) {
		t.Errorf("next action times %v then %v: want the change of cron to move them", first, next)
	} else if loc, _ := time.LoadLocation("Europe/Berlin"); next[0].In(loc).Hour() != 3 || next[0].In(loc).Minute() != 30 {
		t.Errorf("next run %s, want 03:30 in Berlin", next[0].In(loc))
	}

	// A run of the schedule asks the tuner for a pass.
	if err := h.Trigger(ctx, client.ScheduleTriggerOptions{}); err != nil {
		t.Fatal(err)
	}
	ts := tunerState(t, name, func(st workflows.TunerState) bool { return st.Running != nil })
	if ts.Running.Trigger != workflows.TriggerSchedule || ts.Running.RequestedBy != workflows.ScheduleID(name) {
		t.Errorf("running pass %+v, want one requested by %s with trigger schedule", ts.Running, workflows.ScheduleID(name))
	}

	if _, err := operator.Pause(ctx, temporalClient, name, true, "test", "maintenance"); err != nil {
		t.Fatal(err)
	}
	if d := describe(); !d.Schedule.State.Paused {
		t.Errorf("schedule not paused with its target")
	}
	if _, err := operator.Delete(ctx, temporalClient, name, "test", "done"); err != nil {
		t.Fatal(err)
	}
	_, err := h.Describe(ctx)
	var nf *serviceerror.NotFound
	if !errors.As(err, &nf) {
		t.Errorf("describe after delete: %v, want not found", err)
	}
}

// TestApplyFiles applies the example targets as they are, with a bad file
// among them: each good file is registered (then unchanged on a second
// apply), the bad one's problems are printed and nothing of it is applied.
func TestApplyFiles(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("name: e2e-bad\nparams: []\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"checkout-api", "demo-checkout", "demo-prometheus"} {
		cleanup(t, name)
	}
	var out, errs strings.Builder
	code := operator.ApplyFiles(ctx, temporalClient, []string{"../examples/targets", bad}, t.Name(), nil, &out, &errs)
	if code != 2 || out.String() != "checkout-api: created\ndemo-prometheus: created\ndemo-checkout: created\n" || !strings.Contains(errs.String(), bad+":") {
		t.Fatalf("apply: exit %d\nstdout:\n%s\nstderr:\n%s\nwant exit 2, every example created, the bad file's problems", code, out.String(), errs.String())
	}
	if _, err := operator.TargetState(ctx, temporalClient, "e2e-bad"); !errors.Is(err, operator.ErrNotRegistered) {
		t.Errorf("the bad file's target: %v, want not registered", err)
	}
	out.Reset()
	if code := operator.ApplyFiles(ctx, temporalClient, []string{"../examples/targets"}, t.Name(),
		&workflows.TunerSettings{HistoryLimit: 50}, &out, &errs); code != 0 || out.String() != "checkout-api: updated\ndemo-prometheus: updated\ndemo-checkout: updated\n" {
		t.Errorf("second apply with a history limit: exit %d, %q; want every example updated", code, out.String())
	}
	out.Reset()
	if code := operator.ApplyFiles(ctx, temporalClient, []string{"../examples/targets"}, t.Name(),
		&workflows.TunerSettings{HistoryLimit: 50}, &out, &errs); code != 0 || out.String() != "checkout-api: unchanged\ndemo-prometheus: unchanged\ndemo-checkout: unchanged\n" {
		t.Errorf("third apply: exit %d, %q; want every example unchanged", code, out.String())
	}
	st, err := operator.TargetState(ctx, temporalClient, "checkout-api")
	if err != nil || st.Settings.HistoryLimit != 50 || st.NextRun.IsZero() || st.Freeze == nil {
		t.Errorf("checkout-api: %+v (%v); want a history limit of 50, a next run and its freeze", st, err)
	}
}
