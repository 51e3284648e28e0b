package judge

import (
	"fmt"
	"math"
	"slices"

	"github.com/passflow/passflow/models"
	"gonum.org/v1/gonum/stat/distuv"
)

// The classes of a guardrail judged against its limit (see SLOs).
const (
	// SLOKept: the canary is inside the limit, and its margin, with confidence.
	SLOKept = "kept"
	// SLOBroken: the canary is over the limit with confidence.
	SLOBroken = "broken"
	// SLOUndecided: the window cannot tell yet; more samples may.
	SLOUndecided = "undecided"
	// SLONoData: no finite canary sample; a guardrail never holds on
	// missing data.
	SLONoData = "no-data"
)

// minSLOSamples is the fewest finite samples a guardrail is decided on: the
// interval's width is estimated from the data, and two or three samples
// leave it too loose to call anything kept.
const minSLOSamples = 5

// SLOVerdict is one guardrail judged against its limit over a stage's window.
type SLOVerdict struct {
	Metric string `json:"metric"`
	// Constraint is the guardrail as text, "latency_p95_ms <= 200".
	Constraint string `json:"constraint"`
	// Class is SLOKept, SLOBroken, SLOUndecided or SLONoData.
	Class string `json:"class"`
	// Mean is the canary's window mean over N finite samples; Low and High
	// its interval at the judge's confidence (0 without data).
	Mean float64 `json:"mean"`
	Low  float64 `json:"low"`
	High float64 `json:"high"`
	N    int     `json:"n"`
	// VarianceInflation (≥ 1) widened the interval for autocorrelated
	// scrapes: the samples count as N/VarianceInflation independent ones.
	VarianceInflation float64 `json:"variance_inflation"`
	// Line is the value a kept guardrail's interval must stay inside: the
	// limit pulled in by the constraint's margin.
	Line float64 `json:"line"`
	Why  string  `json:"why"`
}

// Decided reports whether more samples cannot change v.
func (v SLOVerdict) Decided() bool { return v.Class != SLOUndecided }

// SLOs judges each guardrail against its limit on the canary's samples
// of a stage window, with confidence: the statistic is the window mean of the
// finite samples (for a series of per-scrape p95 latencies, the window's
// average p95, the value an observation records), with a two-sided Student-t
// interval at confidence whose variance is inflated by the AR(1) factor of
// the samples' lag-1 autocorrelation (scrapes of one service are not
// independent). For "metric ≤ max":
//
//   - broken when the interval lies wholly above max;
//   - kept when it lies wholly at or below the line, max pulled in by the
//     constraint's margin (max − margin·|max|);
//   - undecided otherwise: the canary may be over the limit, or inside it
//     but not clearly inside the margin; a longer window may tell.
//
// "≥ min" is mirrored; a constraint with both bounds is broken when either
// is, kept when both are. Fewer than 5 finite samples is undecided, none is
// no-data. A guardrail is never assumed to hold on missing data.
func SLOs(constraints []models.Constraint, canary map[string][]float64, confidence float64) []SLOVerdict {
	out := make([]SLOVerdict, 0, len(constraints))
	for _, c := range constraints {
		out = append(out, judgeSLO(c, canary[c.Metric], confidence))
	}
	return out
}

func judgeSLO(c models.Constraint, xs []float64, confidence float64) SLOVerdict {
	v := SLOVerdict{Metric: c.Metric, Constraint: c.String(), VarianceInflation: 1}
	lo, hi := c.Lines()
	if c.Max != nil {
		v.Line = hi
	} else if c.Min != nil {
		v.Line = lo
	}
	// Scrape order is kept: the autocorrelation below needs it.
	finite := slices.DeleteFunc(slices.Clone(xs), func(x float64) bool { return !models.IsFinite(x) })
	v.N = len(finite)
	if len(finite) == 0 {
		v.Class = SLONoData
		v.Why = fmt.Sprintf("no finite samples of %s in the window (%d NaN/Inf dropped); the guardrail cannot be shown to hold", c.Metric, len(xs))
		return v
	}
	mean, sd := sampleMeanSD(finite)
	v.Mean, v.Low, v.High = mean, mean, mean
	if len(finite) < minSLOSamples {
		v.Class = SLOUndecided
		v.Why = fmt.Sprintf("window mean %.4g over only %d samples; at least %d are needed to decide %s", mean, len(finite), minSLOSamples, c)
		return v
	}
	v.VarianceInflation = varianceInflation(finite)
	nEff := max(float64(len(finite))/v.VarianceInflation, 2)
	t := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: nEff - 1}.Quantile(1 - (1-confidence)/2)
	half := t * sd * math.Sqrt(v.VarianceInflation/float64(len(finite)))
	v.Low, v.High = mean-half, mean+half

	broken := (c.Max != nil && v.Low > *c.Max) || (c.Min != nil && v.High < *c.Min)
	kept := v.High <= hi && v.Low >= lo
	interval := fmt.Sprintf("window mean %.4g [%.4g, %.4g] over %d samples", mean, v.Low, v.High, len(finite))
	switch {
	case broken:
		v.Class = SLOBroken
		v.Why = fmt.Sprintf("%s: over its limit with confidence, breaks %s", interval, c)
	case kept:
		v.Class = SLOKept
		v.Why = fmt.Sprintf("%s: keeps %s%s", interval, c, marginText(c))
	default:
		v.Class = SLOUndecided
		v.Why = fmt.Sprintf("%s: cannot tell yet whether it keeps %s%s", interval, c, marginText(c))
	}
	return v
}

// varianceInflation is the AR(1) factor by which the variance of the mean
// of a series of scrapes exceeds that of as many independent samples, from
// the series' lag-1 autocorrelation (bias-corrected, capped at maxAutocorr);
// 1 for series too short to estimate it.
func varianceInflation(finite []float64) float64 {
	if len(finite) < minPairsForAutocorr {
		return 1
	}
	m := float64(len(finite))
	rho := min(max((m*lag1Autocorr(finite)+1)/(m-3), 0), maxAutocorr)
	return ar1VarianceFactor(rho, len(finite))
}

// marginText says a guardrail's margin, when it has one.
func marginText(c models.Constraint) string {
	if c.Margin == 0 {
		return ""
	}
	return fmt.Sprintf(" with its margin of %s", c.Margin)
}
