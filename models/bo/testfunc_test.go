package bo

import (
	"fmt"
	"math"
	"runtime"
	"sync"

	"github.com/passflow/passflow/models"
)

// testFunc is a standard optimization test function on a box, minimized.
type testFunc struct {
	name   string
	lo, hi []float64
	f      func(x []float64) float64
	opt    float64 // the known minimum (of the feasible set, if constrained)
	// con, when set, must be <= 0 at a feasible point.
	con func(x []float64) float64
	// noise is the standard deviation of the observation noise.
	noise float64
	// current, when set, is the incumbent as a share of each range (the
	// default, the centre, is Ackley's optimum).
	current float64
}

func (t testFunc) dim() int { return len(t.lo) }

func (t testFunc) space() models.Space {
	s := make(models.Space, t.dim())
	for i := range s {
		s[i] = models.Param{Name: fmt.Sprintf("x%d", i+1), Type: models.Float, Min: t.lo[i], Max: t.hi[i]}
		if t.current != 0 {
			v := models.Num(t.lo[i] + t.current*(t.hi[i]-t.lo[i]))
			s[i].Current = &v
		}
	}
	return s
}

func (t testFunc) problem() models.Problem {
	p := models.Problem{Space: t.space(), Goal: models.Minimize}
	if t.con != nil {
		zero := 0.0
		p.Constraints = []models.Constraint{{Metric: "c", Max: &zero}}
	}
	return p
}

func (t testFunc) point(c models.Config) []float64 {
	x := make([]float64, t.dim())
	for i := range x {
		x[i] = c[fmt.Sprintf("x%d", i+1)].Float()
	}
	return x
}

func repeat(v float64, n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = v
	}
	return out
}

func branin(x []float64) float64 {
	const (
		a = 1.0
		b = 5.1 / (4 * math.Pi * math.Pi)
		c = 5 / math.Pi
		r = 6.0
		s = 10.0
		t = 1 / (8 * math.Pi)
	)
	u := x[1] - b*x[0]*x[0] + c*x[0] - r
	return a*u*u + s*(1-t)*math.Cos(x[0]) + s
}

var hartmann6A = [4][6]float64{
	{10, 3, 17, 3.5, 1.7, 8},
	{0.05, 10, 17, 0.1, 8, 14},
	{3, 3.5, 1.7, 10, 17, 8},
	{17, 8, 0.05, 10, 0.1, 14},
}

var hartmann6P = [4][6]float64{
	{1312, 1696, 5569, 124, 8283, 5886},
	{2329, 4135, 8307, 3736, 1004, 9991},
	{2348, 1451, 3522, 2883, 3047, 6650},
	{4047, 8828, 8732, 5743, 1091, 381},
}

func hartmann6(x []float64) float64 {
	alpha := [4]float64{1.0, 1.2, 3.0, 3.2}
	var s float64
	for i := 0; i < 4; i++ {
		var in float64
		for j := 0; j < 6; j++ {
			d := x[j] - hartmann6P[i][j]*1e-4
			in += hartmann6A[i][j] * d * d
		}
		s -= alpha[i] * math.Exp(-in)
	}
	return s
}

func sixHumpCamel(x []float64) float64 {
	a, b := x[0], x[1]
	return (4-2.1*a*a+a*a*a*a/3)*a*a + a*b + (-4+4*b*b)*b*b
}

func levy(x []float64) float64 {
	w := func(v float64) float64 { return 1 + (v-1)/4 }
	d := len(x)
	w0 := w(x[0])
	s := math.Pow(math.Sin(math.Pi*w0), 2)
	for i := 0; i < d-1; i++ {
		wi := w(x[i])
		s += (wi - 1) * (wi - 1) * (1 + 10*math.Pow(math.Sin(math.Pi*wi+1), 2))
	}
	wd := w(x[d-1])
	s += (wd - 1) * (wd - 1) * (1 + math.Pow(math.Sin(2*math.Pi*wd), 2))
	return s
}

func ackley(x []float64) float64 {
	d := float64(len(x))
	var s1, s2 float64
	for _, v := range x {
		s1 += v * v
		s2 += math.Cos(2 * math.Pi * v)
	}
	return -20*math.Exp(-0.2*math.Sqrt(s1/d)) - math.Exp(s2/d) + 20 + math.E
}

// The benchmark suite. Branin with a disk constraint follows Gardner et al.
// (2014): of Branin's three minima only (π, 2.275) is feasible.
var testFuncs = []testFunc{
	{name: "Branin (2-D)", lo: []float64{-5, 0}, hi: []float64{10, 15}, f: branin, opt: 0.397887357729738},
	{name: "Hartmann6 (6-D)", lo: repeat(0, 6), hi: repeat(1, 6), f: hartmann6, opt: -3.32236801141551},
	{name: "Six-hump camel (2-D)", lo: []float64{-3, -2}, hi: []float64{3, 2}, f: sixHumpCamel, opt: -1.031628453489877},
	{name: "Levy (4-D)", lo: repeat(-10, 4), hi: repeat(10, 4), f: levy, opt: 0},
	{name: "Ackley (5-D)", lo: repeat(-32.768, 5), hi: repeat(32.768, 5), f: ackley, opt: 0, current: 0.3},
	{
		name: "Constrained Branin (2-D)", lo: []float64{-5, 0}, hi: []float64{10, 15}, f: branin, opt: 0.397887357729738,
		con: func(x []float64) float64 { return (x[0]-2.5)*(x[0]-2.5) + (x[1]-7.5)*(x[1]-7.5) - 50 },
	},
	{name: "Noisy Hartmann6 (6-D, sd 0.1)", lo: repeat(0, 6), hi: repeat(1, 6), f: hartmann6, opt: -3.32236801141551, noise: 0.1},
}

// overSeeds runs run for seeds 1 to n, as many at once as there are
// cores, and returns the results in seed order.
func overSeeds[T any](n int, run func(seed uint64) T) []T {
	out := make([]T, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for s := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			out[s] = run(uint64(s + 1))
		}()
	}
	wg.Wait()
	return out
}
