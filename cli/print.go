package cli

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/passflow/passflow/operator"
	"github.com/passflow/passflow/workflows"
)

// PrintTargets writes the targets as a table.
func PrintTargets(w io.Writer, rows []operator.TargetRow) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tPAUSED\tRUNNING\tQUEUED\tNEXT RUN\tPASSES\tFREEZE")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%t\t%s\t%s\t%s\t%d\t%s\n", r.Name, r.Paused, dash(r.Running), dash(r.Queued),
			timeOrDash(r.NextRun), r.Passes, dash(r.Freeze))
	}
	_ = tw.Flush()
}

// PrintState writes a tuner's state for a person.
func PrintState(w io.Writer, st workflows.TunerState) {
	fmt.Fprintf(w, "target %s (spec v%d, %s, from %s)\n", st.Name, st.SpecVersion, st.SpecHash, dash(st.SpecSource))
	state := "active"
	if st.Paused {
		state = fmt.Sprintf("paused by %s: %s", orSomeone(st.PausedBy), st.PauseReason)
	}
	if st.Deleted {
		state = "deleted: ends after its running pass"
	}
	fmt.Fprintf(w, "  state      %s\n", state)
	if st.Spec != nil {
		tr := st.Spec.Triggers
		fmt.Fprintf(w, "  schedule   %s  next run %s\n", dash(tr.Schedule), timeOrDash(st.NextRun))
		if len(tr.Alerts) > 0 {
			fmt.Fprintf(w, "  alerts     %s (cooldown %s)\n", strings.Join(tr.Alerts, ", "), tr.Cooldown)
		}
	}
	if f := st.Freeze; f != nil {
		switch {
		case f.Frozen:
			fmt.Fprintf(w, "  freeze     frozen until %s (%s)\n", timeOrDash(f.Until), f.Why)
		case !f.NextStart.IsZero():
			fmt.Fprintf(w, "  freeze     next %s to %s (%s)\n", timeOrDash(f.NextStart), timeOrDash(f.NextEnd), f.Why)
		}
	}
	for _, p := range []*workflows.PassRef{st.Running, st.Queued} {
		if p == nil {
			continue
		}
		what := "running"
		if p == st.Queued {
			what = "queued"
		}
		line := fmt.Sprintf("  %-10s %s (%s by %s)", what, p.ID, p.Trigger, dash(p.RequestedBy))
		if p.Coalesced > 0 {
			line += fmt.Sprintf(", %d more requests coalesced", p.Coalesced)
		}
		if !p.NotBefore.IsZero() {
			line += ", not before " + timeOrDash(p.NotBefore)
		}
		fmt.Fprintln(w, line)
	}
	fmt.Fprintf(w, "  history    %d observations (at most %d), %d passes\n", st.HistorySize, st.Settings.HistoryLimit, st.Passes)
	if len(st.LastPromoted) > 0 {
		fmt.Fprintf(w, "  promoted   %s\n", st.LastPromoted)
	}
	recent := st.Recent
	if len(recent) > 5 {
		recent = recent[len(recent)-5:]
	}
	for _, r := range recent {
		fmt.Fprintf(w, "  recent     %s %s: %s\n", dash(r.ID), r.Outcome, r.Reason)
	}
}

// PrintHistory writes a target's passes as a table.
func PrintHistory(w io.Writer, recs []workflows.PassRecord) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTRIGGER\tREQUESTED BY\tOUTCOME\tSTARTED\tENDED\tCANDIDATE\tCHANGE")
	for _, r := range recs {
		change := "-"
		if r.Change != nil {
			change = fmt.Sprintf("%+.1f%%", 100**r.Change)
		}
		cand := "-"
		if len(r.Candidate) > 0 {
			cand = r.Candidate.String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", dash(r.ID), r.Trigger, dash(r.RequestedBy), r.Outcome,
			timeOrDash(r.Started), timeOrDash(r.Ended), cand, change)
	}
	_ = tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func timeOrDash(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func orSomeone(s string) string {
	if s == "" {
		return "someone"
	}
	return s
}

// PrintApprovals prints the passes waiting for an approval: the candidate,
// its risk and why, who may answer, the approvals so far and when the
// request expires (relative to now).
func PrintApprovals(w io.Writer, rows []operator.Waiting, now time.Time) {
	if len(rows) == 0 {
		fmt.Fprintln(w, "no pass waits for an approval")
		return
	}
	for _, r := range rows {
		who := "any approver"
		if len(r.Request.Approvers) > 0 {
			who = strings.Join(r.Request.Approvers, ", ")
		}
		got := make([]string, 0, len(r.Approvals))
		for _, a := range r.Approvals {
			got = append(got, a.Approver)
		}
		fmt.Fprintf(w, "%s (target %s, asked by %s)\n", r.ID, r.Target, r.RequestedBy)
		fmt.Fprintf(w, "  candidate  %s\n  baseline   %s\n  risk       %s\n", r.Candidate, r.Baseline, r.Risk)
		fmt.Fprintf(w, "  answer     %s; %d of %d approvals", who, len(got), r.Request.Quorum)
		if len(got) > 0 {
			fmt.Fprintf(w, " (%s)", strings.Join(got, ", "))
		}
		fmt.Fprintf(w, "\n  expires    %s (in %s)\n", r.Request.Expires.Format(time.RFC3339), r.Request.Expires.Sub(now).Round(time.Second))
	}
}

// PrintAudit prints a target's audit trail, one entry a line.
func PrintAudit(w io.Writer, entries []workflows.AuditEntry) {
	if len(entries) == 0 {
		fmt.Fprintln(w, "no pass has ended yet")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "time\tpass\tevent\tby\twhat")
	for _, e := range entries {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.Time.UTC().Format(time.RFC3339), e.Pass, e.Event, e.Actor, e.Detail)
	}
	tw.Flush()
}
