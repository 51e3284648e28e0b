package bo

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/passflow/passflow/models"
)

// hartmann3 is the 3-D Hartmann function on [0, 1]³: minimum −3.86278 at
// (0.1146, 0.5556, 0.8525), and a local minimum 0.0079 above it.
func hartmann3(x []float64) float64 {
	a := [4][3]float64{{3, 10, 30}, {0.1, 10, 35}, {3, 10, 30}, {0.1, 10, 35}}
	p := [4][3]float64{{0.3689, 0.1170, 0.2673}, {0.4699, 0.4387, 0.7470}, {0.1091, 0.8732, 0.5547}, {0.0381, 0.5743, 0.8828}}
	alpha := [4]float64{1, 1.2, 3, 3.2}
	s := 0.0
	for i := range 4 {
		e := 0.0
		for j := range 3 {
			e += a[i][j] * (x[j] - p[i][j]) * (x[j] - p[i][j])
		}
		s -= alpha[i] * math.Exp(-e)
	}
	return s
}

// precisionTarget is the simple regret a plain GP with expected improvement
// reaches at precisionBudget evaluations on smooth 2–3-D functions (issue
// 11's measurement): the optimizer's default mode, which learns the noise
// as `passflow optimize` does, should reach it too.
const (
	precisionTarget = 2e-5
	precisionBudget = 50
)

// TestPrecisionReport measures the end-of-budget precision of the default
// mode (learned noise, no trust region) on smooth 2–3-D functions: the
// median simple regret over 20 seeds at 50 evaluations, against
// precisionTarget. It runs only with PASSFLOW_REGRET=1 and fails on a miss.
func TestPrecisionReport(t *testing.T) {
	if os.Getenv("PASSFLOW_REGRET") == "" {
		t.Skip("set PASSFLOW_REGRET=1 to run the precision benchmark")
	}
	const seeds = 20
	funcs := []testFunc{
		{name: "Branin (2-D)", lo: []float64{-5, 0}, hi: []float64{10, 15}, f: branin, opt: 0.397887357729738},
		{name: "Six-hump camel (2-D)", lo: []float64{-3, -2}, hi: []float64{3, 2}, f: sixHumpCamel, opt: -1.031628453489877},
		{name: "Hartmann3 (3-D)", lo: repeat(0, 3), hi: repeat(1, 3), f: hartmann3, opt: -3.86278214782076},
	}
	var b strings.Builder
	fmt.Fprintf(&b, "| function | median regret at %d evals [25th–75th] | seeds above 1e-3 | target | met |\n|---|---|---|---|---|\n", precisionBudget)
	for _, tf := range funcs {
		res := overSeeds(seeds, func(seed uint64) float64 { return precisionRun(t, tf, seed) })
		slices.Sort(res)
		med := quantile(res, 0.5)
		met := "yes"
		if !(med <= precisionTarget) {
			met = "**no**"
			t.Errorf("%s: median regret %.2g at %d evaluations, want ≤ %.0e", tf.name, med, precisionBudget, precisionTarget)
		}
		stuck := 0
		for _, r := range res {
			if r > 1e-3 {
				stuck++
			}
		}
		fmt.Fprintf(&b, "| %s | %s [%s–%s] | %d of %d | ≤ %.0e | %s |\n", tf.name, fmtRegret(med),
			fmtRegret(quantile(res, 0.25)), fmtRegret(quantile(res, 0.75)), stuck, seeds, precisionTarget, met)
	}
	t.Log("\n" + b.String())
}

// precisionRun runs the default optimizer for precisionBudget evaluations of
// tf and returns the simple regret of the best point.
func precisionRun(tb testing.TB, tf testFunc, seed uint64) float64 {
	o, err := New(tf.problem(), Options{Seed: seed})
	if err != nil {
		tb.Fatal(err)
	}
	best := math.Inf(1)
	for n := range precisionBudget {
		s, err := o.Ask(1)
		if err != nil {
			tb.Fatalf("%s seed %d eval %d: %v", tf.name, seed, n+1, err)
		}
		v := tf.f(tf.point(s[0].Config))
		best = min(best, v)
		if err := o.Tell(models.Observation{Config: s[0].Config, Objective: v}); err != nil {
			tb.Fatal(err)
		}
	}
	return best - tf.opt
}

// TestNoiselessOffline: outside safe mode, a noiseless objective is judged
// noiseless and modeled with the log warp; in safe mode, with standard
// errors on its observations, or with noise in its values, it is not.
func TestNoiselessOffline(t *testing.T) {
	branin := testFunc{name: "Branin", lo: []float64{-5, 0}, hi: []float64{10, 15}, f: branin}
	valley := testFunc{name: "Rosenbrock", lo: []float64{-5, -5}, hi: []float64{10, 10}, f: rosenbrock}
	run := func(tf testFunc, region bool, se, noise float64, deterministic bool) (*Optimizer, *boModel) {
		p := tf.problem()
		p.Objective = "cost"
		opts := Options{Seed: 3, Deterministic: deterministic}
		if region {
			opts.Region = &models.TrustRegion{Incumbent: p.Space.Current(), MaxStep: 1}
		}
		o, err := New(p, opts)
		if err != nil {
			t.Fatal(err)
		}
		r := rand.New(rand.NewPCG(3, 3))
		var m *boModel
		for range 30 {
			c := models.Config{"x1": models.Num(tf.lo[0] + 15*r.Float64()), "x2": models.Num(tf.lo[1] + 15*r.Float64())}
			ob := models.Observation{Config: c, Objective: tf.f(tf.point(c)) + noise*r.NormFloat64()}
			if se > 0 {
				ob.Uncertainty = map[string]float64{"cost": se}
			}
			if err := o.Tell(ob); err != nil {
				t.Fatal(err)
			}
			if m, err = o.fit(rand.New(rand.NewPCG(1, 1))); err != nil {
				t.Fatal(err)
			}
		}
		return o, m
	}
	// Judged noiseless, the objective is warped as the deterministic
	// mode's rule says: when the log reduces the values' skew, as it does
	// Rosenbrock's and not Branin's here.
	for _, tt := range []struct {
		tf   testFunc
		warp bool
	}{{valley, true}, {branin, false}} {
		o, m := run(tt.tf, false, 0, 0, false)
		_, det := run(tt.tf, false, 0, 0, true)
		if !o.noiselessSeen || m.warp != tt.warp || det.warp != tt.warp {
			t.Errorf("%s offline, noiseless: judged noiseless %v (learned noise %.3g), warped %v, the deterministic mode %v; want noiseless, both %v",
				tt.tf.name, o.noiselessSeen, *o.rawNoise, m.warp, det.warp, tt.warp)
		}
	}
	for _, tt := range []struct {
		name      string
		region    bool
		se, noise float64
	}{
		{"safe mode", true, 0, 0},
		{"standard errors", false, 0.5, 0},
		{"noisy values", false, 0, 50000},
	} {
		if o, m := run(valley, tt.region, tt.se, tt.noise, false); o.noiselessSeen || m.warp {
			t.Errorf("%s: judged noiseless %v (learned noise %.3g), warped %v; want neither", tt.name, o.noiselessSeen, *o.rawNoise, m.warp)
		}
	}
}

// TestScaleByEvidence: the log scale is kept for values that grow
// exponentially over the space (a valley's walls), the raw one for values
// that grow linearly, whatever the objective's unit: the log's evidence is
// counted on the raw values' scale, so multiplying the values by 1e-6 or
// 1e6 changes no decision.
func TestScaleByEvidence(t *testing.T) {
	space := models.Space{{Name: "x1", Type: models.Float, Min: 0, Max: 1}, {Name: "x2", Type: models.Float, Min: 0, Max: 1}}
	tests := []struct {
		name string
		f    func(x1, x2 float64) float64
		warp bool
	}{
		{"exponential walls", func(x1, x2 float64) float64 { return math.Exp(8*x1) + math.Exp(6*x2) }, true},
		{"linear", func(x1, x2 float64) float64 { return 3*x1 + 2*x2 + 10 }, false},
	}
	for _, tt := range tests {
		for _, unit := range []float64{1e-6, 1, 1e6} {
			t.Run(fmt.Sprintf("%s, unit %g", tt.name, unit), func(t *testing.T) {
				o, err := New(models.Problem{Space: space}, Options{Seed: 1})
				if err != nil {
					t.Fatal(err)
				}
				r := rand.New(rand.NewPCG(5, 5))
				var xo, yo []float64
				for range 25 {
					x1, x2 := r.Float64(), r.Float64()
					xo = append(xo, x1, x2)
					yo = append(yo, unit*tt.f(x1, x2))
				}
				m := &boModel{}
				h, wy := o.scaleByEvidence(m, xo, yo, true, rand.New(rand.NewPCG(1, 1)))
				if m.warp != tt.warp || (wy != nil) != tt.warp || o.rawNoise == nil {
					t.Fatalf("warp %v (warped values %v), want %v", m.warp, wy != nil, tt.warp)
				}
				if tt.warp && h.sf2 != o.warmLog.sf2 || !tt.warp && h.sf2 != o.warmRaw.sf2 {
					t.Error("the hyperparameters returned are not the chosen scale's")
				}
			})
		}
	}
}
