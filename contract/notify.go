package contract

import (
	"time"

	"github.com/passflow/passflow/target"
)

// Notification is what a target's receivers are told: an event of a pass.
type Notification struct {
	Event  string    `json:"event"`
	Target string    `json:"target"`
	PassID string    `json:"pass_id"`
	Time   time.Time `json:"time"`
	// Summary is one line for a human, e.g. "pass/x/3 waits for 1 approval
	// from alice, bob: worker_threads=40 (risk high …)".
	Summary   string `json:"summary"`
	Candidate string `json:"candidate,omitempty"`
	Baseline  string `json:"baseline,omitempty"`
	RiskBand  string `json:"risk_band,omitempty"`
	Outcome   string `json:"outcome,omitempty"`
	Reason    string `json:"reason,omitempty"`
	// Approvers, Quorum and Expires are set on approval_requested.
	Approvers []string  `json:"approvers,omitempty"`
	Quorum    int       `json:"quorum,omitempty"`
	Expires   time.Time `json:"expires,omitzero"`
}

// NotifyInput is one delivery: a notification to one receiver, under an
// idempotency key the receiver may deduplicate on.
type NotifyInput struct {
	Key          string        `json:"key"`
	Receiver     target.Notify `json:"receiver"`
	Notification Notification  `json:"notification"`
}
