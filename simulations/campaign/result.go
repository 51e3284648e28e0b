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
	// Initial is the true value of the configuration the campaign started on.
	Initial float64 `json:"initial"`
	// Passes are the campaign's passes, in order.
	Passes []Pass `json:"passes"`
	// Summary holds the campaign's figures.
	Summary Summary `json:"summary"`
	// Wall is the campaign's wall-clock time.
	Wall time.Duration `json:"-"`
}

// Pass is one pass of a campaign as the ground truth sees it.
type Pass struct {
	N       int       `json:"n"`
	ID      string    `json:"id"`
	At      time.Time `json:"at"`
	Outcome string    `json:"outcome"`
	Reason  string    `json:"reason,omitempty"`
	// Candidate is the configuration the pass tried (nil when it proposed
	// none); CandidateTruth its true values.
	Candidate      models.Config      `json:"candidate,omitempty"`
	CandidateTruth *simulations.Truth `json:"candidate_truth,omitempty"`
	// Incumbent is the configuration the service runs after the pass, and
	// IncumbentTruth its true values; Optimum is the true constrained
	// optimum's objective on that day, Gap the incumbent's relative gap to it
	// (0 at the optimum, positive when worse).
	Incumbent      models.Config     `json:"incumbent"`
	IncumbentTruth simulations.Truth `json:"incumbent_truth"`
	Optimum        float64           `json:"optimum"`
	Gap            float64           `json:"gap"`
	// ApprovalAsked is set when the pass waited for a human.
	ApprovalAsked bool `json:"approval_asked"`
	// Stages are the canary stages the pass ran.
	Stages []Stage `json:"stages,omitempty"`
	// Labels of the pass against the truth.
	SLOViolatingPromotion bool `json:"slo_violating_promotion,omitempty"`
	WorsePromotion        bool `json:"worse_promotion,omitempty"`
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
	// while the stage ran (above 1 breaks it; for a min limit, limit/value).
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
	// 5%, nil if never.
	PassesToWithin5Pct *int `json:"passes_to_within_5pct"`
	// SLOViolatingPromotions counts promotions whose candidate truly breaks
	// a guardrail.
	SLOViolatingPromotions int `json:"slo_violating_promotions"`
	// WorsePromotions counts promotions that made the true objective worse.
	WorsePromotions int `json:"worse_promotions"`
	Rollbacks       int `json:"rollbacks"`
	// FalseRollbacks counts rolled-back candidates that truly kept every
	// guardrail and improved the objective.
	FalseRollbacks int `json:"false_rollbacks"`
	Promotions     int `json:"promotions"`
	Skipped        int `json:"skipped"`
	ApprovalsAsked int `json:"approvals_asked"`
	// ViolatingStages counts canary stages whose candidate truly broke a
	// guardrail; WorstBreach is the largest true-value-to-limit ratio any
	// stage reached.
	ViolatingStages int     `json:"violating_stages"`
	WorstBreach     float64 `json:"worst_breach"`
	// RollbacksAfter5 is the share of passes after the fifth that rolled back.
	RollbacksAfter5 float64 `json:"rollbacks_after_5"`
	WallS           float64 `json:"wall_s"`
}
