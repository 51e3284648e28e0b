package bo

import (
	"math"
	"testing"
)

func TestEIClosedForm(t *testing.T) {
	// EI = E[max(best - Y, 0)] for Y ~ N(mu, sd²), integrated numerically.
	quad := func(mu, sd, best float64) float64 {
		var s float64
		const n = 200000
		lo, hi := mu-12*sd, mu+12*sd
		dx := (hi - lo) / n
		for i := 0; i < n; i++ {
			y := lo + (float64(i)+0.5)*dx
			s += max(best-y, 0) * normPDF((y-mu)/sd) / sd * dx
		}
		return s
	}
	tests := []struct{ mu, sd, best float64 }{
		{0, 1, 0}, {1, 0.5, 0}, {-1, 2, 0.5}, {3, 1, 0}, {0.2, 0.01, 0.21},
	}
	for _, tt := range tests {
		got, want := ei(tt.mu, tt.sd, tt.best), quad(tt.mu, tt.sd, tt.best)
		if math.Abs(got-want) > 1e-6*max(1, want) {
			t.Errorf("EI(%v, %v, %v) = %v, numerical integral %v", tt.mu, tt.sd, tt.best, got, want)
		}
		if lg := math.Exp(logEIValue(tt.mu, tt.sd, tt.best)); math.Abs(lg-got) > 1e-9*max(got, 1e-300) {
			t.Errorf("exp(logEI(%v, %v, %v)) = %v, EI %v", tt.mu, tt.sd, tt.best, lg, got)
		}
	}
	// Closed form at z = 0: EI = sd·φ(0) = sd/√(2π).
	if got := ei(1, 2, 1); math.Abs(got-2/math.Sqrt(2*math.Pi)) > 1e-15 {
		t.Errorf("EI at z=0 = %v, want %v", got, 2/math.Sqrt(2*math.Pi))
	}
}

func logEIValue(mu, sd, best float64) float64 { v, _, _ := logEI(mu, sd, best); return v }

func TestLogEITail(t *testing.T) {
	// Far in the tail EI underflows to 0 but log EI stays finite, smooth and
	// matches the asymptote log φ(z) - 2 log|z| + log sd.
	prev := math.Inf(1)
	for _, z := range []float64{-5, -10, -20, -30, -39.9, -40, -40.1, -50, -100, -1e3, -1e5} {
		lh, dlh := logH(z)
		if math.IsNaN(lh) || math.IsInf(lh, 0) || math.IsNaN(dlh) || math.IsInf(dlh, 0) {
			t.Fatalf("logH(%v) = %v, %v", z, lh, dlh)
		}
		if lh >= prev {
			t.Errorf("logH not increasing at z=%v", z)
		}
		prev = lh
		asym := -0.5*z*z - halfLog2Pi - 2*math.Log(-z)
		if z <= -20 && math.Abs(lh-asym) > 5/(z*z) {
			t.Errorf("logH(%v) = %v, asymptote %v", z, lh, asym)
		}
		// The derivative of log h is Φ(z)/h(z) ≈ -z for z → -∞.
		if z <= -20 && math.Abs(dlh/(-z)-1) > max(3/(z*z), 1e-6) {
			t.Errorf("d logH(%v) = %v, want ≈ %v", z, dlh, -z)
		}
	}
	// Against the direct formula where it is still representable.
	for _, z := range []float64{-0.5, -1, -2, -5, -8, -12, -20, -30, -38} {
		lh, _ := logH(z)
		direct := math.Log(normPDF(z) + z*normCDF(z))
		if d := normPDF(z) + z*normCDF(z); d > 1e-200 && math.Abs(lh-direct) > 1e-6*math.Abs(direct) && z > -6 {
			t.Errorf("logH(%v) = %v, direct %v", z, lh, direct)
		}
	}
	// Continuity across the branches at -1 and -40.
	for _, z0 := range []float64{-1, -40} {
		a, _ := logH(z0 + 1e-9)
		b, _ := logH(z0 - 1e-9)
		if math.Abs(a-b) > 1e-6*math.Abs(a) {
			t.Errorf("logH jumps at %v: %v vs %v", z0, a, b)
		}
	}
	if v := logEIValue(0, 1, -1e3); math.IsInf(v, 0) || math.IsNaN(v) {
		t.Errorf("log EI with z=-1000 is %v", v)
	}
	if got := ei(0, 1, -40); got != 0 {
		t.Errorf("EI(z=-40) = %v, expected it to underflow (the reason for log EI)", got)
	}
}

func TestLogEIGradient(t *testing.T) {
	for _, c := range []struct{ mu, sd, best float64 }{{0, 1, 0.5}, {2, 0.3, 0}, {50, 1, 0}, {0.1, 0.05, 0.4}} {
		_, dmu, dsd := logEI(c.mu, c.sd, c.best)
		const h = 1e-6
		fmu := (logEIValue(c.mu+h, c.sd, c.best) - logEIValue(c.mu-h, c.sd, c.best)) / (2 * h)
		fsd := (logEIValue(c.mu, c.sd+h, c.best) - logEIValue(c.mu, c.sd-h, c.best)) / (2 * h)
		if math.Abs(fmu-dmu) > 1e-5*max(1, math.Abs(fmu)) || math.Abs(fsd-dsd) > 1e-5*max(1, math.Abs(fsd)) {
			t.Errorf("%+v: grad (%v, %v), finite differences (%v, %v)", c, dmu, dsd, fmu, fsd)
		}
	}
}

func TestLogNormCDF(t *testing.T) {
	for _, z := range []float64{3, 0, -1, -4.9, -5, -5.1, -10, -30} {
		want := math.Log(normCDF(z))
		if got := logNormCDF(z); math.Abs(got-want) > 1e-10*math.Abs(want)+1e-15 {
			t.Errorf("logΦ(%v) = %v, want %v", z, got, want)
		}
		if got, want := millsInv(z), normPDF(z)/normCDF(z); math.Abs(got-want) > 1e-10*want {
			t.Errorf("φ/Φ(%v) = %v, want %v", z, got, want)
		}
	}
	if v := logNormCDF(-1e4); math.IsInf(v, 0) || math.Abs(v/(-0.5e8)-1) > 1e-3 {
		t.Errorf("logΦ(-1e4) = %v", v)
	}
}
