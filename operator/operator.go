// Package operator holds what an operator does to passes against a running
// Temporal server: start one, follow it, read its status, cancel it, approve
// or reject it. The CLI and the HTTP API both call it.
//
// Invariants: it never changes a pass except through the workflow's own
// handlers (start, signal, cancel); a pass's workflow ID is its UUID; at
// most one pass per target runs at a time.
package operator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/google/uuid"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/passflow/passflow/target"
	"github.com/passflow/passflow/workers"
	"github.com/passflow/passflow/workflows"
)

// ErrBusy is returned by Start when a pass on the same target is running:
// two passes would fight over the target's canary.
var ErrBusy = errors.New("a pass on this target is running")

// Start starts a pass of spec and returns its ID. It refuses (ErrBusy) while
// another pass on the same target runs.
func Start(ctx context.Context, c client.Client, spec target.Spec, trigger, requestedBy string) (string, error) {
	running, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
		Query: fmt.Sprintf("%s = '%s' AND ExecutionStatus = 'Running'", workflows.TargetKey.GetName(), spec.Name),
	})
	if err != nil {
		return "", fmt.Errorf("look for running passes on %s: %w", spec.Name, err)
	}
	for _, ex := range running.GetExecutions() {
		// Visibility lags a little behind; the execution itself does not.
		id := ex.GetExecution().GetWorkflowId()
		if still, err := Running(ctx, c, id); err == nil && still {
			return "", fmt.Errorf("start a pass on %s: %w: %s (cancel it or wait for it)", spec.Name, ErrBusy, id)
		}
	}
	id := uuid.NewString()
	_, err = c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: id,
		// Set at start so the pass is found by target before its first task.
		TypedSearchAttributes: temporal.NewSearchAttributes(workflows.TargetKey.ValueSet(spec.Name)),
		TaskQueue:             workers.TaskQueue,
		StaticSummary:         fmt.Sprintf("pass on %s (%s)", spec.Name, trigger),
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
	}, workflows.PassWorkflowName, workflows.PassInput{
		PassID: id, Target: spec, Trigger: trigger, RequestedBy: requestedBy,
	})
	if err != nil {
		return "", fmt.Errorf("start a pass on %s: %w", spec.Name, err)
	}
	return id, nil
}

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
	if err := c.CancelWorkflow(ctx, id, ""); err != nil {
		var nf *serviceerror.NotFound
		if errors.As(err, &nf) {
			return fmt.Errorf("pass %s: %w", id, ErrNotFound)
		}
		return fmt.Errorf("cancel pass %s: %w", id, err)
	}
	return nil
}

// Decide sends an approval or a rejection to a pass waiting for one.
func Decide(ctx context.Context, c client.Client, id string, a workflows.Approval) error {
	if err := c.SignalWorkflow(ctx, id, "", workflows.ApprovalSignal, a); err != nil {
		return fmt.Errorf("send approval to pass %s: %w", id, err)
	}
	return nil
}

// Follow prints one line per step of the pass as it happens, until the pass
// ends, and returns its final status.
func Follow(ctx context.Context, c client.Client, id string, w io.Writer, every time.Duration) (workflows.PassStatus, error) {
	var prev workflows.PassStatus
	if d, err := c.DescribeTaskQueue(ctx, workers.TaskQueue, enumspb.TASK_QUEUE_TYPE_WORKFLOW); err == nil && len(d.GetPollers()) == 0 {
		fmt.Fprintf(w, "  warning     no worker polls task queue %q: the pass waits until `passflow dev` or `passflow worker` runs\n", workers.TaskQueue)
	}
	for {
		running, err := Running(ctx, c, id)
		if err != nil {
			return prev, err
		}
		st, err := Status(ctx, c, id)
		if err != nil {
			return prev, err
		}
		for _, line := range Progress(prev, st) {
			fmt.Fprintln(w, line)
		}
		prev = st
		if !running {
			return st, nil
		}
		select {
		case <-ctx.Done():
			return st, ctx.Err()
		case <-time.After(every):
		}
	}
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
		say("approval", "waiting for an approval (passflow approve %s --by NAME)", cur.ID)
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
				line += " " + deltas(s)
			}
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
	for _, m := range sortedKeys(st.SLIs) {
		s := st.SLIs[m]
		parts = append(parts, fmt.Sprintf("%s %.4g", m, s.Mean))
	}
	return strings.Join(parts, ", ")
}

func deltas(s workflows.StageStatus) string {
	var parts []string
	for _, m := range sortedKeys(s.Judgement.Canary) {
		c, b := s.Judgement.Canary[m], s.Judgement.Baseline[m]
		if c.N == 0 || b.N == 0 || b.Mean == 0 {
			continue
		}
		parts = append(parts, fmt.Sprintf("%s %+.1f%%", m, 100*(c.Mean/b.Mean-1)))
	}
	if len(parts) == 0 {
		return ""
	}
	return "(" + strings.Join(parts, ", ") + ")"
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
				_ = Decide(ctx, c, id, workflows.Approval{Approver: approver, Approved: true,
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
