package judge

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/passflow/passflow/models"
)

// bakeHours builds 18 hours of 15-second scrapes from 14:00: the baseline's
// cost follows the load (dearer per request at night), the canary's is the
// baseline's times change(hour); the canary's latency is latency(hour).
// Noise is lognormal, 5% on the baseline, twice that on the canary (a 25%
// cohort).
func bakeHours(seed uint64, change func(h int) float64, latency func(h int) float64) []BakeHour {
	rng := rand.New(rand.NewPCG(seed, 7))
	noisy := func(v, sd float64) float64 { return v * math.Exp(sd*rng.NormFloat64()-sd*sd/2) }
	start := time.Date(2026, 6, 1, 14, 0, 0, 0, time.UTC)
	var out []BakeHour
	for k := range 18 {
		from := start.Add(time.Duration(k) * time.Hour)
		h := from.Hour()
		load := 1 + 0.45*math.Cos(2*math.Pi*float64(h-14)/24)
		cost := 1 / load
		hr := BakeHour{From: from, Baseline: map[string][]float64{}, Canary: map[string][]float64{}}
		for range 240 {
			hr.Baseline["cost"] = append(hr.Baseline["cost"], noisy(cost, 0.05))
			hr.Canary["cost"] = append(hr.Canary["cost"], noisy(cost*change(h), 0.10))
			hr.Canary["latency"] = append(hr.Canary["latency"], noisy(latency(h), 0.10))
		}
		out = append(out, hr)
	}
	return out
}

func night(h int) bool { return h >= 20 || h < 6 }

func TestBake(t *testing.T) {
	limit := 250.0
	guard := []models.Constraint{{Metric: "latency", Max: &limit}}
	flat := func(v float64) func(int) float64 { return func(int) float64 { return v } }
	cases := []struct {
		name    string
		goal    models.Goal
		change  func(int) float64
		latency func(int) float64
		class   string
		broken  bool
	}{
		{"cheaper all day", models.Minimize, flat(0.98), flat(100), BakeGain, false},
		// The case a short stage at 14:00 cannot see: −2% by day, +6% at
		// night, +1.9% over the 18 hours.
		{"cheaper by day, dearer at night", models.Minimize,
			func(h int) float64 {
				if night(h) {
					return 1.06
				}
				return 0.98
			}, flat(100), BakeWorse, false},
		{"maximized: lower is worse", models.Maximize, flat(0.98), flat(100), BakeWorse, false},
		{"over the limit at night only", models.Minimize, flat(0.98),
			func(h int) float64 {
				if night(h) {
					return 300
				}
				return 100
			}, BakeGain, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := Bake(BakeInput{Objective: "cost", Goal: c.goal, Constraints: guard,
				Hours: bakeHours(1, c.change, c.latency), GainConfidence: 0.95, SLOConfidence: 0.95})
			if v.Class != c.class || v.Hours != 18 {
				t.Errorf("class %s over %d hours, want %s over 18: %s", v.Class, v.Hours, c.class, v.Why)
			}
			if got := len(v.Broken) > 0; got != c.broken {
				t.Fatalf("broken %v, want %v: %s", v.Broken, c.broken, v.Why)
			}
			if c.broken && (v.Broken[0].SLO.Metric != "latency" || !night(v.Broken[0].From.Hour())) {
				t.Errorf("breach %+v: want latency, at a night hour", v.Broken[0])
			}
			if !(v.Low <= v.Change && v.Change <= v.High) || v.SE <= 0 {
				t.Errorf("change %v [%v, %v], SE %v: want an interval around the change", v.Change, v.Low, v.High, v.SE)
			}
		})
	}
}

// TestBakeFalseGains: a canary the same as its baseline is called a gain,
// over many bakes, about as often as the one-sided confidence allows.
func TestBakeFalseGains(t *testing.T) {
	const runs = 400
	gains := 0
	for seed := range uint64(runs) {
		v := Bake(BakeInput{Objective: "cost", Goal: models.Minimize,
			Hours:          bakeHours(seed+10, func(int) float64 { return 1 }, func(int) float64 { return 100 }),
			GainConfidence: 0.95, SLOConfidence: 0.95})
		if v.Class == BakeGain {
			gains++
		}
	}
	t.Logf("A/A gains: %d of %d", gains, runs)
	if rate := float64(gains) / runs; rate > 0.08 {
		t.Errorf("A/A bakes called a gain %.1f%% of the time, want about 5%%", 100*rate)
	}
}

func TestBakeNoData(t *testing.T) {
	hours := []BakeHour{{From: time.Date(2026, 6, 1, 14, 0, 0, 0, time.UTC),
		Baseline: map[string][]float64{"cost": {1, 1, 1}}, Canary: map[string][]float64{"cost": {math.NaN()}}}}
	v := Bake(BakeInput{Objective: "cost", Goal: models.Minimize, Hours: hours, GainConfidence: 0.95, SLOConfidence: 0.95})
	if v.Class != BakeNoData || v.Hours != 0 || !strings.Contains(v.Why, "no hour") {
		t.Errorf("%+v: want no-data", v)
	}
}
