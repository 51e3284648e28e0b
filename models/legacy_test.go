package models

import (
	"slices"
	"testing"
)

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
