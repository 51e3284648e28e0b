package models

import (
	"math"
	"testing"
)

// TestResolve checks the canary's resolution against a hand computation.
func TestResolve(t *testing.T) {
	ptr := func(v float64) *float64 { return &v }
	p := Problem{Objective: "cost", Constraints: []Constraint{{Metric: "lat", Max: ptr(250)}, {Metric: "err", Max: ptr(0.01)}}}
	se := map[string]float64{"cost": 0.002, "lat": 0.5}
	r := Resolve(p, se, 1.0, 0.05, 0.25, 2)
	// The first stage (5%) is √20 = 4.47× noisier; 2.33·1.5 standard errors.
	if want := 2.33 * 1.5 * 0.5 * math.Sqrt(20) / 250; math.Abs(r.Margins["lat"]-want) > 1e-12 {
		t.Errorf("latency margin %v, want %v", r.Margins["lat"], want)
	}
	if _, ok := r.Margins["err"]; ok {
		t.Errorf("a guardrail without a standard error got a margin: %v", r.Margins)
	}
	// 25% beside 75%, over twice the window: 2 standard errors of the
	// difference; below 0.5% it is floored.
	diff := math.Hypot(0.002*2, 0.002/math.Sqrt(0.75)) / math.Sqrt(2)
	if want := math.Max(0.005, 2*diff); math.Abs(r.MinGain-want) > 1e-12 {
		t.Errorf("min gain %v, want %v", r.MinGain, want)
	}
	tight := r.Tighten(p)
	if _, hi := tight.Constraints[0].Lines(); math.Abs(hi-250*(1-r.Margins["lat"])) > 1e-9 {
		t.Errorf("tightened line %v", hi)
	}
	if _, hi := p.Constraints[0].Lines(); hi != 250 {
		t.Errorf("Tighten changed its input: line %v", hi)
	}
}
