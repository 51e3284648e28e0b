package workflows

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/passflow/passflow/target"
)

// ApprovalUpdate is the Workflow Update that answers a pass's approval
// request with an Approval. Its validator refuses an answer the pass cannot
// take; a refused answer leaves nothing in the pass's history.
const ApprovalUpdate = "answer-approval"

// The error types of a refused answer, for callers to map to their own
// (the HTTP API's 409 and 403).
const (
	// ErrTypeNotWaiting: the pass is not waiting for an approval.
	ErrTypeNotWaiting = "NotWaitingForApproval"
	// ErrTypeNotApprover: the answer's approver is not one of the target's.
	ErrTypeNotApprover = "NotAnApprover"
	// ErrTypeAlreadyAnswered: this approver has answered this pass already.
	ErrTypeAlreadyAnswered = "AlreadyAnswered"
	// ErrTypeBadApproval: the answer is malformed (blank approver, text too
	// long).
	ErrTypeBadApproval = "InvalidApproval"
)

// MaxApprovalReason bounds an answer's reason, which the pass keeps.
const MaxApprovalReason = 1024

// Approval is a human's answer to an approval request. The HTTP API sets
// Approver to the caller's authenticated identity.
type Approval struct {
	Approver string `json:"approver"`
	Approved bool   `json:"approved"`
	Reason   string `json:"reason,omitempty"`
	// At is when the pass took the answer.
	At time.Time `json:"at,omitzero"`
}

// ApprovalRequest is what a pass waiting for approval asks: who may answer,
// how many approvals it needs, and until when.
type ApprovalRequest struct {
	// Approvers may answer; empty means any identity holding the approver
	// role where the answer comes in (the HTTP API checks it).
	Approvers []string  `json:"approvers,omitempty"`
	Quorum    int       `json:"quorum"`
	Since     time.Time `json:"since"`
	Expires   time.Time `json:"expires"`
}

// ApprovalReply is the pass's answer to an accepted Approval.
type ApprovalReply struct {
	// Decision is "approved" or "rejected" once the pass has decided, and
	// "pending" while it waits for more approvals.
	Decision  string `json:"decision"`
	Approvals int    `json:"approvals"`
	Quorum    int    `json:"quorum"`
}

// The decisions an ApprovalReply carries.
const (
	DecisionPending  = "pending"
	DecisionApproved = "approved"
	DecisionRejected = "rejected"
)

// approvals is a pass's approval request while it runs; its validator and
// handler serve ApprovalUpdate.
type approvals struct {
	p *pass
	// open is set while the pass waits for answers through the update.
	open     bool
	decision string
}

// register installs the update handler. Answers are refused until the pass
// asks (open).
func (a *approvals) register(ctx workflow.Context) error {
	return workflow.SetUpdateHandlerWithOptions(ctx, ApprovalUpdate, a.take,
		workflow.UpdateHandlerOptions{Validator: a.validate})
}

// validate refuses an answer the pass cannot take. It reads the pass's state
// and changes nothing.
func (a *approvals) validate(ans Approval) error {
	refuse := func(typ, format string, args ...any) error {
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf(format, args...), typ, nil)
	}
	st := &a.p.st
	req := st.ApprovalRequest
	switch {
	case strings.TrimSpace(ans.Approver) == "" || ans.Approver != strings.TrimSpace(ans.Approver):
		return refuse(ErrTypeBadApproval, "approver: expected a name without surrounding blanks, got %q", ans.Approver)
	case len(ans.Approver) > target.MaxIdentity:
		return refuse(ErrTypeBadApproval, "approver: expected at most %d bytes, got %d", target.MaxIdentity, len(ans.Approver))
	case len(ans.Reason) > MaxApprovalReason:
		return refuse(ErrTypeBadApproval, "reason: expected at most %d bytes, got %d", MaxApprovalReason, len(ans.Reason))
	case !a.open || req == nil || a.decision != "":
		return refuse(ErrTypeNotWaiting, "pass %s is not waiting for an approval (step %s)", st.ID, st.Step)
	case len(req.Approvers) > 0 && !slices.Contains(req.Approvers, ans.Approver):
		return refuse(ErrTypeNotApprover, "%s is not an approver of %s (approvers: %s)", ans.Approver, st.Target, strings.Join(req.Approvers, ", "))
	case slices.ContainsFunc(st.Approvals, func(x Approval) bool { return x.Approver == ans.Approver }):
		return refuse(ErrTypeAlreadyAnswered, "%s has answered pass %s already", ans.Approver, st.ID)
	}
	return nil
}

// take records an answer the validator accepted: one rejection rejects, and
// Quorum distinct approvals approve.
func (a *approvals) take(ctx workflow.Context, ans Approval) (ApprovalReply, error) {
	// Two answers in one workflow task are validated before either is
	// taken: the second is checked again here.
	if err := a.validate(ans); err != nil {
		return ApprovalReply{}, err
	}
	st := &a.p.st
	ans.At = workflow.Now(ctx)
	st.Approvals = append(st.Approvals, ans)
	quorum := st.ApprovalRequest.Quorum
	approved := 0
	for _, x := range st.Approvals {
		if x.Approved {
			approved++
		}
	}
	switch {
	case !ans.Approved:
		a.decision = DecisionRejected
	case approved >= quorum:
		a.decision = DecisionApproved
	}
	reply := ApprovalReply{Decision: DecisionPending, Approvals: approved, Quorum: quorum}
	if a.decision != "" {
		st.Approval, reply.Decision = &ans, a.decision
	}
	return reply, nil
}

// awaitApproval asks for an approval and waits for the quorum, a rejection
// or the timeout. It ends the pass as rejected unless approved.
func (p *pass) awaitApproval(ctx workflow.Context) (bool, error) {
	// Passes that asked before approvals were updates take them as signals.
	if workflow.GetVersion(ctx, "approval-update", workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return p.awaitApprovalSignal(ctx)
	}
	spec := p.in.Target
	p.setStep(ctx, StepApproval)
	timeout := time.Duration(spec.Risk.ApprovalTimeout)
	now := workflow.Now(ctx)
	p.st.ApprovalRequest = &ApprovalRequest{
		Approvers: spec.Risk.Approvers, Quorum: max(spec.Risk.Quorum, 1),
		Since: now, Expires: now.Add(timeout),
	}
	p.approvals.open = true
	p.notify(ctx, target.EventApprovalRequested)
	decided, err := workflow.AwaitWithOptions(ctx, workflow.AwaitOptions{
		Timeout:      timeout,
		TimerOptions: workflow.TimerOptions{Summary: fmt.Sprintf("approval timeout (%s)", timeout)},
	}, func() bool { return p.approvals.decision != "" })
	p.approvals.open = false
	if err != nil {
		return false, err
	}
	defer p.notify(ctx, target.EventApprovalDecided)
	switch {
	case !decided && p.st.ApprovalRequest.Quorum == 1:
		p.end(OutcomeRejected, fmt.Sprintf("no approval within %s", timeout))
		return false, nil
	case !decided:
		p.end(OutcomeRejected, fmt.Sprintf("no quorum (%d of %d approvals) within %s",
			len(p.st.Approvals), p.st.ApprovalRequest.Quorum, timeout))
		return false, nil
	case p.approvals.decision == DecisionRejected:
		p.end(OutcomeRejected, fmt.Sprintf("rejected by %s: %s", p.st.Approval.Approver, p.st.Approval.Reason))
		return false, nil
	}
	return true, nil
}

// awaitApprovalSignal is the approval step of passes that started before
// approvals were updates: it waits for an ApprovalSignal from an allowed
// approver, or the timeout. Kept so that those passes replay.
func (p *pass) awaitApprovalSignal(ctx workflow.Context) (bool, error) {
	spec := p.in.Target
	p.setStep(ctx, StepApproval)
	timeout := time.Duration(spec.Risk.ApprovalTimeout)
	tctx, cancelTimer := workflow.WithCancel(ctx)
	defer cancelTimer()
	timer := workflow.NewTimerWithOptions(tctx, timeout, workflow.TimerOptions{
		Summary: fmt.Sprintf("approval timeout (%s)", timeout),
	})
	ch := workflow.GetSignalChannel(ctx, ApprovalSignal)
	for {
		var a Approval
		timedOut := false
		sel := workflow.NewSelector(ctx)
		sel.AddReceive(ch, func(c workflow.ReceiveChannel, _ bool) { c.Receive(ctx, &a) })
		sel.AddFuture(timer, func(workflow.Future) { timedOut = true })
		sel.Select(ctx)
		if err := ctx.Err(); err != nil {
			return false, err
		}
		if timedOut {
			p.end(OutcomeRejected, fmt.Sprintf("no approval within %s", timeout))
			return false, nil
		}
		if len(spec.Risk.Approvers) > 0 && !slices.Contains(spec.Risk.Approvers, a.Approver) {
			p.st.Ignored = append(p.st.Ignored, a)
			continue
		}
		p.st.Approval = &a
		if !a.Approved {
			p.end(OutcomeRejected, fmt.Sprintf("rejected by %s: %s", a.Approver, a.Reason))
			return false, nil
		}
		return true, nil
	}
}
