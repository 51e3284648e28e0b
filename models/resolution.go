package models

import "math"

// The canary's resolution: how small a difference a stage can show. The
// optimizer proposes only what a canary can decide (see Resolve).
const (
	// maxCohortNoise caps how much noisier a small cohort's window mean is
	// than the whole traffic's: noise grows as 1/√share (a cohort with a
	// share p of the requests sees p as many per scrape), up to 5×, a 4%
	// share.
	maxCohortNoise = 5
	// resolutionZ is the one-sided normal quantile of the judge's 98%
	// two-sided interval (2.33), times 1.5 for the autocorrelation of
	// scrapes, which widens the interval and which the window before the
	// pass does not show: a guardrail line this many standard errors inside
	// its limit is decided by the first stage.
	resolutionZ = 2.33 * 1.5
	// gainZ is how many standard errors of the deciding stage's difference
	// (over its longest wait) a proposed gain must be for the canary to
	// show it at 95% one-sided confidence (z = 1.64) more often than not.
	gainZ = 2
	// minResolvedGain is the least gain worth a canary however quiet the
	// service: below 0.5%, the rollout's risk outweighs the gain.
	minResolvedGain = 0.005
)

// CohortSE returns the standard error of a cohort's window mean at share p
// (0 < p ≤ 1) of the traffic, from fullSE, the one measured on the whole
// traffic over the same window.
func CohortSE(fullSE, p float64) float64 {
	return fullSE * math.Min(1/math.Sqrt(p), maxCohortNoise)
}

// Resolution is what a canary can decide, from the service's noise.
type Resolution struct {
	// Margins holds, per guardrail metric, the extra relative margin that
	// keeps the optimizer's line where the first stage can show the
	// guardrail kept.
	Margins map[string]float64 `json:"margins,omitempty"`
	// MinGain is the least relative gain of the objective the deciding
	// stage can show.
	MinGain float64 `json:"min_gain"`
}

// Resolve returns the canary's resolution for problem p: se holds each
// metric's standard error of the window mean on the whole traffic (from the
// window read before the pass, as long as a stage's), mean the objective's
// mean; first is the first stage's share and deciding the share of the last
// stage that still has a baseline cohort, both in (0, 1); extend (≥ 1) is
// how much longer than a stage's window the deciding stage may wait for a
// gain to show.
func Resolve(p Problem, se map[string]float64, mean, first, deciding, extend float64) Resolution {
	r := Resolution{Margins: map[string]float64{}, MinGain: minResolvedGain}
	for _, c := range p.Constraints {
		s, ok := se[c.Metric]
		if !ok || !(s > 0) {
			continue
		}
		limit := math.Inf(1)
		if c.Max != nil {
			limit = math.Abs(*c.Max)
		}
		if c.Min != nil {
			limit = math.Min(limit, math.Abs(*c.Min))
		}
		if limit > 0 && !math.IsInf(limit, 0) {
			r.Margins[c.Metric] = math.Min(resolutionZ*CohortSE(s, first)/limit, 0.5)
		}
	}
	if s, ok := se[p.Objective]; ok && s > 0 && mean != 0 && deciding > 0 && deciding < 1 {
		diff := math.Hypot(CohortSE(s, deciding), CohortSE(s, 1-deciding)) / math.Sqrt(max(extend, 1))
		r.MinGain = math.Max(minResolvedGain, gainZ*diff/math.Abs(mean))
	}
	return r
}

// Tighten returns p with each guardrail's margin widened by r's, the lines
// the optimizer aims inside.
func (r Resolution) Tighten(p Problem) Problem {
	cs := make([]Constraint, len(p.Constraints))
	for i, c := range p.Constraints {
		c.Margin = Percent(math.Min(float64(c.Margin)+r.Margins[c.Metric], 0.9))
		cs[i] = c
	}
	p.Constraints = cs
	return p
}
