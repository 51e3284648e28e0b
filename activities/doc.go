// Package activities holds every side effect of an optimization pass:
// telemetry reads, actuator calls, the optimizer's fit, the record of a
// pass's end, a tuner's restore after an abandoned pass, and targets'
// Temporal Schedules. Each external system sits behind a small interface
// (TelemetrySource, Actuator, Schedules) so the simulator or a fake can
// stand in. Nothing a target needs is kept on a worker's disk: its history
// and audit live in its tuner workflow.
//
// Invariants:
//   - every activity is idempotent: actuator calls carry the key
//     "<pass ID>/<step>", telemetry reads name their window explicitly,
//     records keep nothing and schedules are set to a state, not changed by
//     a delta, so a retried activity changes nothing twice;
//   - errors that retrying cannot fix (an invalid target, an unknown
//     parameter) are non-retryable application errors with a type name;
//   - payloads carry configurations and summaries, never raw sample series.
package activities
