package judge

import (
	"math"
	"time"

	"github.com/passflow/passflow/models"
	"gonum.org/v1/gonum/stat/distuv"
)

// mwARE is the asymptotic relative efficiency of the Mann–Whitney test to
// the t-test under normal data, 3/π. It is the worst case among symmetric
// unimodal shapes seen in practice; for skewed data such as latencies the
// rank test is more efficient, so sizes from it are conservative.
const mwARE = 3 / math.Pi

// SamplesNeeded returns how many samples per cohort a two-sided Mann–Whitney
// test at level alpha needs to detect a relative shift minRelEffect of a
// metric whose baseline has standard deviation baselineSD and mean
// baselineMean, with the given power. It is the normal-theory two-sample size
// divided by the test's efficiency (Noether 1987; Lehmann 1975, §2.4):
//
//	n = 2 (z₁₋α/₂ + z_power)² σ² / (Δ² · 3/π),   Δ = minRelEffect · |baselineMean|.
//
// It returns 1 when baselineSD is zero, and math.MaxInt when the effect is
// zero or any input is out of range (NaN, alpha or power outside (0, 1)).
func SamplesNeeded(baselineSD, baselineMean, minRelEffect, alpha, power float64) int {
	delta := math.Abs(minRelEffect * baselineMean)
	switch {
	case math.IsNaN(baselineSD) || baselineSD < 0 || !(alpha > 0 && alpha < 1) || !(power > 0 && power < 1):
		return math.MaxInt
	case baselineSD == 0:
		return 1
	case !(delta > 0) || math.IsInf(delta, 0):
		return math.MaxInt
	}
	z := distuv.UnitNormal.Quantile(1-alpha/2) + distuv.UnitNormal.Quantile(power)
	n := 2 * z * z * baselineSD * baselineSD / (delta * delta * mwARE)
	if n > 1e9 {
		return math.MaxInt
	}
	return max(1, int(math.Ceil(n)))
}

// samplesForRule sizes the window for one metric under the judge's class
// rule, from the baseline's finite samples x, which asks for two things of a
// regression of DetectEffect Δ above an allowed effect δ: the interval must
// exclude zero (a test at level 1−Confidence), and the estimated shift must
// exceed δ. The second needs SE ≤ (Δ−δ)/z_power, the first
// SE ≤ Δ/(z₁₋α/₂+z_power), so the window is sized for the smaller effective
// effect of the two.
//
// A metric whose samples are all positive (latency, CPU, cost) is sized on
// the log scale, where a relative effect is a shift, log(1+Δ), and the
// spread is the SD of log x: the rank test is invariant to that monotone
// transform, and multiplicative noise is a location model there, so the
// normal-theory size is accurate. (On the raw scale a +10% shift of a
// log-normal with log-SD 0.2 is sized as if it were 10% of an SD of 20%, while
// the rank test sees log 1.1 = 9.5% of 20%: about 10% too few samples.)
// Other metrics use the raw SD and Δ times the scale.
func samplesForRule(x []float64, r Rule, cfg Config) int {
	alpha := 1 - cfg.Confidence
	za := distuv.UnitNormal.Quantile(1 - alpha/2)
	zp := distuv.UnitNormal.Quantile(cfg.Power)
	d, a := float64(r.DetectEffect), float64(r.AllowedEffect)
	effect := func(d, a float64) float64 { return min(d, (d-a)*(za+zp)/zp) }
	if x[0] > 0 { // sorted: all positive
		lx := make([]float64, len(x))
		for i, v := range x {
			lx[i] = math.Log(v)
		}
		_, sd := sampleMeanSD(lx)
		sd = sdUpperBound(sd, len(lx))
		eff := math.Inf(1)
		if r.Direction != Decrease {
			eff = effect(math.Log1p(d), math.Log1p(a))
		}
		if r.Direction != Increase && d < 1 {
			eff = min(eff, effect(-math.Log1p(-d), -math.Log1p(-min(a, d))))
		}
		if math.IsInf(eff, 1) { // a decrease of 100% or more: use the raw scale
			eff = effect(d, a)
		}
		return SamplesNeeded(sd, 1, eff, alpha, cfg.Power)
	}
	_, sd := sampleMeanSD(x)
	return SamplesNeeded(sdUpperBound(sd, len(x)), relScale(x, x), effect(d, a), alpha, cfg.Power)
}

// sdConfidence is the one-sided confidence of the upper bound on the
// baseline's SD that the window is sized from.
const sdConfidence = 0.8

// sdUpperBound is the one-sided sdConfidence upper bound of a standard
// deviation estimated from n samples, sd·√((n−1)/χ²₁₋c(n−1)) (normal theory).
// Sizing from the point estimate falls short about half the time, since the
// estimate is as likely to be low as high; from the bound the window reaches
// the power asked in all but 1 − sdConfidence of the windows.
func sdUpperBound(sd float64, n int) float64 {
	if n < 2 || !(sd > 0) {
		return sd
	}
	k := float64(n - 1)
	q := distuv.ChiSquared{K: k}.Quantile(1 - sdConfidence)
	return sd * math.Sqrt(k/q)
}

// inflateSamples scales a sample size by a variance inflation factor vif ≥ 1
// (the effective sample of autocorrelated scrapes is n/vif).
func inflateSamples(n int, vif float64) int {
	if vif <= 1 || n == math.MaxInt {
		return n
	}
	f := math.Ceil(float64(n) * vif)
	if f >= math.MaxInt32 {
		return math.MaxInt
	}
	return int(f)
}

// SamplesNeeded returns the samples per cohort the judge needs to reach
// c.Power on every metric, given the baseline's samples so far: the largest,
// over the metrics, of MinSamples and the size from the baseline's spread
// and the rule's DetectEffect (see SamplesNeeded and Judge). A metric with
// fewer than MinSamples finite baseline samples counts as MinSamples. The
// result is math.MaxInt when c is invalid.
func (c Config) SamplesNeeded(baseline map[string][]float64) int {
	if c.Validate() != nil {
		return math.MaxInt
	}
	c = c.WithDefaults()
	need := 0
	for _, r := range c.Rules {
		need = max(need, r.MinSamples)
		x, _ := models.FiniteSorted(baseline[r.Metric])
		if len(x) < r.MinSamples {
			continue
		}
		need = max(need, samplesForRule(x, r, c))
	}
	return need
}

// WaitFor returns how long a stage should wait to collect need samples per
// cohort at one sample per scrape: at least verifyFor, at most maxWait (when
// maxWait is positive). enough is false when the cap cuts the wait short, and
// the verdict will then be low-confidence.
func WaitFor(need int, scrape, verifyFor, maxWait time.Duration) (wait time.Duration, enough bool) {
	needWait := time.Duration(0)
	if need > 0 && scrape > 0 {
		needWait = time.Duration(math.MaxInt64)
		if n := time.Duration(need); n <= math.MaxInt64/scrape {
			needWait = n * scrape
		}
	}
	switch {
	case needWait <= verifyFor:
		return verifyFor, true
	case maxWait > 0 && needWait > maxWait:
		return max(maxWait, verifyFor), false
	}
	return needWait, true
}
