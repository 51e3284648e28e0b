package judge

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/passflow/passflow/models"
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
		c    models.Constraint
		xs   []float64
		want string
	}{
		{"far inside", models.Constraint{Metric: "m", Max: &max250}, noisy(94, 10, 120, 1), SLOKept},
		{"far over", models.Constraint{Metric: "m", Max: &max250}, noisy(300, 10, 120, 2), SLOBroken},
		{"at the limit", models.Constraint{Metric: "m", Max: &max250}, noisy(250, 10, 120, 3), SLOUndecided},
		{"inside, not inside the margin", models.Constraint{Metric: "m", Max: &max250, Margin: 0.1}, noisy(230, 5, 120, 4), SLOUndecided},
		{"inside the margin", models.Constraint{Metric: "m", Max: &max250, Margin: 0.1}, noisy(200, 5, 120, 5), SLOKept},
		{"min kept", models.Constraint{Metric: "m", Min: &min90}, noisy(0.95, 0.01, 60, 6), SLOKept},
		{"min broken", models.Constraint{Metric: "m", Min: &min90}, noisy(0.85, 0.01, 60, 7), SLOBroken},
		{"no data", models.Constraint{Metric: "m", Max: &max250}, []float64{math.NaN()}, SLONoData},
		{"too few samples", models.Constraint{Metric: "m", Max: &max250}, []float64{1, 2, 3}, SLOUndecided},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := SLOs([]models.Constraint{tt.c}, map[string][]float64{"m": tt.xs}, DefaultConfidence)
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
	c := models.Constraint{Metric: "m", Max: &max100}
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
			if SLOs([]models.Constraint{c}, map[string][]float64{"m": xs}, DefaultConfidence)[0].Class == SLOBroken {
				broken++
			}
		}
		if rate := float64(broken) / float64(runs); rate > 0.02 {
			t.Errorf("ρ=%v: broken at the limit %.1f%% of the time, want ≤ 1%% (+ noise)", rho, 100*rate)
		}
	}
}
