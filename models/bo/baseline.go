package bo

import (
	"errors"
	"fmt"
	"math/rand/v2"

	"github.com/passflow/passflow/models"
)

// RandomSearch is the baseline proposer: uniform random points of the unit
// cube, or of the trust region around the incumbent when one is set. It has
// no model; it stays as the comparison every model-based optimizer is
// benchmarked against.
type RandomSearch struct {
	problem models.Problem
	region  *models.TrustRegion
	rng     *rand.Rand
	seen    map[string]bool
}

// NewRandomSearch returns the baseline proposer for p, seeded; region may be nil.
func NewRandomSearch(p models.Problem, seed uint64, region *models.TrustRegion) (*RandomSearch, error) {
	if errs := p.Validate(); len(errs) > 0 {
		return nil, fmt.Errorf("bo: invalid problem: %w", errors.Join(fieldErrs(errs)...))
	}
	if region != nil {
		if err := checkRegion(p.Space, *region); err != nil {
			return nil, err
		}
	}
	r := &RandomSearch{
		problem: p,
		region:  region,
		rng:     rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15)),
		seen:    map[string]bool{},
	}
	if region != nil {
		r.seen[region.Incumbent.String()] = true // proposing what runs already teaches nothing
	}
	return r, nil
}

// Tell records observations so that they are not proposed again.
func (r *RandomSearch) Tell(obs ...models.Observation) error {
	for _, o := range obs {
		r.seen[o.Config.String()] = true
	}
	return nil
}

// Ask returns n random configurations not seen before. Inside a trust region
// a numeric parameter moves at most MaxStep of its range and a categorical one
// keeps the incumbent's choice.
func (r *RandomSearch) Ask(n int) ([]models.Suggestion, error) {
	out := make([]models.Suggestion, 0, n)
	var inc []float64
	if r.region != nil {
		var err error
		if inc, err = r.problem.Space.ToUnit(r.region.Incumbent); err != nil {
			return nil, err
		}
	}
	for tries := 0; len(out) < n; tries++ {
		if tries > 1000*n {
			if r.region != nil && len(out) == 0 {
				return nil, fmt.Errorf("%w: every configuration within max_step %g of the incumbent has been tried", models.ErrNoSafeCandidate, r.region.MaxStep)
			}
			return out, fmt.Errorf("bo: random search found only %d new configurations of %d asked", len(out), n)
		}
		u := make([]float64, len(r.problem.Space))
		for i, p := range r.problem.Space {
			switch {
			case inc == nil:
				u[i] = r.rng.Float64()
			case p.Type == models.Categorical:
				u[i] = inc[i]
			default:
				down, up := p.Reach(inc[i], r.region.MaxStep)
				lo, hi := inc[i]-down, inc[i]+up
				u[i] = lo + r.rng.Float64()*(hi-lo)
			}
		}
		c := r.problem.Space.FromUnit(u)
		if r.region != nil {
			// Rounding an int can push it just past the step; pull it back.
			if step, _, _ := r.problem.Space.StepWithin(r.region.Incumbent, c, r.region.MaxStep); step > r.region.MaxStep*(1+1e-9) {
				continue
			}
		}
		key := c.String()
		if r.seen[key] {
			continue
		}
		r.seen[key] = true
		out = append(out, models.Suggestion{Config: c, Why: "random search (baseline)"})
	}
	return out, nil
}
