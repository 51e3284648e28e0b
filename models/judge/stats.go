package judge

import (
	"math"
	"slices"

	"github.com/passflow/passflow/models"
	"gonum.org/v1/gonum/stat/distuv"
)

// This file holds the rank statistics behind the canary judge: the
// Mann–Whitney U test with tie correction, the Hodges–Lehmann shift and its
// distribution-free confidence interval, and small helpers on samples.
// References: Hollander, Wolfe & Chicken, "Nonparametric Statistical Methods",
// 3rd ed. (2014), §4.1–4.3; Lehmann, "Nonparametrics" (1975), ch. 2.

// exactLimit is the sample size (per side) below which the U distribution is
// computed exactly when there are no ties, as R's wilcox.test does.
const exactLimit = 50

// sortedMedian returns the median of sorted xs; xs must not be empty.
func sortedMedian(sorted []float64) float64 {
	n := len(sorted)
	if n%2 == 1 {
		return sorted[n/2]
	}
	return sorted[n/2-1] + (sorted[n/2]-sorted[n/2-1])/2
}

// sampleMeanSD returns the mean and the sample standard deviation of xs (len ≥ 2).
func sampleMeanSD(xs []float64) (mean, sd float64) {
	for _, x := range xs {
		mean += x
	}
	mean /= float64(len(xs))
	if len(xs) < 2 {
		return mean, 0
	}
	var ss float64
	for _, x := range xs {
		ss += (x - mean) * (x - mean)
	}
	return mean, math.Sqrt(ss / float64(len(xs)-1))
}

// rankTest is the Mann–Whitney comparison of two sorted, finite samples y
// (canary) and x (baseline).
type rankTest struct {
	// U counts the pairs with y > x, plus half of the tied pairs.
	U float64
	// Mean and SD of U under the null, SD with the tie correction.
	Mean, SD float64
	// Exact is set when the null distribution was enumerated (small
	// samples without ties); then cdf[u] = P(U ≤ u).
	Exact bool
	cdf   []float64
	// Ties reports whether the pooled sample holds tied values.
	Ties bool
}

// mannWhitney computes U for sorted y (canary) against sorted x (baseline),
// with the tie-corrected null variance
//
//	Var U = nm/12 · [(N+1) − Σ(t³−t) / (N(N−1))]
//
// (Hollander, Wolfe & Chicken eq. 4.10, for the rank-sum W = U + n(n+1)/2),
// and the exact null distribution when both samples are smaller than
// exactLimit and there are no ties.
func mannWhitney(y, x []float64) rankTest {
	n, m := len(y), len(x)
	var r rankTest
	// U by merging: for each y, the number of x below it plus half the ties.
	lo, hi := 0, 0
	for _, v := range y {
		for lo < m && x[lo] < v {
			lo++
		}
		for hi < m && x[hi] <= v {
			hi++
		}
		r.U += float64(lo) + float64(hi-lo)/2
	}
	N := n + m
	pooled := make([]float64, 0, N)
	pooled = append(append(pooled, y...), x...)
	slices.Sort(pooled)
	var tieSum float64
	for i := 0; i < N; {
		j := i
		for j < N && pooled[j] == pooled[i] {
			j++
		}
		if t := float64(j - i); t > 1 {
			tieSum += t*t*t - t
			r.Ties = true
		}
		i = j
	}
	nm := float64(n) * float64(m)
	r.Mean = nm / 2
	v := 0.0
	if N > 1 {
		v = nm / 12 * (float64(N+1) - tieSum/(float64(N)*float64(N-1)))
	}
	r.SD = math.Sqrt(max(v, 0))
	if !r.Ties && n < exactLimit && m < exactLimit && n > 0 && m > 0 {
		r.Exact = true
		r.cdf = exactUCDF(n, m)
	}
	return r
}

// exactUCDF returns P(U ≤ u), u = 0 … nm, for the Mann–Whitney statistic of
// samples of sizes n and m without ties. It uses the recursion on the largest
// pooled observation: with probability n/(n+m) it belongs to the first sample
// and adds m to U, else it belongs to the second:
//
//	p(u; n, m) = n/(n+m) · p(u−m; n−1, m) + m/(n+m) · p(u; n, m−1).
func exactUCDF(n, m int) []float64 {
	// prev[j] holds the distribution for (i−1, j), cur[j] for (i, j).
	prev := make([][]float64, m+1)
	for j := range prev {
		prev[j] = []float64{1} // i = 0: U = 0 surely
	}
	for i := 1; i <= n; i++ {
		cur := make([][]float64, m+1)
		cur[0] = []float64{1} // j = 0: U = 0 surely
		for j := 1; j <= m; j++ {
			p := make([]float64, i*j+1)
			a, b := float64(i)/float64(i+j), float64(j)/float64(i+j)
			for u, q := range prev[j] { // (i−1, j), shifted by j
				p[u+j] += a * q
			}
			for u, q := range cur[j-1] { // (i, j−1)
				p[u] += b * q
			}
			cur[j] = p
		}
		prev = cur
	}
	pdf := prev[m]
	cdf := make([]float64, len(pdf))
	acc := 0.0
	for u, q := range pdf {
		acc += q
		cdf[u] = min(acc, 1)
	}
	return cdf
}

// cdfAt returns P(U ≤ u) under the exact null distribution.
func (r rankTest) cdfAt(u int) float64 {
	switch {
	case u < 0:
		return 0
	case u >= len(r.cdf):
		return 1
	}
	return r.cdf[u]
}

// PValue returns the two-sided p-value of the test of no shift: exact when
// available, else the normal approximation with tie and continuity
// correction (R's wilcox.test defaults). It is 1 when U has no spread (all
// values tied).
func (r rankTest) PValue() float64 {
	if r.Exact {
		u := int(math.Round(r.U))
		lower := r.cdfAt(u)
		upper := 1 - r.cdfAt(u-1)
		return min(1, 2*min(lower, upper))
	}
	if r.SD == 0 {
		return 1
	}
	d := r.U - r.Mean
	d = math.Copysign(max(math.Abs(d)-0.5, 0), d)
	return min(1, 2*distuv.UnitNormal.Survival(math.Abs(d)/r.SD))
}

// ciIndex returns k such that [D(k), D(nm+1−k)] over the sorted pairwise
// differences D(1) ≤ … ≤ D(nm) is a confidence interval for the shift at
// level conf (Hollander, Wolfe & Chicken §4.3). Exactly: k is the largest
// integer with P(U ≤ k−1) ≤ α/2. In the normal approximation with tie and
// continuity correction: the largest integer k < nm/2 + 1/2 − z·SD, the
// inversion of the corrected test. k is at least 1: samples too small for
// the asked confidence get the full range of differences.
func (r rankTest) ciIndex(n, m int, conf float64) int {
	alpha := 1 - conf
	nm := n * m
	k := 0
	if r.Exact {
		for k < nm && r.cdfAt(k) <= alpha/2 { // P(U ≤ (k+1)−1) ≤ α/2
			k++
		}
	} else {
		z := distuv.UnitNormal.Quantile(1 - alpha/2)
		bound := float64(nm)/2 + 0.5 - z*r.SD
		k = int(math.Ceil(bound)) - 1
	}
	return min(max(k, 1), (nm+1)/2)
}

// kthDiff returns the k-th smallest (1-based) of the n·m pairwise differences
// y[i] − x[j] of sorted y and x, without forming them: it bisects on the
// ordered bit patterns of float64 values, counting the differences at or below
// a value in O(n+m) per step, so at most 64 steps.
func kthDiff(y, x []float64, k int) float64 {
	minD := y[0] - x[len(x)-1]
	maxD := y[len(y)-1] - x[0]
	lo, hi := orderedBits(math.Nextafter(minD, math.Inf(-1))), orderedBits(maxD)
	// Invariant: count(lo) < k ≤ count(hi).
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		if countLE(y, x, fromOrderedBits(mid)) >= k {
			hi = mid
		} else {
			lo = mid
		}
	}
	return fromOrderedBits(hi) + 0 // + 0 turns −0 into +0
}

// countLE counts the pairs with y[i] − x[j] ≤ d for sorted y and x.
func countLE(y, x []float64, d float64) int {
	c, j := 0, 0
	for _, v := range y {
		for j < len(x) && v-x[j] > d {
			j++
		}
		c += len(x) - j
	}
	return c
}

// orderedBits maps float64 to uint64 so that the order of non-NaN values is kept.
func orderedBits(f float64) uint64 {
	b := math.Float64bits(f)
	if b>>63 == 1 {
		return ^b
	}
	return b | 1<<63
}

func fromOrderedBits(u uint64) float64 {
	if u>>63 == 1 {
		return math.Float64frombits(u &^ (1 << 63))
	}
	return math.Float64frombits(^u)
}

// hodgesLehmann returns the Hodges–Lehmann estimate of the shift of y over x
// (the median of the pairwise differences y[i] − x[j]) and the confidence
// interval [D(k), D(nm+1−k)] from the Mann–Whitney distribution r.
func hodgesLehmann(y, x []float64, r rankTest, conf float64) (shift, lo, hi float64) {
	nm := len(y) * len(x)
	if nm%2 == 1 {
		shift = kthDiff(y, x, nm/2+1)
	} else {
		a, b := kthDiff(y, x, nm/2), kthDiff(y, x, nm/2+1)
		shift = a + (b-a)/2
	}
	k := r.ciIndex(len(y), len(x), conf)
	return shift, kthDiff(y, x, k), kthDiff(y, x, nm+1-k)
}

// Serial dependence. Consecutive scrapes of a per-scrape statistic (a p95
// over the last 15 s) are autocorrelated, and the Mann–Whitney null
// variance assumes independent samples: with lag-1 autocorrelation ρ the
// variance of U is larger by about the factor of the variance of a mean of
// an AR(1) series,
//
//	f(ρ, n) = 1 + 2 Σ_{k=1}^{n−1} (1 − k/n) ρᵏ   (→ (1+ρ)/(1−ρ) for large n),
//
// so the effective sample is n/f. The correlation that matters is that of
// the noise which does not cancel between the cohorts: a slow load drift
// shared by canary and baseline moves both, and adds nothing to the
// variance of their difference. So ρ is estimated on the scrape-paired
// series of rank-score differences Dᵢ = F̂(cᵢ) − F̂(bᵢ), F̂ the pooled
// empirical CDF (mid-ranks for ties): U/(nm) − ½ is, to first order (the
// Hájek projection), the mean of the Dᵢ. The lag-1 estimate is corrected for
// its O(1/n) downward bias (Kendall 1954: E ρ̂ ≈ ρ − (1+3ρ)/n) and clamped
// to [0, maxAutocorr]: negative correlation is not used to narrow intervals.
// References: Box, Jenkins & Reinsel, "Time Series Analysis", §2.1.5;
// Serfling (1968) on U-statistics of mixing sequences.

// maxAutocorr caps the lag-1 autocorrelation the correction uses (f ≤ 39).
const maxAutocorr = 0.95

// minPairsForAutocorr is the fewest scrape pairs ρ is estimated from; with
// fewer the samples are taken as independent.
const minPairsForAutocorr = 16

// rankAutocorr returns the bias-corrected lag-1 autocorrelation of the
// paired rank-score differences of can and base (raw, in scrape order; pairs
// with a NaN or infinite side are skipped), and the variance inflation
// factor f(ρ, n) of the rank statistics, at least 1. pooled is the sorted
// pooled finite sample.
func rankAutocorr(base, can, pooled []float64) (rho, vif float64) {
	n := min(len(base), len(can))
	d := make([]float64, 0, n)
	for i := 0; i < n; i++ {
		if !models.IsFinite(base[i]) || !models.IsFinite(can[i]) {
			continue
		}
		d = append(d, midRankCDF(pooled, can[i])-midRankCDF(pooled, base[i]))
	}
	if len(d) < minPairsForAutocorr {
		return 0, 1
	}
	rho = lag1Autocorr(d)
	m := float64(len(d))
	rho = min(max((m*rho+1)/(m-3), 0), maxAutocorr)
	return rho, ar1VarianceFactor(rho, len(d))
}

// midRankCDF returns (#{v < x} + ½·#{v = x}) / len(sorted).
func midRankCDF(sorted []float64, x float64) float64 {
	lo, _ := slices.BinarySearch(sorted, x)
	hi := lo
	for hi < len(sorted) && sorted[hi] == x {
		hi++
	}
	return (float64(lo) + float64(hi-lo)/2) / float64(len(sorted))
}

// lag1Autocorr is the usual lag-1 sample autocorrelation of xs (len ≥ 2);
// 0 when xs has no spread.
func lag1Autocorr(xs []float64) float64 {
	mean, _ := sampleMeanSD(xs)
	var num, den float64
	for i, x := range xs {
		den += (x - mean) * (x - mean)
		if i > 0 {
			num += (x - mean) * (xs[i-1] - mean)
		}
	}
	if den == 0 {
		return 0
	}
	return num / den
}

// ar1VarianceFactor returns f(ρ, n) = 1 + 2 Σ_{k=1}^{n−1} (1 − k/n) ρᵏ, the
// variance of the mean of n samples of an AR(1) series over that of n
// independent ones.
func ar1VarianceFactor(rho float64, n int) float64 {
	if rho <= 0 || n < 2 {
		return 1
	}
	f, p := 1.0, 1.0
	for k := 1; k < n; k++ {
		p *= rho
		if p < 1e-12 {
			break
		}
		f += 2 * (1 - float64(k)/float64(n)) * p
	}
	return f
}

// inflate returns r with its null variance multiplied by vif (≥ 1): the
// normal approximation with an effective sample smaller by vif. The exact
// distribution, which assumes independence, is dropped when vif > 1.
func (r rankTest) inflate(vif float64) rankTest {
	if vif > 1 {
		r.SD *= math.Sqrt(vif)
		r.Exact, r.cdf = false, nil
	}
	return r
}
