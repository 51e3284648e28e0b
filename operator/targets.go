package operator

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/passflow/passflow/contract"
	"github.com/passflow/passflow/target"
	"github.com/passflow/passflow/workflows"
)

// Errors of the calls on targets. Each wraps the tuner's own message.
var (
	// ErrNotRegistered: no tuner holds a spec of that name.
	ErrNotRegistered = errors.New("target not registered")
	// ErrRefused: the target is paused or being deleted.
	ErrRefused = errors.New("refused")
	// ErrInvalid: the request itself is wrong.
	ErrInvalid = errors.New("invalid request")
	// ErrForbidden: the caller may not do what it asked (an answer from
	// someone who is not one of the target's approvers).
	ErrForbidden = errors.New("forbidden")
)

// Apply registers spec with its target's tuner, creating the tuner on the
// first registration (update-with-start), and returns whether the spec was
// created, updated or unchanged. The tuner reconciles the target's schedule.
func Apply(ctx context.Context, c client.Client, spec target.Spec, source, by string) (workflows.RegisterResult, error) {
	return Register(ctx, c, workflows.RegisterInput{Spec: spec, Source: source, By: by})
}

// Register is Apply with every field of the registration, such as new
// tuner settings.
func Register(ctx context.Context, c client.Client, in workflows.RegisterInput) (workflows.RegisterResult, error) {
	var res workflows.RegisterResult
	if err := updateWithStart(ctx, c, in.Spec.Name, workflows.RegisterUpdate, in, &res); err != nil {
		return res, fmt.Errorf("apply target %s: %w", in.Spec.Name, err)
	}
	return res, nil
}

// Request asks a target's tuner for a pass and returns its reply: the ID of
// the pass that will serve the request and how (started, queued, coalesced,
// delivered, skipped). An alert inside the target's cooldown comes back as
// coalesced, with the pass that served the earlier alert.
func Request(ctx context.Context, c client.Client, name string, r workflows.PassRequest) (workflows.RequestReply, error) {
	var rep workflows.RequestReply
	err := updateWithStart(ctx, c, name, workflows.RequestPassUpdate, r, &rep)
	var app *temporal.ApplicationError
	if errors.As(err, &app) && app.Type() == workflows.ErrTypeCoalesced {
		rep = workflows.RequestReply{Target: name, Status: workflows.ReplyCoalesced, Reason: app.Message()}
		if app.HasDetails() {
			_ = app.Details(&rep.PassID)
		}
		return rep, nil
	}
	if err != nil {
		return rep, fmt.Errorf("request a pass of %s: %w", name, err)
	}
	return rep, nil
}

// updateWithStart sends an update to a target's tuner, starting the tuner
// when it does not run, and waits for the result.
func updateWithStart(ctx context.Context, c client.Client, name, update string, arg, out any) error {
	start := c.NewWithStartWorkflowOperation(client.StartWorkflowOptions{
		ID:                       workflows.TunerID(name),
		TaskQueue:                contract.TaskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		TypedSearchAttributes:    temporal.NewSearchAttributes(workflows.TargetKey.ValueSet(name)),
		StaticSummary:            "tuner of " + name,
	}, workflows.TunerWorkflowName, workflows.TunerInput{Name: name})
	h, err := c.UpdateWithStartWorkflow(ctx, client.UpdateWithStartWorkflowOptions{
		StartWorkflowOperation: start,
		UpdateOptions: client.UpdateWorkflowOptions{
			UpdateName: update, Args: []any{arg}, WaitForStage: client.WorkflowUpdateStageCompleted,
		},
	})
	if err != nil {
		return refusal(err)
	}
	return refusal(h.Get(ctx, out))
}

// updateTuner sends an update to a running tuner and waits for the result.
func updateTuner(ctx context.Context, c client.Client, name, update string, arg, out any) error {
	h, err := c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: workflows.TunerID(name), UpdateName: update, Args: []any{arg},
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err != nil {
		return refusal(err)
	}
	return refusal(h.Get(ctx, out))
}

// refusal maps a tuner's refusals to this package's errors, keeping the
// tuner's message; other errors pass through.
func refusal(err error) error {
	if err == nil {
		return nil
	}
	var app *temporal.ApplicationError
	var nf *serviceerror.NotFound
	switch {
	case errors.As(err, &app):
		switch app.Type() {
		case workflows.ErrTypeNotRegistered:
			return &tunerError{ErrNotRegistered, app.Message()}
		case workflows.ErrTypePaused, workflows.ErrTypeDeleted:
			return &tunerError{ErrRefused, app.Message()}
		case workflows.ErrTypeInvalidRequest:
			return &tunerError{ErrInvalid, app.Message()}
		}
	case errors.As(err, &nf):
		return fmt.Errorf("%w (no tuner runs for it)", ErrNotRegistered)
	}
	return err
}

// tunerError is a tuner's refusal: its message, and the kind of error it is.
type tunerError struct {
	kind error
	msg  string
}

func (e *tunerError) Error() string { return e.msg }
func (e *tunerError) Unwrap() error { return e.kind }

// TargetState returns a tuner's state, without its observation history
// (HistorySize counts it).
func TargetState(ctx context.Context, c client.Client, name string) (workflows.TunerState, error) {
	return targetState(ctx, c, name, workflows.StateOptions{})
}

// TargetStateWithHistory returns a tuner's state with its observation
// history.
func TargetStateWithHistory(ctx context.Context, c client.Client, name string) (workflows.TunerState, error) {
	return targetState(ctx, c, name, workflows.StateOptions{History: true})
}

func targetState(ctx context.Context, c client.Client, name string, opts workflows.StateOptions) (workflows.TunerState, error) {
	var st workflows.TunerState
	v, err := c.QueryWorkflow(ctx, workflows.TunerID(name), "", workflows.StateQuery, opts)
	if err != nil {
		var nf *serviceerror.NotFound
		if errors.As(err, &nf) {
			return st, fmt.Errorf("target %s: %w", name, ErrNotRegistered)
		}
		return st, fmt.Errorf("query the tuner of %s: %w", name, err)
	}
	if err := v.Get(&st); err != nil {
		return st, fmt.Errorf("decode the state of %s: %w", name, err)
	}
	if st.Spec == nil {
		return st, fmt.Errorf("target %s: %w", name, ErrNotRegistered)
	}
	return st, nil
}

// Pause pauses (paused true) or resumes a target and its schedule.
func Pause(ctx context.Context, c client.Client, name string, paused bool, by, reason string) (workflows.PauseResult, error) {
	var res workflows.PauseResult
	verb := "pause"
	if !paused {
		verb = "resume"
	}
	if err := updateTuner(ctx, c, name, workflows.PauseUpdate, workflows.PauseInput{Paused: paused, By: by, Reason: reason}, &res); err != nil {
		return res, fmt.Errorf("%s target %s: %w", verb, name, err)
	}
	return res, nil
}

// Delete deletes a target: its schedule at once, its tuner after its
// running pass.
func Delete(ctx context.Context, c client.Client, name, by, reason string) (workflows.DeleteResult, error) {
	var res workflows.DeleteResult
	if err := updateTuner(ctx, c, name, workflows.DeleteUpdate, workflows.DeleteInput{By: by, Reason: reason}, &res); err != nil {
		return res, fmt.Errorf("delete target %s: %w", name, err)
	}
	return res, nil
}

// TargetRow is one target in a listing.
type TargetRow struct {
	Name    string    `json:"name"`
	Paused  bool      `json:"paused"`
	Running string    `json:"running,omitempty"`
	Queued  string    `json:"queued,omitempty"`
	NextRun time.Time `json:"next_run,omitzero"`
	Passes  int       `json:"passes"`
	Version int       `json:"spec_version"`
	// Freeze is "frozen until T (why)" or "next T (why)", or empty.
	Freeze string `json:"freeze,omitempty"`
}

// Row is the listing's row of a tuner's state.
func Row(st workflows.TunerState) TargetRow {
	r := TargetRow{Name: st.Name, Paused: st.Paused, NextRun: st.NextRun, Passes: st.Passes, Version: st.SpecVersion}
	if st.Running != nil {
		r.Running = st.Running.ID
	}
	if st.Queued != nil {
		r.Queued = st.Queued.ID
	}
	if f := st.Freeze; f != nil {
		switch {
		case f.Frozen:
			r.Freeze = fmt.Sprintf("frozen until %s (%s)", f.Until.UTC().Format(time.RFC3339), f.Why)
		case !f.NextStart.IsZero():
			r.Freeze = fmt.Sprintf("next %s (%s)", f.NextStart.UTC().Format(time.RFC3339), f.Why)
		}
	}
	return r
}

// Tuners returns the running tuners, with their memo: the names and the
// alerts each routes. It reads visibility, which lags a running tuner by a
// moment.
func Tuners(ctx context.Context, c client.Client) ([]TunerInfo, error) {
	var out []TunerInfo
	var token []byte
	for {
		resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Query:         fmt.Sprintf("WorkflowType = '%s' AND ExecutionStatus = 'Running'", workflows.TunerWorkflowName),
			NextPageToken: token,
		})
		if err != nil {
			return nil, fmt.Errorf("list tuners: %w", err)
		}
		dc := converter.GetDefaultDataConverter()
		for _, ex := range resp.GetExecutions() {
			id := ex.GetExecution().GetWorkflowId()
			name, ok := strings.CutPrefix(id, "tuner/")
			if !ok {
				continue
			}
			info := TunerInfo{Name: name}
			if p, ok := ex.GetMemo().GetFields()[workflows.MemoAlerts]; ok {
				_ = dc.FromPayload(p, &info.Alerts)
			}
			if p, ok := ex.GetMemo().GetFields()[workflows.MemoPaused]; ok {
				_ = dc.FromPayload(p, &info.Paused)
			}
			out = append(out, info)
		}
		if token = resp.GetNextPageToken(); len(token) == 0 {
			break
		}
	}
	slices.SortFunc(out, func(a, b TunerInfo) int { return strings.Compare(a.Name, b.Name) })
	out = slices.CompactFunc(out, func(a, b TunerInfo) bool { return a.Name == b.Name })
	return out, nil
}

// TunerInfo is what a listing of tuners tells of each.
type TunerInfo struct {
	Name   string   `json:"name"`
	Alerts []string `json:"alerts,omitempty"`
	Paused bool     `json:"paused"`
}

// Targets lists the registered targets with their state.
func Targets(ctx context.Context, c client.Client) ([]TargetRow, error) {
	tuners, err := Tuners(ctx, c)
	if err != nil {
		return nil, err
	}
	rows := []TargetRow{}
	for _, tu := range tuners {
		st, err := TargetState(ctx, c, tu.Name)
		if errors.Is(err, ErrNotRegistered) {
			continue // a tuner waiting for its first registration, or just ended
		}
		if err != nil {
			return nil, err
		}
		rows = append(rows, Row(st))
	}
	return rows, nil
}

// History returns a target's passes, oldest first: the ended ones the tuner
// keeps, then the running and the queued pass.
func History(ctx context.Context, c client.Client, name string) ([]workflows.PassRecord, error) {
	st, err := TargetState(ctx, c, name)
	if err != nil {
		return nil, err
	}
	out := slices.Clone(st.Recent)
	for _, p := range []*workflows.PassRef{st.Running, st.Queued} {
		if p == nil {
			continue
		}
		outcome := workflows.Outcome("running")
		if p == st.Queued {
			outcome = "queued"
		}
		out = append(out, workflows.PassRecord{ID: p.ID, Trigger: p.Trigger, RequestedBy: p.RequestedBy,
			Coalesced: p.Coalesced, Outcome: outcome, Requested: p.Requested, Started: p.Started,
			SpecVersion: st.SpecVersion})
	}
	return out, nil
}

// Audit returns a target's audit trail, oldest first: every entry of the
// ended passes its tuner keeps (the most recent AuditLimit passes).
func Audit(ctx context.Context, c client.Client, name string) ([]workflows.AuditEntry, error) {
	st, err := TargetState(ctx, c, name)
	if err != nil {
		return nil, err
	}
	out := []workflows.AuditEntry{}
	for _, r := range st.Recent {
		out = append(out, r.Audit()...)
	}
	return out, nil
}

// TargetOfPass returns the target a pass ID names (pass/<target>/<n>).
func TargetOfPass(id string) (string, bool) {
	rest, ok := strings.CutPrefix(id, "pass/")
	if !ok {
		return "", false
	}
	name, _, ok := strings.Cut(rest, "/")
	return name, ok
}
