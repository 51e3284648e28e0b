package judge

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/passflow/passflow/models"
)

func judgeSeq(n int, f func(i int) float64) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = f(i)
	}
	return out
}

// judgeSpread is 30 distinct values from 17.1 to 22.9 in a mixed order, times scale.
func judgeSpread(scale float64) []float64 {
	return judgeSeq(30, func(i int) float64 { return scale * (100 + float64((i*7)%30) - 14.5) / 5 })
}

func TestJudgeMetricClasses(t *testing.T) {
	nan := math.NaN()
	base := judgeSpread(1)
	tests := []struct {
		name      string
		dir       Direction
		allowed   models.Percent
		base, can []float64
		class     string
		why       string
	}{
		{"identical constants", Increase, 0.05, judgeSeq(20, func(int) float64 { return 7 }), judgeSeq(20, func(int) float64 { return 7 }), ClassPass, "no significant difference"},
		{"higher constant", Increase, 0.05, judgeSeq(20, func(int) float64 { return 10 }), judgeSeq(20, func(int) float64 { return 12 }), ClassHigh, "more than the allowed 5%"},
		{"slightly higher constant", Increase, 0.05, judgeSeq(20, func(int) float64 { return 100 }), judgeSeq(20, func(int) float64 { return 101 }), ClassPass, "within the allowed 5%"},
		{"zero baseline", Increase, 0.05, judgeSeq(20, func(int) float64 { return 0 }), judgeSeq(20, func(int) float64 { return 0.001 }), ClassHigh, "more than the allowed"},
		{"same sample", Increase, 0.05, base, base, ClassPass, "no significant difference"},
		{"regression 50%", Increase, 0.05, base, judgeSeq(30, func(i int) float64 { return 1.5 * base[i] }), ClassHigh, "canary higher"},
		{"improvement", Increase, 0.05, base, judgeSeq(30, func(i int) float64 { return 0.5 * base[i] }), ClassPass, "the good direction"},
		{"decrease bad", Decrease, 0.05, base, judgeSeq(30, func(i int) float64 { return 0.5 * base[i] }), ClassLow, "canary lower"},
		{"both, higher", Both, 0.05, base, judgeSeq(30, func(i int) float64 { return 1.5 * base[i] }), ClassHigh, "canary higher"},
		{"both, lower", Both, 0.05, base, judgeSeq(30, func(i int) float64 { return 0.5 * base[i] }), ClassLow, "canary lower"},
		{"empty canary", Increase, 0.05, base, nil, ClassNoData, "canary has 0 finite samples"},
		{"empty both", Increase, 0.05, nil, []float64{}, ClassNoData, "baseline has 0 finite samples and canary has 0"},
		{"NaN canary", Increase, 0.05, base, judgeSeq(30, func(int) float64 { return nan }), ClassNoData, "(30 NaN/Inf dropped)"},
		{"too few", Increase, 0.05, base, []float64{1, 2, 3, nan, math.Inf(1)}, ClassNoData, "canary has 3 finite samples (2 NaN/Inf dropped), need 10"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Config{Rules: []Rule{{Metric: "m", Direction: tt.dir, AllowedEffect: tt.allowed}}}
			v, err := Judge(cfg, map[string][]float64{"m": tt.base}, map[string][]float64{"m": tt.can})
			if err != nil {
				t.Fatal(err)
			}
			mv := v.Metrics[0]
			if mv.Class != tt.class || !strings.Contains(mv.Why, tt.why) {
				t.Errorf("class %q why %q, want %q containing %q", mv.Class, mv.Why, tt.class, tt.why)
			}
			if _, err := json.Marshal(v); err != nil {
				t.Errorf("verdict does not encode: %v", err)
			}
		})
	}
}

func TestJudgeEvidence(t *testing.T) {
	base := judgeSpread(1)
	can := append(judgeSeq(30, func(i int) float64 { return 1.2 * base[i] }), math.NaN())
	v, err := Judge(Config{Rules: []Rule{{Metric: "m", Direction: Increase, AllowedEffect: 0.05}}},
		map[string][]float64{"m": base}, map[string][]float64{"m": can})
	if err != nil {
		t.Fatal(err)
	}
	mv := v.Metrics[0]
	if mv.NBaseline != 30 || mv.NCanary != 30 || mv.DroppedCanary != 1 {
		t.Errorf("counts %d/%d dropped %d, want 30/30 dropped 1", mv.NBaseline, mv.NCanary, mv.DroppedCanary)
	}
	if !(mv.CILow <= mv.Shift && mv.Shift <= mv.CIHigh && mv.CILow > 0) {
		t.Errorf("interval [%v, %v] around %v, want it above 0 and around the shift", mv.CILow, mv.CIHigh, mv.Shift)
	}
	if math.Abs(mv.RelShift-0.2) > 0.05 {
		t.Errorf("relative shift %v, want about 0.2", mv.RelShift)
	}
	b, _ := json.Marshal(v)
	for _, key := range []string{`"verdict"`, `"score"`, `"class"`, `"shift"`, `"ci_low"`, `"ci_high"`, `"n_baseline"`, `"n_canary"`} {
		if !strings.Contains(string(b), key) {
			t.Errorf("JSON lacks %s: %s", key, b)
		}
	}
}

func TestJudgeVerdict(t *testing.T) {
	base := judgeSpread(1)
	good := base
	bad := judgeSeq(30, func(i int) float64 { return 1.5 * base[i] })
	rules := func(n int, critical int) []Rule {
		var rs []Rule
		for i := 0; i < n; i++ {
			rs = append(rs, Rule{Metric: string(rune('a' + i)), Direction: Increase, AllowedEffect: 0.05, Critical: i == critical})
		}
		return rs
	}
	data := func(n int, bads, missing []int) (map[string][]float64, map[string][]float64) {
		b, c := map[string][]float64{}, map[string][]float64{}
		for i := 0; i < n; i++ {
			k := string(rune('a' + i))
			b[k], c[k] = base, good
		}
		for _, i := range bads {
			c[string(rune('a'+i))] = bad
		}
		for _, i := range missing {
			c[string(rune('a'+i))] = []float64{math.NaN()}
		}
		return b, c
	}
	tests := []struct {
		name          string
		n, critical   int
		bads, missing []int
		verdict       string
		score         float64
		reason        string
	}{
		{"all pass", 4, -1, nil, nil, VerdictPass, 100, "at least the pass score"},
		{"1 of 20 high", 20, -1, []int{3}, nil, VerdictPass, 95, "at least the pass score"},
		{"2 of 20 high", 20, -1, []int{3, 4}, nil, VerdictMarginal, 90, "below the pass score 95"},
		{"6 of 20 high", 20, -1, []int{1, 2, 3, 4, 5, 6}, nil, VerdictFail, 70, "below the marginal score 75"},
		{"critical high", 20, 3, []int{3}, nil, VerdictFail, 95, "critical metric d is high"},
		{"critical no data", 4, 0, nil, []int{0}, VerdictFail, 100, "critical metric a has no data"},
		{"half no data", 4, -1, nil, []int{1, 2}, VerdictFail, 100, "2 of 4 metrics have no data"},
		{"one no data", 4, -1, nil, []int{1}, VerdictMarginal, 100, "never promote on missing data"},
		{"all no data", 2, -1, nil, []int{0, 1}, VerdictFail, 0, "2 of 2 metrics have no data"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, c := data(tt.n, tt.bads, tt.missing)
			v, err := Judge(Config{Rules: rules(tt.n, tt.critical)}, b, c)
			if err != nil {
				t.Fatal(err)
			}
			if v.Verdict != tt.verdict || math.Abs(v.Score-tt.score) > 1e-9 || !strings.Contains(strings.Join(v.Reasons, "; "), tt.reason) {
				t.Errorf("got %s %.1f %q, want %s %.1f with %q", v.Verdict, v.Score, v.Reasons, tt.verdict, tt.score, tt.reason)
			}
		})
	}
}

func TestJudgeLowConfidence(t *testing.T) {
	// Noisy metric (SD about 30% of its level) on 12 samples: far fewer than
	// needed to see a 10% regression.
	b := judgeSeq(12, func(i int) float64 { return 100 + 30*math.Sin(float64(i)) })
	c := judgeSeq(12, func(i int) float64 { return 100 + 30*math.Cos(float64(i)) })
	v, err := Judge(Config{Rules: []Rule{{Metric: "m", Direction: Increase, AllowedEffect: 0.05}}},
		map[string][]float64{"m": b}, map[string][]float64{"m": c})
	if err != nil {
		t.Fatal(err)
	}
	if !v.LowConfidence || v.Metrics[0].NeededSamples <= 12 {
		t.Errorf("low confidence %v, needed %d; want true and > 12", v.LowConfidence, v.Metrics[0].NeededSamples)
	}
}

func TestJudgeConfigValidate(t *testing.T) {
	ok := Rule{Metric: "m", Direction: Increase, AllowedEffect: 0.05}
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"valid", Config{Rules: []Rule{ok}}, ""},
		{"no metrics", Config{}, "at least one metric"},
		{"bad direction", Config{Rules: []Rule{{Metric: "m", Direction: "up"}}}, `metrics[0] (m): direction: expected increase, decrease or both, got "up"`},
		{"no name", Config{Rules: []Rule{{Direction: Increase}}}, "metrics[0]: metric: a name is needed"},
		{"twice", Config{Rules: []Rule{ok, ok}}, "metrics[1] (m): metric: listed twice"},
		{"confidence", Config{Rules: []Rule{ok}, Confidence: 1.2}, "confidence: expected a value in (0.5, 1)"},
		{"scores", Config{Rules: []Rule{ok}, PassScore: 70, MarginalScore: 80}, "marginal_score"},
		{"weight", Config{Rules: []Rule{{Metric: "m", Direction: Both, Weight: -1}}}, "weight: expected a positive number"},
		{"detect", Config{Rules: []Rule{{Metric: "m", Direction: Both, AllowedEffect: 0.1, DetectEffect: 0.05}}}, "detect_effect"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("unexpected error %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "judge: ")):
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
			if tt.want != "" {
				if _, err := Judge(tt.cfg, nil, nil); err == nil {
					t.Error("Judge accepted an invalid config")
				}
			}
		})
	}
}

func TestParsePercent(t *testing.T) {
	for _, c := range []struct {
		in   string
		want models.Percent
		bad  bool
	}{
		{"5%", 0.05, false}, {"+5%", 0.05, false}, {" 2.5 % ", 0.025, false}, {"0.05", 0.05, false},
		{"-5%", -0.05, false}, {"five", 0, true}, {"5%%", 0, true}, {"", 0, true}, {"NaN", 0, true},
	} {
		got, err := models.ParsePercent(c.in)
		if (err != nil) != c.bad || (!c.bad && math.Abs(float64(got-c.want)) > 1e-15) {
			t.Errorf("ParsePercent(%q) = %v, %v; want %v (error %v)", c.in, got, err, c.want, c.bad)
		}
	}
	var r Rule
	if err := json.Unmarshal([]byte(`{"metric":"m","direction":"increase","allowed_effect":"+5%"}`), &r); err != nil || r.AllowedEffect != 0.05 {
		t.Errorf("JSON rule: %v %v", r.AllowedEffect, err)
	}
}
