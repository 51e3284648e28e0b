package workflows

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/passflow/passflow/contract"
	"github.com/passflow/passflow/models"
	"github.com/passflow/passflow/target"
)

// unregisteredGrace is how long a tuner started by a request for a target
// nobody registered waits for a registration before it ends.
const unregisteredGrace = time.Minute

// passSlack is added to a pass's longest possible run (approval timeout and
// every stage's longest wait) to give the run timeout of its child workflow.
const passSlack = time.Hour

// tuner is one run of the TargetTuner workflow.
type tuner struct {
	st       TunerState
	child    workflow.ChildWorkflowFuture // the running pass, once started
	requests workflow.ReceiveChannel      // requests by signal
}

// TargetTuner owns one target: its registered spec, its observation history,
// the audit of its passes and its queue. It runs one pass at a time, as a
// child workflow; requests that arrive while a pass runs coalesce into one
// queued pass. A pass that ends without its own cleanup (terminated, timed
// out) is reconciled: the tuner restores the last promoted configuration.
// It continues as new between passes once its history is long.
func TargetTuner(ctx workflow.Context, in TunerInput) (TunerState, error) {
	t := &tuner{}
	if in.State != nil {
		t.st = *in.State
	}
	t.st.Name = in.Name
	t.st.Settings = in.Settings.withDefaults()
	if err := t.handlers(ctx); err != nil {
		return t.st, err
	}
	_ = workflow.UpsertTypedSearchAttributes(ctx, TargetKey.ValueSet(in.Name))

	if t.st.Spec == nil {
		registered, err := workflow.AwaitWithTimeout(ctx, unregisteredGrace, func() bool { return t.st.Spec != nil })
		if err != nil {
			return t.st, err
		}
		if !registered {
			return t.st, t.drain(ctx)
		}
	}
	for {
		switch {
		case t.st.Deleted && t.st.Running == nil:
			return t.st, t.drain(ctx)
		case t.st.Queued != nil && !t.st.Paused && !t.st.Deleted:
			if err := t.serveQueued(ctx); err != nil {
				return t.st, err
			}
			continue
		case t.continueAsNewDue(ctx):
			if err := t.drain(ctx); err != nil {
				return t.st, err
			}
			carried := t.st
			carried.HistorySize, carried.NextRun, carried.Freeze, carried.Events = 0, time.Time{}, nil, 0
			return t.st, workflow.NewContinueAsNewError(ctx, TunerWorkflowName,
				TunerInput{Name: in.Name, Settings: t.st.Settings, State: &carried})
		}
		if err := workflow.Await(ctx, func() bool {
			return t.st.Deleted || (t.st.Queued != nil && !t.st.Paused) || t.continueAsNewDue(ctx)
		}); err != nil {
			return t.st, err
		}
	}
}

// drain waits for the update handlers in flight and serves the requests
// signalled but not yet taken, before the run ends: a signal left in its
// channel would be lost.
func (t *tuner) drain(ctx workflow.Context) error {
	if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
		return err
	}
	for {
		var r PassRequest
		if !t.requests.ReceiveAsync(&r) {
			return nil
		}
		t.signalled(ctx, r)
	}
}

func (t *tuner) continueAsNewDue(ctx workflow.Context) bool {
	info := workflow.GetInfo(ctx)
	return t.st.Running == nil &&
		(info.GetCurrentHistoryLength() >= t.st.Settings.MaxEvents || info.GetContinueAsNewSuggested())
}

func (t *tuner) handlers(ctx workflow.Context) error {
	if err := workflow.SetQueryHandler(ctx, StateQuery, func(opts StateOptions) (TunerState, error) {
		st := t.state(ctx)
		if !opts.History {
			st.History = nil
		}
		return st, nil
	}); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, RegisterUpdate, t.register,
		workflow.UpdateHandlerOptions{Validator: t.validateRegister}); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, RequestPassUpdate, t.request,
		workflow.UpdateHandlerOptions{Validator: t.validateRequest}); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, PauseUpdate, t.pause,
		workflow.UpdateHandlerOptions{Validator: t.validatePause}); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, DeleteUpdate, t.delete,
		workflow.UpdateHandlerOptions{Validator: t.validateDelete}); err != nil {
		return err
	}
	// Requests by signal (the scheduled-request workflow) get no reply: a
	// refused one is counted.
	t.requests = workflow.GetSignalChannel(ctx, RequestPassSignal)
	workflow.Go(ctx, func(ctx workflow.Context) {
		for {
			var r PassRequest
			if !t.requests.Receive(ctx, &r) {
				return
			}
			t.signalled(ctx, r)
		}
	})
	canary := workflow.GetSignalChannel(ctx, CanarySignal)
	workflow.Go(ctx, func(ctx workflow.Context) {
		for {
			var c CanaryStarted
			if !canary.Receive(ctx, &c) {
				return
			}
			if r := t.st.Running; r != nil && r.ID == c.PassID {
				r.Canary = c.At
			}
		}
	})
	return nil
}

// signalled serves a request that came as a signal.
func (t *tuner) signalled(ctx workflow.Context, r PassRequest) {
	if err := t.validateRequest(ctx, r); err != nil {
		t.st.Refused++
		workflow.GetLogger(ctx).Info("request refused", "target", t.st.Name, "trigger", r.Trigger, "why", err)
		return
	}
	if _, err := t.request(ctx, r); err != nil {
		workflow.GetLogger(ctx).Warn("request failed", "target", t.st.Name, "error", err)
	}
}

// state returns the state with its derived fields filled.
func (t *tuner) state(ctx workflow.Context) TunerState {
	st := t.st
	st.HistorySize = len(st.History)
	st.Events = workflow.GetInfo(ctx).GetCurrentHistoryLength()
	if st.Spec != nil {
		now := workflow.Now(ctx)
		if next, ok := st.Spec.Triggers.NextRun(now); ok && !st.Paused {
			st.NextRun = next
		}
		if f := st.Spec.Triggers.Freeze; f != nil {
			fs := &FreezeState{}
			fs.Frozen, fs.Until, fs.Why = f.At(now)
			if start, end, why, ok := f.Next(now); ok {
				fs.NextStart, fs.NextEnd = start, end
				if !fs.Frozen {
					fs.Why = why
				}
			}
			st.Freeze = fs
		}
	}
	return st
}

func (t *tuner) validateRegister(ctx workflow.Context, in RegisterInput) error {
	if in.Spec.Name != t.st.Name {
		return temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("register: the spec names target %q, but this is the tuner of %q", in.Spec.Name, t.st.Name),
			ErrTypeInvalidRequest, nil)
	}
	if t.st.Deleted {
		return t.deletedError()
	}
	if in.Settings != nil && (in.Settings.HistoryLimit < 0 || in.Settings.HistoryLimit > MaxHistoryLimit) {
		return temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("register %s: history limit: expected 1 to %d observations, got %d", t.st.Name, MaxHistoryLimit, in.Settings.HistoryLimit),
			ErrTypeInvalidRequest, nil)
	}
	spec := in.Spec // Validate fills defaults; the spec registered is the one sent
	if problems := target.Validate(&spec); len(problems) > 0 {
		msgs := make([]string, len(problems))
		for i, p := range problems {
			msgs[i] = p.Field + ": " + p.Msg
		}
		return temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("register %s: invalid spec: %s", t.st.Name, strings.Join(msgs, "; ")), ErrTypeInvalidRequest, nil)
	}
	return nil
}

// register records the spec, with a version and a hash, and reconciles the
// target's schedule with it. The schedule is put first: a registration whose
// schedule cannot be put changes nothing.
func (t *tuner) register(ctx workflow.Context, in RegisterInput) (RegisterResult, error) {
	hash, err := SpecHash(in.Spec)
	if err != nil {
		return RegisterResult{}, temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeInvalidRequest, err)
	}
	res := RegisterResult{Name: t.st.Name, Hash: hash, Result: Unchanged, Version: t.st.SpecVersion}
	if hash != t.st.SpecHash {
		old, spec := t.st.Spec, in.Spec
		next := t.st
		next.Spec, next.SpecVersion = &spec, t.st.SpecVersion+1
		if old == nil || scheduleChanged(old.Triggers, spec.Triggers) {
			if err := t.syncSchedule(ctx, next, false); err != nil {
				return res, err
			}
		}
		res.Result, res.Version = Updated, next.SpecVersion
		if old == nil {
			res.Result = Created
			t.st.Registered = workflow.Now(ctx)
		}
		t.st.Spec, t.st.SpecHash, t.st.SpecSource, t.st.SpecVersion = &spec, hash, in.Source, next.SpecVersion
		t.st.Updated = workflow.Now(ctx)
		if t.st.LastPromoted == nil || spec.Params.CheckConfig(t.st.LastPromoted) != nil {
			t.st.LastPromoted = currentConfig(spec)
		}
		t.upsertMemo(ctx)
	}
	if in.Settings != nil {
		if set := in.Settings.withDefaults(); set != t.st.Settings {
			t.st.Settings = set
			t.trimHistory()
			if res.Result == Unchanged {
				res.Result = Updated
			}
		}
	}
	return res, nil
}

// currentConfig is the configuration the spec says the service runs.
func currentConfig(spec target.Spec) models.Config {
	cfg := models.Config{}
	for _, p := range spec.Params {
		if p.Current != nil {
			cfg[p.Name] = *p.Current
		}
	}
	return cfg
}

func scheduleChanged(a, b target.Triggers) bool {
	return a.Schedule != b.Schedule || a.Timezone != b.Timezone || a.Jitter != b.Jitter
}

// SpecHash is a short fingerprint of a spec: equal specs have equal hashes.
func SpecHash(spec target.Spec) (string, error) {
	b, err := json.Marshal(spec)
	if err != nil {
		return "", fmt.Errorf("hash the spec of %s: %w", spec.Name, err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8]), nil
}

// syncSchedule makes the target's Temporal Schedule match the spec and
// pause state of st, or deletes it.
func (t *tuner) syncSchedule(ctx workflow.Context, st TunerState, remove bool) error {
	in := contract.ScheduleInput{
		ID: ScheduleID(st.Name), Target: st.Name, Workflow: ScheduledRequestWorkflowName,
		TaskQueue: workflow.GetInfo(ctx).TaskQueueName, Paused: st.Paused, Delete: remove,
	}
	if st.Spec != nil && !remove {
		tr := st.Spec.Triggers
		in.Cron, in.Timezone, in.Jitter = tr.Schedule, tr.Timezone, time.Duration(tr.Jitter)
		in.Note = fmt.Sprintf("nightly tuning of %s (spec v%d)", st.Name, st.SpecVersion)
		if st.Paused {
			in.Note = fmt.Sprintf("paused by %s: %s", orSomeone(st.PausedBy), orNoReason(st.PauseReason))
		}
	}
	if in.Cron == "" {
		in.Delete = true
	}
	summary := "sync schedule " + in.ID
	if in.Delete {
		summary = "delete schedule " + in.ID
	}
	if err := workflow.ExecuteActivity(writeCtx(ctx, summary), contract.SyncScheduleName, in).Get(ctx, nil); err != nil {
		return fmt.Errorf("%s: %w", summary, err)
	}
	return nil
}

// upsertMemo keeps what the alert webhook needs to route alerts in the
// tuner's memo, where a list of tuners returns it.
func (t *tuner) upsertMemo(ctx workflow.Context) {
	memo := map[string]any{MemoPaused: t.st.Paused}
	if t.st.Spec != nil {
		memo[MemoAlerts] = t.st.Spec.Triggers.Alerts
	}
	if err := workflow.UpsertMemo(ctx, memo); err != nil {
		workflow.GetLogger(ctx).Warn("upsert memo", "error", err)
	}
}

// Memo fields of a tuner.
const (
	MemoAlerts = "alerts"
	MemoPaused = "paused"
)

func (t *tuner) deletedError() error {
	return temporal.NewNonRetryableApplicationError(
		fmt.Sprintf("target %s is being deleted: it takes no more requests (apply its file again once its tuner has ended)", t.st.Name),
		ErrTypeDeleted, nil)
}

func (t *tuner) validateRequest(ctx workflow.Context, r PassRequest) error {
	switch {
	case t.st.Spec == nil:
		return temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("target %s is not registered: apply its file first (passflow targets apply FILE)", t.st.Name),
			ErrTypeNotRegistered, nil)
	case t.st.Deleted:
		return t.deletedError()
	case t.st.Paused:
		return temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("target %s is paused by %s (%s): resume it first (passflow targets resume %s)",
				t.st.Name, orSomeone(t.st.PausedBy), orNoReason(t.st.PauseReason), t.st.Name),
			ErrTypePaused, nil)
	case !r.Trigger.Valid():
		return temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("request a pass of %s: trigger %q: expected operator, schedule, alert or simulation", t.st.Name, r.Trigger),
			ErrTypeInvalidRequest, nil)
	case r.Trigger == TriggerAlert && (r.Alert == nil || r.Alert.Name == ""):
		return temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("request a pass of %s: a request with trigger alert needs the alert's name", t.st.Name),
			ErrTypeInvalidRequest, nil)
	}
	if r.Trigger == TriggerAlert && t.deliverable(*r.Alert) {
		return nil
	}
	if r.Trigger == TriggerAlert && t.inCooldown(ctx) {
		serving := t.st.LastAlertPass
		return temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("%s coalesced: an alert requested %s at %s, within the cooldown of %s",
				r.Alert.Name, serving, t.st.LastAlertRequest.UTC().Format(time.RFC3339), t.st.Spec.Triggers.Cooldown),
			ErrTypeCoalesced, nil, serving)
	}
	if q := t.st.Queued; q != nil && q.Coalesced >= maxCoalesced {
		return temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("coalesced into the queued pass %s, which already serves %d requests", q.ID, q.Coalesced+1),
			ErrTypeCoalesced, nil, q.ID)
	}
	return nil
}

func (t *tuner) inCooldown(ctx workflow.Context) bool {
	cool := time.Duration(t.st.Spec.Triggers.Cooldown)
	return !t.st.LastAlertRequest.IsZero() && workflow.Now(ctx).Sub(t.st.LastAlertRequest) < cool
}

// deliverable reports whether an alert goes to the running pass: the pass
// has a canary applied, the alert started since (the change may be what
// made it fire), and no alert went to the pass yet (one rolls it back).
func (t *tuner) deliverable(a Alert) bool {
	r := t.st.Running
	return r != nil && t.child != nil && !r.Canary.IsZero() && len(r.Delivered) == 0 &&
		(a.StartsAt.IsZero() || !a.StartsAt.Before(r.Canary))
}

// request serves a validated request: an alert goes to the running pass
// when it may concern its change; otherwise the request queues a pass, or
// joins the one queued, or is skipped inside a freeze that skips requests.
func (t *tuner) request(ctx workflow.Context, r PassRequest) (RequestReply, error) {
	now := workflow.Now(ctx)
	r.At = now
	reply := RequestReply{Target: t.st.Name}
	if r.Alert != nil && t.deliverable(*r.Alert) {
		run := t.st.Running
		run.Delivered = append(run.Delivered, r.Alert.Key())
		if err := t.child.SignalChildWorkflow(ctx, AlertSignal, *r.Alert).Get(ctx, nil); err == nil {
			t.noteRequest(run, r)
			reply.PassID, reply.Status = run.ID, ReplyDelivered
			reply.Reason = "delivered to the running pass: it rolls back a canary applied before the alert started"
			return reply, nil
		}
		// The pass ended meanwhile: the alert requests a pass as usual.
	}
	if r.Trigger == TriggerAlert {
		if t.inCooldown(ctx) {
			// Came in before a concurrent request's cooldown began.
			reply.PassID, reply.Status = t.st.LastAlertPass, ReplyCoalesced
			reply.Reason = "within the alert cooldown"
			return reply, nil
		}
		defer func() { t.st.LastAlertRequest, t.st.LastAlertPass = now, reply.PassID }()
	}
	if q := t.st.Queued; q != nil {
		t.noteRequest(q, r)
		reply.PassID, reply.Status, reply.NotBefore = q.ID, ReplyCoalesced, q.NotBefore
		reply.Reason = "joined the queued pass " + q.ID
		if t.st.Running != nil {
			reply.Reason += ", behind the running pass " + t.st.Running.ID
		}
		return reply, nil
	}
	freeze := t.st.Spec.Triggers.Freeze
	frozen, until, why := freeze.At(now)
	if frozen && freeze.OnRequest == target.FreezeSkip {
		reply.Status, reply.Reason = ReplySkipped, fmt.Sprintf("inside the freeze %s until %s, and the target skips requests in a freeze",
			why, until.UTC().Format(time.RFC3339))
		t.audit(PassRecord{Trigger: r.Trigger, RequestedBy: r.RequestedBy, Outcome: OutcomeSkipped,
			Reason: reply.Reason, Requested: now, Ended: now, SpecVersion: t.st.SpecVersion})
		return reply, nil
	}
	t.st.Passes++
	q := &PassRef{ID: PassID(t.st.Name, t.st.Passes), Trigger: r.Trigger, RequestedBy: r.RequestedBy,
		Requested: now, Requests: []PassRequest{r}}
	reply.PassID, reply.Status = q.ID, ReplyStarted
	if frozen {
		q.NotBefore = until
		reply.Status, reply.NotBefore = ReplyQueued, until
		reply.Reason = fmt.Sprintf("inside the freeze %s: the pass starts when it ends", why)
	} else if t.st.Running != nil {
		reply.Status = ReplyQueued
		reply.Reason = "behind the running pass " + t.st.Running.ID
	}
	t.st.Queued = q
	return reply, nil
}

// noteRequest records r against pass p.
func (t *tuner) noteRequest(p *PassRef, r PassRequest) {
	p.Coalesced++
	if len(p.Requests) < maxRequestsKept {
		p.Requests = append(p.Requests, r)
	}
}

func (t *tuner) validatePause(ctx workflow.Context, in PauseInput) error {
	if t.st.Spec == nil {
		return temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("target %s is not registered", t.st.Name), ErrTypeNotRegistered, nil)
	}
	if t.st.Deleted {
		return t.deletedError()
	}
	return nil
}

// pause pauses or resumes the target and its schedule (the schedule first:
// a pause that cannot reach it changes nothing). A pause drops the queued
// pass; the running pass goes on.
func (t *tuner) pause(ctx workflow.Context, in PauseInput) (PauseResult, error) {
	if t.st.Paused == in.Paused {
		return PauseResult{}, nil
	}
	next := t.st
	next.Paused, next.PausedBy, next.PauseReason = in.Paused, "", ""
	if in.Paused {
		next.PausedBy, next.PauseReason = in.By, in.Reason
	}
	if err := t.syncSchedule(ctx, next, false); err != nil {
		return PauseResult{}, err
	}
	t.st.Paused, t.st.PausedBy, t.st.PauseReason = next.Paused, next.PausedBy, next.PauseReason
	res := PauseResult{Changed: true}
	if in.Paused {
		res.Skipped = t.dropQueued(ctx, fmt.Sprintf("target paused by %s (%s)", orSomeone(in.By), orNoReason(in.Reason)))
	}
	t.upsertMemo(ctx)
	return res, nil
}

func (t *tuner) validateDelete(ctx workflow.Context, in DeleteInput) error {
	if t.st.Spec == nil {
		return temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("target %s is not registered", t.st.Name), ErrTypeNotRegistered, nil)
	}
	return nil
}

// delete removes the schedule, then drops the queued pass; the tuner ends
// once the running pass has.
func (t *tuner) delete(ctx workflow.Context, in DeleteInput) (DeleteResult, error) {
	if err := t.syncSchedule(ctx, t.st, true); err != nil {
		return DeleteResult{}, err
	}
	t.st.Deleted = true
	t.dropQueued(ctx, fmt.Sprintf("target deleted by %s (%s)", orSomeone(in.By), orNoReason(in.Reason)))
	res := DeleteResult{}
	if t.st.Running != nil {
		res.Running = t.st.Running.ID
	}
	return res, nil
}

// dropQueued records the queued pass as skipped and drops it; it returns
// its ID.
func (t *tuner) dropQueued(ctx workflow.Context, why string) string {
	q := t.st.Queued
	if q == nil {
		return ""
	}
	t.st.Queued = nil
	now := workflow.Now(ctx)
	t.audit(PassRecord{ID: q.ID, Trigger: q.Trigger, RequestedBy: q.RequestedBy, Coalesced: q.Coalesced,
		Outcome: OutcomeSkipped, Reason: "never started: " + why, Requested: q.Requested, Ended: now,
		SpecVersion: t.st.SpecVersion})
	return q.ID
}

// serveQueued starts the queued pass, unless a freeze holds it, and waits
// for it to end.
func (t *tuner) serveQueued(ctx workflow.Context) error {
	q := t.st.Queued
	freeze := t.st.Spec.Triggers.Freeze
	if frozen, until, why := freeze.At(workflow.Now(ctx)); frozen {
		if freeze.OnRequest == target.FreezeSkip {
			t.dropQueued(ctx, fmt.Sprintf("inside the freeze %s, and the target skips requests in a freeze", why))
			return nil
		}
		q.NotBefore = until
		_, err := workflow.AwaitWithTimeout(ctx, until.Sub(workflow.Now(ctx)), func() bool {
			return t.st.Queued != q || t.st.Paused || t.st.Deleted
		})
		return err // the loop looks again: the freeze may have been extended
	}
	q.NotBefore = time.Time{}
	t.st.Queued = nil
	t.runPass(ctx, q)
	return ctx.Err()
}

// runPass runs q as a child workflow and records how it ended.
func (t *tuner) runPass(ctx workflow.Context, q *PassRef) {
	spec := *t.st.Spec
	q.Started = workflow.Now(ctx)
	t.st.Running = q
	defer func() { t.st.Running, t.child = nil, nil }()
	rec := PassRecord{ID: q.ID, Trigger: q.Trigger, RequestedBy: q.RequestedBy, Requested: q.Requested,
		Started: q.Started, SpecVersion: t.st.SpecVersion}

	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID:            q.ID,
		WorkflowRunTimeout:    passTimeout(spec),
		ParentClosePolicy:     enumspb.PARENT_CLOSE_POLICY_REQUEST_CANCEL,
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		TypedSearchAttributes: temporal.NewSearchAttributes(TargetKey.ValueSet(spec.Name)),
		StaticSummary:         fmt.Sprintf("pass %s (%s)", q.ID, q.Trigger),
	})
	fut := workflow.ExecuteChildWorkflow(cctx, PassWorkflowName, PassInput{
		PassID: q.ID, Target: spec, Trigger: q.Trigger, RequestedBy: q.RequestedBy,
		History: t.st.History, Requests: q.Requests, BaselineSince: t.st.BaselineSince,
	})
	if err := fut.GetChildWorkflowExecution().Get(ctx, nil); err != nil {
		rec.Outcome, rec.Reason, rec.Ended = OutcomeFailed, fmt.Sprintf("the pass could not start: %v", err), workflow.Now(ctx)
		t.audit(rec)
		return
	}
	t.child = fut
	var st PassStatus
	err := fut.Get(ctx, &st)
	if err != nil {
		st = passStatusOf(err)
	}
	rec.Coalesced = q.Coalesced
	if st.Step != StepDone {
		// The pass ended without its own cleanup: a canary may be applied.
		t.reconcile(ctx, q, spec, err, &rec)
		return
	}
	rec.Outcome, rec.Reason, rec.Ended = st.Outcome, st.Reason, st.Ended
	rec.Baseline, rec.Candidate, rec.Change, rec.Approval = st.Baseline, st.Candidate, st.Change, st.Approval
	rec.Approvals = st.Approvals
	if st.Risk != nil {
		rec.RiskBand = st.Risk.Band
	}
	if st.Observation != nil {
		t.st.History = append(t.st.History, *st.Observation)
		if st.BaselineObservation != nil {
			t.st.History = append(t.st.History, *st.BaselineObservation)
		}
		t.trimHistory()
	}
	if st.Outcome == OutcomePromoted && st.Candidate != nil {
		t.st.LastPromoted, t.st.BaselineSince = st.Candidate.Clone(), st.Ended
	}
	rec.Trail = trail(st)
	t.audit(rec)
}

// passStatusOf is the status a pass hands back in its error: its details
// when it was cancelled or failed after its cleanup; empty otherwise.
func passStatusOf(err error) PassStatus {
	var st PassStatus
	var canceled *temporal.CanceledError
	var app *temporal.ApplicationError
	switch {
	case errors.As(err, &canceled) && canceled.HasDetails():
		_ = canceled.Details(&st)
	case errors.As(err, &app) && app.Type() == ErrTypePassFailed && app.HasDetails():
		_ = app.Details(&st)
	}
	return st
}

// reconcile restores the last promoted configuration on every cohort after
// a pass that ended without its own cleanup, and records why. A restore that
// fails for good pauses the target: nothing more may be stacked on a
// service in an unknown state.
func (t *tuner) reconcile(ctx workflow.Context, q *PassRef, spec target.Spec, err error, rec *PassRecord) {
	rec.Outcome = OutcomeAbandoned
	how := "ended"
	var term *temporal.TerminatedError
	var timeout *temporal.TimeoutError
	switch {
	case errors.As(err, &term):
		how = "was terminated"
	case errors.As(err, &timeout):
		how = "timed out"
	case err != nil:
		how = fmt.Sprintf("failed (%v)", err)
	}
	cfg := t.st.LastPromoted
	in := contract.ReconcileInput{PassID: q.ID, Target: spec, Key: q.ID + "/reconcile", Config: cfg}
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	rerr := workflow.ExecuteActivity(undoCtx(dctx, "restore "+cfg.String()+" after "+q.ID), contract.ReconcileName, in).Get(dctx, nil)
	if rerr != nil {
		rec.Reason = fmt.Sprintf("the pass %s without its own cleanup; restoring %s FAILED: %v; target paused", how, cfg, rerr)
		t.st.Paused, t.st.PausedBy, t.st.PauseReason = true, "passflow", "restore after "+q.ID+" failed: "+rerr.Error()
		t.upsertMemo(dctx)
		_ = t.syncSchedule(dctx, t.st, false)
	} else {
		rec.Reason = fmt.Sprintf("the pass %s without its own cleanup; the tuner restored the last promoted configuration on every cohort", how)
		rec.Reconciled = cfg.String()
	}
	rec.Ended = workflow.Now(dctx)
	if rerr == nil {
		// The pass may have promoted before it ended: the baseline ran
		// something else until now.
		t.st.BaselineSince = rec.Ended
	}
	t.audit(*rec)
}

// trimHistory keeps the most recent HistoryLimit observations.
func (t *tuner) trimHistory() {
	if over := len(t.st.History) - t.st.Settings.HistoryLimit; over > 0 {
		t.st.History = slices.Delete(t.st.History, 0, over)
	}
}

// audit appends a record, keeping the most recent AuditLimit.
func (t *tuner) audit(r PassRecord) {
	t.st.Recent = append(t.st.Recent, r)
	if over := len(t.st.Recent) - t.st.Settings.AuditLimit; over > 0 {
		t.st.Recent = slices.Delete(t.st.Recent, 0, over)
	}
}

// passTimeout is the longest a pass of spec may run: the approval timeout,
// every stage's longest wait, and slack for the activities.
func passTimeout(spec target.Spec) time.Duration {
	wait := max(spec.MaxVerifyFor(), spec.VerifyFor())
	return time.Duration(spec.Risk.ApprovalTimeout) + time.Duration(len(spec.Canary.Stages))*wait + passSlack
}

func orSomeone(s string) string {
	if s == "" {
		return "someone"
	}
	return s
}

func orNoReason(s string) string {
	if s == "" {
		return "no reason given"
	}
	return s
}

// ScheduledRequestInput is what a target's schedule starts its workflow
// with.
type ScheduledRequestInput struct {
	Target string `json:"target"`
}

// ScheduledRequest is the workflow a target's schedule starts: it asks the
// target's tuner for a pass with trigger schedule.
func ScheduledRequest(ctx workflow.Context, in ScheduledRequestInput) (string, error) {
	req := PassRequest{Trigger: TriggerSchedule, RequestedBy: ScheduleID(in.Target),
		Reason: "scheduled run " + workflow.GetInfo(ctx).WorkflowExecution.ID}
	if err := workflow.SignalExternalWorkflow(ctx, TunerID(in.Target), "", RequestPassSignal, req).Get(ctx, nil); err != nil {
		return "", fmt.Errorf("ask %s for a pass: %w", TunerID(in.Target), err)
	}
	return "requested a pass of " + in.Target, nil
}
