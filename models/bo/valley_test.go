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
	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/optimize"
)

// rosenbrock is the d-dimensional Rosenbrock function: a narrow curved
// valley whose values span six orders of magnitude on [-5, 10]^d, minimum 0
// at (1, …, 1).
func rosenbrock(x []float64) float64 {
	s := 0.0
	for i := 0; i+1 < len(x); i++ {
		s += 100*(x[i+1]-x[i]*x[i])*(x[i+1]-x[i]*x[i]) + (1-x[i])*(1-x[i])
	}
	return s
}

// valleyFuncs are the functions of the valley report: objectives that span
// orders of magnitude along a narrow curved valley, where a model of the raw
// values sees mostly the walls.
var valleyFuncs = []testFunc{
	{name: "Rosenbrock (4-D)", lo: repeat(-5, 4), hi: repeat(10, 4), f: rosenbrock, opt: 0},
	{name: "Rosenbrock (2-D)", lo: repeat(-5, 2), hi: repeat(10, 2), f: rosenbrock, opt: 0},
}

// cmaesRun minimizes tf with gonum's CMA-ES (Cholesky variant) from the
// box's centre, its steps a third of the range, each point projected onto
// the box before it is evaluated, and returns the simple regret at each
// checkpoint.
func cmaesRun(tb testing.TB, tf testFunc, seed uint64, checkpoints []int) []float64 {
	d := tf.dim()
	// CMA-ES runs on the unit cube, as the GP optimizer does.
	toBox := func(u []float64) []float64 {
		x := make([]float64, d)
		for i := range x {
			x[i] = tf.lo[i] + min(max(u[i], 0), 1)*(tf.hi[i]-tf.lo[i])
		}
		return x
	}
	var trace []float64
	best := math.Inf(1)
	last := checkpoints[len(checkpoints)-1]
	p := optimize.Problem{Func: func(u []float64) float64 {
		v := tf.f(toBox(u))
		if len(trace) < last {
			best = min(best, v)
			trace = append(trace, best)
		}
		return v
	}}
	start := make([]float64, d)
	for i := range start {
		start[i] = 0.5
	}
	// gonum samples the first generation from InitCholesky alone: the
	// step size goes into it as σ²·I.
	const sigma = 1.0 / 3
	var chol mat.Cholesky
	v := make([]float64, d)
	for i := range v {
		v[i] = sigma * sigma
	}
	if !chol.Factorize(mat.NewDiagDense(d, v)) {
		tb.Fatal("σ²·I is not positive definite")
	}
	method := &optimize.CmaEsChol{InitStepSize: sigma, InitCholesky: &chol, Src: rand.NewPCG(seed, 11)}
	_, err := optimize.Minimize(p, start, &optimize.Settings{FuncEvaluations: last}, method)
	if err != nil && len(trace) < last {
		tb.Fatalf("%s seed %d: CMA-ES stopped after %d evaluations: %v", tf.name, seed, len(trace), err)
	}
	for len(trace) < last { // a converged run keeps its best
		trace = append(trace, best)
	}
	out := make([]float64, len(checkpoints))
	for k, c := range checkpoints {
		out[k] = trace[c-1] - tf.opt
	}
	return out
}

// TestValleyReport compares the GP optimizer with CMA-ES and random search
// on the valley functions: simple regret, median [25th–75th percentile]
// over 20 seeds. It runs only with PASSFLOW_REGRET=1.
func TestValleyReport(t *testing.T) {
	if os.Getenv("PASSFLOW_REGRET") == "" {
		t.Skip("set PASSFLOW_REGRET=1 to run the valley benchmark")
	}
	const seeds = 20
	checkpoints := []int{20, 50, 100}
	var b strings.Builder
	fmt.Fprintf(&b, "| function | optimizer | %d evals | %d evals | %d evals |\n|---|---|---|---|---|\n",
		checkpoints[0], checkpoints[1], checkpoints[2])
	runners := []struct {
		name string
		run  func(testFunc, uint64) []float64
	}{
		{"passflow GP, deterministic", func(tf testFunc, s uint64) []float64 { return regretRun(t, tf, true, s, checkpoints) }},
		{"passflow GP, default (noise learned)", func(tf testFunc, s uint64) []float64 { return defaultRun(t, tf, s, checkpoints) }},
		{"CMA-ES (gonum)", func(tf testFunc, s uint64) []float64 { return cmaesRun(t, tf, s, checkpoints) }},
		{"random search", func(tf testFunc, s uint64) []float64 { return regretRun(t, tf, false, s, checkpoints) }},
	}
	for _, tf := range valleyFuncs {
		for _, r := range runners {
			res := overSeeds(seeds, func(seed uint64) []float64 { return r.run(tf, seed) })
			fmt.Fprintf(&b, "| %s | %s |", tf.name, r.name)
			for k := range checkpoints {
				b.WriteString(quartileCell(res, k))
			}
			b.WriteString("\n")
		}
	}
	t.Log("\n" + b.String())
}

// defaultRun runs the optimizer with its default options, as `passflow
// optimize` does (the noise learned, no trust region), for the last
// checkpoint's number of evaluations of the noiseless tf, and returns the
// simple regret of the best point at each checkpoint.
func defaultRun(tb testing.TB, tf testFunc, seed uint64, checkpoints []int) []float64 {
	o, err := New(tf.problem(), Options{Seed: seed})
	if err != nil {
		tb.Fatal(err)
	}
	var out []float64
	best := math.Inf(1)
	for n := 1; n <= checkpoints[len(checkpoints)-1]; n++ {
		s, err := o.Ask(1)
		if err != nil {
			tb.Fatalf("%s seed %d eval %d: %v", tf.name, seed, n, err)
		}
		v := tf.f(tf.point(s[0].Config))
		best = min(best, v)
		if err := o.Tell(models.Observation{Config: s[0].Config, Objective: v}); err != nil {
			tb.Fatal(err)
		}
		if slices.Contains(checkpoints, n) {
			out = append(out, best-tf.opt)
		}
	}
	return out
}
