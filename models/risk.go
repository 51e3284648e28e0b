package models

import (
	"fmt"
	"math"
	"strings"
)

// Band is a risk band. Bands are ordered: low < medium < high < forbidden.
type Band string

// The risk bands.
const (
	BandLow       Band = "low"
	BandMedium    Band = "medium"
	BandHigh      Band = "high"
	BandForbidden Band = "forbidden"
)

var bandRank = map[Band]int{BandLow: 0, BandMedium: 1, BandHigh: 2, BandForbidden: 3}
var bandByRank = []Band{BandLow, BandMedium, BandHigh, BandForbidden}

// Valid reports whether b is one of the four bands.
func (b Band) Valid() bool { _, ok := bandRank[b]; return ok }

// AtLeast reports whether b is as risky as o or riskier.
func (b Band) AtLeast(o Band) bool { return bandRank[b] >= bandRank[o] }

func (b Band) raise(n int) Band {
	r := min(bandRank[b]+n, bandRank[BandHigh])
	if b == BandForbidden {
		return b
	}
	return bandByRank[max(0, r)]
}

// Tier is how critical the tuned service is.
type Tier string

// The service tiers.
const (
	TierCritical   Tier = "critical"
	TierStandard   Tier = "standard"
	TierBestEffort Tier = "best-effort"
)

// RiskInput is everything the risk assessment looks at.
type RiskInput struct {
	// Step is the candidate's numeric step from the incumbent (Space.Step),
	// CategoricalChanges how many categorical parameters it switches.
	Step               float64
	CategoricalChanges int
	// MaxStep is the target's trust-region radius.
	MaxStep float64
	// PViolation is the model's probability that some guardrail breaks; NaN
	// when the proposer has no model.
	PViolation float64
	Tier       Tier
	// BudgetRemaining is the share of the error budget left, in [0, 1]; NaN
	// when unknown.
	BudgetRemaining float64
	// Repair is set when the baseline is shown breaking a guardrail, and
	// BaselinePViolation is then the model's probability that the baseline
	// breaks one (NaN or 0: unknown).
	Repair             bool
	BaselinePViolation float64
}

// StepBackMaxViolation is the largest probability of breaking a guardrail
// a repair's step back may have: a canary is worth its traffic when it
// has a real chance of keeping every line (one in ten); below that the
// models' guess of a direction is no better than noise (a knee one way, a
// cliff the other).
const StepBackMaxViolation = 0.9

// stepBack reports whether in is a repair's step back: a candidate more
// likely than not to break a guardrail, though at most StepBackMaxViolation
// and less likely than the baseline, which is shown breaking one.
func (in RiskInput) stepBack() bool {
	return in.Repair && in.PViolation > 0.5 && in.PViolation <= StepBackMaxViolation && in.PViolation < in.BaselinePViolation
}

// Risk is an assessed band with the reasons that set it.
type Risk struct {
	Band    Band     `json:"band"`
	Reasons []string `json:"reasons"`
}

// AssessRisk places a candidate in a band. The rules, in order:
//   - forbidden when the step leaves the trust region, the error budget is
//     spent, or a violation is more likely than not, unless the pass is a
//     repair and a violation is less likely than under the baseline and at
//     most StepBackMaxViolation (a step back, high);
//   - otherwise the step as a share of MaxStep sets the base band
//     (< 1/3 low, < 2/3 medium, else high), and a categorical switch is at
//     least medium;
//   - a probability of violation above 5% is at least medium, above 20% high;
//     an unknown probability (no model) is at least medium;
//   - a critical tier, and an error budget under a quarter, each raise the
//     band one step; a best-effort tier lowers it one step.
func AssessRisk(in RiskInput) Risk {
	var reasons []string
	why := func(format string, args ...any) { reasons = append(reasons, fmt.Sprintf(format, args...)) }
	switch {
	case in.MaxStep > 0 && in.Step > in.MaxStep*(1+1e-9):
		why("step %.3f exceeds max_step %.3f", in.Step, in.MaxStep)
		return Risk{BandForbidden, reasons}
	case !math.IsNaN(in.BudgetRemaining) && in.BudgetRemaining <= 0:
		why("error budget is spent")
		return Risk{BandForbidden, reasons}
	case !math.IsNaN(in.PViolation) && in.PViolation > 0.5 && !in.stepBack():
		why("P(guardrail violation) %.2f > 0.5", in.PViolation)
		return Risk{BandForbidden, reasons}
	}

	share := 0.0
	if in.MaxStep > 0 {
		share = in.Step / in.MaxStep
	}
	band := BandLow
	switch {
	case share >= 2.0/3:
		band = BandHigh
	case share >= 1.0/3:
		band = BandMedium
	}
	why("step %.3f is %.0f%% of max_step", in.Step, 100*share)
	if in.CategoricalChanges > 0 && !band.AtLeast(BandMedium) {
		band = BandMedium
		why("switches %d categorical parameter(s)", in.CategoricalChanges)
	}
	switch p := in.PViolation; {
	case in.stepBack():
		band = BandHigh
		why("a repair's step back: P(guardrail violation) %.2f > 0.5, less than the baseline's %.2f, shown breaking", p, in.BaselinePViolation)
	case math.IsNaN(p):
		if !band.AtLeast(BandMedium) {
			band = BandMedium
		}
		why("no model of the guardrails yet")
	case p > 0.2:
		band = BandHigh
		why("P(guardrail violation) %.2f > 0.2", p)
	case p > 0.05:
		if !band.AtLeast(BandMedium) {
			band = BandMedium
		}
		why("P(guardrail violation) %.2f > 0.05", p)
	}
	switch in.Tier {
	case TierCritical:
		band = band.raise(1)
		why("critical tier raises the band")
	case TierBestEffort:
		band = band.raise(-1)
		why("best-effort tier lowers the band")
	}
	if !math.IsNaN(in.BudgetRemaining) && in.BudgetRemaining < 0.25 {
		band = band.raise(1)
		why("only %.0f%% of the error budget left", 100*in.BudgetRemaining)
	}
	return Risk{band, reasons}
}

// String formats r as "high (reason; reason)".
func (r Risk) String() string {
	return fmt.Sprintf("%s (%s)", r.Band, strings.Join(r.Reasons, "; "))
}
