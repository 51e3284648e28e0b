package contract

import (
	"time"

	"github.com/passflow/passflow/models"
	"github.com/passflow/passflow/target"
)

// ScheduleInput is the state a target's Temporal Schedule must have.
type ScheduleInput struct {
	ID     string `json:"id"`
	Target string `json:"target"`
	// Cron is the schedule's cron expression; Timezone its IANA time zone
	// (UTC when empty); Jitter the random delay of each run.
	Cron     string        `json:"cron,omitempty"`
	Timezone string        `json:"timezone,omitempty"`
	Jitter   time.Duration `json:"jitter,omitempty"`
	// Workflow and TaskQueue are what each run starts, with the input
	// {"target": Target}.
	Workflow  string `json:"workflow"`
	TaskQueue string `json:"task_queue"`
	Paused    bool   `json:"paused"`
	Note      string `json:"note,omitempty"`
	// Delete removes the schedule (absent is fine).
	Delete bool `json:"delete,omitempty"`
}

// ReconcileInput asks to restore a target after a pass that ended without
// its own cleanup.
type ReconcileInput struct {
	PassID string      `json:"pass_id"`
	Target target.Spec `json:"target"`
	// Key is the idempotency key, "<pass ID>/reconcile".
	Key string `json:"key"`
	// Config is the last promoted configuration.
	Config models.Config `json:"config"`
}
