package activities

import (
	"time"

	"github.com/passflow/passflow/models"
)

// AuditEvent is what a pass reports when it ends: the Record activity logs
// and counts it. The target's audit of record is its tuner's.
type AuditEvent struct {
	Time      time.Time      `json:"time"`
	PassID    string         `json:"pass_id"`
	Target    string         `json:"target"`
	Trigger   string         `json:"trigger,omitempty"`
	Outcome   string         `json:"outcome"`
	Reason    string         `json:"reason,omitempty"`
	Baseline  models.Config  `json:"baseline,omitempty"`
	Candidate models.Config  `json:"candidate,omitempty"`
	RiskBand  models.Band    `json:"risk_band,omitempty"`
	Stages    int            `json:"stages_passed"`
	Reverted  int            `json:"stages_reverted"`
	Measured  map[string]any `json:"measured,omitempty"`
}
