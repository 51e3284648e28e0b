package judge

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/passflow/passflow/models"
)

// Direction says which way a metric's change is bad.
type Direction string

// The three directions.
const (
	// Increase means a higher canary value is bad (latency, errors, cost).
	Increase Direction = "increase"
	// Decrease means a lower canary value is bad (throughput, hit ratio).
	Decrease Direction = "decrease"
	// Both means a change either way is bad.
	Both Direction = "both"
)

// Rule says how the judge compares one metric between canary and baseline.
type Rule struct {
	Metric    string    `yaml:"metric" json:"metric"`
	Direction Direction `yaml:"direction" json:"direction"`
	// AllowedEffect is the relative change tolerated in the bad direction,
	// 0.05 for 5%. Its sign is ignored: "+5%" and "5%" mean the same.
	AllowedEffect models.Percent `yaml:"allowed_effect" json:"allowed_effect"`
	// Weight is the metric's share in the score; 0 means 1.
	Weight float64 `yaml:"weight,omitempty" json:"weight,omitempty"`
	// Critical metrics fail the stage on their own, and are watched by the
	// sequential checks during the wait.
	Critical bool `yaml:"critical,omitempty" json:"critical,omitempty"`
	// MinSamples is the fewest finite samples per cohort the metric is judged
	// on; with fewer it is no-data. 0 means DefaultMinSamples.
	MinSamples int `yaml:"min_samples,omitempty" json:"min_samples,omitempty"`
	// DetectEffect is the smallest relative regression the window should be
	// long enough to catch with Config.Power; 0 means twice
	// AllowedEffect, or 10% when AllowedEffect is 0. It sizes the window (see Config.SamplesNeeded), it
	// does not change the classification.
	DetectEffect models.Percent `yaml:"detect_effect,omitempty" json:"detect_effect,omitempty"`
}

// UnmarshalYAML reads a rule and names the field of a bad relative effect.
func (r *Rule) UnmarshalYAML(unmarshal func(any) error) error {
	type metricRule Rule
	err := unmarshal((*metricRule)(r))
	var pe *models.PercentError
	if !errors.As(err, &pe) {
		return err
	}
	var m map[string]any
	if unmarshal(&m) == nil {
		for _, f := range []string{"allowed_effect", "detect_effect"} {
			var p models.Percent
			if v, ok := m[f]; ok && p.UnmarshalYAML(func(dst any) error { *dst.(*any) = v; return nil }) != nil {
				return fmt.Errorf("metric %v: %s: %w", m["metric"], f, pe)
			}
		}
	}
	return err
}

// Config is the judge's configuration: the target's canary.judge block,
// and the metrics file of `passflow judge`.
type Config struct {
	Rules []Rule `yaml:"metrics" json:"metrics"`
	// Confidence of the intervals and tests; 0 means DefaultConfidence.
	Confidence float64 `yaml:"confidence,omitempty" json:"confidence,omitempty"`
	// PassScore and MarginalScore are the score thresholds (0–100) of the
	// pass and marginal verdicts; 0 means the defaults 95 and 75.
	PassScore     float64 `yaml:"pass_score,omitempty" json:"pass_score,omitempty"`
	MarginalScore float64 `yaml:"marginal_score,omitempty" json:"marginal_score,omitempty"`
	// Power is the chance the window should give of catching a regression of
	// DetectEffect; 0 means DefaultPower.
	Power float64 `yaml:"power,omitempty" json:"power,omitempty"`
}

// The judge's defaults.
const (
	DefaultConfidence    = 0.98
	DefaultPassScore     = 95.0
	DefaultMarginalScore = 75.0
	DefaultMinSamples    = 10
	DefaultPower         = 0.95
	defaultDetectEffect  = 0.10
)

// WithDefaults returns c with every unset field at its default.
func (c Config) WithDefaults() Config {
	if c.Confidence == 0 {
		c.Confidence = DefaultConfidence
	}
	if c.PassScore == 0 {
		c.PassScore = DefaultPassScore
	}
	if c.MarginalScore == 0 {
		c.MarginalScore = DefaultMarginalScore
	}
	if c.Power == 0 {
		c.Power = DefaultPower
	}
	rules := make([]Rule, len(c.Rules))
	for i, r := range c.Rules {
		if r.Weight == 0 {
			r.Weight = 1
		}
		if r.MinSamples == 0 {
			r.MinSamples = DefaultMinSamples
		}
		r.AllowedEffect = models.Percent(math.Abs(float64(r.AllowedEffect)))
		r.DetectEffect = models.Percent(math.Abs(float64(r.DetectEffect)))
		if r.DetectEffect == 0 {
			r.DetectEffect = 2 * r.AllowedEffect
			if r.AllowedEffect == 0 {
				r.DetectEffect = defaultDetectEffect
			}
		}
		rules[i] = r
	}
	c.Rules = rules
	return c
}

// Validate checks c after defaults are filled; each error names the field.
func (c Config) Validate() error {
	c = c.WithDefaults()
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if len(c.Rules) == 0 {
		bad("metrics: at least one metric is needed")
	}
	if !(c.Confidence > 0.5 && c.Confidence < 1) {
		bad("confidence: expected a value in (0.5, 1), got %v", c.Confidence)
	}
	if !(c.Power > 0.5 && c.Power < 1) {
		bad("power: expected a value in (0.5, 1), got %v", c.Power)
	}
	if !(c.PassScore > 0 && c.PassScore <= 100) {
		bad("pass_score: expected a value in (0, 100], got %v", c.PassScore)
	}
	if !(c.MarginalScore > 0 && c.MarginalScore <= c.PassScore) {
		bad("marginal_score: expected a value in (0, pass_score], got %v", c.MarginalScore)
	}
	seen := map[string]bool{}
	for i, r := range c.Rules {
		at := fmt.Sprintf("metrics[%d]", i)
		if r.Metric != "" {
			at += fmt.Sprintf(" (%s)", r.Metric)
		}
		switch {
		case r.Metric == "":
			bad("%s: metric: a name is needed", at)
		case seen[r.Metric]:
			bad("%s: metric: listed twice", at)
		}
		seen[r.Metric] = true
		switch r.Direction {
		case Increase, Decrease, Both:
		default:
			bad("%s: direction: expected increase, decrease or both, got %q", at, r.Direction)
		}
		if !(r.Weight > 0) || math.IsInf(r.Weight, 0) {
			bad("%s: weight: expected a positive number, got %v", at, r.Weight)
		}
		if r.MinSamples < 2 {
			bad("%s: min_samples: expected at least 2, got %d", at, r.MinSamples)
		}
		if math.IsNaN(float64(r.AllowedEffect)) || math.IsInf(float64(r.AllowedEffect), 0) {
			bad("%s: allowed_effect: expected a finite relative effect", at)
		}
		if !(r.DetectEffect > r.AllowedEffect) || math.IsInf(float64(r.DetectEffect), 0) {
			bad("%s: detect_effect: expected more than allowed_effect %v, got %v", at, r.AllowedEffect, r.DetectEffect)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("judge: invalid judge config: %w", errors.Join(errs...))
	}
	return nil
}

// The classes of a judged metric.
const (
	ClassPass   = "pass"
	ClassHigh   = "high"
	ClassLow    = "low"
	ClassNoData = "no-data"
)

// The verdicts of a stage.
const (
	VerdictPass     = "pass"
	VerdictMarginal = "marginal"
	VerdictFail     = "fail"
)

// MetricVerdict is the judge's evidence on one metric. Every number is
// finite (zero when there is no data), so a verdict always encodes to JSON.
type MetricVerdict struct {
	Metric   string  `json:"metric"`
	Class    string  `json:"class"`
	Critical bool    `json:"critical"`
	Weight   float64 `json:"weight"`
	// NBaseline and NCanary count the finite samples judged; DroppedBaseline
	// and DroppedCanary the NaN or infinite ones left out.
	NBaseline       int `json:"n_baseline"`
	NCanary         int `json:"n_canary"`
	DroppedBaseline int `json:"dropped_baseline"`
	DroppedCanary   int `json:"dropped_canary"`
	// NeededSamples is how many samples per cohort the window needs (see
	// Config.SamplesNeeded), times VarianceInflation; fewer makes the
	// verdict low-confidence.
	NeededSamples int `json:"n_needed"`
	// BaselineMedian and CanaryMedian are the cohorts' medians.
	BaselineMedian float64 `json:"baseline_median"`
	CanaryMedian   float64 `json:"canary_median"`
	// Shift is the Hodges–Lehmann estimate of canary − baseline, CILow and
	// CIHigh its confidence interval; RelShift, RelCILow and RelCIHigh are the
	// same relative to the baseline's scale (see Judge).
	Shift     float64 `json:"shift"`
	CILow     float64 `json:"ci_low"`
	CIHigh    float64 `json:"ci_high"`
	RelShift  float64 `json:"rel_shift"`
	RelCILow  float64 `json:"rel_ci_low"`
	RelCIHigh float64 `json:"rel_ci_high"`
	// U is the Mann–Whitney statistic (canary above baseline pairs, ties
	// counting half), PValue its two-sided p-value and Exact whether it comes
	// from the exact null distribution.
	U      float64 `json:"u"`
	PValue float64 `json:"p_value"`
	Exact  bool    `json:"exact"`
	// Autocorr is the lag-1 autocorrelation of the scrape-paired rank-score
	// differences (bias-corrected, clamped to [0, 0.95]) and
	// VarianceInflation the factor (≥ 1) by which it widened the interval's
	// variance: the samples count as NCanary/VarianceInflation independent
	// ones (see Judge).
	Autocorr          float64 `json:"autocorr"`
	VarianceInflation float64 `json:"variance_inflation"`
	// Why says in words how the class was reached.
	Why string `json:"why"`
}

// Verdict is the judge's decision on one canary stage, with its evidence.
type Verdict struct {
	Verdict string  `json:"verdict"`
	Score   float64 `json:"score"`
	// Confidence is the level of every interval.
	Confidence float64         `json:"confidence"`
	Metrics    []MetricVerdict `json:"metrics"`
	// Reasons say what set the verdict.
	Reasons []string `json:"reasons"`
	// LowConfidence is set when some metric was judged on fewer samples than
	// its NeededSamples.
	LowConfidence bool `json:"low_confidence"`
}

// Judge compares the canary's samples of each configured metric with the
// baseline's, collected over the same window, and decides the stage.
//
// Per metric: NaN and infinite samples are dropped (and counted, never read
// as zero); with fewer than MinSamples finite samples on either side the
// metric is no-data. Otherwise the shift is the Hodges–Lehmann estimate (the
// median of all canary − baseline differences) with the distribution-free
// interval at cfg.Confidence obtained by inverting the Mann–Whitney test
// (exact below 50 samples a side without ties, else the normal approximation
// with tie and continuity correction). Scrapes are not independent: the
// null variance of U, and so the p-value and the interval, is inflated by the
// AR(1) variance factor of the lag-1 autocorrelation of the scrape-paired
// rank-score differences (canary and baseline samples paired by index, so a
// drift shared by both cohorts cancels), which deflates the effective sample
// size to n/f; when f > 1 the normal approximation is used (see rankAutocorr
// in stats.go). The relative shift divides by the
// magnitude of the baseline median, or when that is zero the mean magnitude
// of the baseline, then of the canary (both all zero: 1).
//
// The class rule, for a metric whose increase is bad: high when the interval
// lies wholly above zero (the canary is significantly higher at the test's
// level, one-sided (1−Confidence)/2) and the estimated relative shift exceeds
// AllowedEffect; otherwise pass. A decrease is judged the mirror way (low),
// and Both judges either side. A significant change in the good direction
// passes, and its Why says so.
//
// The verdict: the score is the weighted share of passing metrics among those
// with data, 0–100. The stage fails when a critical metric is high or low,
// when a critical metric or half or more of the metrics have no data, or when
// the score is below MarginalScore; it is marginal when the score is below
// PassScore or when any metric has no data (the judge never promotes on
// missing data); else it passes. Judge returns an error only when cfg is
// invalid.
func Judge(cfg Config, baseline, canary map[string][]float64) (Verdict, error) {
	if err := cfg.Validate(); err != nil {
		return Verdict{}, err
	}
	cfg = cfg.WithDefaults()
	v := Verdict{Confidence: cfg.Confidence, Metrics: make([]MetricVerdict, 0, len(cfg.Rules))}
	reason := func(format string, args ...any) { v.Reasons = append(v.Reasons, fmt.Sprintf(format, args...)) }

	var wAll, wPass float64
	noData, criticalBad, criticalNoData := 0, false, false
	var lowConf []string
	for _, r := range cfg.Rules {
		mv := judgeMetric(r, cfg, baseline[r.Metric], canary[r.Metric])
		v.Metrics = append(v.Metrics, mv)
		if mv.Class == ClassNoData {
			noData++
			if r.Critical {
				criticalNoData = true
				reason("critical metric %s has no data", r.Metric)
			}
			continue
		}
		wAll += r.Weight
		if mv.Class == ClassPass {
			wPass += r.Weight
		} else if r.Critical {
			criticalBad = true
			reason("critical metric %s is %s: %s", r.Metric, mv.Class, mv.Why)
		}
		if min(mv.NBaseline, mv.NCanary) < mv.NeededSamples {
			lowConf = append(lowConf, fmt.Sprintf("%s (%d of %d)", r.Metric, min(mv.NBaseline, mv.NCanary), mv.NeededSamples))
		}
	}
	if wAll > 0 {
		v.Score = 100 * wPass / wAll
	}
	half := 2*noData >= len(cfg.Rules)
	switch {
	case criticalBad || criticalNoData:
		v.Verdict = VerdictFail
	case half:
		v.Verdict = VerdictFail
		reason("%d of %d metrics have no data", noData, len(cfg.Rules))
	case v.Score < cfg.MarginalScore:
		v.Verdict = VerdictFail
		reason("score %.1f is below the marginal score %.0f", v.Score, cfg.MarginalScore)
	case v.Score < cfg.PassScore:
		v.Verdict = VerdictMarginal
		reason("score %.1f is below the pass score %.0f", v.Score, cfg.PassScore)
	case noData > 0:
		v.Verdict = VerdictMarginal
		reason("%d of %d metrics have no data; never promote on missing data", noData, len(cfg.Rules))
	default:
		v.Verdict = VerdictPass
		reason("score %.1f is at least the pass score %.0f", v.Score, cfg.PassScore)
	}
	if len(lowConf) > 0 {
		v.LowConfidence = true
		reason("low confidence: fewer samples than needed for %s", strings.Join(lowConf, ", "))
	}
	return v, nil
}

// judgeMetric classifies one metric; r has its defaults filled.
func judgeMetric(r Rule, cfg Config, base, can []float64) MetricVerdict {
	x, dx := models.FiniteSorted(base)
	y, dy := models.FiniteSorted(can)
	mv := MetricVerdict{
		Metric: r.Metric, Critical: r.Critical, Weight: r.Weight,
		NBaseline: len(x), NCanary: len(y), DroppedBaseline: dx, DroppedCanary: dy,
		NeededSamples: r.MinSamples,
	}
	if len(x) < r.MinSamples || len(y) < r.MinSamples {
		mv.Class = ClassNoData
		var parts []string
		for _, s := range []struct {
			name      string
			n, drop   int
			submitted int
		}{{"baseline", len(x), dx, len(base)}, {"canary", len(y), dy, len(can)}} {
			if s.n >= r.MinSamples {
				continue
			}
			p := fmt.Sprintf("%s has %d finite samples", s.name, s.n)
			if s.drop > 0 {
				p += fmt.Sprintf(" (%d NaN/Inf dropped)", s.drop)
			}
			parts = append(parts, p)
		}
		mv.Why = fmt.Sprintf("no data: %s, need %d", strings.Join(parts, " and "), r.MinSamples)
		return mv
	}
	mv.BaselineMedian, mv.CanaryMedian = sortedMedian(x), sortedMedian(y)
	pooled := append(slices.Clone(y), x...)
	slices.Sort(pooled)
	rho, vif := rankAutocorr(base, can, pooled)
	mv.Autocorr, mv.VarianceInflation = rho, vif
	rt := mannWhitney(y, x).inflate(vif)
	mv.U, mv.PValue, mv.Exact = rt.U, rt.PValue(), rt.Exact
	mv.Shift, mv.CILow, mv.CIHigh = hodgesLehmann(y, x, rt, cfg.Confidence)
	scale := relScale(x, y)
	mv.RelShift, mv.RelCILow, mv.RelCIHigh = mv.Shift/scale, mv.CILow/scale, mv.CIHigh/scale
	mv.NeededSamples = max(r.MinSamples, inflateSamples(samplesForRule(x, r, cfg), vif))

	allowed := float64(r.AllowedEffect)
	up := mv.CILow > 0 // significantly higher
	down := mv.CIHigh < 0
	pct := func(f float64) string { return fmt.Sprintf("%+.1f%%", 100*f) }
	ci := fmt.Sprintf("%s [%s, %s] at %g%%, p=%.3g", pct(mv.RelShift), pct(mv.RelCILow), pct(mv.RelCIHigh), 100*cfg.Confidence, mv.PValue)
	badUp := r.Direction == Increase || r.Direction == Both
	badDown := r.Direction == Decrease || r.Direction == Both
	switch {
	case up && badUp && mv.RelShift > allowed:
		mv.Class = ClassHigh
		mv.Why = fmt.Sprintf("canary higher by %s, more than the allowed %s", ci, r.AllowedEffect)
	case down && badDown && mv.RelShift < -allowed:
		mv.Class = ClassLow
		mv.Why = fmt.Sprintf("canary lower by %s, more than the allowed -%s", ci, r.AllowedEffect)
	case up && badUp:
		mv.Class = ClassPass
		mv.Why = fmt.Sprintf("canary higher by %s, within the allowed %s", ci, r.AllowedEffect)
	case down && badDown:
		mv.Class = ClassPass
		mv.Why = fmt.Sprintf("canary lower by %s, within the allowed -%s", ci, r.AllowedEffect)
	case up:
		mv.Class = ClassPass
		mv.Why = fmt.Sprintf("canary higher by %s, the good direction", ci)
	case down:
		mv.Class = ClassPass
		mv.Why = fmt.Sprintf("canary lower by %s, the good direction", ci)
	default:
		mv.Class = ClassPass
		mv.Why = fmt.Sprintf("no significant difference: %s", ci)
	}
	return mv
}

// relScale is the magnitude relative shifts are measured against: the
// baseline median's, else the mean magnitude of the baseline, then of the
// canary, else 1.
func relScale(x, y []float64) float64 {
	if s := math.Abs(sortedMedian(x)); s > 0 {
		return s
	}
	for _, xs := range [][]float64{x, y} {
		var s float64
		for _, v := range xs {
			s += math.Abs(v)
		}
		if s > 0 {
			return s / float64(len(xs))
		}
	}
	return 1
}
