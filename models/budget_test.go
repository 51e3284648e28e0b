package models

import (
	"math"
	"strings"
	"testing"
)

func TestBurnRate(t *testing.T) {
	// SLO 99.9%: the allowed error ratio is 0.001. An error ratio of 0.0144
	// burns at 14.4x, the SRE Workbook's 1h page threshold (2% of a 30-day
	// budget in one hour: 14.4 · 1h / 720h = 0.02).
	if got := BurnRate(0.0144, 0.999); math.Abs(got-14.4) > 1e-9 {
		t.Errorf("BurnRate = %v, want 14.4", got)
	}
	if !math.IsNaN(BurnRate(math.NaN(), 0.999)) || !math.IsNaN(BurnRate(0.1, 1)) {
		t.Error("want NaN for unknown inputs")
	}
	for _, c := range []struct{ ratio, want float64 }{{0, 1}, {0.00025, 0.75}, {0.001, 0}, {0.005, 0}} {
		if got := BudgetRemaining(0.999, c.ratio); math.Abs(got-c.want) > 1e-9 {
			t.Errorf("BudgetRemaining(%v) = %v, want %v", c.ratio, got, c.want)
		}
	}
}

func TestBudgetGate(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name                   string
		short, long, remaining float64
		ok                     bool
		reason                 string
	}{
		{"healthy", 0.0005, 0.0005, 0.8, true, "within"},
		{"both windows burning", 0.003, 0.002, 0.6, false, "burning at 3.00x (short window) and 2.00x (long window)"},
		{"short spike only", 0.01, 0.0008, 0.6, true, "within"},
		{"long only, recovered", 0.0002, 0.002, 0.6, true, "within"},
		{"spent", 0.0001, 0.0001, 0, false, "error budget is spent"},
		{"unknown", nan, 0.0001, 0.5, false, "missing error-ratio data"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, reason := BudgetGate(0.999, 1, tt.short, tt.long, tt.remaining)
			if ok != tt.ok || (tt.reason != "within" && !strings.Contains(reason, tt.reason)) {
				t.Errorf("got %v %q, want %v %q", ok, reason, tt.ok, tt.reason)
			}
		})
	}
}

func TestAnalyzeSkip(t *testing.T) {
	in := AnalyzeInput{
		SLO: 0.999, MaxBurnRate: 1,
		LatencyMs: []float64{10, 20, 30, 40, math.NaN()},
		Requests:  1000, Errors: 3, Cost: 5,
		ShortErrorRatio: 0.003, LongErrorRatio: 0.0025, WindowErrorRatio: 0.0004,
	}
	a := Analyze(in)
	if !a.Skip || !strings.Contains(a.Reason, "burning") {
		t.Errorf("got skip %v %q, want a skip for the burn", a.Skip, a.Reason)
	}
	if a.SLIs.ErrorRate != 0.003 || a.SLIs.CostPerRequest != 0.005 || math.Abs(a.SLIs.P95Ms-38.5) > 1e-9 || math.Abs(a.BudgetRemaining-0.6) > 1e-9 {
		t.Errorf("SLIs %+v remaining %v", a.SLIs, a.BudgetRemaining)
	}
	in.ShortErrorRatio, in.LongErrorRatio = 0.0002, 0.0003
	if a := Analyze(in); a.Skip {
		t.Errorf("skipped a healthy service: %q", a.Reason)
	}
	a = Analyze(AnalyzeInput{SLO: 0.999, MaxBurnRate: 1, ShortErrorRatio: math.NaN(), LongErrorRatio: 0, WindowErrorRatio: 0})
	if !a.Skip || len(a.SLIs.Missing) != 4 {
		t.Errorf("missing data: skip %v missing %v, want a skip and 4 missing SLIs", a.Skip, a.SLIs.Missing)
	}
}
