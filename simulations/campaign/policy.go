package campaign

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/passflow/passflow/contract"
	"github.com/passflow/passflow/models"
)

// Policies returns the policies in the order they are reported.
func Policies() []Policy { return []Policy{PolicyGP, PolicyRandom, PolicyHold} }

// Valid reports whether p is one of the policies or the oracle.
func (p Policy) Valid() bool { return p == PolicyOracle || slices.Contains(Policies(), p) }

// HoldReason is why a pass of the hold policy proposes nothing.
const HoldReason = "hold policy: no change"

// activityRegistry is what workers.RegisterActivities registers with.
type activityRegistry interface {
	RegisterActivityWithOptions(a any, options activity.RegisterOptions)
}

// proposeSwap registers every activity as given, except Propose, which it
// replaces by the policy's (when set): everything else about the passes
// stays identical.
type proposeSwap struct {
	activityRegistry
	propose any
}

func (r proposeSwap) RegisterActivityWithOptions(a any, options activity.RegisterOptions) {
	if options.Name == contract.ProposeName && r.propose != nil {
		a = r.propose
	}
	r.activityRegistry.RegisterActivityWithOptions(a, options)
}

// proposeOf returns the Propose activity of c's policy; nil keeps the
// real one (the Gaussian-process optimizer). The campaign's seed is mixed
// into the random policy's seeds, as Activities.SeedSalt is into the
// optimizer's.
func (c *campaign) proposeOf() any {
	p, salt := c.opts.Policy, c.opts.Seed
	switch p {
	case PolicyOracle:
		return c.proposeOracle
	case PolicyRandom:
		return func(ctx context.Context, in contract.ProposeInput) (contract.ProposeResult, error) {
			return proposeRandom(in, salt)
		}
	case PolicyHold:
		return func(ctx context.Context, in contract.ProposeInput) (contract.ProposeResult, error) {
			return contract.ProposeResult{Optimizer: string(PolicyHold), NoSafe: true, Reason: HoldReason}, nil
		}
	}
	return nil
}

// proposeRandom is the random policy's Propose: a configuration drawn
// uniformly from the trust region around the incumbent, seeded by the pass.
func proposeRandom(in contract.ProposeInput, salt uint64) (contract.ProposeResult, error) {
	spec := in.Target
	if err := spec.Params.CheckConfig(in.Incumbent); err != nil {
		return contract.ProposeResult{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("propose for %s: the running configuration does not fit the target's params: %v", spec.Name, err),
			contract.ErrTypeInvalidTarget, err)
	}
	seed := in.Seed ^ salt
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	cfg := RandomInRegion(spec.Params, in.Incumbent, spec.Risk.MaxStep, rng)
	step, cats, err := spec.Params.StepWithin(in.Incumbent, cfg, spec.Risk.MaxStep)
	if err != nil {
		return contract.ProposeResult{}, fmt.Errorf("propose for %s: %w", spec.Name, err)
	}
	return contract.ProposeResult{
		Suggestion: models.Suggestion{Config: cfg, Why: "random policy: uniform in the trust region"},
		Optimizer:  string(PolicyRandom), Step: step, CategoricalChanges: cats,
	}, nil
}

// RandomInRegion draws a configuration uniformly from the trust region of
// radius maxStep around incumbent, the region a pass may move in
// (models.Space.StepWithin): each numeric knob uniformly within its reach
// (models.Param.Reach) of the incumbent on its unit scale (an integer knob
// rounded, and moved one step back toward the incumbent if rounding left the
// region),
// and at most one categorical knob switched, uniformly among the
// incumbent's choices and every single switch.
func RandomInRegion(space models.Space, incumbent models.Config, maxStep float64, rng *rand.Rand) models.Config {
	cfg := incumbent.Clone()
	var switches []func()
	for _, p := range space {
		if p.Type == models.Categorical {
			for _, c := range p.Choices {
				if c != incumbent[p.Name].String() {
					switches = append(switches, func() { cfg[p.Name] = models.Str(c) })
				}
			}
			continue
		}
		u0, err := p.ToUnit(incumbent[p.Name])
		if err != nil {
			continue // CheckConfig has vouched for the incumbent
		}
		down, up := p.Reach(u0, maxStep)
		v := p.FromUnit(u0 - down + rng.Float64()*(down+up))
		if p.Type == models.Int {
			if u, _ := p.ToUnit(v); u > u0+up*(1+1e-9) || u < u0-down*(1+1e-9) {
				toward := math.Copysign(1, incumbent[p.Name].Float()-v.Float())
				v = models.Num(v.Float() + toward)
			}
		}
		cfg[p.Name] = v
	}
	// One draw among "no switch" and each single switch.
	if k := rng.IntN(len(switches) + 1); k > 0 {
		switches[k-1]()
	}
	return cfg
}
