// Package bo decides what the propose step proposes: Bayesian optimization
// of a service's knobs with Gaussian processes on gonum.
//
// Optimizer models the objective and every guardrail, each with its own
// Gaussian process on the knobs encoded to the unit cube, and feeds the
// judge's rejections to a feasibility model. In safe mode (a TrustRegion) it
// proposes only inside the region, only what every guardrail's model
// believes safe with the region's confidence, and only a predicted gain worth
// a canary; blind moves, which no model has data for, are sized by the
// incumbent's headroom; the guardrails' models keep a categorical knob's
// choices apart; and a configuration a bake showed worse than the running
// one is not proposed again, nor its neighbours, until a promotion.
// RandomSearch is the named baseline it is measured against.
//
// Invariants: no I/O, no wall clock, no Temporal; given the same
// observations and seed, Ask returns the same suggestions.
package bo
