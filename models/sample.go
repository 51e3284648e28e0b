package models

import (
	"math"
	"slices"
)

// IsFinite reports whether x is a measured value: neither NaN nor ±Inf.
func IsFinite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// Quantile returns the p-quantile (0 ≤ p ≤ 1) of the finite values of xs,
// interpolated linearly between order statistics (Hyndman & Fan type 7, the
// default of R's quantile and of NumPy). NaN and ±Inf samples are ignored;
// the result is NaN when no finite value is left or p is outside [0, 1].
func Quantile(p float64, xs []float64) float64 {
	s, _ := FiniteSorted(xs)
	if len(s) == 0 || !(p >= 0 && p <= 1) {
		return math.NaN()
	}
	h := p * float64(len(s)-1)
	lo := int(math.Floor(h))
	if lo >= len(s)-1 {
		return s[len(s)-1]
	}
	return s[lo] + (h-float64(lo))*(s[lo+1]-s[lo])
}

// FiniteSorted returns the finite values of xs, sorted, in a new slice, and
// how many it dropped (NaN and ±Inf: missing samples, never read as values).
func FiniteSorted(xs []float64) (out []float64, dropped int) {
	out = make([]float64, 0, len(xs))
	for _, x := range xs {
		if !IsFinite(x) {
			dropped++
			continue
		}
		out = append(out, x)
	}
	slices.Sort(out)
	return out, dropped
}
