package bo

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/passflow/passflow/models"
)

// TestMinGain: once the history is long enough for the model to speak, a
// flat objective offers nothing worth a canary, and Ask says so.
func TestMinGain(t *testing.T) {
	space := models.Space{{Name: "x", Type: models.Float, Min: 0, Max: 1}, {Name: "y", Type: models.Float, Min: 0, Max: 1}}
	p := models.Problem{Space: space, Objective: "cost"}
	inc := models.Config{"x": models.Num(0.5), "y": models.Num(0.5)}
	o, err := New(p, Options{Seed: 1, Region: &models.TrustRegion{Incumbent: inc, MaxStep: 0.2}, MinGain: 0.05})
	if err != nil {
		t.Fatal(err)
	}
	for i := range minGainFrom(2) + 2 {
		x, y := 0.4+0.05*float64(i%5), 0.4+0.05*float64(i/5)
		ob := models.Observation{Config: models.Config{"x": models.Num(x), "y": models.Num(y)}, Objective: 1 + 1e-4*float64(i%3),
			Uncertainty: map[string]float64{"cost": 1e-4}}
		if err := o.Tell(ob); err != nil {
			t.Fatal(err)
		}
	}
	_, err = o.Ask(1)
	if !errors.Is(err, models.ErrNoGain) {
		t.Fatalf("got %v, want ErrNoGain on a flat objective", err)
	}
}

// TestClipPast: the guardrail models see values at most 2× past a limit,
// on the scale they model.
func TestClipPast(t *testing.T) {
	ident := func(v float64) float64 { return v }
	tests := []struct {
		name string
		c    models.Constraint
		tf   func(float64) float64
		in   []float64
		want []float64
	}{
		{"max, log scale", models.Constraint{Max: fptr(0.002)}, math.Log,
			[]float64{math.Log(0.0002), math.Log(0.003), math.Log(0.5)}, []float64{math.Log(0.0002), math.Log(0.003), math.Log(0.004)}},
		{"min, log scale", models.Constraint{Min: fptr(0.9)}, math.Log,
			[]float64{math.Log(0.95), math.Log(0.1)}, []float64{math.Log(0.95), math.Log(0.45)}},
		{"max at zero, linear", models.Constraint{Max: fptr(0)}, ident, []float64{-1, 5}, []float64{-1, 0}},
		{"negative max, linear", models.Constraint{Max: fptr(-10)}, ident, []float64{-30, 5}, []float64{-30, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ys := append([]float64(nil), tt.in...)
			clipPast(tt.c, ys, tt.tf)
			for i := range ys {
				if math.Abs(ys[i]-tt.want[i]) > 1e-12 {
					t.Errorf("clipped %v to %v, want %v", tt.in, ys, tt.want)
					break
				}
			}
		})
	}
}

// TestGainSD: the model's spread of the change from the incumbent to a
// nearby candidate is well below the candidate's own spread (the two share
// most of what the model does not know), zero at the incumbent itself, and
// grows with the distance.
func TestGainSD(t *testing.T) {
	space := models.Space{{Name: "x", Type: models.Float, Min: 0, Max: 1}, {Name: "y", Type: models.Float, Min: 0, Max: 1}}
	p := models.Problem{Space: space, Objective: "cost"}
	inc := models.Config{"x": models.Num(0.5), "y": models.Num(0.5)}
	o, err := New(p, Options{Seed: 1, Region: &models.TrustRegion{Incumbent: inc, MaxStep: 0.2}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 12 {
		x, y := 0.3+0.1*float64(i%4), 0.3+0.15*float64(i/4)
		ob := models.Observation{Config: models.Config{"x": models.Num(x), "y": models.Num(y)}, Objective: 1 + 0.3*(x-0.5)*(x-0.5) + 0.1*y + 0.01*float64(i%3),
			Uncertainty: map[string]float64{"cost": 0.01}}
		if err := o.Tell(ob); err != nil {
			t.Fatal(err)
		}
	}
	m, err := o.buildModel(rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	xi, _ := o.enc.encode(inc)
	near, _ := o.enc.encode(models.Config{"x": models.Num(0.53), "y": models.Num(0.5)})
	far, _ := o.enc.encode(models.Config{"x": models.Num(0.7), "y": models.Num(0.5)})
	if sd := m.gainSD(xi, xi); sd > 1e-9 {
		t.Errorf("the change from the incumbent to itself has sd %g, want 0", sd)
	}
	own, gNear, gFar := m.prediction(near).SD, m.gainSD(near, xi), m.gainSD(far, xi)
	if !(gNear < 0.75*own) || !(gNear < gFar) {
		t.Errorf("sd of the change to a near candidate %g, to a far one %g, the near candidate's own sd %g: "+
			"want the near change under 3/4 of its own sd, and under the far one's", gNear, gFar, own)
	}
}

// TestRepair: with an incumbent that breaks its guardrail, every safe
// candidate costs objective; a plain pass finds nothing worth a canary, a
// repair proposes the cheapest configuration believed to keep the line.
func TestRepair(t *testing.T) {
	space := models.Space{{Name: "x", Type: models.Float, Min: 0, Max: 1}}
	p := models.Problem{Space: space, Objective: "cost", Constraints: []models.Constraint{{Metric: "latency", Max: fptr(150)}}}
	inc := models.Config{"x": models.Num(0.45)} // latency 155: over the line
	var obs []models.Observation
	for i := range 12 {
		x := 0.2 + 0.05*float64(i)
		obs = append(obs, models.Observation{Config: models.Config{"x": models.Num(x)}, Objective: 1 + x,
			Constraints: map[string]float64{"latency": 200 - 100*x},
			Uncertainty: map[string]float64{"cost": 0.005, "latency": 1}})
	}
	ask := func(repair []string) (models.Suggestion, error) { return askOnce(t, p, inc, obs, repair) }
	if s, err := ask(nil); !errors.Is(err, models.ErrNoGain) {
		t.Errorf("a plain pass: %v (%s), want ErrNoGain: every safe step costs objective", err, s.Config)
	}
	s, err := ask([]string{"latency"})
	if err != nil {
		t.Fatalf("a repair: %v", err)
	}
	if x := s.Config["x"].Float(); x < 0.5 || x > 0.62 || s.Prediction.PAllFeasible < 0.95 || !strings.HasPrefix(s.Why, "repair") {
		t.Errorf("a repair proposed x=%v with P(feasible) %.3f (%s); want the cheapest x believed to keep latency <= 150, just past 0.5",
			x, s.Prediction.PAllFeasible, s.Why)
	}
}

// TestRepairSpendsNoHeadroom: a repair restores the broken guardrail and
// does not buy back its cost with another's headroom. Latency, over its
// line at the incumbent, falls with x; memory, well inside its own, rises
// as y falls, and so does the cost. The cheapest step believed safe would
// raise x and lower y; a repair raises x and leaves memory no nearer its
// line.
func TestRepairSpendsNoHeadroom(t *testing.T) {
	space := models.Space{
		{Name: "x", Type: models.Float, Min: 0, Max: 1},
		{Name: "y", Type: models.Float, Min: 0, Max: 1},
	}
	p := models.Problem{Space: space, Objective: "cost", Constraints: []models.Constraint{
		{Metric: "latency", Max: fptr(150)}, {Metric: "memory", Max: fptr(100)}}}
	inc := models.Config{"x": models.Num(0.45), "y": models.Num(0.5)} // latency 155, memory 70
	var obs []models.Observation
	for i := range 5 {
		for j := range 5 {
			x, y := 0.3+0.075*float64(i), 0.3+0.1*float64(j)
			obs = append(obs, models.Observation{Config: models.Config{"x": models.Num(x), "y": models.Num(y)},
				Objective:   1 + x + y,
				Constraints: map[string]float64{"latency": 200 - 100*x, "memory": 40 + 60*(1-y)},
				Uncertainty: map[string]float64{"cost": 0.005, "latency": 1, "memory": 1}})
		}
	}
	s, err := askOnce(t, p, inc, obs, []string{"latency"})
	if err != nil {
		t.Fatalf("a repair: %v", err)
	}
	x, y := s.Config["x"].Float(), s.Config["y"].Float()
	if x <= 0.5 || y < 0.49 || !strings.Contains(s.Why, "repair (the incumbent breaks latency)") {
		t.Errorf("a repair proposed x=%.3f y=%.3f (%s); want x past 0.5 (latency restored) and y not below 0.5 (memory no nearer its line)", x, y, s.Why)
	}
}

// TestRepairStepsBack: an incumbent far past its line, no candidate within
// reach likely to keep it. A repair steps back toward the line when a
// restoring candidate is likelier to keep every guardrail than the
// incumbent and has a chance in ten; with none that likely, it proposes
// nothing.
func TestRepairStepsBack(t *testing.T) {
	space := models.Space{{Name: "x", Type: models.Float, Min: 0, Max: 1}}
	p := models.Problem{Space: space, Objective: "cost", Constraints: []models.Constraint{{Metric: "latency", Max: fptr(150)}}}
	inc := models.Config{"x": models.Num(0.4)}
	// Latency falls with x by 100 per unit and crosses its line at cross.
	obs := func(cross float64) []models.Observation {
		var out []models.Observation
		for i := range 8 {
			x := 0.2 + 0.03*float64(i) // measured up to 0.41: latency falls with x
			out = append(out, models.Observation{Config: models.Config{"x": models.Num(x)}, Objective: 1 + x,
				Constraints: map[string]float64{"latency": 150 + 100*(cross-x)},
				Uncertainty: map[string]float64{"cost": 0.005, "latency": 3}})
		}
		return out
	}
	// At the incumbent 15 over the line, which the trend reaches 0.15
	// further (max_step 0.2): past the data the models doubt it.
	s, err := askOnce(t, p, inc, obs(0.55), []string{"latency"})
	if err != nil {
		t.Fatalf("a repair with a step back in reach: %v", err)
	}
	if x := s.Config["x"].Float(); x <= 0.41 || !strings.HasPrefix(s.Why, "repair, a step back") || s.Incumbent == nil ||
		s.Prediction.PAllFeasible > 0.5 || s.Prediction.PAllFeasible < 0.1 || s.Prediction.PAllFeasible <= s.Incumbent.PAllFeasible {
		t.Errorf("proposed x=%.3f (%s), P(guardrails hold) %v against the incumbent's %v; "+
			"want a step back past x=0.41, likelier to hold than the incumbent, in [0.1, 0.5]", x, s.Why, s.Prediction, s.Incumbent)
	}
	// 110 over the line: nothing in reach has a chance.
	if s, err := askOnce(t, p, inc, obs(1.5), []string{"latency"}); !errors.Is(err, models.ErrNoSafeCandidate) {
		t.Errorf("a repair with nothing in reach: %v (%s, %s), want ErrNoSafeCandidate", err, s.Config, s.Why)
	}
}

// askOnce asks a safe-mode optimizer around inc (max_step 0.2, a minimum
// gain of 2%), told obs, for one suggestion; repair names the guardrails
// the incumbent breaks.
func askOnce(t *testing.T, p models.Problem, inc models.Config, obs []models.Observation, repair []string) (models.Suggestion, error) {
	t.Helper()
	o, err := New(p, Options{Seed: 1, Region: &models.TrustRegion{Incumbent: inc, MaxStep: 0.2}, MinGain: 0.02, Repair: repair})
	if err != nil {
		t.Fatal(err)
	}
	if err := o.Tell(obs...); err != nil {
		t.Fatal(err)
	}
	s, err := o.Ask(1)
	if err != nil {
		return models.Suggestion{}, err
	}
	return s[0], nil
}
