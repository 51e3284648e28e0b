package judge

import (
	"math"
	"testing"
	"time"
)

func TestSamplesNeeded(t *testing.T) {
	// σ = 0.2, mean 1, effect 10%, α = 0.02, power 0.95:
	// z = 2.3263 + 1.6449 = 3.9712, n = 2 · 3.9712² · 0.04 / (0.01 · 0.95493) = 132.1 → 133.
	tests := []struct {
		sd, mean, eff, alpha, power float64
		want                        int
	}{
		{0.2, 1, 0.1, 0.02, 0.95, 133},
		{20, 100, 0.1, 0.02, 0.95, 133},
		{0.05, 1, 0.1, 0.02, 0.95, 9},
		{0, 1, 0.1, 0.02, 0.95, 1},
		{0.2, 1, 0, 0.02, 0.95, math.MaxInt},
		{0.2, 0, 0.1, 0.02, 0.95, math.MaxInt},
		{math.NaN(), 1, 0.1, 0.02, 0.95, math.MaxInt},
		{0.2, 1, 0.1, 0, 0.95, math.MaxInt},
	}
	for _, tt := range tests {
		if got := SamplesNeeded(tt.sd, tt.mean, tt.eff, tt.alpha, tt.power); got != tt.want {
			t.Errorf("SamplesNeeded(%v, %v, %v, %v, %v) = %d, want %d", tt.sd, tt.mean, tt.eff, tt.alpha, tt.power, got, tt.want)
		}
	}
}

func TestJudgeConfigSamplesNeeded(t *testing.T) {
	cfg := Config{Rules: []Rule{{Metric: "a", Direction: Increase, AllowedEffect: 0.05}, {Metric: "b", Direction: Increase, AllowedEffect: 0.05}}}
	quiet := judgeSeq(40, func(i int) float64 { return 100 + float64(i%2) })
	if got := cfg.SamplesNeeded(map[string][]float64{"a": quiet, "b": quiet}); got != DefaultMinSamples {
		t.Errorf("quiet baseline needs %d, want the minimum %d", got, DefaultMinSamples)
	}
	noisy := judgeSeq(40, func(i int) float64 { return 100 + 20*float64(i%2*2-1) })
	// Positive, so sized on the log scale: SD of log(100 ± 20) ≈ 0.2053,
	// effect log 1.1: from the point estimate n = 2 · 3.9712² · 0.2053² /
	// (0.09531² · 0.95493) ≈ 153; from the SD's 80% upper bound,
	// 0.2053 · √(39/χ²₀.₂(39) = 39/31.65) = 0.2279, n ≈ 153 · 1.232 ≈ 189.
	if got := cfg.SamplesNeeded(map[string][]float64{"a": quiet, "b": noisy}); got < 185 || got > 195 {
		t.Errorf("noisy baseline needs %d, want about 189", got)
	}
}

func TestWaitFor(t *testing.T) {
	s := 15 * time.Second
	tests := []struct {
		need              int
		verify, cap, want time.Duration
		enough            bool
	}{
		{60, 30 * time.Minute, time.Hour, 30 * time.Minute, true},
		{200, 30 * time.Minute, time.Hour, 50 * time.Minute, true},
		{400, 30 * time.Minute, time.Hour, time.Hour, false},
		{400, 30 * time.Minute, 0, 100 * time.Minute, true},
		{math.MaxInt, 30 * time.Minute, time.Hour, time.Hour, false},
	}
	for _, tt := range tests {
		got, enough := WaitFor(tt.need, s, tt.verify, tt.cap)
		if got != tt.want || enough != tt.enough {
			t.Errorf("WaitFor(%d) = %v %v, want %v %v", tt.need, got, enough, tt.want, tt.enough)
		}
	}
}
