package bo

import "math"

const (
	sqrt2    = math.Sqrt2
	invSqrt2 = 1 / math.Sqrt2
	// log(2π)/2
	halfLog2Pi = 0.91893853320467274178
	// sqrt(π/2)
	sqrtHalfPi = 1.2533141373155002512
)

// normPDF is the standard normal density φ(z).
func normPDF(z float64) float64 { return math.Exp(-0.5*z*z - halfLog2Pi) }

// normCDF is the standard normal distribution function Φ(z).
func normCDF(z float64) float64 { return 0.5 * math.Erfc(-z*invSqrt2) }

// erfcx is the scaled complementary error function exp(x²)·erfc(x), accurate
// for large x where erfc underflows. It is used for x ≥ 0 only.
func erfcx(x float64) float64 {
	if x < 25 {
		return math.Exp(x*x) * math.Erfc(x)
	}
	// Asymptotic series: 1/(x√π) · Σ (-1)^k (2k-1)!! / (2x²)^k.
	t := 1 / (2 * x * x)
	sum, term := 1.0, 1.0
	for k := 1; k < 12; k++ {
		term *= -float64(2*k-1) * t
		sum += term
	}
	return sum / (x * math.SqrtPi)
}

// logNormCDF is log Φ(z), accurate far in the lower tail.
func logNormCDF(z float64) float64 {
	if z > -5 {
		return math.Log(normCDF(z))
	}
	// Φ(z) = ½ erfc(t) with t = -z/√2 = ½ erfcx(t) exp(-t²).
	t := -z * invSqrt2
	return math.Log(0.5*erfcx(t)) - t*t
}

// millsInv returns φ(z)/Φ(z), the derivative of log Φ(z), stably.
func millsInv(z float64) float64 {
	if z > -5 {
		return normPDF(z) / normCDF(z)
	}
	t := -z * invSqrt2
	// φ(z)/Φ(z) = (e^{-t²}/√(2π)) / (½ erfcx(t) e^{-t²}).
	return 2 / (math.Sqrt(2*math.Pi) * erfcx(t))
}

// logH returns log h(z) with h(z) = φ(z) + zΦ(z), the expected improvement of
// a standard normal over -z, and its derivative Φ(z)/h(z). It stays accurate
// where h underflows (z → -∞), following Ament et al., "Unexpected
// improvements to expected improvement for Bayesian optimization" (2023).
func logH(z float64) (lh, dlh float64) {
	switch {
	case z > -1:
		h := normPDF(z) + z*normCDF(z)
		return math.Log(h), normCDF(z) / h
	case z > -40:
		// h(z) = φ(z)·(1 - t·√(π/2)·erfcx(t/√2)) with t = -z.
		t := -z
		q := t * sqrtHalfPi * erfcx(t*invSqrt2)
		lh = -0.5*z*z - halfLog2Pi + math.Log1p(-q)
	default:
		// 1 - q = 1/t² - 3/t⁴ + 15/t⁶ - 105/t⁸ + …
		t2 := 1 / (z * z)
		lh = -0.5*z*z - halfLog2Pi + math.Log(t2*(1-3*t2*(1-5*t2*(1-7*t2))))
	}
	return lh, math.Exp(logNormCDF(z) - lh)
}

// logEI returns log expected improvement of a normal N(mu, sd²) below best
// (minimization), and its derivatives with respect to mu and sd.
func logEI(mu, sd, best float64) (v, dmu, dsd float64) {
	z := (best - mu) / sd
	lh, dlh := logH(z)
	// log EI = log sd + log h(z); dz/dmu = -1/sd, dz/dsd = -z/sd.
	return math.Log(sd) + lh, -dlh / sd, 1/sd - dlh*z/sd
}

// ei is the closed form of expected improvement below best of a normal
// N(mu, sd²): (best-mu)·Φ(z) + sd·φ(z) with z = (best-mu)/sd.
func ei(mu, sd, best float64) float64 {
	if sd <= 0 {
		return max(0, best-mu)
	}
	z := (best - mu) / sd
	return (best-mu)*normCDF(z) + sd*normPDF(z)
}
