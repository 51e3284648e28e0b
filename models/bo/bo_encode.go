package bo

import (
	"fmt"
	"math"
	"slices"

	"github.com/passflow/passflow/models"
)

// encoding maps configurations of a space to points the surrogate works on:
// one coordinate per parameter, numeric ones in [0, 1] (linear or log scale,
// as Param.ToUnit) and categorical ones as the index of the choice. The
// kernel compares categorical coordinates for equality only.
type encoding struct {
	space models.Space
	cat   []bool
}

func newEncoding(s models.Space) *encoding {
	e := &encoding{space: s, cat: make([]bool, len(s))}
	for i, p := range s {
		e.cat[i] = p.Type == models.Categorical
	}
	return e
}

func (e *encoding) dim() int { return len(e.space) }

// encode maps a configuration (already checked with CheckConfig) to a point.
func (e *encoding) encode(c models.Config) ([]float64, error) {
	u := make([]float64, len(e.space))
	for i, p := range e.space {
		v, ok := c[p.Name]
		if !ok {
			return nil, fmt.Errorf("bo: configuration has no value for parameter %s", p.Name)
		}
		if p.Type == models.Categorical {
			j := slices.Index(p.Choices, v.String())
			if j < 0 {
				return nil, fmt.Errorf("bo: parameter %s: %q is not one of %v", p.Name, v.String(), p.Choices)
			}
			u[i] = float64(j)
			continue
		}
		x, err := p.ToUnit(v)
		if err != nil {
			return nil, err
		}
		u[i] = x
	}
	return u, nil
}

// decode maps a point back to a configuration.
func (e *encoding) decode(u []float64) models.Config {
	c := make(models.Config, len(e.space))
	for i, p := range e.space {
		if p.Type == models.Categorical {
			j := int(clamp(math.Round(u[i]), 0, float64(len(p.Choices)-1)))
			c[p.Name] = models.Str(p.Choices[j])
			continue
		}
		c[p.Name] = p.FromUnit(u[i])
	}
	return c
}

// box is the search box of the numeric coordinates, and the categorical
// freedom: in a trust region at most one categorical parameter may leave
// the incumbent's choice.
type box struct {
	lo, hi []float64
	inc    []float64 // the incumbent, nil without a trust region
}

// unitBox is the whole space.
func (e *encoding) unitBox() box {
	b := box{lo: make([]float64, e.dim()), hi: make([]float64, e.dim())}
	for i := range b.hi {
		b.hi[i] = 1
	}
	return b
}

// regionBox is the trust region of radius step around the encoded
// incumbent. A strict region keeps every knob within step, an integer knob
// whose next value lies further included (it stays put): the region of a
// point no safety model checks (see Param.Reach).
func (e *encoding) regionBox(inc []float64, step float64, strict bool) box {
	b := box{lo: make([]float64, e.dim()), hi: make([]float64, e.dim()), inc: inc}
	for i, p := range e.space {
		if e.cat[i] {
			continue
		}
		down, up := p.Reach(inc[i], step)
		if strict {
			down, up = min(step, inc[i]), min(step, 1-inc[i])
		}
		// A hair inside, so that decoding rounding never leaves the region.
		// Not for an integer knob: snap puts it on its grid inside the box,
		// and a hair would keep it off the next value Reach allows.
		hair := 1 - 1e-9
		if p.Type == models.Int {
			hair = 1
		}
		b.lo[i], b.hi[i] = max(0, inc[i]-down*hair), min(1, inc[i]+up*hair)
	}
	return b
}

// snap moves u onto the values it stands for, in place: numeric coordinates
// into the box, ints onto their exact grid (inside the box), categorical
// coordinates onto a choice index.
func (e *encoding) snap(u []float64, b box) {
	for i, p := range e.space {
		switch p.Type {
		case models.Categorical:
			u[i] = clamp(math.Round(u[i]), 0, float64(len(p.Choices)-1))
		case models.Int:
			u[i] = clamp(u[i], b.lo[i], b.hi[i])
			v := p.FromUnit(u[i]).Float()
			w, _ := p.ToUnit(models.Num(v))
			for w > b.hi[i]+1e-12 && v > p.Min {
				v--
				w, _ = p.ToUnit(models.Num(v))
			}
			for w < b.lo[i]-1e-12 && v < p.Max {
				v++
				w, _ = p.ToUnit(models.Num(v))
			}
			if w > b.hi[i]+1e-12 || w < b.lo[i]-1e-12 {
				// No grid value inside the box: stay at the incumbent's.
				if b.inc != nil {
					w = b.inc[i]
				}
			}
			u[i] = w
		default:
			u[i] = clamp(u[i], b.lo[i], b.hi[i])
			w, _ := p.ToUnit(p.FromUnit(u[i]))
			u[i] = clamp(w, b.lo[i], b.hi[i])
		}
	}
	if b.inc != nil {
		// At most one categorical change from the incumbent.
		changed := 0
		for i, c := range e.cat {
			if c && u[i] != b.inc[i] {
				changed++
				if changed > 1 {
					u[i] = b.inc[i]
				}
			}
		}
	}
}

// fromUnitCube maps a point of [0,1)^d (e.g. a Sobol point) into the box:
// numeric coordinates scaled into their range, categorical ones onto a
// choice (in a trust region: the incumbent's, or with probability of one in
// five a single switch decided by the last categorical coordinate).
func (e *encoding) fromUnitCube(q []float64, b box) []float64 {
	u := make([]float64, e.dim())
	for i, p := range e.space {
		if p.Type == models.Categorical {
			k := float64(len(p.Choices))
			u[i] = math.Min(math.Floor(q[i]*k), k-1)
			if b.inc != nil {
				u[i] = b.inc[i]
			}
			continue
		}
		u[i] = b.lo[i] + q[i]*(b.hi[i]-b.lo[i])
	}
	if b.inc != nil {
		var cats []int
		for i, c := range e.cat {
			if c {
				cats = append(cats, i)
			}
		}
		if len(cats) > 0 && q[cats[0]] < 0.2 {
			// Switch one categorical parameter, chosen and set by q.
			j := cats[min(len(cats)-1, int(q[cats[0]]*5*float64(len(cats))))]
			k := len(e.space[j].Choices)
			u[j] = math.Mod(b.inc[j]+1+math.Floor(q[j]*float64(k-1)), float64(k))
		}
	}
	e.snap(u, b)
	return u
}
