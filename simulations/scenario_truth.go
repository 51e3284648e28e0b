package simulations

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/passflow/passflow/models"
)

// ErrNoFeasible is returned by Scenario.Optimum, wrapped, when no
// configuration found keeps every guardrail on the day; the configuration
// returned with it is the one that breaks them least.
var ErrNoFeasible = errors.New("no configuration keeps every guardrail")

// Truth returns cfg's true values on the day that contains at: the
// objective's mean over the day's 24 hourly values and each guardrail's
// value at its worst hour (see Scenario). The seed does not matter: a
// scenario's truth is fixed by its file.
func (s *Scenario) Truth(cfg models.Config, at time.Time, seed uint64) (Truth, error) {
	e := s.newDayEval(s.Day(at))
	if err := s.setConfig(e.f, cfg); err != nil {
		return Truth{}, fmt.Errorf("simulations: truth of %s: %w", s.name, err)
	}
	obj, guards, err := e.truth()
	if err != nil {
		return Truth{}, fmt.Errorf("simulations: truth of %s on day %d: %w", s.name, e.day, err)
	}
	t := Truth{Objective: obj, Guardrails: make(map[string]float64, len(guards))}
	for i, c := range e.cons {
		t.Guardrails[s.metrics[c.mi].name] = guards[i]
	}
	return t, nil
}

// Optimum returns the true constrained optimum on the day that contains at
// (see Scenario for the search and how it is checked), computed once per
// day. The seed does not matter. When no configuration keeps every
// guardrail, it returns the least violating one and an error wrapping
// ErrNoFeasible.
func (s *Scenario) Optimum(at time.Time, seed uint64) (models.Config, Truth, error) {
	day := s.Day(at)
	s.mu.Lock()
	o, ok := s.optima[day]
	if !ok {
		o = &dayOptimum{}
		s.optima[day] = o
	}
	s.mu.Unlock()
	o.once.Do(func() { o.cfg, o.truth, o.err = s.searchOptimum(day) })
	t := Truth{Objective: o.truth.Objective, Guardrails: make(map[string]float64, len(o.truth.Guardrails))}
	for k, v := range o.truth.Guardrails {
		t.Guardrails[k] = v
	}
	return o.cfg.Clone(), t, o.err
}

// dayOptimum is one day's optimum, computed once.
type dayOptimum struct {
	once  sync.Once
	cfg   models.Config
	truth Truth
	err   error
}

// dayEval evaluates configurations' truth on one day. It is used by one
// goroutine at a time.
type dayEval struct {
	s     *Scenario
	day   int64
	hours [24]instant
	obj   int     // metric index of the objective
	sign  float64 // 1 to minimize, −1 to maximize
	cons  []dayConstraint
	f     *frame
	vals  [][24]float64 // scratch: each guardrail's hourly values
}

// dayConstraint is a guardrail: its metric and its limits (infinite when
// unset), pulled in by feasibleMargin for the search.
type dayConstraint struct {
	mi                 int
	min, max           float64
	hasMin, hasMax     bool
	searchLo, searchHi float64 // the limits the search keeps, a hair inside
}

// newDayEval returns an evaluator of day's truth.
func (s *Scenario) newDayEval(day int64) *dayEval {
	e := &dayEval{s: s, day: day, obj: s.index[s.spec.Objective.Metric], sign: 1, f: s.env.newFrame(s.lets)}
	if s.spec.Objective.Goal == models.Maximize {
		e.sign = -1
	}
	start := s.startDay.Add(time.Duration(day) * 24 * time.Hour)
	for h := range e.hours {
		e.hours[h] = s.instantAt(start.Add(time.Duration(h) * time.Hour))
	}
	for _, c := range s.spec.Constraints {
		dc := dayConstraint{mi: s.index[c.Metric], min: math.Inf(-1), max: math.Inf(1), searchLo: math.Inf(-1), searchHi: math.Inf(1)}
		if c.Max != nil {
			dc.max, dc.hasMax = *c.Max, true
			dc.searchHi = *c.Max - feasibleMargin*math.Abs(*c.Max)
		}
		if c.Min != nil {
			dc.min, dc.hasMin = *c.Min, true
			dc.searchLo = *c.Min + feasibleMargin*math.Abs(*c.Min)
		}
		e.cons = append(e.cons, dc)
	}
	e.vals = make([][24]float64, len(e.cons))
	return e
}

// truth returns the objective's daily mean (load-weighted for a per_load
// objective) and each guardrail's worst hour, for the knobs set in e.f.
func (e *dayEval) truth() (float64, []float64, error) {
	var sum, weights float64
	perLoad := e.s.metrics[e.obj].PerLoad
	for h := range e.hours {
		err := e.s.setInstant(e.f, e.hours[h])
		var v float64
		if err == nil {
			v, err = e.s.value(e.f, e.obj, e.day)
		}
		for i := 0; err == nil && i < len(e.cons); i++ {
			e.vals[i][h], err = e.s.value(e.f, e.cons[i].mi, e.day)
		}
		if err != nil {
			return 0, nil, fmt.Errorf("at %02d:00: %w", h, err)
		}
		w := 1.0
		if perLoad {
			w = e.hours[h].load
		}
		sum, weights = sum+w*v, weights+w
	}
	guards := make([]float64, len(e.cons))
	for i, c := range e.cons {
		guards[i] = c.worst(e.vals[i][:])
	}
	return sum / weights, guards, nil
}

// worst returns the value of vals that is furthest past (or closest to)
// c's limits, relative to each limit's magnitude.
func (c dayConstraint) worst(vals []float64) float64 {
	switch {
	case c.hasMax && !c.hasMin:
		return slices.Max(vals)
	case c.hasMin && !c.hasMax:
		return slices.Min(vals)
	}
	best, badness := vals[0], math.Inf(-1)
	for _, v := range vals {
		b := math.Max((v-c.max)/scaleOf(c.max), (c.min-v)/scaleOf(c.min))
		if b > badness {
			best, badness = v, b
		}
	}
	return best
}

func scaleOf(bound float64) float64 {
	if a := math.Abs(bound); a > 0 {
		return a
	}
	return 1
}

// score returns the search's view of the knobs set in e.f: the total
// relative violation of the guardrails (0 when all hold, +Inf when a
// value is not finite) and the sign-adjusted objective (smaller is
// better).
func (e *dayEval) score() (violation, objective float64) {
	obj, guards, err := e.truth()
	if err != nil {
		return math.Inf(1), math.Inf(1)
	}
	for i, c := range e.cons {
		v := guards[i]
		if v > c.searchHi {
			violation += (v - c.searchHi) / scaleOf(c.max)
		}
		if v < c.searchLo {
			violation += (c.searchLo - v) / scaleOf(c.min)
		}
	}
	return violation, e.sign * obj
}

// Search effort of Scenario.Optimum.
const (
	scenarioOptSamples = 4096 // Halton points, over all categorical combinations
	scenarioOptMin     = 256  // at least this many per combination
	scenarioOptCombos  = 256  // most categorical combinations enumerated
	scenarioOptRefine  = 6    // best points refined, besides each combination's best
	// Each combination's best point is refined too when there are at most
	// scenarioOptRefineCombos combinations.
	scenarioOptRefineCombos = 16
	scenarioOptEvals        = 20000 // evaluations per refinement
	scenarioOptStep         = 0.125 // first pattern step, in the unit cube
	scenarioOptMinStep      = 1e-6  // last pattern step
	// scenarioOptRandomDirs random directions are polled before a step is
	// halved.
	scenarioOptRandomDirs = 24
)

// optPoint is one point of the search: the numeric knobs in the unit cube,
// the categorical combination, and its score.
type optPoint struct {
	u         []float64
	combo     int
	violation float64
	objective float64
}

func (a optPoint) better(b optPoint) bool {
	if a.violation != b.violation {
		return a.violation < b.violation
	}
	return a.objective < b.objective
}

// optimizer is one search for a day's optimum.
type optimizer struct {
	s      *Scenario
	e      *dayEval
	combos [][]int // choice index per categorical knob
	dirs   [][]float64
}

// searchOptimum finds day's constrained optimum.
func (s *Scenario) searchOptimum(day int64) (models.Config, Truth, error) {
	o := &optimizer{s: s, e: s.newDayEval(day)}
	o.combos = s.categoricalCombos()
	o.dirs = patternDirections(len(s.numeric))

	perCombo := 1
	if len(s.numeric) > 0 {
		perCombo = max(scenarioOptMin, scenarioOptSamples/len(o.combos))
	}
	var top []optPoint
	bestOf := make([]optPoint, len(o.combos))
	keep := func(p optPoint) {
		i := sort.Search(len(top), func(i int) bool { return p.better(top[i]) })
		if i < scenarioOptRefine {
			top = slices.Insert(top, i, p)
			top = top[:min(len(top), scenarioOptRefine)]
		}
	}
	for ci := range o.combos {
		for k := range perCombo {
			u := make([]float64, len(s.numeric))
			for j := range u {
				u[j] = halton(k+1, primes[j%len(primes)])
			}
			p := o.eval(u, ci)
			keep(p)
			if k == 0 || p.better(bestOf[ci]) {
				bestOf[ci] = p
			}
		}
	}
	starts := top
	if len(o.combos) <= scenarioOptRefineCombos {
		starts = append(starts, bestOf...)
	}
	best := starts[0]
	for _, p := range starts {
		p = o.refine(p)
		if p.better(best) {
			best = p
		}
	}

	cfg := o.config(best)
	t, err := s.Truth(cfg, s.startDay.Add(time.Duration(day)*24*time.Hour), 0)
	if err != nil {
		return cfg, Truth{}, fmt.Errorf("simulations: optimum of %s on day %d: %w", s.name, day, err)
	}
	if best.violation > 0 {
		return cfg, t, fmt.Errorf("simulations: optimum of %s on day %d: %w", s.name, day, ErrNoFeasible)
	}
	return cfg, t, nil
}

// eval scores the point (u, combo).
func (o *optimizer) eval(u []float64, combo int) optPoint {
	o.snap(u)
	o.set(u, combo)
	v, obj := o.e.score()
	return optPoint{u: u, combo: combo, violation: v, objective: obj}
}

// set puts the point's knobs into the evaluator's frame.
func (o *optimizer) set(u []float64, combo int) {
	s := o.s
	for j, ki := range s.numeric {
		k := s.knobs[ki]
		o.e.f.num[k.slot] = k.param.FromUnit(u[j]).Float()
	}
	for j, ki := range s.category {
		k := s.knobs[ki]
		o.e.f.str[k.slot] = k.param.Choices[o.combos[combo][j]]
	}
}

// snap moves each int knob of u onto an integer.
func (o *optimizer) snap(u []float64) {
	for j, ki := range o.s.numeric {
		p := o.s.knobs[ki].param
		if p.Type == models.Int {
			if v, err := p.ToUnit(p.FromUnit(u[j])); err == nil {
				u[j] = v
			}
		}
	}
}

// config returns the configuration of p.
func (o *optimizer) config(p optPoint) models.Config {
	s := o.s
	cfg := models.Config{}
	for j, ki := range s.numeric {
		k := s.knobs[ki]
		cfg[k.param.Name] = k.param.FromUnit(p.u[j])
	}
	for j, ki := range s.category {
		k := s.knobs[ki]
		cfg[k.param.Name] = models.Str(k.param.Choices[o.combos[p.combo][j]])
	}
	return cfg
}

// refine improves p by pattern search, then by a ±1 search over the int
// knobs, until neither improves it.
func (o *optimizer) refine(p optPoint) optPoint {
	if len(o.s.numeric) == 0 {
		return p
	}
	step := scenarioOptStep
	for range 4 {
		p = o.pattern(p, step)
		q := o.intNeighbours(p)
		if !q.better(p) {
			return p
		}
		p, step = q, scenarioOptStep/8
	}
	return p
}

// pattern runs a pattern search from p with first step step: poll the
// directions from the last successful one, move to the first better point;
// when none is better, poll scenarioOptRandomDirs random directions too
// (a guardrail's curved boundary leaves only a narrow cone of feasible
// improvements, which fixed directions may all miss), and only then halve
// the step.
func (o *optimizer) pattern(p optPoint, step float64) optPoint {
	rng := newStream(uint64(len(o.dirs)), "scenario-pattern", o.s.name)
	try := func(d []float64) (optPoint, bool) {
		u := slices.Clone(p.u)
		for j := range u {
			u[j] = min(1, max(0, u[j]+step*d[j]))
		}
		o.snap(u)
		if slices.Equal(u, p.u) {
			return p, false
		}
		q := o.eval(u, p.combo)
		return q, q.better(p)
	}
	last, evals := 0, 0
	var momentum []float64 // a random direction that just worked
	for step >= scenarioOptMinStep && evals < scenarioOptEvals {
		improved := false
		if momentum != nil {
			evals++
			if q, ok := try(momentum); ok {
				p = q
				continue
			}
			momentum = nil
		}
		for k := range o.dirs {
			evals++
			if q, ok := try(o.dirs[(last+k)%len(o.dirs)]); ok {
				p, improved, last = q, true, (last+k)%len(o.dirs)
				break
			}
		}
		for k := 0; !improved && k < scenarioOptRandomDirs && len(p.u) > 1; k++ {
			d := make([]float64, len(p.u))
			var norm float64
			for j := range d {
				d[j] = rng.normal()
				norm += d[j] * d[j]
			}
			for j := range d {
				d[j] /= math.Sqrt(norm)
			}
			evals++
			if q, ok := try(d); ok {
				p, improved, momentum = q, true, d
			}
		}
		if !improved {
			step /= 2
		}
	}
	return p
}

// intNeighbours returns the best of p and the points one integer away in
// any of p's int knobs (every combination of −1, 0, +1).
func (o *optimizer) intNeighbours(p optPoint) optPoint {
	var ints []int // indices into numeric
	for j, ki := range o.s.numeric {
		if o.s.knobs[ki].param.Type == models.Int {
			ints = append(ints, j)
		}
	}
	if len(ints) == 0 || len(ints) > 6 {
		return p
	}
	best := p
	moves := make([]int, len(ints))
	for i := range moves {
		moves[i] = -1
	}
	for {
		u := slices.Clone(p.u)
		ok, zero := true, true
		for i, j := range ints {
			param := o.s.knobs[o.s.numeric[j]].param
			x := param.FromUnit(u[j]).Float() + float64(moves[i])
			zero = zero && moves[i] == 0
			if x < param.Min || x > param.Max {
				ok = false
				break
			}
			v, err := param.ToUnit(models.Num(x))
			if err != nil {
				ok = false
				break
			}
			u[j] = v
		}
		if ok && !zero {
			if q := o.eval(u, p.combo); q.better(best) {
				best = q
			}
		}
		i := 0
		for ; i < len(moves); i++ {
			if moves[i]++; moves[i] <= 1 {
				break
			}
			moves[i] = -1
		}
		if i == len(moves) {
			return best
		}
	}
}

// categoricalCombos returns every combination of the categorical knobs'
// choices, or scenarioOptCombos of them drawn at random when there are
// more.
func (s *Scenario) categoricalCombos() [][]int {
	total := 1
	for _, ki := range s.category {
		total *= len(s.knobs[ki].param.Choices)
		if total > scenarioOptCombos {
			break
		}
	}
	if total > scenarioOptCombos {
		rng := newStream(0, "scenario-optimum", s.name)
		out := make([][]int, scenarioOptCombos)
		for i := range out {
			out[i] = make([]int, len(s.category))
			for j, ki := range s.category {
				out[i][j] = int(rng.next() % uint64(len(s.knobs[ki].param.Choices)))
			}
		}
		return out
	}
	out := [][]int{{}}
	for _, ki := range s.category {
		var next [][]int
		for _, c := range out {
			for ch := range s.knobs[ki].param.Choices {
				next = append(next, append(slices.Clone(c), ch))
			}
		}
		out = next
	}
	return out
}

// patternDirections returns the directions a pattern search polls in n
// dimensions: every vector of −1, 0, +1 but zero when n ≤ 4 (the diagonals
// let it slide along a guardrail's boundary), else the coordinate
// directions and the diagonals of each pair.
func patternDirections(n int) [][]float64 {
	var out [][]float64
	if n <= 4 {
		total := 1
		for range n {
			total *= 3
		}
		for k := range total {
			d := make([]float64, n)
			zero := true
			for j, x := 0, k; j < n; j, x = j+1, x/3 {
				d[j] = float64(x%3 - 1)
				zero = zero && d[j] == 0
			}
			if !zero {
				out = append(out, d)
			}
		}
	} else {
		for i := range n {
			for _, a := range []float64{-1, 1} {
				d := make([]float64, n)
				d[i] = a
				out = append(out, d)
				for j := i + 1; j < n; j++ {
					for _, b := range []float64{-1, 1} {
						d := make([]float64, n)
						d[i], d[j] = a, b
						out = append(out, d)
					}
				}
			}
		}
	}
	// Coordinate directions first: they are the cheapest moves to explain.
	sort.SliceStable(out, func(i, j int) bool { return nonzero(out[i]) < nonzero(out[j]) })
	return out
}

func nonzero(d []float64) int {
	n := 0
	for _, x := range d {
		if x != 0 {
			n++
		}
	}
	return n
}

// primes are the bases of the Halton sequence's dimensions.
var primes = []int{2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37}

// halton returns the i-th element of the Halton sequence in base b.
func halton(i, b int) float64 {
	f, r := 1.0, 0.0
	for ; i > 0; i /= b {
		f /= float64(b)
		r += f * float64(i%b)
	}
	return r
}
