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
}

// Risk is an assessed band with the reasons that set it.
type Risk struct {
	Band    Band     `json:"band"`
	Reasons []string `json:"reasons"`
}

// AssessRisk places a candidate in a band. The rules, in order:
//   - forbidden when the step leaves the trust region, the error budget is
//     spent, or a violation is more likely than not;
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
	case !math.IsNaN(in.PViolation) && in.PViolation > 0.5:
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
