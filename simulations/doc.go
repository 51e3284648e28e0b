// Package simulations runs passflow offline against simulated services.
//
// A Model is a response surface: the true, noise-free value of each metric
// (latency_p95_ms, latency_p99_ms, error_rate, cost_per_request,
// throughput_rps for the built-in "web" model) at every configuration of a
// target's parameter space, its shape fixed by a seed. Model.Truth and
// Model.Optimum give the ground truth that regret is measured against.
//
// A Scenario is a simulated world described by a YAML file (see
// ParseScenario for the format): a target, a traffic pattern over the day
// and the week, each metric's true value as an expression of the knobs and
// of the time (load, hour, day, drift), faults to inject (a regression
// after a deploy, telemetry gaps, actuator errors and timeouts, a noisy
// neighbour), the on-call operator's answers and the pass schedule. It is
// a World, the contract a campaign runs in: Scenario.Truth and
// Scenario.Optimum judge a configuration by the day (the objective's daily
// mean, each guardrail's worst hour). Six scenarios are built in
// (BuiltinScenarios): web-api, serverless-memory, cache, autoscaler,
// k8s-rightsizing and ml-batching, each with a feasible but improvable
// current configuration, guardrails that bind at the optimum and a cliff
// next to it.
//
// A Service stands behind the same interfaces as a real service's telemetry
// and actuator (activities.TelemetrySource and activities.Actuator): it keeps
// a timeline of changes (canary stages, promotions) and answers every query
// with samples of the configuration each cohort ran at each sample's time,
// with noise that grows as a cohort's share of the traffic shrinks. Its
// truth comes from a Model (NewService) or from a Scenario
// (Scenario.NewService), which also moves it through the day and injects
// the scenario's faults. A Connector routes targets whose spec names the
// simulator to their Service and the others to a fallback.
//
// Invariants:
//
//   - A sample is a pure function of (seed, cohort, metric, sample time) and
//     of the timeline: sample times lie on a grid aligned to the Unix epoch
//     whose step depends on the query's window alone, so re-reading a window
//     returns the same numbers, and overlapping windows read at the same step
//     share their samples. Autocorrelated noise (a scenario's autocorr) is an
//     AR(1) chain over the scrape grid restarted at fixed epoch-aligned
//     blocks, so it is such a function too; so are a scenario's telemetry
//     gaps and noisy neighbours.
//   - A cohort with no traffic yields no samples (an empty slice, never
//     zeros); no sample is returned for a time after now. A telemetry gap
//     leaves samples out, or returns NaN; never a zero.
//   - Every actuator call is idempotent per key: a repeated key is a no-op,
//     also across a restart when the event log is kept in Options.StateDir;
//     a key reused for a different change is a non-retryable error. An
//     injected actuator error applies nothing and is retryable; an injected
//     timeout applies the change late and is retryable; both are drawn per
//     key and attempt from the service's seed.
//   - The timeline only moves forward: an event is stamped now (later by an
//     injected timeout's delay), or at the previous event's time if that is
//     later.
//   - A scenario's truth is fixed by its file: Truth and Optimum do not
//     depend on the seed, and measurement faults (telemetry gaps, noisy
//     neighbours) and actuator faults are not part of it; the drift and the
//     regression fault are. Optimum is computed once per day.
//   - Parsing a scenario registers its name as a simulator model with
//     package target (target.RegisterSimulatorModel), so that its target
//     validates like any other.
//   - Nothing reads the wall clock except through Options.Now (or the now
//     a scenario's service is given).
package simulations
