// Package activities holds every side effect of an optimization pass:
// telemetry reads, actuator calls, the optimizer's fit and the audit record.
// Each external system sits behind a small interface (TelemetrySource,
// Actuator, Store) so the simulator or a fake can stand in.
//
// Invariants:
//   - every activity is idempotent: actuator calls carry the key
//     "<pass ID>/<step>", telemetry reads name their window explicitly, and
//     records are de-duplicated by pass ID, so a retried activity changes
//     nothing twice;
//   - errors that retrying cannot fix (an invalid target, an unknown
//     parameter) are non-retryable application errors with a type name;
//   - payloads carry configurations and summaries, never raw sample series.
package activities
