// Package target reads and validates a tuning target: the knobs, the
// objective, the SLO guardrails, the telemetry, the canary plan, the risk
// policy and the actuator.
//
// Invariants: parsing is strict (an unknown field is an error); defaults are
// filled and every rule is checked in one place, Validate, which Parse and
// Load call; every error names the file, the field and what was expected,
// and all of a file's problems are reported at once; a Spec that Parse
// returned is valid. Decoding problems are found node by node, each value
// decoded on its own into its field's type, never by reading the decoder's
// messages; only a syntax error's line is read from yaml's text
// (syntaxProblem), for yaml.v3 has no typed syntax error. The freeze and schedule arithmetic (Freeze.At,
// Freeze.Next, Triggers.NextRun) is pure, for workflow code: no wall clock,
// no randomness, no state kept between calls.
package target
