package workflows

import (
	"fmt"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/passflow/passflow/contract"
	"github.com/passflow/passflow/target"
)

// NotifyWorkflowName is the stable name of the workflow that delivers one
// notification to one receiver.
const NotifyWorkflowName = "passflow.Notify"

// notifyRetry retries a delivery for about two minutes: 2 s, 4 s, … up to
// 1 minute apart, six attempts; a refusal for good is not retried.
var notifyRetry = &temporal.RetryPolicy{
	InitialInterval: 2 * time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute, MaximumAttempts: 6,
	NonRetryableErrorTypes: []string{contract.ErrTypeNotifyRefused},
}

// Notify delivers one notification, retried. A pass starts it as a child it
// does not wait for (its parent close policy abandons it), so a receiver
// that fails never delays a pass; the failure is the activity's log and
// the passflow_notifications_total{result="failed"} count.
func Notify(ctx workflow.Context, in contract.NotifyInput) error {
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 15 * time.Second, RetryPolicy: notifyRetry,
		Summary: fmt.Sprintf("notify %s of %s", in.Receiver.Format, in.Notification.Event),
	})
	return workflow.ExecuteActivity(actx, contract.NotifyName, in).Get(ctx, nil)
}

// notify tells the target's receivers that want event, each through its own
// Notify child, and waits only for the children to start.
func (p *pass) notify(ctx workflow.Context, event string) {
	var want []int
	for i, n := range p.in.Target.Notify {
		if n.Wants(event) {
			want = append(want, i)
		}
	}
	// Passes recorded before notifications existed replay without them.
	if len(want) == 0 || workflow.GetVersion(ctx, "notify", workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return
	}
	n := p.notification(ctx, event)
	var started []workflow.Future
	for _, i := range want {
		key := fmt.Sprintf("notify/%s/%s/%d", p.in.PassID, event, i)
		cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
			WorkflowID:         key,
			WorkflowRunTimeout: 10 * time.Minute,
			ParentClosePolicy:  enumspb.PARENT_CLOSE_POLICY_ABANDON,
			StaticSummary:      fmt.Sprintf("notify receiver %d of %s: %s", i+1, p.in.Target.Name, event),
		})
		started = append(started, workflow.ExecuteChildWorkflow(cctx, NotifyWorkflowName, contract.NotifyInput{
			Key: key, Receiver: p.in.Target.Notify[i], Notification: n,
		}).GetChildWorkflowExecution())
	}
	for _, f := range started {
		if err := f.Get(ctx, nil); err != nil {
			workflow.GetLogger(ctx).Warn("a notification could not start", "event", event, "error", err)
		}
	}
}

// notification describes the pass for event.
func (p *pass) notification(ctx workflow.Context, event string) contract.Notification {
	st := &p.st
	n := contract.Notification{Event: event, Target: st.Target, PassID: st.ID, Time: workflow.Now(ctx),
		Candidate: st.Candidate.String(), Baseline: st.Baseline.String(), Outcome: string(st.Outcome), Reason: st.Reason}
	risk := ""
	if st.Risk != nil {
		n.RiskBand, risk = string(st.Risk.Band), st.Risk.String()
	}
	switch event {
	case target.EventApprovalRequested:
		r := st.ApprovalRequest
		n.Approvers, n.Quorum, n.Expires = r.Approvers, r.Quorum, r.Expires
		who := "any approver"
		if len(r.Approvers) > 0 {
			who = strings.Join(r.Approvers, ", ")
		}
		n.Summary = fmt.Sprintf("%s waits for %d approval(s) from %s until %s: %s (%s). passflow approve|reject %s",
			st.ID, r.Quorum, who, r.Expires.UTC().Format(time.RFC3339), n.Candidate, risk, st.ID)
	case target.EventApprovalDecided:
		switch {
		case st.Approval == nil:
			n.Summary = fmt.Sprintf("%s: no approval came in time; nothing was applied", st.ID)
		case st.Approval.Approved:
			n.Summary = fmt.Sprintf("%s approved by %s: %s; the canary starts", st.ID, st.Approval.Approver, st.Approval.Reason)
		default:
			n.Summary = fmt.Sprintf("%s rejected by %s: %s; nothing was applied", st.ID, st.Approval.Approver, st.Approval.Reason)
		}
	default:
		n.Summary = fmt.Sprintf("%s %s: %s → %s: %s", st.ID, strings.ReplaceAll(string(st.Outcome), "_", " "), n.Baseline, n.Candidate, st.Reason)
	}
	return n
}
