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

// EventCounter is a telemetry source that counts events over a window: an
// error budget's bad and total events (target.ErrorBudget Bad and Total).
// Count evaluates the counting query (a template with {{.Window}}) over the
// window ending at at; ok is false when there is no data.
type EventCounter interface {
	Count(ctx context.Context, name, query string, window time.Duration, at time.Time) (v float64, ok bool, err error)
}

// Change is one change a pass asks of an actuator.
type Change struct {
	// Key is the idempotency key: a change repeated with the same key is a
	// no-op, so retried activities never apply a change twice.
	Key    string
	PassID string
	// Stage is the canary stage; 0 for a promotion or a reconciliation.
	Stage int
	// Action is apply (Percent of the traffic on a canary running Config),
	// revert (the canary back to Percent of the traffic, running Config;
	// 0 removes it) or promote (Config becomes the baseline for all
	// traffic, the canary is removed): the webhook package's Action
	// constants.
	Action  string
	Percent float64
	Config  models.Config
}

// Replaced is what a change replaced in the cohort it changed, so that an
// undo can restore it.
type Replaced struct {
	// Config is the configuration the changed cohort ran: the canary's for
	// apply and revert (nil when no canary ran), the baseline's for promote.
	Config models.Config
	// Percent is the canary's share of the traffic before an apply or a
	// revert: 0 when no canary ran, or when the actuator cannot tell (an
	// undo then steps back to the previous stage rather than restoring
	// it). Promote leaves it 0.
	Percent float64
}

// Actuator changes what configuration a service's traffic runs.
type Actuator interface {
	// Change makes ch and returns what the changed cohort ran before. A
	// repeated key makes no second change and returns the same.
	Change(ctx context.Context, ch Change) (Replaced, error)
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
