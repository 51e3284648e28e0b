package bo

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/passflow/passflow/models"
)

func fptr(v float64) *float64 { return &v }

func mixedSpace() models.Space {
	cur := models.Num(32)
	mode := models.Str("throughput")
	return models.Space{
		{Name: "threads", Type: models.Int, Min: 4, Max: 256, Log: true, Current: &cur},
		{Name: "ttl", Type: models.Float, Min: 1, Max: 3600, Log: true},
		{Name: "ratio", Type: models.Float, Min: 0, Max: 1},
		{Name: "gc", Type: models.Categorical, Choices: []string{"throughput", "low-latency", "balanced"}, Current: &mode},
	}
}

// mixedObjective is smooth in the numeric knobs with a categorical offset;
// its guardrail "lat" grows with ratio.
func mixedObs(c models.Config) models.Observation {
	th := math.Log(c["threads"].Float())
	ttl := math.Log(c["ttl"].Float())
	r := c["ratio"].Float()
	off := map[string]float64{"throughput": 0, "low-latency": 0.5, "balanced": -0.3}[c["gc"].String()]
	return models.Observation{
		Config:      c,
		Objective:   (th-3.5)*(th-3.5) + 0.1*(ttl-4)*(ttl-4) + (r-0.3)*(r-0.3) + off,
		Constraints: map[string]float64{"lat": 100 + 200*r + 10*th},
	}
}

func runOptimizer(t *testing.T, o models.Optimizer, evals int, f func(models.Config) models.Observation) []models.Suggestion {
	t.Helper()
	var all []models.Suggestion
	for i := 0; i < evals; i++ {
		s, err := o.Ask(1)
		if err != nil {
			t.Fatalf("ask %d: %v", i, err)
		}
		all = append(all, s...)
		if err := o.Tell(f(s[0].Config)); err != nil {
			t.Fatalf("tell %d: %v", i, err)
		}
	}
	return all
}

func TestOptimizerDeterministic(t *testing.T) {
	p := models.Problem{Space: mixedSpace(), Goal: models.Minimize, Constraints: []models.Constraint{{Metric: "lat", Max: fptr(250)}}}
	run := func(seed uint64) []string {
		o, err := New(p, Options{Seed: seed, InitialPoints: 5})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, s := range runOptimizer(t, o, 12, mixedObs) {
			out = append(out, s.Config.String())
		}
		return out
	}
	a, b, c := run(1), run(1), run(2)
	if strings.Join(a, "\n") != strings.Join(b, "\n") {
		t.Errorf("same seed, different suggestions:\n%v\n%v", a, b)
	}
	if strings.Join(a, "\n") == strings.Join(c, "\n") {
		t.Errorf("different seeds gave identical suggestions")
	}
}

func TestOptimizerSuggestions(t *testing.T) {
	p := models.Problem{Space: mixedSpace(), Goal: models.Minimize, Constraints: []models.Constraint{{Metric: "lat", Max: fptr(250)}}}
	o, err := New(p, Options{Seed: 3, InitialPoints: 6})
	if err != nil {
		t.Fatal(err)
	}
	all := runOptimizer(t, o, 15, mixedObs)
	seen := map[string]bool{}
	for i, s := range all {
		if err := p.Space.CheckConfig(s.Config); err != nil {
			t.Errorf("suggestion %d invalid: %v", i, err)
		}
		if seen[s.Config.String()] {
			t.Errorf("suggestion %d repeats %v", i, s.Config)
		}
		seen[s.Config.String()] = true
		if s.Why == "" {
			t.Errorf("suggestion %d has no Why", i)
		}
		switch {
		case i == 0:
			if !s.Config.Equal(p.Space.Current()) || !strings.Contains(s.Why, "incumbent") {
				t.Errorf("first suggestion %v (%s), want the incumbent", s.Config, s.Why)
			}
		case i < 6:
			if s.Prediction != nil || !strings.Contains(s.Why, "Sobol") {
				t.Errorf("suggestion %d: want an initial-design point, got %q", i, s.Why)
			}
		default:
			if s.Prediction == nil || s.LengthScales == nil {
				t.Fatalf("model suggestion %d lacks prediction or length scales", i)
			}
			if len(s.LengthScales) != 4 || s.Prediction.SD <= 0 || len(s.Prediction.PFeasible) != 1 {
				t.Errorf("suggestion %d: prediction %+v, length scales %v", i, s.Prediction, s.LengthScales)
			}
		}
	}
	r, ok := o.Recommend()
	if !ok || !p.Feasible(r.Observation) || r.Prediction == nil {
		t.Errorf("recommendation %+v, ok %v", r, ok)
	}
}

func TestOptimizerBatch(t *testing.T) {
	tf := testFuncs[0]
	o, err := New(tf.problem(), Options{Seed: 1, InitialPoints: 4})
	if err != nil {
		t.Fatal(err)
	}
	for round := 0; round < 3; round++ {
		s, err := o.Ask(4)
		if err != nil || len(s) != 4 {
			t.Fatalf("round %d: %d suggestions, %v", round, len(s), err)
		}
		seen := map[string]bool{}
		for _, x := range s {
			if seen[x.Config.String()] {
				t.Errorf("round %d: duplicate %v in a batch", round, x.Config)
			}
			seen[x.Config.String()] = true
			if round > 0 && !strings.Contains(x.Why, "batch pick") {
				t.Errorf("round %d: why %q", round, x.Why)
			}
			if err := o.Tell(models.Observation{Config: x.Config, Objective: tf.f(tf.point(x.Config))}); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestOptimizerConstrainedRecommend: once a feasible point is seen the
// recommendation is feasible, whatever the objective says elsewhere.
func TestOptimizerConstrainedRecommend(t *testing.T) {
	tf := testFuncs[5] // constrained Branin
	for seed := uint64(1); seed <= 6; seed++ {
		o, err := New(tf.problem(), Options{Seed: seed, InitialPoints: 5})
		if err != nil {
			t.Fatal(err)
		}
		feasibleSeen := false
		for i := 0; i < 15; i++ {
			s, err := o.Ask(1)
			if err != nil {
				t.Fatal(err)
			}
			x := tf.point(s[0].Config)
			c := tf.con(x)
			feasibleSeen = feasibleSeen || c <= 0
			if err := o.Tell(models.Observation{Config: s[0].Config, Objective: tf.f(x), Constraints: map[string]float64{"c": c}}); err != nil {
				t.Fatal(err)
			}
			r, ok := o.Recommend()
			if !ok {
				t.Fatal("no recommendation")
			}
			if feasibleSeen && r.Observation.Constraints["c"] > 0 {
				t.Fatalf("seed %d step %d: recommended infeasible %v although a feasible point was seen", seed, i, r.Observation)
			}
		}
	}
}

// TestOptimizerSafeMode is a property test: over many seeds and trust
// regions, no suggestion leaves the region, and each model suggestion is
// believed safe with probability at least 1 − δ.
func TestOptimizerSafeMode(t *testing.T) {
	space := mixedSpace()
	p := models.Problem{Space: space, Goal: models.Minimize, Constraints: []models.Constraint{{Metric: "lat", Max: fptr(260)}}}
	modelSuggestions, refusals := 0, 0
	for seed := uint64(1); seed <= 12; seed++ {
		rng := rand.New(rand.NewPCG(seed, 9))
		inc := space.FromUnit([]float64{rng.Float64(), rng.Float64(), 0.2 * rng.Float64(), rng.Float64()})
		region := &models.TrustRegion{Incumbent: inc, MaxStep: 0.05 + 0.3*rng.Float64(), Delta: 0.1}
		o, err := New(p, Options{Seed: seed, Region: region, InitialPoints: 4})
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 10; i++ {
			ss, err := o.Ask(1 + i%2)
			if errors.Is(err, models.ErrNoSafeCandidate) {
				if !strings.Contains(err.Error(), "P(all guardrails hold)") {
					t.Errorf("no-safe-candidate error without a reason: %v", err)
				}
				refusals++
				break
			}
			if err != nil {
				t.Fatalf("seed %d ask %d: %v", seed, i, err)
			}
			for _, s := range ss {
				step, cat, err := space.StepWithin(inc, s.Config, region.MaxStep)
				if err != nil || step > region.MaxStep*(1+1e-9) || cat > 1 {
					t.Fatalf("seed %d: suggestion %v is %v (+%d categorical) from the incumbent, max step %v", seed, s.Config, step, cat, region.MaxStep)
				}
				if i == 0 && s.Config.Equal(inc) == false && s.Prediction == nil && !strings.Contains(s.Why, "initial design") {
					t.Errorf("seed %d: first suggestion %q", seed, s.Why)
				}
				if s.Prediction != nil {
					modelSuggestions++
				}
				if s.Prediction != nil && s.Prediction.PAllFeasible < 1-region.Delta {
					t.Fatalf("seed %d: suggestion with P(feasible) %v < %v", seed, s.Prediction.PAllFeasible, 1-region.Delta)
				}
				if err := o.Tell(mixedObs(s.Config)); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	if modelSuggestions < 50 {
		t.Errorf("only %d model suggestions (%d refusals): the property was barely exercised", modelSuggestions, refusals)
	}
	t.Logf("%d model suggestions, %d refusals", modelSuggestions, refusals)
}

// TestSafeDesignSwitchesOneCategoricalKnob: in safe mode, the design point
// that no safety model checks yet (the second observation is missing) moves
// one categorical knob to another choice and keeps every numeric knob.
func TestSafeDesignSwitchesOneCategoricalKnob(t *testing.T) {
	space := mixedSpace()
	p := models.Problem{Space: space, Goal: models.Minimize, Constraints: []models.Constraint{{Metric: "lat", Max: fptr(260)}}}
	inc := space.FromUnit([]float64{0.5, 0.5, 0.1, 0.5})
	o, err := New(p, Options{Seed: 3, Region: &models.TrustRegion{Incumbent: inc, MaxStep: 0.1}})
	if err != nil {
		t.Fatal(err)
	}
	if err := o.Tell(mixedObs(inc)); err != nil {
		t.Fatal(err)
	}
	ss, err := o.Ask(1)
	if err != nil {
		t.Fatal(err)
	}
	step, cat, err := space.Step(inc, ss[0].Config)
	if err != nil || step != 0 || cat != 1 || !strings.Contains(ss[0].Why, "switches one categorical knob") {
		t.Errorf("first design point %s (%q): step %v, %d switches (%v); want one categorical switch alone", ss[0].Config, ss[0].Why, step, cat, err)
	}
}

// TestUncheckedDesignPointStaysInsideMaxStep: the design point no safety
// model checks keeps every knob within max_step, an integer knob whose
// next value lies further included.
func TestUncheckedDesignPointStaysInsideMaxStep(t *testing.T) {
	space := models.Space{{Name: "n", Type: models.Int, Min: 1, Max: 8}, {Name: "x", Type: models.Float, Min: 0, Max: 1}}
	p := models.Problem{Space: space, Constraints: []models.Constraint{{Metric: "mem", Max: fptr(0.9)}}}
	inc := models.Config{"n": models.Num(2), "x": models.Num(0.5)}
	for seed := range uint64(20) {
		o, err := New(p, Options{Seed: seed, Region: &models.TrustRegion{Incumbent: inc, MaxStep: 0.06}})
		if err != nil {
			t.Fatal(err)
		}
		if err := o.Tell(models.Observation{Config: inc, Objective: 1, Constraints: map[string]float64{"mem": 0.84}}); err != nil {
			t.Fatal(err)
		}
		ss, err := o.Ask(1)
		if err != nil {
			t.Fatal(err)
		}
		if step, _, _ := space.Step(inc, ss[0].Config); ss[0].Config["n"].Float() != 2 || step > 0.06+1e-9 {
			t.Errorf("seed %d: the unchecked design point %s moves %.3g from %s: want n kept and a step within 0.06", seed, ss[0].Config, step, inc)
		}
	}
}

// TestSafeSwitchMovesAlone: in safe mode a candidate that switches a
// categorical knob keeps every numeric knob at the incumbent's value, and
// such a switch is proposed when the objective favours it.
func TestSafeSwitchMovesAlone(t *testing.T) {
	space := models.Space{{Name: "gc", Type: models.Categorical, Choices: []string{"a", "b"}}, {Name: "x", Type: models.Float, Min: 0, Max: 1}}
	inc := models.Config{"gc": models.Str("a"), "x": models.Num(0.5)}
	p := models.Problem{Space: space, Constraints: []models.Constraint{{Metric: "lat", Max: fptr(10)}}}
	o, err := New(p, Options{Seed: 3, Region: &models.TrustRegion{Incumbent: inc, MaxStep: 0.1}})
	if err != nil {
		t.Fatal(err)
	}
	switched := false
	for range 12 {
		ss, err := o.Ask(1)
		if err != nil {
			t.Fatal(err)
		}
		c := ss[0].Config
		step, cat, err := space.Step(inc, c)
		if err != nil {
			t.Fatal(err)
		}
		if cat > 0 {
			switched = true
			if step > 1e-9 {
				t.Fatalf("%s switches gc and moves x by %.3g: want a switch alone", c, step)
			}
		}
		obj := 1 + (c["x"].Float()-0.9)*(c["x"].Float()-0.9)
		if c["gc"].String() == "b" {
			obj -= 0.5
		}
		if err := o.Tell(models.Observation{Config: c, Objective: obj, Constraints: map[string]float64{"lat": 5}}); err != nil {
			t.Fatal(err)
		}
	}
	if !switched {
		t.Error("12 suggestions never switched gc; want the switch the objective favours")
	}
}

// batchingProblem is ml-batching's in small: a batch and a batching delay
// under a GPU-memory guardrail (its limit 0.9) and a latency one, and the
// incumbent, a batch of 32 with a 5 ms delay.
func batchingProblem() (models.Problem, models.Config) {
	space := models.Space{
		{Name: "batch", Type: models.Int, Min: 1, Max: 128, Log: true},
		{Name: "delay", Type: models.Float, Min: 0.5, Max: 50, Log: true},
	}
	p := models.Problem{Space: space, Constraints: []models.Constraint{{Metric: "mem", Max: fptr(0.9)}, {Metric: "lat", Max: fptr(100)}}}
	return p, models.Config{"batch": models.Num(32), "delay": models.Num(5)}
}

// TestBlindDesignPointWithinHeadroom: the unchecked first design point
// moves no knob by a larger share than twice the incumbent's headroom to
// its closest guardrail (ml-batching: a batch of 41 for 32 crossed the
// GPU's memory cliff, inside max_step).
func TestBlindDesignPointWithinHeadroom(t *testing.T) {
	p, inc := batchingProblem()
	for seed := range uint64(20) {
		o, err := New(p, Options{Seed: seed, Region: &models.TrustRegion{Incumbent: inc, MaxStep: 0.06}})
		if err != nil {
			t.Fatal(err)
		}
		if err := o.Tell(models.Observation{Config: inc, Objective: 1, Constraints: map[string]float64{"mem": 0.84, "lat": 74}}); err != nil {
			t.Fatal(err)
		}
		ss, err := o.Ask(1)
		if err != nil {
			t.Fatal(err)
		}
		c := ss[0].Config
		// The headroom is memory's, (0.9 - 0.84)/0.9: 6.7%.
		for _, k := range []string{"batch", "delay"} {
			if r := math.Abs(c[k].Float()/inc[k].Float() - 1); r > 2*0.06/0.9+1e-9 {
				t.Errorf("seed %d: the unchecked design point %s moves %s by %.1f%%: want at most 13.3%%", seed, c, k, 100*r)
			}
		}
	}
}

// TestShortHistoryStaysNearMeasured: while the history is short, no
// suggestion takes a knob past the values measured by more than twice the
// incumbent's headroom. ml-batching's second pass: two observations moved
// the batch and the batching delay together, the memory's model could put
// its slope on either, and a batch of 39 for 32 crossed the GPU's memory
// cliff (9.9× the error budget).
func TestShortHistoryStaysNearMeasured(t *testing.T) {
	p, inc := batchingProblem()
	tried := models.Config{"batch": models.Num(30), "delay": models.Num(4.45)}
	// The headroom is memory's, (0.9 - 0.84)/0.9: 6.7%; the measured spans
	// are batch 30–32 and delay 4.45–5.
	const bound = 2 * 0.06 / 0.9
	past := 0
	for seed := range uint64(20) {
		bLo, bHi, dLo, dHi := 30.0, 32.0, 4.45, 5.0
		o, err := New(p, Options{Seed: seed, Region: &models.TrustRegion{Incumbent: inc, MaxStep: 0.06}})
		if err != nil {
			t.Fatal(err)
		}
		if err := o.Tell(
			models.Observation{Config: tried, Objective: 0.605, Constraints: map[string]float64{"mem": 0.80, "lat": 74.4}},
			models.Observation{Config: inc, Objective: 0.594, Constraints: map[string]float64{"mem": 0.84, "lat": 73.8}},
		); err != nil {
			t.Fatal(err)
		}
		for range 3 {
			ss, err := o.Ask(1)
			if errors.Is(err, models.ErrNoSafeCandidate) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			c := ss[0].Config
			if !strings.Contains(ss[0].Why, "within 13.3% of the values measured so far") {
				t.Errorf("seed %d: the suggestion's why does not say how near the measured values it stays: %s", seed, ss[0].Why)
			}
			b, d := c["batch"].Float(), c["delay"].Float()
			if b/bHi-1 > bound+1e-9 || 1-b/bLo > bound+1e-9 || d/dHi-1 > bound+1e-9 || 1-d/dLo > bound+1e-9 {
				t.Errorf("seed %d: %s lies past the measured batches %g–%g or delays %.3g–%.3g by more than %.1f%%", seed, c, bLo, bHi, dLo, dHi, 100*bound)
			}
			if b > bHi || d > dHi || b < bLo || d < dLo {
				past++
			}
			bLo, bHi, dLo, dHi = min(bLo, b), max(bHi, b), min(dLo, d), max(dHi, d)
			if err := o.Tell(models.Observation{Config: c, Objective: 0.6, Constraints: map[string]float64{"mem": 0.8 * b / 30, "lat": 74}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if past == 0 {
		t.Error("no suggestion left the measured spans: want steps past them, within the bound")
	}
}

// TestBaselineReadingsAreNotTrials: readings of a baseline beside a canary
// are told to the models but do not count as trials: with two trials told
// and three readings of the incumbent, the initial design of three points
// still has its third to propose.
func TestBaselineReadingsAreNotTrials(t *testing.T) {
	p, inc := batchingProblem()
	tried := models.Config{"batch": models.Num(30), "delay": models.Num(4.45)}
	o, err := New(p, Options{Seed: 1, Region: &models.TrustRegion{Incumbent: inc, MaxStep: 0.06}})
	if err != nil {
		t.Fatal(err)
	}
	obs := []models.Observation{
		{Config: tried, Objective: 0.605, Constraints: map[string]float64{"mem": 0.80, "lat": 74.4}},
		{Config: inc, Objective: 0.594, Constraints: map[string]float64{"mem": 0.84, "lat": 73.8}},
	}
	for i := range 3 {
		obs = append(obs, models.Observation{Config: inc, Objective: 0.59 + 0.002*float64(i),
			Constraints: map[string]float64{"mem": 0.84, "lat": 74}, Baseline: true})
	}
	if err := o.Tell(obs...); err != nil {
		t.Fatal(err)
	}
	ss, err := o.Ask(1)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(ss[0].Why, "initial design: scrambled Sobol point 3 of 3") {
		t.Errorf("suggestion %s (%s), want the initial design's third point", ss[0].Config, ss[0].Why)
	}
}

// TestIntegerKnobMovesByOne: an integer knob whose next value lies past
// max_step is not frozen: the optimizer proposes the one-value move that
// the objective favours, alone, though the objective favours moving x too.
// The move is blind (no data spans it): with a guardrail, it waits while
// the incumbent's headroom is too small for it.
func TestIntegerKnobMovesByOne(t *testing.T) {
	space := models.Space{{Name: "n", Type: models.Int, Min: 1, Max: 8}, {Name: "x", Type: models.Float, Min: 0, Max: 1}}
	inc := models.Config{"n": models.Num(2), "x": models.Num(0.5)}
	for _, tc := range []struct {
		name  string
		cons  []models.Constraint
		mem   float64
		moves bool
	}{
		{"no guardrail", nil, 0, true},
		{"67% headroom", []models.Constraint{{Metric: "mem", Max: fptr(0.9)}}, 0.3, true},
		{"6.7% headroom, the move +50%", []models.Constraint{{Metric: "mem", Max: fptr(0.9)}}, 0.84, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, err := New(models.Problem{Space: space, Constraints: tc.cons}, Options{Seed: 1, Region: &models.TrustRegion{Incumbent: inc, MaxStep: 0.06}})
			if err != nil {
				t.Fatal(err)
			}
			measured := func(c models.Config, obj float64) models.Observation {
				ob := models.Observation{Config: c, Objective: obj}
				if tc.cons != nil {
					ob.Constraints = map[string]float64{"mem": tc.mem}
				}
				return ob
			}
			for range 12 {
				ss, err := o.Ask(1)
				if err != nil {
					t.Fatal(err)
				}
				c := ss[0].Config
				if n := c["n"].Float(); n != 2 {
					switch {
					case !tc.moves:
						t.Fatalf("%s: n moved by one with %.1f%% headroom: want it kept", c, 100*(0.9-tc.mem)/0.9)
					case n != 3 && n != 1:
						t.Fatalf("%s: n moved past its next value", c)
					case c["x"].Float() != 0.5:
						t.Fatalf("%s: n's one-value move comes with x moved: want it alone", c)
					}
					return
				}
				x := c["x"].Float()
				// The incumbent is measured last, as a pass tells it.
				obs := []models.Observation{measured(c, 10-c["n"].Float()+(x-0.6)*(x-0.6))}
				if c.String() != inc.String() {
					obs = append(obs, measured(inc, 8))
				}
				if err := o.Tell(obs...); err != nil {
					t.Fatal(err)
				}
			}
			if tc.moves {
				t.Error("12 suggestions kept n at 2; want the one-value move the trust region allows")
			}
		})
	}
}

func TestOptimizerNoSafeCandidate(t *testing.T) {
	// Every point measured so far breaks the guardrail badly: nothing in the
	// region can be believed safe, not even the rest of the initial design,
	// which obeys the safety model from two observations on.
	space := models.Space{{Name: "x", Type: models.Float, Min: 0, Max: 1}, {Name: "y", Type: models.Float, Min: 0, Max: 1}}
	p := models.Problem{Space: space, Constraints: []models.Constraint{{Metric: "err", Max: fptr(0.01)}}}
	inc := models.Config{"x": models.Num(0.5), "y": models.Num(0.5)}
	o, err := New(p, Options{Region: &models.TrustRegion{Incumbent: inc, MaxStep: 0.1}, InitialPoints: 3})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		s, err := o.Ask(1)
		if err != nil {
			t.Fatal(err)
		}
		if err := o.Tell(models.Observation{Config: s[0].Config, Objective: 1, Constraints: map[string]float64{"err": 0.5 + 0.01*float64(i)}}); err != nil {
			t.Fatal(err)
		}
	}
	_, err = o.Ask(1)
	if !errors.Is(err, models.ErrNoSafeCandidate) {
		t.Fatalf("got %v, want ErrNoSafeCandidate", err)
	}
	// The reason names the guardrail in the way and the incumbent's own
	// belief, so that an operator can tell a region that breaks from
	// measurements too scattered to decide.
	for _, want := range []string{"; the incumbent itself: 0.000 (err 0.000)"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("reason %q does not say %q", err, want)
		}
	}
}

func TestOptimizerNoSafeCandidateNamesTheGuardrail(t *testing.T) {
	// Every point measured sits at the error guardrail's limit, the latency
	// far inside its own: the pass finds nothing it believes safe, and its
	// reason names the error guardrail and how sure the model is of the
	// incumbent, which an operator needs to tell measurements too scattered
	// to decide from a region that breaks.
	space := models.Space{{Name: "x", Type: models.Float, Min: 0, Max: 1}, {Name: "y", Type: models.Float, Min: 0, Max: 1}}
	p := models.Problem{Space: space, Constraints: []models.Constraint{
		{Metric: "latency", Max: fptr(100)}, {Metric: "err", Max: fptr(0.01)}}}
	inc := models.Config{"x": models.Num(0.5), "y": models.Num(0.5)}
	o, err := New(p, Options{Region: &models.TrustRegion{Incumbent: inc, MaxStep: 0.1}, InitialPoints: 3})
	if err != nil {
		t.Fatal(err)
	}
	errs := []float64{0.0099, 0.0101, 0.0098, 0.0102, 0.0100}
	for i := 0; ; i++ {
		s, err := o.Ask(1)
		if errors.Is(err, models.ErrNoSafeCandidate) {
			for _, want := range []string{", least sure of err (0.", "; the incumbent itself: 0.", " (err 0."} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("reason %q does not say %q", err, want)
				}
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if i == len(errs) {
			t.Fatalf("%d suggestions at the limit, the last %s; want ErrNoSafeCandidate", i+1, s[0].Config)
		}
		if err := o.Tell(models.Observation{Config: s[0].Config, Objective: 1,
			Constraints: map[string]float64{"latency": 20, "err": errs[i]}}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestOptimizerBadInput(t *testing.T) {
	good := models.Space{{Name: "x", Type: models.Float, Min: 0, Max: 1}}
	bad := []struct {
		name string
		p    models.Problem
		opts Options
		want string
	}{
		{"empty space", models.Problem{}, Options{}, "at least one parameter"},
		{"min >= max", models.Problem{Space: models.Space{{Name: "x", Type: models.Float, Min: 1, Max: 1}}}, Options{}, "max > min"},
		{"unknown type", models.Problem{Space: models.Space{{Name: "x", Type: "complex", Min: 0, Max: 1}}}, Options{}, "unknown type"},
		{"NaN bound", models.Problem{Space: models.Space{{Name: "x", Type: models.Float, Min: math.NaN(), Max: 1}}}, Options{}, "finite"},
		{"bad goal", models.Problem{Space: good, Goal: "up"}, Options{}, "goal"},
		{"region incumbent", models.Problem{Space: good}, Options{Region: &models.TrustRegion{Incumbent: models.Config{"x": models.Num(2)}, MaxStep: 0.1}}, "incumbent"},
		{"negative initial points", models.Problem{Space: good}, Options{InitialPoints: -1}, "initial points"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.p, tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "bo: ") {
				t.Errorf("got %v, want a bo: error mentioning %q", err, tt.want)
			}
		})
	}

	o, err := New(models.Problem{Space: good}, Options{InitialPoints: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := o.Ask(0); err == nil {
		t.Error("Ask(0) succeeded")
	}
	if err := o.Tell(models.Observation{Config: models.Config{"x": models.Num(3)}, Objective: 1}); err == nil {
		t.Error("Tell accepted a value out of range")
	}
	if err := o.Tell(models.Observation{Config: models.Config{"y": models.Num(0.3)}, Objective: 1}); err == nil {
		t.Error("Tell accepted an unknown parameter")
	}
	if len(o.History()) != 0 {
		t.Errorf("rejected observations were recorded: %v", o.History())
	}
	// A one-point history is enough for a model.
	if err := o.Tell(models.Observation{Config: models.Config{"x": models.Num(0.5)}, Objective: 2}); err != nil {
		t.Fatal(err)
	}
	s, err := o.Ask(1)
	if err != nil || s[0].Prediction == nil {
		t.Fatalf("one-point history: %v, %+v", err, s)
	}
	if math.Abs(s[0].Prediction.Mean-2) > 1 {
		t.Errorf("one-point history: predicted mean %v", s[0].Prediction.Mean)
	}
	// NaN and Inf objectives, and duplicates of one point, are recorded as
	// failures or absorbed by the noise floor; nothing crashes.
	obs := []models.Observation{
		{Config: models.Config{"x": models.Num(0.1)}, Objective: math.NaN()},
		{Config: models.Config{"x": models.Num(0.2)}, Objective: math.Inf(1)},
		{Config: models.Config{"x": models.Num(0.5)}, Objective: 2.5},
		{Config: models.Config{"x": models.Num(0.5)}, Objective: 1.5},
		{Config: models.Config{"x": models.Num(0.5)}, Objective: 2},
	}
	if err := o.Tell(obs...); err != nil {
		t.Fatal(err)
	}
	h := o.History()
	if !h[1].Failed || !h[2].Failed || h[3].Failed {
		t.Errorf("NaN/Inf not marked failed: %+v", h)
	}
	for i := 0; i < 3; i++ {
		s, err := o.Ask(1)
		if err != nil {
			t.Fatalf("after bad observations: %v", err)
		}
		if err := o.Tell(models.Observation{Config: s[0].Config, Objective: s[0].Config["x"].Float()}); err != nil {
			t.Fatal(err)
		}
	}
	if r, ok := o.Recommend(); !ok || r.Observation.Failed {
		t.Errorf("recommendation %+v", r)
	}
}

func TestOptimizerAllFailed(t *testing.T) {
	space := models.Space{{Name: "x", Type: models.Float, Min: 0, Max: 1}}
	o, err := New(models.Problem{Space: space}, Options{InitialPoints: 2, Deterministic: true})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 4; i++ {
		s, err := o.Ask(1)
		if err != nil {
			t.Fatal(err)
		}
		if err := o.Tell(models.Observation{Config: s[0].Config, Failed: true}); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok := o.Recommend(); ok {
		t.Error("recommendation although everything failed")
	}
}

func TestOptimizerMaximize(t *testing.T) {
	space := models.Space{{Name: "x", Type: models.Float, Min: -2, Max: 2}, {Name: "n", Type: models.Int, Min: 0, Max: 10}}
	f := func(c models.Config) models.Observation {
		x, n := c["x"].Float(), c["n"].Float()
		return models.Observation{Config: c, Objective: 5 - (x-0.7)*(x-0.7) - 0.1*(n-3)*(n-3)}
	}
	o, err := New(models.Problem{Space: space, Goal: models.Maximize}, Options{Seed: 1, Deterministic: true})
	if err != nil {
		t.Fatal(err)
	}
	all := runOptimizer(t, o, 20, f)
	for _, s := range all {
		if n := s.Config["n"].Float(); n != math.Trunc(n) {
			t.Errorf("int parameter took %v", n)
		}
	}
	r, _ := o.Recommend()
	if r.Observation.Objective < 4.9 {
		t.Errorf("best after 20 evaluations %v, want >= 4.9 (max 5)", r.Observation.Objective)
	}
	last := all[len(all)-1]
	if last.Prediction.Mean < 4 || last.Prediction.Mean > 6 {
		t.Errorf("predicted mean %v of a maximization in the wrong units", last.Prediction.Mean)
	}
}

// TestOptimizerCategorical: the best choice of a categorical knob is
// found, and the categorical length scale is reported.
func TestOptimizerCategorical(t *testing.T) {
	space := models.Space{
		{Name: "x", Type: models.Float, Min: 0, Max: 1},
		{Name: "algo", Type: models.Categorical, Choices: []string{"a", "b", "c", "d"}},
	}
	f := func(c models.Config) models.Observation {
		off := map[string]float64{"a": 1, "b": 0.8, "c": 0, "d": 1.2}[c["algo"].String()]
		x := c["x"].Float()
		return models.Observation{Config: c, Objective: (x-0.4)*(x-0.4) + off}
	}
	o, err := New(models.Problem{Space: space}, Options{Seed: 5, Deterministic: true})
	if err != nil {
		t.Fatal(err)
	}
	runOptimizer(t, o, 20, f)
	r, _ := o.Recommend()
	if r.Observation.Config["algo"].String() != "c" || r.Observation.Objective > 0.01 {
		t.Errorf("recommendation %v = %v, want algo c near x 0.4", r.Observation.Config, r.Observation.Objective)
	}
	if ls := o.LengthScales(); ls["algo"] == 0 || ls["x"] == 0 {
		t.Errorf("length scales %v", ls)
	}
}

func TestSobolStratified(t *testing.T) {
	for _, d := range []int{1, 2, 6, 20} {
		s := newSobol(d, uint64(d))
		pts := s.points(0, 64)
		for j := 0; j < d; j++ {
			hit := make([]bool, 64)
			for _, p := range pts {
				if p[j] < 0 || p[j] >= 1 {
					t.Fatalf("d=%d: coordinate %v outside [0, 1)", d, p[j])
				}
				hit[int(p[j]*64)] = true
			}
			for k, h := range hit {
				if !h {
					t.Errorf("d=%d dim %d: first 64 points miss the interval [%d/64, %d/64)", d, j, k, k+1)
					break
				}
			}
		}
	}
	// Two-dimensional projections are stratified too: 16 points, 4×4 cells.
	s := newSobol(3, 11)
	cells := map[[2]int]bool{}
	for _, p := range s.points(0, 16) {
		cells[[2]int{int(p[0] * 4), int(p[1] * 4)}] = true
	}
	if len(cells) != 16 {
		t.Errorf("16 points fill %d of 16 cells", len(cells))
	}
	// Above the table: Latin-hypercube fallback.
	big := newSobol(40, 1).points(0, 10)
	for j := 0; j < 40; j++ {
		hit := make([]bool, 10)
		for _, p := range big {
			hit[int(p[j]*10)] = true
		}
		for _, h := range hit {
			if !h {
				t.Fatalf("Latin hypercube not stratified in dim %d", j)
			}
		}
	}
}

func TestEncodingRoundTrip(t *testing.T) {
	e := newEncoding(mixedSpace())
	b := e.unitBox()
	rng := rand.New(rand.NewPCG(1, 1))
	for i := 0; i < 200; i++ {
		q := []float64{rng.Float64(), rng.Float64(), rng.Float64(), rng.Float64()}
		u := e.fromUnitCube(q, b)
		c := e.decode(u)
		if err := e.space.CheckConfig(c); err != nil {
			t.Fatalf("%v decodes to invalid %v: %v", u, c, err)
		}
		v, err := e.encode(c)
		if err != nil {
			t.Fatal(err)
		}
		for j := range u {
			if math.Abs(u[j]-v[j]) > 1e-12 {
				t.Fatalf("round trip %v -> %v -> %v", u, c, v)
			}
		}
	}
	if got := fmt.Sprint(e.cat); got != "[false false false true]" {
		t.Errorf("categorical dims %s", got)
	}
}

// TestOptimizerRestarts runs the restart steps on the six-hump camel (two
// global minima, so the best value stalls once one is found): they must
// happen, stay reproducible under a seed, never repeat a configuration and
// stay off in safe mode and by default.
func TestOptimizerRestarts(t *testing.T) {
	tf := testFuncs[2]
	f := func(c models.Config) models.Observation {
		return models.Observation{Config: c, Objective: tf.f(tf.point(c))}
	}
	inc := tf.space().Current()
	tests := []struct {
		name     string
		opts     Options
		restarts bool
	}{
		{"on", Options{Seed: 4, Deterministic: true, Restarts: true}, true},
		{"off by default", Options{Seed: 4, Deterministic: true}, false},
		{"off in safe mode", Options{Seed: 4, Deterministic: true, Restarts: true, Region: &models.TrustRegion{Incumbent: inc, MaxStep: 0.3}}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			run := func() []string {
				o, err := New(tf.problem(), tc.opts)
				if err != nil {
					t.Fatal(err)
				}
				var out []string
				restarts := 0
				for _, s := range runOptimizer(t, o, 45, f) {
					out = append(out, s.Config.String())
					if strings.HasPrefix(s.Why, "restart step") {
						restarts++
					}
				}
				if got := restarts > 0; got != tc.restarts {
					t.Errorf("%d restart steps, want some: %v", restarts, tc.restarts)
				}
				return out
			}
			a, b := run(), run()
			if strings.Join(a, "\n") != strings.Join(b, "\n") {
				t.Errorf("same seed, different suggestions")
			}
			seen := map[string]bool{}
			for _, c := range a {
				if seen[c] {
					t.Errorf("configuration %s suggested twice", c)
				}
				seen[c] = true
			}
		})
	}
}

func TestConstraintHeadroom(t *testing.T) {
	for _, tc := range []struct {
		c     models.Constraint
		value float64
		want  float64
	}{
		{models.Constraint{Metric: "mem", Max: fptr(0.9)}, 0.84, 0.06 / 0.9},
		{models.Constraint{Metric: "mem", Max: fptr(0.9)}, 0.99, -0.09 / 0.9},
		{models.Constraint{Metric: "hit", Min: fptr(0.8)}, 0.9, 0.1 / 0.8},
		{models.Constraint{Metric: "x", Min: fptr(1), Max: fptr(10)}, 2, 0.8},
		{models.Constraint{Metric: "x", Max: fptr(-10)}, -12, 0.2},
		{models.Constraint{Metric: "x", Max: fptr(0)}, -1, math.Inf(1)},
		{models.Constraint{Metric: "x"}, 5, math.Inf(1)},
	} {
		if got := tc.c.Headroom(tc.value); math.Abs(got-tc.want) > 1e-12 && got != tc.want {
			t.Errorf("%s: Headroom(%v) = %v, want %v", tc.c, tc.value, got, tc.want)
		}
	}
}

// TestBakeRejectionNotProposedAgain: a candidate whose bake showed it worse
// than the running configuration over the load cycle, though its stage's
// hour measured it better, is not proposed again, nor a neighbour within
// half a max_step, until a promotion changes the running configuration;
// without the bake's verdict the models go straight back to it.
func TestBakeRejectionNotProposedAgain(t *testing.T) {
	space := models.Space{{Name: "x", Type: models.Float, Min: 0, Max: 1}}
	inc := models.Config{"x": models.Num(0.5)}
	p := models.Problem{Space: space, Goal: models.Minimize, Constraints: []models.Constraint{{Metric: "lat", Max: fptr(10)}}}
	obs := func(x float64, verdict string) models.Observation {
		return models.Observation{Config: models.Config{"x": models.Num(x)}, Objective: 1 - x,
			Constraints: map[string]float64{"lat": 5}, Verdict: verdict}
	}
	ask := func(baked bool, promotedAfter bool) float64 {
		t.Helper()
		o, err := New(p, Options{Seed: 5, Region: &models.TrustRegion{Incumbent: inc, MaxStep: 0.1}, InitialPoints: 4})
		if err != nil {
			t.Fatal(err)
		}
		rejected := obs(0.6, "fail")
		rejected.ObjectiveWorse, rejected.Baked = true, baked
		hist := []models.Observation{obs(0.3, "pass"), obs(0.4, "fail"), obs(0.5, "pass"), obs(0.45, "marginal"), rejected}
		if promotedAfter {
			hist = append(hist, obs(0.52, "pass"))
		}
		hist = append(hist, obs(0.5, "")) // the incumbent as analyze read it
		if err := o.Tell(hist...); err != nil {
			t.Fatal(err)
		}
		ss, err := o.Ask(1)
		if err != nil {
			t.Fatal(err)
		}
		return ss[0].Config["x"].Float()
	}
	if x := ask(false, false); math.Abs(x-0.6) > 0.05 {
		t.Fatalf("without the bake's verdict the models proposed x = %.3f; want the corner near 0.6 (the test's premise)", x)
	}
	if x := ask(true, false); math.Abs(x-0.6) <= 0.05 {
		t.Errorf("x = %.3f proposed again within half a max_step of the configuration the bake rejected", x)
	}
	if x := ask(true, true); math.Abs(x-0.6) > 0.05 {
		t.Errorf("after a promotion x = %.3f: want the rejection forgotten, the corner near 0.6 proposed", x)
	}
}

// TestSafeChoicesKeptApart: in safe mode a guardrail's model does not let
// one choice of a categorical knob, measured only far away, vouch for the
// other near a limit. Choice a is measured across x, its latency climbing
// to 9.5 against a limit of 10 at the incumbent (x = 0.5); choice b once, at
// x = 0, where it matched a. Fitted freely the model would take b at 0.5
// for a at 0.5 (P of keeping the limit above 0.95); kept apart, it is not
// sure, and the switch is not believed safe.
func TestSafeChoicesKeptApart(t *testing.T) {
	space := models.Space{{Name: "gc", Type: models.Categorical, Choices: []string{"a", "b"}}, {Name: "x", Type: models.Float, Min: 0, Max: 1}}
	inc := models.Config{"gc": models.Str("a"), "x": models.Num(0.5)}
	p := models.Problem{Space: space, Goal: models.Minimize, Constraints: []models.Constraint{{Metric: "lat", Max: fptr(10)}}}
	obs := func(gc string, x float64) models.Observation {
		return models.Observation{Config: models.Config{"gc": models.Str(gc), "x": models.Num(x)}, Objective: 1 - x,
			Constraints: map[string]float64{"lat": 5 + 9*x}, Verdict: "pass"}
	}
	var hist []models.Observation
	for _, x := range []float64{0, 0.1, 0.2, 0.3, 0.4, 0.45, 0.5} {
		hist = append(hist, obs("a", x))
	}
	hist = append(hist, obs("b", 0))
	pSwitch := func(region *models.TrustRegion) float64 {
		t.Helper()
		o, err := New(p, Options{Seed: 2, Region: region, InitialPoints: 4})
		if err != nil {
			t.Fatal(err)
		}
		if err := o.Tell(hist...); err != nil {
			t.Fatal(err)
		}
		m, err := o.fit(rand.New(rand.NewPCG(1, 2)))
		if err != nil {
			t.Fatal(err)
		}
		x, err := o.enc.encode(models.Config{"gc": models.Str("b"), "x": models.Num(0.5)})
		if err != nil {
			t.Fatal(err)
		}
		return m.prediction(x).PFeasible["lat"]
	}
	// Outside safe mode the fit is free: the premise, b taken for a.
	if free := pSwitch(nil); free < 0.95 {
		t.Fatalf("a free fit believes the switch safe with P = %.3f; the test wants it above 0.95", free)
	}
	kept := pSwitch(&models.TrustRegion{Incumbent: inc, MaxStep: 0.1})
	t.Logf("P(switch keeps the limit): free fit %.3f, safe mode %.3f", pSwitch(nil), kept)
	if kept >= 0.95 {
		t.Errorf("in safe mode the switch to b at 0.5 is believed safe with P = %.3f: b was measured only at x = 0", kept)
	}
}
