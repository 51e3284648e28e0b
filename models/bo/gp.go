package bo

import (
	"errors"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/lapack/lapack64"
	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/optimize"
)

const sqrt5 = 2.2360679774997896964

// Noise floors of the surrogate, as variances in standardized output units.
const (
	// safeNoiseFloor is the least learned noise in safe mode (a live
	// service's trust region): the loop's models were calibrated with it
	// (BENCHMARKS.md, Closed loop), and 1e-9 there made them sure enough of
	// unseen corners to canary a 160× breach.
	safeNoiseFloor = 1e-6
	// offlineNoiseFloor is the least learned noise outside safe mode, where
	// precision at the end of a budget is what counts: 1e-6 held a
	// noiseless objective's learned noise at an output sd of 1e-3, and
	// `passflow optimize` near 1e-4 regret on smooth 2–3-D functions.
	offlineNoiseFloor = 1e-9
	// deterministicNoise is the pinned noise of the deterministic mode.
	deterministicNoise = 1e-8
)

// noiseSpec is how a fit treats the observation noise: pinned at
// deterministicNoise, or learned, never below floor.
type noiseSpec struct {
	pinned bool
	floor  float64
}

// gpHyper are the hyperparameters of a Gaussian process: a Matérn-5/2
// kernel with one length scale per input dimension, a signal variance, a
// noise variance and a constant mean (in standardized output units).
type gpHyper struct {
	ls    []float64
	sf2   float64
	noise float64
	mean  float64
}

func (h gpHyper) clone() gpHyper {
	h.ls = slices.Clone(h.ls)
	return h
}

// gp is a Gaussian process conditioned on data. Inputs are points of the
// encoded space: numeric coordinates in [0, 1] and categorical choice
// indices. A categorical dimension contributes a Hamming distance (0 when the
// choices agree, 1 otherwise) scaled by its own length scale, so choices are
// never treated as ordered numbers.
type gp struct {
	d   int
	cat []bool
	n   int
	x   []float64 // n×d inputs, row-major
	y   []float64 // standardized outputs

	ymu, ysd float64
	hyp      gpHyper
	invLS2   []float64
	// pointNoise, when set, is each point's own noise variance in
	// standardized units (a measurement's squared standard error): the
	// diagonal of the kernel takes the larger of it and the learned noise.
	pointNoise []float64

	chol  mat.Cholesky
	lower blas64.Triangular
	alpha []float64 // K⁻¹(y - mean)
}

// matern52 returns the Matérn-5/2 correlation at squared scaled distance r2,
// and pre = (5/3)(1+√5r)e^{-√5r}, the factor of its derivatives:
// d k/d(r²) = -pre/2.
func matern52(r2 float64) (k, pre float64) {
	r := math.Sqrt(r2)
	e := math.Exp(-sqrt5 * r)
	return (1 + sqrt5*r + 5.0/3*r2) * e, 5.0 / 3 * (1 + sqrt5*r) * e
}

// dist2 is the squared scaled distance between two encoded points.
func dist2(a, b []float64, cat []bool, invLS2 []float64) float64 {
	var s float64
	for i := range a {
		if cat[i] {
			if a[i] != b[i] {
				s += invLS2[i]
			}
			continue
		}
		t := a[i] - b[i]
		s += t * t * invLS2[i]
	}
	return s
}

// standardize returns the mean and standard deviation used to standardize y
// (sd 1 when y is constant or has a single value).
func standardize(y []float64) (mu, sd float64) {
	for _, v := range y {
		mu += v
	}
	mu /= float64(len(y))
	for _, v := range y {
		sd += (v - mu) * (v - mu)
	}
	if len(y) > 1 {
		sd = math.Sqrt(sd / float64(len(y)-1))
	}
	if !(sd > 1e-12*max(1, math.Abs(mu))) {
		sd = 1
	}
	return mu, sd
}

// standardized returns y standardized (standardize), with its mean and
// standard deviation.
func standardized(y []float64) (ys []float64, mu, sd float64) {
	mu, sd = standardize(y)
	ys = make([]float64, len(y))
	for i, v := range y {
		ys[i] = (v - mu) / sd
	}
	return ys, mu, sd
}

// newGP returns a process on inputs x (n×d) and raw outputs y with
// hyperparameters h, conditioned on the data. se, when not nil, holds each
// output's standard error in raw units (0 when unknown): a point measured
// more noisily than the learned noise says counts as that noisy. The fit
// (fitHyper) learns one noise level for all points; the per-point noise
// enters the conditioning only.
func newGP(cat []bool, x, y, se []float64, h gpHyper) (*gp, error) {
	d := len(cat)
	n := len(y)
	g := &gp{d: d, cat: cat, n: n, x: slices.Clone(x), hyp: h.clone()}
	g.y, g.ymu, g.ysd = standardized(y)
	for i, e := range se {
		if e > 0 && !math.IsInf(e, 0) {
			if g.pointNoise == nil {
				g.pointNoise = make([]float64, n)
			}
			g.pointNoise[i] = (e / g.ysd) * (e / g.ysd)
		}
	}
	return g, g.condition()
}

// errNotPD reports a kernel matrix that stays indefinite after every jitter.
var errNotPD = errors.New("bo: kernel matrix is not positive definite even with jitter")

// buildKernel writes K = sf2·M + noise·I of points x under h into the upper
// triangle of k (row-major n×n) and, when pre is not nil, the Matérn
// derivative factor of every pair above the diagonal into pre. With
// pointNoise, point a's noise is max(noise, pointNoise[a]).
func buildKernel(k []float64, n int, x []float64, cat []bool, h gpHyper, invLS2 []float64, pre []float64, pointNoise []float64) {
	d := len(cat)
	for a := 0; a < n; a++ {
		xa := x[a*d : (a+1)*d]
		k[a*n+a] = h.sf2 + diagNoise(h, pointNoise, a)
		for b := a + 1; b < n; b++ {
			m, p := matern52(dist2(xa, x[b*d:(b+1)*d], cat, invLS2))
			k[a*n+b] = h.sf2 * m
			if pre != nil {
				pre[a*n+b] = p
			}
		}
	}
}

// diagNoise is point a's noise variance: the learned noise, or the point's
// own when it is larger.
func diagNoise(h gpHyper, pointNoise []float64, a int) float64 {
	if pointNoise != nil {
		return max(h.noise, pointNoise[a])
	}
	return h.noise
}

// factorize builds K = sf2·M + noise·I of points x under h into k and
// factorizes it, retrying with growing jitter on the diagonal. It returns the
// jitter added.
func factorize(chol *mat.Cholesky, k []float64, n int, x []float64, cat []bool, h gpHyper, invLS2 []float64, pre []float64, pointNoise []float64) (float64, error) {
	buildKernel(k, n, x, cat, h, invLS2, pre, pointNoise)
	sym := mat.NewSymDense(n, k)
	if chol.Factorize(sym) {
		return 0, nil
	}
	for jitter := 1e-9 * h.sf2; jitter < 1e-1*h.sf2; jitter *= 10 {
		for a := 0; a < n; a++ {
			k[a*n+a] = h.sf2 + diagNoise(h, pointNoise, a) + jitter
		}
		if chol.Factorize(sym) {
			return jitter, nil
		}
	}
	return 0, errNotPD
}

// potrf copies the upper triangle of k (n×n) into u and factorizes it in
// place as K = UᵀU, retrying with growing jitter on the diagonal like
// factorize. It skips the condition estimate of mat.Cholesky, which the fit
// does not need, but still refuses a factor whose diagonal spans more than
// 1e8 (a condition number above 1e16).
func potrf(u, k []float64, n int, h gpHyper) (blas64.Triangular, bool) {
	sym := blas64.Symmetric{Uplo: blas.Upper, N: n, Stride: max(1, n), Data: u}
	try := func(jitter float64) (blas64.Triangular, bool) {
		copy(u, k[:n*n])
		for a := 0; a < n; a++ {
			u[a*n+a] += jitter
		}
		t, ok := lapack64.Potrf(sym)
		if !ok {
			return t, false
		}
		lo, hi := math.Inf(1), 0.0
		for a := 0; a < n; a++ {
			lo, hi = min(lo, u[a*n+a]), max(hi, u[a*n+a])
		}
		return t, hi < 1e8*lo
	}
	if t, ok := try(0); ok {
		return t, true
	}
	for jitter := 1e-9 * h.sf2; jitter < 1e-1*h.sf2; jitter *= 10 {
		if t, ok := try(jitter); ok {
			return t, true
		}
	}
	return blas64.Triangular{}, false
}

// condition factorizes the kernel matrix of the data and solves for alpha.
func (g *gp) condition() error {
	g.invLS2 = make([]float64, g.d)
	for i, l := range g.hyp.ls {
		g.invLS2[i] = 1 / (l * l)
	}
	k := make([]float64, g.n*g.n)
	if _, err := factorize(&g.chol, k, g.n, g.x, g.cat, g.hyp, g.invLS2, nil, g.pointNoise); err != nil {
		return err
	}
	return g.solve()
}

func (g *gp) solve() error {
	r := make([]float64, g.n)
	for i, v := range g.y {
		r[i] = v - g.hyp.mean
	}
	var alpha mat.VecDense
	if err := g.chol.SolveVecTo(&alpha, mat.NewVecDense(g.n, r)); err != nil {
		return err
	}
	g.alpha = alpha.RawVector().Data
	var l mat.TriDense
	g.chol.LTo(&l)
	g.lower = l.RawTriangular()
	return nil
}

// predict returns the posterior mean and latent variance, in standardized
// units, at each row of c (m×d, row-major). The cross-covariances are solved
// against the Cholesky factor for all m points at once (one BLAS call).
func (g *gp) predict(c []float64, m int) (mu, v []float64) {
	n, d := g.n, g.d
	// kt is n×m: column j holds k(x_a, c_j) for every data point a.
	kt := make([]float64, n*m)
	v = make([]float64, m)
	// Columns are independent: large batches are split in two halves that
	// run side by side, with the same arithmetic per column either way.
	cols := func(j0, j1 int) {
		for a := 0; a < n; a++ {
			xa := g.x[a*d : (a+1)*d]
			row := kt[a*m : (a+1)*m]
			for j := j0; j < j1; j++ {
				k, _ := matern52(dist2(c[j*d:(j+1)*d], xa, g.cat, g.invLS2))
				row[j] = g.hyp.sf2 * k
			}
		}
		// Z = L⁻¹Kt, so that column j of Z is L⁻¹k*_j and var = sf2 - |Z_j|².
		z := slices.Clone(kt[j0 : j0+(n-1)*m+j1-j0])
		blas64.Trsm(blas.Left, blas.NoTrans, 1, g.lower, blas64.General{Rows: n, Cols: j1 - j0, Stride: m, Data: z})
		for a := 0; a < n; a++ {
			row := z[a*m : a*m+j1-j0]
			for j, t := range row {
				v[j0+j] += t * t
			}
		}
	}
	if n*m >= 1<<16 && runtime.GOMAXPROCS(0) > 1 {
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { defer wg.Done(); cols(0, m/2) }()
		cols(m/2, m)
		wg.Wait()
	} else {
		cols(0, m)
	}
	mu = make([]float64, m)
	for j := range mu {
		mu[j] = g.hyp.mean
	}
	for a := 0; a < n; a++ {
		blas64.Axpy(g.alpha[a], blas64.Vector{N: m, Data: kt[a*m : (a+1)*m], Inc: 1}, blas64.Vector{N: m, Data: mu, Inc: 1})
	}
	for j := range v {
		v[j] = max(g.hyp.sf2-v[j], 1e-12*g.hyp.sf2)
	}
	return mu, v
}

// pair returns the posterior means and latent variances at a and b and
// their covariance, from one solve per point.
func (g *gp) pair(a, b []float64) (mua, mub, va, vb, cab float64) {
	n, d := g.n, g.d
	ka, kb := make([]float64, n), make([]float64, n)
	for i := 0; i < n; i++ {
		xi := g.x[i*d : (i+1)*d]
		k, _ := matern52(dist2(a, xi, g.cat, g.invLS2))
		ka[i] = g.hyp.sf2 * k
		k, _ = matern52(dist2(b, xi, g.cat, g.invLS2))
		kb[i] = g.hyp.sf2 * k
	}
	mua, mub = g.hyp.mean+floats64Dot(ka, g.alpha), g.hyp.mean+floats64Dot(kb, g.alpha)
	// With z = L⁻¹k: var = sf2 − |z|², cov = k(a,b) − z_a·z_b.
	blas64.Trsv(blas.NoTrans, g.lower, blas64.Vector{N: n, Data: ka, Inc: 1})
	blas64.Trsv(blas.NoTrans, g.lower, blas64.Vector{N: n, Data: kb, Inc: 1})
	floor := 1e-12 * g.hyp.sf2
	va, vb = max(g.hyp.sf2-floats64Dot(ka, ka), floor), max(g.hyp.sf2-floats64Dot(kb, kb), floor)
	kab, _ := matern52(dist2(a, b, g.cat, g.invLS2))
	return mua, mub, va, vb, g.hyp.sf2*kab - floats64Dot(ka, kb)
}

// predictGrad returns the posterior mean and latent variance at x with their
// gradients with respect to x written into dmu and dv. Categorical
// coordinates get a zero gradient.
func (g *gp) predictGrad(x []float64, dmu, dv []float64) (mu, v float64) {
	n, d := g.n, g.d
	ks := make([]float64, n)
	pre := make([]float64, n)
	for a := 0; a < n; a++ {
		k, p := matern52(dist2(x, g.x[a*d:(a+1)*d], g.cat, g.invLS2))
		ks[a] = g.hyp.sf2 * k
		pre[a] = g.hyp.sf2 * p
	}
	mu = g.hyp.mean + floats64Dot(ks, g.alpha)
	// w = K⁻¹k* = L⁻ᵀL⁻¹k*, and var = sf2 - |L⁻¹k*|².
	wd := slices.Clone(ks)
	wv := blas64.Vector{N: n, Data: wd, Inc: 1}
	blas64.Trsv(blas.NoTrans, g.lower, wv)
	v = g.hyp.sf2 - floats64Dot(wd, wd)
	blas64.Trsv(blas.Trans, g.lower, wv)
	clear(dmu)
	clear(dv)
	// ∂k(x, x_a)/∂x_i = -pre_a·(x_i - x_ai)/ℓ_i².
	for a := 0; a < n; a++ {
		xa := g.x[a*d : (a+1)*d]
		ca, cw := -pre[a]*g.alpha[a], 2*pre[a]*wd[a]
		for i := 0; i < d; i++ {
			if g.cat[i] {
				continue
			}
			t := (x[i] - xa[i]) * g.invLS2[i]
			dmu[i] += ca * t
			dv[i] += cw * t // dv = -2 wᵀ ∂k*
		}
	}
	if v < 1e-12*g.hyp.sf2 {
		v = 1e-12 * g.hyp.sf2
		clear(dv)
	}
	return mu, v
}

func floats64Dot(a, b []float64) float64 {
	return blas64.Dot(blas64.Vector{N: len(a), Data: a, Inc: 1}, blas64.Vector{N: len(b), Data: b, Inc: 1})
}

// add conditions the process on one more point with standardized output ys
// (a Kriging-believer fantasy), extending the Cholesky factor in O(n²).
func (g *gp) add(x []float64, ys float64) error {
	n, d := g.n, g.d
	v := make([]float64, n+1)
	for a := 0; a < n; a++ {
		k, _ := matern52(dist2(x, g.x[a*d:(a+1)*d], g.cat, g.invLS2))
		v[a] = g.hyp.sf2 * k
	}
	v[n] = g.hyp.sf2 + g.hyp.noise
	var ext mat.Cholesky
	ok := ext.ExtendVecSym(&g.chol, mat.NewVecDense(n+1, v))
	for jitter := 1e-9 * g.hyp.sf2; !ok && jitter < 1e-1*g.hyp.sf2; jitter *= 10 {
		v[n] = g.hyp.sf2 + g.hyp.noise + jitter
		ok = ext.ExtendVecSym(&g.chol, mat.NewVecDense(n+1, v))
	}
	if !ok {
		return errNotPD
	}
	g.chol = ext
	if g.pointNoise != nil {
		g.pointNoise = append(g.pointNoise, 0) // a fantasy has the learned noise
	}
	g.x = append(g.x, x...)
	g.y = append(g.y, ys)
	g.n++
	return g.solve()
}

// fitSettings bound the work of one hyperparameter fit.
type fitSettings struct {
	noise     noiseSpec
	starts    int // random starts besides the warm start and the default
	maxEvals  int // function evaluations per start
	maxPoints int // fit on at most this many points
	// subset, when positive and below the number of points, makes the
	// starts run on that many points (fitSubset, at most 40 evaluations
	// each) and only the best of them continue on all of them (up to
	// maxPoints) for refineEvals evaluations:
	// a cold fit on a long history costs a few full factorizations instead
	// of hundreds.
	subset      int
	refineEvals int
	// catLSMax, when positive, is the largest length scale of a
	// categorical dimension (see maxSafeChoiceLS).
	catLSMax float64
}

// lsHi returns each dimension's largest log length scale: logLSMax, or
// log(catLSMax) for a categorical one when catLSMax is positive; nil when
// no dimension is capped.
func lsHi(cat []bool, catLSMax float64) []float64 {
	if catLSMax <= 0 || !slices.Contains(cat, true) {
		return nil
	}
	hi := make([]float64, len(cat))
	for i, c := range cat {
		hi[i] = logLSMax
		if c {
			hi[i] = min(math.Log(catLSMax), logLSMax)
		}
	}
	return hi
}

// lsBound returns dimension i's largest log length scale under hi (see lsHi).
func lsBound(hi []float64, i int) float64 {
	if hi == nil {
		return logLSMax
	}
	return hi[i]
}

// lsPrior returns the mean and sd of the log-normal length-scale prior in d
// dimensions, after Hvarfner et al., "Vanilla Bayesian optimization performs
// great in high dimensions" (2024): wider spaces get longer length scales.
func lsPrior(d int) (mu, sd float64) {
	return math.Sqrt2 + 0.5*math.Log(float64(d)) - 1, math.Sqrt(3)
}

// Bounds of the log hyperparameters.
const (
	logLSMin, logLSMax   = -6.0, 5.0  // length scales in [0.0025, 148]
	logSF2Min, logSF2Max = -7.0, 7.0  // signal variance
	logNzMin, logNzMax   = -18.0, 2.0 // noise variance above the floor
	meanPriorSD          = 2.0
	sf2PriorSD           = 2.0
	noisePriorMu         = -8.0
	noisePriorSD         = 3.0
)

// hyperVec packs h into an unconstrained vector: log length scales, log
// signal variance, log noise above the floor, mean.
func hyperVec(h gpHyper, floor float64) []float64 {
	d := len(h.ls)
	t := make([]float64, d+3)
	for i, l := range h.ls {
		t[i] = math.Log(l)
	}
	t[d] = math.Log(h.sf2)
	t[d+1] = math.Log(max(h.noise-floor, 1e-12))
	t[d+2] = h.mean
	return t
}

func vecHyper(t []float64, ns noiseSpec, hi []float64) gpHyper {
	d := len(t) - 3
	h := gpHyper{ls: make([]float64, d)}
	for i := range h.ls {
		h.ls[i] = math.Exp(clamp(t[i], logLSMin, lsBound(hi, i)))
	}
	h.sf2 = math.Exp(clamp(t[d], logSF2Min, logSF2Max))
	h.noise = ns.floor + math.Exp(clamp(t[d+1], logNzMin, logNzMax))
	if ns.pinned {
		h.noise = deterministicNoise
	}
	h.mean = t[d+2]
	return h
}

func clamp(v, lo, hi float64) float64 { return min(hi, max(lo, v)) }

// logPosterior is the fitting objective: the negative log marginal
// likelihood of standardized outputs y at inputs x plus the negative log
// prior, with its gradient in the packing of hyperVec.
type logPosterior struct {
	cat        []bool
	x, y       []float64
	n          int
	noise      noiseSpec
	lsMu, lsSD float64
	lsHi       []float64 // see lsHi; nil: logLSMax for every dimension

	k, pre, inv []float64
	// cache of the last evaluation
	lastT []float64
	lastF float64
	lastG []float64
}

func newLogPosterior(cat []bool, x, y []float64, ns noiseSpec, hi []float64) *logPosterior {
	n := len(y)
	mu, sd := lsPrior(len(cat))
	return &logPosterior{
		cat: cat, x: x, y: y, n: n, noise: ns, lsMu: mu, lsSD: sd, lsHi: hi,
		k: make([]float64, n*n), pre: make([]float64, n*n), inv: make([]float64, n*n),
	}
}

func (lp *logPosterior) eval(t []float64) (float64, []float64) {
	if lp.lastT != nil && slices.Equal(t, lp.lastT) {
		return lp.lastF, lp.lastG
	}
	f, g := lp.compute(t)
	lp.lastT = append(lp.lastT[:0], t...)
	lp.lastF, lp.lastG = f, g
	return f, g
}

func (lp *logPosterior) compute(t []float64) (float64, []float64) {
	d, n := len(lp.cat), lp.n
	h := vecHyper(t, lp.noise, lp.lsHi)
	grad := make([]float64, d+3)
	invLS2 := make([]float64, d)
	for i, l := range h.ls {
		invLS2[i] = 1 / (l * l)
	}
	buildKernel(lp.k, n, lp.x, lp.cat, h, invLS2, lp.pre, nil)
	u, ok := potrf(lp.inv, lp.k, n, h)
	if !ok {
		return 1e10, grad
	}
	r := make([]float64, n)
	for i, v := range lp.y {
		r[i] = v - h.mean
	}
	alpha := slices.Clone(r)
	lapack64.Potrs(u, blas64.General{Rows: n, Cols: 1, Stride: 1, Data: alpha})
	var logDet float64
	for a := 0; a < n; a++ {
		logDet += 2 * math.Log(lp.inv[a*n+a])
	}
	nll := 0.5*floats64Dot(r, alpha) + 0.5*logDet + 0.5*float64(n)*math.Log(2*math.Pi)

	// K⁻¹ in place of the factor, upper triangle.
	if _, ok := lapack64.Potri(u); !ok {
		return 1e10, grad
	}
	// ∂nll/∂θ = -½ tr((ααᵀ - K⁻¹) ∂K/∂θ). lp.k still holds sf2·M above the
	// diagonal (the factor and then K⁻¹ live in lp.inv).
	var gsf, gnz float64
	for a := 0; a < n; a++ {
		xa := lp.x[a*d : (a+1)*d]
		gnz += alpha[a]*alpha[a] - lp.inv[a*n+a]
		gsf += 0.5 * (alpha[a]*alpha[a] - lp.inv[a*n+a]) * h.sf2
		for b := a + 1; b < n; b++ {
			w := alpha[a]*alpha[b] - lp.inv[a*n+b]
			// Off-diagonal pairs count twice; the ½ of the formula cancels.
			gsf += w * lp.k[a*n+b]
			c := w * h.sf2 * lp.pre[a*n+b]
			if c == 0 {
				continue
			}
			xb := lp.x[b*d : (b+1)*d]
			for i := 0; i < d; i++ {
				var s float64
				if lp.cat[i] {
					if xa[i] != xb[i] {
						s = 1
					}
				} else {
					s = (xa[i] - xb[i]) * (xa[i] - xb[i])
				}
				// ∂K_ab/∂log ℓ_i = sf2·pre·δ²/ℓ².
				grad[i] -= c * s * invLS2[i]
			}
		}
	}
	grad[d] = -gsf
	if !lp.noise.pinned {
		grad[d+1] = -0.5 * gnz * (h.noise - lp.noise.floor)
	}
	grad[d+2] = -floats64Sum(alpha)

	// Priors (negative log densities, constants dropped) and soft bounds.
	for i := 0; i < d; i++ {
		z := (t[i] - lp.lsMu) / lp.lsSD
		nll += 0.5 * z * z
		grad[i] += z / lp.lsSD
	}
	nll += 0.5 * t[d] * t[d] / (sf2PriorSD * sf2PriorSD)
	grad[d] += t[d] / (sf2PriorSD * sf2PriorSD)
	if !lp.noise.pinned {
		z := (t[d+1] - noisePriorMu) / noisePriorSD
		nll += 0.5 * z * z
		grad[d+1] += z / noisePriorSD
	}
	nll += 0.5 * t[d+2] * t[d+2] / (meanPriorSD * meanPriorSD)
	grad[d+2] += t[d+2] / (meanPriorSD * meanPriorSD)
	bound := func(j int, lo, hi float64) {
		switch {
		case t[j] < lo:
			nll += 50 * (t[j] - lo) * (t[j] - lo)
			grad[j] += 100 * (t[j] - lo)
		case t[j] > hi:
			nll += 50 * (t[j] - hi) * (t[j] - hi)
			grad[j] += 100 * (t[j] - hi)
		}
	}
	for i := 0; i < d; i++ {
		bound(i, logLSMin, lsBound(lp.lsHi, i))
	}
	bound(d, logSF2Min, logSF2Max)
	bound(d+1, logNzMin, logNzMax)
	return nll, grad
}

func floats64Sum(a []float64) float64 {
	var s float64
	for _, v := range a {
		s += v
	}
	return s
}

// defaultHyper is the first start of a fit without a warm start.
func defaultHyper(d int, ns noiseSpec) gpHyper {
	h := gpHyper{ls: make([]float64, d), sf2: 1, noise: ns.floor + 1e-4, mean: 0}
	for i := range h.ls {
		h.ls[i] = 0.3 * math.Sqrt(float64(d))
	}
	if ns.pinned {
		h.noise = deterministicNoise
	}
	return h
}

// fitHyper fits the hyperparameters of a process on inputs x and raw outputs
// y by maximizing the log posterior (marginal likelihood times priors) with
// L-BFGS from the warm start (the default start without one) and s.starts
// draws from the priors; the best optimum wins. With s.subset the starts run
// on a subset and only the winner continues on all the points.
func fitHyper(cat []bool, x, y []float64, warm *gpHyper, s fitSettings, rng *rand.Rand) gpHyper {
	d, n := len(cat), len(y)
	if s.maxPoints > 0 && n > s.maxPoints {
		x, y = fitSubset(d, x, y, s.maxPoints)
		n = len(y)
	}
	var starts [][]float64
	if warm != nil {
		starts = append(starts, hyperVec(*warm, s.noise.floor))
	} else {
		starts = append(starts, hyperVec(defaultHyper(d, s.noise), s.noise.floor))
	}
	lsMu, lsSD := lsPrior(d)
	hi := lsHi(cat, s.catLSMax)
	for i := 0; i < s.starts; i++ {
		t := make([]float64, d+3)
		for j := 0; j < d; j++ {
			t[j] = clamp(lsMu-1+lsSD*0.7*rng.NormFloat64(), logLSMin, lsBound(hi, j))
		}
		t[d] = 0.5 * rng.NormFloat64()
		t[d+1] = clamp(noisePriorMu+rng.NormFloat64(), logNzMin, logNzMax)
		t[d+2] = 0.3 * rng.NormFloat64()
		starts = append(starts, t)
	}
	if s.subset > 0 && n > s.subset {
		xs, ys := fitSubset(d, x, y, s.subset)
		best := minimizeStarts(cat, xs, ys, starts, s.noise, hi, min(s.maxEvals, 40))
		// The subset's standardization differs a little from the full
		// data's; the refinement absorbs it.
		return vecHyper(minimizeStarts(cat, x, y, [][]float64{best}, s.noise, hi, s.refineEvals), s.noise, hi)
	}
	return vecHyper(minimizeStarts(cat, x, y, starts, s.noise, hi, s.maxEvals), s.noise, hi)
}

// logEvidence is the log posterior density of y under a process with
// hyperparameters h at inputs x, the noise treated as ns says, up to a
// constant shared by every y of the same length: the fitting objective's
// value, on y standardized, less the standardization's log Jacobian. Two
// scales of the same values compare by it once the transform's own
// Jacobian is added.
func logEvidence(cat []bool, x, y []float64, h gpHyper, ns noiseSpec) float64 {
	ys, _, sd := standardized(y)
	f, _ := newLogPosterior(cat, x, ys, ns, nil).eval(hyperVec(h, ns.floor))
	return -f - float64(len(y))*math.Log(sd)
}

// minimizeStarts minimizes the log posterior of raw outputs y at inputs x
// with L-BFGS from each start, at most maxEvals evaluations each, and
// returns the best optimum (the first start if every run failed).
func minimizeStarts(cat []bool, x, y []float64, starts [][]float64, ns noiseSpec, hi []float64, maxEvals int) []float64 {
	ys, _, _ := standardized(y)
	lp := newLogPosterior(cat, x, ys, ns, hi)
	problem := optimize.Problem{
		Func: func(t []float64) float64 { f, _ := lp.eval(t); return f },
		Grad: func(dst, t []float64) { _, g := lp.eval(t); copy(dst, g) },
	}
	bestF, bestT := math.Inf(1), starts[0]
	for _, t0 := range starts {
		settings := &optimize.Settings{
			FuncEvaluations:   maxEvals,
			GradientThreshold: 1e-5,
			Converger:         &optimize.FunctionConverge{Absolute: 1e-6, Relative: 1e-6, Iterations: 4},
		}
		res, err := optimize.Minimize(problem, t0, settings, &optimize.LBFGS{})
		if res == nil || (err != nil && math.IsInf(res.F, 0)) {
			continue
		}
		if res.F < bestF && !math.IsNaN(res.F) {
			bestF, bestT = res.F, res.X
		}
	}
	return bestT
}

// fitSubset keeps at most m points for fitting: the best half by output and
// an even spread of the rest.
func fitSubset(d int, x, y []float64, m int) ([]float64, []float64) {
	n := len(y)
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		switch {
		case y[a] < y[b]:
			return -1
		case y[a] > y[b]:
			return 1
		}
		return 0
	})
	keep := slices.Clone(idx[:m/2])
	rest := idx[m/2:]
	need := m - len(keep)
	for i := 0; i < need; i++ {
		keep = append(keep, rest[i*len(rest)/need])
	}
	slices.Sort(keep)
	xs := make([]float64, 0, len(keep)*d)
	ys := make([]float64, 0, len(keep))
	for _, i := range keep {
		xs = append(xs, x[i*d:(i+1)*d]...)
		ys = append(ys, y[i])
	}
	return xs, ys
}
