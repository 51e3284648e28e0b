package judge

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/passflow/passflow/models"
	"gonum.org/v1/gonum/stat/distuv"
)

// The classes of a bake's objective (see Bake).
const (
	// BakeGain: the canary is better than the baseline over the bake, shown.
	BakeGain = "gain"
	// BakeWorse: the canary is worse than the baseline over the bake, shown.
	BakeWorse = "worse"
	// BakeUnshown: neither is shown.
	BakeUnshown = "unshown"
	// BakeNoData: no hour had samples enough of the objective on both
	// cohorts.
	BakeNoData = "no-data"
)

// A BakeHour is one hour of a bake: both cohorts' samples over it, read
// side by side (the canary and the baseline see the same load).
type BakeHour struct {
	From     time.Time
	Baseline map[string][]float64
	Canary   map[string][]float64
}

// BakeInput is what Bake judges.
type BakeInput struct {
	Objective   string
	Goal        models.Goal
	Constraints []models.Constraint
	Hours       []BakeHour
	// GainConfidence is the one-sided confidence at which the objective's
	// change over the bake is shown a gain, or shown worse.
	GainConfidence float64
	// SLOConfidence is the guardrails' two-sided confidence, shared among
	// the hours (Bonferroni).
	SLOConfidence float64
}

// BakeBreach is a guardrail shown over its limit in one hour of a bake.
type BakeBreach struct {
	From time.Time  `json:"from"`
	SLO  SLOVerdict `json:"slo"`
}

// BakeVerdict is a bake judged: the objective's change over the load cycle
// and the guardrails hour by hour.
type BakeVerdict struct {
	// Hours is how many hours the objective's change is averaged over.
	Hours int `json:"hours"`
	// Change is the canary's objective relative to the baseline's, the mean
	// of the hours' relative changes (each hour counts the same: the
	// night's hours as much as the peak's); Low and High bound it one-sided
	// at GainConfidence each.
	Change float64 `json:"change"`
	Low    float64 `json:"low"`
	High   float64 `json:"high"`
	// SE is Change's standard error.
	SE float64 `json:"se"`
	// Class is BakeGain, BakeWorse, BakeUnshown or BakeNoData.
	Class string `json:"class"`
	// Broken lists each guardrail shown over its limit, at its worst hour.
	Broken []BakeBreach `json:"broken,omitempty"`
	Why    string       `json:"why"`
}

// Bake judges a canary that ran beside its baseline over a load cycle, an
// hour at a time: a short stage sees one hour of the day, and a change
// whose effect depends on the load (cheaper at the peak, dearer at night;
// fine at noon, past a queueing knee at the peak) passes it.
//
//   - The objective: each hour with at least 5 finite samples on both
//     cohorts gives the canary's relative change, mean over mean, with a
//     standard error by the delta method from the two means' (each
//     inflated for autocorrelated scrapes, as SLOs does). The bake's change
//     is the hours' plain mean, its standard error the hours' combined: the
//     load cancels hour by hour, and what is left is the change and the
//     scrapes' noise. It is a gain when its one-sided bound at
//     GainConfidence is on the good side of zero, worse when the other
//     bound is on the bad side, unshown otherwise.
//   - The guardrails: each hour's canary samples are judged against the
//     limits (SLOs) at SLOConfidence shared among the hours; a guardrail
//     over its limit with confidence in any hour is broken.
func Bake(in BakeInput) BakeVerdict {
	v := BakeVerdict{Class: BakeNoData}
	var sum, variance float64
	for _, h := range in.Hours {
		c, cse, cn := meanSE(h.Canary[in.Objective])
		b, bse, bn := meanSE(h.Baseline[in.Objective])
		if cn < minSLOSamples || bn < minSLOSamples || b == 0 {
			continue
		}
		ratio := c / b
		sum += ratio - 1
		rel := math.Hypot(cse/c, bse/b) // the ratio's relative standard error
		variance += ratio * ratio * rel * rel
		v.Hours++
	}
	if v.Hours > 0 {
		n := float64(v.Hours)
		v.Change = sum / n
		v.SE = math.Sqrt(variance) / n
		half := distuv.UnitNormal.Quantile(in.GainConfidence) * v.SE
		v.Low, v.High = v.Change-half, v.Change+half
		better, worse := v.High < 0, v.Low > 0
		if in.Goal == models.Maximize {
			better, worse = v.Low > 0, v.High < 0
		}
		switch {
		case better:
			v.Class = BakeGain
		case worse:
			v.Class = BakeWorse
		default:
			v.Class = BakeUnshown
		}
	}

	confidence := 1 - (1-in.SLOConfidence)/float64(max(len(in.Hours), 1))
	worst := map[string]BakeBreach{}
	for _, h := range in.Hours {
		for _, s := range SLOs(in.Constraints, h.Canary, confidence) {
			prev, seen := worst[s.Metric]
			if s.Class == SLOBroken && (!seen || math.Abs(s.Mean-s.Line) > math.Abs(prev.SLO.Mean-prev.SLO.Line)) {
				worst[s.Metric] = BakeBreach{From: h.From, SLO: s}
			}
		}
	}
	var why []string
	for _, c := range in.Constraints {
		if b, ok := worst[c.Metric]; ok { // a target's guardrails name distinct metrics
			v.Broken = append(v.Broken, b)
			why = append(why, fmt.Sprintf("guardrail %s over its limit at %s–%s: %s", c.Metric,
				b.From.UTC().Format("15:04"), b.From.Add(time.Hour).UTC().Format("15:04"), b.SLO.Why))
		}
	}
	objective := fmt.Sprintf("%s %+.2f%% [%+.2f%%, %+.2f%%] over %d hours (one-sided bounds at %g%%)",
		in.Objective, 100*v.Change, 100*v.Low, 100*v.High, v.Hours, 100*in.GainConfidence)
	switch v.Class {
	case BakeNoData:
		objective = fmt.Sprintf("%s: no hour of the bake had %d samples on both cohorts", in.Objective, minSLOSamples)
	case BakeGain:
		objective = "a gain over the load cycle: " + objective
	case BakeWorse:
		objective = "worse over the load cycle: " + objective
	default:
		objective = "no gain shown over the load cycle: " + objective
	}
	v.Why = strings.Join(append(why, objective), "; ")
	return v
}

// meanSE returns the mean of xs's finite values, its standard error
// inflated for autocorrelation, and how many values there were.
func meanSE(xs []float64) (mean, se float64, n int) {
	finite := slices.DeleteFunc(slices.Clone(xs), func(x float64) bool { return !models.IsFinite(x) })
	if len(finite) < 2 {
		if len(finite) == 1 {
			return finite[0], math.Inf(1), 1
		}
		return 0, 0, 0
	}
	mean, sd := sampleMeanSD(finite)
	return mean, sd * math.Sqrt(varianceInflation(finite)/float64(len(finite))), len(finite)
}
