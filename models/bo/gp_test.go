package bo

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestGPPosteriorByHand checks the posterior on two points against values
// worked out by hand from the closed form. Points x = 0 and 0.5 with outputs
// ∓1/√2 (already mean 0 and sd 1, so standardizing changes nothing), length
// scale 0.5, signal variance 1, noise 1e-8, mean 0. Then
//
//	k(r) = (1 + √5 r + 5r²/3)·e^{-√5 r}, r = |x-x'|/0.5
//	k12 = k(1) = 4.90273·0.106878 = 0.523994
//	K⁻¹ = [[1, -k12], [-k12, 1]] / (1 - k12²)
//
// At x* = 0.1: k* = (k(0.2), k(0.8)) = (0.967986, 0.644456), so
// K⁻¹k* = (0.9700, -0.2440)·… and mean = k*ᵀK⁻¹y = -0.480604, variance
// 1 - k*ᵀK⁻¹k* = 0.037040. At x* = 0.25 (midway) k* = (0.828649, 0.828649):
// mean 0 by symmetry, variance 1 - 2·0.828649²/(1+k12) = 0.098869. At
// x* = 0.75: k* = (0.283163, 0.828649), mean 0.810319, variance 0.281891.
// At the data the variance is ~0 and the mean the data.
func TestGPPosteriorByHand(t *testing.T) {
	h := gpHyper{ls: []float64{0.5}, sf2: 1, noise: 1e-8}
	g, err := newGP([]bool{false}, []float64{0, 0.5}, []float64{-1 / math.Sqrt2, 1 / math.Sqrt2}, nil, h)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ x, mu, v float64 }{
		{0.1, -0.4806035184399518, 0.037040246829023515},
		{0.25, 0, 0.09886869936658782},
		{0.75, 0.8103192786777155, 0.2818912831354088},
		{0, -1 / math.Sqrt2, 0},
		{0.5, 1 / math.Sqrt2, 0},
	}
	for _, tt := range tests {
		mu, v := g.predict([]float64{tt.x}, 1)
		if math.Abs(mu[0]-tt.mu) > 1e-6 || math.Abs(v[0]-tt.v) > 1e-6 {
			t.Errorf("x=%v: mean %v var %v, want %v and %v", tt.x, mu[0], v[0], tt.mu, tt.v)
		}
		dmu, dv := make([]float64, 1), make([]float64, 1)
		mu1, v1 := g.predictGrad([]float64{tt.x}, dmu, dv)
		if math.Abs(mu1-mu[0]) > 1e-9 || math.Abs(v1-v[0]) > 1e-9 {
			t.Errorf("x=%v: predictGrad gives %v, %v; predict %v, %v", tt.x, mu1, v1, mu[0], v[0])
		}
		// pair agrees with predict, and a point's covariance with itself
		// is its variance.
		ma, mb, va, vb, c := g.pair([]float64{tt.x}, []float64{tt.x})
		if math.Abs(ma-mu[0]) > 1e-9 || math.Abs(mb-mu[0]) > 1e-9 || math.Abs(va-v[0]) > 1e-9 || math.Abs(vb-v[0]) > 1e-9 ||
			math.Abs(c-v[0]) > 1e-9 && v[0] > 1e-9 {
			t.Errorf("x=%v: pair gives means %v, %v, variances %v, %v, covariance %v; predict %v, %v", tt.x, ma, mb, va, vb, c, mu[0], v[0])
		}
	}
	// The covariance of 0.1 and 0.75 by hand: k(0.1, 0.75) − k₁ᵀK⁻¹k₂.
	_, _, _, _, c := g.pair([]float64{0.1}, []float64{0.75})
	k := func(a, b float64) float64 { r, _ := matern52((a - b) * (a - b) / 0.25); return r }
	k11, k12, k22 := k(0, 0)+1e-8, k(0, 0.5), k(0.5, 0.5)+1e-8
	det := k11*k22 - k12*k12
	a1, a2 := k(0.1, 0), k(0.1, 0.5)
	b1, b2 := k(0.75, 0), k(0.75, 0.5)
	want := k(0.1, 0.75) - (a1*(k22*b1-k12*b2)+a2*(-k12*b1+k11*b2))/det
	if math.Abs(c-want) > 1e-6 {
		t.Errorf("covariance of 0.1 and 0.75: %v, want %v", c, want)
	}
	// Three points: the third at 1 with output 0 changes nothing on the
	// left by symmetry of nothing; just check interpolation and the order
	// of the variances.
	g3, err := newGP([]bool{false}, []float64{0, 0.5, 1}, []float64{-1, 1, 0}, nil, h)
	if err != nil {
		t.Fatal(err)
	}
	mu, v := g3.predict([]float64{0, 0.5, 1, 0.25}, 4)
	for i, want := range []float64{-1, 1, 0} {
		got := g3.ymu + g3.ysd*mu[i]
		if math.Abs(got-want) > 1e-5 || v[i] > 1e-6 {
			t.Errorf("at data point %d: mean %v var %v, want %v and ~0", i, got, v[i], want)
		}
	}
	if v[3] < 1e-3 {
		t.Errorf("variance between data points %v, want > 0", v[3])
	}
}

// randomData draws n points in d dimensions (the last one categorical with
// three choices when cat) with a smooth response.
func randomData(rng *rand.Rand, n, d int, cat bool) ([]bool, []float64, []float64) {
	c := make([]bool, d)
	c[d-1] = cat
	x := make([]float64, n*d)
	y := make([]float64, n)
	for i := 0; i < n; i++ {
		for j := 0; j < d; j++ {
			if c[j] {
				x[i*d+j] = float64(rng.IntN(3))
			} else {
				x[i*d+j] = rng.Float64()
			}
			y[i] += math.Sin(3*x[i*d+j]) * float64(j+1)
		}
	}
	return c, x, y
}

func TestLogPosteriorGradient(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, det := range []bool{false, true} {
		c, x, y := randomData(rng, 12, 3, true)
		mu, sd := standardize(y)
		for i := range y {
			y[i] = (y[i] - mu) / sd
		}
		lp := newLogPosterior(c, x, y, noiseSpec{pinned: det, floor: safeNoiseFloor}, nil)
		theta := []float64{math.Log(0.4), math.Log(0.8), math.Log(1.5), math.Log(1.2), math.Log(1e-3), 0.1}
		_, g := lp.compute(theta)
		for j := range theta {
			const h = 1e-6
			tp, tm := append([]float64(nil), theta...), append([]float64(nil), theta...)
			tp[j] += h
			tm[j] -= h
			fp, _ := lp.compute(tp)
			fm, _ := lp.compute(tm)
			fd := (fp - fm) / (2 * h)
			if math.Abs(fd-g[j]) > 1e-4*max(1, math.Abs(fd)) {
				t.Errorf("deterministic=%v: d/dθ[%d] = %v, finite difference %v", det, j, g[j], fd)
			}
		}
	}
}

func TestPredictGradient(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	c, x, y := randomData(rng, 15, 3, true)
	g, err := newGP(c, x, y, nil, gpHyper{ls: []float64{0.3, 0.5, 0.7}, sf2: 1.3, noise: 1e-4, mean: 0.1})
	if err != nil {
		t.Fatal(err)
	}
	p := []float64{0.3, 0.6, 1}
	dmu, dv := make([]float64, 3), make([]float64, 3)
	g.predictGrad(p, dmu, dv)
	for j := 0; j < 2; j++ {
		const h = 1e-6
		pp, pm := append([]float64(nil), p...), append([]float64(nil), p...)
		pp[j] += h
		pm[j] -= h
		mp, vp := g.predict(pp, 1)
		mm, vm := g.predict(pm, 1)
		if fd := (mp[0] - mm[0]) / (2 * h); math.Abs(fd-dmu[j]) > 1e-5*max(1, math.Abs(fd)) {
			t.Errorf("dmean/dx[%d] = %v, finite difference %v", j, dmu[j], fd)
		}
		if fd := (vp[0] - vm[0]) / (2 * h); math.Abs(fd-dv[j]) > 1e-5*max(1, math.Abs(fd)) {
			t.Errorf("dvar/dx[%d] = %v, finite difference %v", j, dv[j], fd)
		}
	}
	if dmu[2] != 0 || dv[2] != 0 {
		t.Errorf("categorical coordinate has a gradient: %v, %v", dmu[2], dv[2])
	}
}

func TestAcquisitionGradient(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	c, x, y := randomData(rng, 20, 3, false)
	obj, err := newGP(c, x, y, nil, gpHyper{ls: []float64{0.3, 0.4, 0.5}, sf2: 1, noise: 1e-4})
	if err != nil {
		t.Fatal(err)
	}
	yc := make([]float64, len(y))
	for i := range yc {
		yc[i] = x[i*3] + x[i*3+1]
	}
	con, err := newGP(c, x, yc, nil, gpHyper{ls: []float64{0.5, 0.5, 0.5}, sf2: 1, noise: 1e-3})
	if err != nil {
		t.Fatal(err)
	}
	m := &boModel{
		enc: &encoding{cat: c}, obj: obj, feasibleSeen: true, best: -1.2, sign: 1,
		cons: []conModel{
			{name: "upper", g: con, lo: math.Inf(-1), hi: 0.2},
			{name: "lower", g: con, lo: -0.5, hi: math.Inf(1)},
			{name: "both", g: con, lo: -1, hi: 1},
		},
	}
	for _, p := range [][]float64{{0.2, 0.7, 0.4}, {0.9, 0.1, 0.5}, {0.5, 0.5, 0.5}} {
		grad := make([]float64, 3)
		a := m.acquisitionGrad(p, grad)
		av, _ := m.acquisition(p, 1)
		if math.Abs(a-av[0]) > 1e-9*max(1, math.Abs(a)) {
			t.Errorf("at %v: acquisitionGrad %v, acquisition %v", p, a, av[0])
		}
		for j := range p {
			const h = 1e-6
			pp, pm := append([]float64(nil), p...), append([]float64(nil), p...)
			pp[j] += h
			pm[j] -= h
			fp, _ := m.acquisition(pp, 1)
			fm, _ := m.acquisition(pm, 1)
			if fd := (fp[0] - fm[0]) / (2 * h); math.Abs(fd-grad[j]) > 1e-4*max(1, math.Abs(fd)) {
				t.Errorf("at %v: d acq/dx[%d] = %v, finite difference %v", p, j, grad[j], fd)
			}
		}
	}
}

func TestGPDuplicatesAndJitter(t *testing.T) {
	// Ten copies of the same point with different outputs, in the
	// deterministic mode: the Cholesky needs jitter but must not fail.
	x := make([]float64, 10)
	y := make([]float64, 10)
	for i := range y {
		x[i] = 0.5
		y[i] = float64(i % 3)
	}
	h := fitHyper([]bool{false}, x, y, nil, fitSettings{noise: noiseSpec{pinned: true}, starts: 1, maxEvals: 50}, rand.New(rand.NewPCG(1, 1)))
	g, err := newGP([]bool{false}, x, y, nil, h)
	if err != nil {
		t.Fatalf("duplicates: %v", err)
	}
	mu, v := g.predict([]float64{0.5, 0.1}, 2)
	for i := range mu {
		if math.IsNaN(mu[i]) || math.IsNaN(v[i]) || v[i] < 0 {
			t.Errorf("prediction %d: mean %v var %v", i, mu[i], v[i])
		}
	}
}

func TestFitRecoversLengthScales(t *testing.T) {
	// y depends strongly on x1, not at all on x2: the fitted length scale of
	// x2 must be much longer.
	rng := rand.New(rand.NewPCG(7, 8))
	n := 40
	x := make([]float64, 2*n)
	y := make([]float64, n)
	for i := 0; i < n; i++ {
		x[2*i], x[2*i+1] = rng.Float64(), rng.Float64()
		y[i] = math.Sin(6 * x[2*i])
	}
	h := fitHyper([]bool{false, false}, x, y, nil, fitSettings{noise: noiseSpec{floor: safeNoiseFloor}, starts: 2, maxEvals: 100}, rng)
	if !(h.ls[1] > 3*h.ls[0]) {
		t.Errorf("length scales %v: want the irrelevant x2 much longer than x1", h.ls)
	}
}

// TestPointNoise: a point measured with a large standard error pulls the
// posterior mean far less than the same point measured precisely.
func TestPointNoise(t *testing.T) {
	h := gpHyper{ls: []float64{0.3}, sf2: 1, noise: 1e-4}
	x := []float64{0.1, 0.5, 0.9}
	y := []float64{0, 3, 0}
	precise, err := newGP([]bool{false}, x, y, nil, h)
	if err != nil {
		t.Fatal(err)
	}
	vague, err := newGP([]bool{false}, x, y, []float64{0, 10, 0}, h)
	if err != nil {
		t.Fatal(err)
	}
	mp, _ := precise.predict([]float64{0.5}, 1)
	mv, _ := vague.predict([]float64{0.5}, 1)
	yp := mp[0]*precise.ysd + precise.ymu
	yv := mv[0]*vague.ysd + vague.ymu
	if math.Abs(yp-3) > 0.05 || yv > 2 {
		t.Errorf("posterior at the point: precise %.3f (want ≈3), vague %.3f (want well below 3)", yp, yv)
	}
}
