package bo

import (
	"math"
	"slices"

	"github.com/passflow/passflow/models"
)

// boModel is the fitted surrogate of one Ask: the objective's process (nil
// when nothing succeeded yet) and one process per guardrail, plus one of the
// failure indicator once something failed.
type boModel struct {
	enc     *encoding
	problem models.Problem
	sign    float64 // +1 to minimize, -1 to maximize: obj models sign·objective
	obj     *gp
	cons    []conModel
	// best is the incumbent for expected improvement: the lowest posterior
	// mean (standardized) among feasible observations.
	best         float64
	feasibleSeen bool
	// warp says obj models log(sign·objective - wMin + wDelta).
	warp         bool
	wMin, wDelta float64
}

// conModel is the process of one guardrail metric (name "" for the failure
// indicator) and its bounds in the process's standardized units.
type conModel struct {
	name   string
	g      *gp // nil when the metric was never measured
	lo, hi float64
}

// sd is the spread the probability of keeping the line is computed with,
// from the latent variance v: a guardrail's next measurement adds the
// learned noise; the failure indicator's 0/1 labels are not measurements
// of a level, and their noise (the scatter of a step function) says nothing
// about where the failure region lies, so only the latent variance counts.
func (cm conModel) sd(v float64) float64 {
	if cm.name == "" {
		return math.Sqrt(v)
	}
	return math.Sqrt(v + cm.g.hyp.noise)
}

// logProb returns log P(lo ≤ Y ≤ hi) for Y ~ N(mu, s²) and its derivatives
// with respect to mu and s.
func logProb(mu, s, lo, hi float64) (lp, dmu, ds float64) {
	switch {
	case math.IsInf(lo, -1):
		z := (hi - mu) / s
		r := millsInv(z)
		return logNormCDF(z), -r / s, -r * z / s
	case math.IsInf(hi, 1):
		z := (mu - lo) / s
		r := millsInv(z)
		return logNormCDF(z), r / s, -r * z / s
	}
	zh, zl := (hi-mu)/s, (lo-mu)/s
	p := normCDF(zh) - normCDF(zl)
	if p < 1e-300 {
		p = 1e-300
	}
	ph, pl := normPDF(zh), normPDF(zl)
	return math.Log(p), (-ph + pl) / s / p, (-ph*zh + pl*zl) / s / p
}

// acquisition scores m candidates (rows of c): log EI of the objective (once
// something feasible was seen) plus the log probability of every guardrail
// holding. It also returns P(all guardrails hold) of each.
func (m *boModel) acquisition(c []float64, n int) (acq, pall []float64) {
	acq = make([]float64, n)
	pall = make([]float64, n)
	if m.obj != nil && m.feasibleSeen {
		mu, v := m.obj.predict(c, n)
		for j := range acq {
			acq[j], _, _ = logEI(mu[j], math.Sqrt(v[j]), m.best)
		}
	}
	for _, cm := range m.cons {
		if cm.g == nil {
			continue
		}
		mu, v := cm.g.predict(c, n)
		for j := range acq {
			lp, _, _ := logProb(mu[j], cm.sd(v[j]), cm.lo, cm.hi)
			acq[j] += lp
			pall[j] += lp
		}
	}
	for j := range pall {
		pall[j] = math.Exp(pall[j])
	}
	return acq, pall
}

// acquisitionGrad is the acquisition at x with its gradient in grad.
func (m *boModel) acquisitionGrad(x, grad []float64) float64 {
	d := len(x)
	clear(grad)
	dmu, dv := make([]float64, d), make([]float64, d)
	var a float64
	if m.obj != nil && m.feasibleSeen {
		mu, v := m.obj.predictGrad(x, dmu, dv)
		s := math.Sqrt(v)
		val, gmu, gs := logEI(mu, s, m.best)
		a += val
		for i := range grad {
			grad[i] += gmu*dmu[i] + gs*dv[i]/(2*s)
		}
	}
	for _, cm := range m.cons {
		if cm.g == nil {
			continue
		}
		mu, v := cm.g.predictGrad(x, dmu, dv)
		s := cm.sd(v)
		val, gmu, gs := logProb(mu, s, cm.lo, cm.hi)
		a += val
		for i := range grad {
			grad[i] += gmu*dmu[i] + gs*dv[i]/(2*s)
		}
	}
	return a
}

// refine climbs the acquisition from x by projected gradient ascent with
// Barzilai–Borwein steps and backtracking, inside the box, over the numeric
// coordinates (categorical ones stay put; integers move continuously and are
// snapped afterwards).
func (m *boModel) refine(x0 []float64, b box) []float64 {
	d := len(x0)
	x := slices.Clone(x0)
	g := make([]float64, d)
	f := m.acquisitionGrad(x, g)
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return x
	}
	free := func(i int) bool { return !m.enc.cat[i] }
	proj := func(y []float64) {
		for i := range y {
			if free(i) {
				y[i] = clamp(y[i], b.lo[i], b.hi[i])
			}
		}
	}
	step := 0.0
	for i := range g {
		if free(i) {
			step = max(step, math.Abs(g[i]))
		}
	}
	if step == 0 {
		return x
	}
	step = 0.01 / step // first move: at most 1% of the range
	xn, gn := make([]float64, d), make([]float64, d)
	for it := 0; it < 30; it++ {
		var fn float64
		accepted := false
		for try := 0; try < 12; try++ {
			for i := range x {
				xn[i] = x[i]
				if free(i) {
					xn[i] += step * g[i]
				}
			}
			proj(xn)
			fn = m.acquisitionGrad(xn, gn)
			var lin float64
			for i := range x {
				lin += g[i] * (xn[i] - x[i])
			}
			if fn >= f+1e-4*lin && !math.IsNaN(fn) {
				accepted = true
				break
			}
			step *= 0.25
		}
		if !accepted {
			break
		}
		var ss, sy, move float64
		for i := range x {
			s := xn[i] - x[i]
			y := gn[i] - g[i]
			ss += s * s
			sy += s * y
			move = max(move, math.Abs(s))
		}
		copy(x, xn)
		copy(g, gn)
		improved := fn - f
		f = fn
		if move < 1e-9 || improved < 1e-9*math.Abs(f) {
			break
		}
		if sy < 0 {
			step = clamp(ss/(-sy), 1e-10, 10)
		} else {
			step *= 2
		}
	}
	return x
}

// prediction is the model's belief at x in the objective's units.
func (m *boModel) prediction(x []float64) *models.Prediction {
	p := &models.Prediction{PAllFeasible: 1}
	if len(m.problem.Constraints) > 0 {
		p.PFeasible = make(map[string]float64, len(m.problem.Constraints))
	}
	for _, cm := range m.cons {
		if cm.g == nil {
			if cm.name != "" {
				p.PFeasible[cm.name] = 0.5 // never measured: no belief either way
				p.PAllFeasible *= 0.5
			}
			continue
		}
		mu, v := cm.g.predict(x, 1)
		lp, _, _ := logProb(mu[0], cm.sd(v[0]), cm.lo, cm.hi)
		pr := math.Exp(lp)
		if cm.name != "" {
			p.PFeasible[cm.name] = pr
		}
		p.PAllFeasible *= pr
	}
	if m.obj == nil {
		return p
	}
	mu, v := m.obj.predict(x, 1)
	mean, sd := m.obj.ymu+m.obj.ysd*mu[0], m.obj.ysd*math.Sqrt(v[0])
	if m.warp {
		// Back from the log scale: the median, and the delta-method sd.
		e := math.Exp(mean)
		mean, sd = e+m.wMin-m.wDelta, e*sd
	}
	p.Mean, p.SD = m.sign*mean, sd
	return p
}

// gainSD is the posterior standard deviation of the objective's change
// from inc to x, in the objective's units. Two nearby points share most of
// their uncertainty, so it is far below either point's own: the change is
// what a canary measures, not either value.
func (m *boModel) gainSD(x, inc []float64) float64 {
	if m.obj == nil {
		return math.NaN()
	}
	mx, mi, vx, vi, c := m.obj.pair(x, inc)
	// dx and di turn the latent scale into the objective's: ysd, and on the
	// log scale the delta method's exp(mean) too.
	dx, di := m.obj.ysd, m.obj.ysd
	if m.warp {
		dx *= math.Exp(m.obj.ymu + m.obj.ysd*mx)
		di *= math.Exp(m.obj.ymu + m.obj.ysd*mi)
	}
	return math.Sqrt(max(dx*dx*vx+di*di*vi-2*dx*di*c, 0))
}

// believe conditions every process on its own posterior mean at x, so that
// the next pick of a batch goes elsewhere (the Kriging believer).
func (m *boModel) believe(x []float64) error {
	if m.obj != nil {
		mu, _ := m.obj.predict(x, 1)
		if err := m.obj.add(x, mu[0]); err != nil {
			return err
		}
	}
	for _, cm := range m.cons {
		if cm.g == nil {
			continue
		}
		mu, _ := cm.g.predict(x, 1)
		if err := cm.g.add(x, mu[0]); err != nil {
			return err
		}
	}
	return nil
}

// why says how the model chose.
func (m *boModel) why() string {
	switch {
	case m.obj == nil:
		return "no successful evaluation yet: maximizing the probability of success"
	case !m.feasibleSeen && len(m.problem.Constraints) > 0:
		return "nothing feasible seen yet: maximizing the probability that every guardrail holds"
	case len(m.cons) > 0:
		return "maximizing log expected improvement + log P(guardrails hold)"
	}
	return "maximizing log expected improvement"
}
