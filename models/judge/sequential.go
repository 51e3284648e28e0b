package judge

import (
	"fmt"
	"math"

	"github.com/passflow/passflow/models"
)

// The sequential check's constants (see CheckSequential).
const (
	// seqHorizon is the number of samples over which the prior weight of the
	// change point is spread uniformly: 240 samples, an hour of 15 s scrapes,
	// the longest wait WaitFor gives with the usual 1 h cap.
	seqHorizon = 240
	// seqHorizonWeight is the share of the prior on starts within the
	// horizon; the rest goes to later starts j ≥ seqHorizon as
	// (1 − seqHorizonWeight)/((j−H+1)(j−H+2)), which sums to it.
	seqHorizonWeight = 0.9
	// seqMinSamples is the fewest samples a test may alarm on: the noise
	// scale is estimated from the data, and fewer samples leave it too loose.
	seqMinSamples = 8
	// seqClip bounds the standardized scores to ±seqClip, so that a single
	// spike cannot make the evidence (the likelihood ratio is then at most
	// exp(θ·seqClip − θ²/2) per sample).
	seqClip = 3
	// seqMaxAutocorr caps the lag-1 autocorrelation the noise scale allows for.
	seqMaxAutocorr = 0.8
	// seqPriorAutocorr is the lag-1 autocorrelation assumed before the data
	// show it, worth seqPriorWeight samples: the estimate from two looks
	// (8 scores) is too loose to trust, and per-scrape quantile series are
	// usually autocorrelated. It fades as the wait goes on (n/(n+8)).
	seqPriorAutocorr = 0.5
	seqPriorWeight   = 8
)

// seqThetas are the alternatives, mean scores of θ noise scales beyond the
// line, that the e-detector mixes with equal weights: a clear breach (θ ≈ 2–3)
// alarms within a few samples, a mild one (θ ≈ ½) over a longer stretch.
var seqThetas = []float64{0.5, 1, 2, 3}

// SequentialEvidence is one sequential test at a look.
type SequentialEvidence struct {
	Metric string `json:"metric"`
	// Test is "relative" (critical metric, canary vs baseline pairs) or "slo"
	// (absolute guardrail on the canary).
	Test string `json:"test"`
	// Side is "above" or "below": which exceedance is counted.
	Side string `json:"side"`
	// N is the number of samples (pairs for relative tests) seen; Exceed
	// how many were over the line.
	N      int `json:"n"`
	Exceed int `json:"exceed"`
	// EValue is the test's e-process (capped at 1e300); the test alarms when
	// it reaches Threshold.
	EValue float64 `json:"e_value"`
	// Scale is the long-run noise scale τ of the scores the e-value
	// standardizes by (log units for positive metrics); 0 when not estimated.
	Scale     float64 `json:"scale"`
	Threshold float64 `json:"threshold"`
	Breach    bool    `json:"breach"`
	Why       string  `json:"why"`
}

// SequentialResult is the outcome of one look during a verification wait.
type SequentialResult struct {
	// Breach is set when some test alarmed: abort the stage and compensate.
	Breach   bool                 `json:"breach"`
	Evidence []SequentialEvidence `json:"evidence"`
	Reasons  []string             `json:"reasons,omitempty"`
}

// CheckSequential is the check made at every look (every check_every) during
// a stage's verification wait, on all the data of the stage so far, samples
// oldest first at one per scrape. It watches the critical metrics of cfg and
// the absolute guardrails, and reports a breach when one is clearly broken.
//
// Each watched quantity becomes a series of scores sᵢ, positive when sample
// i is over the line, whose mean is at most 0 under the null:
//
//   - A guardrail "metric ≤ max" scores sᵢ = log cᵢ − log max when the
//     canary's samples and max are positive (the null: the canary's
//     geometric mean, its median for log-normal noise, holds the line), else
//     cᵢ − max. ("≥ min" is mirrored.) This is the absolute check: it aborts
//     on the canary's own level, whatever the baseline does.
//   - A critical metric whose increase is bad pairs canary and baseline
//     samples by scrape (index), so a load drift shared by both cancels, and
//     scores sᵢ = log(cᵢ/bᵢ) − log(1+AllowedEffect) when both are positive,
//     else (cᵢ − bᵢ)/scale − AllowedEffect with the baseline median's
//     magnitude as scale. A decrease is mirrored; Both runs two tests.
//
// Method: a change-point e-detector (a Shiryaev–Roberts mixture of Gaussian
// likelihood ratios, Shin, Ramdas & Rinaldo 2023, "E-detectors"). The scores
// are standardized by a long-run noise scale τ (below) and clipped to ±3,
// zᵢ = clip(sᵢ/τ); for a breach of size θ that starts at sample j the
// likelihood ratio is Π_{i≥j} exp(θzᵢ − θ²/2). The e-value mixes it over
// θ ∈ {½, 1, 2, 3} (equal weights) and over the start j, with weight 0.9/240
// on each of the first 240 samples (an hour of scrapes) and the rest on later
// ones. A breach that starts mid-wait is judged on the samples since its
// start, not diluted by the good samples before it (the old sign test's
// weakness), yet the evidence is one nonnegative supermartingale with
// initial value 1 when the standardized scores are (sub-)Gaussian with mean
// ≤ 0, so by Ville's inequality the chance of any false alarm over the whole
// wait, however many looks, is at most α = 1 − cfg.Confidence. α is split
// evenly (Bonferroni) over the K tests, each alarming when its e-value
// reaches K/α.
//
// Noise scale: τ is estimated on the scores so far, robustly. σ̂ is the
// median absolute deviation (×1.4826, with the small-sample factor
// n/(n−0.8)); the successive differences give σ̂_Δ = MAD(Δs)·1.4826/√2,
// which a level shift (the breach itself) barely moves. Their ratio estimates
// the lag-1 autocorrelation, ρ̂ = 1 − σ̂_Δ²/σ̂², clamped to [0, 0.9], and
// τ = σ̂·√((1+ρ̂)/(1−ρ̂)) is the long-run SD of an AR(1) series: with
// autocorrelated scrapes the scores count as fewer independent ones, which
// keeps the false-alarm rate at α. With τ estimated (a plug-in), validity is
// approximate; the A/A rows of BENCHMARKS.md measure it, with independent
// and autocorrelated scrapes. A test alarms only on at least 8 samples (two
// looks of four scrapes). When the scores have no spread (τ = 0), a test
// alarms on 8 samples or more all over the line and never otherwise.
//
// NaN and infinite samples are skipped (pairs with either side missing too):
// missing data never raises a breach here; the end-of-window judge makes it a
// no-data verdict. A constraint's metric absent from canary is skipped alike.
// The look index is not needed: the e-process is valid at every sample.
// A cfg without rules tests the constraints' limits alone. The error is for
// an invalid cfg only.
func CheckSequential(cfg Config, constraints []models.Constraint, baseline, canary map[string][]float64) (SequentialResult, error) {
	if len(cfg.Rules) > 0 {
		if err := cfg.Validate(); err != nil {
			return SequentialResult{}, err
		}
	}
	cfg = cfg.WithDefaults()
	type test struct {
		metric, kind, side string
		s                  []float64
		line               string
	}
	var tests []test
	for _, r := range cfg.Rules {
		if !r.Critical {
			continue
		}
		a := float64(r.AllowedEffect)
		up, down := relativeScores(baseline[r.Metric], canary[r.Metric], a)
		if r.Direction != Decrease {
			tests = append(tests, test{r.Metric, "relative", "above", up, fmt.Sprintf("canary > baseline %+g%%", 100*a)})
		}
		if r.Direction != Increase {
			tests = append(tests, test{r.Metric, "relative", "below", down, fmt.Sprintf("canary < baseline -%g%%", 100*a)})
		}
	}
	for _, c := range constraints {
		xs := canary[c.Metric]
		if c.Max != nil {
			tests = append(tests, test{c.Metric, "slo", "above", guardrailScores(xs, *c.Max, 1), fmt.Sprintf("%s > %v", c.Metric, *c.Max)})
		}
		if c.Min != nil {
			tests = append(tests, test{c.Metric, "slo", "below", guardrailScores(xs, *c.Min, -1), fmt.Sprintf("%s < %v", c.Metric, *c.Min)})
		}
	}
	var res SequentialResult
	if len(tests) == 0 {
		return res, nil
	}
	alpha := 1 - cfg.Confidence
	threshold := float64(len(tests)) / alpha
	for _, t := range tests {
		e, tau := changeEProcess(t.s)
		ev := SequentialEvidence{
			Metric: t.metric, Test: t.kind, Side: t.side, N: len(t.s),
			EValue: min(e, 1e300), Threshold: threshold, Breach: e >= threshold,
			Scale: tau,
		}
		for _, v := range t.s {
			if v > 0 {
				ev.Exceed++
			}
		}
		ev.Why = fmt.Sprintf("%d of %d samples with %s; e-value %.3g vs %.3g", ev.Exceed, ev.N, t.line, ev.EValue, threshold)
		if ev.Breach {
			res.Breach = true
			res.Reasons = append(res.Reasons, fmt.Sprintf("%s %s breach: %s", t.metric, t.kind, ev.Why))
		}
		res.Evidence = append(res.Evidence, ev)
	}
	return res, nil
}

// relativeScores pairs b and c by index, skipping pairs with a non-finite
// side, and returns the scores of "canary above baseline by more than a"
// and "canary below baseline by more than a" (see CheckSequential): on the
// log scale when every kept sample is positive, else relative to the
// baseline median's magnitude.
func relativeScores(b, c []float64, a float64) (up, down []float64) {
	n := min(len(b), len(c))
	var bs, cs []float64
	positive := true
	for i := 0; i < n; i++ {
		if !models.IsFinite(b[i]) || !models.IsFinite(c[i]) {
			continue
		}
		bs, cs = append(bs, b[i]), append(cs, c[i])
		positive = positive && b[i] > 0 && c[i] > 0
	}
	up, down = make([]float64, len(bs)), make([]float64, len(bs))
	if positive && a < 1 {
		lu, ld := math.Log1p(a), math.Log1p(-a)
		for i := range bs {
			r := math.Log(cs[i] / bs[i])
			up[i], down[i] = r-lu, ld-r
		}
		return up, down
	}
	scale := 1.0
	if len(bs) > 0 {
		sorted, _ := models.FiniteSorted(bs)
		scale = relScale(sorted, sorted)
	}
	for i := range bs {
		r := (cs[i] - bs[i]) / scale
		up[i], down[i] = r-a, -a-r
	}
	return up, down
}

// guardrailScores returns the scores of the finite samples xs against line,
// sign·(x − line) (sign +1 for a maximum, −1 for a minimum), on the log scale
// when the samples and line are all positive.
func guardrailScores(xs []float64, line, sign float64) []float64 {
	var out []float64
	positive := line > 0
	for _, v := range xs {
		if models.IsFinite(v) {
			out = append(out, v)
			positive = positive && v > 0
		}
	}
	for i, v := range out {
		if positive {
			out[i] = sign * (math.Log(v) - math.Log(line))
		} else {
			out[i] = sign * (v - line)
		}
	}
	return out
}

// changeEProcess returns the e-detector of the scores s after the last one,
// and the noise scale τ it standardized them by (see CheckSequential). It is
// 0 below seqMinSamples samples.
func changeEProcess(s []float64) (e, tau float64) {
	if len(s) < seqMinSamples {
		return 0, 0
	}
	tau = longRunScale(s)
	if tau == 0 { // no spread: every score is the same
		if s[0] > 0 {
			return math.Inf(1), 0
		}
		return 0, 0
	}
	for _, th := range seqThetas {
		// r is Σ_j w_j Π_{i ≥ j} LRᵢ over the starts j ≤ current sample.
		r := 0.0
		for i, v := range s {
			z := min(max(v/tau, -seqClip), seqClip)
			r = (r + seqStartWeight(i)) * math.Exp(th*z-th*th/2)
		}
		// Starts after the last sample have not begun: their product is 1.
		e += r + 1 - seqStartWeightsUpTo(len(s))
	}
	return e / float64(len(seqThetas)), tau
}

// seqStartWeight is the prior weight of a breach starting at sample j.
func seqStartWeight(j int) float64 {
	if j < seqHorizon {
		return seqHorizonWeight / seqHorizon
	}
	k := float64(j - seqHorizon + 1)
	return (1 - seqHorizonWeight) / (k * (k + 1))
}

// seqStartWeightsUpTo returns the total prior weight of starts j < n.
func seqStartWeightsUpTo(n int) float64 {
	if n <= seqHorizon {
		return seqHorizonWeight * float64(n) / seqHorizon
	}
	// Σ_{k=1}^{m} 1/(k(k+1)) = 1 − 1/(m+1), m = n − H.
	return seqHorizonWeight + (1-seqHorizonWeight)*(1-1/float64(n-seqHorizon+1))
}

// longRunScale is the long-run SD τ of the scores s (see CheckSequential).
// A breach is a shift of the scores' level, which would inflate a plain SD
// and fake autocorrelation; so the single mean shift that best fits s (least
// squares over every split with at least two scores a side, or none) is
// removed first. From the residuals e: σ̂² = Σe²/(n−3) (two means and the
// split fitted), ρ̂ their lag-1 autocorrelation corrected for its downward
// bias (Kendall 1954: E ρ̂ ≈ ρ − (1+3ρ)/n), shrunk toward 0.5 with the
// weight of 8 scores (seqPriorAutocorr) and clamped to [0, 0.8], and
// τ = σ̂·√((1+ρ̂)/(1−ρ̂)), the long-run SD of an AR(1) series.
func longRunScale(s []float64) float64 {
	n := len(s)
	total := 0.0
	for _, v := range s {
		total += v
	}
	// Best split k (first k scores, then the rest) by the between-group sum
	// of squares k(n−k)/n·(mean₁ − mean₂)².
	best, split, prefix := 0.0, 0, 0.0
	for k := 1; k < n; k++ {
		prefix += s[k-1]
		if k < 2 || n-k < 2 {
			continue
		}
		m1, m2 := prefix/float64(k), (total-prefix)/float64(n-k)
		if b := float64(k*(n-k)) / float64(n) * (m1 - m2) * (m1 - m2); b > best {
			best, split = b, k
		}
	}
	res := make([]float64, n)
	fit := func(lo, hi int) {
		m := 0.0
		for _, v := range s[lo:hi] {
			m += v
		}
		m /= float64(hi - lo)
		for i := lo; i < hi; i++ {
			res[i] = s[i] - m
		}
	}
	if split > 0 {
		fit(0, split)
		fit(split, n)
	} else {
		fit(0, n)
	}
	ss := 0.0
	for _, e := range res {
		ss += e * e
	}
	sigma := math.Sqrt(ss / float64(n-3))
	rho := (float64(n)*lag1Autocorr(res) + 1) / float64(n-3)
	// Shrink toward the prior guess on few samples (see seqPriorAutocorr).
	rho = (float64(n)*rho + seqPriorWeight*seqPriorAutocorr) / (float64(n) + seqPriorWeight)
	// Plan for the upper end of its uncertainty, ρ̂ + √((1−ρ̂²)/n): an
	// underestimated ρ makes false alarms, an overestimated one only slows.
	rho += math.Sqrt(max(1-rho*rho, 0) / float64(n))
	rho = min(max(rho, 0), seqMaxAutocorr)
	return sigma * math.Sqrt((1+rho)/(1-rho))
}
