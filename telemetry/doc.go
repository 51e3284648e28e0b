// Package telemetry reads a live service's metrics for a pass: it connects
// the telemetry block of a target (target.Telemetry) to the activities'
// activities.TelemetrySource. Prometheus reads them from a Prometheus
// server's HTTP API, one templated PromQL query per metric.
//
// What it decides: the range query each read becomes (its step, the
// {{.Window}} of the query, its start and end, see Prometheus.Samples), what
// counts as a sample, and which failures are worth another try.
//
// Invariants:
//   - No data is not zero: a query that finds no series gives an empty
//     slice, and a NaN or ±Inf point is dropped, never read as 0.
//   - One metric is one series: a query that returns more than one is an
//     error, never a silent pick or sum.
//   - A query whose range is {{.Window}} reads each sample over a rate
//     window of its own, inside the window read: no two samples share a
//     scrape, and none reads from before the window (when a canary began).
//   - Samples has no side effects and is safe for concurrent use.
//   - A query Prometheus refuses (HTTP 4xx) fails at once with a
//     non-retryable Temporal application error of type ErrTypeInvalidQuery
//     naming the metric and the query; every other failure is a plain
//     error, which Temporal may retry.
//   - No secret passes through this package's inputs: credentials come from
//     the files http_config names (target validation refuses inline ones),
//     read by the worker on each request.
package telemetry
