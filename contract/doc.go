// Package contract is what workflows, activities and clients agree on: the
// activities' stable names and their input and result payloads, the task
// queue, the error types a retry cannot help, and the verdicts of a stage.
//
// Invariants: it holds data and names only; it imports no implementation
// (no activity, telemetry, actuator or Temporal package), so a workflow, a
// client or a test links it without the side effects behind it. Payloads
// travel as JSON through Temporal's history: a field is renamed or removed
// only with the histories that carry it in mind (see the replay tests in
// package workflows).
package contract
