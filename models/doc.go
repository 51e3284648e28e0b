// Package models is the vocabulary every decision of passflow is made in:
// the parameter space and its configurations (Space, Config, Value), the
// optimization problem and what a pass measured of it (Problem, Constraint,
// Observation, Suggestion, TrustRegion, the Optimizer interface), how finely
// a canary resolves a guardrail (Resolve), the risk bands (AssessRisk), the
// error-budget math behind the analyze step (Analyze, BudgetGate) and the
// relative effects the judge is configured in (Percent).
//
// The decisions themselves live in two sub-packages: models/bo proposes the
// next configuration (a Gaussian-process Bayesian optimizer), models/judge
// decides a canary stage (rank tests, guardrails against their limits,
// sequential checks, window sizing).
//
// Invariants, here and in both sub-packages: nothing does I/O, reads the wall
// clock or imports Temporal; every function is deterministic given its inputs
// and an explicit seed, so the same history and seed always yield the same
// suggestion and the same verdict.
package models
