package workflows

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// AuditEntry is one line of a target's audit trail: what happened to a
// pass, when, and who did it. The tuner keeps each ended pass's entries in
// its record (PassRecord.Trail, without Pass), durable in Temporal;
// PassRecord.Audit adds the request and the outcome from the record.
type AuditEntry struct {
	Time time.Time `json:"time"`
	Pass string    `json:"pass,omitempty"`
	// Event is requested, proposed, risk, approval-asked, approved,
	// rejected, stage, compensation or outcome.
	Event  string `json:"event"`
	Actor  string `json:"actor,omitempty"`
	Detail string `json:"detail"`
}

// maxAuditDetail bounds a kept entry's detail: a tuner keeps AuditLimit
// (100) records of about eight entries, which must stay far under
// Temporal's payload limits beside 500 observations (see BENCHMARKS.md).
const maxAuditDetail = 160

// Evidence sums up a verified stage's judgement: each metric's canary mean
// against the baseline's, e.g. "(cost -4.0%, latency +2.1%)"; "" without a
// judgement.
func (s StageStatus) Evidence() string {
	if s.Judgement == nil {
		return ""
	}
	var parts []string
	for _, m := range slices.Sorted(maps.Keys(s.Judgement.Canary)) {
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

// trail is what an ended pass's status adds to its record's audit: the
// proposal, the risk, the approval asked and each answer, each stage's
// verdict with its evidence, each compensation.
func trail(st PassStatus) []AuditEntry {
	var out []AuditEntry
	add := func(at time.Time, event, actor, format string, args ...any) {
		out = append(out, AuditEntry{Time: at, Event: event, Actor: truncate(actor, maxAuditDetail),
			Detail: truncate(fmt.Sprintf(format, args...), maxAuditDetail)})
	}
	if st.Candidate != nil {
		pred := ""
		if p := st.Prediction; p != nil {
			pred = fmt.Sprintf("; predicted %.4g ± %.2g, P(guardrails hold) %.2f", p.Mean, p.SD, p.PAllFeasible)
		}
		add(st.Started, "proposed", st.Optimizer, "%s from %s%s", st.Candidate, st.Baseline, pred)
	}
	if st.Risk != nil {
		add(st.Started, "risk", "", "%s", st.Risk)
	}
	if r := st.ApprovalRequest; r != nil {
		who := "any approver"
		if len(r.Approvers) > 0 {
			who = strings.Join(r.Approvers, ", ")
		}
		add(r.Since, "approval-asked", "", "%d approval(s) from %s, until %s", r.Quorum, who, r.Expires.Format(time.RFC3339))
	}
	answers := st.Approvals
	if len(answers) == 0 && st.Approval != nil { // passes that took approvals as signals
		answers = []Approval{*st.Approval}
	}
	for _, a := range answers {
		event := "approved"
		if !a.Approved {
			event = "rejected"
		}
		add(a.At, event, a.Approver, "%s", a.Reason)
	}
	for _, s := range st.Stages {
		if s.Verdict != "" {
			add(s.To, "stage", "", "stage %d (%g%%): %s %s; %s", s.Index, s.Percent, s.Verdict, s.Evidence(), strings.Join(s.Reasons, "; "))
		}
	}
	for _, c := range st.Compensations {
		state := "done"
		if !c.Done {
			state = "failed: " + c.Error
		}
		to := fmt.Sprintf("%g%%", c.ToPercent)
		if c.Restore != nil {
			to += " on the canary it replaced"
		}
		add(st.Ended, "compensation", "", "undo stage %d: %g%% back to %s, %s", c.Stage, c.FromPercent, to, state)
	}
	return out
}

// Audit is the record's whole audit trail: the request, the entries the
// pass kept, the outcome.
func (r PassRecord) Audit() []AuditEntry {
	req := fmt.Sprintf("trigger %s", r.Trigger)
	if r.Coalesced > 0 {
		req += fmt.Sprintf(" (and %d more requests coalesced)", r.Coalesced)
	}
	out := []AuditEntry{{Time: r.Requested, Pass: r.ID, Event: "requested", Actor: r.RequestedBy, Detail: req}}
	for _, e := range r.Trail {
		e.Pass = r.ID
		out = append(out, e)
	}
	outcome := fmt.Sprintf("%s: %s", r.Outcome, r.Reason)
	if r.Reconciled != "" {
		outcome += "; reconciled: " + r.Reconciled
	}
	return append(out, AuditEntry{Time: r.Ended, Pass: r.ID, Event: "outcome", Detail: outcome})
}

// truncate cuts s to at most n bytes, marking the cut.
func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n-3] + "..."
	}
	return s
}
