package models

import (
	"fmt"
	"math"
)

// seqGrid are the alternatives P(exceedance) = p₁ the sequential test mixes,
// with equal weights. Weighting toward large p₁ makes a clear breach (nearly
// every sample over the line) reach the threshold in few samples; a mild one
// is left to the end-of-window judge.
var seqGrid = []float64{0.8, 0.9, 0.95, 0.99}

// seqStartWeight is the prior weight of a breach that starts with the stage;
// the rest, 1 − seqStartWeight, is spread over later starts j ≥ 1 as
// (1 − seqStartWeight)/(j(j+1)), which sums to it.
const seqStartWeight = 0.8

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
	EValue    float64 `json:"e_value"`
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
// Method: a sequential sign test per watched quantity, made anytime-valid as
// a test supermartingale (an e-process, the dual of a confidence sequence), so
// the chance of any false alarm over the whole wait, however many looks, stays
// at most α = 1 − cfg.Confidence by Ville's inequality. α is split evenly
// (Bonferroni) over the K tests, each alarming when its e-value reaches K/α.
//
//   - A guardrail "metric ≤ max" counts the canary samples above max; the null
//     is "at most half the samples are above" (the median holds), so under it
//     each count is at most Bernoulli(1/2). ("≥ min" counts samples below.)
//   - A critical metric whose increase is bad pairs canary and baseline
//     samples by scrape (index) and counts pairs with c > b + AllowedEffect·|b|;
//     under the null of no regression beyond the allowed effect the pair is
//     no worse than exchangeable, so again at most Bernoulli(1/2). A decrease
//     is mirrored; Both runs the two sides as two tests.
//
// The e-process of a sequence of indicators is a mixture, over the
// alternatives p₁ ∈ {0.8, 0.9, 0.95, 0.99} and over the start of the breach,
// of the likelihood ratios Π (2p₁)^xᵢ (2(1−p₁))^(1−xᵢ): weight 0.8 on a breach
// from the first sample, 0.2/(j(j+1)) on one starting at sample j ≥ 1, so a
// breach that begins mid-wait is still caught. Every term is a test
// supermartingale when P(exceed) ≤ 1/2, and so is the mixture. A clear breach
// from the start (every sample over the line) alarms after n samples with
// mean_p₁(2p₁)ⁿ ≥ K/(0.8 α): 8 samples for K ≤ 2 at α = 0.02, so within two
// looks of four scrapes (15 s scrape, 1 m looks).
//
// NaN and infinite samples are skipped (pairs with either side missing too):
// missing data never raises a breach here; the end-of-window judge makes it a
// no-data verdict. A constraint's metric absent from canary is skipped alike.
// The look index is not needed: the e-process is valid at every sample.
// The error is for an invalid cfg only.
func CheckSequential(cfg JudgeConfig, constraints []Constraint, baseline, canary map[string][]float64) (SequentialResult, error) {
	if err := cfg.Validate(); err != nil {
		return SequentialResult{}, err
	}
	cfg = cfg.WithDefaults()
	type test struct {
		metric, kind, side string
		x                  []bool
		line               string
	}
	var tests []test
	for _, r := range cfg.Rules {
		if !r.Critical {
			continue
		}
		a := float64(r.AllowedEffect)
		b, c := baseline[r.Metric], canary[r.Metric]
		n := min(len(b), len(c))
		var up, down []bool
		for i := 0; i < n; i++ {
			if !isFiniteValue(b[i]) || !isFiniteValue(c[i]) {
				continue
			}
			up = append(up, c[i] > b[i]+a*math.Abs(b[i]))
			down = append(down, c[i] < b[i]-a*math.Abs(b[i]))
		}
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
			var ind []bool
			for _, v := range xs {
				if isFiniteValue(v) {
					ind = append(ind, v > *c.Max)
				}
			}
			tests = append(tests, test{c.Metric, "slo", "above", ind, fmt.Sprintf("%s > %v", c.Metric, *c.Max)})
		}
		if c.Min != nil {
			var ind []bool
			for _, v := range xs {
				if isFiniteValue(v) {
					ind = append(ind, v < *c.Min)
				}
			}
			tests = append(tests, test{c.Metric, "slo", "below", ind, fmt.Sprintf("%s < %v", c.Metric, *c.Min)})
		}
	}
	var res SequentialResult
	if len(tests) == 0 {
		return res, nil
	}
	alpha := 1 - cfg.Confidence
	threshold := float64(len(tests)) / alpha
	for _, t := range tests {
		e := signEProcess(t.x)
		ev := SequentialEvidence{
			Metric: t.metric, Test: t.kind, Side: t.side, N: len(t.x),
			EValue: min(e, 1e300), Threshold: threshold, Breach: e >= threshold,
		}
		for _, b := range t.x {
			if b {
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

func isFiniteValue(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// signEProcess returns the mixture e-process of the indicators x (see
// CheckSequential) after the last one.
func signEProcess(x []bool) float64 {
	var e float64
	for _, p1 := range seqGrid {
		up, down := 2*p1, 2*(1-p1)
		// s is Σ_j w_j Π_{i ≥ j} LRᵢ over starts j ≤ current sample.
		s := 0.0
		for i, b := range x {
			w := seqStartWeight
			if i > 0 {
				w = (1 - seqStartWeight) / (float64(i) * float64(i+1))
			}
			lr := down
			if b {
				lr = up
			}
			s = (s + w) * lr
		}
		// Starts after the last sample have not begun: their product is 1.
		e += s + (1 - startWeightsUpTo(len(x)))
	}
	return e / float64(len(seqGrid))
}

// startWeightsUpTo returns the total prior weight of starts j < n.
func startWeightsUpTo(n int) float64 {
	if n == 0 {
		return 0
	}
	// seqStartWeight + (1−seqStartWeight)·Σ_{j=1}^{n−1} 1/(j(j+1)) = … ·(1 − 1/n).
	return seqStartWeight + (1-seqStartWeight)*(1-1/float64(n))
}
