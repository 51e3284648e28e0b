package simulations

import (
	"time"

	"github.com/passflow/passflow/activities"
	"github.com/passflow/passflow/models"
	"github.com/passflow/passflow/target"
)

// World is a simulated world a campaign tunes: the target a user would
// register, the simulated service behind its telemetry and actuator, the
// ground truth that the campaign's figures are measured against, and the
// behaviour of the humans around it. A Scenario is a World; so is the demo
// target's built-in model (see ModelWorld).
type World interface {
	// Name names the world, e.g. "web-api".
	Name() string
	// Target is the target the campaign registers and tunes.
	Target() target.Spec
	// NewService returns the world's simulated service for one campaign: its
	// noise and faults drawn from seed, its clock now (the campaign's
	// simulated time). It is both the target's telemetry source and its
	// actuator.
	NewService(seed uint64, now func() time.Time) (SimulatedService, error)
	// Truth returns cfg's true values as a campaign judges them on the day
	// that contains at: the objective's mean over the day and each
	// guardrail's value at its worst hour of the day.
	Truth(cfg models.Config, at time.Time, seed uint64) (Truth, error)
	// Optimum returns the true constrained optimum on the day that contains
	// at: the best configuration whose Truth keeps every guardrail.
	Optimum(at time.Time, seed uint64) (models.Config, Truth, error)
	// Operator is how the simulated on-call operator answers approvals.
	Operator() Operator
	// Start is when a campaign's first pass is requested; PassEvery the
	// time between two requests (a simulated schedule).
	Start() time.Time
	PassEvery() time.Duration
}

// SimulatedService is a simulated service as a campaign drives it.
type SimulatedService interface {
	activities.TelemetrySource
	activities.Actuator
}

// Truth is the true (noise-free) value of a configuration's metrics.
type Truth struct {
	Objective float64 `json:"objective"`
	// Guardrails holds each constraint metric's value.
	Guardrails map[string]float64 `json:"guardrails"`
}

// Operator is how the simulated operator answers an approval request.
type Operator struct {
	// Answer is "approve", "reject" or "timeout" (never answers).
	Answer string `yaml:"answer" json:"answer"`
	// After is how long the operator takes to answer.
	After time.Duration `yaml:"after" json:"after"`
	// Approver is the name the answer is given under; it must be one of the
	// target's risk.approvers.
	Approver string `yaml:"approver" json:"approver"`
}

// The operator's answers.
const (
	AnswerApprove = "approve"
	AnswerReject  = "reject"
	AnswerTimeout = "timeout"
)
