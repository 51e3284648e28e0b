package models

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
)

func ptrV(v Value) *Value { return &v }

func testSpace() Space {
	return Space{
		{Name: "threads", Type: Int, Min: 4, Max: 256, Log: true, Current: ptrV(Num(32))},
		{Name: "ttl", Type: Float, Min: 0, Max: 10, Current: ptrV(Num(5))},
		{Name: "gc", Type: Categorical, Choices: []string{"a", "b", "c"}, Current: ptrV(Str("b"))},
	}
}

func TestSpaceUnitRoundTrip(t *testing.T) {
	s := testSpace()
	tests := []struct {
		cfg  Config
		unit []float64
	}{
		{Config{"threads": Num(4), "ttl": Num(0), "gc": Str("a")}, []float64{0, 0, 0}},
		{Config{"threads": Num(256), "ttl": Num(10), "gc": Str("c")}, []float64{1, 1, 1}},
		// log scale: 32 = 4·8 is half of 4..256 = 4·64 in log terms.
		{Config{"threads": Num(32), "ttl": Num(2.5), "gc": Str("b")}, []float64{0.5, 0.25, 0.5}},
	}
	for _, tt := range tests {
		u, err := s.ToUnit(tt.cfg)
		if err != nil {
			t.Fatal(err)
		}
		for i := range u {
			if math.Abs(u[i]-tt.unit[i]) > 1e-12 {
				t.Errorf("ToUnit(%s)[%d] = %v, want %v", tt.cfg, i, u[i], tt.unit[i])
			}
		}
		if back := s.FromUnit(u); !back.Equal(tt.cfg) {
			t.Errorf("FromUnit(ToUnit(%s)) = %s", tt.cfg, back)
		}
	}
	// Ints land on their grid, categoricals on a choice.
	c := s.FromUnit([]float64{0.31, 0.5, 0.74})
	if v := c["threads"].Float(); v != math.Round(v) {
		t.Errorf("int parameter came back as %v", v)
	}
	if c["gc"] != Str("b") {
		t.Errorf("categorical at 0.74 of 3 choices = %s, want b", c["gc"])
	}
}

func TestSpaceValidate(t *testing.T) {
	tests := []struct {
		name  string
		space Space
		want  string
	}{
		{"empty", Space{}, "params: expected at least one parameter"},
		{"min >= max", Space{{Name: "x", Type: Float, Min: 2, Max: 2}}, "params[0].max: expected max > min"},
		{"log needs min > 0", Space{{Name: "x", Type: Float, Min: 0, Max: 2, Log: true}}, "params[0].min: log scale needs min > 0"},
		{"unknown type", Space{{Name: "x", Type: "bool"}}, `params[0].type: unknown type "bool"`},
		{"duplicate", Space{{Name: "x", Type: Float, Max: 1}, {Name: "x", Type: Float, Max: 1}}, "params[1].name: duplicate parameter"},
		{"one choice", Space{{Name: "x", Type: Categorical, Choices: []string{"a"}}}, "params[0].choices: expected at least two choices"},
		{"current out of range", Space{{Name: "x", Type: Int, Min: 1, Max: 3, Current: ptrV(Num(7))}}, "params[0].current: expected a value in [1, 3]"},
		{"NaN bound", Space{{Name: "x", Type: Float, Min: math.NaN(), Max: 1}}, "params[0].min: expected finite min and max"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := tt.space.Validate("params")
			var all []string
			for _, e := range errs {
				all = append(all, e.Error())
			}
			if !strings.Contains(strings.Join(all, "\n"), tt.want) {
				t.Errorf("problems %q, want one containing %q", all, tt.want)
			}
		})
	}
	if errs := testSpace().Validate("params"); len(errs) != 0 {
		t.Errorf("valid space: %v", errs)
	}
}

func TestStepAndCheckConfig(t *testing.T) {
	s := testSpace()
	a := s.Current()
	b := Config{"threads": Num(64), "ttl": Num(6), "gc": Str("c")}
	step, cat, err := s.Step(a, b)
	if err != nil || math.Abs(step-1.0/6) > 1e-12 || cat != 1 {
		t.Errorf("Step = %v, %d, %v; want 1/6 (threads doubled of 64x on a log scale), 1 switch", step, cat, err)
	}
	bad := Config{"threads": Num(4.5), "ttl": Str("x"), "gc": Str("z"), "extra": Num(1)}
	err = s.CheckConfig(bad)
	for _, want := range []string{"threads: expected an integer", "ttl: expected a number", "gc: expected one of", "unknown parameter extra"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("CheckConfig error %v, want it to say %q", err, want)
		}
	}
}

func TestValueJSON(t *testing.T) {
	c := Config{"n": Num(1.5), "s": Str("x")}
	b, err := json.Marshal(c)
	if err != nil || string(b) != `{"n":1.5,"s":"x"}` {
		t.Fatalf("marshal = %s, %v", b, err)
	}
	var back Config
	if err := json.Unmarshal(b, &back); err != nil || !back.Equal(c) {
		t.Fatalf("round trip = %v, %v", back, err)
	}
	if _, err := json.Marshal(Config{"n": Num(math.NaN())}); err == nil {
		t.Error("a NaN value must not encode")
	}
}

func TestAssessRisk(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name string
		in   RiskInput
		want Band
	}{
		{"small step, confident model", RiskInput{Step: 0.05, MaxStep: 0.25, PViolation: 0.01, BudgetRemaining: nan}, BandLow},
		{"middle step", RiskInput{Step: 0.1, MaxStep: 0.25, PViolation: 0.01, BudgetRemaining: nan}, BandMedium},
		{"large step", RiskInput{Step: 0.2, MaxStep: 0.25, PViolation: 0.01, BudgetRemaining: nan}, BandHigh},
		{"outside the trust region", RiskInput{Step: 0.3, MaxStep: 0.25, PViolation: 0.01, BudgetRemaining: nan}, BandForbidden},
		{"budget spent", RiskInput{Step: 0.01, MaxStep: 0.25, PViolation: 0.01, BudgetRemaining: 0}, BandForbidden},
		{"violation likely", RiskInput{Step: 0.01, MaxStep: 0.25, PViolation: 0.6, BudgetRemaining: nan}, BandForbidden},
		{"violation plausible", RiskInput{Step: 0.01, MaxStep: 0.25, PViolation: 0.3, BudgetRemaining: nan}, BandHigh},
		{"no model", RiskInput{Step: 0.01, MaxStep: 0.25, PViolation: nan, BudgetRemaining: nan}, BandMedium},
		{"categorical switch", RiskInput{Step: 0, CategoricalChanges: 1, MaxStep: 0.25, PViolation: 0.01, BudgetRemaining: nan}, BandMedium},
		{"critical tier", RiskInput{Step: 0.05, MaxStep: 0.25, PViolation: 0.01, Tier: TierCritical, BudgetRemaining: nan}, BandMedium},
		{"best-effort tier", RiskInput{Step: 0.1, MaxStep: 0.25, PViolation: 0.01, Tier: TierBestEffort, BudgetRemaining: nan}, BandLow},
		{"little budget", RiskInput{Step: 0.1, MaxStep: 0.25, PViolation: 0.01, BudgetRemaining: 0.1}, BandHigh},
		{"a repair's step back", RiskInput{Step: 0.01, MaxStep: 0.25, PViolation: 0.7, BudgetRemaining: nan, Repair: true, BaselinePViolation: 0.95}, BandHigh},
		{"a step back no likelier to hold than the baseline", RiskInput{Step: 0.01, MaxStep: 0.25, PViolation: 0.7, BudgetRemaining: nan, Repair: true, BaselinePViolation: 0.6}, BandForbidden},
		{"a step back past one chance in ten", RiskInput{Step: 0.01, MaxStep: 0.25, PViolation: 0.95, BudgetRemaining: nan, Repair: true, BaselinePViolation: 0.999}, BandForbidden},
		{"a step back with the baseline's chance unknown", RiskInput{Step: 0.01, MaxStep: 0.25, PViolation: 0.7, BudgetRemaining: nan, Repair: true, BaselinePViolation: nan}, BandForbidden},
		{"no repair", RiskInput{Step: 0.01, MaxStep: 0.25, PViolation: 0.7, BudgetRemaining: nan, BaselinePViolation: 0.95}, BandForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := AssessRisk(tt.in)
			if r.Band != tt.want || len(r.Reasons) == 0 {
				t.Errorf("band %s (%v), want %s", r.Band, r.Reasons, tt.want)
			}
		})
	}
}

// TestReachAndStepWithin: a trust region never freezes an integer knob
// whose next value lies past max_step: the one-value move is allowed and
// measures max_step; every other move measures as Step does.
func TestReachAndStepWithin(t *testing.T) {
	s := Space{
		{Name: "conc", Type: Int, Min: 1, Max: 8, Current: ptrV(Num(2))},
		{Name: "batch", Type: Int, Min: 1, Max: 128, Log: true, Current: ptrV(Num(1))},
		{Name: "delay", Type: Float, Min: 0, Max: 10, Current: ptrV(Num(5))},
	}
	inc := s.Current()
	u, _ := s[0].ToUnit(Num(2))
	if down, up := s[0].Reach(u, 0.06); math.Abs(down-1.0/7) > 1e-12 || math.Abs(up-1.0/7) > 1e-12 {
		t.Errorf("conc reach from 2 at max_step 0.06: %v down, %v up; want one value (1/7) either way", down, up)
	}
	if down, up := s[2].Reach(0.5, 0.06); down != 0.06 || up != 0.06 {
		t.Errorf("a float's reach %v, %v; want max_step either way", down, up)
	}
	if down, _ := s[1].Reach(0, 0.06); down != 0 {
		t.Errorf("reach below the range's minimum %v, want 0", down)
	}
	tests := []struct {
		to   Config
		want float64
	}{
		{Config{"conc": Num(3), "batch": Num(1), "delay": Num(5)}, 0.06},   // one value up: at the edge
		{Config{"conc": Num(1), "batch": Num(2), "delay": Num(5)}, 0.06},   // one value down, and batch 1 → 2 on its log scale
		{Config{"conc": Num(4), "batch": Num(1), "delay": Num(5)}, 0.12},   // two values: twice the edge
		{Config{"conc": Num(2), "batch": Num(1), "delay": Num(5.3)}, 0.03}, // a float inside: as Step
	}
	for _, tt := range tests {
		got, _, err := s.StepWithin(inc, tt.to, 0.06)
		if err != nil || math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("StepWithin(%s) = %v (%v), want %v", tt.to, got, err, tt.want)
		}
	}
}
