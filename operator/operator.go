// Package operator holds what an operator does against a running Temporal
// server: register targets with their tuners, pause, resume and delete them,
// request passes, follow a pass, read its status, cancel it, approve or
// reject it. The CLI and the HTTP API both call it.
//
// Invariants: it never changes a target or a pass except through the
// workflows' own handlers (updates, signals, cancel); passes start only in
// their target's tuner, so one runs per target at a time by construction.
package operator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/passflow/passflow/contract"
	"github.com/passflow/passflow/workflows"
)

// ErrNotFound is returned for a pass ID the server does not know.
var ErrNotFound = errors.New("no such pass")

// Status returns a pass's status, whether it runs or has ended.
func Status(ctx context.Context, c client.Client, id string) (workflows.PassStatus, error) {
	var st workflows.PassStatus
	v, err := c.QueryWorkflow(ctx, id, "", workflows.StatusQuery)
	if err != nil {
		var nf *serviceerror.NotFound
		if errors.As(err, &nf) {
			return st, fmt.Errorf("pass %s: %w", id, ErrNotFound)
		}
		return st, fmt.Errorf("query pass %s: %w", id, err)
	}
	if err := v.Get(&st); err != nil {
		return st, fmt.Errorf("decode status of pass %s: %w", id, err)
	}
	return st, nil
}

// Running reports whether the pass's workflow is still open.
func Running(ctx context.Context, c client.Client, id string) (bool, error) {
	d, err := c.DescribeWorkflowExecution(ctx, id, "")
	if err != nil {
		var nf *serviceerror.NotFound
		if errors.As(err, &nf) {
			return false, fmt.Errorf("pass %s: %w", id, ErrNotFound)
		}
		return false, fmt.Errorf("describe pass %s: %w", id, err)
	}
	return d.GetWorkflowExecutionInfo().GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, nil
}

// Cancel asks a pass to stop; it undoes what it applied before it ends.
func Cancel(ctx context.Context, c client.Client, id string) error {
	// The server takes a cancel of an ended workflow without a word: ask
	// first, so the caller is not told its pass will undo what it applied.
	if running, err := Running(ctx, c, id); err != nil {
		return err
	} else if !running {
		return endedOrMissing(ctx, c, id, "nothing to cancel")
	}
	if err := c.CancelWorkflow(ctx, id, ""); err != nil {
		var nf *serviceerror.NotFound
		if errors.As(err, &nf) {
			return endedOrMissing(ctx, c, id, "nothing to cancel")
		}
		return fmt.Errorf("cancel pass %s: %w", id, err)
	}
	return nil
}

// Decide gives a pass waiting for an approval an answer, as the approval
// update: the pass takes it or refuses it, and the reply says where the
// decision stands (approved, rejected, or pending more approvals). A refused
// answer is ErrRefused (not waiting, answered already), ErrForbidden (not
// an approver) or ErrInvalid (malformed), and leaves nothing in the pass.
func Decide(ctx context.Context, c client.Client, id string, a workflows.Approval) (workflows.ApprovalReply, error) {
	var reply workflows.ApprovalReply
	h, err := c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: id, UpdateName: workflows.ApprovalUpdate, Args: []any{a},
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err == nil {
		err = h.Get(ctx, &reply)
	}
	if err == nil {
		return reply, nil
	}
	var nf *serviceerror.NotFound
	var ae *temporal.ApplicationError
	switch {
	case errors.As(err, &nf):
		return reply, endedOrMissing(ctx, c, id, "no approval to give")
	case errors.As(err, &ae):
		kind := ErrRefused
		switch ae.Type() {
		case workflows.ErrTypeNotApprover:
			kind = ErrForbidden
		case workflows.ErrTypeBadApproval:
			kind = ErrInvalid
		}
		return reply, fmt.Errorf("%s: %w", ae.Message(), kind)
	}
	return reply, fmt.Errorf("answer pass %s: %w", id, err)
}

// Waiting is a pass waiting for an approval, as `passflow approvals` and
// GET /v1/approvals list it.
type Waiting struct {
	ID        string                     `json:"id"`
	Target    string                     `json:"target"`
	Candidate string                     `json:"candidate"`
	Baseline  string                     `json:"baseline"`
	Risk      string                     `json:"risk"`
	Band      string                     `json:"band"`
	Request   *workflows.ApprovalRequest `json:"request"`
	Approvals []workflows.Approval       `json:"approvals,omitempty"`
	// RequestedBy is who or what asked for the pass.
	RequestedBy string `json:"requested_by,omitempty"`
}

// Approvals lists the passes waiting for an approval, oldest first.
func Approvals(ctx context.Context, c client.Client) ([]Waiting, error) {
	out := []Waiting{}
	query := fmt.Sprintf("WorkflowType = %q AND ExecutionStatus = 'Running' AND PassflowStep = %q",
		workflows.PassWorkflowName, workflows.StepApproval)
	var token []byte
	for {
		resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: query, NextPageToken: token})
		if err != nil {
			return nil, fmt.Errorf("list passes waiting for approval: %w", err)
		}
		for _, e := range resp.GetExecutions() {
			st, err := Status(ctx, c, e.GetExecution().GetWorkflowId())
			if err != nil || st.Step != workflows.StepApproval || st.ApprovalRequest == nil {
				continue // decided or ended since the listing
			}
			w := Waiting{ID: st.ID, Target: st.Target, Candidate: st.Candidate.String(), Baseline: st.Baseline.String(),
				Request: st.ApprovalRequest, Approvals: st.Approvals, RequestedBy: st.RequestedBy}
			if st.Risk != nil {
				w.Risk, w.Band = st.Risk.String(), string(st.Risk.Band)
			}
			out = append(out, w)
		}
		if token = resp.GetNextPageToken(); len(token) == 0 {
			break
		}
	}
	slices.SortFunc(out, func(a, b Waiting) int { return a.Request.Since.Compare(b.Request.Since) })
	return out, nil
}

// endedOrMissing is the error for acting on pass id when the server says
// there is no such running workflow: ErrRefused, with what, when the pass
// exists and has ended (the server answers both cases alike), ErrNotFound
// when it never existed.
func endedOrMissing(ctx context.Context, c client.Client, id, what string) error {
	d, err := c.DescribeWorkflowExecution(ctx, id, "")
	if err != nil {
		return fmt.Errorf("pass %s: %w", id, ErrNotFound)
	}
	status := strings.ToLower(strings.TrimPrefix(d.GetWorkflowExecutionInfo().GetStatus().String(), "WorkflowExecutionStatus"))
	return fmt.Errorf("pass %s has ended (%s): %s: %w", id, status, what, ErrRefused)
}

// Follow prints one line per step of the pass as it happens, until the pass
// ends, and returns its final status. A query or a describe that fails for a
// passing reason (the server or the worker holding the pass slow to answer,
// as when that worker has just died and another takes the pass over) is
// tried again at the next tick, once noted on w; any other error ends
// Follow, as does ctx.
func Follow(ctx context.Context, c client.Client, id string, w io.Writer, every time.Duration) (workflows.PassStatus, error) {
	var prev workflows.PassStatus
	began, warned, queued, retrying := time.Now(), false, false, false
	// passing reports whether err is worth another try, and notes it once.
	passing := func(err error) bool {
		if !transient(ctx, err) {
			return false
		}
		if !retrying {
			fmt.Fprintf(w, "  retrying    %v\n", err)
			retrying = true
		}
		return true
	}
	for {
		running, err := Running(ctx, c, id)
		switch {
		case errors.Is(err, ErrNotFound):
			// Not started yet: queued in its tuner, or dropped from the queue.
			rec, waiting, qerr := queuedPass(ctx, c, id)
			if qerr != nil && !passing(qerr) {
				return prev, qerr
			}
			if qerr == nil && !waiting {
				fmt.Fprintf(w, "outcome: %s — %s\n", strings.ReplaceAll(string(rec.Outcome), "_", " "), rec.Reason)
				return workflows.PassStatus{ID: id, Outcome: rec.Outcome, Reason: rec.Reason, Step: workflows.StepDone}, nil
			}
			if qerr == nil && !queued {
				fmt.Fprintf(w, "  queued      %s\n", waiting2string(rec))
				queued = true
			}
		case err != nil:
			if !passing(err) {
				return prev, err
			}
		default:
			st, err := Status(ctx, c, id)
			if err != nil {
				if !passing(err) {
					return prev, err
				}
				break
			}
			for _, line := range Progress(prev, st) {
				fmt.Fprintln(w, line)
			}
			prev = st
			if !running {
				return st, nil
			}
		}
		// Warn once when nothing has happened for a while and no worker
		// polls: the pass waits for one.
		if !warned && prev.Baseline == nil && time.Since(began) > noProgressWarning {
			warned = true
			if d, err := c.DescribeTaskQueue(ctx, contract.TaskQueue, enumspb.TASK_QUEUE_TYPE_WORKFLOW); err == nil && len(d.GetPollers()) == 0 {
				fmt.Fprintf(w, "  warning     no worker polls task queue %q: the pass waits until `passflow dev` or `passflow worker` runs\n", contract.TaskQueue)
			}
		}
		select {
		case <-ctx.Done():
			return prev, ctx.Err()
		case <-time.After(every):
		}
	}
}

// transient reports whether err, from a call made with ctx, is worth
// another try: ctx is still live, and the call ran out of time or found
// the server unavailable or busy.
func transient(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	var (
		deadline *serviceerror.DeadlineExceeded
		down     *serviceerror.Unavailable
		busy     *serviceerror.ResourceExhausted
	)
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &deadline) || errors.As(err, &down) || errors.As(err, &busy)
}

// noProgressWarning is how long Follow waits for a pass to show progress
// before it checks that a worker polls.
const noProgressWarning = 3 * time.Second

// queuedPass finds a pass that has not started in its tuner: waiting is
// true while it is queued; otherwise rec is how the tuner recorded it.
func queuedPass(ctx context.Context, c client.Client, id string) (rec workflows.PassRecord, waiting bool, err error) {
	name, ok := TargetOfPass(id)
	if !ok {
		return rec, false, fmt.Errorf("pass %s: %w", id, ErrNotFound)
	}
	st, err := TargetState(ctx, c, name)
	if err != nil {
		return rec, false, fmt.Errorf("pass %s: %w", id, err)
	}
	if q := st.Queued; q != nil && q.ID == id {
		rec = workflows.PassRecord{ID: id, Trigger: q.Trigger, Requested: q.Requested, Started: q.NotBefore}
		if st.Running != nil {
			rec.Reason = "behind " + st.Running.ID
		}
		return rec, true, nil
	}
	if r := st.Running; r != nil && r.ID == id {
		return workflows.PassRecord{ID: id, Reason: "starting"}, true, nil
	}
	for _, r := range slices.Backward(st.Recent) {
		if r.ID == id {
			return r, false, nil
		}
	}
	return rec, false, fmt.Errorf("pass %s: %w", id, ErrNotFound)
}

func waiting2string(r workflows.PassRecord) string {
	switch {
	case !r.Started.IsZero():
		return "until the freeze ends at " + r.Started.UTC().Format(time.RFC3339)
	case r.Reason != "":
		return r.Reason
	}
	return "waiting to start"
}

// Progress returns the lines that describe what happened between two
// snapshots of a pass's status.
func Progress(prev, cur workflows.PassStatus) []string {
	var out []string
	say := func(step, format string, args ...any) {
		out = append(out, fmt.Sprintf("  %-11s %s", step, fmt.Sprintf(format, args...)))
	}
	if prev.Baseline == nil && cur.Baseline != nil {
		say("analyze", "baseline %s; %s", cur.Baseline, slis(cur))
	}
	if prev.Candidate == nil && cur.Candidate != nil {
		say("propose", "%s (%s)", cur.Candidate, cur.Why)
	}
	if prev.Risk == nil && cur.Risk != nil {
		say("assess", "risk %s", cur.Risk)
	}
	if prev.Step != workflows.StepApproval && cur.Step == workflows.StepApproval {
		who, quorum := "an approver", 1
		if r := cur.ApprovalRequest; r != nil {
			quorum = r.Quorum
			if len(r.Approvers) > 0 {
				who = strings.Join(r.Approvers, ", ")
			}
		}
		say("approval", "waiting for %d approval(s) from %s (passflow approve|reject %s)", quorum, who, cur.ID)
	}
	for i := min(len(prev.Approvals), len(cur.Approvals)); i < len(cur.Approvals); i++ {
		if a := cur.Approvals[i]; cur.ApprovalRequest != nil && (cur.Approval == nil || a.Approver != cur.Approval.Approver) {
			say("approval", "approved by %s (%d of %d): %s", a.Approver, i+1, cur.ApprovalRequest.Quorum, a.Reason)
		} // the deciding answer is told below
	}
	if prev.Approval == nil && cur.Approval != nil {
		verb := "approved"
		if !cur.Approval.Approved {
			verb = "rejected"
		}
		say("approval", "%s by %s: %s", verb, cur.Approval.Approver, cur.Approval.Reason)
	}
	for i, s := range cur.Stages {
		var p workflows.StageStatus
		if i < len(prev.Stages) {
			p = prev.Stages[i]
		}
		name := fmt.Sprintf("canary %d", s.Index)
		if !p.Applied && s.Applied {
			say(name, "%g%% of traffic on the candidate; verifying", s.Percent)
		}
		if p.Verdict == "" && s.Verdict != "" {
			line := fmt.Sprintf("%g%%: %s", s.Percent, s.Verdict)
			if s.Judgement != nil {
				line += " " + s.Evidence()
			}
			if len(s.Reasons) > 0 {
				line += " — " + strings.Join(s.Reasons, "; ")
			}
			say(name, "%s", line)
		}
		if p.BakeFrom.IsZero() && !s.BakeFrom.IsZero() {
			say(name, "%g%%: baking beside the baseline, to be judged again an hour at a time", s.Percent)
		}
		if !baked(p) && baked(s) {
			line := fmt.Sprintf("%g%% bake: %s", s.Percent, s.Verdict)
			if len(s.Reasons) > 0 {
				line += " — " + strings.Join(s.Reasons, "; ")
			}
			say(name, "%s", line)
		}
	}
	if prev.Step != workflows.StepPromote && cur.Step == workflows.StepPromote {
		say("promote", "making the candidate the baseline")
	}
	for i := len(prev.Compensations); i < len(cur.Compensations); i++ {
		c := cur.Compensations[i]
		state := "done"
		if !c.Done {
			state = "FAILED: " + c.Error
		}
		say("compensate", "undo stage %d: %g%% → %g%% %s", c.Stage, c.FromPercent, c.ToPercent, state)
	}
	if prev.Step != workflows.StepDone && cur.Step == workflows.StepDone {
		out = append(out, Outcome(cur))
	}
	return out
}

// Outcome is the one-line summary of how a pass ended.
func Outcome(st workflows.PassStatus) string {
	s := fmt.Sprintf("outcome: %s — %s", strings.ReplaceAll(string(st.Outcome), "_", " "), st.Reason)
	if st.Change != nil {
		s += fmt.Sprintf(" (objective %+.1f%% on the canary)", 100**st.Change)
	}
	return s
}

func slis(st workflows.PassStatus) string {
	var parts []string
	for _, m := range slices.Sorted(maps.Keys(st.SLIs)) {
		s := st.SLIs[m]
		parts = append(parts, fmt.Sprintf("%s %.4g", m, s.Mean))
	}
	return strings.Join(parts, ", ")
}

// AutoApprove approves the pass as approver once it has waited for an
// approval for after, unless someone decided first; it returns when the pass
// is past the approval step or ctx ends. It is for demos and benchmarks,
// never for real targets.
func AutoApprove(ctx context.Context, c client.Client, id, approver string, after time.Duration) {
	var waitingSince time.Time
	for {
		st, err := Status(ctx, c, id)
		if err == nil {
			switch {
			case st.Step == workflows.StepApproval && waitingSince.IsZero():
				waitingSince = time.Now()
			case st.Step == workflows.StepApproval && time.Since(waitingSince) >= after:
				_, _ = Decide(ctx, c, id, workflows.Approval{Approver: approver, Approved: true,
					Reason: fmt.Sprintf("auto-approved after %s (demo)", after)})
				return
			case st.Approval != nil || st.Step == workflows.StepCanary || st.Step == workflows.StepDone:
				return
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// baked reports whether stage s's bake has ended: it began, and the stage
// was judged after it.
func baked(s workflows.StageStatus) bool { return !s.BakeFrom.IsZero() && s.To.After(s.BakeFrom) }
