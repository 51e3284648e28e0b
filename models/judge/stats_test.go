package judge

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/passflow/passflow/models"
)

// The permeability data of Hollander & Wolfe (1973, p. 69f), the example of
// R's ?wilcox.test: x at 12–26 weeks of gestation (here the canary), y at term
// (the baseline). R documents `wilcox.test(x, y, alternative = "g")` as
// W = 35, p-value = 0.1272, which the exact test below reproduces.
var (
	hwX = []float64{0.80, 0.83, 1.89, 1.04, 1.45, 1.38, 1.91, 1.64, 0.73, 1.46}
	hwY = []float64{1.15, 0.88, 0.90, 0.74, 1.21}
)

func sortedCopy(xs []float64) []float64 { s := slices.Clone(xs); slices.Sort(s); return s }

func TestMannWhitneyHollanderWolfe(t *testing.T) {
	x, y := sortedCopy(hwX), sortedCopy(hwY)
	r := mannWhitney(x, y)
	// By hand: the number of x above each y.
	//   y = 0.74: 9 (all but 0.73)   y = 0.88: 7   y = 0.90: 7
	//   y = 1.15: 6                  y = 1.21: 6   → U = 9+7+7+6+6 = 35.
	if r.U != 35 {
		t.Errorf("U = %v, want 35", r.U)
	}
	if !r.Exact {
		t.Fatal("want the exact distribution for 10 vs 5 without ties")
	}
	// One-sided exact P(U ≥ 35) = 0.1272 (R); two-sided twice that.
	if p := 1 - r.cdfAt(34); math.Abs(p-0.1272) > 5e-5 {
		t.Errorf("P(U ≥ 35) = %.5f, want 0.1272", p)
	}
	if p := r.PValue(); math.Abs(p-2*0.12721) > 1e-4 {
		t.Errorf("two-sided p = %.5f, want 0.2544", p)
	}
	// Var U = nm(N+1)/12 = 10·5·16/12 = 66.67, SD 8.165; R's normal
	// approximation without continuity correction gives 0.1103 one-sided:
	// z = (35 − 25)/8.165 = 1.2247.
	if math.Abs(r.SD-8.16497) > 1e-4 {
		t.Errorf("SD = %v, want 8.16497", r.SD)
	}

	// The 50 differences x − y, sorted (by hand):
	//  −0.48 −0.42 −0.41 −0.38 −0.35 −0.32 −0.17 −0.17 −0.15 −0.11
	//  −0.10 −0.08 −0.07 −0.05 −0.01  0.06  0.09  0.14  0.16  0.17
	//   0.23  0.24  0.25  0.30  0.30  0.31  0.43  0.48  0.49  0.50
	//   0.55  0.56  0.57  0.58  0.64  0.68  0.70  0.71  0.72  0.74
	//   0.74  0.76  0.76  0.90  0.99  1.01  1.01  1.03  1.15  1.17
	// Hodges–Lehmann: the mean of the 25th and 26th, (0.30 + 0.31)/2 = 0.305.
	// 95% interval: k is the largest integer with P(U ≤ k−1) ≤ 0.025; the
	// enumeration of all C(15,5) = 3003 rankings below gives k = 9, so the
	// interval is [D(9), D(42)] = [−0.15, 0.76] (Hollander, Wolfe & Chicken
	// §4.3, eq. 4.41–4.42).
	shift, lo, hi := hodgesLehmann(x, y, r, 0.95)
	for _, c := range []struct {
		name      string
		got, want float64
	}{{"shift", shift, 0.305}, {"ci low", lo, -0.15}, {"ci high", hi, 0.76}} {
		if math.Abs(c.got-c.want) > 1e-9 {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if k := r.ciIndex(10, 5, 0.95); k != 9 {
		t.Errorf("k = %d, want 9", k)
	}
	cdf := bruteUCDF(10, 5)
	if !(cdf[8] <= 0.025 && cdf[9] > 0.025) {
		t.Errorf("enumeration: P(U ≤ 8) = %v, P(U ≤ 9) = %v; want them around 0.025", cdf[8], cdf[9])
	}
}

func TestMannWhitneySmall(t *testing.T) {
	// Baseline {1, 2, 4}, canary {3, 5, 6}. Pairs canary > baseline:
	// 3 beats 1, 2; 5 and 6 beat all three: U = 2 + 3 + 3 = 8.
	// Differences c − b: 2 1 −1 | 4 3 1 | 5 4 2 → sorted −1 1 1 2 2 3 4 4 5;
	// the median (5th of 9) is 2. P(U ≥ 8) = P(U ≤ 1) = 2/20, so p = 0.2.
	x, y := []float64{1, 2, 4}, []float64{3, 5, 6}
	r := mannWhitney(y, x)
	if r.U != 8 {
		t.Errorf("U = %v, want 8", r.U)
	}
	if p := r.PValue(); math.Abs(p-0.2) > 1e-12 {
		t.Errorf("p = %v, want 0.2", p)
	}
	if s, _, _ := hodgesLehmann(y, x, r, 0.9); s != 2 {
		t.Errorf("shift = %v, want 2", s)
	}
}

func TestMannWhitneyTies(t *testing.T) {
	// Canary {1, 2, 2}, baseline {2, 3}: pooled 1 2 2 2 3, one tie group of
	// t = 3. U = 0 + ½ + ½ = 1 (the two 2–2 pairs count half each).
	// Var U = nm/12 · [(N+1) − Σ(t³−t)/(N(N−1))] = 6/12 · (6 − 24/20) = 2.4.
	r := mannWhitney([]float64{1, 2, 2}, []float64{2, 3})
	if r.U != 1 || !r.Ties || r.Exact {
		t.Errorf("U = %v ties = %v exact = %v, want 1 true false", r.U, r.Ties, r.Exact)
	}
	if math.Abs(r.SD*r.SD-2.4) > 1e-12 {
		t.Errorf("Var U = %v, want 2.4", r.SD*r.SD)
	}
	// Normal approximation with continuity correction: |1 − 3| − ½ = 1.5,
	// z = 1.5/√2.4 = 0.9682, two-sided p = 0.3329.
	if p := r.PValue(); math.Abs(p-0.33294) > 1e-4 {
		t.Errorf("p = %v, want 0.3329", p)
	}
	// All tied: no spread, p = 1, no NaN.
	r = mannWhitney([]float64{5, 5, 5}, []float64{5, 5})
	if r.SD != 0 || r.PValue() != 1 || r.U != 3 {
		t.Errorf("all tied: SD %v p %v U %v, want 0 1 3", r.SD, r.PValue(), r.U)
	}
}

// bruteUCDF enumerates every way to place n first-sample ranks among n+m.
func bruteUCDF(n, m int) []float64 {
	counts := make([]float64, n*m+1)
	total := 0.0
	var rec func(pos, left, u, ysSeen int)
	rec = func(pos, left, u, ysSeen int) {
		if pos == n+m {
			if left == 0 {
				counts[u]++
				total++
			}
			return
		}
		if left > 0 { // a first-sample value here beats the ys below it
			rec(pos+1, left-1, u+ysSeen, ysSeen)
		}
		if pos-(n-left)-ysSeen >= 0 && ysSeen < m {
			rec(pos+1, left, u, ysSeen+1)
		}
	}
	rec(0, n, 0, 0)
	acc := 0.0
	for i := range counts {
		acc += counts[i]
		counts[i] = acc / total
	}
	return counts
}

func TestExactUCDF(t *testing.T) {
	for _, nm := range [][2]int{{1, 1}, {3, 3}, {5, 10}, {10, 5}, {4, 7}, {8, 8}} {
		got, want := exactUCDF(nm[0], nm[1]), bruteUCDF(nm[0], nm[1])
		for u := range want {
			if math.Abs(got[u]-want[u]) > 1e-12 {
				t.Errorf("n=%d m=%d: P(U ≤ %d) = %v, want %v", nm[0], nm[1], u, got[u], want[u])
				break
			}
		}
	}
}

func TestKthDiff(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := 0; trial < 200; trial++ {
		n, m := 1+rng.IntN(12), 1+rng.IntN(12)
		gen := func(k int) []float64 {
			xs := make([]float64, k)
			for i := range xs {
				if trial%3 == 0 {
					xs[i] = float64(rng.IntN(4)) // many ties
				} else {
					xs[i] = rng.NormFloat64() * math.Pow(10, float64(rng.IntN(6)-3))
				}
			}
			slices.Sort(xs)
			return xs
		}
		y, x := gen(n), gen(m)
		var d []float64
		for _, a := range y {
			for _, b := range x {
				d = append(d, a-b)
			}
		}
		slices.Sort(d)
		for k := 1; k <= len(d); k++ {
			if got := kthDiff(y, x, k); got != d[k-1] {
				t.Fatalf("trial %d: kthDiff(k=%d) = %v, want %v", trial, k, got, d[k-1])
			}
		}
	}
}

func TestQuantile(t *testing.T) {
	xs := []float64{4, 1, math.NaN(), 3, 2, math.Inf(1)}
	for _, c := range []struct{ p, want float64 }{
		{0, 1}, {0.5, 2.5}, {0.95, 3.85}, {1, 4}, // type 7: h = p·(n−1)
	} {
		if got := models.Quantile(c.p, xs); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("Quantile(%v) = %v, want %v", c.p, got, c.want)
		}
	}
	if !math.IsNaN(models.Quantile(0.5, nil)) || !math.IsNaN(models.Quantile(0.5, []float64{math.NaN()})) || !math.IsNaN(models.Quantile(2, xs)) {
		t.Error("want NaN for no data or p out of range")
	}
}

func TestRankAutocorr(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	series := func(n int, rho float64) []float64 {
		out := make([]float64, n)
		x := rng.NormFloat64()
		for i := range out {
			if i > 0 {
				x = rho*x + math.Sqrt(1-rho*rho)*rng.NormFloat64()
			}
			out[i] = x
		}
		return out
	}
	pooledOf := func(a, b []float64) []float64 { return sortedCopy(append(slices.Clone(a), b...)) }
	tests := []struct {
		name           string
		rho            float64
		minVIF, maxVIF float64
	}{
		{"independent", 0, 1, 1.8},
		{"AR(1) 0.5", 0.5, 2, 4.5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var sum float64
			const reps = 50
			for i := 0; i < reps; i++ {
				b, c := series(200, tt.rho), series(200, tt.rho)
				_, vif := rankAutocorr(b, c, pooledOf(b, c))
				sum += vif
			}
			if m := sum / reps; m < tt.minVIF || m > tt.maxVIF {
				t.Errorf("mean variance inflation %.2f, want in [%v, %v] (AR(1) 0.5 at n=200: 2.97)", m, tt.minVIF, tt.maxVIF)
			}
		})
	}
	// A drift shared by both cohorts cancels in the paired differences.
	drift := series(200, 0.99)
	b, c := slices.Clone(drift), slices.Clone(drift)
	for i := range b {
		b[i] += 0.1 * rng.NormFloat64()
		c[i] += 0.1 * rng.NormFloat64()
	}
	if _, vif := rankAutocorr(b, c, pooledOf(b, c)); vif > 1.6 {
		t.Errorf("shared drift: variance inflation %.2f, want near 1", vif)
	}
	if f := ar1VarianceFactor(0.5, 1000); math.Abs(f-3) > 0.01 {
		t.Errorf("ar1VarianceFactor(0.5, 1000) = %v, want ≈ 3", f)
	}
}
