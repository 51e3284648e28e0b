// Command demo-service is a service for passflow to tune for real: it
// serves traffic in two cohorts (baseline and canary), exposes Prometheus
// metrics for a real Prometheus to scrape, and takes its configuration from
// passflow's webhook actuator on /config.
//
// Its knobs are the demo target's (examples/targets/demo.yaml), and each
// really changes how requests are served:
//
//   - worker_threads sizes each cohort's worker pool; a request holds a
//     worker for its whole life (about 70 ms), so too few threads queue and
//     raise latency, and a request that waits more than 1 s for a worker
//     fails with 503. Every thread is reserved capacity, which costs.
//   - cache_ttl_s is how long a cached value is served; a hit skips a
//     backend call (20–60 ms, and a cost), but the longer the TTL the more
//     hits serve a value that has changed at the backend (stale hits).
//   - gc_mode changes how responses are allocated (gc.go): throughput
//     reuses pooled buffers and pauses now and then; low-latency allocates
//     fresh ones and pays more compute per request.
//
// A built-in load generator offers --rate requests a second; the canary
// gets each with probability percent/100. --regression slows the canary
// down, a fault for passflow to catch. See metrics.go for the metrics and
// the PromQL queries a target uses, control.go for the /config protocol.
//
// Usage:
//
//	DEMO_SERVICE_SECRET=s3cret demo-service --listen 127.0.0.1:9100 --rate 50
//
// with Prometheus scraping it (prometheus.yml here) and a target such as
// examples/targets/demo-prometheus.yaml:
//
//	telemetry: {prometheus: {url: http://127.0.0.1:9090}, queries: ...}
//	actuator:  {webhook: {url: http://127.0.0.1:9100/config, secret_env: DEMO_SERVICE_SECRET}}
//
// Endpoints: GET /work[?key=N] (the traffic), GET /metrics, GET and POST
// /config.
//
// Invariants: the secret is never logged nor part of an answer; a /config
// request that is refused (401, 400, 409) changes nothing; a repeated
// idempotency key has one effect; every metric series of both cohorts
// exists from the start, so a canary's first requests count in a rate.
package main
