package simulations

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"slices"
	"sort"

	"github.com/passflow/passflow/models"
	"github.com/passflow/passflow/target"
)

// DefaultModel is the response surface a simulator uses when its spec names
// none: the target schema's default.
const DefaultModel = target.DefaultSimulatorModel

// The metrics of the "web" model.
const (
	MetricLatencyP95 = "latency_p95_ms"
	MetricLatencyP99 = "latency_p99_ms"
	MetricErrorRate  = "error_rate"
	MetricCost       = "cost_per_request"
	MetricThroughput = "throughput_rps"
)

// metricInfo describes one metric of a surface.
type metricInfo struct {
	name string
	// faultable metrics (latency, errors) are multiplied by 1+Regression on
	// the canary cohort.
	faultable bool
	// rate metrics are fractions and never exceed 1, even with noise.
	rate bool
}

// surface is a response surface: the noise-free value of each of its metrics
// at a point of the unit cube of a space.
type surface interface {
	metrics() []metricInfo
	// eval writes one value per metric, in metrics() order, into out.
	eval(u []float64, out []float64)
}

// builtins are the response surfaces by model name.
var builtins = map[string]func(space models.Space, seed uint64) surface{
	"web": newWebSurface,
}

// The built-in surfaces are models a target may name: each is registered
// with package target, which validates a target's metrics against it, from
// the one list of its metrics (its metrics method).
func init() {
	for name, surface := range builtins {
		var metrics []string
		for _, m := range surface(nil, 0).metrics() {
			metrics = append(metrics, m.name)
		}
		if err := target.RegisterSimulatorModel(name, metrics); err != nil {
			panic(err) // a built-in surface without a name or metrics: a bug here
		}
	}
}

// Models returns the names of the built-in response surfaces, sorted.
func Models() []string {
	names := make([]string, 0, len(builtins))
	for n := range builtins {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Model is a response surface over one target's parameter space: the true,
// noise-free value of each metric at every configuration. It is immutable
// and safe for concurrent use.
type Model struct {
	name    string
	space   models.Space
	seed    uint64
	surf    surface
	metrics []metricInfo
	index   map[string]int
}

// NewModel returns the built-in response surface name (DefaultModel when
// empty) laid over space, its shape fixed by seed.
func NewModel(name string, space models.Space, seed uint64) (*Model, error) {
	if name == "" {
		name = DefaultModel
	}
	build, ok := builtins[name]
	if !ok {
		return nil, fmt.Errorf("simulations: unknown model %q: expected one of %v", name, Models())
	}
	if errs := space.Validate("params"); len(errs) > 0 {
		joined := make([]error, len(errs))
		for i, e := range errs {
			joined[i] = e
		}
		return nil, fmt.Errorf("simulations: model %s: invalid space: %w", name, errors.Join(joined...))
	}
	s := build(space, seed)
	m := &Model{name: name, space: space, seed: seed, surf: s, metrics: s.metrics(), index: map[string]int{}}
	for i, mi := range m.metrics {
		m.index[mi.name] = i
	}
	return m, nil
}

// Name returns the model's name, e.g. "web".
func (m *Model) Name() string { return m.name }

// Seed returns the seed that fixed the model's shape.
func (m *Model) Seed() uint64 { return m.seed }

// Space returns the parameter space the model is laid over.
func (m *Model) Space() models.Space { return m.space }

// Metrics returns the names of the metrics the model provides.
func (m *Model) Metrics() []string {
	out := make([]string, len(m.metrics))
	for i, mi := range m.metrics {
		out[i] = mi.name
	}
	return out
}

// Truth returns the noise-free value of every metric of the model when the
// whole service runs c. It fails unless c is a valid configuration of the
// model's space.
func (m *Model) Truth(c models.Config) (map[string]float64, error) {
	vals, err := m.truth(c)
	if err != nil {
		return nil, fmt.Errorf("simulations: truth of %s: %w", m.name, err)
	}
	out := make(map[string]float64, len(vals))
	for i, mi := range m.metrics {
		out[mi.name] = vals[i]
	}
	return out, nil
}

// truth is Truth as a slice in metrics order.
func (m *Model) truth(c models.Config) ([]float64, error) {
	if err := m.space.CheckConfig(c); err != nil {
		return nil, err
	}
	u, err := m.space.ToUnit(c)
	if err != nil {
		return nil, err
	}
	out := make([]float64, len(m.metrics))
	m.surf.eval(u, out)
	return out, nil
}

// Optimum is the best configuration of a model for one objective under
// guardrails, as found by Model.Optimum.
type Optimum struct {
	Config models.Config
	// Values are the true values of every metric at Config.
	Values map[string]float64
	// Objective is Values[objective].
	Objective float64
	// Feasible is false when no configuration found satisfies every
	// constraint; Config then violates them least.
	Feasible bool
}

// Search effort of Optimum.
const (
	optimumSamples  = 16384 // random points over the whole space
	optimumCombos   = 256   // most categorical combinations enumerated
	optimumRefine   = 6     // best points refined by pattern search
	optimumMaxEvals = 4000  // evaluations per refinement
	feasibleMargin  = 1e-9  // relative margin kept from a constraint's bound
)

// Optimum finds, by dense random search refined by pattern search, the
// configuration that optimizes the objective metric under goal subject to
// constraints. The search is deterministic (seeded by the model's seed) and
// respects int and categorical parameters; it approximates the true
// constrained optimum closely enough to measure an optimizer's regret.
func (m *Model) Optimum(objective string, goal models.Goal, constraints []models.Constraint) (Optimum, error) {
	const op = "simulations: optimum"
	oi, ok := m.index[objective]
	if !ok {
		return Optimum{}, fmt.Errorf("%s of %s: unknown objective metric %q: expected one of %v", op, m.name, objective, m.Metrics())
	}
	sign := 1.0
	switch goal {
	case models.Minimize, "":
	case models.Maximize:
		sign = -1
	default:
		return Optimum{}, fmt.Errorf("%s of %s: unknown goal %q: expected minimize or maximize", op, m.name, goal)
	}
	type bound struct {
		i        int
		min, max float64
	}
	bounds := make([]bound, 0, len(constraints))
	for _, c := range constraints {
		ci, ok := m.index[c.Metric]
		if !ok {
			return Optimum{}, fmt.Errorf("%s of %s: unknown constraint metric %q: expected one of %v", op, m.name, c.Metric, m.Metrics())
		}
		b := bound{i: ci, min: math.Inf(-1), max: math.Inf(1)}
		if c.Max != nil {
			b.max = *c.Max - feasibleMargin*math.Abs(*c.Max)
		}
		if c.Min != nil {
			b.min = *c.Min + feasibleMargin*math.Abs(*c.Min)
		}
		bounds = append(bounds, b)
	}

	// score orders points: feasible before infeasible, then the smaller
	// violation, then the better objective.
	type point struct {
		u          []float64
		violation  float64
		objective  float64 // sign-adjusted: smaller is better
		evaluation []float64
	}
	better := func(a, b point) bool {
		if a.violation != b.violation {
			return a.violation < b.violation
		}
		return a.objective < b.objective
	}
	evaluate := func(u []float64) point {
		out := make([]float64, len(m.metrics))
		m.surf.eval(u, out)
		var viol float64
		for _, b := range bounds {
			v := out[b.i]
			scale := math.Max(math.Abs(b.max), math.Abs(b.min))
			if math.IsInf(scale, 0) || scale == 0 {
				scale = 1
			}
			if v > b.max {
				viol += (v - b.max) / scale
			}
			if v < b.min {
				viol += (b.min - v) / scale
			}
		}
		return point{u: u, violation: viol, objective: sign * out[oi], evaluation: out}
	}

	var numeric, categorical []int
	for i, p := range m.space {
		if p.Type == models.Categorical {
			categorical = append(categorical, i)
		} else {
			numeric = append(numeric, i)
		}
	}
	rng := newStream(m.seed, "optimum", m.name)
	combos := m.categoricalCombos(categorical, rng)
	perCombo := 1
	if len(numeric) > 0 {
		perCombo = max(256, optimumSamples/len(combos))
	}

	var top []point // the best optimumRefine points, best first
	keep := func(p point) {
		i := sort.Search(len(top), func(i int) bool { return better(p, top[i]) })
		if i >= optimumRefine {
			return
		}
		top = slices.Insert(top, i, p)
		if len(top) > optimumRefine {
			top = top[:optimumRefine]
		}
	}
	for _, combo := range combos {
		for range perCombo {
			u := make([]float64, len(m.space))
			for j, i := range categorical {
				u[i] = combo[j]
			}
			for _, i := range numeric {
				u[i] = rng.float()
			}
			m.snap(u)
			keep(evaluate(u))
		}
	}

	best := top[0]
	for _, start := range top {
		cur := start
		evals := 0
		for step := 0.05; step > 1e-5 && evals < optimumMaxEvals; {
			improved := false
			for _, i := range numeric {
				for _, dir := range []float64{-1, 1} {
					u := slices.Clone(cur.u)
					u[i] = min(1, max(0, u[i]+dir*step))
					m.snap(u)
					if u[i] == cur.u[i] {
						continue
					}
					evals++
					if p := evaluate(u); better(p, cur) {
						cur, improved = p, true
					}
				}
			}
			if !improved {
				step /= 2
			}
		}
		if better(cur, best) {
			best = cur
		}
	}

	cfg := m.space.FromUnit(best.u)
	vals, err := m.Truth(cfg)
	if err != nil {
		return Optimum{}, fmt.Errorf("%s of %s: %w", op, m.name, err)
	}
	return Optimum{
		Config:    cfg,
		Values:    vals,
		Objective: vals[objective],
		Feasible:  best.violation == 0,
	}, nil
}

// categoricalCombos returns the unit coordinates of the categorical
// parameters (indices cat) for every combination of their choices, or for
// optimumCombos random ones when there are more.
func (m *Model) categoricalCombos(cat []int, rng *stream) [][]float64 {
	total := 1
	for _, i := range cat {
		total *= len(m.space[i].Choices)
		if total > optimumCombos {
			break
		}
	}
	unit := func(i, choice int) float64 {
		return float64(choice) / float64(len(m.space[i].Choices)-1)
	}
	var out [][]float64
	if total <= optimumCombos {
		idx := make([]int, len(cat))
		for {
			c := make([]float64, len(cat))
			for j, i := range cat {
				c[j] = unit(i, idx[j])
			}
			out = append(out, c)
			j := 0
			for ; j < len(cat); j++ {
				idx[j]++
				if idx[j] < len(m.space[cat[j]].Choices) {
					break
				}
				idx[j] = 0
			}
			if j == len(cat) {
				return out
			}
		}
	}
	for range optimumCombos {
		c := make([]float64, len(cat))
		for j, i := range cat {
			c[j] = unit(i, int(rng.next()%uint64(len(m.space[i].Choices))))
		}
		out = append(out, c)
	}
	return out
}

// snap moves each coordinate of u onto a value its parameter can take: the
// nearest integer for int parameters, the nearest choice for categorical ones.
func (m *Model) snap(u []float64) {
	for i, p := range m.space {
		if p.Type == models.Float {
			continue
		}
		v, err := p.ToUnit(p.FromUnit(u[i]))
		if err == nil {
			u[i] = v
		}
	}
}

// webSurface is the "web" model: a request-serving service whose numeric
// knobs buy capacity at a cost and whose categorical knobs shift levels.
//
// Let u be the configuration in the unit cube (Space.ToUnit: logarithmic for
// log-scale knobs), N the numeric knobs and, drawn per knob from the seed and
// the knob's name, a sweet spot o_i ∈ [0.25, 0.75], a curvature
// b_i ∈ [1, 4], a capacity weight a_i ∈ [0.2, 1] and a cost weight
// d_i ∈ [0.2, 1]. Then
//
//	c  = Σ a_i u_i / Σ a_i                       capacity provisioned, in [0, 1]
//	k  = Σ d_i u_i / Σ d_i                       resources paid for, in [0, 1]
//	m  = (Σ b_i (u_i−o_i)² + β (u_1−o_1)(u_2−o_2)) / √|N|  misfit (β couples the first two knobs)
//	κ  = (0.4 + 1.6 c) · exp(−0.8 m)             capacity relative to the load
//	ρ  = 0.6 / κ,  ρ̃ = softmin(ρ, 0.97)           utilization, saturating smoothly
//	latency_p95_ms   = 40 · Λ · (1 + 0.5 m) / (1 − ρ̃)
//	latency_p99_ms   = latency_p95_ms · (1.5 + ρ̃)
//	error_rate       = 2e-4 · E · (1 + 2 m) + 0.25 · exp(−(1 − ρ̃)/0.02)
//	cost_per_request = (0.25 + k)/0.75 · Γ · (1 + 0.4 m) / (1 − error_rate)
//	throughput_rps   = 600 · (1 − error_rate) · ρ̃/ρ
//
// where each choice of each categorical knob carries, from the seed, a
// latency factor λ = exp(0.15 z₁), a cost factor γ = exp(−0.08 z₁ + 0.05 z₂)
// (the faster choice costs more) and an error factor ε = exp(0.4 z₃),
// z ∈ U(−1, 1)³, and Λ, Γ, E are their products over the chosen values.
//
// Cost falls as capacity is given up while latency climbs the 1/(1−ρ) knee,
// so a latency guardrail binds near the cost optimum; the error rate rises
// sharply only close to overload. At the middle of the cube, p95 is about
// 90 ms and cost about 1.
type webSurface struct {
	numeric     []int // indices of the numeric knobs in u
	opt, curv   []float64
	capW, costW []float64
	beta        float64

	categorical []int // indices of the categorical knobs in u
	choices     []int // number of choices per categorical knob
	lat, cost   [][]float64
	errF        [][]float64
}

// newWebSurface draws the web surface's shape for space from seed.
func newWebSurface(space models.Space, seed uint64) surface {
	w := &webSurface{}
	for i, p := range space {
		r := newStream(seed, "web", p.Name)
		if p.Type == models.Categorical {
			w.categorical = append(w.categorical, i)
			w.choices = append(w.choices, len(p.Choices))
			lat := make([]float64, len(p.Choices))
			cost := make([]float64, len(p.Choices))
			errF := make([]float64, len(p.Choices))
			for j := range p.Choices {
				z1, z2, z3 := 2*r.float()-1, 2*r.float()-1, 2*r.float()-1
				lat[j] = math.Exp(0.15 * z1)
				cost[j] = math.Exp(-0.08*z1 + 0.05*z2)
				errF[j] = math.Exp(0.4 * z3)
			}
			w.lat, w.cost, w.errF = append(w.lat, lat), append(w.cost, cost), append(w.errF, errF)
			continue
		}
		w.numeric = append(w.numeric, i)
		w.opt = append(w.opt, 0.25+0.5*r.float())
		f := r.float()
		w.curv = append(w.curv, 1+3*f*f)
		w.capW = append(w.capW, 0.2+0.8*r.float())
		w.costW = append(w.costW, 0.2+0.8*r.float())
	}
	if len(w.numeric) >= 2 {
		r := newStream(seed, "web", "interaction")
		w.beta = 0.8 * (r.float() - 0.5) * math.Sqrt(w.curv[0]*w.curv[1])
	}
	return w
}

func (w *webSurface) metrics() []metricInfo {
	return []metricInfo{
		{name: MetricLatencyP95, faultable: true},
		{name: MetricLatencyP99, faultable: true},
		{name: MetricErrorRate, faultable: true, rate: true},
		{name: MetricCost},
		{name: MetricThroughput},
	}
}

func (w *webSurface) eval(u []float64, out []float64) {
	c, k, m := 0.5, 0.5, 0.0
	if n := len(w.numeric); n > 0 {
		var sa, sd, ca, cd float64
		for j, i := range w.numeric {
			sa += w.capW[j]
			sd += w.costW[j]
			ca += w.capW[j] * u[i]
			cd += w.costW[j] * u[i]
			d := u[i] - w.opt[j]
			m += w.curv[j] * d * d
		}
		if n >= 2 {
			m += w.beta * (u[w.numeric[0]] - w.opt[0]) * (u[w.numeric[1]] - w.opt[1])
		}
		c, k, m = ca/sa, cd/sd, math.Max(0, m/math.Sqrt(float64(n)))
	}
	lam, gam, eps := 1.0, 1.0, 1.0
	for j, i := range w.categorical {
		ch := int(math.Round(u[i] * float64(w.choices[j]-1)))
		lam *= w.lat[j][ch]
		gam *= w.cost[j][ch]
		eps *= w.errF[j][ch]
	}
	kappa := (0.4 + 1.6*c) * math.Exp(-0.8*m)
	rho := 0.6 / kappa
	rt := softmin(rho, 0.97, 0.01)
	p95 := 40 * lam * (1 + 0.5*m) / (1 - rt)
	errRate := math.Min(1, 2e-4*eps*(1+2*m)+0.25*math.Exp(-(1-rt)/0.02))
	out[0] = p95
	out[1] = p95 * (1.5 + rt)
	out[2] = errRate
	out[3] = (0.25 + k) / 0.75 * gam * (1 + 0.4*m) / math.Max(0.05, 1-errRate)
	out[4] = 600 * (1 - errRate) * rt / rho
}

// softmin is a smooth minimum of a and b with sharpness s:
// −s·log(exp(−a/s) + exp(−b/s)), computed stably.
func softmin(a, b, s float64) float64 {
	return math.Min(a, b) - s*math.Log1p(math.Exp(-math.Abs(a-b)/s))
}

// stream is a deterministic stream of random numbers (PCG) keyed by a seed
// and labels. Its outputs are fixed by the PCG algorithm alone, so they do
// not change between Go releases.
type stream struct{ pcg *rand.PCG }

// newStream returns the stream of seed and labels.
func newStream(seed uint64, labels ...string) *stream {
	h := fnv.New64a()
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], seed)
	h.Write(b[:])
	for _, l := range labels {
		h.Write([]byte(l))
		h.Write([]byte{0})
	}
	return &stream{pcg: newPCG(h.Sum64())}
}

// newPCG returns a PCG generator keyed by k.
func newPCG(k uint64) *rand.PCG { return rand.NewPCG(k, splitmix(k)) }

// next returns the stream's next 64 random bits.
func (s *stream) next() uint64 { return s.pcg.Uint64() }

// float returns a uniform number in [0, 1).
func (s *stream) float() float64 { return float64(s.next()>>11) / (1 << 53) }

// normal returns a standard normal number (Box–Muller).
func (s *stream) normal() float64 {
	u1 := (float64(s.next()>>11) + 0.5) / (1 << 53) // in (0, 1)
	u2 := s.float()
	return math.Sqrt(-2*math.Log(u1)) * math.Cos(2*math.Pi*u2)
}

// splitmix is the SplitMix64 finalizer, a bijective 64-bit mixer.
func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}
