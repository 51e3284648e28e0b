package activities

import (
	"context"
	"time"

	"github.com/passflow/passflow/models"
	"github.com/passflow/passflow/target"
)

// The cohorts a pass reads and changes.
const (
	// CohortBaseline is the traffic that runs the service's current configuration.
	CohortBaseline = "baseline"
	// CohortCanary is the traffic that runs the candidate during a canary.
	CohortCanary = "canary"
)

// Query asks for one metric of one cohort over a time window [From, To).
type Query struct {
	Metric string
	Cohort string
	From   time.Time
	To     time.Time
}

// TelemetrySource reads a service's metrics. Samples returns the metric's
// samples (e.g. one per scrape interval) over the window, oldest first; an
// empty result means there is no data, never zeros. It has no side effects.
type TelemetrySource interface {
	Samples(ctx context.Context, q Query) ([]float64, error)
}

// Actuator changes what configuration a service's traffic runs. Every call
// carries an idempotency key: a call repeated with the same key is a no-op, so
// retried activities never apply a change twice.
type Actuator interface {
	// SetCanary routes percent (0–100) of the traffic to a canary cohort that
	// runs config; percent 0 removes the canary.
	SetCanary(ctx context.Context, key string, config models.Config, percent float64) error
	// Promote makes config the baseline for all traffic and removes the canary.
	Promote(ctx context.Context, key string, config models.Config) error
	// Baseline returns the configuration the service runs outside any canary.
	Baseline(ctx context.Context) (models.Config, error)
}

// Connector finds the telemetry source and the actuator a target names.
type Connector interface {
	Connect(spec target.Spec) (TelemetrySource, Actuator, error)
}

// ConnectorFunc adapts a function to Connector.
type ConnectorFunc func(spec target.Spec) (TelemetrySource, Actuator, error)

// Connect calls f.
func (f ConnectorFunc) Connect(spec target.Spec) (TelemetrySource, Actuator, error) {
	return f(spec)
}
