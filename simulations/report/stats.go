package report

import (
	"encoding/json"
	"math"
	"sort"
)

// Stat is one Summary field aggregated over a group's seeds. Values that are
// NaN or ±Inf are left out and counted in NonFinite; when no value is left
// (N == 0) Median, Min, Max and Sum are meaningless and summary.json writes
// them as null.
type Stat struct {
	// N counts the finite values the figures are taken over.
	N int
	// NonFinite counts the values left out because they were NaN or ±Inf.
	NonFinite int
	// Median is the median (the mean of the two middle values for even N).
	Median float64
	// Min and Max are the smallest and largest values.
	Min, Max float64
	// Sum is the values' sum; it is the figure to read for counts of rare
	// events (promotions that broke a guardrail, false rollbacks).
	Sum float64
}

// statOf aggregates vs.
func statOf(vs []float64) Stat {
	var s Stat
	finite := make([]float64, 0, len(vs))
	for _, v := range vs {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			s.NonFinite++
			continue
		}
		finite = append(finite, v)
	}
	s.N = len(finite)
	if s.N == 0 {
		return s
	}
	sort.Float64s(finite)
	s.Median = quantile(finite, 0.5)
	s.Min, s.Max = finite[0], finite[len(finite)-1]
	for _, v := range finite {
		s.Sum += v
	}
	return s
}

// MarshalJSON writes s with null figures when it holds no value.
func (s Stat) MarshalJSON() ([]byte, error) {
	type stat struct {
		N         int      `json:"n"`
		NonFinite int      `json:"non_finite"`
		Median    *float64 `json:"median"`
		Min       *float64 `json:"min"`
		Max       *float64 `json:"max"`
		Sum       *float64 `json:"sum"`
	}
	out := stat{N: s.N, NonFinite: s.NonFinite}
	if s.N > 0 {
		// The values are finite, but a sum or a median can overflow.
		out.Median, out.Min, out.Max, out.Sum = finitePtr(s.Median), finitePtr(s.Min), finitePtr(s.Max), finitePtr(s.Sum)
	}
	return json.Marshal(out)
}

// Reach is Summary.PassesToWithin5Pct aggregated over a group's seeds. A
// seed that never came within 5% of the optimum counts as +Inf, so the
// median is +Inf ("never") when at least half the seeds never did (for an
// even count, when the upper middle one never did).
type Reach struct {
	// N counts the seeds; Never those that never came within 5%.
	N, Never int
	// Median, Min and Max are pass numbers, +Inf for never; summary.json
	// writes +Inf as null.
	Median, Min, Max float64
}

// reachOf aggregates passes-to-within-5% values, nil meaning never.
func reachOf(vs []*int) Reach {
	r := Reach{N: len(vs)}
	if r.N == 0 {
		r.Median, r.Min, r.Max = math.Inf(1), math.Inf(1), math.Inf(1)
		return r
	}
	xs := make([]float64, 0, len(vs))
	for _, v := range vs {
		if v == nil {
			r.Never++
			xs = append(xs, math.Inf(1))
			continue
		}
		xs = append(xs, float64(*v))
	}
	sort.Float64s(xs)
	r.Median = quantile(xs, 0.5)
	r.Min, r.Max = xs[0], xs[len(xs)-1]
	return r
}

// MarshalJSON writes r with null for never.
func (r Reach) MarshalJSON() ([]byte, error) {
	type reach struct {
		N      int      `json:"n"`
		Never  int      `json:"never"`
		Median *float64 `json:"median"`
		Min    *float64 `json:"min"`
		Max    *float64 `json:"max"`
	}
	return json.Marshal(reach{N: r.N, Never: r.Never, Median: finitePtr(r.Median), Min: finitePtr(r.Min), Max: finitePtr(r.Max)})
}

// quantile returns the p-quantile of sorted, a non-empty ascending slice,
// interpolating linearly between order statistics (Hyndman and Fan's type
// 7, R's default): the median of an even count is the mean of the two
// middle values. +Inf values are allowed and are only interpolated with
// when the quantile falls strictly between two order statistics.
func quantile(sorted []float64, p float64) float64 {
	h := float64(len(sorted)-1) * p
	lo := int(math.Floor(h))
	if lo >= len(sorted)-1 {
		return sorted[len(sorted)-1]
	}
	frac := h - float64(lo)
	if frac == 0 {
		return sorted[lo]
	}
	a, b := sorted[lo], sorted[lo+1]
	if math.IsInf(b, 1) {
		return b
	}
	return a + frac*(b-a)
}

// finite reports whether v is neither NaN nor ±Inf.
func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// finitePtr returns a pointer to v, nil when v is NaN or ±Inf (null in JSON).
func finitePtr(v float64) *float64 {
	if !finite(v) {
		return nil
	}
	return &v
}
