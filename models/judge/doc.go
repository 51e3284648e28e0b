// Package judge decides a canary stage from the samples of its window.
//
// Judge compares canary and baseline per metric with a rank test and a
// Hodges–Lehmann interval, under the relative rules a target opts into (and
// the objective's default); SLOs judges each guardrail against its limit,
// with confidence, as kept, broken or undecided; CheckSequential is the
// anytime-valid look during a verification wait; SamplesNeeded and WaitFor
// size the window.
//
// Invariants: no I/O, no wall clock, no Temporal; missing data never passes;
// the same samples always give the same verdict.
package judge
