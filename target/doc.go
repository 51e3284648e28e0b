// Package target reads and validates a tuning target: the knobs, the
// objective, the SLO guardrails, the telemetry, the canary plan, the risk
// policy and the actuator.
//
// Invariants: parsing is strict (an unknown field is an error); defaults are
// filled and every rule is checked in one place, Validate, which Parse and
// Load call; every error names the file, the field and what was expected,
// and all of a file's problems are reported at once; a Spec that Parse
// returned is valid. The freeze and schedule arithmetic (Freeze.At,
// Freeze.Next, Triggers.NextRun) is pure, for workflow code: no wall clock,
// no randomness, no state kept between calls.
package target
