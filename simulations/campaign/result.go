package campaign

import (
	"time"

	"github.com/passflow/passflow/models"
	"github.com/passflow/passflow/simulations"
)

// Policy names how a campaign's passes choose their candidates.
type Policy string

// The policies.
const (
	// PolicyGP is passflow itself: the Gaussian-process optimizer.
	PolicyGP Policy = "gp"
	// PolicyRandom is a baseline: a uniformly random candidate inside the
	// same trust region, through the same canary.
	PolicyRandom Policy = "random"
	// PolicyHold is a baseline: never change anything.
	PolicyHold Policy = "hold"
	// PolicyOracle is a reference: each candidate chosen from the world's
	// truth (see proposeOracle), through the same canary. It is not among
	// Policies: the goals compare the GP policy with the baselines only.
	PolicyOracle Policy = "oracle"
)

// Result is one campaign: a world, a policy and a seed, pass after pass.
type Result struct {
	Scenario string `json:"scenario"`
	Policy   Policy `json:"policy"`
	Seed     uint64 `json:"seed"`
	// Goal is the objective's goal; Limits the target's guardrails.
	Goal   models.Goal         `json:"goal"`
	Limits []models.Constraint `json:"limits"`
	// Objective names the objective metric.
	Objective string `json:"objective"`
	// Initial is the true value of the configuration the campaign started on,
	// InitialGap its relative gap to the optimum at the start and
	// InitialBreach its largest true guardrail-to-limit ratio (see
	// Stage.Breach).
	Initial       float64 `json:"initial"`
	InitialGap    float64 `json:"initial_gap"`
	InitialBreach float64 `json:"initial_breach"`
	// Passes are the campaign's passes, in order.
	Passes []Pass `json:"passes"`
	// Summary holds the campaign's figures.
	Summary Summary `json:"summary"`
	// Wall is the campaign's wall-clock time.
	Wall time.Duration `json:"-"`
}

// Pass is one pass of a campaign as the ground truth sees it.
type Pass struct {
	// N numbers the campaign's passes from 1; ID is the pass's workflow ID
	// (empty when its request started none, e.g. inside a freeze).
	N  int    `json:"n"`
	ID string `json:"id"`
	// At is when the pass started (when it was requested, if it never
	// did); Ended when it ended. The truths of a pass are its start day's.
	At      time.Time `json:"at"`
	Ended   time.Time `json:"ended,omitzero"`
	Outcome string    `json:"outcome"`
	Reason  string    `json:"reason,omitempty"`
	// Optimizer names what proposed the candidate (gaussian-process,
	// random, hold); RiskBand is the band the pass assessed.
	Optimizer string `json:"optimizer,omitempty"`
	RiskBand  string `json:"risk_band,omitempty"`
	// Baseline is the configuration the pass started from (the incumbent
	// a promotion replaces) and BaselineTruth its true values.
	Baseline      models.Config      `json:"baseline,omitempty"`
	BaselineTruth *simulations.Truth `json:"baseline_truth,omitempty"`
	// Candidate is the configuration the pass tried (nil when it proposed
	// none); CandidateTruth its true values.
	Candidate      models.Config      `json:"candidate,omitempty"`
	CandidateTruth *simulations.Truth `json:"candidate_truth,omitempty"`
	// Why is why the optimizer proposed the candidate, and Prediction what
	// its models believed of it (nil for a policy without a model).
	Why        string             `json:"why,omitempty"`
	Prediction *models.Prediction `json:"prediction,omitempty"`
	// TrueChange is the candidate's true objective relative to the
	// baseline's (candidate/baseline − 1: −0.08 is 8% lower), and
	// MeasuredChange what the canary measured of it at its last verified
	// stage (PassStatus.Change); nil when unknown.
	TrueChange     *float64 `json:"true_change,omitempty"`
	MeasuredChange *float64 `json:"measured_change,omitempty"`
	// Incumbent is the configuration the service runs after the pass, and
	// IncumbentTruth its true values; Optimum is the true constrained
	// optimum's objective on that day, Gap the incumbent's relative gap to it
	// (0 at the optimum, positive when worse; negative only for an incumbent
	// that breaks a guardrail, or beats a searched optimum). IncumbentBreach
	// is the incumbent's largest true guardrail-to-limit ratio that day
	// (above 1: the service runs a configuration that breaks its SLO, e.g.
	// after the world drifted).
	Incumbent       models.Config     `json:"incumbent"`
	IncumbentTruth  simulations.Truth `json:"incumbent_truth"`
	Optimum         float64           `json:"optimum"`
	Gap             float64           `json:"gap"`
	IncumbentBreach float64           `json:"incumbent_breach"`
	// ApprovalAsked is set when the pass waited for a human; Answer is what
	// the simulated operator answered ("approve", "reject"; empty when the
	// approval timed out or none was asked).
	ApprovalAsked bool   `json:"approval_asked"`
	Answer        string `json:"answer,omitempty"`
	// Stages are the canary stages the pass ran.
	Stages []Stage `json:"stages,omitempty"`
	// Labels of the pass against the truth.
	SLOViolatingPromotion bool `json:"slo_violating_promotion,omitempty"`
	WorsePromotion        bool `json:"worse_promotion,omitempty"`
	Repair                bool `json:"repair,omitempty"`
	FalseRollback         bool `json:"false_rollback,omitempty"`
}

// Stage is one canary stage: how much traffic the candidate had, for how
// long, and whether the candidate truly broke a guardrail while it ran.
type Stage struct {
	Percent float64   `json:"percent"`
	From    time.Time `json:"from"`
	To      time.Time `json:"to"`
	Verdict string    `json:"verdict,omitempty"`
	// Breach is the largest ratio of a guardrail's true value to its limit
	// while the stage ran (above 1 breaks it; for a min limit, limit/value;
	// 0 without guardrails). A world that tells true values at an instant
	// (a Scenario's Values) is read at the stage's start, end and every 10
	// minutes between; any other at day resolution: World.Truth of each day
	// the stage spans, whose guardrails are the day's worst hour.
	Breach float64 `json:"breach"`
}

// Summary is a campaign's figures, the fields of `passflow simulate --json`.
type Summary struct {
	Scenario string `json:"scenario"`
	Policy   Policy `json:"policy"`
	Seed     uint64 `json:"seed"`
	Passes   int    `json:"passes"`
	// FinalGap is the relative gap of the final incumbent's true objective
	// to the true constrained optimum.
	FinalGap float64 `json:"final_gap"`
	// PassesToWithin5Pct is the first pass after which the gap is at most
	// 5% with an incumbent that keeps every guardrail (0 when the campaign
	// started there), nil if never.
	PassesToWithin5Pct *int `json:"passes_to_within_5pct"`
	// SLOViolatingPromotions counts promotions whose candidate truly breaks
	// a guardrail.
	SLOViolatingPromotions int `json:"slo_violating_promotions"`
	// WorsePromotions counts promotions that made the true objective worse,
	// repairs aside.
	WorsePromotions int `json:"worse_promotions"`
	// Repairs counts promotions of a candidate that truly keeps every
	// guardrail in place of a baseline that truly broke one.
	Repairs   int `json:"repairs"`
	Rollbacks int `json:"rollbacks"`
	// FalseRollbacks counts rolled-back candidates that truly kept every
	// guardrail and improved the objective.
	FalseRollbacks int `json:"false_rollbacks"`
	Promotions     int `json:"promotions"`
	Skipped        int `json:"skipped"`
	// Rejected counts passes rejected by the operator or the approval
	// timeout; Failed those that could not run (failed or abandoned).
	Rejected       int `json:"rejected"`
	Failed         int `json:"failed"`
	ApprovalsAsked int `json:"approvals_asked"`
	// ViolatingStages counts canary stages whose candidate truly broke a
	// guardrail; WorstBreach is the largest true-value-to-limit ratio any
	// stage reached.
	ViolatingStages int     `json:"violating_stages"`
	WorstBreach     float64 `json:"worst_breach"`
	// RollbacksAfter5 is the share of passes after the fifth that rolled back.
	RollbacksAfter5 float64 `json:"rollbacks_after_5"`
	// IncumbentViolations counts passes after which the incumbent truly
	// breaks a guardrail (a violating promotion, or a world that drifted).
	IncumbentViolations int     `json:"incumbent_violations"`
	WallS               float64 `json:"wall_s"`
}
