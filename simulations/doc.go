// Package simulations runs passflow offline against simulated services.
//
// A Model is a response surface: the true, noise-free value of each metric
// (latency_p95_ms, latency_p99_ms, error_rate, cost_per_request,
// throughput_rps for the built-in "web" model) at every configuration of a
// target's parameter space, its shape fixed by a seed. Model.Truth and
// Model.Optimum give the ground truth that regret is measured against.
//
// A Service stands behind the same interfaces as a real service's telemetry
// and actuator (activities.TelemetrySource and activities.Actuator): it keeps
// a timeline of changes (canary stages, promotions) and answers every query
// with samples of the configuration each cohort ran at each sample's time,
// with noise that grows as a cohort's share of the traffic shrinks. A
// Connector routes targets whose spec names the simulator to their Service
// and the others to a fallback.
//
// Invariants:
//
//   - A sample is a pure function of (seed, cohort, metric, sample time) and
//     of the timeline: sample times lie on a grid aligned to the Unix epoch
//     whose step depends on the query's window alone, so re-reading a window
//     returns the same numbers, and overlapping windows read at the same step
//     share their samples.
//   - A cohort with no traffic yields no samples (an empty slice, never
//     zeros); no sample is returned for a time after now.
//   - Every actuator call is idempotent per key: a repeated key is a no-op,
//     also across a restart when the event log is kept in Options.StateDir;
//     a key reused for a different change is a non-retryable error.
//   - The timeline only moves forward: an event is stamped now, or at the
//     previous event's time if the clock went back.
//   - Nothing reads the wall clock except through Options.Now.
package simulations
