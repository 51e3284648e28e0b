package judge

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/passflow/passflow/models"
)

func ptr(f float64) *float64 { return &f }

var seqCfg = Config{Rules: []Rule{
	{Metric: "latency_ms", Direction: Increase, AllowedEffect: 0.05, Critical: true},
	{Metric: "cpu", Direction: Increase, AllowedEffect: 0.05},
}}

var seqSLO = []models.Constraint{{Metric: "latency_ms", Max: ptr(150)}}

// lognormal draws n samples with median m and log-SD s.
func lognormal(rng *rand.Rand, n int, m, s float64) []float64 {
	return judgeSeq(n, func(int) float64 { return m * math.Exp(s*rng.NormFloat64()) })
}

// looksToAlarm returns the first look (4 samples each) at which
// CheckSequential alarms, or 0 when it never does within looks.
func looksToAlarm(t *testing.T, b, c map[string][]float64, looks int) int {
	for k := 1; k <= looks; k++ {
		cut := func(m map[string][]float64) map[string][]float64 {
			out := map[string][]float64{}
			for key, xs := range m {
				out[key] = xs[:min(len(xs), 4*k)]
			}
			return out
		}
		r, err := CheckSequential(seqCfg, seqSLO, cut(b), cut(c))
		if err != nil {
			t.Fatal(err)
		}
		if r.Breach {
			return k
		}
	}
	return 0
}

func TestSequentialAA(t *testing.T) {
	// A/A at high noise, SLO far away: over 30 looks the alarm rate must stay
	// well under α = 2% (the bound is for the worst case, P(exceed) = ½).
	rng := rand.New(rand.NewPCG(7, 7))
	alarms := 0
	const reps = 400
	for i := 0; i < reps; i++ {
		b := map[string][]float64{"latency_ms": lognormal(rng, 120, 100, 0.2)}
		c := map[string][]float64{"latency_ms": lognormal(rng, 120, 100, 0.2)}
		if looksToAlarm(t, b, c, 30) > 0 {
			alarms++
		}
	}
	if alarms > reps*2/100 {
		t.Errorf("A/A alarms in %d of %d waits, want at most 2%%", alarms, reps)
	}
}

func TestSequentialWorstCaseNull(t *testing.T) {
	// The SLO line at the canary's median: P(exceed) = ½ exactly, the null's
	// boundary. The alarm rate over 120 samples must stay near α or below.
	rng := rand.New(rand.NewPCG(8, 8))
	alarms := 0
	const reps = 2000
	cfg := Config{Rules: []Rule{{Metric: "x", Direction: Increase}}}
	for i := 0; i < reps; i++ {
		xs := lognormal(rng, 120, 100, 0.2)
		for k := 1; k <= 30; k++ {
			r, _ := CheckSequential(cfg, []models.Constraint{{Metric: "latency_ms", Max: ptr(100)}}, nil, map[string][]float64{"latency_ms": xs[:4*k]})
			if r.Breach {
				alarms++
				break
			}
		}
	}
	if alarms > reps*2/100 {
		t.Errorf("alarms in %d of %d waits at the null's boundary, want at most 2%%", alarms, reps)
	}
}

func TestSequentialBreach(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	tests := []struct {
		name       string
		canary     func() []float64
		maxLooks   int
		wantMetric string
	}{
		{"latency doubles from the start", func() []float64 { return lognormal(rng, 120, 200, 0.1) }, 2, "latency_ms"},
		{"latency doubles after 10 minutes", func() []float64 {
			xs := lognormal(rng, 120, 100, 0.1)
			for i := 40; i < 120; i++ {
				xs[i] *= 2
			}
			return xs
		}, 10 + 5, "latency_ms"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := map[string][]float64{"latency_ms": lognormal(rng, 120, 100, 0.1)}
			c := map[string][]float64{"latency_ms": tt.canary()}
			k := looksToAlarm(t, b, c, 30)
			if k == 0 || k > tt.maxLooks {
				t.Errorf("alarm at look %d, want within %d", k, tt.maxLooks)
			}
		})
	}
}

func TestSequentialMissingData(t *testing.T) {
	nan := math.NaN()
	c := map[string][]float64{"latency_ms": {nan, nan, nan, nan, nan, nan, nan, nan}}
	r, err := CheckSequential(seqCfg, seqSLO, map[string][]float64{"latency_ms": {1, 1, 1, 1, 1, 1, 1, 1}}, c)
	if err != nil {
		t.Fatal(err)
	}
	if r.Breach || len(r.Evidence) != 2 || r.Evidence[0].N != 0 {
		t.Errorf("got %+v, want two tests on no data, no breach", r)
	}
	// Below a Min guardrail counts too.
	low := map[string][]float64{"throughput": {1, 1, 1, 1, 1, 1, 1, 1, 1, 1}}
	r, _ = CheckSequential(Config{Rules: []Rule{{Metric: "x", Direction: Both}}},
		[]models.Constraint{{Metric: "throughput", Min: ptr(100)}}, nil, low)
	if !r.Breach || r.Evidence[0].Side != "below" {
		t.Errorf("got %+v, want a breach below the minimum", r)
	}
}

// TestSequentialLimitsAlone: without relative rules (a repair, the 100%
// stage) the check still watches the limits, and a relative change alone
// raises nothing.
func TestSequentialLimitsAlone(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	limit := 150.0
	cons := []models.Constraint{{Metric: "latency_ms", Max: &limit}}
	base := map[string][]float64{"latency_ms": lognormal(rng, 60, 100, 0.1)}
	over := map[string][]float64{"latency_ms": lognormal(rng, 60, 200, 0.1)}
	worse := map[string][]float64{"latency_ms": lognormal(rng, 60, 130, 0.1)} // 30% worse, under the limit
	if r, err := CheckSequential(Config{}, cons, base, over); err != nil || !r.Breach {
		t.Errorf("200 ms against a 150 ms limit with no rules: breach %v (%v), want one", r.Breach, err)
	}
	if r, err := CheckSequential(Config{}, cons, base, worse); err != nil || r.Breach {
		t.Errorf("130 ms against a 150 ms limit with no rules: breach %v (%v, %v), want none", r.Breach, r.Reasons, err)
	}
}
