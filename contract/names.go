package contract

import "github.com/passflow/passflow/models/judge"

// TaskQueue is the task queue passes run on: workers poll it, clients start
// workflows on it.
const TaskQueue = "passflow"

// Stable activity names; workflows call activities by these names, never by
// Go function names, so refactoring cannot break running passes.
const (
	AnalyzeName = "passflow.Analyze"
	ProposeName = "passflow.Propose"
	ApplyName   = "passflow.ApplyStage"
	RevertName  = "passflow.RevertStage"
	CheckName   = "passflow.Check"
	VerifyName  = "passflow.Verify"
	PromoteName = "passflow.Promote"
	RecordName  = "passflow.Record"
	NotifyName  = "passflow.Notify"

	// The tuner's.
	SyncScheduleName = "passflow.SyncSchedule"
	ReconcileName    = "passflow.Reconcile"
)

// Error types of non-retryable application errors: an activity fails with
// one when a retry cannot help, and workflows match on the type.
const (
	// ErrTypeInvalidTarget marks a target that cannot be connected or used.
	ErrTypeInvalidTarget = "InvalidTarget"
	// ErrTypeInvalidChange marks a configuration the actuator refuses.
	ErrTypeInvalidChange = "InvalidChange"
	// ErrTypeNotifyRefused marks a delivery the receiver refused for good
	// (a 4xx other than 408 and 429), or that cannot be signed.
	ErrTypeNotifyRefused = "NotifyRefused"
	// ErrTypeNoSchedules marks a worker that cannot manage schedules.
	ErrTypeNoSchedules = "NoSchedules"
)

// Verdicts of a canary stage: the judge's (package models/judge).
const (
	VerdictPass     = judge.VerdictPass
	VerdictMarginal = judge.VerdictMarginal
	VerdictFail     = judge.VerdictFail
)
