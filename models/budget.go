package models

import (
	"fmt"
	"math"
)

// BurnRate returns how fast an error budget burns: the observed error ratio
// over a window divided by the ratio the SLO allows, 1 − slo. A burn rate of
// 1 spends exactly the budget over the SLO window; 14.4 over 1h spends 2% of a
// 30-day budget in that hour (Google SRE Workbook, "Alerting on SLOs"). It is
// NaN when errorRatio is NaN or slo is not in (0, 1).
func BurnRate(errorRatio, slo float64) float64 {
	if !(slo > 0 && slo < 1) || math.IsNaN(errorRatio) {
		return math.NaN()
	}
	return errorRatio / (1 - slo)
}

// BudgetRemaining returns the share of the error budget left, given the error
// ratio over the SLO window so far: 1 − errorRatio/(1 − slo), at most 1 and
// at least 0 (0: spent). It is NaN when either input is unknown, as
// RiskInput.BudgetRemaining expects.
func BudgetRemaining(slo, errorRatio float64) float64 {
	b := BurnRate(errorRatio, slo)
	if math.IsNaN(b) {
		return math.NaN()
	}
	return min(1, max(0, 1-b))
}

// BudgetGate decides whether a pass may change anything, the multiwindow
// burn-rate rule of the Google SRE Workbook: the budget is burning when the
// burn rates over both the short window (e.g. 1h) and the long window (e.g.
// 6h) exceed maxBurn — the long window shows it is sustained, the short one
// that it still goes on. The pass is skipped (ok false, with the reason) when
// the budget is burning, when budgetRemaining is 0 or less, or when any input
// is unknown (NaN): never change a service whose budget cannot be read.
func BudgetGate(slo, maxBurn, shortWindowErr, longWindowErr, budgetRemaining float64) (ok bool, reason string) {
	short, long := BurnRate(shortWindowErr, slo), BurnRate(longWindowErr, slo)
	switch {
	case !(slo > 0 && slo < 1):
		return false, fmt.Sprintf("SLO %v is not in (0, 1)", slo)
	case math.IsNaN(maxBurn) || maxBurn <= 0:
		return false, fmt.Sprintf("max burn rate %v is not positive", maxBurn)
	case math.IsNaN(short) || math.IsNaN(long) || math.IsNaN(budgetRemaining):
		return false, "error budget unknown: missing error-ratio data"
	case budgetRemaining <= 0:
		return false, "error budget is spent"
	case short > maxBurn && long > maxBurn:
		return false, fmt.Sprintf("error budget burning at %.2fx (short window) and %.2fx (long window), over the max burn rate %.2fx", short, long, maxBurn)
	}
	return true, fmt.Sprintf("burn rate %.2fx (short) and %.2fx (long) within %.2fx; %.0f%% of the budget left", short, long, maxBurn, 100*budgetRemaining)
}

// AnalyzeInput is what the analyze step measures on the baseline before a
// pass. Unknown ratios are NaN.
type AnalyzeInput struct {
	// SLO is the availability objective, e.g. 0.999; MaxBurnRate the fastest
	// tolerated burn (e.g. 1).
	SLO         float64
	MaxBurnRate float64
	// LatencyMs are latency samples (per request or per scrape) of the
	// analysis window.
	LatencyMs []float64
	// Requests and Errors count the requests and the failed ones over the
	// analysis window; Cost is what the window cost (any unit).
	Requests, Errors, Cost float64
	// ShortErrorRatio and LongErrorRatio are the error ratios over the two
	// burn-rate windows (1h and 6h); WindowErrorRatio over the SLO window so far.
	ShortErrorRatio, LongErrorRatio, WindowErrorRatio float64
}

// SLIs are the baseline's service-level indicators. Values that could not be
// computed are 0 and named in Missing, so SLIs always encode to JSON.
type SLIs struct {
	P95Ms          float64  `json:"p95_ms"`
	P99Ms          float64  `json:"p99_ms"`
	ErrorRate      float64  `json:"error_rate"`
	CostPerRequest float64  `json:"cost_per_request"`
	Missing        []string `json:"missing,omitempty"`
}

// Analysis is the analyze step's result: the SLIs, the burn rates and the
// decision whether the pass goes on.
type Analysis struct {
	SLIs            SLIs    `json:"slis"`
	ShortBurnRate   float64 `json:"short_burn_rate"`
	LongBurnRate    float64 `json:"long_burn_rate"`
	BudgetRemaining float64 `json:"budget_remaining"`
	// Skip is set when the pass must not change anything; Reason says why
	// (or, when not skipped, what the budget looks like).
	Skip   bool   `json:"skip"`
	Reason string `json:"reason"`
}

// Analyze computes the SLIs (p95 and p99 latency by Quantile, error rate
// Errors/Requests, cost per request Cost/Requests) and gates the pass with
// BudgetGate. Unknown values are reported as 0 and listed in SLIs.Missing;
// unknown error ratios skip the pass.
func Analyze(in AnalyzeInput) Analysis {
	var s SLIs
	set := func(name string, v float64, dst *float64) {
		if IsFinite(v) {
			*dst = v
		} else {
			s.Missing = append(s.Missing, name)
		}
	}
	set("p95_ms", Quantile(0.95, in.LatencyMs), &s.P95Ms)
	set("p99_ms", Quantile(0.99, in.LatencyMs), &s.P99Ms)
	ratio := func(a, b float64) float64 {
		if !(b > 0) || math.IsNaN(a) || math.IsInf(b, 0) {
			return math.NaN()
		}
		return a / b
	}
	set("error_rate", ratio(in.Errors, in.Requests), &s.ErrorRate)
	set("cost_per_request", ratio(in.Cost, in.Requests), &s.CostPerRequest)

	a := Analysis{SLIs: s}
	remaining := BudgetRemaining(in.SLO, in.WindowErrorRatio)
	ok, reason := BudgetGate(in.SLO, in.MaxBurnRate, in.ShortErrorRatio, in.LongErrorRatio, remaining)
	finiteOr0 := func(v float64) float64 {
		if IsFinite(v) {
			return v
		}
		return 0
	}
	a.ShortBurnRate = finiteOr0(BurnRate(in.ShortErrorRatio, in.SLO))
	a.LongBurnRate = finiteOr0(BurnRate(in.LongErrorRatio, in.SLO))
	a.BudgetRemaining = finiteOr0(remaining)
	a.Skip, a.Reason = !ok, reason
	return a
}
