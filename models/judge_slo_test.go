package models

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestJudgeSLOs(t *testing.T) {
	max250 := 250.0
	min90 := 0.9
	noisy := func(mean, sd float64, n int, seed uint64) []float64 {
		r := rand.New(rand.NewPCG(seed, 1))
		xs := make([]float64, n)
		for i := range xs {
			xs[i] = mean + sd*r.NormFloat64()
		}
		return xs
	}
	tests := []struct {
		name string
		c    Constraint
		xs   []float64
		want string
	}{
		{"far inside", Constraint{Metric: "m", Max: &max250}, noisy(94, 10, 120, 1), SLOKept},
		{"far over", Constraint{Metric: "m", Max: &max250}, noisy(300, 10, 120, 2), SLOBroken},
		{"at the limit", Constraint{Metric: "m", Max: &max250}, noisy(250, 10, 120, 3), SLOUndecided},
		{"inside, not inside the margin", Constraint{Metric: "m", Max: &max250, Margin: 0.1}, noisy(230, 5, 120, 4), SLOUndecided},
		{"inside the margin", Constraint{Metric: "m", Max: &max250, Margin: 0.1}, noisy(200, 5, 120, 5), SLOKept},
		{"min kept", Constraint{Metric: "m", Min: &min90}, noisy(0.95, 0.01, 60, 6), SLOKept},
		{"min broken", Constraint{Metric: "m", Min: &min90}, noisy(0.85, 0.01, 60, 7), SLOBroken},
		{"no data", Constraint{Metric: "m", Max: &max250}, []float64{math.NaN()}, SLONoData},
		{"too few samples", Constraint{Metric: "m", Max: &max250}, []float64{1, 2, 3}, SLOUndecided},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := JudgeSLOs([]Constraint{tt.c}, map[string][]float64{"m": tt.xs}, DefaultConfidence)
			if len(v) != 1 || v[0].Class != tt.want {
				t.Fatalf("got %+v, want %s", v, tt.want)
			}
		})
	}
}

// TestJudgeSLOsCoverage checks the interval against an independent oracle:
// at a true mean exactly on the limit, "broken" must come at most at the
// one-sided error rate (1%), also with AR(1)-correlated samples.
func TestJudgeSLOsCoverage(t *testing.T) {
	max100 := 100.0
	c := Constraint{Metric: "m", Max: &max100}
	for _, rho := range []float64{0, 0.5} {
		r := rand.New(rand.NewPCG(42, uint64(rho*10)))
		broken, runs := 0, 2000
		for range runs {
			xs := make([]float64, 120)
			e := 0.0
			for i := range xs {
				e = rho*e + math.Sqrt(1-rho*rho)*r.NormFloat64()
				xs[i] = 100 + 5*e
			}
			if JudgeSLOs([]Constraint{c}, map[string][]float64{"m": xs}, DefaultConfidence)[0].Class == SLOBroken {
				broken++
			}
		}
		if rate := float64(broken) / float64(runs); rate > 0.02 {
			t.Errorf("ρ=%v: broken at the limit %.1f%% of the time, want ≤ 1%% (+ noise)", rho, 100*rate)
		}
	}
}

func TestRepairLegacy(t *testing.T) {
	max250 := 250.0
	cs := []Constraint{{Metric: "lat", Max: &max250}}
	obs := []Observation{
		{Objective: 1, Constraints: map[string]float64{"lat": 252.5}},                  // made up by an old pass
		{Objective: 1, Constraints: map[string]float64{"lat": 120}},                    // measured
		{Objective: 1, Constraints: map[string]float64{"lat": 252.5}, Verdict: "fail"}, // a new record, measured
	}
	got, n := RepairLegacy(obs, cs)
	if n != 1 {
		t.Fatalf("repaired %d, want 1", n)
	}
	if _, ok := got[0].Constraints["lat"]; ok || !slices.Equal(got[0].Violated, []string{"lat"}) {
		t.Errorf("legacy observation %+v: want the made-up value dropped and lat labeled violated", got[0])
	}
	if got[1].Constraints["lat"] != 120 || got[2].Constraints["lat"] != 252.5 {
		t.Errorf("measured values changed: %+v", got)
	}
	if obs[0].Constraints["lat"] != 252.5 {
		t.Error("RepairLegacy modified its input")
	}
}

// TestPointNoise: a point measured with a large standard error pulls the
// posterior mean far less than the same point measured precisely.
func TestPointNoise(t *testing.T) {
	h := gpHyper{ls: []float64{0.3}, sf2: 1, noise: 1e-4}
	x := []float64{0.1, 0.5, 0.9}
	y := []float64{0, 3, 0}
	precise, err := newGP([]bool{false}, x, y, nil, h)
	if err != nil {
		t.Fatal(err)
	}
	vague, err := newGP([]bool{false}, x, y, []float64{0, 10, 0}, h)
	if err != nil {
		t.Fatal(err)
	}
	mp, _ := precise.predict([]float64{0.5}, 1)
	mv, _ := vague.predict([]float64{0.5}, 1)
	yp := mp[0]*precise.ysd + precise.ymu
	yv := mv[0]*vague.ysd + vague.ymu
	if math.Abs(yp-3) > 0.05 || yv > 2 {
		t.Errorf("posterior at the point: precise %.3f (want ≈3), vague %.3f (want well below 3)", yp, yv)
	}
}
